#include "single.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "dryrun.h"
#include "jsonparse.h"
#include "jsonscan.h"
#include "status.h"

/* What a delete answers, since Twilio answers it with no body: what was deleted, by its path
 * args, and the path. */
static void deleted(struct call *c)
{
    const struct prepared *prep = c->prep;
    json_t *to = json_pack("{s:b}", "deleted", 1);
    if (to && json_object_update(to, prep->ids) == 0 &&
        json_object_set_new(
            to, "path", json_stringn(prep->path.data ? prep->path.data : "", prep->path.len)) == 0)
        call_success(c, to);
    json_decref(to);
}

/* Gives each item of the block's content list the URL of its content: Twilio's uri of the item
 * without .json, on the base the request went to (media are fetched with the same
 * credentials). Returns -1 when memory ran out. */
static int add_content_urls(const struct block_def *b, const char *base, json_t *resource)
{
    size_t i;
    json_t *item;
    json_array_foreach(json_object_get(resource, b->content_list), i, item) {
        const char *uri = json_string_value(json_object_get(item, "uri"));
        size_t n = uri ? strlen(uri) : 0;
        if (!json_is_object(item) || n < 6 || uri[0] != '/' || strcmp(uri + n - 5, ".json"))
            continue;
        if (json_object_set_new(item, b->content_key,
                                json_sprintf("%s%.*s", base, (int)(n - 5), uri)) < 0)
            return -1;
    }
    return 0;
}

/* Answers a 2xx whose body is no JSON object (or one too deep or large to read). */
static void bad_body(struct call *c, const struct twilio_response *rs,
                     const struct jsonparse_error *perr, const char *maybe)
{
    struct buf msg;
    buf_init(&msg, SINGLE_MSG_CAP);
    if (perr->fault == JSONPARSE_TOO_DEEP || perr->fault == JSONPARSE_TOO_MANY)
        buf_appendf(&msg, "Twilio answered HTTP %ld with a JSON body too %s to read", rs->status,
                    perr->fault == JSONPARSE_TOO_DEEP ? "deep" : "large");
    else
        buf_appendf(&msg, "Twilio answered HTTP %ld but its body is not a JSON object", rs->status);
    if (strcmp(c->prep->method, "GET") != 0)
        buf_appendf(&msg, "; %s", maybe);
    if (rs->request_id[0])
        buf_appendf(&msg, " (Twilio request id %s)", rs->request_id);
    call_error(c, "upstream_bad_body", STATUS_INTERNAL, buf_str(&msg), NULL);
    buf_free(&msg);
}

/* The envelope of a 2xx answer. */
static void word_success(struct call *c, const struct twilio_response *rs, const char *base,
                         const char *maybe)
{
    const struct block_def *b = c->b;
    const int get = strcmp(c->prep->method, "GET") == 0,
              del = strcmp(c->prep->method, "DELETE") == 0;
    struct jsonparse_error perr = {.fault = JSONPARSE_OK};
    /* Twilio's resource is passed on as sent, unless content URLs are added to it: then it is
     * parsed, and otherwise only checked (jsonscan: no tree built). */
    json_t *resource = b->content_list && rs->body.len
                           ? jsonparse_answer(rs->body.data, rs->body.len, &perr)
                           : NULL;
    const int object = b->content_list
                           ? json_is_object(resource)
                           : rs->body.len && jsonscan_object(rs->body.data, rs->body.len);
    c->out->what = "success";
    if (del && (rs->status == 204 || rs->body.len == 0))
        deleted(c);
    else if (rs->status == 204 || (rs->body.len == 0 && get))
        call_success_raw(c, "{}", 2);
    else if (object && b->content_list && add_content_urls(b, base, resource) == 0)
        call_success(c, resource);
    else if (object && !b->content_list)
        call_success_raw(c, rs->body.data, rs->body.len);
    else if (!object)
        bad_body(c, rs, &perr, maybe);
    json_decref(resource);
}

/* Calls Twilio and words the answer; returns whether a repeat under the same Idempotency-Key
 * must get this answer rather than send again. */
static int call_twilio(struct call *c)
{
    struct buf base, msg;
    struct twilio_response rs;
    const struct prepared *prep = c->prep;
    const char *maybe = send_maybe_words(c->b, prep->method);
    const struct send_options opt = {.maybe = maybe};
    buf_init(&base, SEND_BASE_CAP);
    buf_init(&msg, SINGLE_MSG_CAP);
    twilio_response_init(&rs, SEND_MAX_UPSTREAM_BYTES);
    const long t0 = clock_ms();
    int answered = send_perform_ex(c->svc, prep, c->slot, &opt, &rs, &base) == 0;
    call_count(c, &rs, t0);
    enum send_outcome o = send_classify(prep, &rs, answered);
    call_note(&msg, o, &rs, answered, rs.attempts, maybe);
    if (!answered)
        call_error(c, o == SEND_MAYBE ? "upstream_ambiguous" : "upstream_unreachable",
                   STATUS_INTERNAL, buf_str(&msg), NULL);
    else if (o == SEND_DONE)
        word_success(c, &rs, buf_str(&base), maybe);
    else
        call_api_error(c, c->b->action, &rs, msg.len ? buf_str(&msg) : NULL);
    int keep = send_keeps(o, rs.status);
    twilio_response_free(&rs);
    buf_free(&msg);
    buf_free(&base);
    return keep;
}

static int perform(struct call *c, void *arg)
{
    (void)arg;
    return call_twilio(c);
}

void single_send(struct call *c)
{
    if (!c->key) {
        call_twilio(c);
        return;
    }
    const struct call_keyed k = {.creds = c->prep,
                                 .name = c->b->name,
                                 .chosen = !c->b->method,
                                 .wait_ms = c->svc->cfg->upstream_timeout_ms + 1000,
                                 .legacy = 1,
                                 .maybe = send_maybe_words(c->b, c->prep->method),
                                 .perform = perform};
    call_keyed(c, &k);
}

void single_dry_run(struct call *c)
{
    struct buf base, url;
    size_t len = 0;
    buf_init(&base, SEND_BASE_CAP);
    buf_init(&url, SEND_URL_CAP);
    char *body = send_url(c->svc->cfg, c->prep, 0, &base, &url) == 0
                     ? dryrun_answer(c->b, c->prep, buf_str(&url), &len)
                     : NULL;
    call_answer_take(c, "dry_run", body, len);
    buf_free(&base);
    buf_free(&url);
}
