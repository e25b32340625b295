build-clang/phase2/obj/task.o: phase2-io_uring/task.c \
  phase2-io_uring/task.h common/list.h phase2-io_uring/future.h \
  common/alloc.h common/fatal.h phase2-io_uring/join.h

phase2-io_uring/task.h:

common/list.h:

phase2-io_uring/future.h:

common/alloc.h:

common/fatal.h:

phase2-io_uring/join.h:
