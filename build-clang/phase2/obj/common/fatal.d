build-clang/phase2/obj/common/fatal.o: common/fatal.c common/fatal.h

common/fatal.h:
