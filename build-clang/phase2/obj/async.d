build-clang/phase2/obj/async.o: phase2-io_uring/async.c \
  phase2-io_uring/async.h phase2-io_uring/future.h common/fatal.h

phase2-io_uring/async.h:

phase2-io_uring/future.h:

common/fatal.h:
