#include "reqid.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"

static int sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= REQID_MAX || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
            return 0;
    return n > 0;
}

/* Generated ids are a random prefix drawn once per process and a counter: unique, cheap, and
 * no per-thread random generator for each of a thousand workers (OpenSSL keeps one per thread). */
static unsigned char prefix[8];
static pthread_once_t prefix_once = PTHREAD_ONCE_INIT;

static void draw_prefix(void)
{
    if (RAND_bytes(prefix, sizeof prefix) != 1) {
        /* unique rather than random is enough for an id: the start time and the pid */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long a = (unsigned long long)ts.tv_nsec ^ (unsigned long long)getpid() << 32;
        for (int i = 0; i < 8; i++)
            prefix[i] = (unsigned char)(a >> (8 * i));
    }
}

int reqid_take(const char *given, char out[REQID_MAX + 1])
{
    if (given && sane(given)) {
        memcpy(out, given, strlen(given) + 1);
        return 1;
    }
    static atomic_ullong counter;
    unsigned char r[16];
    pthread_once(&prefix_once, draw_prefix);
    unsigned long long n = atomic_fetch_add_explicit(&counter, 1, memory_order_relaxed);
    memcpy(r, prefix, sizeof prefix);
    for (int i = 0; i < 8; i++)
        r[8 + i] = (unsigned char)(n >> (8 * (7 - i)));
    digest_hex(r, sizeof r, out);
    return 0;
}
