#define _GNU_SOURCE /* pthread_setname_np */
#include "upstream.h"

#include <stdint.h>
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "clock.h"
#include "memtune.h"

/* A handed-over transfer. It lives on the waiting worker's stack. */
struct job {
    CURL *h;
    CURLcode rc;
    atomic_int done; /* set (and woken) by the upstream thread once rc is set */
    struct job *next;
};

/* One event loop: curl's socket interface on epoll, so each ready socket costs one
 * curl_multi_socket_action where curl_multi_perform would look at every transfer in flight. */
struct loop {
    CURLM *multi;
    int ep;   /* epoll: curl's sockets and wake */
    int wake; /* eventfd, written when a job is queued while the thread sleeps */
    long due; /* clock_ms() when curl's timer fires; -1: no timer */
    pthread_t thread;
    /* Workers push jobs here (newest first) and the thread takes them all at once: no lock
     * for a thousand workers to queue on. */
    _Atomic(struct job *) queue;
    atomic_int asleep; /* the thread may be in epoll_wait: a new job writes to wake */
    atomic_int stopping;
    long active; /* jobs added to multi and not yet finished; the thread's own */
};

static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)e;
    struct loop *lp = userp;
    if (what == CURL_POLL_REMOVE) {
        epoll_ctl(lp->ep, EPOLL_CTL_DEL, fd, NULL);
        return 0;
    }
    struct epoll_event ev = {.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) |
                                       (what & CURL_POLL_OUT ? EPOLLOUT : 0u),
                             .data.fd = fd};
    /* socketp is what curl_multi_assign gave this socket: non-NULL once it is in epoll. */
    if (socketp) {
        epoll_ctl(lp->ep, EPOLL_CTL_MOD, fd, &ev);
    } else if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) == 0 ||
               (errno == EEXIST && epoll_ctl(lp->ep, EPOLL_CTL_MOD, fd, &ev) == 0)) {
        curl_multi_assign(lp->multi, fd, lp);
    }
    return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct loop *lp = userp;
    lp->due = timeout_ms < 0 ? -1 : clock_ms() + timeout_ms;
    return 0;
}

/* The worker may return as soon as done is set, so j is not touched after it: the wake-up only
 * names the address (at worst a spurious wake-up of whatever waits there next). */
static void finish(struct job *j, CURLcode rc)
{
    atomic_int *done = &j->done;
    j->rc = rc;
    atomic_store_explicit(done, 1, memory_order_release);
    syscall(SYS_futex, done, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* Takes the queued jobs, oldest first. */
static struct job *take_queue(struct loop *lp)
{
    struct job *newest = atomic_exchange(&lp->queue, NULL), *oldest = NULL;
    while (newest) {
        struct job *next = newest->next;
        newest->next = oldest;
        oldest = newest;
        newest = next;
    }
    return oldest;
}

static void finish_done(struct loop *lp)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(lp->multi, &left))) {
        if (m->msg != CURLMSG_DONE)
            continue;
        CURL *h = m->easy_handle;
        CURLcode rc = m->data.result; /* m is gone once h is removed */
        char *j = NULL;
        curl_easy_getinfo(h, CURLINFO_PRIVATE, &j);
        curl_multi_remove_handle(lp->multi, h);
        lp->active--;
        finish((struct job *)(void *)j, rc);
    }
}

/* Adds every queued job. Returns with the thread marked asleep and the queue seen empty after
 * that, so a job queued from here on wakes the thread. */
static void add_queued(struct loop *lp)
{
    for (;;) {
        struct job *j = take_queue(lp);
        if (!j) {
            atomic_store(&lp->asleep, 1);
            if (!atomic_load(&lp->queue))
                return;
            atomic_store(&lp->asleep, 0);
            continue;
        }
        for (struct job *next; j; j = next) {
            next = j->next;
            curl_easy_setopt(j->h, CURLOPT_PRIVATE, (void *)j);
            if (curl_multi_add_handle(lp->multi, j->h) == CURLM_OK)
                lp->active++;
            else
                finish(j, CURLE_FAILED_INIT);
        }
    }
}

static void drain_wake(struct loop *lp)
{
    uint64_t count;
    while (read(lp->wake, &count, sizeof count) > 0)
        continue;
}

