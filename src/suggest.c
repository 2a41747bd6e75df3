#include "suggest.h"

#include <ctype.h>
#include <string.h>

/* Longer names are never near: nothing here is that long, and the table stays small (4 KB) on
 * a worker's stack. */
enum { SUGGEST_MAX_LEN = 64 };

/* The optimal-string-alignment distance between a and b, case ignored. */
static size_t distance(const char *a, size_t n, const char *b, size_t m)
{
    unsigned char d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = (unsigned char)i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = (unsigned char)j;
    for (size_t i = 1; i <= n; i++) {
        for (size_t j = 1; j <= m; j++) {
            int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
            size_t best = (size_t)d[i - 1][j - 1] + (ca != cb);
            if ((size_t)d[i - 1][j] + 1 < best)
                best = (size_t)d[i - 1][j] + 1;
            if ((size_t)d[i][j - 1] + 1 < best)
                best = (size_t)d[i][j - 1] + 1;
            if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == cb && (size_t)d[i - 2][j - 2] + 1 < best)
                best = (size_t)d[i - 2][j - 2] + 1;
            d[i][j] = (unsigned char)best;
        }
    }
    return d[n][m];
}

long suggest_nearest(const char *name, size_t len, const char *const *names, size_t n)
{
    if (len == 0 || len > SUGGEST_MAX_LEN)
        return -1;
    size_t limit = len >= 6 ? 2 : 1, best_d = limit + 1;
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(names[i]);
        if (m > SUGGEST_MAX_LEN)
            continue;
        size_t d = distance(name, len, names[i], m);
        if (d < best_d) {
            best_d = d;
            best = (long)i;
        }
    }
    return best;
}
