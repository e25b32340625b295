build-clang/phase1/bench/executor: phase1-executor/bench/executor.c \
  phase1-executor/rt.h phase1-executor/future.h phase1-executor/async.h \
  phase1-executor/join.h phase1-executor/executor.h \
  phase1-executor/thread.h common/bench.h common/clock.h

phase1-executor/rt.h:

phase1-executor/future.h:

phase1-executor/async.h:

phase1-executor/join.h:

phase1-executor/executor.h:

phase1-executor/thread.h:

common/bench.h:

common/clock.h:
