/* redisd: a real redis-server (Debian's) started by a test on 127.0.0.1 at a free port, with
 * nothing saved to disk; it can be stopped and started again on the same port. */
#ifndef REDISD_H
#define REDISD_H

#include <stddef.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

#include "harness.h"

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

/* Scale-out: a real redis-server and two real twilio-block processes sharing it through
 * REDIS_URL. */
struct replicas {
    struct redisd redis;
    char redis_url[128];
    char password[64];   /* Redis's, never to be logged; empty: none */
    const char *env[64]; /* each replica's environment, NULL-terminated */
    char api_base[128];
    const char *binary, *name;
    struct child a, b;
};
/* Starts redis-server (requiring password unless NULL) and two replicas of binary with
 * TWILIO_API_BASE api_base, REDIS_URL and the settings of env (name, value pairs,
 * NULL-terminated; NULL for none), their logs named after name. Returns 0, or -1 when Redis
 * did not start; the test fails when a replica does not. */
int replicas_start(struct replicas *s, const char *binary, const char *name, const char *password,
                   const char *api_base, const char *const *env);
/* Stops each replica still running (pid above 0): it must exit 0 and its log must not hold
 * Redis's password. Removes their logs and stops Redis. */
void replicas_stop(struct replicas *s);
/* Starts c (s->a or s->b, stopped or killed and waited for) again as replicas_start started
 * it, its last log removed. */
void replicas_restart(struct replicas *s, struct child *c);

#endif
