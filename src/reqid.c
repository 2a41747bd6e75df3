#include "reqid.h"

#include <openssl/rand.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static int sane(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++)
        if (n >= REQID_MAX || (unsigned char)s[n] < 0x21 || (unsigned char)s[n] > 0x7e)
            return 0;
    return n > 0;
}

int reqid_take(const char *given, char out[REQID_MAX + 1])
{
    if (given && sane(given)) {
        memcpy(out, given, strlen(given) + 1);
        return 1;
    }
    unsigned char r[16];
    if (RAND_bytes(r, sizeof r) != 1) {
        /* Unique rather than random is enough for an id: wall time and a process counter. */
        static atomic_ulong counter;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        unsigned long long a =
            (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
        unsigned long long b = atomic_fetch_add(&counter, 1);
        for (int i = 0; i < 8; i++) {
            r[i] = (unsigned char)(a >> (8 * i));
            r[8 + i] = (unsigned char)(b >> (8 * i));
        }
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof r; i++) {
        out[2 * i] = hex[r[i] >> 4];
        out[2 * i + 1] = hex[r[i] & 15];
    }
    out[2 * sizeof r] = '\0';
    return 0;
}
