build-clang/phase1/obj/executor.o: phase1-executor/executor.c \
  phase1-executor/executor.h phase1-executor/future.h \
  phase1-executor/join.h common/alloc.h common/fatal.h \
  phase1-executor/run_queue.h common/list.h phase1-executor/task.h \
  phase1-executor/thread.h

phase1-executor/executor.h:

phase1-executor/future.h:

phase1-executor/join.h:

common/alloc.h:

common/fatal.h:

phase1-executor/run_queue.h:

common/list.h:

phase1-executor/task.h:

phase1-executor/thread.h:
