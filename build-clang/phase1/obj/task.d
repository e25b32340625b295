build-clang/phase1/obj/task.o: phase1-executor/task.c \
  phase1-executor/task.h common/list.h phase1-executor/future.h \
  common/alloc.h common/fatal.h phase1-executor/join.h

phase1-executor/task.h:

common/list.h:

phase1-executor/future.h:

common/alloc.h:

common/fatal.h:

phase1-executor/join.h:
