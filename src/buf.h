/* buf: a growable byte buffer with a hard cap, always NUL-terminated (like curl's dynbuf).
 * The caller owns the struct; buf_free releases its memory. */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

struct buf {
    char *data; /* NULL until the first append; NUL-terminated after it */
    size_t len;
    size_t cap;
    size_t max; /* appends that would pass this many bytes fail */
};

void buf_init(struct buf *b, size_t max);

/* Appends n bytes. Returns 0, or -1 when the cap would be passed or memory ran out;
 * after a failure the buffer holds what it held before. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_appendz(struct buf *b, const char *s);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Room for n more bytes at the end, to be filled in place (by a read) and then counted with
 * buf_commit. Returns NULL when the cap would be passed or memory ran out. */
char *buf_prepare(struct buf *b, size_t n);
/* Counts n bytes written into the room buf_prepare gave, n at most what it was asked for. */
void buf_commit(struct buf *b, size_t n);

/* The contents as a C string: "" for an empty buffer. */
const char *buf_str(const struct buf *b);

void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
