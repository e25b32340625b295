build-clang/phase2/obj/executor.o: phase2-io_uring/executor.c \
  phase2-io_uring/executor.h phase2-io_uring/future.h \
  phase2-io_uring/join.h common/alloc.h common/fatal.h \
  phase2-io_uring/run_queue.h common/list.h phase2-io_uring/task.h \
  phase2-io_uring/reactor.h phase2-io_uring/thread.h

phase2-io_uring/executor.h:

phase2-io_uring/future.h:

phase2-io_uring/join.h:

common/alloc.h:

common/fatal.h:

phase2-io_uring/run_queue.h:

common/list.h:

phase2-io_uring/task.h:

phase2-io_uring/reactor.h:

phase2-io_uring/thread.h:
