/* deadline: a time limit on a worker's blocking reads. civetweb reads a request body with a
 * loop that waits as long as bytes keep trickling in, so a deadline checked between reads
 * never comes for a client that sends one byte a second. A per-thread timer signals the
 * reading thread when the deadline passes; the signal interrupts civetweb's poll, which then
 * returns what it has, and the caller sees the deadline passed. */
#ifndef DEADLINE_H
#define DEADLINE_H

#include <time.h>

struct deadline {
    timer_t timer;
    int armed;
};

/* Installs the signal's (empty) handler, without SA_RESTART so a blocked poll returns. Call
 * once before the workers start. Returns 0, or -1 with errno set. */
int deadline_init(void);

/* Interrupts the calling thread's blocking calls ms milliseconds from now, once. Returns 0,
 * or -1 when no timer could be made (the caller goes on without the interruption: its own
 * checks between reads still hold). */
int deadline_arm(struct deadline *d, long ms);

/* Disarms and frees the timer before the thread does anything a signal must not interrupt. */
void deadline_disarm(struct deadline *d);

#endif
