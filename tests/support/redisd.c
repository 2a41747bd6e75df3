#include "redisd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"

int redisd_free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t n = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &n) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

redisContext *redisd_connect(const struct redisd *r, int db)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (!c || c->err)
        goto fail;
    redisReply *rep;
    if (r->password[0]) {
        rep = redisCommand(c, "AUTH %s", r->password);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            goto fail_reply;
        freeReplyObject(rep);
    }
    rep = redisCommand(c, "SELECT %d", db);
    if (!rep || rep->type == REDIS_REPLY_ERROR)
        goto fail_reply;
    freeReplyObject(rep);
    return c;
fail_reply:
    if (rep)
        freeReplyObject(rep);
fail:
    if (c)
        redisFree(c);
    return NULL;
}

/* Starts redis-server on r->port; returns 0 once it answers PING, -1 if it exited. */
static int launch(struct redisd *r)
{
    char port[16];
    snprintf(port, sizeof port, "%d", r->port);
    const char *argv[24] = {"redis-server", "--port",    port,           "--bind", "127.0.0.1",
                            "--save",       "",          "--appendonly", "no",     "--daemonize",
                            "no",           "--logfile", "/dev/null"};
    size_t n = 13;
    if (r->aof_dir[0]) { /* every write on disk before its answer, as a campaign's Redis runs */
        argv[8] = "yes";
        argv[n++] = "--appendfsync";
        argv[n++] = "always";
        argv[n++] = "--dir";
        argv[n++] = r->aof_dir;
    }
    if (r->password[0]) {
        argv[n++] = "--requirepass";
        argv[n++] = r->password;
    }
    argv[n] = NULL;
    r->pid = fork();
    if (r->pid < 0)
        return -1;
    if (r->pid == 0) {
        /* Gone with the test, even one that fails half-way, and not holding ctest's pipe. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
            _exit(127);
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 400; i++) {
        int status;
        if (waitpid(r->pid, &status, WNOHANG) == r->pid) {
            r->pid = 0;
            return -1;
        }
        redisContext *c = redisd_connect(r, 0);
        if (c) {
            redisFree(c);
            return 0;
        }
        clock_sleep_ms(25);
    }
    redisd_stop(r);
    return -1;
}

int redisd_start(struct redisd *r, const char *password)
{
    memset(r, 0, sizeof *r);
    snprintf(r->password, sizeof r->password, "%s", password ? password : "");
    /* The port is free when picked but may be taken before redis-server binds it: pick again. */
    for (int i = 0; i < 5; i++) {
        r->port = redisd_free_port();
        if (r->port > 0 && launch(r) == 0)
            return 0;
    }
    fprintf(stderr, "redisd: redis-server did not start (apt-get install redis-server)\n");
    return -1;
}

int redisd_start_aof(struct redisd *r, const char *dir)
{
    for (int i = 0; i < 5; i++) {
        memset(r, 0, sizeof *r);
        snprintf(r->aof_dir, sizeof r->aof_dir, "%s", dir);
        r->port = redisd_free_port();
        if (r->port > 0 && launch(r) == 0)
            return 0;
    }
    fprintf(stderr, "redisd: redis-server did not start\n");
    return -1;
}

int redisd_restart(struct redisd *r)
{
    if (launch(r) == 0)
        return 0;
    fprintf(stderr, "redisd: redis-server did not start again on port %d\n", r->port);
    return -1;
}

void redisd_stop(struct redisd *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    r->pid = 0;
}

void redisd_url(const struct redisd *r, int db, char *out, size_t size)
{
    snprintf(out, size, "redis://%s%s%s127.0.0.1:%d/%d", r->password[0] ? ":" : "", r->password,
             r->password[0] ? "@" : "", r->port, db);
}

int replicas_start(struct replicas *s, const char *binary, const char *name, const char *password,
                   const char *api_base, const char *const *env)
{
    size_t n = 0;
    memset(s, 0, sizeof *s);
    s->binary = binary;
    s->name = name;
    snprintf(s->api_base, sizeof s->api_base, "%s", api_base);
    snprintf(s->password, sizeof s->password, "%s", password ? password : "");
    s->env[n++] = "TWILIO_API_BASE";
    s->env[n++] = s->api_base;
    s->env[n++] = "REDIS_URL";
    s->env[n++] = s->redis_url;
    for (; env && env[0]; env += 2) {
        assert_true(n + 3 <= sizeof s->env / sizeof s->env[0]);
        s->env[n++] = env[0];
        s->env[n++] = env[1];
    }
    if (redisd_start(&s->redis, password) < 0)
        return -1;
    redisd_url(&s->redis, 0, s->redis_url, sizeof s->redis_url);
    replicas_restart(s, &s->a);
    replicas_restart(s, &s->b);
    return 0;
}

void replicas_restart(struct replicas *s, struct child *c)
{
    if (c->log[0])
        unlink(c->log); /* the last run's */
    child_start(c, s->binary, s->name, s->env, 10000);
}

void replicas_stop(struct replicas *s)
{
    struct child *both[2] = {&s->a, &s->b};
    for (int i = 0; i < 2; i++) {
        if (both[i]->pid > 0) {
            child_stop(both[i]);
            if (s->password[0])
                assert_false(child_log_has(both[i], s->password));
        }
        unlink(both[i]->log);
    }
    redisd_stop(&s->redis);
}
