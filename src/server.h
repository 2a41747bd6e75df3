/* server: HTTP in. Routes GET /api/twilio (metadata), GET /api/twilio/openapi.json,
 * POST /api/twilio/<block>, GET /healthz and GET /metrics on civetweb, reads each request under
 * its caps and deadlines, and writes the answer. Each worker thread owns one curl handle for
 * Twilio; at the defaults the transfers run on upstream.c's handles and loops, which keep the
 * connections. */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "block.h"
#include "config.h"

struct server;

/* Starts listening with cfg (copied) and blocks (borrowed: it must outlive the server).
 * Returns the server, or NULL with the reason in err. */
struct server *server_start(const struct config *cfg, const struct block_set *blocks, char *err,
                            size_t errlen);

/* How many upstream event loops cfg asks for: UPSTREAM_LOOPS, or when it is -1, one per core
 * (up to 8) with more than 256 THREADS and none otherwise. */
size_t server_upstream_loops(const struct config *cfg);

/* The descriptors a server with cfg may need at once: a client and an upstream connection per
 * worker, the borrowed upstream handles' connections, and a margin for the rest. */
long server_descriptors_needed(const struct config *cfg);

/* The port actually bound (useful with PORT=0). */
int server_port(const struct server *s);

/* Turns new requests away (503 SHUTTING_DOWN with Connection: close, /healthz 503 too) and
 * waits up to grace_ms for those in flight to finish, then, within the same grace and at most
 * KEEP_ALIVE_TIMEOUT_MS, for kept-alive connections to close. Returns 0 when the requests
 * finished, -1 when some are still running. */
int server_drain(struct server *s, long grace_ms);

/* Stops the server (civetweb cuts off any reply still being written) and frees everything. */
void server_stop(struct server *s);

#endif
