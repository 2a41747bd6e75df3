#define _GNU_SOURCE /* pthread_getattr_np */
#include "memtune.h"

#include <stdint.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define TCACHE_OFF "glibc.malloc.tcache_count=0"

/* glibc keeps up to seven freed chunks per size class in every thread. With one civetweb worker
 * per connection, a thousand workers' caches held half the heap at peak (58 of 112 MB in
 * bench/run), and turning the cache off cost nothing measurable on the fast path. */
void memtune_reexec(char **argv, char *err, unsigned long errlen)
{
    const char *now = getenv("GLIBC_TUNABLES");
    err[0] = '\0';
    if (now && strstr(now, "glibc.malloc.tcache_count="))
        return;
    size_t n = (now ? strlen(now) : 0) + sizeof TCACHE_OFF + 1;
    char *want = malloc(n);
    if (!want) {
        snprintf(err, errlen, "out of memory");
        return;
    }
    if (now && *now)
        snprintf(want, n, "%s:%s", now, TCACHE_OFF);
    else
        snprintf(want, n, "%s", TCACHE_OFF);
    /* The program's real path, not /proc/self/exe, so that its name in ps stays its own. */
    char self[4096];
    ssize_t n_self = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n_self > 0 && setenv("GLIBC_TUNABLES", want, 1) == 0) {
        self[n_self] = '\0';
        execv(self, argv);
    }
    snprintf(err, errlen, "cannot re-execute with GLIBC_TUNABLES=%s: %s", want, strerror(errno));
    free(want);
}

/* The calling thread's lowest stack address, page-aligned up; 0 when unknown. */
static uintptr_t stack_low(uintptr_t page)
{
    pthread_attr_t attr;
    void *low;
    size_t size;
    uintptr_t from = 0;
    if (pthread_getattr_np(pthread_self(), &attr) != 0)
        return 0;
    if (pthread_attr_getstack(&attr, &low, &size) == 0)
        from = ((uintptr_t)low + page - 1) & ~(page - 1);
    pthread_attr_destroy(&attr);
    return from;
}

uintptr_t memtune_stack_low(void)
{
    static _Thread_local uintptr_t from;
    static _Thread_local int known;
    if (!known) {
        from = stack_low((uintptr_t)sysconf(_SC_PAGESIZE));
        known = 1;
    }
    return from;
}

/* A thousand idle workers each kept one stack page touched once while starting (the first
 * malloc of a thread builds its arena and cache deep in glibc): 4 MB of an idle service. */
void memtune_release_stack(void)
{
    const uintptr_t from = memtune_stack_low(), page = (uintptr_t)sysconf(_SC_PAGESIZE);
    /* madvise is a leaf call: half a KB below this frame covers it and the red zone. */
    const uintptr_t keep = ((uintptr_t)__builtin_frame_address(0) - 512) & ~(page - 1);
    if (from && keep > from)
        madvise((void *)from, keep - from, MADV_DONTNEED);
}

static _Thread_local int release_due;

void memtune_release_stack_later(void)
{
    release_due = 1;
}

void memtune_release_stack_due(void)
{
    if (release_due) {
        release_due = 0;
        memtune_release_stack();
    }
}
