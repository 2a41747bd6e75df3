/* SIGEV_THREAD_ID, gettid: Linux's own. */
#define _GNU_SOURCE
#include "deadline.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A real-time signal nothing else here uses: curl runs with CURLOPT_NOSIGNAL, civetweb sends
 * none. */
#define DEADLINE_SIGNAL (SIGRTMIN + 4)

static void interrupted(int sig)
{
    (void)sig; /* its only work is to make the blocked call return */
}

int deadline_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupted;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    return sigaction(DEADLINE_SIGNAL, &sa, NULL);
}

int deadline_arm(struct deadline *d, long ms)
{
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = DEADLINE_SIGNAL;
    ev._sigev_un._tid = gettid();
    d->armed = 0;
    if (timer_create(CLOCK_MONOTONIC, &ev, &d->timer) < 0)
        return -1;
    struct itimerspec at = {.it_value = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L}};
    if (at.it_value.tv_sec == 0 && at.it_value.tv_nsec == 0)
        at.it_value.tv_nsec = 1;
    if (timer_settime(d->timer, 0, &at, NULL) < 0) {
        timer_delete(d->timer);
        return -1;
    }
    d->armed = 1;
    return 0;
}

void deadline_disarm(struct deadline *d)
{
    /* Deleting the timer also cancels it; a signal it already sent was handled at once (its
     * handler runs as soon as it arrives), so nothing is left to interrupt later calls. */
    if (d->armed)
        timer_delete(d->timer);
    d->armed = 0;
}
