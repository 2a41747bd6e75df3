#include "eventstreams.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flowreq.h"
#include "jsonparse.h"
#include "status.h"

/* More types than Twilio has make no sense in one call. */
#define EVENTSTREAMS_MAX_TYPES 100

/* A sink's destination, whether Twilio answered its configuration as an object or as text. */
static int sink_is(json_t *sink, const char *url)
{
    json_t *cfg = json_object_get(sink, "sink_configuration"), *parsed = NULL;
    const char *type = json_string_value(json_object_get(sink, "sink_type"));
    if (type && strcmp(type, "webhook") != 0)
        return 0;
    if (json_is_string(cfg))
        cfg = parsed = jsonparse_loadb(json_string_value(cfg), json_string_length(cfg), 0, NULL);
    const char *dest = json_string_value(json_object_get(cfg, "destination"));
    int yes = dest && strcmp(dest, url) == 0;
    json_decref(parsed);
    return yes;
}

/* Every sink whose destination is url. Returns 0, or -1 with the answer in the call's answer. */
static int find_sinks(struct call *c, const char *url, json_t **found)
{
    json_t *sinks = NULL;
    *found = NULL;
    if (flowreq_list(c, "events", "/v1/Sinks", NULL, "sinks", &sinks) < 0)
        return -1;
    json_t *mine = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(sinks, i, s) {
        if (sink_is(s, url) && json_is_string(json_object_get(s, "sid")))
            json_array_append(mine, s);
    }
    json_decref(sinks);
    if (!mine) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    *found = mine;
    return 0;
}

static int subscriptions_of(struct call *c, const char *sink, json_t **subs)
{
    const char *query[] = {"SinkSid", sink, NULL};
    return flowreq_list(c, "events", "/v1/Subscriptions", query, "subscriptions", subs);
}

/* Adds name to the distinct names (list, in order) unless set (the same names as keys) holds
 * it already: linear in the names, whatever their repeats. Returns 0 or -1. */
static int add_distinct(json_t *list, json_t *set, const char *name)
{
    if (json_object_get(set, name))
        return 0;
    return json_object_set_new(set, name, json_true()) < 0 ||
                   json_array_append_new(list, json_string(name)) < 0
               ? -1
               : 0;
}

static const char *const too_many_types =
    "must list at most 100 event types (more than Twilio has)";

/* One name of the types arg, checked and added. Returns 0, or -1 with the reason in why. */
static int take_type(json_t *out, json_t *set, const char *s, size_t n, const char **why)
{
    struct text t = value_trim((struct text){s, n});
    char name[128];
    if (!s || t.n == 0)
        return 0;
    if (t.n >= sizeof name || strspn(t.p, "abcdefghijklmnopqrstuvwxyz0123456789.-_") < t.n) {
        *why = "each type must be an event type name: lower-case letters, digits, dots and "
               "dashes (com.twilio.messaging.inbound-message.received)";
        return -1;
    }
    memcpy(name, t.p, t.n);
    name[t.n] = '\0';
    if (add_distinct(out, set, name) < 0 || json_array_size(out) > EVENTSTREAMS_MAX_TYPES) {
        *why = too_many_types;
        return -1;
    }
    return 0;
}

/* The types arg (a list, or comma-separated text) as an array of distinct names, or NULL with
 * the reason in why. The cap is counted while the names are read, each name once: a call
 * with thousands of names is refused after the first 101 entries. */
static json_t *types_arg(json_t *args, const char **why)
{
    json_t *v = json_object_get(args, "types"), *out = json_array(), *set = json_object();
    json_t *parsed = NULL;
    size_t entries = 0;
    const char *text = json_string_value(v);
    if (text && text[strspn(text, " \t\r\n")] == '[') /* a JSON array given as text */
        v = parsed = jsonparse_loadb(text, strlen(text), 0, NULL);
    *why = "must list one or more event type names, e.g. "
           "com.twilio.messaging.inbound-message.received";
    if (!out || !set)
        goto bad;
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        while (*s) {
            size_t n = strcspn(s, ",");
            if (++entries > 2 * EVENTSTREAMS_MAX_TYPES) { /* repeats, past any sense */
                *why = too_many_types;
                goto bad;
            }
            if (take_type(out, set, s, n, why) < 0)
                goto bad;
            s += n + (s[n] == ',');
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) {
            if (i >= 2 * EVENTSTREAMS_MAX_TYPES) {
                *why = too_many_types;
                goto bad;
            }
            const char *s = json_string_value(item);
            if (take_type(out, set, s, s ? json_string_length(item) : 0, why) < 0)
                goto bad;
        }
    }
    if (json_array_size(out) == 0)
        goto bad;
    json_decref(parsed);
    json_decref(set);
    return out;
bad:
    json_decref(parsed);
    json_decref(set);
    json_decref(out);
    return NULL;
}

/* Answers REQUIRED_FIELDS for one arg. */
static void field(struct call *c, const char *name, const char *why)
{
    json_t *reasons = json_pack("{s:s}", name, why);
    call_fields(c, reasons, 0);
    json_decref(reasons);
}

/* Creates the webhook sink for url. Returns its SID (borrowed from *created, the caller's), or
 * NULL with the answer in the call's. */
static const char *create_sink(struct call *c, const char *url, const char *description,
                               json_t **created)
{
    json_t *cfg =
        json_pack("{s:s, s:s, s:b}", "destination", url, "method", "POST", "batch_events", 0);
    char *text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    const char *params[] = {
        "Description", description, "SinkConfiguration", text ? text : "", "SinkType",
        "webhook",     NULL};
    const char *sink = NULL;
    json_decref(cfg);
    int rc = text ? flowreq_send(c, "events", "POST", "/v1/Sinks", params, "create record", created)
                  : -1;
    free(text);
    if (!text)
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
    if (rc == 0 && !(sink = json_string_value(json_object_get(*created, "sid"))))
        call_error(c, "upstream_bad_body", STATUS_INTERNAL,
                   "Twilio created the sink but answered no sid", NULL);
    return sink;
}

/* Adds the types of every subscription in subs to have (and have_set): each is delivered
 * already. Returns 0, or -1 with the answer in the call's. */
static int subscribed_types(struct call *c, json_t *subs, json_t *have, json_t *have_set)
{
    char path[128];
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) {
        json_t *events = NULL;
        const char *sid = json_string_value(json_object_get(s, "sid"));
        if (!sid)
            continue;
        snprintf(path, sizeof path, "/v1/Subscriptions/%s/SubscribedEvents", sid);
        if (flowreq_list(c, "events", path, NULL, "types", &events) < 0)
            return -1;
        size_t k;
        json_t *e;
        json_array_foreach(events, k, e) {
            const char *t = json_string_value(json_object_get(e, "type"));
            if (t && add_distinct(have, have_set, t) < 0) {
                json_decref(events);
                call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
                return -1;
            }
        }
        json_decref(events);
    }
    return 0;
}

/* Creates sink's subscription to the added types. Returns its SID (borrowed from *answer, the
 * caller's), or NULL with the answer in the call's. */
static const char *create_subscription(struct call *c, const char *description, const char *sink,
                                       json_t *added, json_t **answer)
{
    json_t *form = json_array(), *s;
    size_t n = json_array_size(added), i;
    const char **params = calloc(2 * n + 5, sizeof *params);
    const char *sub = NULL;
    if (!params || !form) {
        free(params);
        json_decref(form);
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return NULL;
    }
    params[0] = "Description";
    params[1] = description;
    params[2] = "SinkSid";
    params[3] = sink;
    json_array_foreach(added, i, s) {
        json_t *one = json_pack("{s:O}", "type", s);
        char *text = one ? json_dumps(one, JSON_COMPACT) : NULL;
        json_decref(one);
        json_array_append_new(form, json_string(text ? text : ""));
        free(text);
        params[4 + 2 * i] = "Types";
        params[5 + 2 * i] = json_string_value(json_array_get(form, i));
    }
    int rc =
        flowreq_send(c, "events", "POST", "/v1/Subscriptions", params, "create record", answer);
    free(params);
    json_decref(form);
    if (rc == 0 && !(sub = json_string_value(json_object_get(*answer, "sid"))))
        call_error(c, "upstream_bad_body", STATUS_INTERNAL,
                   "Twilio created the subscription but answered no sid", NULL);
    return sub;
}

/* Adds the added types to subscription sub, one request each. Returns 0, or -1 with the answer
 * in the call's. */
static int add_types(struct call *c, const char *sub, json_t *added)
{
    char path[128];
    size_t i;
    json_t *s;
    snprintf(path, sizeof path, "/v1/Subscriptions/%s/SubscribedEvents", sub);
    json_array_foreach(added, i, s) {
        const char *params[] = {"Type", json_string_value(s), NULL};
        json_t *one = NULL;
        if (flowreq_send(c, "events", "POST", path, params, "create record", &one) < 0)
            return -1;
        json_decref(one);
    }
    return 0;
}

void eventstreams_subscribe(struct call *c)
{
    const struct prepared *prep = c->prep;
    char url[2048], description[512];
    const char *why;
    json_t *types = types_arg(c->args, &why), *sinks = NULL, *subs = NULL, *have = NULL;
    json_t *have_set = json_object();
    json_t *added = json_array(), *created = NULL, *answer = NULL, *to = NULL;
    if (!flowreq_arg(prep, "webhookUrl", url, sizeof url)) {
        field(c, "webhookUrl", "is required");
        goto done;
    }
    if (!types) {
        field(c, "types", why);
        goto done;
    }
    if (!flowreq_arg(prep, "description", description, sizeof description))
        snprintf(description, sizeof description, "Workflow trigger");
    if (prep->dry_run) { /* the first request: the first page of sinks */
        flowreq_dry_run(c, "events", "GET", "/v1/Sinks", NULL);
        goto done;
    }
    if (!added || find_sinks(c, url, &sinks) < 0)
        goto done;
    const char *sink = json_string_value(json_object_get(json_array_get(sinks, 0), "sid"));
    const int sink_created = !sink;
    if (!sink && !(sink = create_sink(c, url, description, &created)))
        goto done;
    /* a sink just created has no subscription yet */
    if (sink_created)
        subs = json_array();
    else if (subscriptions_of(c, sink, &subs) < 0)
        goto done;
    have = json_array();
    if (!subs || !have || !have_set) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        goto done;
    }
    const char *sub = json_string_value(json_object_get(json_array_get(subs, 0), "sid"));
    const int sub_created = !sub;
    if (subscribed_types(c, subs, have, have_set) < 0)
        goto done;
    size_t i;
    json_t *s;
    json_array_foreach(types, i, s) {
        if (!json_object_get(have_set, json_string_value(s)))
            json_array_append(added, s);
    }
    if (sub ? add_types(c, sub, added) < 0
            : !(sub = create_subscription(c, description, sink, added, &answer)))
        goto done;
    json_array_extend(have, added);
    to = json_pack("{s:s, s:s, s:O, s:O, s:{s:b, s:b}}", "sinkSid", sink, "subscriptionSid", sub,
                   "types", have, "added", added, "created", "sink", sink_created, "subscription",
                   sub_created);
    if (!to)
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
    else
        call_success(c, to);
done:
    json_decref(to);
    json_decref(answer);
    json_decref(created);
    json_decref(have);
    json_decref(have_set);
    json_decref(subs);
    json_decref(sinks);
    json_decref(added);
    json_decref(types);
}

void eventstreams_unsubscribe(struct call *c)
{
    const struct prepared *prep = c->prep;
    char url[2048], path[128];
    json_t *sinks = NULL, *gone_sinks = json_array(), *gone_subs = json_array(), *to = NULL;
    if (!flowreq_arg(prep, "webhookUrl", url, sizeof url)) {
        field(c, "webhookUrl", "is required");
        goto done;
    }
    if (prep->dry_run) {
        flowreq_dry_run(c, "events", "GET", "/v1/Sinks", NULL);
        goto done;
    }
    if (!gone_sinks || !gone_subs || find_sinks(c, url, &sinks) < 0)
        goto done;
    size_t i;
    json_t *s;
    json_array_foreach(sinks, i, s) {
        const char *sink = json_string_value(json_object_get(s, "sid"));
        json_t *subs = NULL, *answer = NULL;
        if (subscriptions_of(c, sink, &subs) < 0)
            goto done;
        size_t k;
        json_t *sub;
        json_array_foreach(subs, k, sub) {
            const char *sid = json_string_value(json_object_get(sub, "sid"));
            if (!sid)
                continue;
            snprintf(path, sizeof path, "/v1/Subscriptions/%s", sid);
            if (flowreq_send(c, "events", "DELETE", path, NULL, "delete record", &answer) < 0) {
                json_decref(subs);
                goto done;
            }
            json_decref(answer);
            json_array_append_new(gone_subs, json_string(sid));
        }
        json_decref(subs);
        snprintf(path, sizeof path, "/v1/Sinks/%s", sink);
        if (flowreq_send(c, "events", "DELETE", path, NULL, "delete record", &answer) < 0)
            goto done;
        json_decref(answer);
        json_array_append_new(gone_sinks, json_string(sink));
    }
    to = json_pack("{s:s, s:{s:O, s:O}}", "webhookUrl", url, "deleted", "sinks", gone_sinks,
                   "subscriptions", gone_subs);
    if (!to)
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
    else
        call_success(c, to);
done:
    json_decref(to);
    json_decref(sinks);
    json_decref(gone_sinks);
    json_decref(gone_subs);
}

void eventstreams_types(struct call *c)
{
    json_t *types = NULL, *to = NULL;
    if (c->prep->dry_run) {
        flowreq_dry_run(c, "events", "GET", "/v1/Types", NULL);
        return;
    }
    if (flowreq_list(c, "events", "/v1/Types", NULL, "types", &types) < 0)
        return;
    to = json_pack("{s:O, s:I}", "types", types, "count", (json_int_t)json_array_size(types));
    if (!to)
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
    else
        call_success(c, to);
    json_decref(to);
    json_decref(types);
}
