/* deadline: a time limit on a worker's blocking reads. civetweb reads a request body with a
 * loop that waits as long as bytes keep trickling in, so a deadline checked between reads
 * never comes for a client that sends one byte a second. Each reading thread posts its deadline
 * in a slot of its own (a store, no system call); one watchdog thread looks at the slots a few
 * times a second and signals a thread whose deadline has passed. The signal interrupts
 * civetweb's poll, which then returns what it has, and the caller sees the deadline passed. */
#ifndef DEADLINE_H
#define DEADLINE_H

/* Installs the signal's (empty) handler, without SA_RESTART so a blocked poll returns, and
 * starts the watchdog if it is not running. Call once per server before its workers start,
 * and deadline_release once its workers have stopped. Returns 0, or -1 with errno set. */
int deadline_init(void);
void deadline_release(void);

/* Interrupts the calling thread's blocking calls ms milliseconds from now (within the
 * watchdog's tick), until deadline_disarm. Returns 0, or -1 when out of memory (the caller
 * goes on without the interruption: its own checks between reads still hold). */
int deadline_arm(long ms);

/* Ends the deadline. Once it returns, no signal of this deadline is left to interrupt what the
 * thread does next: a signal already sent has been handled. */
void deadline_disarm(void);

#endif
