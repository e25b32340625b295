build-clang/phase2/obj/net.o: phase2-io_uring/net.c phase2-io_uring/net.h \
  phase2-io_uring/async.h phase2-io_uring/future.h phase2-io_uring/io.h

phase2-io_uring/net.h:

phase2-io_uring/async.h:

phase2-io_uring/future.h:

phase2-io_uring/io.h:
