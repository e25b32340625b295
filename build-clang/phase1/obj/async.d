build-clang/phase1/obj/async.o: phase1-executor/async.c \
  phase1-executor/async.h phase1-executor/future.h common/fatal.h

phase1-executor/async.h:

phase1-executor/future.h:

common/fatal.h:
