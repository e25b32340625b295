build-clang/phase2/obj/timer.o: phase2-io_uring/timer.c \
  phase2-io_uring/timer.h phase2-io_uring/io.h phase2-io_uring/future.h \
  common/fatal.h

phase2-io_uring/timer.h:

phase2-io_uring/io.h:

phase2-io_uring/future.h:

common/fatal.h:
