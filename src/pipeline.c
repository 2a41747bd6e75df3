#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "args.h"
#include "bulk.h"
#include "campaign.h"
#include "eventstreams.h"
#include "polling.h"
#include "single.h"
#include "status.h"
#include "subscribe.h"
#include "webhook.h"

/* A form can be this much larger than the body it came in (percent-encoding triples a byte). */
#define PIPELINE_FORM_CAP(cfg) ((size_t)(cfg)->max_body_bytes * 3 + 65536)

/* Every kind of block, by the name its definition gives it: a handler's or an event's name
 * ("handler"), a flow's kind ("flow": {"kind"}), "bulk" for an "each" block, and the single
 * request's two ways, sent or shown. One line per kind; each is a call_fn (call.h). A flow
 * whose "flow" object holds more than its kind names the check of its keys, run at start. */
static const struct {
    const char *name;
    call_fn run;
    int (*check)(const struct block_def *b, char *err, size_t errlen);
} kinds[] = {
    {"send", single_send, NULL},
    {"dryRun", single_dry_run, NULL},
    {"bulk", bulk_run, NULL},
    {"validateWebhookSignature", webhook_validate_block, NULL},
    {"webhookEvent", webhook_event, NULL},
    {"subscribeWebhook", subscribe_add, NULL},
    {"unsubscribeWebhook", subscribe_remove, NULL},
    {"subscribeEvents", eventstreams_subscribe, NULL},
    {"unsubscribeEvents", eventstreams_unsubscribe, NULL},
    {"listEventTypes", eventstreams_types, NULL},
    {"poll", polling_run, polling_check},
    {"campaign", campaign_run, NULL},
};

static size_t kind_index(const char *name)
{
    size_t i = 0;
    while (name && i < sizeof kinds / sizeof kinds[0] && strcmp(kinds[i].name, name) != 0)
        i++;
    return name ? i : sizeof kinds / sizeof kinds[0];
}

static call_fn kind_find(const char *name)
{
    size_t i = kind_index(name);
    return i < sizeof kinds / sizeof kinds[0] ? kinds[i].run : NULL;
}

/* A flow's keys: its own check, or else the kind alone. */
static int flow_check(const struct block_def *b, char *err, size_t errlen)
{
    size_t i = kind_index(b->flow_kind);
    if (kinds[i].check)
        return kinds[i].check(b, err, errlen);
    const char *key;
    json_t *v;
    json_object_foreach(b->flow, key, v) {
        if (strcmp(key, "kind") != 0) {
            snprintf(err, errlen, "%s: the %s flow takes no key %s", b->name, b->flow_kind, key);
            return -1;
        }
    }
    return 0;
}

/* The kind of block b is, as the table names it; dry_run: its args asked for one. */
static const char *kind_of(const struct block_def *b, int dry_run)
{
    if (b->handler)
        return b->handler;
    if (b->each)
        return "bulk";
    if (b->flow_kind)
        return b->flow_kind;
    return dry_run ? "dryRun" : "send";
}

int pipeline_check(const struct block_set *set, char *err, size_t errlen)
{
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        if (!kind_find(kind_of(b, 0))) {
            snprintf(err, errlen, "%s: no %s named %s", b->name, b->handler ? "handler" : "flow",
                     kind_of(b, 0));
            return -1;
        }
        if (b->flow_kind && flow_check(b, err, errlen) < 0)
            return -1;
    }
    for (size_t i = 0; i < block_event_count(set); i++) {
        if (!kind_find(block_event_at(set, i)->handler)) {
            snprintf(err, errlen, "metadata.json: no handler for event %s",
                     block_event_at(set, i)->name);
            return -1;
        }
    }
    return 0;
}

/* The call's Idempotency-Key: the header, else the arg with the idempotencyKey role; NULL when
 * neither is given. */
static const char *call_key(const struct block_def *b, json_t *args, const char *header)
{
    const long key_arg = block_role_index(b, ROLE_IDEMPOTENCY_KEY);
    const char *key = header && *header ? header
                      : key_arg >= 0
                          ? json_string_value(json_object_get(args, b->args[key_arg].name))
                          : NULL;
    return key && *key ? key : NULL;
}

void pipeline_run(const struct send_service *svc, const struct block_def *b, json_t *args,
                  CURL **slot, const char *idempotency_key, struct call_answer *out)
{
    memset(out, 0, sizeof *out);
    out->status = 200;
    out->what = "internal_error";
    struct call c = {.svc = svc,
                     .b = b,
                     .args = args,
                     .slot = slot,
                     .key = call_key(b, args, idempotency_key),
                     .out = out};
    /* An event's args hold each listener's and a bulk block's list is checked whole: both check
     * their own. */
    if (b->event || b->each) {
        call_fn run = kind_find(kind_of(b, 0));
        if (run)
            run(&c);
        else /* pipeline_check refused such a set at start */
            call_error(&c, "internal_error", STATUS_INTERNAL, "no such block kind", NULL);
        return;
    }
    struct prepared prep;
    json_t *reasons = NULL;
    enum args_status rc = args_prepare(b, args, PIPELINE_FORM_CAP(svc->cfg), &prep, &reasons);
    if (rc == ARGS_OK) {
        call_fn run = kind_find(kind_of(b, prep.dry_run));
        c.prep = &prep;
        if (run)
            run(&c);
        else
            call_error(&c, "internal_error", STATUS_INTERNAL, "no such block kind", NULL);
        args_prepared_free(&prep);
    } else if (rc == ARGS_INVALID || rc == ARGS_BAD_JSON) {
        call_fields(&c, reasons, rc == ARGS_BAD_JSON);
    } else {
        call_error(&c, "internal_error", STATUS_INTERNAL,
                   "out of memory, or the Twilio request would be too large", NULL);
    }
    json_decref(reasons);
}
