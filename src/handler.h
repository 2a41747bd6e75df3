/* handler: what the service answers itself, without calling Twilio: handler blocks (declared
 * with "handler" in blocks/<name>.json) and the marketplace events of metadata.json. */
#ifndef HANDLER_H
#define HANDLER_H

#include <stddef.h>
#include <jansson.h>

struct block_def;
struct send_service;

/* Answers one call whose args already passed b's checks, with what the service shares (svc:
 * its idempotency store, for webhookEvent's deliveries). Returns the envelope as malloc'd
 * JSON text (length in *len) and names the outcome for the log in *what; NULL when memory
 * ran out. */
typedef char *(*handler_fn)(const struct send_service *svc, const struct block_def *b, json_t *args,
                            const char **what, size_t *len);

/* The handler called name, or NULL. */
handler_fn handler_find(const char *name);

#endif
