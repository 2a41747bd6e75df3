#include "subscribe.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "flowreq.h"
#include "jsonparse.h"
#include "status.h"
#include "subscribe_lock.h"

enum owner { OWN_NONE, OWN_SMS, OWN_VOICE };

/* Where each event's webhook lives: the resource's keys as Twilio answers them and the
 * parameters that set them. A Messaging Service's status callback has no method of its own. */
static const struct field {
    const char *event;
    int service;
    const char *url_key, *method_key, *url_param, *method_param;
    enum owner owner;
} fields[] = {
    {"incomingMessage", 0, "sms_url", "sms_method", "SmsUrl", "SmsMethod", OWN_SMS},
    {"incomingCall", 0, "voice_url", "voice_method", "VoiceUrl", "VoiceMethod", OWN_VOICE},
    {"callStatus", 0, "status_callback", "status_callback_method", "StatusCallback",
     "StatusCallbackMethod", OWN_VOICE},
    {"incomingMessage", 1, "inbound_request_url", "inbound_method", "InboundRequestUrl",
     "InboundMethod", OWN_NONE},
    {"messageStatus", 1, "status_callback", NULL, "StatusCallback", NULL, OWN_NONE},
};

/* What a new number points at: replacing it loses nothing. */
static const char *const demo_urls[] = {"https://demo.twilio.com/welcome/sms/reply",
                                        "https://demo.twilio.com/welcome/voice"};

/* The number or service a call names, once read. */
struct target {
    int service;
    const struct field *field;
    char sid[35];
    char phone[24];      /* E.164, for a number */
    char path[256];      /* the resource's own path */
    const char *product; /* api or messaging */
    json_t *resource;    /* as Twilio answered it */
    char url[2048];      /* webhookUrl */
    const char *method;  /* the method asked for */
};

static int is_demo(const char *url)
{
    for (size_t i = 0; i < sizeof demo_urls / sizeof demo_urls[0]; i++) {
        size_t n = strlen(demo_urls[i]);
        if (strncmp(url, demo_urls[i], n) == 0 && (url[n] == '\0' || strcmp(url + n, "/") == 0))
            return 1;
    }
    return 0;
}

static const char *text_of(json_t *resource, const char *key, const char *otherwise)
{
    const char *v = key ? json_string_value(json_object_get(resource, key)) : NULL;
    return v ? v : otherwise;
}

/* Checks the target, event, webhookUrl and method args (the block's own checks passed) and
 * fills t; every fault goes into reasons. */
static void check_args(const struct prepared *prep, int unsubscribe, struct target *t,
                       json_t *reasons)
{
    char number[64], service[64], event[32], method[8];
    const char *pn = flowreq_arg(prep, "phoneNumber", number, sizeof number);
    const char *mg = flowreq_arg(prep, "messagingServiceSid", service, sizeof service);
    const char *ev = flowreq_arg(prep, "event", event, sizeof event);
    const char *m = unsubscribe ? NULL : flowreq_arg(prep, "method", method, sizeof method);
    t->service = mg != NULL;
    t->method = m && strcmp(m, "GET") == 0 ? "GET" : "POST";
    if (!flowreq_arg(prep, "webhookUrl", t->url, sizeof t->url))
        json_object_set_new(reasons, "webhookUrl", json_string("is required"));
    if (pn && value_sid((struct text){pn, strlen(pn)}, "PN")) {
        snprintf(t->sid, sizeof t->sid, "%s", pn);
    } else if (pn && value_e164((struct text){pn, strlen(pn)}, t->phone, sizeof t->phone) < 0) {
        json_object_set_new(reasons, "phoneNumber",
                            json_string("must be a phone number of the account in E.164 (+ and "
                                        "the country code; spaces, brackets, dots and dashes "
                                        "allowed) or its SID (PN...)"));
    } else if (mg) {
        snprintf(t->sid, sizeof t->sid, "%s", mg);
    }
    for (size_t i = 0; ev && i < sizeof fields / sizeof fields[0]; i++)
        if (strcmp(fields[i].event, ev) == 0 && fields[i].service == t->service)
            t->field = &fields[i];
    if (ev && !t->field)
        json_object_set_new(reasons, "event",
                            json_string(t->service ? "for a Messaging Service must be "
                                                     "incomingMessage or messageStatus"
                                                   : "for a phone number must be "
                                                     "incomingMessage, incomingCall or "
                                                     "callStatus"));
    if (t->field && !t->field->method_key && m && strcmp(m, "POST") != 0)
        json_object_set_new(reasons, "method",
                            json_string("a Messaging Service's status callback is always POST"));
}

/* Reads the target: its resource in t->resource and its SID, number and path. Returns 0, or
 * -1 with the answer in the call's answer. */
static int read_target(struct call *c, const struct prepared *prep, struct target *t)
{
    char path[512];
    json_t *list = NULL;
    /* prep's path is the account's IncomingPhoneNumbers.json */
    int n = (int)prep->path.len - 5;
    if (t->service) {
        t->product = "messaging";
        snprintf(t->path, sizeof t->path, "/v1/Services/%s", t->sid);
        return flowreq_send(c, t->product, "GET", t->path, NULL, "fetch record", &t->resource);
    }
    t->product = "api";
    if (t->sid[0]) {
        snprintf(t->path, sizeof t->path, "%.*s/%s.json", n, buf_str(&prep->path), t->sid);
        if (flowreq_send(c, t->product, "GET", t->path, NULL, "fetch record", &t->resource) < 0)
            return -1;
        snprintf(t->phone, sizeof t->phone, "%s", text_of(t->resource, "phone_number", ""));
        return 0;
    }
    const char *query[] = {"PhoneNumber", t->phone, NULL};
    snprintf(path, sizeof path, "%s", buf_str(&prep->path));
    if (flowreq_send(c, t->product, "GET", path, query, "fetch page", &list) < 0)
        return -1;
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(list, "incoming_phone_numbers"), i, item) {
        const char *sid = text_of(item, "sid", "");
        if (strcmp(text_of(item, "phone_number", ""), t->phone) == 0 &&
            value_sid((struct text){sid, strlen(sid)}, "PN")) {
            snprintf(t->sid, sizeof t->sid, "%s", sid);
            t->resource = json_incref(item);
            break;
        }
    }
    json_decref(list);
    if (!t->resource) {
        json_t *reasons = json_object();
        char why[128];
        snprintf(why, sizeof why, "%s is not a phone number of this account", t->phone);
        json_object_set_new(reasons, "phoneNumber", json_string(why));
        call_fields(c, reasons, 0);
        json_decref(reasons);
        return -1;
    }
    snprintf(t->path, sizeof t->path, "%.*s/%s.json", n, buf_str(&prep->path), t->sid);
    return 0;
}

/* Refuses when Twilio sends the event's traffic elsewhere than the number's own URL: a
 * Messaging Service (unless it lets its numbers' URLs win), a TwiML App or a SIP trunk.
 * Returns 0 to go on, or -1 with the answer in the call's answer. */
static int check_owner(struct call *c, const struct target *t)
{
    char msg[1024];
    const char *owner = NULL, *what = NULL;
    json_t *extra = NULL;
    if (t->field->owner == OWN_SMS) {
        owner = text_of(t->resource, "sms_application_sid", "");
        what = "messages";
    } else if (t->field->owner == OWN_VOICE) {
        owner = text_of(t->resource, "voice_application_sid", "");
        if (!*owner)
            owner = text_of(t->resource, "trunk_sid", "");
        what = "calls";
    }
    if (!owner || !*owner)
        return 0;
    if (strncmp(owner, "MG", 2) == 0) {
        char path[128];
        json_t *service = NULL;
        snprintf(path, sizeof path, "/v1/Services/%s", owner);
        if (flowreq_send(c, "messaging", "GET", path, NULL, "fetch record", &service) < 0)
            return -1;
        int on = json_is_true(json_object_get(service, "use_inbound_webhook_on_number"));
        json_decref(service);
        if (on)
            return 0;
        snprintf(msg, sizeof msg,
                 "%s is in Messaging Service %s, which sends its incoming messages to the "
                 "service's own webhook (its UseInboundWebhookOnNumber is off), so the number's "
                 "SMS URL would never be called: subscribe the Messaging Service instead "
                 "(messagingServiceSid %s), or turn UseInboundWebhookOnNumber on in it; nothing "
                 "was written",
                 t->phone, owner, owner);
    } else if (strncmp(owner, "AP", 2) == 0) {
        snprintf(msg, sizeof msg,
                 "%s sends its %s to TwiML App %s (its %s), so the number's own URL would "
                 "never be called: set the webhook on that app, or clear the number's %s in "
                 "Twilio and subscribe again; nothing was written",
                 t->phone, what, owner,
                 t->field->owner == OWN_SMS ? "SmsApplicationSid" : "VoiceApplicationSid",
                 t->field->owner == OWN_SMS ? "SmsApplicationSid" : "VoiceApplicationSid");
    } else {
        snprintf(msg, sizeof msg,
                 "%s sends its %s to %s (%s), so the number's own URL would never be called: "
                 "take the number out of it in Twilio and subscribe again; nothing was written",
                 t->phone, what, owner,
                 strncmp(owner, "TK", 2) == 0 ? "a SIP trunk" : "another owner");
    }
    extra = json_pack("{s:s}", "ownerSid", owner);
    call_error(c, "refused", STATUS_WEBHOOK_BYPASSED, msg, extra);
    json_decref(extra);
    return -1;
}

/* The answer's common members: the target, event and webhookUrl. */
static json_t *answer_of(const struct target *t)
{
    json_t *to = json_object();
    if (!to)
        return NULL;
    json_object_set_new(to, t->service ? "messagingServiceSid" : "phoneNumberSid",
                        json_string(t->sid));
    if (!t->service)
        json_object_set_new(to, "phoneNumber", json_string(t->phone));
    json_object_set_new(to, "event", json_string(t->field->event));
    json_object_set_new(to, "webhookUrl", json_string(t->url));
    return to;
}

/* Writes url and method into the target's webhook. Returns 0, or -1 with the answer in the call's answer. */
static int write_webhook(struct call *c, const struct target *t, const char *url,
                         const char *method)
{
    const char *params[] = {t->field->url_param, url, t->field->method_param, method, NULL};
    json_t *answer = NULL;
    if (!t->field->method_param)
        params[2] = NULL;
    if (flowreq_send(c, t->product, "POST", t->path, params, "update record", &answer) < 0)
        return -1;
    json_decref(answer);
    return 0;
}

/* Reads the target's resource again, into t->resource. Returns 0, or -1 with the answer set. */
static int read_again(struct call *c, struct target *t)
{
    json_t *fresh = NULL;
    if (flowreq_send(c, t->product, "GET", t->path, NULL, "fetch record", &fresh) < 0)
        return -1;
    json_decref(t->resource);
    t->resource = fresh;
    return 0;
}

/* Holds the target's lock (its SID and the event's field) and reads it under the lock: a
 * number named by its phone is found first, then locked and read again. Returns 0, or -1 with
 * the answer set (and nothing held). */
static int lock_and_read(struct call *c, const struct prepared *prep, struct target *t,
                         struct subscribe_lock *l)
{
    const struct config *cfg = c->svc->cfg;
    const int known = t->sid[0] != '\0';
    char key[128];
    if (!known && read_target(c, prep, t) < 0)
        return -1;
    snprintf(key, sizeof key, "%s\n%s", t->sid, t->field->url_key);
    /* as long as a holder's flow can take, and a little more */
    enum subscribe_lock_result r =
        subscribe_lock_take(cfg, key, 5 * cfg->upstream_timeout_ms + 1000, l);
    if (r != SUBSCRIBE_LOCKED) {
        call_error(c, "internal_error", STATUS_INTERNAL,
                   r == SUBSCRIBE_LOCK_BUSY
                       ? "Another subscribeWebhook or unsubscribeWebhook of this webhook is "
                         "still running; nothing was written. Repeat the call"
                       : "Redis (REDIS_URL) cannot be reached to serialize this change with "
                         "the other replicas; nothing was written. Retry later",
                   NULL);
        return -1;
    }
    if ((known ? read_target(c, prep, t) : read_again(c, t)) < 0) {
        subscribe_lock_give(cfg, l);
        return -1;
    }
    return 0;
}

/* Checks the args, answers a dry run, or reads the target. Returns 0 when the flow goes on
 * with t read, -1 when the call's answer holds the answer. */
static int start(struct call *c, const struct prepared *prep, int unsubscribe, struct target *t,
                 struct subscribe_lock *l)
{
    json_t *reasons = json_object();
    if (!reasons) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        return -1;
    }
    check_args(prep, unsubscribe, t, reasons);
    if (json_object_size(reasons)) {
        call_fields(c, reasons, 0);
        json_decref(reasons);
        return -1;
    }
    json_decref(reasons);
    if (prep->dry_run) { /* the first request: the read */
        char path[512];
        const char *query[] = {"PhoneNumber", t->phone, NULL};
        int n = (int)prep->path.len - 5;
        if (t->service)
            snprintf(path, sizeof path, "/v1/Services/%s", t->sid);
        else if (t->sid[0])
            snprintf(path, sizeof path, "%.*s/%s.json", n, buf_str(&prep->path), t->sid);
        else
            snprintf(path, sizeof path, "%s", buf_str(&prep->path));
        flowreq_dry_run(c, t->service ? "messaging" : "api", "GET", path,
                        t->service || t->sid[0] ? NULL : query);
        return -1;
    }
    return lock_and_read(c, prep, t, l);
}

/* WEBHOOK_TAKEN, with the webhook as it is now (url, method) for the caller to see. */
static void refuse_taken(struct call *c, const char *msg, const char *url, const char *method)
{
    json_t *current = json_pack("{s:{s:s, s:s}}", "current", "url", url, "method", method);
    call_error(c, "refused", STATUS_WEBHOOK_TAKEN, msg, current);
    json_decref(current);
}

void subscribe_add(struct call *c)
{
    const struct prepared *prep = c->prep;
    struct target t;
    struct subscribe_lock lock = {0};
    json_t *to = NULL, *before = NULL;
    memset(&t, 0, sizeof t);
    if (start(c, prep, 0, &t, &lock) < 0 || check_owner(c, &t) < 0)
        goto done;
    const char *cur = text_of(t.resource, t.field->url_key, "");
    const char *cur_method = text_of(t.resource, t.field->method_key, "POST");
    const int mine = strcmp(cur, t.url) == 0;
    if (!t.field->method_key)
        cur_method = "POST";
    if (!mine && *cur && !is_demo(cur) && !flowreq_arg_true(prep, "replace")) {
        char msg[4500];
        snprintf(msg, sizeof msg,
                 "The %s webhook of %s is %s (%s), not this trigger's: nothing was written. "
                 "Give replace: true to take it over (unsubscribeWebhook with the previous this "
                 "call then answers gives it back)",
                 t.field->event, t.service ? t.sid : t.phone, cur, cur_method);
        refuse_taken(c, msg, cur, cur_method);
        goto done;
    }
    const int changed = !mine || strcasecmp(cur_method, t.method) != 0;
    /* the read-back replaces t.resource: previous is what was read before the write */
    before = json_incref(t.resource);
    if (changed && (write_webhook(c, &t, t.url, t.method) < 0 || read_again(c, &t) < 0))
        goto done;
    /* The read-back names a third URL: someone outside this service (Twilio's Console, a
     * replica not sharing its Redis) wrote at the same moment. (One that shows the URL read
     * before is a store that keeps nothing, as the sandbox's mock.) */
    const char *now = text_of(t.resource, t.field->url_key, "");
    if (strcmp(now, t.url) != 0 && strcmp(now, cur) != 0) {
        char msg[4500];
        const char *now_method = text_of(t.resource, t.field->method_key, "POST");
        snprintf(msg, sizeof msg,
                 "The %s webhook of %s was written, but reading it back it is %s (%s): "
                 "someone else changed it at the same moment (in Twilio's Console, or a "
                 "service not sharing this one's Redis). Subscribe again to take it",
                 t.field->event, t.service ? t.sid : t.phone, now, now_method);
        refuse_taken(c, msg, now, now_method);
        goto done;
    }
    to = answer_of(&t);
    if (!to || json_object_set_new(to, "method", json_string(t.method)) < 0 ||
        json_object_set_new(to, "changed", json_boolean(changed)) < 0 ||
        json_object_set_new(to, "previous",
                            json_pack("{s:s, s:s}", "url", cur, "method", cur_method)) < 0) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        goto done;
    }
    call_success(c, to);
done:
    subscribe_lock_give(c->svc->cfg, &lock);
    json_decref(to);
    json_decref(before);
    json_decref(t.resource);
}

/* The caller's previous (as subscribeWebhook answered it: an object, or its JSON text) in url
 * and method. Returns 0, or -1 when it is not one. */
static int read_previous(json_t *args, char *url, size_t size, const char **method)
{
    json_t *v = json_object_get(args, "previous"), *parsed = NULL;
    int rc = -1;
    *url = '\0';
    *method = "POST";
    if (!v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v)))
        return 0;
    if (json_is_string(v))
        v = parsed = jsonparse_loadb(json_string_value(v), json_string_length(v), 0, NULL);
    const char *u = json_string_value(json_object_get(v, "url"));
    const char *m = json_string_value(json_object_get(v, "method"));
    json_t *um = json_object_get(v, "url");
    if (!json_is_object(v) || (um && !json_is_null(um) && !u) ||
        (m && strcasecmp(m, "GET") != 0 && strcasecmp(m, "POST") != 0) ||
        (u && *u && strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
        (u && strlen(u) >= size))
        goto done;
    snprintf(url, size, "%s", u ? u : "");
    *method = m && strcasecmp(m, "GET") == 0 ? "GET" : "POST";
    rc = 0;
done:
    json_decref(parsed);
    return rc;
}

void subscribe_remove(struct call *c)
{
    json_t *args = c->args;
    const struct prepared *prep = c->prep;
    struct target t;
    char previous[2048];
    const char *previous_method;
    struct subscribe_lock lock = {0};
    json_t *to = NULL;
    memset(&t, 0, sizeof t);
    if (read_previous(args, previous, sizeof previous, &previous_method) < 0) {
        json_t *reasons = json_pack("{s:s}", "previous",
                                    "must be the previous object subscribeWebhook answered: "
                                    "{\"url\": \"\" or an http(s) URL, \"method\": GET or POST}");
        call_fields(c, reasons, 0);
        json_decref(reasons);
        goto done;
    }
    if (start(c, prep, 1, &t, &lock) < 0)
        goto done;
    const char *cur = text_of(t.resource, t.field->url_key, "");
    const char *cur_method =
        t.field->method_key ? text_of(t.resource, t.field->method_key, "POST") : "POST";
    const int mine = strcmp(cur, t.url) == 0;
    /* A previous that is the trigger's own URL (a repeated subscribe answered it) restores
     * nothing of anyone else's. */
    if (strcmp(previous, t.url) == 0)
        previous[0] = '\0';
    /* read under the lock: previous is written only over this trigger's own URL */
    if (mine && (write_webhook(c, &t, previous, previous_method) < 0 || read_again(c, &t) < 0))
        goto done;
    const char *now = mine ? text_of(t.resource, t.field->url_key, "") : cur;
    const char *now_method =
        mine && t.field->method_key ? text_of(t.resource, t.field->method_key, "POST") : cur_method;
    if (!t.field->method_key)
        now_method = "POST";
    to = answer_of(&t);
    if (!to || json_object_set_new(to, "changed", json_boolean(mine)) < 0 ||
        json_object_set_new(to, "now", json_pack("{s:s, s:s}", "url", now, "method", now_method)) <
            0) {
        call_error(c, "internal_error", STATUS_INTERNAL, "out of memory", NULL);
        goto done;
    }
    call_success(c, to);
done:
    subscribe_lock_give(c->svc->cfg, &lock);
    json_decref(to);
    json_decref(t.resource);
}
