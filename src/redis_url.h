/* redis_url: REDIS_URL, redis://[[user]:password@]host[:port][/db], parsed into its parts and
 * described for log lines with the password masked. */
#ifndef REDIS_URL_H
#define REDIS_URL_H

#include <stddef.h>

struct redis_url {
    char host[256];     /* an IPv6 address without its brackets */
    int port;           /* 6379 unless given */
    long db;            /* 0 unless given */
    char user[128];     /* empty: AUTH with the password alone */
    char password[256]; /* empty: no AUTH; never logged */
};

/* Parses text (user and password may be %-encoded). Returns 0, or -1 with the reason in err;
 * the reason never quotes the URL, which may hold a password. */
int redis_url_parse(const char *text, struct redis_url *u, char *err, size_t errlen);

/* Checks text as redis_url_parse does, keeping nothing of it. */
int redis_url_check(const char *text, char *err, size_t errlen);

/* Writes redis://host:port/db into out, with the password (if any) shown as ***. */
void redis_url_describe(const struct redis_url *u, char *out, size_t size);

#endif
