/* clock: monotonic milliseconds for deadlines and durations, and a sleep that survives signals. */
#ifndef CLOCK_H
#define CLOCK_H

long clock_ms(void);
void clock_sleep_ms(long ms);

#endif
