build-clang/phase2/obj/file.o: phase2-io_uring/file.c \
  phase2-io_uring/file.h phase2-io_uring/async.h \
  phase2-io_uring/future.h phase2-io_uring/io.h

phase2-io_uring/file.h:

phase2-io_uring/async.h:

phase2-io_uring/future.h:

phase2-io_uring/io.h:
