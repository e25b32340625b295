build-clang/phase1/obj/common/alloc.o: common/alloc.c common/alloc.h \
  common/fatal.h

common/alloc.h:

common/fatal.h:
