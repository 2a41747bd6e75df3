/* server: HTTP in. Routes GET /api/twilio (metadata), GET /api/twilio/openapi.json,
 * POST /api/twilio/<block>, /mcp, GET /healthz and GET /metrics on civetweb for a service
 * it is given (service.h), reads each request under its caps and deadlines, and writes the
 * answer. It owns civetweb, the body deadline's watchdog, the request lines' batches and the
 * request metrics. Each worker thread owns one curl handle for Twilio; at the defaults the
 * transfers run on upstream.c's handles and loops, which keep the connections. */
#ifndef SERVER_H
#define SERVER_H

#include <stddef.h>

#include "service.h"

struct server;

/* Starts listening with svc's settings, serving svc (borrowed: it must outlive the server).
 * Returns the server, or NULL with the reason in err. */
struct server *server_start(struct service *svc, char *err, size_t errlen);

/* The port actually bound (useful with PORT=0). */
int server_port(const struct server *s);

/* Turns new requests away (503 SHUTTING_DOWN with Connection: close, /healthz 503 too) and
 * the service's flows from starting sends, and waits up to grace_ms for the requests in flight
 * to finish, then, within the same grace and at most KEEP_ALIVE_TIMEOUT_MS, for kept-alive
 * connections to close. Returns 0 when the requests finished, -1 when some are still running. */
int server_drain(struct server *s, long grace_ms);

/* Stops the server (civetweb cuts off any reply still being written) and frees what it made;
 * the service is left to its owner. */
void server_stop(struct server *s);

#endif
