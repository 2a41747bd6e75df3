#include "deadline.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

/* A real-time signal nothing else here uses: curl runs with CURLOPT_NOSIGNAL, civetweb sends
 * none. */
#define DEADLINE_SIGNAL (SIGRTMIN + 4)
#define TICK_MS 50 /* how late past its deadline a read may be interrupted */
#define IDLE 0L
#define FIRING (-1L)
#define SENDING (-2L)

/* One per reading thread, kept for the next thread when it ends. state is IDLE, FIRING (the
 * deadline passed: the watchdog signals the thread at every tick until the owner disarms, since
 * a signal that lands between two polls interrupts nothing), SENDING (the watchdog is between
 * counting a signal and sending it), or while armed the deadline itself. Each side changes the
 * state only by swapping the very value it saw, so the owner's disarm and a send never overlap;
 * sent counts the signals sent, and disarm waits until the thread has handled that many. */
struct slot {
    _Atomic long state;
    atomic_uint sent;
    atomic_int taken;
    pthread_t thread;
    struct slot *next;
};

static _Atomic(struct slot *) slots; /* only grows; the watchdog walks it without a lock */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_key_t owner; /* frees a thread's slot when the thread ends */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER; /* guards the fields below */
static pthread_cond_t wake;
static int users;         /* servers running */
static unsigned long gen; /* the watchdog's run; a run not current stops */
static pthread_t watchdog;

static _Thread_local struct slot *mine;
static _Thread_local volatile sig_atomic_t handled; /* the deadline's signals handled here */

static void interrupted(int sig)
{
    (void)sig; /* its work is to make the blocked call return, and to count the signal */
    handled = handled + 1;
}

static void slot_free(void *p)
{
    struct slot *s = p;
    atomic_store(&s->taken, 0);
}

static void set_up(void)
{
    clock_cond_init(&wake);
    pthread_key_create(&owner, slot_free);
}

static struct slot *my_slot(void)
{
    if (mine)
        return mine;
    struct slot *s;
    for (s = atomic_load(&slots); s; s = s->next) {
        int no = 0;
        if (!atomic_load(&s->taken) && atomic_compare_exchange_strong(&s->taken, &no, 1))
            break;
    }
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return NULL;
        atomic_init(&s->state, IDLE);
        atomic_init(&s->sent, 0);
        atomic_init(&s->taken, 1);
        s->next = atomic_load(&slots);
        while (!atomic_compare_exchange_weak(&slots, &s->next, s))
            ;
    }
    s->thread = pthread_self(); /* published to the watchdog by the arming store */
    pthread_setspecific(owner, s);
    return mine = s;
}

static void *watch(void *arg)
{
    const unsigned long run = (unsigned long)arg;
    pthread_mutex_lock(&lock);
    while (gen == run) {
        pthread_mutex_unlock(&lock);
        const long now = clock_ms();
        for (struct slot *s = atomic_load(&slots); s; s = s->next) {
            long at = atomic_load(&s->state);
            if (((at > 0 && at <= now) || at == FIRING) &&
                atomic_compare_exchange_strong(&s->state, &at, SENDING)) {
                /* Real-time signals queue, so each one sent is handled once. One that could not
                 * be queued (EAGAIN) is not counted and goes again at the next tick. */
                if (pthread_kill(s->thread, DEADLINE_SIGNAL) == 0)
                    atomic_fetch_add(&s->sent, 1);
                atomic_store(&s->state, FIRING);
            }
        }
        pthread_mutex_lock(&lock);
        struct timespec t = clock_after(TICK_MS);
        if (gen == run)
            pthread_cond_timedwait(&wake, &lock, &t);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

int deadline_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = interrupted;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    if (sigaction(DEADLINE_SIGNAL, &sa, NULL) < 0)
        return -1;
    pthread_once(&once, set_up);
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (users++ == 0) {
        /* No signal for the process lands on the watchdog: it blocks them all. */
        sigset_t all, was;
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &was);
        rc = pthread_create(&watchdog, NULL, watch, (void *)++gen);
        pthread_sigmask(SIG_SETMASK, &was, NULL);
        if (rc)
            users--;
    }
    pthread_mutex_unlock(&lock);
    if (rc) {
        errno = rc;
        return -1;
    }
    return 0;
}

void deadline_release(void)
{
    pthread_mutex_lock(&lock);
    int last = --users == 0;
    pthread_t w = watchdog;
    if (last) {
        gen++;
        pthread_cond_broadcast(&wake);
    }
    pthread_mutex_unlock(&lock);
    if (last)
        pthread_join(w, NULL);
}

int deadline_arm(long ms)
{
    struct slot *s = my_slot();
    if (!s)
        return -1;
    handled = 0;
    atomic_store(&s->sent, 0);
    long at = clock_ms() + ms;
    atomic_store(&s->state, at > 0 ? at : 1);
    return 0;
}

void deadline_disarm(void)
{
    struct slot *s = mine;
    if (!s)
        return;
    for (;;) {
        long at = atomic_load(&s->state);
        if (at == IDLE)
            return;
        if (at == SENDING) { /* the watchdog is sending: wait until it has counted the signal */
            sched_yield();
            continue;
        }
        if (atomic_compare_exchange_strong(&s->state, &at, IDLE)) {
            if (at > 0)
                return; /* disarmed before the deadline passed: nothing was sent */
            break;
        }
    }
    /* Nothing more is sent once the state is IDLE; once each signal sent has been handled here,
     * nothing is left to interrupt what this thread does next. sent is only read, never
     * written, by anyone else from here on. */
    while ((unsigned)handled != atomic_load(&s->sent))
        sched_yield();
}
