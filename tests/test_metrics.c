/* GET /metrics: the Prometheus text format parsed strictly (HELP and TYPE before every family,
 * label syntax, no duplicate series), exact values after known requests against the stand-in,
 * histograms cumulative with _count equal to the +Inf bucket, and the label tables bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "harness.h"
#include "metrics.h"

#define TOKEN "tok-SECRET-5a4b3c2d"
#define PROXY_SECRET "proxy-SECRET-7e6f5a"
#define CREDS "\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":\"" TOKEN "\""
#define SMS "{" CREDS ",\"from\":\"+15005550006\",\"to\":\"+14155552671\",\"body\":\"Hi\"}"

static struct harness H;

#define MAX_SAMPLES 4096
#define MAX_FAMILIES 32

struct family {
    char name[128];
    char type[16];
    int help, samples;
};

struct scrape {
    struct {
        char key[512]; /* name{labels} exactly as written */
        double value;
    } sample[MAX_SAMPLES];
    size_t n;
    struct family family[MAX_FAMILIES];
    size_t nf;
};

static int name_char(char c, int first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
           (!first && c >= '0' && c <= '9');
}

static size_t name_len(const char *s)
{
    size_t n = 0;
    while (name_char(s[n], n == 0))
        n++;
    return n;
}

static struct family *family_of(struct scrape *sc, const char *name, size_t n)
{
    for (size_t i = 0; i < sc->nf; i++)
        if (strlen(sc->family[i].name) == n && strncmp(sc->family[i].name, name, n) == 0)
            return &sc->family[i];
    return NULL;
}

/* The family a sample belongs to: itself, or a histogram's name before _bucket/_sum/_count. */
static struct family *sample_family(struct scrape *sc, const char *name, size_t n)
{
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strncmp(name + n - k, suffixes[i], k) == 0) {
            struct family *f = family_of(sc, name, n - k);
            if (f && strcmp(f->type, "histogram") == 0)
                return f;
        }
    }
    struct family *f = family_of(sc, name, n);
    return f && strcmp(f->type, "histogram") != 0 ? f : NULL;
}

/* "# HELP name text" or "# TYPE name type": each once per family, before its samples. */
static void parse_comment(struct scrape *sc, const char *line, size_t len)
{
    int help = strncmp(line, "# HELP ", 7) == 0;
    if (!help && strncmp(line, "# TYPE ", 7) != 0)
        fail_msg("unexpected comment: %.*s", (int)len, line);
    const char *name = line + 7;
    size_t n = name_len(name);
    if (n == 0 || n >= sizeof sc->family[0].name || name[n] != ' ' || 7 + n + 1 >= len)
        fail_msg("bad comment: %.*s", (int)len, line);
    struct family *f = family_of(sc, name, n);
    if (!f) {
        assert_true(sc->nf < MAX_FAMILIES);
        f = &sc->family[sc->nf++];
        memcpy(f->name, name, n);
    }
    if (f->samples)
        fail_msg("%s after samples of %s", help ? "HELP" : "TYPE", f->name);
    const char *rest = name + n + 1;
    size_t rest_len = len - 7 - n - 1;
    if (help) {
        if (f->help++)
            fail_msg("two HELP lines for %s", f->name);
        return;
    }
    if (f->type[0])
        fail_msg("two TYPE lines for %s", f->name);
    if (!((rest_len == 7 && strncmp(rest, "counter", 7) == 0) ||
          (rest_len == 5 && strncmp(rest, "gauge", 5) == 0) ||
          (rest_len == 9 && strncmp(rest, "histogram", 9) == 0)))
        fail_msg("bad TYPE: %.*s", (int)len, line);
    memcpy(f->type, rest, rest_len);
}

/* Returns the length of a valid {label="value",...} block, escapes included. */
static size_t parse_labels(const char *s, size_t len)
{
    size_t i = 1;
    for (;;) {
        size_t n = name_len(s + i);
        if (n == 0 || i + n + 1 >= len || s[i + n] != '=' || s[i + n + 1] != '"')
            fail_msg("bad label at: %.*s", (int)len, s);
        i += n + 2;
        while (i < len && s[i] != '"') {
            if (s[i] == '\n')
                fail_msg("raw newline in a label value");
            if (s[i] == '\\') {
                if (i + 1 >= len || (s[i + 1] != '\\' && s[i + 1] != '"' && s[i + 1] != 'n'))
                    fail_msg("bad escape in: %.*s", (int)len, s);
                i++;
            }
            i++;
        }
        if (i + 1 >= len)
            fail_msg("unterminated labels: %.*s", (int)len, s);
        i++;
        if (s[i] == '}')
            return i + 1;
        if (s[i] != ',')
            fail_msg("bad label separator: %.*s", (int)len, s);
        i++;
    }
}

static void parse_sample(struct scrape *sc, const char *line, size_t len)
{
    size_t n = name_len(line);
    if (n == 0)
        fail_msg("bad sample: %.*s", (int)len, line);
    struct family *f = sample_family(sc, line, n);
    if (!f || !f->help || !f->type[0])
        fail_msg("sample without HELP and TYPE: %.*s", (int)len, line);
    f->samples++;
    size_t key = n + (line[n] == '{' ? parse_labels(line + n, len - n) : 0);
    if (key >= len || line[key] != ' ' || key >= sizeof sc->sample[0].key)
        fail_msg("bad sample: %.*s", (int)len, line);
    char value[64], *end;
    if (len - key - 1 == 0 || len - key - 1 >= sizeof value)
        fail_msg("bad value: %.*s", (int)len, line);
    memcpy(value, line + key + 1, len - key - 1);
    value[len - key - 1] = '\0';
    double v = strtod(value, &end);
    if (*end != '\0')
        fail_msg("bad value: %.*s", (int)len, line);
    for (size_t i = 0; i < sc->n; i++)
        if (strlen(sc->sample[i].key) == key && strncmp(sc->sample[i].key, line, key) == 0)
            fail_msg("duplicate series: %.*s", (int)key, line);
    assert_true(sc->n < MAX_SAMPLES);
    memcpy(sc->sample[sc->n].key, line, key);
    sc->sample[sc->n].key[key] = '\0';
    sc->sample[sc->n++].value = v;
}

static void parse(const char *text, struct scrape *sc)
{
    memset(sc, 0, sizeof *sc);
    size_t total = strlen(text);
    assert_true(total > 0);
    assert_int_equal(text[total - 1], '\n');
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = (size_t)(nl - line);
        if (len == 0)
            fail_msg("empty line");
        if (line[0] == '#')
            parse_comment(sc, line, len);
        else
            parse_sample(sc, line, len);
        line = nl + 1;
    }
    for (size_t i = 0; i < sc->nf; i++) {
        const struct family *f = &sc->family[i];
        if (!f->help || !f->type[0])
            fail_msg("%s lacks HELP or TYPE", f->name);
        size_t n = strlen(f->name);
        if (strcmp(f->type, "counter") == 0 && (n < 6 || strcmp(f->name + n - 6, "_total") != 0))
            fail_msg("counter %s does not end in _total", f->name);
    }
}

/* The value of one series, -1 when absent. */
static double value(const struct scrape *sc, const char *key)
{
    for (size_t i = 0; i < sc->n; i++)
        if (strcmp(sc->sample[i].key, key) == 0)
            return sc->sample[i].value;
    return -1;
}

static size_t count_prefix(const struct scrape *sc, const char *prefix)
{
    size_t k = 0;
    for (size_t i = 0; i < sc->n; i++)
        k += strncmp(sc->sample[i].key, prefix, strlen(prefix)) == 0;
    return k;
}

static const char *const le[] = {"0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "15", "+Inf"};
#define N_LE (sizeof le / sizeof le[0])

/* Every bucket present in order and cumulative; _count equals +Inf; _sum present. Returns
 * the count. */
static double histogram(const struct scrape *sc, const char *block)
{
    char key[256];
    double last = 0;
    for (size_t i = 0; i < N_LE; i++) {
        snprintf(key, sizeof key,
                 "twilio_block_upstream_duration_seconds_bucket{block=\"%s\",le=\"%s\"}", block,
                 le[i]);
        double v = value(sc, key);
        if (v < last)
            fail_msg("%s: %g after %g, not cumulative (or absent)", key, v, last);
        last = v;
    }
    snprintf(key, sizeof key, "twilio_block_upstream_duration_seconds_count{block=\"%s\"}", block);
    assert_true(value(sc, key) == last);
    snprintf(key, sizeof key, "twilio_block_upstream_duration_seconds_sum{block=\"%s\"}", block);
    assert_true(value(sc, key) >= 0);
    return last;
}

static double bucket(const struct scrape *sc, const char *block, const char *bound)
{
    char key[256];
    snprintf(key, sizeof key,
             "twilio_block_upstream_duration_seconds_bucket{block=\"%s\",le=\"%s\"}", block, bound);
    return value(sc, key);
}

static double requests(const struct scrape *sc, const char *block, const char *outcome)
{
    char key[256];
    snprintf(key, sizeof key, "twilio_block_requests_total{block=\"%s\",outcome=\"%s\"}", block,
             outcome);
    return value(sc, key);
}

static double per_block(const struct scrape *sc, const char *name, const char *block)
{
    char key[256];
    snprintf(key, sizeof key, "%s{block=\"%s\"}", name, block);
    return value(sc, key);
}

/* GETs /metrics and parses it strictly. */
static void scrape(struct scrape *sc)
{
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/metrics", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_true(r.request_id[0] != '\0');
    if (strstr(buf_str(&r.body), TOKEN) || strstr(buf_str(&r.body), PROXY_SECRET))
        fail_msg("a secret reached /metrics");
    parse(buf_str(&r.body), sc);
    http_reply_free(&r);
}

/* Scrapes until no other request is in flight, so every request answered before counts:
 * the server counts a request just after its reply. Returns how many scrapes it took. */
static int settled(struct scrape *sc)
{
    for (int n = 1; n <= 250; n++) {
        scrape(sc);
        if (value(sc, "twilio_block_requests_in_flight") == 1)
            return n;
        clock_sleep_ms(20);
    }
    fail_msg("requests stayed in flight");
    return 0;
}

static void call(const char *method, const char *path, const char *body, const char *const *extra,
                 long status)
{
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s%s", H.url, path);
    assert_int_equal(http_call_ex(method, url, "application/json", NULL, extra, body,
                                  body ? strlen(body) : 0, &r),
                     0);
    assert_int_equal(r.status, status);
    http_reply_free(&r);
}

static int start(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    cfg.upstream_timeout_ms = 5000;
    return harness_start_with(&H, &cfg);
}

static int stop(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

static struct scrape SC, BEFORE; /* large: not on a test's stack */

/* How much a series grew between BEFORE and SC (an absent series counts as 0). */
static double grew(const char *key)
{
    double a = value(&BEFORE, key), b = value(&SC, key);
    return (b < 0 ? 0 : b) - (a < 0 ? 0 : a);
}

static double grew_requests(const char *block, const char *outcome)
{
    char key[256];
    snprintf(key, sizeof key, "twilio_block_requests_total{block=\"%s\",outcome=\"%s\"}", block,
             outcome);
    return grew(key);
}

/* Series with this prefix that changed between BEFORE and SC. */
static size_t changed(const char *prefix)
{
    size_t k = 0;
    for (size_t i = 0; i < SC.n; i++)
        k += strncmp(SC.sample[i].key, prefix, strlen(prefix)) == 0 && grew(SC.sample[i].key) != 0;
    return k;
}

static double grew_per_block(const char *name, const char *block)
{
    char key[256];
    snprintf(key, sizeof key, "%s{block=\"%s\"}", name, block);
    return grew(key);
}

static double grew_bucket(const char *block, const char *bound)
{
    char key[256];
    snprintf(key, sizeof key,
             "twilio_block_upstream_duration_seconds_bucket{block=\"%s\",le=\"%s\"}", block, bound);
    return grew(key);
}

/* Runs first, on the group's fresh server. */
static void fresh_server_shows_its_families(void **state)
{
    (void)state;
    scrape(&SC);
    assert_true(value(&SC, "twilio_block_build_info{version=\"" TWILIO_BLOCK_VERSION "\"}") == 1);
    assert_true(value(&SC, "twilio_block_start_time_seconds") > 1.6e9);
    assert_true(value(&SC, "twilio_block_requests_in_flight") == 1); /* the scrape itself */
    assert_int_equal(count_prefix(&SC, "twilio_block_requests_total"), 0);
    assert_int_equal(count_prefix(&SC, "twilio_block_upstream_responses_total"), 0);
    const size_t n = block_count(H.blocks);
    assert_true(n >= 3);
    for (size_t i = 0; i < n; i++) { /* every block, at zero */
        const char *name = block_at(H.blocks, i)->name;
        assert_true(histogram(&SC, name) == 0);
        assert_true(per_block(&SC, "twilio_block_upstream_retries_total", name) == 0);
        assert_true(per_block(&SC, "twilio_block_idempotent_replays_total", name) == 0);
    }
    assert_int_equal(count_prefix(&SC, "twilio_block_upstream_duration_seconds_bucket"), n * N_LE);
    static const char *const families[] = {
        "twilio_block_build_info",
        "twilio_block_start_time_seconds",
        "twilio_block_requests_in_flight",
        "twilio_block_workers",
        "twilio_block_workers_busy",
        "twilio_block_connections_open",
        "twilio_block_connections_closed_early_total",
        "twilio_block_requests_total",
        "twilio_block_upstream_duration_seconds",
        "twilio_block_upstream_retries_total",
        "twilio_block_idempotent_replays_total",
        "twilio_block_upstream_responses_total",
        "twilio_block_campaign_recipients_total",
        "twilio_block_campaigns_ended_total",
    };
    assert_int_equal(SC.nf, sizeof families / sizeof families[0]);
    for (size_t i = 0; i < SC.nf; i++)
        assert_string_equal(SC.family[i].name, families[i]);
    assert_string_equal(SC.family[8].type, "histogram");
}

static void known_requests_give_exact_values(void **state)
{
    (void)state;
    static const char *const key[] = {"Idempotency-Key: metrics-1", NULL};
    standin_clear(H.up);
    settled(&BEFORE);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 200);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 200);
    struct standin_answer refused = {400,
                                     "application/json",
                                     "{\"code\":21211,\"message\":\"Invalid 'To' Phone Number\","
                                     "\"more_info\":\"https://www.twilio.com/docs/errors/21211\","
                                     "\"status\":400}",
                                     0,
                                     NULL,
                                     0};
    standin_answer(H.up, &refused);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 200);
    struct standin_answer limited[] = {
        {429, "application/json", "{\"code\":20429,\"message\":\"Too Many Requests\"}", 0, "0", 0},
        {201, "application/json", standin_message_201, 0, NULL, 0},
    };
    standin_script(H.up, limited, 2);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 200);
    call("POST", "/api/twilio/sendSms", SMS, key, 200);
    call("POST", "/api/twilio/sendSms", SMS, key, 200); /* replayed */
    call("POST", "/api/twilio/makeCall", "{" CREDS "}", NULL, 200);
    call("GET", "/api/twilio/sendSms", NULL, NULL, 405);
    call("GET", "/healthz", NULL, NULL, 200);
    call("GET", "/api/twilio", NULL, NULL, 200);
    call("GET", "/nope", NULL, NULL, 404);
    call("POST", "/api/twilio/nope", "{}", NULL, 404);
    assert_int_equal(standin_count(H.up), 6);
    int scrapes = settled(&SC);

    assert_true(grew_requests("sendSms", "success") == 4);
    assert_true(grew_requests("sendSms", "api_error") == 1);
    assert_true(grew_requests("sendSms", "replayed") == 1);
    assert_true(grew_requests("sendSms", "method_not_allowed") == 1);
    assert_true(grew_requests("makeCall", "invalid_args") == 1);
    assert_true(grew_requests("-", "health") == 1);
    assert_true(grew_requests("-", "metadata") == 1);
    assert_true(grew_requests("-", "not_found") == 1);
    assert_true(grew_requests("-", "unknown_block") == 1);
    /* BEFORE's scrape and those that found a request still in flight; this one is not done */
    assert_true(grew_requests("-", "metrics") == scrapes);
    assert_int_equal(changed("twilio_block_requests_total"), 10);

#define RESPONSES "twilio_block_upstream_responses_total"
    const char *ok = RESPONSES "{block=\"sendSms\",status_class=\"2xx\"}";
    const char *bad = RESPONSES "{block=\"sendSms\",status_class=\"4xx\"}";
    assert_true(grew(ok) == 4);
    assert_true(grew(bad) == 1);
    assert_int_equal(changed("twilio_block_upstream_responses_total"), 2);

    assert_true(grew_per_block("twilio_block_upstream_retries_total", "sendSms") == 1);
    assert_true(grew_per_block("twilio_block_upstream_retries_total", "makeCall") == 0);
    assert_true(grew_per_block("twilio_block_idempotent_replays_total", "sendSms") == 1);
    assert_true(grew_per_block("twilio_block_idempotent_replays_total", "makeCall") == 0);
    /* one observation per Twilio call, its retries inside it */
    assert_true(histogram(&SC, "sendSms") - histogram(&BEFORE, "sendSms") == 5);
    assert_true(histogram(&SC, "makeCall") == 0);
    assert_true(histogram(&SC, "sendMms") == 0);
    assert_true(value(&SC, "twilio_block_requests_in_flight") == 1);
}

static void slow_answer_lands_above_its_delay(void **state)
{
    (void)state;
    struct standin_answer slow = {201, "application/json", standin_message_201, 150, NULL, 0};
    standin_answer(H.up, &slow);
    settled(&BEFORE);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 200);
    settled(&SC);
    assert_true(histogram(&SC, "sendSms") - histogram(&BEFORE, "sendSms") == 1);
    assert_true(grew_bucket("sendSms", "0.05") == 0);
    assert_true(grew_bucket("sendSms", "0.1") == 0);
    assert_true(grew_bucket("sendSms", "+Inf") == 1);
    assert_true(grew("twilio_block_upstream_duration_seconds_sum{block=\"sendSms\"}") >= 0.149);
}

static void *post_sms(void *arg)
{
    long *status = arg;
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio/sendSms", H.url);
    if (http_call("POST", url, SMS, strlen(SMS), &r) == 0)
        *status = r.status;
    http_reply_free(&r);
    return NULL;
}

static void in_flight_counts_requests_being_handled(void **state)
{
    (void)state;
    struct standin_answer slow = {201, "application/json", standin_message_201, 2500, NULL, 0};
    standin_clear(H.up);
    standin_answer(H.up, &slow);
    settled(&BEFORE);
    pthread_t t;
    long status = 0;
    assert_int_equal(pthread_create(&t, NULL, post_sms, &status), 0);
    for (int i = 0; i < 250 && standin_count(H.up) == 0; i++) { /* until Twilio is waited on */
        clock_sleep_ms(10);
    }
    assert_int_equal(standin_count(H.up), 1);
    /* The call is in flight for seconds yet; an earlier scrape may still be finishing. */
    double seen = 0;
    for (int i = 0; i < 50 && seen != 2; i++) {
        scrape(&SC);
        seen = value(&SC, "twilio_block_requests_in_flight");
    }
    assert_true(seen == 2);
    pthread_join(t, NULL);
    assert_int_equal(status, 200);
    settled(&SC); /* back to the scrape alone */
    assert_true(grew_requests("sendSms", "success") == 1);
}

