/* service: what the front doors serve, assembled once at start from the settings and the block
 * definitions: the definitions checked against the kinds of block, what every block call
 * shares (send.h: the idempotency stores, Redis with REDIS_URL, the upstream loops), the
 * OpenAPI document and the MCP tools composed once, and the flag that says shutdown began.
 * main.c and the tests' harness start it before the server (server.h) and stop it after. */
#ifndef SERVICE_H
#define SERVICE_H

#include <stddef.h>
#include <stdatomic.h>

#include "block.h"
#include "config.h"
#include "mcptools.h"
#include "send.h"

struct service {
    /* Set once shutdown began (server_drain): the server turns new requests away and the
     * flows start no more sends. */
    atomic_int draining;
    struct config cfg;              /* a copy: the calls borrow it */
    const struct block_set *blocks; /* borrowed: it must outlive the service */
    struct send_service calls;      /* what every block call shares */
    struct mcptools *mcp_tools;     /* the blocks as MCP tools, for /mcp */
    char *openapi;                  /* GET /api/twilio/openapi.json */
    size_t openapi_len;
};

/* Assembles the service with cfg (copied) and blocks (borrowed). Returns it, or NULL with the
 * reason in err. */
struct service *service_start(const struct config *cfg, const struct block_set *blocks, char *err,
                              size_t errlen);

/* Finishes the transfers in flight and frees everything service_start made; NULL is ignored.
 * The server (and any other user) must be stopped first. */
void service_stop(struct service *svc);

/* How many upstream event loops cfg asks for: UPSTREAM_LOOPS, or when it is -1, one per core
 * (up to 8) with more than 256 THREADS and none otherwise. */
size_t service_upstream_loops(const struct config *cfg);

/* The descriptors a service and its server with cfg may need at once: a client and an upstream
 * connection per worker, the borrowed upstream handles' connections, and a margin for the
 * rest. */
long service_descriptors_needed(const struct config *cfg);

#endif
