#include "redis_conn.h"

#include <stdio.h>
#include <string.h>

/* Checks the answer to a set-up command, which the connection needs before it is used. */
static int setup_ok(redisContext *c, redisReply *rep, const char *what, char *why, size_t n)
{
    int ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (!rep)
        snprintf(why, n, "%s: %s", what, c->errstr);
    else if (!ok) /* only the error's first word: the text could echo what was sent */
        snprintf(why, n, "%s refused (%.*s)", what, (int)strcspn(rep->str, " "), rep->str);
    if (rep)
        freeReplyObject(rep);
    return ok;
}

redisContext *redis_conn_open(const struct redis_url *u, struct timeval timeout, char *why,
                              size_t whylen)
{
    redisContext *c = redisConnectWithTimeout(u->host, u->port, timeout);
    if (!c) {
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    if (c->err) {
        snprintf(why, whylen, "%s", c->errstr);
        goto fail;
    }
    if (redisSetTimeout(c, timeout) != REDIS_OK) {
        snprintf(why, whylen, "cannot set the command timeout");
        goto fail;
    }
    if (u->password[0]) {
        const char *auth[3] = {"AUTH"};
        int argc = 1;
        if (u->user[0])
            auth[argc++] = u->user;
        auth[argc++] = u->password;
        if (!setup_ok(c, redisCommandArgv(c, argc, auth, NULL), "AUTH", why, whylen))
            goto fail;
    }
    if (u->db) {
        char db[24];
        snprintf(db, sizeof db, "%ld", u->db);
        const char *select[] = {"SELECT", db};
        if (!setup_ok(c, redisCommandArgv(c, 2, select, NULL), "SELECT", why, whylen))
            goto fail;
    }
    return c;
fail:
    redisFree(c);
    return NULL;
}