static void metrics_route_methods(void **state)
{
    (void)state;
    char url[160];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/metrics", H.url);
    assert_int_equal(http_call("POST", url, "{}", 2, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    http_reply_free(&r);
    assert_int_equal(http_call("HEAD", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(r.body.len, 0);
    http_reply_free(&r);
}

/* /metrics stays open like /healthz when PROXY_SECRET guards the blocks. */
static void open_when_proxy_secret_is_set(void **state)
{
    (void)state;
    struct config cfg;
    harness_config(&cfg);
    snprintf(cfg.proxy_secret, sizeof cfg.proxy_secret, "%s", PROXY_SECRET);
    assert_int_equal(harness_start_with(&H, &cfg), 0);
    char header[64];
    snprintf(header, sizeof header, "X-RapidAPI-Proxy-Secret: %s", PROXY_SECRET);
    const char *const with[] = {header, NULL};
    call("POST", "/api/twilio/sendSms", SMS, with, 200);
    call("POST", "/api/twilio/sendSms", SMS, NULL, 401);
    settled(&SC);
    assert_true(value(&SC, "twilio_block_requests_total{block=\"sendSms\",outcome=\"success\"}") ==
                1);
    assert_true(
        value(&SC, "twilio_block_requests_total{block=\"sendSms\",outcome=\"unauthorized\"}") == 1);
    harness_stop(&H);
}

/* New outcome strings need no change here: they are interned by content, up to a bound. */
static void label_tables_are_bounded_and_interned_by_content(void **state)
{
    (void)state;
    static char outcomes[80][16];
    static char blocks[70][16];
    static struct metrics metrics, escaped;
    struct metrics *m = &metrics;
    metrics_init(m, 8);
    assert_int_equal(metrics_add_block(m, "sendSms"), 0);
    char a[] = "dry_run", b[] = "dry_run"; /* equal text at two addresses */
    struct metrics_request r = {.block = "sendSms", .outcome = a};
    metrics_request_begin(m);
    metrics_request_end(m, &r);
    r.outcome = b;
    metrics_request_begin(m);
    metrics_request_end(m, &r);
    for (size_t i = 0; i < 80; i++) { /* 63 fit beside dry_run, 17 do not */
        snprintf(outcomes[i], sizeof outcomes[i], "o%zu", i);
        r.outcome = outcomes[i];
        metrics_request_begin(m);
        metrics_request_end(m, &r);
    }
    for (size_t i = 0; i < 70; i++) { /* 63 fit beside sendSms, 7 do not */
        snprintf(blocks[i], sizeof blocks[i], "b%zu", i);
        const struct metrics_figures f = {
            .attempts = 2, .retries = 1, .upstream_status = 503, .upstream_ms = 20000};
        struct metrics_request u = {.block = blocks[i], .outcome = "dry_run", .figures = &f};
        metrics_request_begin(m);
        metrics_request_end(m, &u);
    }
    struct metrics_request q = {.block = "we\"ird\\", .outcome = "dry_run"};
    metrics_request_begin(m);
    metrics_request_end(m, &q);
    struct buf out;
    buf_init(&out, 1u << 20);
    assert_int_equal(metrics_render(m, 0, &out), 0);
    parse(buf_str(&out), &SC);
    assert_true(requests(&SC, "sendSms", "dry_run") == 2);
    assert_true(requests(&SC, "sendSms", "o62") == 1);
    assert_true(requests(&SC, "sendSms", "o63") == -1);
    assert_true(requests(&SC, "sendSms", "other") == 17);
    assert_true(requests(&SC, "b62", "dry_run") == 1);
    assert_true(requests(&SC, "b63", "dry_run") == -1);
    assert_true(requests(&SC, "other", "dry_run") == 8); /* 7 and we"ird\, the table full */
    assert_true(histogram(&SC, "other") == 7);
    assert_true(bucket(&SC, "other", "15") == 0); /* 20 s: only in +Inf */
    assert_true(value(&SC, "twilio_block_upstream_duration_seconds_sum{block=\"other\"}") == 140);
    assert_true(value(&SC, "twilio_block_upstream_retries_total{block=\"b0\"}") == 1);
    assert_true(value(&SC, RESPONSES "{block=\"b0\",status_class=\"5xx\"}") == 1);
    assert_true(value(&SC, "twilio_block_requests_in_flight") == 0);
    buf_free(&out);

    struct metrics *e = &escaped; /* label escaping, with room in the table */
    metrics_init(e, 8);
    metrics_request_begin(e);
    metrics_request_end(e, &q);
    buf_init(&out, 1u << 20);
    assert_int_equal(metrics_render(e, 0, &out), 0);
    parse(buf_str(&out), &SC);
    assert_true(value(&SC, "twilio_block_requests_total"
                           "{block=\"we\\\"ird\\\\\",outcome=\"dry_run\"}") == 1);
    buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_server_shows_its_families),
        cmocka_unit_test(known_requests_give_exact_values),
        cmocka_unit_test(slow_answer_lands_above_its_delay),
        cmocka_unit_test(in_flight_counts_requests_being_handled),
        cmocka_unit_test(metrics_route_methods),
        cmocka_unit_test(label_tables_are_bounded_and_interned_by_content),
    };
    const struct CMUnitTest own_server[] = {
        cmocka_unit_test(open_when_proxy_secret_is_set),
    };
    int failed = cmocka_run_group_tests(tests, start, stop);
    return failed + cmocka_run_group_tests(own_server, NULL, NULL);
}
