build-clang/phase1/obj/thread.o: phase1-executor/thread.c \
  phase1-executor/thread.h phase1-executor/executor.h \
  phase1-executor/future.h phase1-executor/join.h common/alloc.h

phase1-executor/thread.h:

phase1-executor/executor.h:

phase1-executor/future.h:

phase1-executor/join.h:

common/alloc.h:
