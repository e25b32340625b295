build-clang/phase2/examples/echo_client: \
  phase2-io_uring/examples/echo_client.c phase2-io_uring/rt.h \
  phase2-io_uring/future.h phase2-io_uring/async.h \
  phase2-io_uring/join.h phase2-io_uring/executor.h \
  phase2-io_uring/thread.h phase2-io_uring/io.h phase2-io_uring/file.h \
  phase2-io_uring/net.h phase2-io_uring/timer.h

phase2-io_uring/rt.h:

phase2-io_uring/future.h:

phase2-io_uring/async.h:

phase2-io_uring/join.h:

phase2-io_uring/executor.h:

phase2-io_uring/thread.h:

phase2-io_uring/io.h:

phase2-io_uring/file.h:

phase2-io_uring/net.h:

phase2-io_uring/timer.h:
