/* fdlimit: the open-file limit. Each client connection a worker holds and each connection to
 * Twilio is a descriptor, and the soft limit most shells and services start with (1024) is
 * below what the default THREADS needs; the hard limit usually is not. */
#ifndef FDLIMIT_H
#define FDLIMIT_H

#include <stddef.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit, and checks that need descriptors fit in it.
 * Returns 0, or -1 with err naming both numbers (the soft limit is raised as far as it went).
 * *was and *now (either may be NULL) get the soft limit before and after. */
int fdlimit_raise(long need, long *was, long *now, char *err, size_t errlen);

#endif
