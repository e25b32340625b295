build-clang/phase1/tests/test_queue.o: tests/test_queue.c tests/harness.h \
  common/alloc.h phase1-executor/rt.h phase1-executor/future.h \
  phase1-executor/async.h phase1-executor/join.h \
  phase1-executor/executor.h phase1-executor/thread.h \
  phase1-executor/run_queue.h common/list.h phase1-executor/task.h

tests/harness.h:

common/alloc.h:

phase1-executor/rt.h:

phase1-executor/future.h:

phase1-executor/async.h:

phase1-executor/join.h:

phase1-executor/executor.h:

phase1-executor/thread.h:

phase1-executor/run_queue.h:

common/list.h:

phase1-executor/task.h:
