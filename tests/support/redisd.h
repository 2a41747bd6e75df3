/* redisd: a real redis-server (Debian's) started by a test on 127.0.0.1 at a free port, with
 * nothing saved to disk; it can be stopped and started again on the same port. */
#ifndef REDISD_H
#define REDISD_H

#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct redisd {
    pid_t pid; /* 0 while stopped */
    int port;
    char password[64]; /* empty: none */
    char aof_dir[256]; /* the append-only file's directory; empty: nothing on disk */
};

/* Starts redis-server (requiring password unless NULL) and waits until it answers.
 * Returns 0, or -1 with the reason on stderr. */
int redisd_start(struct redisd *r, const char *password);
/* Starts one without a password that keeps an append-only file in dir (appendfsync always),
 * so a restart after SIGKILL finds every answered write. Returns 0 or -1. */
int redisd_start_aof(struct redisd *r, const char *dir);
/* Starts it again on the same port after redisd_stop. Returns 0 or -1. */
int redisd_restart(struct redisd *r);
/* Stops it (SIGTERM) and waits for it to exit. */
void redisd_stop(struct redisd *r);

/* redis://[:password@]127.0.0.1:port/db */
void redisd_url(const struct redisd *r, int db, char *out, size_t size);
/* A connection to database db for looking at what was written, or NULL. */
redisContext *redisd_connect(const struct redisd *r, int db);

/* A loopback port with nothing listening on it (just closed). */
int redisd_free_port(void);

#endif
