#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "buf.h"
#include "bulk.h"
#include "campaign.h"
#include "dryrun.h"
#include "envelope.h"
#include "eventstreams.h"
#include "flow.h"
#include "handler.h"
#include "polling.h"
#include "subscribe.h"

static void answer_error(struct send_answer *out, const char *what, const char *code,
                         const char *msg)
{
    out->what = what;
    out->body = envelope_error(code, msg, NULL, &out->len);
}

/* Nothing is sent and no Idempotency-Key is spent: the answer is the request itself. */
static void dry_run(const struct send_service *pl, const struct block_def *b,
                    const struct prepared *prep, struct send_answer *out)
{
    struct buf base, url;
    buf_init(&base, 1024);
    buf_init(&url, 1u << 20);
    out->what = "dry_run";
    if (send_url(pl->cfg, prep, 0, &base, &url) == 0)
        out->body = dryrun_answer(b, prep, buf_str(&url), &out->len);
    buf_free(&base);
    buf_free(&url);
}

/* The flows, by the kind their blocks name; each line is one module's entry point. */
static const struct {
    const char *kind;
    flow_fn run;
} flows[] = {
    {"subscribeWebhook", subscribe_add},
    {"unsubscribeWebhook", subscribe_remove},
    {"subscribeEvents", eventstreams_subscribe},
    {"unsubscribeEvents", eventstreams_unsubscribe},
    {"listEventTypes", eventstreams_types},
    {"poll", polling_run},
    {"campaign", campaign_run},
    {NULL, NULL},
};

static flow_fn flow_find(const char *kind)
{
    for (size_t i = 0; flows[i].kind; i++) {
        if (strcmp(flows[i].kind, kind) == 0)
            return flows[i].run;
    }
    return NULL;
}

int pipeline_check(const struct block_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        if (b->flow_kind && !flow_find(b->flow_kind)) {
            snprintf(err, errlen, "%s: no flow named %s", b->name, b->flow_kind);
            return -1;
        }
        if (b->handler && !handler_find(b->handler)) {
            snprintf(err, errlen, "%s: no handler named %s", b->name, b->handler);
            return -1;
        }
    }
    for (size_t i = 0; i < block_event_count(set); i++) {
        if (!handler_find(block_event_at(set, i)->handler)) {
            snprintf(err, errlen, "metadata.json: no handler for event %s",
                     block_event_at(set, i)->name);
            return -1;
        }
    }
    return 0;
}

void pipeline_run(const struct send_service *p, const struct block_def *b, json_t *args,
                  CURL **curl, const char *idempotency_key, struct send_answer *out)
{
    struct prepared prep;
    json_t *reasons = NULL;
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->what = "internal_error";
    handler_fn handler = b->handler ? handler_find(b->handler) : NULL;
    if (b->handler && !handler) { /* pipeline_check refused such a set at start */
        answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "no such handler");
        return;
    }
    if (b->event) { /* the relay's args hold each listener's; the handler checks them */
        out->body = handler(p, b, args, &out->what, &out->len);
        return;
    }
    const long key_arg = block_role_index(b, ROLE_IDEMPOTENCY_KEY);
    const char *key = idempotency_key && *idempotency_key ? idempotency_key
                      : key_arg >= 0
                          ? json_string_value(json_object_get(args, b->args[key_arg].name))
                          : NULL;
    if (b->each) { /* the list is checked whole and sent in bulk.c */
        bulk_run(p, b, args, curl, key && *key ? key : NULL, out);
        return;
    }
    size_t form_cap = (size_t)p->cfg->max_body_bytes * 3 + 65536;
    enum args_status rc = args_prepare(b, args, form_cap, &prep, &reasons);
    if (rc == ARGS_OK) {
        flow_fn flow = b->flow_kind ? flow_find(b->flow_kind) : NULL;
        if (handler)
            out->body = handler(p, b, args, &out->what, &out->len);
        else if (flow)
            flow(p, b, args, &prep, curl, key && *key ? key : NULL, out);
        else if (b->flow_kind)
            answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR", "no such flow");
        else if (prep.dry_run)
            dry_run(p, b, &prep, out);
        else
            send_call(p, b, &prep, curl, key && *key ? key : NULL, out);
        args_prepared_free(&prep);
    } else if (rc == ARGS_INVALID || rc == ARGS_BAD_JSON) {
        out->what = "invalid_args";
        out->body = envelope_fields(reasons, rc == ARGS_BAD_JSON, &out->len);
    } else {
        answer_error(out, "internal_error", "INTERNAL_PACKAGE_ERROR",
                     "out of memory, or the Twilio request would be too large");
    }
    json_decref(reasons);
}
