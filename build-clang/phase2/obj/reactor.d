build-clang/phase2/obj/reactor.o: phase2-io_uring/reactor.c \
  phase2-io_uring/reactor.h common/list.h phase2-io_uring/future.h \
  common/alloc.h common/fatal.h

phase2-io_uring/reactor.h:

common/list.h:

phase2-io_uring/future.h:

common/alloc.h:

common/fatal.h:
