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
 * request's two ways, sent or shown. One line per kind; each is a call_fn (call.h). */
static const struct {
    const char *name;
    call_fn run;
} kinds[] = {
    {"send", single_send},
    {"dryRun", single_dry_run},
    {"bulk", bulk_run},
    {"validateWebhookSignature", webhook_validate_block},
    {"webhookEvent", webhook_event},
    {"subscribeWebhook", subscribe_add},
    {"unsubscribeWebhook", subscribe_remove},
    {"subscribeEvents", eventstreams_subscribe},
    {"unsubscribeEvents", eventstreams_unsubscribe},
    {"listEventTypes", eventstreams_types},
    {"poll", polling_run},
    {"campaign", campaign_run},
};

static call_fn kind_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return kinds[i].run;
    return NULL;
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
