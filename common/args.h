/*
 * common/args.h - reading a number from the command line, for the examples.
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

#endif /* COMMON_ARGS_H */
