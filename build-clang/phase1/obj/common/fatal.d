build-clang/phase1/obj/common/fatal.o: common/fatal.c common/fatal.h

common/fatal.h:
