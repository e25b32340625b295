build-clang/phase2/obj/join.o: phase2-io_uring/join.c \
  phase2-io_uring/join.h phase2-io_uring/future.h common/fatal.h \
  phase2-io_uring/task.h common/list.h

phase2-io_uring/join.h:

phase2-io_uring/future.h:

common/fatal.h:

phase2-io_uring/task.h:

common/list.h:
