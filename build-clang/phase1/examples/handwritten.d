build-clang/phase1/examples/handwritten: \
  phase1-executor/examples/handwritten.c phase1-executor/rt.h \
  phase1-executor/future.h phase1-executor/async.h \
  phase1-executor/join.h phase1-executor/executor.h \
  phase1-executor/thread.h

phase1-executor/rt.h:

phase1-executor/future.h:

phase1-executor/async.h:

phase1-executor/join.h:

phase1-executor/executor.h:

phase1-executor/thread.h:
