/* twilio-block: wires configuration, block definitions and the HTTP server together. */
#include <civetweb.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "block.h"
#include "config.h"
#include "embedded.h"
#include "log.h"
#include "server.h"

struct stopper {
    struct server *srv;
    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    int done;
};

static void *stop_server(void *arg)
{
    struct stopper *st = arg;
    server_stop(st->srv);
    pthread_mutex_lock(&st->lock);
    st->done = 1;
    pthread_cond_signal(&st->done_cond);
    pthread_mutex_unlock(&st->lock);
    return NULL;
}

/* Stops accepting and gives in-flight requests grace_ms to finish. Returns 0 when they did. */
static int stop_within(struct server *srv, long grace_ms)
{
    struct stopper st = {.srv = srv, .done = 0};
    pthread_t thread;
    pthread_mutex_init(&st.lock, NULL);
    pthread_cond_init(&st.done_cond, NULL);
    if (pthread_create(&thread, NULL, stop_server, &st) != 0) {
        server_stop(srv);
        return 0;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += grace_ms / 1000;
    until.tv_nsec += (grace_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&st.lock);
    while (!st.done && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&st.done_cond, &st.lock, &until);
    int finished = st.done;
    pthread_mutex_unlock(&st.lock);
    if (!finished)
        return -1; /* the stopper thread still uses st: the process exits without unwinding */
    pthread_join(thread, NULL);
    pthread_cond_destroy(&st.done_cond);
    pthread_mutex_destroy(&st.lock);
    return 0;
}

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    int rc = config_load(&cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "twilio-block: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    log_set_level(cfg.log_level);

    /* Signals are taken by sigwait below; every thread started after this inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct block_set *blocks = block_set_load(&embedded_metadata, embedded_blocks,
                                              embedded_blocks_count, err, sizeof err);
    if (!blocks) {
        log_msg(LOG_ERROR, "block definitions: %s", err);
        return 1;
    }
    json_object_seed(0);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        log_msg(LOG_ERROR, "curl_global_init failed");
        block_set_free(blocks);
        return 1;
    }
    mg_init_library(0);
    struct server *srv = server_start(&cfg, blocks, err, sizeof err);
    int status = 1;
    if (srv) {
        log_msg(LOG_INFO, "twilio-block %s listening on http://%s:%d with %zu blocks, %ld threads, "
                          "upstream %s",
                TWILIO_BLOCK_VERSION, cfg.bind, server_port(srv), block_count(blocks),
                cfg.threads, cfg.api_base);
        int sig = 0;
        sigwait(&stop, &sig);
        log_msg(LOG_INFO, "signal %d: stopping, in-flight requests have %ld ms (SHUTDOWN_GRACE_MS)",
                sig, cfg.shutdown_grace_ms);
        if (stop_within(srv, cfg.shutdown_grace_ms) < 0) {
            log_msg(LOG_WARN, "requests still in flight after %ld ms; exiting anyway",
                    cfg.shutdown_grace_ms);
            _Exit(0);
        }
        log_msg(LOG_INFO, "stopped");
        status = 0;
    } else {
        log_msg(LOG_ERROR, "%s", err);
    }
    mg_exit_library();
    curl_global_cleanup();
    block_set_free(blocks);
    return status;
}
