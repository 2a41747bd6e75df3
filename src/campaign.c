#include "campaign.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "aead.h"
#include "args.h"
#include "campaign_callback.h"
#include "campaign_sender.h"
#include "campaign_store.h"
#include "digest.h"
#include "flowreq.h"
#include "jsonparse.h"
#include "log.h"
#include "status.h"

#define MAX_CHUNK 10000
#define KEY_TTL_S 86400 /* an Idempotency-Key's answer */

/* The credentials as one text to hash or seal: SIDs of 34 characters and tokens or secrets of
 * 32, with room to spare. */
#define CAMPAIGN_CRED_CAP 2048

static struct {
    const struct config *cfg;
    unsigned char key[AEAD_KEY_LEN]; /* seals the credentials a campaign keeps */
    char missing[200];               /* why campaigns cannot run here, or "" */
} rt = {.missing = "Campaigns are not started in this service (campaign_start)."};

/* ---- small helpers ---- */

static void iso_time(const char *ms, char *out, size_t size)
{
    time_t t = (time_t)(strtoll(ms, NULL, 10) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Who may see a campaign: the account and the credentials that made it, hashed. */
static int owner_of(const struct prepared *prep, const char *account, char out[65])
{
    struct buf b;
    buf_init(&b, CAMPAIGN_CRED_CAP);
    int rc = buf_appendf(&b, "%s\n%s\n", account, buf_str(&prep->username)) < 0 ||
                     buf_append(&b, prep->password.data ? prep->password.data : "",
                                prep->password.len) < 0
                 ? -1
                 : digest_sha256_hex(b.data, b.len, out);
    if (b.data)
        OPENSSL_cleanse(b.data, b.len);
    buf_free(&b);
    return rc;
}

static void answer(struct call *out, const char *what, json_t *to)
{
    (void)what;
    if (to)
        call_success(out, to);
    json_decref(to);
}

static void answer_error(struct call *out, const char *what, const char *code, const char *msg)
{
    call_error(out, what, code, msg, NULL);
}

static const char *const retry_headers[] = {"Retry-After", "2", NULL};

static void answer_down(struct call *out, const char *why)
{
    log_msg(LOG_WARN, "campaigns: Redis: %s", why);
    out->out->status = 503;
    out->out->headers = retry_headers;
    answer_error(out, "store_unavailable", STATUS_CAMPAIGN_STORE_UNAVAILABLE,
                 "The campaign store (Redis) cannot be reached; nothing was changed. Try again "
                 "shortly.");
}

static void answer_not_found(struct call *out)
{
    answer_error(out, "not_found", STATUS_CAMPAIGN_NOT_FOUND,
                 "No campaign with this campaignId for these credentials (a campaign is seen "
                 "only with the account and the token or API key that created it).");
}

static void answer_fields(struct call *out, json_t *reasons)
{
    call_fields(out, reasons, 0);
    json_decref(reasons);
}

/* ---- recipients ---- */

/* "+E164" in any common writing, or whatsapp:+E164, into norm (at most size). */
static int normalize_to(const char *s, char *norm, size_t size)
{
    size_t n = 0, digits = 0;
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "whatsapp:", 9) == 0) {
        memcpy(norm, "whatsapp:", 9);
        n = 9;
        s += 9;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s != '+')
        return -1;
    norm[n++] = '+';
    for (s++; *s; s++) {
        if (strchr(" -.()\t", *s))
            continue;
        if (!isdigit((unsigned char)*s) || n + 2 > size)
            return -1;
        norm[n++] = *s;
        digits++;
    }
    norm[n] = '\0';
    return digits >= 8 && digits <= 15 ? 0 : -1;
}

/* The list arg as given: an array, or a string holding one. New reference, or NULL. */
static json_t *list_arg(json_t *v)
{
    if (json_is_array(v))
        return json_incref(v);
    if (json_is_string(v))
        return jsonparse_loadb(json_string_value(v), json_string_length(v), JSON_DECODE_ANY, NULL);
    return NULL;
}

static int invalid(json_t *list, size_t i, json_t *entry, const char *why)
{
    json_t *to = json_is_object(entry) ? json_object_get(entry, "to") : entry;
    return json_array_append_new(list, json_pack("{s:I, s:O?, s:s}", "index", (json_int_t)i, "to",
                                                 json_is_string(to) ? to : NULL, "reason", why));
}

/* Entry i of a chunk: its number normalized into norm and its variables into *vars (borrowed)
 * when it is valid; otherwise its reason is added to bad and -1 returned. */
static int check_recipient(json_t *e, size_t i, json_t *names, int template, char *norm,
                           size_t size, json_t **vars, json_t *bad)
{
    const char *to_text =
        json_is_string(e) ? json_string_value(e) : json_string_value(json_object_get(e, "to"));
    char reason[200];
    const char *why = NULL;
    if (!json_is_object(e) && !json_is_string(e))
        why = "must be \"+E164\" or an object {\"to\", \"variables\"}";
    else if (!to_text || normalize_to(to_text, norm, size) < 0)
        why = "to must be a phone number in E.164: + and 8 to 15 digits";
    else if (json_is_object(e)) {
        *vars = json_object_get(e, template ? "contentVariables" : "variables");
        if (!*vars && template)
            *vars = json_object_get(e, "variables");
        if (*vars && !json_is_object(*vars))
            why = template ? "contentVariables must be an object"
                           : "variables must be an object of strings or numbers";
    }
    size_t j;
    json_t *name;
    json_array_foreach(names, j, name) {
        json_t *val = json_object_get(*vars, json_string_value(name));
        if (!why && !json_is_string(val) && !json_is_number(val)) {
            snprintf(reason, sizeof reason, "variables.%.64s is missing (the body uses {{%.64s}})",
                     json_string_value(name), json_string_value(name));
            why = reason;
        }
    }
    if (why) {
        invalid(bad, i, e, why);
        return -1;
    }
    return 0;
}

/* Adds a chunk of recipients to campaign id (its settings in meta) and answers
 * {added, duplicates, invalid, total} into *to; or fills out with a failure. */
static int add_chunk(const char *id, const redisReply *meta, json_t *entries, json_t **to,
                     struct call *out)
{
    char why[256];
    struct campaign_keys k;
    const char *body = campaign_store_field(meta, "body");
    int template = campaign_store_field(meta, "contentSid") != NULL;
    json_t *names = campaign_sender_placeholders(template ? NULL : body), *bad = json_array(),
           *seen = json_object();
    size_t n = json_array_size(entries), valid = 0, argc = 0;
    const char **argv = calloc(2 * n + 1, sizeof *argv);
    char **owned = calloc(2 * n + 1, sizeof *owned);
    int rc = -1;
    campaign_store_keys_of(id, &k);
    if (!names || !bad || !seen || !argv || !owned)
        goto nomem;
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(entries, i), *vars = NULL;
        char norm[48];
        if (check_recipient(e, i, names, template, norm, sizeof norm, &vars, bad) < 0)
            continue;
        valid++;
        if (json_object_get(seen, norm))
            continue;
        json_object_set_new(seen, norm, json_true());
        owned[argc] = strdup(norm);
        argv[argc] = owned[argc];
        argc++;
        owned[argc] = vars && json_object_size(vars) ? json_dumps(vars, JSON_COMPACT) : strdup("");
        argv[argc] = owned[argc];
        argc++;
        if (!owned[argc - 1] || !owned[argc - 2])
            goto nomem;
    }
    long long added = 0, total = 0;
    if (argc) {
        redisReply *rep =
            campaign_store_script(CAMPAIGN_SCRIPT_ADD, &k, (int)argc, argv, NULL, why, sizeof why);
        if (!rep) {
            answer_down(out, why);
            goto done;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
            campaign_store_reply_int(rep->element[0]) < 0) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "The campaign is %s: recipients can be added to a draft, running or paused "
                     "campaign only; nothing was added.",
                     campaign_store_reply_str(rep->element[1])
                         ? campaign_store_reply_str(rep->element[1])
                         : "gone");
            freeReplyObject(rep);
            answer_error(out, "campaign_state", STATUS_CAMPAIGN_STATE, msg);
            goto done;
        }
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2) {
            added = campaign_store_reply_int(rep->element[0]);
            total = campaign_store_reply_int(rep->element[1]);
        }
        freeReplyObject(rep);
    } else {
        total = campaign_store_field_int(meta, "total");
    }
    *to =
        json_pack("{s:I, s:I, s:O, s:I}", "added", (json_int_t)added, "duplicates",
                  (json_int_t)(valid - (size_t)added), "invalid", bad, "total", (json_int_t)total);
    rc = *to ? 0 : -1;
    if (rc < 0)
        goto nomem;
    goto done;
nomem:
    answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
done:
    for (size_t i = 0; owned && i < argc; i++)
        free(owned[i]);
    free(owned);
    free(argv);
    json_decref(names);
    json_decref(bad);
    json_decref(seen);
    return rc;
}

/* ---- the blocks ---- */

struct camp_call {
    json_t *args;
    const struct prepared *prep;
    char account[40];
    char owner[65];
    const char *id; /* campaignId, when the block takes one */
    struct campaign_keys k;
};

/* The arg called name as its check settled on it (trimmed, a Select's option as declared), in a
 * new string; NULL when it was not given, or with *nomem set when memory ran out. Never read
 * from the raw args: " Failed " must read as the "failed" its check accepted. */
static char *arg_dup(const struct camp_call *c, const char *name, int *nomem)
{
    struct text t = args_value(c->prep, name);
    if (t.n == 0)
        return NULL;
    char *s = strndup(t.p, t.n);
    if (!s)
        *nomem = 1;
    return s;
}

/* Reads the campaign's settings when the caller owns it. Returns the HGETALL reply, or NULL
 * with out filled. */
static redisReply *owned(struct camp_call *c, struct call *out)
{
    char why[256];
    const char *get[] = {"HGETALL", c->k.m};
    redisReply *meta = campaign_store_cmd(why, sizeof why, 2, get);
    if (!meta) {
        answer_down(out, why);
        return NULL;
    }
    const char *owner = campaign_store_field(meta, "owner");
    if (!owner || CRYPTO_memcmp(owner, c->owner, 64) != 0) {
        freeReplyObject(meta);
        answer_not_found(out);
        return NULL;
    }
    return meta;
}

/* An Idempotency-Key's Redis name: per owner, block and campaign. */
static void key_name(const struct camp_call *c, const char *block, const char *key, char *out,
                     size_t size)
{
    char hex[65], text[600];
    snprintf(text, sizeof text, "%s\n%s\n%s\n%s", c->owner, block, c->id ? c->id : "", key);
    digest_sha256_hex(text, strlen(text), hex);
    if (c->id)
        snprintf(out, size, "twilio-block:campaign:{%s}:key:%s", c->id, hex);
    else
        snprintf(out, size, "twilio-block:campaign-key:%s", hex);
}

/* With a key: 1 when out holds the kept answer (or a refusal), 0 when the call goes on (the
 * key then held: keep_answer settles it). */
static int key_claim(const char *name, struct call *out)
{
    char why[256];
    const char *set[] = {"SET", name, "", "NX", "EX", "600"};
    for (int tries = 0; tries < 2; tries++) {
        redisReply *rep = campaign_store_cmd(why, sizeof why, 6, set);
        if (!rep) {
            answer_down(out, why);
            return 1;
        }
        int got = rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        if (got)
            return 0;
        const char *get[] = {"GET", name};
        rep = campaign_store_cmd(why, sizeof why, 2, get);
        const char *kept = campaign_store_reply_str(rep);
        if (kept && *kept) {
            char *body = strdup(kept);
            call_replayed(out, body, body ? strlen(body) : 0);
            freeReplyObject(rep);
            return 1;
        }
        freeReplyObject(rep);
        if (kept) {
            answer_error(out, "key_in_flight", STATUS_KEY_IN_FLIGHT,
                         "A call with this Idempotency-Key is still running; repeat it shortly "
                         "to get its answer.");
            return 1;
        }
    }
    return 0;
}

static void key_settle(const char *name, const struct call *out, int keep)
{
    char why[256];
    if (keep && out->out->body) {
        char ttl[24];
        snprintf(ttl, sizeof ttl, "%d", KEY_TTL_S);
        const char *set[] = {"SET", name, out->out->body, "EX", ttl};
        freeReplyObject(campaign_store_cmd(why, sizeof why, 5, set));
    } else {
        const char *del[] = {"DEL", name};
        freeReplyObject(campaign_store_cmd(why, sizeof why, 2, del));
    }
}

static void put(const char **argv, int *argc, const char *name, const char *value)
{
    if (value) {
        argv[(*argc)++] = name;
        argv[(*argc)++] = value;
    }
}

/* createCampaign's own checks (statusCallback, recipients); *list gets the recipients given,
 * if any. Returns 0, or -1 with out filled. */
static int create_check(struct camp_call *c, const char *cb, json_t **list, struct call *out)
{
    json_t *reasons = json_object();
    const char *refused = cb ? campaign_callback_refused(rt.cfg, cb) : NULL;
    json_t *first = json_object_get(c->args, "recipients");
    *list = NULL;
    if (refused)
        json_object_set_new(reasons, "statusCallback", json_string(refused));
    if (first && !(*list = list_arg(first)))
        json_object_set_new(reasons, "recipients",
                            json_string("must be a list of \"+E164\" or {\"to\", \"variables\"}"));
    else if (*list && json_array_size(*list) > MAX_CHUNK)
        json_object_set_new(reasons, "recipients",
                            json_string("must hold at most 10,000 recipients a call; add more "
                                        "with addCampaignRecipients"));
    if (json_object_size(reasons)) {
        json_decref(*list);
        *list = NULL;
        answer_fields(out, reasons);
        return -1;
    }
    json_decref(reasons);
    return 0;
}

/* The credentials, sealed under the campaign's id: the account's SID is not a secret, the rest
 * is. Returns the sealed text, or NULL. */
static char *seal_credentials(const struct prepared *prep, const char *id)
{
    struct buf plain;
    buf_init(&plain, CAMPAIGN_CRED_CAP);
    char *sealed = NULL;
    if (buf_appendf(&plain, "%s\n", buf_str(&prep->username)) == 0 &&
        buf_append(&plain, prep->password.data ? prep->password.data : "", prep->password.len) == 0)
        sealed = aead_seal(rt.key, id, plain.data, plain.len);
    if (plain.data)
        OPENSSL_cleanse(plain.data, plain.len);
    buf_free(&plain);
    return sealed;
}

/* mediaUrl (one URL or a list) as the settings keep it: a JSON array, or NULL for none. */
static char *media_text(json_t *args)
{
    json_t *media = json_object_get(args, "mediaUrl");
    char *text = NULL;
    if (json_is_string(media))
        media = json_pack("[O]", media);
    else
        json_incref(media);
    if (json_array_size(media))
        text = json_dumps(media, JSON_COMPACT);
    json_decref(media);
    return text;
}

/* Writes the new draft's settings. Returns the script's reply, or NULL with why. */
static redisReply *create_store(struct camp_call *c, const char *sealed, const char *media,
                                const char *mps, const char *now, char *why, size_t size)
{
    const char *argv[40];
    int argc = 0, nomem = 0;
    char *from = arg_dup(c, "from", &nomem), *mss = arg_dup(c, "messagingServiceSid", &nomem),
         *body = arg_dup(c, "body", &nomem), *content = arg_dup(c, "contentSid", &nomem),
         *cb = arg_dup(c, "statusCallback", &nomem);
    redisReply *rep = NULL;
    if (nomem) {
        snprintf(why, size, "out of memory");
        goto done;
    }
#define PUT(name, value) put(argv, &argc, name, value)
    PUT("owner", c->owner);
    PUT("account", c->account);
    PUT("status", "draft");
    PUT("cred", sealed);
    PUT("from", from);
    PUT("mss", mss);
    PUT("body", body);
    PUT("contentSid", content);
    PUT("media", media);
    PUT("cb", cb);
    PUT("mps", mps);
    PUT("edge", c->prep->edge[0] ? c->prep->edge : NULL);
    PUT("region", c->prep->region[0] ? c->prep->region : NULL);
    PUT("createdAt", now);
    PUT("total", "0");
    PUT("pending", "0");
    PUT("sending", "0");
#undef PUT
    rep = campaign_store_script(CAMPAIGN_SCRIPT_CREATE, &c->k, argc, argv, NULL, why, size);
done:
    free(from);
    free(mss);
    free(body);
    free(content);
    free(cb);
    return rep;
}

/* Adds the recipients createCampaign was given to the new draft id, and their counts to to.
 * Returns 0, or -1 with out filled. */
static int create_first_chunk(struct camp_call *c, const char *id, json_t *list, json_t *to,
                              struct call *out)
{
    char why[256];
    const char *get[] = {"HGETALL", c->k.m};
    redisReply *meta = campaign_store_cmd(why, sizeof why, 2, get);
    json_t *chunk = NULL;
    if (meta && add_chunk(id, meta, list, &chunk, out) == 0) {
        json_object_set(to, "total", json_object_get(chunk, "total"));
        json_object_set(to, "added", json_object_get(chunk, "added"));
        json_object_set(to, "duplicates", json_object_get(chunk, "duplicates"));
        json_object_set(to, "invalid", json_object_get(chunk, "invalid"));
    } else if (!meta) {
        answer_down(out, why);
    }
    json_decref(chunk);
    freeReplyObject(meta);
    return out->out->body ? -1 : 0;
}

static void create(struct camp_call *c, struct call *out)
{
    char why[256], id[35], mps[24], now[24];
    unsigned char rnd[16];
    int nomem = 0;
    char *cb = arg_dup(c, "statusCallback", &nomem), *mps_text = arg_dup(c, "mps", &nomem);
    double rate = mps_text ? strtod(mps_text, NULL) : 1; /* checked: a number, 1 to 10,000 */
    free(mps_text);
    json_t *list = NULL;
    int checked = nomem ? -1 : create_check(c, cb, &list, out);
    free(cb);
    if (nomem)
        answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
    if (checked < 0)
        return;
    if (RAND_bytes(rnd, sizeof rnd) != 1) {
        json_decref(list);
        answer_error(out, "internal_error", STATUS_INTERNAL, "no random bytes");
        return;
    }
    id[0] = 'C';
    id[1] = 'P';
    digest_hex(rnd, sizeof rnd, id + 2);
    campaign_store_keys_of(id, &c->k);
    snprintf(mps, sizeof mps, "%g", rate);
    snprintf(now, sizeof now, "%ld", campaign_store_now_ms());
    char *sealed = seal_credentials(c->prep, id);
    char *media = media_text(c->args);
    int was_sealed = sealed != NULL;
    redisReply *rep = sealed ? create_store(c, sealed, media, mps, now, why, sizeof why) : NULL;
    free(media);
    free(sealed);
    if (!rep) {
        json_decref(list);
        if (!was_sealed)
            answer_error(out, "internal_error", STATUS_INTERNAL,
                         "the credentials could not be sealed");
        else
            answer_down(out, why);
        return;
    }
    freeReplyObject(rep);
    log_msg(LOG_INFO, "campaign %s: created (draft, mps %s)", id, mps);
    json_t *to = json_pack("{s:s, s:s, s:I, s:f}", "campaignId", id, "status", "draft", "total",
                           (json_int_t)0, "mps", rate);
    if (list && json_array_size(list) && create_first_chunk(c, id, list, to, out) < 0) {
        json_decref(to);
        json_decref(list);
        return;
    }
    json_decref(list);
    if (rate == (double)(long long)rate)
        json_object_set_new(to, "mps", json_integer((json_int_t)rate));
    answer(out, "success", to);
}

static void add(struct camp_call *c, struct call *out)
{
    json_t *list = list_arg(json_object_get(c->args, "recipients")), *to = NULL;
    if (!list || json_array_size(list) > MAX_CHUNK) {
        json_decref(list);
        answer_fields(out, json_pack("{s:s}", "recipients",
                                     list ? "must hold at most 10,000 recipients a call"
                                          : "must be a list of \"+E164\" or {\"to\", "
                                            "\"variables\"}"));
        return;
    }
    redisReply *meta = owned(c, out);
    if (meta && add_chunk(c->id, meta, list, &to, out) == 0)
        answer(out, "success", to);
    freeReplyObject(meta);
    json_decref(list);
}

static void control(struct camp_call *c, const char *action, struct call *out)
{
    char why[256];
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    const char *was = campaign_store_field(meta, "status");
    char before[16];
    snprintf(before, sizeof before, "%s", was ? was : "");
    freeReplyObject(meta);
    const char *argv[] = {action, ""};
    redisReply *rep =
        campaign_store_script(CAMPAIGN_SCRIPT_CONTROL, &c->k, 2, argv, NULL, why, sizeof why);
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        freeReplyObject(rep);
        answer_down(out, rep ? "an unexpected answer" : why);
        return;
    }
    char status[16];
    snprintf(status, sizeof status, "%s",
             campaign_store_reply_str(rep->element[0]) ? rep->element[0]->str : "");
    long long changed = campaign_store_reply_int(rep->element[1]),
              end = campaign_store_reply_int(rep->element[2]);
    freeReplyObject(rep);
    static const struct {
        const char *action, *target;
    } targets[] = {
        {"start", "running"}, {"pause", "paused"}, {"resume", "running"}, {"cancel", "cancelled"}};
    const char *target = "";
    for (size_t i = 0; i < 4; i++)
        if (strcmp(targets[i].action, action) == 0)
            target = targets[i].target;
    if (!status[0]) {
        answer_not_found(out);
        return;
    }
    if (!changed && strcmp(status, target) != 0) {
        char msg[200];
        snprintf(msg, sizeof msg, "The campaign is %s: it cannot be %s.", status,
                 strcmp(action, "start") == 0    ? "started (only a draft can)"
                 : strcmp(action, "pause") == 0  ? "paused (only a running campaign can)"
                 : strcmp(action, "resume") == 0 ? "resumed (only a paused campaign can)"
                                                 : "cancelled (it has ended)");
        answer_error(out, "campaign_state", STATUS_CAMPAIGN_STATE, msg);
        return;
    }
    if (changed)
        log_msg(LOG_INFO, "campaign %s: %s -> %s", c->id, before, status);
    /* Every answer that says running makes sure the senders see it: a start or resume whose
     * SADD was lost is repaired by asking again. */
    if (!end && strcmp(status, "running") == 0) {
        const char *sadd[] = {"SADD", CAMPAIGN_RUNNING_KEY, c->id};
        redisReply *added = campaign_store_cmd(why, sizeof why, 3, sadd);
        int ok = added && added->type == REDIS_REPLY_INTEGER;
        int fresh = ok && added->integer == 1;
        if (added && !ok)
            snprintf(why, sizeof why, "SADD: %s",
                     campaign_store_reply_str(added) ? added->str : "unexpected");
        freeReplyObject(added);
        if (!ok) {
            answer_down(out, why);
            return;
        }
        if (fresh)
            campaign_sender_wake(); /* this replica's senders start now, the others' soon */
    }
    if (end)
        campaign_callback_ended(rt.cfg, c->id);
    if (end && strcmp(status, "running") == 0)
        snprintf(status, sizeof status, "completed");
    answer(out, "success", json_pack("{s:s, s:s}", "campaignId", c->id, "status", status));
}

static void get(struct camp_call *c, struct call *out)
{
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    char at[40];
    long long pending =
        campaign_store_field_int(meta, "pending") + campaign_store_field_int(meta, "sending");
    double mps =
        strtod(campaign_store_field(meta, "mps") ? campaign_store_field(meta, "mps") : "1", NULL);
    const char *status = campaign_store_field(meta, "status");
    json_t *to = json_pack(
        "{s:s, s:s, s:I, s:o}", "campaignId", c->id, "status", status ? status : "", "total",
        (json_int_t)campaign_store_field_int(meta, "total"), "counts", campaign_store_counts(meta));
    if (to && mps == (double)(long long)mps)
        json_object_set_new(to, "mps", json_integer((json_int_t)mps));
    else if (to)
        json_object_set_new(to, "mps", json_real(mps));
    static const char *const times[] = {"createdAt", "startedAt", "endedAt"};
    for (size_t i = 0; to && i < 3; i++) {
        const char *t = campaign_store_field(meta, times[i]);
        if (t)
            iso_time(t, at, sizeof at);
        json_object_set_new(to, times[i], t ? json_string(at) : json_null());
    }
    int running = status && (strcmp(status, "running") == 0 || strcmp(status, "paused") == 0 ||
                             strcmp(status, "draft") == 0);
    json_object_set_new(to, "etaSeconds",
                        running ? json_integer((json_int_t)((double)pending / mps + 0.999))
                                : json_integer(0));
    if (campaign_store_field(meta, "lastError"))
        json_object_set_new(to, "lastError", json_string(campaign_store_field(meta, "lastError")));
    json_object_set_new(to, "store", json_string(campaign_store_in_memory() ? "memory" : "redis"));
    if (campaign_store_in_memory())
        json_object_set_new(to, "storeNote",
                            json_string("Kept in this process's memory (no REDIS_URL): one "
                                        "replica only, lost when the service restarts."));
    freeReplyObject(meta);
    answer(out, "success", to);
}

static const char *state_name(char c, int cancelled)
{
    switch (c) {
    case 'p':
        return cancelled ? "cancelled" : "pending";
    case 's':
        return "sending";
    case 'S':
        return "sent";
    case 'F':
        return "failed";
    case 'k':
        return "skipped";
    case 'm':
        return "maybeSent";
    default:
        return "cancelled";
    }
}

/* A listCampaignRecipients cursor is Redis's HSCAN cursor followed by CURSOR_SKIP digits: the
 * entries of that HSCAN page already answered. Redis answers a small hash whole whatever COUNT
 * says, so a page is cut at limit and the next call starts where it stopped. */
#define CURSOR_SKIP 5
#define CURSOR_SKIP_MAX 99999

/* One recipient as listed: HSCAN's field (the number) and value (its state). */
static json_t *recipient_item(const char *to, const char *v, int cancelled)
{
    json_t *item =
        json_pack("{s:s, s:s, s:n, s:n, s:n}", "to", to, "status", state_name(v[0], cancelled),
                  "messageSid", "errorCode", "errorMessage");
    if (item && v[0] == 'S')
        json_object_set_new(item, "messageSid", json_string(v + 1));
    if (item && v[0] == 'F') {
        const char *bar = strchr(v + 1, '|');
        char code[32];
        size_t n = bar ? (size_t)(bar - v - 1) : 0;
        snprintf(code, sizeof code, "%.*s", (int)(n < sizeof code ? n : sizeof code - 1), v + 1);
        char *end = NULL;
        long long num = strtoll(code, &end, 10);
        json_object_set_new(item, "errorCode",
                            *code && end && !*end ? json_integer(num) : json_string(code));
        json_object_set_new(item, "errorMessage", json_string(bar ? bar + 1 : ""));
    }
    return item;
}

/* The page of recipients HSCAN answered (rep), from entry skip on, at most limit of them (of
 * status want, when given): {"items", "cursor", "more"}. */
static json_t *recipients_page(const redisReply *rep, const char *scanned, size_t skip,
                               long long limit, const char *want, int cancelled)
{
    char cursor[64];
    json_t *items = json_array();
    if (!items)
        return NULL;
    const redisReply *kv = rep->element[1];
    size_t entries = kv->type == REDIS_REPLY_ARRAY ? kv->elements / 2 : 0, e = skip;
    for (; e < entries && e < CURSOR_SKIP_MAX && json_array_size(items) < (size_t)limit; e++) {
        const char *to = kv->element[2 * e]->str, *v = kv->element[2 * e + 1]->str;
        if (!want || strcmp(want, state_name(v[0], cancelled)) == 0)
            json_array_append_new(items, recipient_item(to, v, cancelled));
    }
    const char *next = campaign_store_reply_str(rep->element[0]);
    int more = e < entries || (next && strcmp(next, "0") != 0);
    if (e < entries)
        snprintf(cursor, sizeof cursor, "%s%0*zu", scanned, CURSOR_SKIP, e);
    else
        snprintf(cursor, sizeof cursor, "%s%0*d", next ? next : "0", CURSOR_SKIP, 0);
    return json_pack("{s:o, s:s?, s:b}", "items", items, "cursor", more ? cursor : NULL, "more",
                     more);
}

static void list(struct camp_call *c, struct call *out)
{
    char why[256], count[24], scanned[40] = "0";
    redisReply *meta = owned(c, out);
    if (!meta)
        return;
    const char *status = campaign_store_field(meta, "status");
    int cancelled = status && strcmp(status, "cancelled") == 0;
    char want_text[16], cursor_text[40]; /* a status option; checked: digits, at most 32 */
    const char *want = flowreq_arg(c->prep, "status", want_text, sizeof want_text),
               *cursor = flowreq_arg(c->prep, "cursor", cursor_text, sizeof cursor_text);
    long long limit = 100;
    args_long(c->prep, "limit", &limit); /* checked whole, 1 to 1,000 */
    snprintf(count, sizeof count, "%lld", limit);
    size_t skip = 0, n = cursor ? strlen(cursor) : 0;
    if (n > CURSOR_SKIP) {
        snprintf(scanned, sizeof scanned, "%.*s", (int)(n - CURSOR_SKIP), cursor);
        skip = strtoul(cursor + n - CURSOR_SKIP, NULL, 10);
    } else if (n) {
        snprintf(scanned, sizeof scanned, "%s", cursor);
    }
    const char *scan[] = {"HSCAN", c->k.r, scanned, "COUNT", count};
    redisReply *rep = campaign_store_cmd(why, sizeof why, 5, scan);
    freeReplyObject(meta);
    json_t *to = NULL;
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2)
        answer_down(out, rep ? "an unexpected answer" : why);
    else if (!(to = recipients_page(rep, scanned, skip, limit, want, cancelled)))
        answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
    else
        answer(out, "success", to);
    freeReplyObject(rep);
}

