/* server: HTTP in. Routes GET /api/twilio (metadata), POST /api/twilio/<block> and
 * GET /healthz on civetweb; each worker thread owns one curl handle for Twilio. */
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

/* The port actually bound (useful with PORT=0). */
int server_port(const struct server *s);

/* Stops accepting, waits for in-flight requests, frees everything. */
void server_stop(struct server *s);

#endif
