/* twilio-block: wires the settings, the block definitions, the service (service.h), the HTTP
 * server (server.h) and the campaign senders together, and runs until a signal. */
#include <civetweb.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apidoc.h"
#include "block.h"
#include "campaign.h"
#include "config.h"
#include "embedded.h"
#include "fdlimit.h"
#include "log.h"
#include "memtune.h"
#include "reference.h"
#include "server.h"
#include "service.h"
#include "twilio.h"

/* --openapi, --postman and --reference: prints a document generated from the embedded blocks. */
static int print_doc(const char *flag)
{
    char err[512];
    size_t len = 0;
    char *text = NULL;
    struct block_set *blocks =
        block_set_load(&embedded_metadata, &embedded_common_args, embedded_blocks,
                       embedded_blocks_count, err, sizeof err);
    if (blocks && strcmp(flag, "--reference") == 0)
        text = reference_markdown(blocks, &len, err, sizeof err);
    else if (blocks)
        text = strcmp(flag, "--openapi") == 0 ? apidoc_openapi(blocks, &len, err, sizeof err)
                                              : apidoc_postman(blocks, &len, err, sizeof err);
    int ok = text && fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
    if (!text)
        fprintf(stderr, "twilio-block: %s\n", err);
    else if (!ok)
        fprintf(stderr, "twilio-block: cannot write the document to stdout\n");
    free(text);
    block_set_free(blocks);
    return ok ? 0 : 1;
}

/* Refused now rather than failing connections under load. Returns 0, or -1 with the advice
 * printed. */
static int raise_descriptor_limit(const struct config *cfg)
{
    char err[512];
    long need = service_descriptors_needed(cfg), was = 0, now = 0;
    if (fdlimit_raise(need, &was, &now, err, sizeof err) < 0) {
        fprintf(stderr,
                "twilio-block: %s: a client and an upstream connection for each of THREADS=%ld "
                "workers, and more. Raise the hard limit (docker run --ulimit nofile=%ld, systemd "
                "LimitNOFILE=%ld, ulimit -Hn) or lower THREADS.\n",
                err, cfg->threads, need, need);
        return -1;
    }
    if (now != was)
        log_msg(LOG_DEBUG, "open-file limit raised from %ld to %ld", was, now);
    return 0;
}

/* The start-up line: where the server listens, what it serves, and where calls go. */
static void log_listening(const struct config *cfg, const struct block_set *blocks,
                          const struct server *srv)
{
    /* The base a call without edge or region args goes to, TWILIO_EDGE/REGION applied. */
    struct buf base;
    char upstream[sizeof cfg->api_base];
    buf_init(&base, sizeof upstream);
    int built = twilio_base_url(&base, cfg->api_base, cfg->api_base_set, cfg->edge, cfg->region);
    config_public_url(built == 0 ? buf_str(&base) : cfg->api_base, upstream, sizeof upstream);
    buf_free(&base);
    int v6 = strchr(cfg->bind, ':') != NULL;
    log_msg(LOG_INFO,
            "twilio-block %s listening on http://%s%s%s:%d with %zu blocks, %ld threads, "
            "%zu upstream loops, upstream %s",
            TWILIO_BLOCK_VERSION, v6 ? "[" : "", cfg->bind, v6 ? "]" : "", server_port(srv),
            block_count(blocks), cfg->threads, service_upstream_loops(cfg), upstream);
}

/* Assembles the service, starts the campaign senders, listens and runs until a signal in
 * stop; then drains the server, stops the senders and closes the server. Campaigns start
 * before the server takes a request, since a request may be a campaign block. Returns the exit
 * status. */
static int serve(const struct config *cfg, const struct block_set *blocks, const sigset_t *stop)
{
    char err[512];
    struct service *svc = service_start(cfg, blocks, err, sizeof err);
    int campaigns = svc && campaign_start(cfg, err, sizeof err) == 0;
    struct server *srv = campaigns ? server_start(svc, err, sizeof err) : NULL;
    int status = 1;
    if (srv) {
        log_listening(cfg, blocks, srv);
        int sig = 0;
        sigwait(stop, &sig);
        log_msg(LOG_INFO, "signal %d: stopping, in-flight requests have %ld ms (SHUTDOWN_GRACE_MS)",
                sig, cfg->shutdown_grace_ms);
        if (server_drain(srv, cfg->shutdown_grace_ms) < 0) {
            log_msg(LOG_WARN, "requests still in flight after %ld ms; exiting anyway",
                    cfg->shutdown_grace_ms);
            log_flush(); /* the request lines of calls that did finish, still in their batches */
            _Exit(0);
        }
        campaign_stop(); /* each sender settles the recipient it is sending to */
        server_stop(srv);
        status = 0;
    } else {
        log_msg(LOG_ERROR, "%s", err);
        if (campaigns)
            campaign_stop();
    }
    service_stop(svc); /* after every user: the transfers in flight finish */
    if (status == 0)
        log_msg(LOG_INFO, "stopped");
    return status;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--openapi") == 0 || strcmp(argv[1], "--postman") == 0 ||
                      strcmp(argv[1], "--reference") == 0))
        return print_doc(argv[1]);

    char tune_err[256];
    memtune_reexec(argv, tune_err, sizeof tune_err);
    struct config cfg;
    char err[512];
    int rc = config_load(&cfg, argc, argv, err, sizeof err);
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "twilio-block: %s\n", err);
        return rc < 0 ? 2 : 0;
    }
    log_set_level(cfg.log_level);
    log_set_format(cfg.log_format);
    if (tune_err[0])
        log_msg(LOG_WARN, "malloc tuning: %s", tune_err);
    if (raise_descriptor_limit(&cfg) < 0)
        return 2;

    /* Signals are taken by sigwait in serve; every thread started after this inherits the
     * mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct block_set *blocks =
        block_set_load(&embedded_metadata, &embedded_common_args, embedded_blocks,
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
    int status = serve(&cfg, blocks, &stop);
    mg_exit_library();
    curl_global_cleanup();
    block_set_free(blocks);
    return status;
}
