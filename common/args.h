/*
 * common/args.h - reading the command line, for the examples and benchmarks.
 *
 * Every program answers "--help" with its usage on standard output and the
 * status 0, and a command line it cannot take with the usage (or what is
 * wrong) on standard error and the status 2, the usual one for a bad
 * command line. A program that takes no arguments refuses any.
 *
 * strtol() alone is too forgiving: it skips leading blanks, accepts a sign
 * and stops quietly at the first character that is not a digit ("80x" is
 * 80), and a value stored into a narrower type wraps around (a port of
 * 65616 in a uint16_t is 80). args_number() takes a whole decimal number
 * within a range, or says what is wrong with it.
 */
#ifndef COMMON_ARGS_H
#define COMMON_ARGS_H

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Parse `value`, given for the option `option` of program `prog`, into *out.
 * It must be digits only (a '-' first if `min` is negative) and lie in
 * [min, max]. Otherwise print "prog: option value: not a whole number from
 * min to max" on stderr and return false; the caller then exits with 2, the
 * usual status for a bad command line.
 */
static inline bool args_number(const char *prog, const char *option, const char *value, long min,
                               long max, long *out)
{
    const char *digits = value[0] == '-' && min < 0 ? value + 1 : value;
    char *end;
    long n;

    errno = 0;
    n = strtol(value, &end, 10);
    if (!isdigit((unsigned char)digits[0]) || *end != '\0' || errno == ERANGE || n < min ||
        n > max) {
        fprintf(stderr, "%s: %s %s: not a whole number from %ld to %ld\n", prog, option, value, min,
                max);
        return false;
    }
    *out = n;
    return true;
}

/* True when the command line is "--help" alone: the program prints its usage and exits with 0. */
static inline bool args_help(int argc, char **argv)
{
    return argc == 2 && strcmp(argv[1], "--help") == 0;
}

/* Where a usage goes: to standard output when asked for (status 0), else to standard error. */
static inline FILE *args_usage_to(int status)
{
    return status == 0 ? stdout : stderr;
}

/*
 * For a program that takes no arguments, called with some (argc > 1): print
 * "usage: PROG   (no arguments)" and `about`, what the program shows, and
 * return the status main exits with: 0 for "--help", 2 for anything else.
 */
static inline int args_none(int argc, char **argv, const char *about)
{
    int status = args_help(argc, argv) ? 0 : 2;

    fprintf(args_usage_to(status), "usage: %s   (no arguments)\n%s\n", argv[0], about);
    return status;
}

#endif /* COMMON_ARGS_H */
