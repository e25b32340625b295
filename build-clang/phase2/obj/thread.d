build-clang/phase2/obj/thread.o: phase2-io_uring/thread.c \
  phase2-io_uring/thread.h phase2-io_uring/executor.h \
  phase2-io_uring/future.h phase2-io_uring/join.h common/alloc.h

phase2-io_uring/thread.h:

phase2-io_uring/executor.h:

phase2-io_uring/future.h:

phase2-io_uring/join.h:

common/alloc.h:
