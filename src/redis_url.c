#include "redis_url.h"

#include <stdio.h>
#include <string.h>

#include "form.h"

#define DEFAULT_PORT 6379
#define MAX_DB 1000000L

/* Copies n bytes of in to out (size bytes), decoding %XX. Returns 0, or -1 when it does not
 * fit, an escape is broken or it decodes to a NUL. */
static int decode(const char *in, size_t n, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c == '%') {
            if (n - i < 3)
                return -1;
            int hi = form_hex_value(in[i + 1]), lo = form_hex_value(in[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
                return -1;
            c = (char)(hi * 16 + lo);
            i += 2;
        }
        if (o + 1 >= size)
            return -1;
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}

/* Parses the decimal digits s[0..n) into *out, from 0 to max. Returns 0 or -1. */
static int digits(const char *s, size_t n, long max, long *out)
{
    long v = 0;
    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > max)
            return -1;
    }
    *out = v;
    return 0;
}

static int fail(char *err, size_t errlen, const char *why)
{
    snprintf(err, errlen, "REDIS_URL: %s", why);
    return -1;
}

int redis_url_parse(const char *text, struct redis_url *u, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    memset(u, 0, sizeof *u);
    u->port = DEFAULT_PORT;
    if (strncmp(text, "rediss://", 9) == 0)
        return fail(err, errlen,
                    "TLS (rediss://) is not supported; use redis:// on a private "
                    "network");
    if (strncmp(text, scheme, sizeof scheme - 1) != 0)
        return fail(err, errlen, "expected redis://[[user]:password@]host[:port][/db]");
    const char *rest = text + sizeof scheme - 1;
    if (strpbrk(rest, "?#"))
        return fail(err, errlen, "query parameters and fragments are not supported");
    /* The last '@' ends the credentials, so a password may hold an unescaped '@'. */
    const char *at = strrchr(rest, '@');
    if (at) {
        const char *colon = memchr(rest, ':', (size_t)(at - rest));
        if (!colon)
            return fail(err, errlen, "put the password after a colon: redis://:password@host");
        if (decode(rest, (size_t)(colon - rest), u->user, sizeof u->user) < 0 ||
            decode(colon + 1, (size_t)(at - colon - 1), u->password, sizeof u->password) < 0)
            return fail(err, errlen, "the user or password is too long or wrongly %-encoded");
        rest = at + 1;
    }
    size_t hostport = strcspn(rest, "/");
    const char *host = rest, *port = NULL;
    size_t host_len;
    if (rest[0] == '[') {
        const char *close = memchr(rest, ']', hostport);
        if (!close)
            return fail(err, errlen, "an IPv6 address needs its closing ']'");
        host = rest + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < rest + hostport) {
            if (close[1] != ':')
                return fail(err, errlen, "expected ':port' after the IPv6 address");
            port = close + 2;
        }
    } else {
        const char *colon = memchr(rest, ':', hostport);
        host_len = colon ? (size_t)(colon - rest) : hostport;
        port = colon ? colon + 1 : NULL;
    }
    if (host_len == 0)
        return fail(err, errlen, "no host");
    if (host_len >= sizeof u->host)
        return fail(err, errlen, "the host name is too long");
    memcpy(u->host, host, host_len);
    u->host[host_len] = '\0';
    long v;
    if (port) {
        if (digits(port, (size_t)(rest + hostport - port), 65535, &v) < 0 || v == 0)
            return fail(err, errlen, "the port must be a number from 1 to 65535");
        u->port = (int)v;
    }
    const char *path = rest + hostport;
    if (path[0] == '/' && path[1] != '\0') {
        if (digits(path + 1, strlen(path + 1), MAX_DB, &v) < 0)
            return fail(err, errlen, "the database after '/' must be a number");
        u->db = v;
    }
    return 0;
}

int redis_url_check(const char *text, char *err, size_t errlen)
{
    struct redis_url u;
    int rc = redis_url_parse(text, &u, err, errlen);
    memset(&u, 0, sizeof u);
    return rc;
}

void redis_url_describe(const struct redis_url *u, char *out, size_t size)
{
    const char *v6 = strchr(u->host, ':') ? "[" : "";
    snprintf(out, size, "redis://%s%s%s%s%s%s:%d/%ld", u->user, u->password[0] ? ":***" : "",
             u->user[0] || u->password[0] ? "@" : "", v6, u->host, *v6 ? "]" : "", u->port, u->db);
}
