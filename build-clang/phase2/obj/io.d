build-clang/phase2/obj/io.o: phase2-io_uring/io.c phase2-io_uring/io.h \
  phase2-io_uring/future.h common/clock.h common/fatal.h \
  phase2-io_uring/executor.h phase2-io_uring/join.h \
  phase2-io_uring/reactor.h common/list.h

phase2-io_uring/io.h:

phase2-io_uring/future.h:

common/clock.h:

common/fatal.h:

phase2-io_uring/executor.h:

phase2-io_uring/join.h:

phase2-io_uring/reactor.h:

common/list.h:
