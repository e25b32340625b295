/*
 * common/fatal.c - see fatal.h.
 */
#include "common/fatal.h"
#include "common/trace.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void rt__die(const char *fmt, ...)
{
    va_list ap;

    fputs("fatal: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    rt__trace_close(); /* abort() runs no atexit handler: end a JSON trace as valid JSON now */
    abort();
}
