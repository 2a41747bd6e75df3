#include "fdlimit.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

static long as_long(rlim_t v)
{
    return v == RLIM_INFINITY || v > (rlim_t)LONG_MAX ? LONG_MAX : (long)v;
}

int fdlimit_raise(long need, long *was, long *now, char *err, size_t errlen)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "cannot read the open-file limit: %s", strerror(errno));
        return -1;
    }
    if (was)
        *was = as_long(rl.rlim_cur);
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit up = {rl.rlim_max, rl.rlim_max};
        if (setrlimit(RLIMIT_NOFILE, &up) == 0)
            rl.rlim_cur = rl.rlim_max;
    }
    if (now)
        *now = as_long(rl.rlim_cur);
    if (as_long(rl.rlim_cur) < need) {
        snprintf(err, errlen,
                 "the open-file limit is %ld (hard limit %ld) but the service needs %ld "
                 "descriptors",
                 as_long(rl.rlim_cur), as_long(rl.rlim_max), need);
        return -1;
    }
    return 0;
}