void campaign_run(struct call *out)
{
    const struct block_def *b = out->b;
    const char *key = out->key;
    struct camp_call c = {.args = out->args, .prep = out->prep};
    char name[700];
    if (rt.missing[0]) {
        answer_error(out, "campaigns_unavailable", STATUS_CAMPAIGNS_UNAVAILABLE, rt.missing);
        return;
    }
    flowreq_arg(out->prep, "accountSid", c.account, sizeof c.account);
    if (owner_of(out->prep, c.account, c.owner) < 0) {
        answer_error(out, "internal_error", STATUS_INTERNAL, "out of memory");
        return;
    }
    char id[64];
    c.id = flowreq_arg(out->prep, "campaignId", id, sizeof id);
    if (c.id && !campaign_store_id_valid(c.id)) {
        answer_not_found(out);
        return;
    }
    if (c.id)
        campaign_store_keys_of(c.id, &c.k);
    int keyed = key && (strcmp(b->name, "createCampaign") == 0 ||
                        strcmp(b->name, "addCampaignRecipients") == 0);
    if (keyed) {
        if (!idem_key_valid(key)) {
            answer_fields(out, json_pack("{s:s}", "idempotencyKey",
                                         "must be at most 255 printable ASCII characters"));
            return;
        }
        key_name(&c, b->name, key, name, sizeof name);
        if (key_claim(name, out))
            return;
    }
    if (strcmp(b->name, "createCampaign") == 0)
        create(&c, out);
    else if (strcmp(b->name, "addCampaignRecipients") == 0)
        add(&c, out);
    else if (strcmp(b->name, "startCampaign") == 0)
        control(&c, "start", out);
    else if (strcmp(b->name, "pauseCampaign") == 0)
        control(&c, "pause", out);
    else if (strcmp(b->name, "resumeCampaign") == 0)
        control(&c, "resume", out);
    else if (strcmp(b->name, "cancelCampaign") == 0)
        control(&c, "cancel", out);
    else if (strcmp(b->name, "getCampaign") == 0)
        get(&c, out);
    else if (strcmp(b->name, "listCampaignRecipients") == 0)
        list(&c, out);
    else
        answer_error(out, "internal_error", STATUS_INTERNAL, "no such campaign block");
    if (keyed)
        key_settle(name, out,
                   out->out->status == 200 && out->out->what &&
                       strcmp(out->out->what, "success") == 0);
}

int campaign_start(const struct config *cfg, char *err, size_t errlen)
{
    rt.cfg = cfg;
    if (cfg->redis_url[0] && !cfg->campaign_secret[0]) {
        snprintf(rt.missing, sizeof rt.missing,
                 "Campaigns need CAMPAIGN_SECRET (a passphrase, the same on every replica) beside "
                 "REDIS_URL: it seals the credentials a campaign keeps. Set it and restart.");
        log_msg(LOG_WARN, "campaigns: off (REDIS_URL is set, CAMPAIGN_SECRET is not)");
        return 0;
    }
    /* in process, under a key of this process: nothing outlives it */
    if (!cfg->redis_url[0] ? aead_key_random(rt.key) < 0
                           : aead_key_from(cfg->campaign_secret, rt.key) < 0) {
        snprintf(err, errlen, "campaigns: %s", !cfg->redis_url[0] ? "out of memory" : "no key");
        return -1;
    }
    if (campaign_store_open(cfg, err, errlen) < 0)
        return -1;
    if (campaign_sender_start(cfg, rt.key, err, errlen) < 0) {
        campaign_store_close();
        return -1;
    }
    rt.missing[0] = '\0';
    log_msg(
        LOG_INFO, "campaigns: on, %zu senders in this replica, kept %s", campaign_sender_count(),
        campaign_store_in_memory() ? "in this process (no REDIS_URL: one replica, lost on restart)"
                                   : "in Redis");
    return 0;
}

void campaign_stop(void)
{
    campaign_sender_stop();
    campaign_store_close();
    OPENSSL_cleanse(rt.key, sizeof rt.key);
}

int campaign_metrics(struct buf *out)
{
    int rc = campaign_sender_metrics(out);
    return rc == 0 ? campaign_callback_metrics(out) : rc;
}
