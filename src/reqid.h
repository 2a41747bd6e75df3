/* reqid: the X-Request-Id of a request, taken from the caller when it is sane or generated,
 * so one id ties a caller's request to the service's log line. */
#ifndef REQID_H
#define REQID_H

#define REQID_MAX 128

/* Copies given into out when it is 1 to REQID_MAX visible ASCII characters (0x21-0x7e: no
 * spaces, nothing that could split a log line); otherwise (NULL, empty, too long, other bytes)
 * writes 32 lower-case hex digits: 8 random bytes drawn once per process, then a counter.
 * Returns 1 when given was taken, 0 when an id was generated. */
int reqid_take(const char *given, char out[REQID_MAX + 1]);

#endif
