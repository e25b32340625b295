build-clang/phase1/tests/test_pinning.o: tests/test_pinning.c \
  tests/harness.h common/alloc.h phase1-executor/rt.h \
  phase1-executor/future.h phase1-executor/async.h \
  phase1-executor/join.h phase1-executor/executor.h \
  phase1-executor/thread.h

tests/harness.h:

common/alloc.h:

phase1-executor/rt.h:

phase1-executor/future.h:

phase1-executor/async.h:

phase1-executor/join.h:

phase1-executor/executor.h:

phase1-executor/thread.h:
