build-clang/phase1/obj/join.o: phase1-executor/join.c \
  phase1-executor/join.h phase1-executor/future.h common/fatal.h \
  phase1-executor/task.h common/list.h

phase1-executor/join.h:

phase1-executor/future.h:

common/fatal.h:

phase1-executor/task.h:

common/list.h:
