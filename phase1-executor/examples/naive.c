/*
 * naive.c - the smallest executor that works: a future, a queue, a loop.
 *
 * No wakers: the loop polls every unfinished future on every turn, whether
 * or not anything it waits for has happened, and counts the polls that found
 * nothing to do. Chapter 1 of BOOK.md starts here; the rest of phase 1 is
 * what it takes to stop wasting those polls.
 *
 * Run: make phase1 && build/phase1/examples/naive
 */
#include <stdbool.h>
#include <stdio.h>

#include "common/args.h"

/* A future: something that finishes later. poll() does what it can now. */
struct future {
    bool (*poll)(struct future *self); /* true: finished */
    long polls;                        /* how often the loop polled it */
};

/* The world outside the futures (a timer, the network): one tick per turn of the loop. */
static long now;

/* Finishes once `now` reaches `at`; until then, polling it achieves nothing. */
struct sleep {
    struct future future; /* first, so a struct sleep * is also a struct future * */
    long at;              /* the tick it waits for */
};

static bool sleep_poll(struct future *self)
{
    return now >= ((struct sleep *)self)->at;
}

/* The queue: a ring of the futures that are not finished yet. */
#define QUEUE_SIZE 8
static struct future *queue[QUEUE_SIZE];
static int head, len;

static void push(struct future *f)
{
    queue[(head + len++) % QUEUE_SIZE] = f;
}

static struct future *pop(void)
{
    struct future *f = queue[head];

    head = (head + 1) % QUEUE_SIZE;
    len--;
    return f;
}

/* The loop: each turn polls every future in the queue once; the unfinished go back in. */
static long run(void)
{
    long polls = 0;

    for (; len > 0; now++) {
        for (int n = len; n > 0; n--) {
            struct future *f = pop();

            f->polls++;
            polls++;
            if (f->poll(f))
                printf("turn %3ld: sleep until %3ld finished, polled %3ld times\n", now,
                       ((struct sleep *)f)->at, f->polls);
            else
                push(f);
        }
    }
    return polls;
}

int main(int argc, char **argv)
{
    struct sleep sleeps[] = {{{sleep_poll, 0}, 1}, {{sleep_poll, 0}, 5}, {{sleep_poll, 0}, 100}};
    int count = sizeof(sleeps) / sizeof(sleeps[0]);
    long polls;

    if (argc > 1) /* common/args.h: --help prints the usage; anything else is refused */
        return args_none(argc, argv, "a future, a queue and a loop (BOOK.md 1.1)");
    for (int i = 0; i < count; i++)
        push(&sleeps[i].future);
    polls = run();
    printf("%d futures, %ld turns, %ld polls: %ld of them found nothing to do\n", count, now, polls,
           polls - count);
    return 0;
}