static void *run(void *arg)
{
    struct loop *lp = arg;
    struct epoll_event ev[64];
    int running = 0;
    for (;;) {
        add_queued(lp);
        if (atomic_load(&lp->stopping) && lp->active == 0 && !atomic_load(&lp->queue))
            return NULL;
        long wait = 1000;
        if (lp->due >= 0)
            wait = lp->due - clock_ms() < 0 ? 0 : lp->due - clock_ms();
        int n = epoll_wait(lp->ep, ev, 64, wait > 1000 ? 1000 : (int)wait);
        atomic_store(&lp->asleep, 0);
        for (int i = 0; i < n; i++) {
            if (ev[i].data.fd == lp->wake) {
                drain_wake(lp);
                continue;
            }
            int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            curl_multi_socket_action(lp->multi, ev[i].data.fd, flags, &running);
        }
        if (lp->due >= 0 && clock_ms() >= lp->due) {
            lp->due = -1;
            curl_multi_socket_action(lp->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        }
        finish_done(lp);
    }
}

static int loop_start(struct loop *lp, long max_idle)
{
    lp->due = -1;
    lp->ep = epoll_create1(EPOLL_CLOEXEC);
    lp->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    lp->multi = curl_multi_init();
    struct epoll_event wake = {.events = EPOLLIN, .data.fd = lp->wake};
    if (lp->ep < 0 || lp->wake < 0 || !lp->multi ||
        epoll_ctl(lp->ep, EPOLL_CTL_ADD, lp->wake, &wake) < 0)
        goto fail;
    curl_multi_setopt(lp->multi, CURLMOPT_MAXCONNECTS, max_idle);
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(lp->multi, CURLMOPT_SOCKETDATA, lp);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(lp->multi, CURLMOPT_TIMERDATA, lp);
    if (pthread_create(&lp->thread, NULL, run, lp) != 0)
        goto fail;
    pthread_setname_np(lp->thread, "upstream");
    return 0;
fail:
    if (lp->multi)
        curl_multi_cleanup(lp->multi);
    if (lp->wake >= 0)
        close(lp->wake);
    if (lp->ep >= 0)
        close(lp->ep);
    return -1;
}

static void wake(struct loop *lp)
{
    uint64_t one = 1;
    if (write(lp->wake, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so a wake-up is already pending */
    }
}

static void loop_stop(struct loop *lp)
{
    atomic_store(&lp->stopping, 1);
    wake(lp);
    pthread_join(lp->thread, NULL);
    curl_multi_cleanup(lp->multi);
    close(lp->wake);
    close(lp->ep);
}

/* A multi handle lent to one worker at a time, which runs its transfer on its own thread: no
 * thread switch, at the price of curl's frames on that worker's stack while it waits. Its
 * connections stay with it for the next borrower. */
struct slot {
    atomic_int taken;
    CURLM *multi; /* made by its first borrower */
};

/* Workers are dealt to the loops in turn: one loop's thread would cap the service at what one
 * core can do for curl. */
struct upstream {
    atomic_uint turn;
    atomic_long lent; /* slots taken, or about to be */
    size_t n_slots;
    struct slot *slots;
    size_t n;
    struct loop loops[];
};

struct upstream *upstream_start(size_t loops, long max_idle, size_t inline_slots, char *err,
                                size_t errlen)
{
    struct upstream *u = calloc(1, sizeof *u + loops * sizeof u->loops[0]);
    if (u && inline_slots && !(u->slots = calloc(inline_slots, sizeof u->slots[0]))) {
        free(u);
        u = NULL;
    }
    if (!u) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    u->n_slots = inline_slots;
    for (; u->n < loops; u->n++) {
        if (loop_start(&u->loops[u->n], max_idle) < 0) {
            snprintf(err, errlen, "cannot start the upstream event loops");
            upstream_stop(u);
            return NULL;
        }
    }
    return u;
}

/* Takes a free slot, or returns NULL when every one is lent: the count is taken first, so only
 * a caller sure to find one looks for it. */
static struct slot *borrow(struct upstream *up, unsigned hint)
{
    if (atomic_fetch_add(&up->lent, 1) >= (long)up->n_slots) {
        atomic_fetch_sub(&up->lent, 1);
        return NULL;
    }
    for (size_t i = 0;; i++) {
        struct slot *sl = &up->slots[(hint + i) % up->n_slots];
        if (!atomic_exchange(&sl->taken, 1))
            return sl;
    }
}

static void give_back(struct upstream *up, struct slot *sl)
{
    atomic_store(&sl->taken, 0);
    atomic_fetch_sub(&up->lent, 1);
}

/* What curl_easy_perform does, on the slot's multi handle instead of the easy handle's own. */
static CURLcode run_inline(struct slot *sl, CURL *h)
{
    if (!sl->multi && (sl->multi = curl_multi_init()))
        curl_multi_setopt(sl->multi, CURLMOPT_MAXCONNECTS, 2L);
    if (!sl->multi || curl_multi_add_handle(sl->multi, h) != CURLM_OK)
        return CURLE_FAILED_INIT;
    CURLcode rc = CURLE_FAILED_INIT;
    int running = 1;
    CURLMcode mc = CURLM_OK;
    while (running && mc == CURLM_OK) {
        mc = curl_multi_perform(sl->multi, &running);
        if (running && mc == CURLM_OK)
            mc = curl_multi_poll(sl->multi, NULL, 0, 1000, NULL);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(sl->multi, &left)))
        if (m->msg == CURLMSG_DONE && m->easy_handle == h)
            rc = m->data.result;
    curl_multi_remove_handle(sl->multi, h);
    return rc;
}

#if defined(__x86_64__)
/* A system call made in place: no call instruction, so nothing is pushed below the frame. */
static inline __attribute__((always_inline)) long sys4(long n, long a, long b, long c, long d)
{
    long ret;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return ret;
}
#endif

/* Waits until a loop has run the job. Only calls past UPSTREAM_INLINE wait here, a thousand at
 * once at most, so first the pages of the stack below the caller's frame go back to the
 * kernel: the dead frames of parsing and logging. Inlined into the caller, and on x86_64 with
 * its system calls made in place, so nothing runs below the caller's frame while it waits and
 * only the page that frame ends in is kept (a call would push onto the page just released). */
static inline __attribute__((always_inline)) void wait_job(struct job *j)
{
#if defined(__x86_64__)
    const uintptr_t low = memtune_stack_low(), page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t sp;
    __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
    const uintptr_t keep = sp & ~(page - 1);
    if (low && keep > low)
        sys4(SYS_madvise, (long)low, (long)(keep - low), MADV_DONTNEED, 0);
    while (!atomic_load_explicit(&j->done, memory_order_acquire))
        sys4(SYS_futex, (long)&j->done, FUTEX_WAIT_PRIVATE, 0, 0); /* EINTR, EAGAIN: look again */
#else
    memtune_release_stack();
    while (!atomic_load_explicit(&j->done, memory_order_acquire))
        syscall(SYS_futex, &j->done, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
#endif
}

CURLcode upstream_run(struct upstream *up, CURL *h)
{
    /* Each worker keeps to one loop, so that a loop never has more transfers in flight, nor
     * connections open, than it has workers. */
    static _Thread_local unsigned ticket;
    static _Thread_local int ticketed;
    if (!ticketed) {
        ticket = atomic_fetch_add(&up->turn, 1);
        ticketed = 1;
    }
    struct slot *sl = up->n_slots ? borrow(up, ticket) : NULL;
    if (sl) {
        CURLcode rc = run_inline(sl, h);
        give_back(up, sl);
        return rc;
    }
    struct loop *lp = &up->loops[ticket % up->n];
    struct job j = {.h = h, .rc = CURLE_FAILED_INIT, .next = NULL};
    atomic_init(&j.done, 0);
    memtune_release_stack_later(); /* the answer and its log line go deep again */
    j.next = atomic_load(&lp->queue);
    while (!atomic_compare_exchange_weak(&lp->queue, &j.next, &j))
        continue;
    if (atomic_exchange(&lp->asleep, 0))
        wake(lp);
    wait_job(&j);
    return j.rc;
}

void upstream_stop(struct upstream *u)
{
    if (!u)
        return;
    for (size_t i = 0; i < u->n; i++)
        loop_stop(&u->loops[i]);
    for (size_t i = 0; i < u->n_slots; i++)
        if (u->slots[i].multi)
            curl_multi_cleanup(u->slots[i].multi);
    free(u->slots);
    free(u);
}
