/*
 * channel.h - a bounded channel from one executor to another, on another
 * thread. New in phase 4.
 *
 * Cores in a thread-per-core program share nothing but messages, and this
 * is how a message travels: a single-producer single-consumer ring of
 * fixed-size slots in memory both threads can see. One task on one
 * executor sends; one task on another receives. Sending copies the message
 * into a slot and receiving copies it out, so nothing allocated on one core
 * is ever freed by the other.
 *
 * Sending and receiving are futures. A send waits while the ring is full,
 * a receive while it is empty; the waiting side is woken through its
 * executor's doorbell (rt_executor_notify), and only when it really waits,
 * at most once per batch of messages, so a busy channel costs no system
 * call at all. channel.c explains the memory ordering line by line.
 *
 * Closing: either side may close its end at any time. The receiver then
 * gets what is left in the ring and after it the end (output 0); a sender
 * whose receiver has gone gets -EPIPE. The channel is freed when both ends
 * are closed, by whichever thread closes last.
 */
#ifndef RT_CHANNEL_H
#define RT_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "async.h"
#include "executor.h"

struct rt_channel;

/*
 * The two executors. The sending end belongs to the executor of the first
 * task that sends, the receiving end to the executor of the first task that
 * receives; using an end from another executor stops the program. Each side
 * may ring the other's doorbell, so both executors must outlive the channel:
 * destroy an executor only once every channel it used is freed (the pool in
 * pool.h does it in that order). So close an end on its own executor's
 * thread too: a close rings the other side, and from a third thread that
 * ring can come after the other side has seen the close, finished, and had
 * its executor destroyed (a shard of a pool, say).
 *
 * Make a channel of `capacity` slots (1 to 1 << 24, rounded up to a power
 * of two and to at least 2) of `msg_size` bytes each (1 to 65536), 1 GiB
 * of slots at most. Returns 0, or -EINVAL for sizes out of range. Both ends are open; each must be
 * closed once, with rt_channel_close_tx() and rt_channel_close_rx(). Closing
 * one twice, or using one after its close, stops the program, if the other
 * end is still open to notice.
 */
int rt_channel_create(size_t capacity, size_t msg_size, struct rt_channel **out);

/* Close the sending end: the receiver drains what is left, then sees the end. */
void rt_channel_close_tx(struct rt_channel *ch);

/* Close the receiving end: senders get -EPIPE from now on; unread messages are dropped. */
void rt_channel_close_rx(struct rt_channel *ch);

/*
 * Send the `msg_size` bytes at `msg`, which must stay valid until the send
 * finishes: they are copied into the ring when there is room. Output: 0, or
 * -EPIPE when the receiver has closed its end. A receiver on another
 * executor sees the message at the latest when this task's turn ends (the
 * sender publishes sixty-four cache lines of messages at a time; see
 * channel.c); one on the same executor sees it at once.
 */
struct rt_channel_send {
    struct rt_async async; /* private, all of it */
    struct rt_channel *ch;
    const void *msg;
    struct rt_wait_notify wait;
    int res;
};
void rt_channel_send(struct rt_channel_send *f, struct rt_channel *ch, const void *msg);

/* Receive one message into `msg_out`. Output: 1 (a message), or 0 (the sender closed and the
 * ring is empty: the end). */
struct rt_channel_recv {
    struct rt_async async; /* private, all of it */
    struct rt_channel *ch;
    void *msg_out;
    struct rt_wait_notify wait;
    int res;
};
void rt_channel_recv(struct rt_channel_recv *f, struct rt_channel *ch, void *msg_out);

/*
 * The same, without waiting, for a task's code that does not await (and for
 * mesh.c); like the futures, only inside a task of the end's executor:
 * elsewhere the program stops with a message. 1 done, 0 would have to wait, -EPIPE (send: the
 * receiver is gone) or -ENODATA (receive: the sender is gone and the ring is empty). A NULL
 * argument stops the program with a message, as it does in the futures
 * above (checked when they are made). A loop that moves many messages can
 * call these first and make a future only when they return 0: then only the
 * messages that wait pay for a future, which costs about as much as the
 * send or receive itself (BOOK section 4.5, "What a future costs a message").
 */
int rt_channel_try_send(struct rt_channel *ch, const void *msg);
int rt_channel_try_recv(struct rt_channel *ch, void *msg_out);

/*
 * Say that the calling task will wait for room (tx) or for a message (rx),
 * then look once more: returns true when waiting is no longer needed. Used
 * as the `ready` check of an rt_wait_notify (see channel.c).
 */
bool rt__channel_tx_ready(struct rt_channel *ch);
bool rt__channel_rx_ready(struct rt_channel *ch);

#endif /* RT_CHANNEL_H */
