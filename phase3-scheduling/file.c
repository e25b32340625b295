/*
 * file.c - whole transfers built from single requests. New in phase 2.
 *
 * rt_read_exact(), rt_write_all() and net.c's rt_send_all() are the same
 * loop, and what each result means is decided in one place for the three:
 * rt__transfer_step(), in io.c, by the rule written in io.h.
 */
#include "file.h"

#include "common/fatal.h"

/* Where the next piece goes: further along, unless we follow the file's own position. */
static uint64_t advance(uint64_t offset, size_t done)
{
    return offset == RT_OFFSET_CURRENT ? RT_OFFSET_CURRENT : offset + done;
}

static enum rt_poll read_exact_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_read_exact *f = (struct rt_read_exact *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->done < f->len) {
        rt_io_read(&f->io, f->fd, f->buf + f->done, f->len - f->done, advance(f->offset, f->done));
        AWAIT(&f->io.future, &f->n);
        if (!rt__transfer_step(&f->n, &f->done, true))
            ASYNC_RETURN(f->n); /* an error, or the end of the file: the bytes read so far */
    }
    ASYNC_RETURN((intptr_t)f->done);
    ASYNC_END;
}

static const struct rt_future_vtable read_exact_vtable = {read_exact_poll, rt_async_drop};

void rt_read_exact(struct rt_read_exact *f, int fd, void *buf, size_t len, uint64_t offset)
{
    ASSERT_ARG(f);
    ASSERT_BUF(buf, len);
    rt__io_check_unused(&f->io, "rt_read_exact");
    *f = (struct rt_read_exact){.async = RT_ASYNC_INIT(&read_exact_vtable),
                                .fd = fd,
                                .buf = buf,
                                .len = len,
                                .offset = offset};
}

static enum rt_poll write_all_poll(struct rt_future *self, struct rt_context *cx, intptr_t *out)
{
    struct rt_write_all *f = (struct rt_write_all *)self;

    ASYNC_BEGIN(f, cx, out);
    while (f->done < f->len) {
        rt_io_write(&f->io, f->fd, f->buf + f->done, f->len - f->done, advance(f->offset, f->done));
        AWAIT(&f->io.future, &f->n);
        if (!rt__transfer_step(&f->n, &f->done, false))
            ASYNC_RETURN(f->n); /* an error, or -EIO for a write that moved nothing */
    }
    ASYNC_RETURN((intptr_t)f->done);
    ASYNC_END;
}

static const struct rt_future_vtable write_all_vtable = {write_all_poll, rt_async_drop};

void rt_write_all(struct rt_write_all *f, int fd, const void *buf, size_t len, uint64_t offset)
{
    ASSERT_ARG(f);
    ASSERT_BUF(buf, len);
    rt__io_check_unused(&f->io, "rt_write_all");
    *f = (struct rt_write_all){.async = RT_ASYNC_INIT(&write_all_vtable),
                               .fd = fd,
                               .buf = buf,
                               .len = len,
                               .offset = offset};
}
