#include "value.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct text value_trim(struct text t)
{
    while (t.n && isspace((unsigned char)t.p[0])) {
        t.p++;
        t.n--;
    }
    while (t.n && isspace((unsigned char)t.p[t.n - 1]))
        t.n--;
    return t;
}

/* The n digits at p as a number, or -1 when one is not a digit. */
static int num(const char *p, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, int m, int d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    long long yoe = y - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The zone after the seconds (and fraction) at p[i..n): nothing, Z, or +hh:mm / -hh:mm, in
 * seconds east of GMT. Returns 0, or -1. */
static int iso_zone(const char *p, size_t i, size_t n, long long *east)
{
    *east = 0;
    if (i == n)
        return 0;
    if ((p[i] == 'Z' || p[i] == 'z') && i + 1 == n)
        return 0;
    int oh = n - i == 6 ? num(p + i + 1, 2) : -1, om = n - i == 6 ? num(p + i + 4, 2) : -1;
    if ((p[i] != '+' && p[i] != '-') || oh < 0 || p[i + 3] != ':' || om < 0)
        return -1;
    *east = (p[i] == '-' ? -1 : 1) * (oh * 3600LL + om * 60);
    return 0;
}

int value_date(struct text t, long long *epoch)
{
    const char *p = t.p;
    if (t.n < 10 || p[4] != '-' || p[7] != '-')
        return -1;
    int y = num(p, 4), mo = num(p + 5, 2), d = num(p + 8, 2), h = 0, mi = 0, sec = 0;
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    long long east = 0;
    if (t.n > 10) {
        if (t.n < 19 || (p[10] != 'T' && p[10] != 't' && p[10] != ' ') || p[13] != ':' ||
            p[16] != ':')
            return -1;
        h = num(p + 11, 2), mi = num(p + 14, 2), sec = num(p + 17, 2);
        if (h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
            return -1;
        size_t i = 19;
        if (i < t.n && p[i] == '.') {
            size_t start = ++i;
            while (i < t.n && p[i] >= '0' && p[i] <= '9')
                i++;
            if (i == start)
                return -1;
        }
        if (iso_zone(p, i, t.n, &east) < 0)
            return -1;
    }
    if (epoch)
        *epoch = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - east;
    return 0;
}

int value_twilio_date(const char *s, long long *epoch)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4], zone[6];
    int d, y, h, mi, sec, n = 0;
    const char *comma = strchr(s, ',');
    const char *p = comma ? comma + 1 : s;
    if (sscanf(p, " %2d %3s %4d %2d:%2d:%2d %5s%n", &d, mon, &y, &h, &mi, &sec, zone, &n) != 7 ||
        p[n] != '\0')
        return value_date((struct text){s, strlen(s)}, epoch);
    const char *m = strstr(months, mon);
    if (!m || strlen(mon) != 3 || (m - months) % 3 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    long long off = 0;
    int oh = num(zone + 1, 2), om = num(zone + 3, 2);
    if ((zone[0] == '+' || zone[0] == '-') && strlen(zone) == 5 && oh >= 0 && om >= 0)
        off = (zone[0] == '-' ? -1 : 1) * (oh * 3600LL + om * 60);
    else if (strcmp(zone, "GMT") && strcmp(zone, "UTC"))
        return -1;
    *epoch =
        days_from_civil(y, (int)((m - months) / 3) + 1, d) * 86400 + h * 3600 + mi * 60 + sec - off;
    return 0;
}

void value_date_format(long long t, char out[32])
{
    long long days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
    long long rem = t - days * 86400;
    /* civil_from_days */
    long long z = days + 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    long long y = yoe + era * 400 + (m <= 2);
    snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02dZ", y, m, d, (int)(rem / 3600),
             (int)(rem / 60 % 60), (int)(rem % 60));
}

int value_phone(struct text t, struct buf *norm)
{
    size_t digits = 0;
    buf_reset(norm);
    for (size_t i = 0; i < t.n; i++) {
        char ch = t.p[i];
        if (ch == ' ' || ch == '-' || ch == '.' || ch == '(' || ch == ')' || ch == '\t')
            continue;
        if (ch == '+' && norm->len == 0) {
            if (buf_append(norm, "+", 1) < 0)
                return -1;
            continue;
        }
        if (ch < '0' || ch > '9')
            return -1;
        if (buf_append(norm, &ch, 1) < 0)
            return -1;
        digits++;
    }
    return digits >= 3 && digits <= 15 ? 0 : -1;
}

int value_e164(struct text t, char *out, size_t size)
{
    size_t n = 0;
    t = value_trim(t);
    if (t.n == 0 || t.p[0] != '+')
        return -1;
    out[n++] = '+';
    for (size_t i = 1; i < t.n; i++) {
        if (isdigit((unsigned char)t.p[i])) {
            if (n + 1 >= size)
                return -1;
            out[n++] = t.p[i];
        } else if (!strchr(" ()-.", t.p[i]) || t.p[i] == '\0') {
            return -1;
        }
    }
    out[n] = '\0';
    return n >= 8 && n <= 16 && out[1] != '0' ? 0 : -1;
}

int value_sid(struct text t, const char *prefix)
{
    if (t.n != 34 || strlen(prefix) < 2 || memcmp(t.p, prefix, 2) != 0)
        return 0;
    for (size_t i = 2; i < 34; i++)
        if (!isxdigit((unsigned char)t.p[i]))
            return 0;
    return 1;
}

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void value_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = b64url[v >> 6 & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

static long b64_decode(const char *alphabet, const char *in, size_t n, unsigned char *out,
                       size_t cap)
{
    size_t o = 0;
    unsigned v = 0;
    int bits = 0;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *at = in[i] ? strchr(alphabet, in[i]) : NULL;
        if (!at)
            return -1;
        v = v << 6 | (unsigned)(at - alphabet);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(v >> bits & 0xff);
        }
    }
    if (v & ((1u << bits) - 1)) /* leftover bits must be zero */
        return -1;
    return (long)o;
}

long value_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    return b64_decode(b64url, in, n, out, cap);
}

long value_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 0 && n && in[n - 1] == '=')
        n -= in[n - 2] == '=' ? 2 : 1;
    return b64_decode("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", in, n,
                      out, cap);
}
