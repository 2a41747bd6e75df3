/* flowreq: one Twilio request of a flow call (struct call, call.h), sent through send.h, its
 * JSON answer parsed with jsonparse, every page of a v1 list followed, and any failure turned
 * into the call's error envelope. What the requests cost adds up in the call's figures, and
 * c->writes counts the requests that changed something at Twilio, so a failure can say whether
 * anything was written before it. */
#ifndef FLOWREQ_H
#define FLOWREQ_H

#include <curl/curl.h>
#include <jansson.h>

#include "args.h"
#include "call.h"

/* Sends method path on product with params (NULL-terminated name, value pairs, or NULL): a
 * form for a POST, the query otherwise. Returns 0 with *answer a new reference to Twilio's
 * JSON answer (an empty object for a 204 or an empty body; a DELETE of something already gone
 * counts as done), or -1 with the error envelope in the call's answer (action names the request, as
 * "fetch record", "update record"). */
int flowreq_send(struct call *c, const char *product, const char *method, const char *path,
                 const char *const *params, const char *action, json_t **answer);

/* GETs path on product (a v1 list: {"<key>": [...], "meta": {"next_page_url"}}) and every page
 * after it, following meta.next_page_url by its path and query only, on the call's own base.
 * Returns 0 with *items a new array of every page's items, or -1 with the error envelope in
 * the call's answer. */
int flowreq_list(struct call *c, const char *product, const char *path, const char *const *params,
                 const char *key, json_t **items);

/* A request of the call, as a dry run answers it: the envelope in the call's answer ("what" dry_run). */
void flowreq_dry_run(struct call *c, const char *product, const char *method, const char *path,
                     const char *const *params);

/* The arg called name as its checks read it (args_value), trimmed and copied into out, or NULL
 * when it is absent, empty (which counts as absent) or longer than size - 1 (the block's
 * checks cap it first). */
const char *flowreq_arg(const struct prepared *p, const char *name, char *out, size_t size);

/* Whether the Boolean arg called name was given as true (in any spelling its check takes). */
int flowreq_arg_true(const struct prepared *p, const char *name);

#endif
