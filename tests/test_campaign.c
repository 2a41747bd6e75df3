/* Campaigns (issue 27) on real twilio-block processes (argv[1]) sharing a real redis-server that
 * keeps an append-only file, against a stand-in Twilio that counts every POST by To: the
 * lifecycle, keyed chunks, pause and cancel, a 429, a 21610 opt-out, ownership, the arg checks,
 * each recipient at most once with a replica SIGKILLed mid-send and with Redis SIGKILLed and
 * restarted from its file, and the credentials never in Redis's data or file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <civetweb.h>
#include <jansson.h>

#include "clock.h"
#include "form.h"
#include "harness.h"
#include "redisd.h"

#define SID "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define TOKEN "tok-campaign-secret-7f3a9c"
#define CREDS "\"accountSid\":\"" SID "\",\"accountToken\":\"" TOKEN "\""
#define MAX_TO 64

static const char *binary;

/* The stand-in: POSTs to Messages.json counted by To; +15005550004 answers 21610, +15005550001
 * 21211; `limit` next requests answer 429; every answer waits `delay_ms`. /callback keeps
 * what a statusCallback POSTed. */
static struct {
    pthread_mutex_t lock;
    char to[MAX_TO][48];
    int posts[MAX_TO];    /* every POST */
    int accepted[MAX_TO]; /* answered 201 */
    char bodies[MAX_TO][200];
    int limit;
    int delay_ms;
    int total;
    char callbacks[4][1024];
    int n_callbacks;
    long hold_until; /* the Retry-After of the last 429 runs out (clock_ms) */
    int in_hold;     /* POSTs that came before it did */
    int queue_full;  /* the next POSTs answered 21611 (the sender's queue is full) */
} up = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int slot_of(const char *to)
{
    for (int i = 0; i < MAX_TO; i++) {
        if (strcmp(up.to[i], to) == 0)
            return i;
        if (!up.to[i][0]) {
            snprintf(up.to[i], sizeof up.to[i], "%s", to);
            return i;
        }
    }
    return MAX_TO - 1;
}

static int posts_to(const char *to)
{
    pthread_mutex_lock(&up.lock);
    int n = 0;
    for (int i = 0; i < MAX_TO; i++)
        if (strcmp(up.to[i], to) == 0)
            n = up.posts[i];
    pthread_mutex_unlock(&up.lock);
    return n;
}

static int total_posts(void)
{
    pthread_mutex_lock(&up.lock);
    int n = up.total;
    pthread_mutex_unlock(&up.lock);
    return n;
}

static void up_reset(int delay_ms, int limit)
{
    pthread_mutex_lock(&up.lock);
    memset(up.to, 0, sizeof up.to);
    memset(up.posts, 0, sizeof up.posts);
    memset(up.accepted, 0, sizeof up.accepted);
    up.total = 0;
    up.n_callbacks = 0;
    up.delay_ms = delay_ms;
    up.limit = limit;
    up.hold_until = 0;
    up.in_hold = 0;
    up.queue_full = 0;
    pthread_mutex_unlock(&up.lock);
}

static int on_request(struct mg_connection *conn, void *data)
{
    (void)data;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    char body[8192];
    int n = 0, got;
    while (n < (int)sizeof body - 1 && (got = mg_read(conn, body + n, sizeof body - 1 - n)) > 0)
        n += got;
    body[n] = '\0';
    if (strcmp(ri->local_uri, "/callback") == 0) {
        pthread_mutex_lock(&up.lock);
        if (up.n_callbacks < 4)
            snprintf(up.callbacks[up.n_callbacks++], sizeof up.callbacks[0], "%.1000s", body);
        pthread_mutex_unlock(&up.lock);
        mg_printf(conn, "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
        return 204;
    }
    json_t *form = form_parse(body, (size_t)n);
    const char *to = json_string_value(json_object_get(form, "To"));
    const char *text = json_string_value(json_object_get(form, "Body"));
    pthread_mutex_lock(&up.lock);
    int i = slot_of(to ? to : "");
    up.posts[i]++;
    up.total++;
    if (clock_ms() < up.hold_until)
        up.in_hold++;
    snprintf(up.bodies[i], sizeof up.bodies[i], "%s", text ? text : "");
    int limited = up.limit > 0 ? up.limit-- : 0;
    int full = !limited && up.queue_full > 0 ? up.queue_full-- : 0;
    int delay = up.delay_ms, number = up.total;
    pthread_mutex_unlock(&up.lock);
    if (delay)
        clock_sleep_ms(delay);
    char answer[512];
    int status = 201;
    if (limited) {
        status = 429;
        pthread_mutex_lock(&up.lock);
        up.hold_until = clock_ms() + 1000;
        pthread_mutex_unlock(&up.lock);
        snprintf(answer, sizeof answer,
                 "{\"code\":20429,\"message\":\"Too Many Requests\",\"status\":429}");
    } else if (full) {
        status = 400;
        snprintf(answer, sizeof answer,
                 "{\"code\":21611,\"message\":\"This 'From' number has exceeded the maximum "
                 "number of queued messages\",\"status\":400}");
    } else if (to && strcmp(to, "+15005550004") == 0) {
        status = 400;
        snprintf(answer, sizeof answer,
                 "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed recipient\","
                 "\"status\":400}");
    } else if (to && strcmp(to, "+15005550001") == 0) {
        status = 400;
        snprintf(answer, sizeof answer,
                 "{\"code\":21211,\"message\":\"The 'To' number is not a valid phone number.\","
                 "\"status\":400}");
    } else {
        pthread_mutex_lock(&up.lock);
        up.accepted[i]++;
        pthread_mutex_unlock(&up.lock);
        snprintf(answer, sizeof answer, "{\"sid\":\"SM%032x\",\"status\":\"queued\"}", number);
    }
    mg_printf(conn,
              "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%sContent-Length: %zu\r\n\r\n%s",
              status, limited ? "Retry-After: 1\r\n" : "", strlen(answer), answer);
    json_decref(form);
    return status;
}

struct fixture {
    struct redisd redis;
    char dir[64];
    char redis_url[128];
    struct mg_context *ctx;
    int up_port;
    struct child a, b;
};

static struct fixture F;

static void start_child(struct child *c, const char *name, int allow_private, int with_secret)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", F.up_port);
    const char *const env[] = {"THREADS",
                               "16",
                               "TWILIO_API_BASE",
                               base,
                               "REDIS_URL",
                               F.redis_url,
                               "CAMPAIGN_SECRET",
                               with_secret ? "test-campaign-passphrase" : "",
                               "ALLOW_PRIVATE_CALLBACKS",
                               allow_private ? "1" : "0",
                               "CAMPAIGN_RECLAIM_MS",
                               "1500",
                               "UPSTREAM_TIMEOUT_MS",
                               "5000",
                               "RETRY_MAX",
                               "0",
                               NULL};
    child_start(c, binary, name, env, 10000);
}

static void kill_child(struct child *c)
{
    if (c->pid > 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
        unlink(c->log);
    }
    c->pid = 0;
}

static int setup(void **state)
{
    (void)state;
    memset(&F, 0, sizeof F);
    snprintf(F.dir, sizeof F.dir, "/tmp/twilio-block-campaign-%ld", (long)getpid());
    if (mkdir(F.dir, 0700) != 0 || redisd_start_aof(&F.redis, F.dir) != 0)
        return -1;
    redisd_url(&F.redis, 0, F.redis_url, sizeof F.redis_url);
    const char *opts[] = {"listening_ports", "127.0.0.1:0", "num_threads", "32", NULL};
    F.ctx = mg_start(NULL, NULL, opts);
    if (!F.ctx)
        return -1;
    mg_set_request_handler(F.ctx, "/", on_request, NULL);
    struct mg_server_port ports[1];
    if (mg_get_server_ports(F.ctx, 1, ports) < 1)
        return -1;
    F.up_port = ports[0].port;
    start_child(&F.a, "campaign-a", 1, 1);
    start_child(&F.b, "campaign-b", 1, 1);
    return 0;
}

/* Stopped with SIGTERM: each must exit 0 (under the sanitizers, without a leak). */
static void stop_child(struct child *c)
{
    if (c->pid > 0) {
        child_stop(c);
        unlink(c->log);
    }
    c->pid = 0;
}

static int teardown(void **state)
{
    (void)state;
    stop_child(&F.a);
    stop_child(&F.b);
    mg_stop(F.ctx);
    redisd_stop(&F.redis);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", F.dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* POSTs {CREDS, extra} to block on child c; the answer's contextWrites.to (new reference). */
static json_t *call_as(const struct child *c, const char *block, const char *creds,
                       const char *extra, const char *key, const char **callback)
{
    char url[128];
    struct http_reply r;
    struct buf body;
    buf_init(&body, 1u << 20);
    buf_appendf(&body, "{%s%s%s}", creds, extra && *extra ? "," : "", extra ? extra : "");
    snprintf(url, sizeof url, "http://127.0.0.1:%d/api/twilio/%s", c->port, block);
    assert_int_equal(http_post_keyed(url, key, buf_str(&body), &r), 0);
    json_t *doc = json_loads(buf_str(&r.body), 0, NULL);
    if (!doc)
        fail_msg("%s answered %ld: %s", block, r.status, buf_str(&r.body));
    static char cb[16];
    snprintf(cb, sizeof cb, "%s", json_string_value(json_object_get(doc, "callback")));
    if (callback)
        *callback = cb;
    json_t *to = json_incref(json_object_get(json_object_get(doc, "contextWrites"), "to"));
    json_decref(doc);
    http_reply_free(&r);
    buf_free(&body);
    return to;
}

static json_t *call(const struct child *c, const char *block, const char *extra)
{
    const char *cb;
    json_t *to = call_as(c, block, CREDS, extra, NULL, &cb);
    if (strcmp(cb, "success") != 0) {
        char *text = json_dumps(to, JSON_COMPACT);
        fail_msg("%s: %s", block, text);
    }
    return to;
}

static long long get_int(json_t *o, const char *path)
{
    char name[64];
    snprintf(name, sizeof name, "%s", path);
    char *dot = strchr(name, '.');
    if (dot) {
        *dot = '\0';
        return json_integer_value(json_object_get(json_object_get(o, name), dot + 1));
    }
    return json_integer_value(json_object_get(o, name));
}

/* A campaign id from createCampaign with extra args. */
static void create(const struct child *c, const char *extra, char id[64])
{
    json_t *to = call(c, "createCampaign", extra);
    snprintf(id, 64, "%s", json_string_value(json_object_get(to, "campaignId")));
    assert_int_equal(strlen(id), 34);
    assert_string_equal(json_string_value(json_object_get(to, "status")), "draft");
    json_decref(to);
}

static json_t *control(const struct child *c, const char *block, const char *id)
{
    char extra[128];
    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\"", id);
    return call(c, block, extra);
}

/* Polls getCampaign until its status is want (at most 30 s); returns its answer. */
static json_t *wait_status(const struct child *c, const char *id, const char *want)
{
    for (int i = 0; i < 300; i++) {
        json_t *g = control(c, "getCampaign", id);
        if (strcmp(json_string_value(json_object_get(g, "status")), want) == 0)
            return g;
        json_decref(g);
        clock_sleep_ms(100);
    }
    fail_msg("campaign %s never became %s", id, want);
    return NULL;
}

static void assert_counts_add_up(json_t *g)
{
    long long sum = 0;
    static const char *const names[] = {"pending", "sent",      "failed",
                                        "skipped", "maybeSent", "cancelled"};
    for (size_t i = 0; i < 6; i++)
        sum += json_integer_value(json_object_get(json_object_get(g, "counts"), names[i]));
    assert_int_equal(sum, get_int(g, "total"));
}

static void wait_posts(int n)
{
    for (int i = 0; i < 300 && total_posts() < n; i++)
        clock_sleep_ms(20);
    assert_true(total_posts() >= n);
}

/* create with a first chunk (duplicates in another writing, one invalid, one without its
 * variable), a keyed chunk sent twice, start, completed: each To once, bodies filled, one
 * callback with the counts, the SIDs listed, the sealed credentials gone. */
static void test_lifecycle(void **state)
{
    (void)state;
    char id[64], extra[1024];
    up_reset(0, 0);
    snprintf(extra, sizeof extra,
             "\"from\":\"+15005550006\",\"body\":\"Hi {{name}}!\",\"mps\":100,"
             "\"statusCallback\":\"http://127.0.0.1:%d/callback\","
             "\"recipients\":[{\"to\":\"+1 (415) 555-0101\",\"variables\":{\"name\":\"Ana\"}},"
             "{\"to\":\"+14155550101\",\"variables\":{\"name\":\"Ana\"}},\"not a number\","
             "\"+14155550109\"]",
             F.up_port);
    json_t *to = call(&F.a, "createCampaign", extra);
    snprintf(id, sizeof id, "%s", json_string_value(json_object_get(to, "campaignId")));
    assert_int_equal(get_int(to, "added"), 1);
    assert_int_equal(get_int(to, "duplicates"), 1);
    assert_int_equal(json_array_size(json_object_get(to, "invalid")), 2);
    assert_int_equal(get_int(json_array_get(json_object_get(to, "invalid"), 0), "index"), 2);
    json_decref(to);

    /* the credentials are kept sealed: not in Redis's data nor its append-only file */
    redisContext *rc = redisd_connect(&F.redis, 0);
    assert_non_null(rc);
    redisReply *cred = redisCommand(rc, "HGET twilio-block:campaign:{%s}:m cred", id);
    assert_int_equal(cred->type, REDIS_REPLY_STRING);
    assert_null(strstr(cred->str, TOKEN));
    freeReplyObject(cred);

    snprintf(extra, sizeof extra,
             "\"campaignId\":\"%s\",\"recipients\":[{\"to\":\"+14155550102\",\"variables\":"
             "{\"name\":\"Ben\"}},{\"to\":\"+14155550103\",\"variables\":{\"name\":7}},"
             "{\"to\":\"+1.415.555.0101\",\"variables\":{\"name\":\"X\"}}]",
             id);
    const char *cb;
    to = call_as(&F.b, "addCampaignRecipients", CREDS, extra, "chunk-1", &cb);
    assert_string_equal(cb, "success");
    char *first = json_dumps(to, JSON_COMPACT);
    assert_int_equal(get_int(to, "added"), 2);
    assert_int_equal(get_int(to, "duplicates"), 1);
    assert_int_equal(get_int(to, "total"), 3);
    json_decref(to);
    to = call_as(&F.a, "addCampaignRecipients", CREDS, extra, "chunk-1", &cb);
    char *again = json_dumps(to, JSON_COMPACT);
    assert_string_equal(again, first); /* the same answer, nothing added */
    free(first);
    free(again);
    json_decref(to);

    to = control(&F.a, "startCampaign", id);
    assert_string_equal(json_string_value(json_object_get(to, "status")), "running");
    json_decref(to);
    json_t *g = wait_status(&F.b, id, "completed");
    assert_int_equal(get_int(g, "total"), 3);
    assert_int_equal(get_int(g, "counts.sent"), 3);
    assert_counts_add_up(g);
    json_decref(g);
    assert_int_equal(posts_to("+14155550101"), 1);
    assert_int_equal(posts_to("+14155550102"), 1);
    assert_int_equal(posts_to("+14155550103"), 1);
    assert_int_equal(total_posts(), 3);
    pthread_mutex_lock(&up.lock);
    assert_string_equal(up.bodies[slot_of("+14155550102")], "Hi Ben!");
    assert_string_equal(up.bodies[slot_of("+14155550103")], "Hi 7!");
    pthread_mutex_unlock(&up.lock);
    for (int i = 0; i < 100 && up.n_callbacks == 0; i++)
        clock_sleep_ms(20);
    clock_sleep_ms(300);
    pthread_mutex_lock(&up.lock);
    assert_int_equal(up.n_callbacks, 1);
    json_t *cbdoc = json_loads(up.callbacks[0], 0, NULL);
    pthread_mutex_unlock(&up.lock);
    assert_string_equal(json_string_value(json_object_get(cbdoc, "campaignId")), id);
    assert_string_equal(json_string_value(json_object_get(cbdoc, "status")), "completed");
    assert_int_equal(get_int(cbdoc, "counts.sent"), 3);
    json_decref(cbdoc);

    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\",\"status\":\"sent\",\"limit\":1000", id);
    to = call(&F.a, "listCampaignRecipients", extra);
    assert_int_equal(json_array_size(json_object_get(to, "items")), 3);
    assert_int_equal(strlen(json_string_value(json_object_get(
                         json_array_get(json_object_get(to, "items"), 0), "messageSid"))),
                     34);
    json_decref(to);

    cred = redisCommand(rc, "HEXISTS twilio-block:campaign:{%s}:m cred", id);
    assert_int_equal(cred->integer, 0); /* deleted when it ended */
    freeReplyObject(cred);
    redisReply *keys = redisCommand(rc, "KEYS *");
    for (size_t i = 0; i < keys->elements; i++) {
        redisReply *dump = redisCommand(rc, "DUMP %s", keys->element[i]->str);
        for (size_t at = 0; dump->type == REDIS_REPLY_STRING && at + strlen(TOKEN) <= dump->len;
             at++)
            assert_true(memcmp(dump->str + at, TOKEN, strlen(TOKEN)) != 0);
        freeReplyObject(dump);
    }
    freeReplyObject(keys);
    redisFree(rc);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "grep -rqa '%s' %s", TOKEN, F.dir);
    assert_int_not_equal(system(cmd), 0); /* not in the append-only file */
    snprintf(cmd, sizeof cmd, "grep -rqa 'campaign' %s", F.dir);
    assert_int_equal(system(cmd), 0); /* which is there */
}

/* Bad args: REQUIRED_FIELDS naming each, nothing stored; a private statusCallback (in any
 * numeric writing a resolver takes) refused without ALLOW_PRIVATE_CALLBACKS. */
static void test_arg_checks(void **state)
{
    (void)state;
    const char *cb;
    json_t *to = call_as(&F.a, "createCampaign", CREDS, "\"mps\":0", NULL, &cb);
    assert_string_equal(cb, "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "REQUIRED_FIELDS");
    json_t *reasons = json_object_get(to, "reasons");
    assert_non_null(json_object_get(reasons, "mps"));
    assert_non_null(json_object_get(reasons, "from"));
    assert_non_null(json_object_get(reasons, "body"));
    json_decref(to);
    /* every replica's settings alike, as in a deployment: this one's senders would refuse what
     * F.a's accept */
    struct child strict;
    start_child(&strict, "campaign-strict", 0, 1);
    to = call_as(&strict, "createCampaign", CREDS,
                 "\"from\":\"+15005550006\",\"body\":\"x\",\"statusCallback\":"
                 "\"https://127.0.0.1/cb\"",
                 NULL, &cb);
    assert_string_equal(cb, "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "REQUIRED_FIELDS");
    assert_string_equal(json_string_value(json_array_get(json_object_get(to, "fields"), 0)),
                        "statusCallback");
    json_decref(to);
    static const char *const shorthands[] = {"127.1", "2130706433", "0x7f.1"};
    for (size_t i = 0; i < 3; i++) {
        char extra[160];
        snprintf(extra, sizeof extra,
                 "\"from\":\"+15005550006\",\"body\":\"x\",\"statusCallback\":\"https://%s/cb\"",
                 shorthands[i]);
        to = call_as(&strict, "createCampaign", CREDS, extra, NULL, &cb);
        assert_string_equal(cb, "error");
        assert_string_equal(json_string_value(json_object_get(to, "status_code")),
                            "REQUIRED_FIELDS");
        assert_string_equal(json_string_value(json_array_get(json_object_get(to, "fields"), 0)),
                            "statusCallback");
        json_decref(to);
    }
    stop_child(&strict);
    to = call_as(&F.b, "getCampaign", CREDS, "\"campaignId\":\"nope\"", NULL, &cb);
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "REQUIRED_FIELDS");
    assert_non_null(json_object_get(json_object_get(to, "reasons"), "campaignId"));
    json_decref(to);
    redisContext *rc = redisd_connect(&F.redis, 0);
    redisReply *keys = redisCommand(rc, "KEYS twilio-block:campaign:*");
    size_t before = keys->elements;
    freeReplyObject(keys);
    to = call_as(&F.a, "createCampaign", CREDS, "\"from\":\"+15005550006\",\"mps\":20000", NULL,
                 &cb);
    json_decref(to);
    keys = redisCommand(rc, "KEYS twilio-block:campaign:*");
    assert_int_equal(keys->elements, before); /* nothing stored */
    freeReplyObject(keys);
    redisFree(rc);
}

/* Other credentials get the answer a campaign that does not exist gets. */
static void test_ownership(void **state)
{
    (void)state;
    char id[64], extra[256];
    create(&F.a, "\"from\":\"+15005550006\",\"body\":\"x\",\"recipients\":[\"+14155550190\"]", id);
    static const char *const others[] = {
        "\"accountSid\":\"" SID "\",\"accountToken\":\"another-token\"",
        "\"accountSid\":\"ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"accountToken\":\"" TOKEN "\"",
        "\"accountSid\":\"" SID "\",\"apiKeySid\":\"SKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"apiKeySecret\":\"" TOKEN "\""};
    const char *cb;
    json_t *missing = call_as(&F.a, "getCampaign", CREDS,
                              "\"campaignId\":\"CP00000000000000000000000000000000\"", NULL, &cb);
    char *want = json_dumps(missing, JSON_COMPACT);
    json_decref(missing);
    static const char *const blocks[] = {"getCampaign", "startCampaign", "cancelCampaign",
                                         "listCampaignRecipients"};
    for (size_t i = 0; i < 3; i++) {
        for (size_t j = 0; j < 4; j++) {
            snprintf(extra, sizeof extra, "\"campaignId\":\"%s\"", id);
            json_t *to = call_as(&F.b, blocks[j], others[i], extra, NULL, &cb);
            char *got = json_dumps(to, JSON_COMPACT);
            assert_string_equal(cb, "error");
            assert_string_equal(got, want);
            free(got);
            json_decref(to);
        }
    }
    free(want);
    json_t *g = control(&F.b, "getCampaign", id); /* still a draft, for its owner */
    assert_string_equal(json_string_value(json_object_get(g, "status")), "draft");
    json_decref(g);
    json_decref(control(&F.a, "cancelCampaign", id));
    assert_int_equal(posts_to("+14155550190"), 0);
}

/* mps 2: pause holds (no POST while paused), resume goes on, cancel marks the rest cancelled. */
static void test_pause_cancel(void **state)
{
    (void)state;
    char id[64];
    up_reset(0, 0);
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":2,\"recipients\":[\"+14155550201\","
           "\"+14155550202\",\"+14155550203\",\"+14155550204\",\"+14155550205\",\"+14155550206\","
           "\"+14155550207\",\"+14155550208\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    wait_posts(1);
    json_t *to = control(&F.b, "pauseCampaign", id);
    assert_string_equal(json_string_value(json_object_get(to, "status")), "paused");
    json_decref(to);
    clock_sleep_ms(1000); /* what was in flight settles */
    int held = total_posts();
    clock_sleep_ms(1500);
    assert_int_equal(total_posts(), held);
    json_t *g = control(&F.a, "getCampaign", id);
    assert_string_equal(json_string_value(json_object_get(g, "status")), "paused");
    assert_int_equal(get_int(g, "counts.sent"), held);
    assert_counts_add_up(g);
    json_decref(g);
    json_decref(control(&F.b, "resumeCampaign", id));
    wait_posts(held + 1);
    to = control(&F.a, "cancelCampaign", id);
    assert_string_equal(json_string_value(json_object_get(to, "status")), "cancelled");
    json_decref(to);
    clock_sleep_ms(1000);
    int sent = total_posts();
    clock_sleep_ms(1000);
    assert_int_equal(total_posts(), sent);
    g = control(&F.a, "getCampaign", id);
    assert_string_equal(json_string_value(json_object_get(g, "status")), "cancelled");
    assert_int_equal(get_int(g, "counts.sent"), sent);
    assert_int_equal(get_int(g, "counts.cancelled"), 8 - sent);
    assert_true(sent < 8);
    assert_counts_add_up(g);
    json_decref(g);
    char extra[96];
    const char *cb;
    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\"", id);
    to = call_as(&F.a, "resumeCampaign", CREDS, extra, NULL, &cb);
    assert_string_equal(cb, "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "CAMPAIGN_STATE");
    json_decref(to);
}

/* startCampaign on a running campaign that the senders' running set lost puts it back there:
 * "running" is never answered for a campaign no sender will see. */
static void test_start_readds(void **state)
{
    (void)state;
    char id[64];
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":1,\"recipients\":[\"+14155550251\","
           "\"+14155550252\",\"+14155550253\",\"+14155550254\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    redisContext *rc = redisd_connect(&F.redis, 0);
    freeReplyObject(redisCommand(rc, "SREM twilio-block:campaigns:running %s", id));
    json_t *to = control(&F.b, "startCampaign", id);
    assert_string_equal(json_string_value(json_object_get(to, "status")), "running");
    json_decref(to);
    redisReply *in = redisCommand(rc, "SISMEMBER twilio-block:campaigns:running %s", id);
    assert_int_equal(in->integer, 1);
    freeReplyObject(in);
    redisFree(rc);
    json_decref(control(&F.a, "cancelCampaign", id));
}

/* Three recipients, after the refusals the caller set the stand-in up to answer first (two,
 * each processing nothing): each is sent later, once, none fails, and the campaign completes. */
static void three_sent_once_after_two_refusals(const char *recipients)
{
    char id[64], extra[256];
    snprintf(extra, sizeof extra,
             "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":50,\"recipients\":%s", recipients);
    create(&F.a, extra, id);
    json_decref(control(&F.a, "startCampaign", id));
    json_t *g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.sent"), 3);
    assert_int_equal(get_int(g, "counts.failed"), 0);
    assert_counts_add_up(g);
    json_decref(g);
    assert_int_equal(total_posts(), 5); /* two refused, then one each */
    pthread_mutex_lock(&up.lock);
    for (int i = 0; i < 3; i++)
        assert_int_equal(up.accepted[i], 1);
    pthread_mutex_unlock(&up.lock);
}

/* A 429 processes nothing: the recipient is sent later, once; the campaign completes. */
static void test_rate_limited(void **state)
{
    (void)state;
    up_reset(0, 2);
    three_sent_once_after_two_refusals("[\"+14155550301\",\"+14155550302\",\"+14155550303\"]");
}

/* listCampaignRecipients answers at most limit recipients a page, even where Redis answers a
 * small campaign's recipients in one HSCAN page, and the pages together hold each once. */
static void test_list_pages(void **state)
{
    (void)state;
    char id[64], extra[256];
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"recipients\":[\"+14155550321\","
           "\"+14155550322\",\"+14155550323\",\"+14155550324\",\"+14155550325\"]",
           id);
    json_t *seen = json_object();
    char cursor[64] = "";
    int pages = 0, more = 1;
    while (more) {
        if (*cursor)
            snprintf(extra, sizeof extra, "\"campaignId\":\"%s\",\"limit\":2,\"cursor\":\"%s\"", id,
                     cursor);
        else
            snprintf(extra, sizeof extra, "\"campaignId\":\"%s\",\"limit\":2", id);
        json_t *page = call(&F.a, "listCampaignRecipients", extra);
        json_t *items = json_object_get(page, "items");
        assert_true(json_array_size(items) <= 2);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it) {
            const char *to = json_string_value(json_object_get(it, "to"));
            assert_null(json_object_get(seen, to));
            json_object_set_new(seen, to, json_true());
        }
        more = json_is_true(json_object_get(page, "more"));
        snprintf(cursor, sizeof cursor, "%s",
                 more ? json_string_value(json_object_get(page, "cursor")) : "");
        json_decref(page);
        assert_true(++pages <= 10);
    }
    assert_int_equal(json_object_size(seen), 5);
    assert_true(pages >= 3);
    json_decref(seen);
    json_decref(control(&F.a, "cancelCampaign", id));
}

/* 21611 (the sender's queue at Twilio is full) fails no one: the recipient is sent again once
 * the account's hold has passed. */
static void test_queue_full(void **state)
{
    (void)state;
    up_reset(0, 0);
    pthread_mutex_lock(&up.lock);
    up.queue_full = 2;
    pthread_mutex_unlock(&up.lock);
    three_sent_once_after_two_refusals("[\"+14155550311\",\"+14155550312\",\"+14155550313\"]");
}

/* A 429 answered while the next sender waits at the bucket (mps 1, each answer 300 ms late):
 * that sender must not send before the Retry-After has run out. */
static void test_hold_at_bucket(void **state)
{
    (void)state;
    char id[64];
    up_reset(300, 1);
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":1,\"recipients\":[\"+14155550311\","
           "\"+14155550312\",\"+14155550313\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    json_t *g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.sent"), 3);
    json_decref(g);
    pthread_mutex_lock(&up.lock);
    int in_hold = up.in_hold;
    pthread_mutex_unlock(&up.lock);
    assert_int_equal(in_hold, 0);
    up_reset(0, 0);
}

/* 21610 fails that recipient only and opts it out for the sender: the next campaign from that
 * sender skips it without a request; another sender still sends to it. */
static void test_opt_out(void **state)
{
    (void)state;
    char id[64], extra[200];
    up_reset(0, 0);
    create(&F.a,
           "\"from\":\"+15005550007\",\"body\":\"x\",\"mps\":50,\"recipients\":[\"+15005550004\","
           "\"+15005550001\",\"+14155550401\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    json_t *g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.sent"), 1);
    assert_int_equal(get_int(g, "counts.failed"), 2);
    json_decref(g);
    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\",\"status\":\"failed\"", id);
    json_t *to = call(&F.a, "listCampaignRecipients", extra);
    json_t *items = json_object_get(to, "items");
    assert_int_equal(json_array_size(items), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *it = json_array_get(items, i);
        long long code = get_int(it, "errorCode");
        assert_true(code == 21610 || code == 21211);
        assert_non_null(json_string_value(json_object_get(it, "errorMessage")));
    }
    json_decref(to);
    create(&F.b,
           "\"from\":\"+15005550007\",\"body\":\"x\",\"mps\":50,\"recipients\":[\"+15005550004\","
           "\"+14155550402\"]",
           id);
    json_decref(control(&F.b, "startCampaign", id));
    g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.skipped"), 1);
    assert_int_equal(get_int(g, "counts.sent"), 1);
    assert_counts_add_up(g);
    json_decref(g);
    assert_int_equal(posts_to("+15005550004"), 1); /* only the first campaign's */
}

/* Replica a SIGKILLed while its sends are in flight: they become maybeSent (never sent again);
 * the rest are sent by a replica started after; each To at most once. */
static void test_replica_killed(void **state)
{
    (void)state;
    char id[64];
    up_reset(2500, 0);
    child_stop(&F.b);
    unlink(F.b.log);
    F.b.pid = 0;
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":2,\"recipients\":[\"+14155550501\","
           "\"+14155550502\",\"+14155550503\",\"+14155550504\",\"+14155550505\","
           "\"+14155550506\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    wait_posts(2);
    kill_child(&F.a);
    int in_flight = total_posts();
    pthread_mutex_lock(&up.lock);
    up.delay_ms = 0;
    pthread_mutex_unlock(&up.lock);
    start_child(&F.b, "campaign-b", 1, 1);
    json_t *g = wait_status(&F.b, id, "completed");
    assert_int_equal(get_int(g, "counts.maybeSent"), in_flight);
    assert_int_equal(get_int(g, "counts.sent"), 6 - in_flight);
    assert_counts_add_up(g);
    json_decref(g);
    for (int i = 1; i <= 6; i++) {
        char to[16];
        snprintf(to, sizeof to, "+1415555050%d", i);
        assert_int_equal(posts_to(to), 1);
    }
    start_child(&F.a, "campaign-a", 1, 1);
}

/* Redis SIGKILLed while sends are in flight and started again from its append-only file: the
 * campaign completes, no To twice, and every recipient ends in one state. */
static void test_redis_killed(void **state)
{
    (void)state;
    char id[64];
    up_reset(800, 0);
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":4,\"recipients\":[\"+14155550601\","
           "\"+14155550602\",\"+14155550603\",\"+14155550604\",\"+14155550605\","
           "\"+14155550606\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    wait_posts(2);
    kill(F.redis.pid, SIGKILL);
    waitpid(F.redis.pid, NULL, 0);
    F.redis.pid = 0;
    clock_sleep_ms(1500); /* the sends in flight end while Redis is away */
    assert_int_equal(redisd_restart(&F.redis), 0);
    pthread_mutex_lock(&up.lock);
    up.delay_ms = 0;
    pthread_mutex_unlock(&up.lock);
    /* Redis answers LOADING while it reads its append-only file back (PING and INFO pass
     * before that ends, between the file's parts): the service says CAMPAIGN_STORE_UNAVAILABLE
     * then, "try again shortly", and a caller does */
    char extra[128];
    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\"", id);
    const char *cb = "";
    for (int i = 0; i < 50; i++) {
        json_t *to = call_as(&F.b, "getCampaign", CREDS, extra, NULL, &cb);
        const char *code = json_string_value(json_object_get(to, "status_code"));
        int unavailable = code && strcmp(code, "CAMPAIGN_STORE_UNAVAILABLE") == 0;
        json_decref(to);
        if (!unavailable)
            break;
        clock_sleep_ms(100);
    }
    assert_string_equal(cb, "success");
    json_t *g = wait_status(&F.b, id, "completed");
    assert_counts_add_up(g);
    assert_int_equal(get_int(g, "counts.sent") + get_int(g, "counts.maybeSent"), 6);
    assert_true(get_int(g, "counts.sent") >= total_posts() - get_int(g, "counts.maybeSent"));
    json_decref(g);
    for (int i = 1; i <= 6; i++) {
        char to[16];
        snprintf(to, sizeof to, "+1415555060%d", i);
        assert_true(posts_to(to) <= 1);
    }
}

/* How many lines of c's log contain what. */
static int log_count(const struct child *c, const char *what)
{
    FILE *f = fopen(c->log, "r");
    char line[4096];
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

/* At mps 1 each sender has read its entry long before its turn at the bucket comes: it keeps
 * the entry its own while it waits (past CAMPAIGN_RECLAIM_MS, 1.5 s here), so no other sender
 * takes it over (spending a turn at the bucket on it, or marking it maybeSent). */
static void test_slow_pace_keeps_entries(void **state)
{
    (void)state;
    static const char taken_over[] = "took over a recipient";
    char id[64];
    up_reset(0, 0);
    const int before = log_count(&F.a, taken_over) + log_count(&F.b, taken_over);
    create(&F.a,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":1,\"recipients\":[\"+14155550801\","
           "\"+14155550802\",\"+14155550803\",\"+14155550804\",\"+14155550805\"]",
           id);
    json_decref(control(&F.a, "startCampaign", id));
    json_t *g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.sent"), 5);
    assert_int_equal(get_int(g, "counts.maybeSent"), 0);
    json_decref(g);
    assert_int_equal(log_count(&F.a, taken_over) + log_count(&F.b, taken_over), before);
    for (int i = 1; i <= 5; i++) {
        char to[16];
        snprintf(to, sizeof to, "+1415555080%d", i);
        assert_int_equal(posts_to(to), 1);
    }
}

/* Without REDIS_URL: in process, said in getCampaign; the same blocks and counts. */
/* Calls of command (lower case) Redis has answered so far, scripts' included (INFO
 * commandstats). */
static long command_calls(redisContext *rc, const char *command)
{
    char name[64];
    snprintf(name, sizeof name, "cmdstat_%s:calls=", command);
    redisReply *info = redisCommand(rc, "INFO commandstats");
    assert_non_null(info);
    const char *at = info->type == REDIS_REPLY_STRING ? strstr(info->str, name) : NULL;
    long n = at ? strtol(at + strlen(name), NULL, 10) : 0;
    freeReplyObject(info);
    return n;
}

/* 64 senders on a campaign of 200 at mps 100: each sender books its send at the bucket
 * (HMGET, once a look) and waits for its turn, so the bucket is asked about once per recipient.
 * Asked until a token was free, it was asked about 64 times per recipient. The pace holds:
 * after the bucket's 5 tokens, 195 more take at least 1.95 s (a bound below, never a speed). */
static void test_senders_book_their_sends(void **state)
{
    (void)state;
    char extra[8192], id[64];
    size_t n =
        (size_t)snprintf(extra, sizeof extra,
                         "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":100,\"recipients\":[");
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(extra + n, sizeof extra - n, "%s\"+1415556%04d\"", i ? "," : "", i);
    snprintf(extra + n, sizeof extra - n, "]");
    up_reset(0, 0);
    redisContext *rc = redisd_connect(&F.redis, 0);
    assert_non_null(rc);
    create(&F.a, extra, id);
    long before = command_calls(rc, "hmget");
    long started = clock_ms();
    json_decref(control(&F.b, "startCampaign", id));
    wait_posts(200);
    long took = clock_ms() - started;
    json_t *g = wait_status(&F.a, id, "completed");
    assert_int_equal(get_int(g, "counts.sent"), 200);
    json_decref(g);
    long asked = command_calls(rc, "hmget") - before;
    redisFree(rc);
    assert_int_equal(total_posts(), 200);
    if (asked > 300)
        fail_msg("the bucket was asked %ld times for 200 recipients", asked);
    if (took < 1950)
        fail_msg("200 recipients at mps 100 went out in %ld ms", took);
}

/* Two idle replicas of 32 senders each: one sender per replica looks for running campaigns
 * (once a second), the others wait for it, so Redis is not asked 64 times a second. */
static void test_idle_replicas_ask_little(void **state)
{
    (void)state;
    redisContext *rc = redisd_connect(&F.redis, 0);
    assert_non_null(rc);
    long before = command_calls(rc, "smembers");
    sleep(3);
    long asked = command_calls(rc, "smembers") - before;
    redisFree(rc);
    if (asked >= 32)
        fail_msg("idle replicas asked Redis for the running campaigns %ld times in 3 s", asked);
}

/* A replica takes no request before its campaigns are up: a createCampaign sent the moment its
 * port accepts is served (it once answered CAMPAIGNS_UNAVAILABLE, "not started", to 19 of 20
 * such starts). Five starts, each asked as soon as a connection is made. */
static void test_first_request_finds_campaigns(void **state)
{
    (void)state;
    char base[64], port[16];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", F.up_port);
    const char body[] = "{" CREDS ",\"from\":\"+15005550006\",\"body\":\"Hello\"}";
    char head[256];
    snprintf(head, sizeof head,
             "POST /api/twilio/createCampaign HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
             sizeof body - 1);
    const char *parts[] = {head, body};
    int run = 0;
    for (int starts = 0; run < 5 && starts < 10; starts++) {
        snprintf(port, sizeof port, "%d", redisd_free_port());
        const char *const env[] = {"PORT",
                                   port,
                                   "THREADS",
                                   "16",
                                   "REDIS_URL",
                                   F.redis_url,
                                   "CAMPAIGN_SECRET",
                                   "test-campaign-passphrase",
                                   "TWILIO_API_BASE",
                                   base,
                                   NULL};
        struct child c;
        child_spawn(&c, binary, "campaign-first", env);
        struct buf out;
        int tries = 0, exited = 0;
        while (raw_request(atoi(port), parts, 2, 0, &out) < 0 && ++tries < 20000 &&
               !(exited = waitpid(c.pid, NULL, WNOHANG) == c.pid)) {
            buf_free(&out);
            clock_sleep_ms(1);
        }
        /* Another test's server may take the port between redisd_free_port and the child's bind:
         * it answers, not with an envelope, and the child exits (the port is in use). */
        for (int waited = 0; !exited && !strstr(buf_str(&out), "\"callback\":") && waited < 5000;
             waited += 10) {
            exited = waitpid(c.pid, NULL, WNOHANG) == c.pid;
            if (!exited)
                clock_sleep_ms(10);
        }
        if (exited) { /* the port was taken before the child bound it: another one */
            buf_free(&out);
            unlink(c.log);
            continue;
        }
        int served = strstr(buf_str(&out), "\"callback\":\"success\"") != NULL;
        kill_child(&c);
        if (!served)
            fail_msg("start %d: the first createCampaign got %.300s", run, buf_str(&out));
        buf_free(&out);
        run++;
    }
    assert_int_equal(run, 5);
}

/* A replica opens one store of webhook deliveries, for its HTTP side: the campaign senders'
 * own send service takes no deliveries, so it opens none (nor a connection to Redis for one). */
static void test_one_delivery_store(void **state)
{
    (void)state;
    const char *delivery = "webhook delivery store: Redis at redis://";
    assert_int_equal(child_log_count(&F.a, delivery), 1);
    assert_int_equal(child_log_count(&F.b, delivery), 1);
}

static void test_in_process(void **state)
{
    (void)state;
    char base[64], id[64], extra[128];
    struct child c;
    snprintf(base, sizeof base, "http://127.0.0.1:%d", F.up_port);
    const char *const env[] = {"TWILIO_API_BASE", base, "RETRY_MAX", "0", NULL};
    up_reset(0, 0);
    child_start(&c, binary, "campaign-local", env, 10000);
    create(&c,
           "\"from\":\"+15005550006\",\"body\":\"x\",\"mps\":50,\"recipients\":[\"+14155550701\","
           "\"+14155550702\",\"+15005550001\"]",
           id);
    json_decref(control(&c, "startCampaign", id));
    json_t *g = wait_status(&c, id, "completed");
    assert_string_equal(json_string_value(json_object_get(g, "store")), "memory");
    assert_int_equal(get_int(g, "counts.sent"), 2);
    assert_int_equal(get_int(g, "counts.failed"), 1);
    assert_counts_add_up(g);
    json_decref(g);
    snprintf(extra, sizeof extra, "\"campaignId\":\"%s\",\"limit\":2", id);
    json_t *page = call(&c, "listCampaignRecipients", extra);
    assert_int_equal(json_array_size(json_object_get(page, "items")), 2);
    assert_true(json_is_true(json_object_get(page, "more")));
    json_decref(page);
    /* read as checked: a padded id and a padded, re-cased status */
    snprintf(extra, sizeof extra, "\"campaignId\":\" %s \",\"status\":\" Failed \"", id);
    page = call(&c, "listCampaignRecipients", extra);
    json_t *items = json_object_get(page, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "status")),
                        "failed");
    json_decref(page);
    assert_int_equal(posts_to("+14155550701"), 1);
    assert_int_equal(total_posts(), 3);
    child_stop(&c);
    unlink(c.log);
}

/* REDIS_URL without CAMPAIGN_SECRET: the service starts, campaign blocks name the setting. */
static void test_secret_missing(void **state)
{
    (void)state;
    struct child c;
    start_child(&c, "campaign-nosecret", 0, 0);
    const char *cb;
    json_t *to =
        call_as(&c, "createCampaign", CREDS, "\"from\":\"+15005550006\",\"body\":\"x\"", NULL, &cb);
    assert_string_equal(cb, "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")),
                        "CAMPAIGNS_UNAVAILABLE");
    assert_non_null(
        strstr(json_string_value(json_object_get(to, "status_msg")), "CAMPAIGN_SECRET"));
    json_decref(to);
    char url[64];
    struct http_reply r;
    snprintf(url, sizeof url, "http://127.0.0.1:%d/healthz", c.port);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    child_stop(&c);
    unlink(c.log);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s path/to/twilio-block\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idle_replicas_ask_little),
        cmocka_unit_test(test_one_delivery_store),
        cmocka_unit_test(test_first_request_finds_campaigns),
        cmocka_unit_test(test_lifecycle),
        cmocka_unit_test(test_slow_pace_keeps_entries),
        cmocka_unit_test(test_senders_book_their_sends),
        cmocka_unit_test(test_arg_checks),
        cmocka_unit_test(test_ownership),
        cmocka_unit_test(test_pause_cancel),
        cmocka_unit_test(test_start_readds),
        cmocka_unit_test(test_hold_at_bucket),
        cmocka_unit_test(test_rate_limited),
        cmocka_unit_test(test_queue_full),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_opt_out),
        cmocka_unit_test(test_replica_killed),
        cmocka_unit_test(test_redis_killed),
        cmocka_unit_test(test_secret_missing),
        cmocka_unit_test(test_in_process),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
