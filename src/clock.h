/* clock: monotonic milliseconds for deadlines and durations, a sleep that survives signals, and
 * condition variables that wait on the same clock. */
#ifndef CLOCK_H
#define CLOCK_H

#include <pthread.h>
#include <time.h>

long clock_ms(void);
void clock_sleep_ms(long ms);

/* Initialises c so that its timed waits count on the monotonic clock. Returns 0 or an error
 * number, as pthread_cond_init. */
int clock_cond_init(pthread_cond_t *c);

/* The monotonic time ms from now, for pthread_cond_timedwait on such a condition. */
struct timespec clock_after(long ms);

#endif
