/*
 * common/bench.h - what the benchmarks share: the median of a run's samples.
 *
 * Each benchmark figure is measured several times in the same process and
 * the median is printed: unlike the mean, one sample disturbed by another
 * process on the machine does not move it.
 */
#ifndef COMMON_BENCH_H
#define COMMON_BENCH_H

#include <stddef.h>
#include <stdlib.h>

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* The median of `n` samples; sorts them in place. */
static inline double bench_median(double *samples, size_t n)
{
    qsort(samples, n, sizeof(*samples), bench_cmp_double);
    return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2;
}

#endif /* COMMON_BENCH_H */
