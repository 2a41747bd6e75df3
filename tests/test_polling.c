/* The polling triggers (poll.c) against the lister stand-in, which lists resources as Twilio
 * does: newest first, its own order within a second, PageToken pages, inclusive date filters
 * and late arrivals. Time is the test's: the stand-in's clock and the poll's are one variable.
 * With PRISM_URL set (through contract/run.sh), each poll block's requests go to Prism instead,
 * which checks their shape against Twilio's spec. */
#define _DEFAULT_SOURCE /* timegm */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "harness.h"
#include "lister.h"
#include "pipeline.h"
#include "polling.h"
#include "polling_cursor.h"

#define AC "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define CREDS "\"accountSid\":\"" AC "\",\"accountToken\":\"test-token-not-a-secret\""
/* 2026-11-23T09:30:00Z */
#define T0 1795426200LL

static struct harness H;
static struct lister *L;
static _Atomic long long test_now;

static long long clock_now(void)
{
    return atomic_load(&test_now);
}

static void set_now(long long t)
{
    atomic_store(&test_now, t);
    lister_set_now(L, t);
}

static void iso(long long t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void sid_of(const char *prefix, unsigned n, char out[35])
{
    /* not in the order of n, so SID order is not the order they were added in */
    snprintf(out, 35, "%s%08x%024x", prefix, (n * 2654435761u) ^ 0x5bd1e995u, n);
}

/* Posts {CREDS, more} to block and returns the envelope's parsed body (the caller's). */
static json_t *call(const char *block, const char *more)
{
    char body[8192];
    struct http_reply r;
    snprintf(body, sizeof body, "{\"args\":{" CREDS "%s%s}}", more && *more ? "," : "",
             more ? more : "");
    assert_int_equal(harness_post(&H, block, body, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *env = json_loadb(r.body.data, r.body.len, 0, NULL);
    if (!env)
        fail_msg("%s: not JSON: %s", block, buf_str(&r.body));
    http_reply_free(&r);
    return env;
}

/* One poll that must succeed: the answer's "to" (the caller's). */
static json_t *poll_ok(const char *block, const char *cursor, const char *more)
{
    char args[8192];
    snprintf(args, sizeof args, "%s%s%s%s%s", cursor ? "\"cursor\":\"" : "", cursor ? cursor : "",
             cursor ? "\"" : "", cursor && more && *more ? "," : "", more ? more : "");
    json_t *env = call(block, args);
    const char *cb = json_string_value(json_object_get(env, "callback"));
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    if (!cb || strcmp(cb, "success")) {
        char *text = json_dumps(env, JSON_COMPACT);
        fail_msg("%s: %s", block, text);
    }
    json_incref(to);
    json_decref(env);
    assert_true(json_is_array(json_object_get(to, "items")));
    assert_true(json_is_boolean(json_object_get(to, "more")));
    const char *c = json_string_value(json_object_get(to, "cursor"));
    assert_non_null(c);
    assert_true(strlen(c) > 0 && strlen(c) <= 4096);
    return to;
}

static const char *cursor_of(json_t *to)
{
    return json_string_value(json_object_get(to, "cursor"));
}

static size_t items_of(json_t *to)
{
    return json_array_size(json_object_get(to, "items"));
}

static int more_of(json_t *to)
{
    return json_is_true(json_object_get(to, "more"));
}

static const char *sid_at(json_t *to, size_t i)
{
    return json_string_value(
        json_object_get(json_array_get(json_object_get(to, "items"), i), "sid"));
}

/* Whether request i to the stand-in holds text. */
static int request_has(size_t i, const char *text)
{
    char line[2048];
    return lister_request(L, i, line, sizeof line) == 0 && strstr(line, text) != NULL;
}

static int setup(void **state)
{
    (void)state;
    struct config cfg;
    L = lister_start();
    if (!L)
        return -1;
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "http://127.0.0.1:%d", lister_port(L));
    cfg.retry_max = 0;
    /* the docs' example cursor is made with this key */
    snprintf(cfg.cursor_secret, sizeof cfg.cursor_secret, "%s", "docs-example-cursor-secret");
    cfg.now_s = clock_now;
    return harness_start_with(&H, &cfg);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    lister_stop(L);
    return 0;
}

/* Without cursor and since the poll starts now: no items, a cursor, one request of one item
 * that checks the credentials; what was there before is never delivered, what comes after is. */
static void starts_now(void **state)
{
    (void)state;
    char sid[35], fields[64];
    lister_clear(L);
    set_now(T0);
    for (unsigned i = 0; i < 5; i++) {
        sid_of("SM", 100 + i, sid);
        lister_add(L, "Messages", sid, T0 - 100 + i, T0 - 100 + i, NULL);
    }
    /* the example of docs/polling-triggers.md */
    json_t *start = poll_ok("pollMessages", NULL, "\"to\":\"+15005550006\"");
    assert_int_equal(items_of(start), 0);
    assert_false(more_of(start));
    assert_string_equal(cursor_of(start), "AgAAAABrBAeYANHMs5au5Q5LLnMqGThX9dc");
    assert_int_equal(lister_count(L), 1);
    assert_true(request_has(0, "GET /2010-04-01/Accounts/" AC
                               "/Messages.json?To=%2B15005550006&PageSize=1"));
    for (unsigned i = 0; i < 5; i++) {
        sid_of("SM", 200 + i, sid);
        snprintf(fields, sizeof fields, "\"body\":\"n%u\"", i);
        lister_add(L, "Messages", sid, T0 + 1 + i, T0 + 1 + i, fields);
    }
    /* 10 s later nothing is settled yet: nothing is asked */
    set_now(T0 + 10);
    json_t *early = poll_ok("pollMessages", cursor_of(start), NULL);
    assert_int_equal(items_of(early), 0);
    assert_int_equal(lister_count(L), 1);
    set_now(T0 + 45);
    json_t *to = poll_ok("pollMessages", cursor_of(early), NULL);
    assert_int_equal(items_of(to), 5);
    assert_false(more_of(to));
    for (unsigned i = 0; i < 5; i++) {
        char body[16];
        snprintf(body, sizeof body, "n%u", i);
        json_t *item = json_array_get(json_object_get(to, "items"), i);
        assert_string_equal(json_string_value(json_object_get(item, "body")), body);
    }
    char from[32], upto[32], want[160];
    iso(T0, from);
    iso(T0 + 45 - POLLING_SETTLE_S, upto);
    snprintf(want, sizeof want, "Messages.json?PageSize=101&DateSent%%3E=%s&DateSent%%3C=%s", from,
             upto);
    for (char *p = want; *p; p++)
        if (*p == ':')
            memmove(p + 3, p + 1, strlen(p + 1) + 1), memcpy(p, "%3A", 3);
    if (!request_has(1, want)) {
        char line[2048];
        lister_request(L, 1, line, sizeof line);
        fail_msg("want %s in %s", want, line);
    }
    json_decref(start);
    json_decref(early);
    json_decref(to);
}

/* 60 messages in one second, limit 40: 40 then 20, oldest first (by SID within the second),
 * each once, two pages a poll; then a quiet poll costs one request. */
static void sixty_in_one_second(void **state)
{
    (void)state;
    char sid[35], since[64];
    const long long d = T0 + 500;
    lister_clear(L);
    for (unsigned i = 0; i < 60; i++) {
        sid_of("SM", 1000 + i, sid);
        lister_add(L, "Messages", sid, d, d, NULL);
    }
    set_now(d + 40);
    iso(d, since);
    char args[128];
    snprintf(args, sizeof args, "\"since\":\"%s\",\"limit\":40", since);
    json_t *a = poll_ok("pollMessages", NULL, args);
    assert_int_equal(items_of(a), 40);
    assert_true(more_of(a));
    assert_int_equal(lister_count(L), 2);
    assert_true(request_has(0, "PageSize=41"));
    assert_true(request_has(1, "PageToken=PA"));
    json_t *b = poll_ok("pollMessages", cursor_of(a), "\"limit\":40");
    assert_int_equal(items_of(b), 20);
    assert_false(more_of(b));
    assert_int_equal(lister_count(L), 4);
    json_t *seen = json_object();
    const char *prev = "";
    for (size_t i = 0; i < 60; i++) {
        const char *s = i < 40 ? sid_at(a, i) : sid_at(b, i - 40);
        assert_non_null(s);
        assert_null(json_object_get(seen, s));
        assert_true(strcmp(prev, s) < 0); /* oldest first: one second, so by SID */
        json_object_set_new(seen, s, json_true());
        prev = s;
    }
    assert_int_equal(json_object_size(seen), 60);
    /* at once again: nothing after the cursor is settled yet, so nothing is asked */
    json_t *c = poll_ok("pollMessages", cursor_of(b), "\"limit\":40");
    assert_int_equal(items_of(c), 0);
    assert_false(more_of(c));
    assert_int_equal(lister_count(L), 4);
    set_now(d + 400);
    json_t *q = poll_ok("pollMessages", cursor_of(c), "\"limit\":40");
    assert_int_equal(items_of(q), 0);
    assert_int_equal(lister_count(L), 5);
    json_decref(seen);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(q);
}

/* since and limit as their checks read them: padded with white space, as a form field or a
 * pasted value often is, they pass the block's check and the poll reads them the same way. */
static void padded_since_and_limit_work(void **state)
{
    (void)state;
    char sid[35], since[32], args[160];
    const long long d = T0 + 900;
    lister_clear(L);
    for (unsigned i = 0; i < 3; i++) {
        sid_of("SM", 5000 + i, sid);
        lister_add(L, "Messages", sid, d, d, NULL);
    }
    set_now(d + 40);
    iso(d, since);
    snprintf(args, sizeof args, "\"since\":\" %s \",\"limit\":\"\\t2\\n\"", since);
    json_t *a = poll_ok("pollMessages", NULL, args);
    assert_int_equal(items_of(a), 2);
    assert_true(more_of(a));
    snprintf(args, sizeof args, "\"limit\":\" 2 \"");
    json_t *b = poll_ok("pollMessages", cursor_of(a), args);
    assert_int_equal(items_of(b), 1);
    assert_false(more_of(b));
    json_decref(a);
    json_decref(b);
}

struct sim {
    char sid[35];
    long long date, appears;
    int delivered;
    long long at; /* poll time it was delivered */
};

static unsigned lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Resources arriving up to 30 s after their dates, many sharing seconds, polled at uneven
 * intervals with uneven limits (going on at once while more): each exactly once, in (date, SID)
 * order across every answer; with a large limit each by the first poll 35 s after it appeared. */
static void run_simulation(const char *block, const char *coll, const char *prefix, unsigned seed,
                           int small_limits)
{
    enum { N = 300 };
    static struct sim r[N];
    unsigned s = seed;
    long long polls[2000];
    size_t n_polls = 0;
    const long long start = T0 + 10000 + seed * 1000;
    lister_clear(L);
    set_now(start);
    json_t *to = poll_ok(block, NULL, NULL);
    for (unsigned i = 0; i < N; i++) {
        sid_of(prefix, seed * 10000 + i, r[i].sid);
        r[i].date = start + lcg(&s) % 240;
        if (i % 7 == 0)
            r[i].date = start + 100; /* a crowded second */
        r[i].appears = r[i].date + (i % 3 == 0 ? lcg(&s) % 31 : 0);
        r[i].delivered = 0;
        lister_add(L, coll, r[i].sid, r[i].date, r[i].appears, NULL);
    }
    long long now = start, last_date = 0;
    char last_sid[35] = "";
    while (now < start + 400) {
        now += 1 + lcg(&s) % 20;
        set_now(now);
        lister_set_salt(L, lcg(&s));
        int more;
        do {
            char args[64];
            snprintf(args, sizeof args, "\"limit\":%u", small_limits ? 1 + lcg(&s) % 30 : 1000);
            json_t *next = poll_ok(block, cursor_of(to), args);
            json_decref(to);
            to = next;
            polls[n_polls++] = now;
            assert_true(n_polls < sizeof polls / sizeof polls[0]);
            for (size_t k = 0; k < items_of(to); k++) {
                const char *sid = sid_at(to, k);
                size_t i = 0;
                while (i < N && strcmp(r[i].sid, sid))
                    i++;
                assert_true(i < N);
                if (r[i].delivered)
                    fail_msg("%s delivered twice", sid);
                r[i].delivered = 1;
                r[i].at = now;
                if (r[i].date < last_date ||
                    (r[i].date == last_date && strcmp(r[i].sid, last_sid) <= 0))
                    fail_msg("%s out of order", sid);
                last_date = r[i].date;
                snprintf(last_sid, sizeof last_sid, "%s", sid);
            }
            more = more_of(to);
        } while (more);
    }
    for (unsigned i = 0; i < N; i++) {
        if (!r[i].delivered)
            fail_msg("%s (date %lld, appears %lld) never delivered", r[i].sid, r[i].date - start,
                     r[i].appears - start);
        if (small_limits)
            continue;
        size_t p = 0;
        while (p < n_polls && polls[p] < r[i].appears + 35)
            p++;
        if (p < n_polls && r[i].at > polls[p])
            fail_msg("%s appeared at +%lld, delivered at +%lld, after the poll at +%lld", r[i].sid,
                     r[i].appears - start, r[i].at - start, polls[p] - start);
    }
    json_decref(to);
}

static void late_arrivals_exactly_once(void **state)
{
    (void)state;
    run_simulation("pollMessages", "Messages", "SM", 1, 0);
    run_simulation("pollCalls", "Calls", "CA", 2, 1);
    run_simulation("pollRecordings", "Recordings", "RE", 3, 1);
    run_simulation("pollTranscriptions", "Transcriptions", "TR", 4, 0);
    run_simulation("pollIncomingPhoneNumbers", "IncomingPhoneNumbers", "PN", 5, 1);
}

/* The seconds of a date the lister wrote ("Mon, 23 Nov 2026 09:30:00 +0000"), or 0. */
static long long rfc_date(const char *s)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    struct tm tm;
    char mon[4];
    memset(&tm, 0, sizeof tm);
    if (!s ||
        sscanf(s, "%*3s, %d %3s %d %d:%d:%d", &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6 ||
        !strstr(months, mon))
        return 0;
    tm.tm_mon = (int)(strstr(months, mon) - months) / 3;
    tm.tm_year -= 1900;
    return (long long)timegm(&tm);
}

/* Polls until more is false from the answer to; checks each item comes once, oldest first, and
 * that no poll costs more than max_cost requests. Returns the items delivered; *polls counts. */
static size_t drain(json_t *to, size_t max_cost, size_t *polls, size_t limit)
{
    size_t total = 0, before = 0;
    long long last = 0;
    char last_sid[64] = "";
    json_t *seen = json_object();
    before = lister_count(L);
    for (*polls = 1;; (*polls)++) {
        for (size_t k = 0; k < items_of(to); k++) {
            json_t *item = json_array_get(json_object_get(to, "items"), k);
            const char *sid = json_string_value(json_object_get(item, "sid"));
            const char *date = json_string_value(json_object_get(item, "date_sent"));
            long long t = rfc_date(date);
            assert_true(t > 0);
            assert_null(json_object_get(seen, sid));
            json_object_set_new(seen, sid, json_true());
            assert_true(t > last || (t == last && strcmp(sid, last_sid) > 0));
            last = t;
            snprintf(last_sid, sizeof last_sid, "%s", sid);
            total++;
        }
        if (!more_of(to))
            break;
        char args[32];
        snprintf(args, sizeof args, "\"limit\":%zu", limit);
        json_t *next = poll_ok("pollMessages", cursor_of(to), args);
        if (to)
            json_decref(to);
        to = next;
        size_t cost = lister_count(L) - before;
        before = lister_count(L);
        if (cost > max_cost)
            fail_msg("poll %zu cost %zu requests", *polls, cost);
    }
    json_decref(to);
    json_decref(seen);
    return total;
}

/* 1,500 waiting, one a second, limit 100: each poll delivers the 100 oldest in at most four
 * requests (two pages that show the backlog's density, two of a window aimed at it), never
 * the whole backlog. Then a burst (900 in one second after 300 spread out): still each once, in
 * order, a poll costing at most two pages plus the pages of that one second. */
static void backlog_reads_bounded_pages(void **state)
{
    (void)state;
    char sid[35], args[128], since[32];
    const long long d = T0 + 100000, e = T0 + 150000;
    size_t polls;
    lister_clear(L);
    for (unsigned i = 0; i < 1500; i++) {
        sid_of("SM", 50000 + i, sid);
        lister_add(L, "Messages", sid, d + i, d + i, NULL);
    }
    set_now(d + 1500 + 60);
    iso(d, since);
    snprintf(args, sizeof args, "\"since\":\"%s\",\"limit\":100", since);
    json_t *to = poll_ok("pollMessages", NULL, args);
    assert_int_equal(lister_count(L), 4);
    assert_int_equal(items_of(to), 100);
    assert_int_equal(drain(to, 4, &polls, 100), 1500);
    assert_int_equal(polls, 15);

    for (unsigned i = 0; i < 1200; i++) {
        sid_of("SM", 60000 + i, sid);
        long long at = i < 300 ? e + i : e + 400;
        lister_add(L, "Messages", sid, at, at, NULL);
    }
    set_now(e + 500);
    iso(e, since);
    snprintf(args, sizeof args, "\"since\":\"%s\",\"limit\":100", since);
    lister_clear(L);
    to = poll_ok("pollMessages", NULL, args);
    assert_true(items_of(to) >= 1 && items_of(to) <= 100);
    assert_true(lister_count(L) <= 4);
    /* two pages that find the crowded second, then its nine pages of 101 */
    assert_int_equal(drain(to, 2 + 9, &polls, 100), 1200);
    assert_true(polls >= 12 && polls <= 20);
}

/* The block's filters go to Twilio with the date filter, and only matching resources come. */
static void filters_are_sent(void **state)
{
    (void)state;
    char sid[35], fields[128], since[32], args[256];
    const long long d = T0 + 200000;
    lister_clear(L);
    for (unsigned i = 0; i < 6; i++) {
        sid_of("SM", 70000 + i, sid);
        snprintf(fields, sizeof fields, "\"to\":\"%s\",\"from\":\"+15005550006\"",
                 i % 2 ? "+15005550006" : "+15005550009");
        lister_add(L, "Messages", sid, d + i, d + i, fields);
        sid_of("CA", 70000 + i, sid);
        snprintf(fields, sizeof fields, "\"status\":\"%s\"", i % 3 ? "completed" : "busy");
        lister_add(L, "Calls", sid, d + i, d + i, fields);
        sid_of("RE", 70000 + i, sid);
        snprintf(fields, sizeof fields, "\"call_sid\":\"CA%032u\"", i % 2);
        lister_add(L, "Recordings", sid, d + i, d + i, fields);
    }
    set_now(d + 100);
    iso(d, since);
    snprintf(args, sizeof args, "\"since\":\"%s\",\"to\":\"+15005550006\"", since);
    json_t *m = poll_ok("pollMessages", NULL, args);
    assert_int_equal(items_of(m), 3);
    assert_true(request_has(0, "To=%2B15005550006&PageSize=101&DateSent%3E="));
    snprintf(args, sizeof args, "\"since\":\"%s\",\"status\":\"completed\"", since);
    json_t *c = poll_ok("pollCalls", NULL, args);
    assert_int_equal(items_of(c), 4);
    assert_true(request_has(1, "/Calls.json?Status=completed&PageSize=101&StartTime%3E="));
    snprintf(args, sizeof args, "\"since\":\"%s\",\"callSid\":\"CA%032u\"", since, 1);
    json_t *r = poll_ok("pollRecordings", NULL, args);
    assert_int_equal(items_of(r), 3);
    assert_true(request_has(2, "/Recordings.json?CallSid=CA"));
    assert_true(request_has(2, "&DateCreated%3E="));
    json_decref(m);
    json_decref(c);
    json_decref(r);
}

/* Lists without a date filter are read newest first down to the cursor: a quiet poll is one
 * page however long the list. */
static void no_date_filter_stops_at_cursor(void **state)
{
    (void)state;
    char sid[35];
    const long long d = T0 + 300000;
    lister_clear(L);
    for (unsigned i = 0; i < 500; i++) {
        sid_of("PN", 80000 + i, sid);
        lister_add(L, "IncomingPhoneNumbers", sid, d - 5000 + i, d - 5000 + i, NULL);
    }
    set_now(d);
    json_t *start = poll_ok("pollIncomingPhoneNumbers", NULL, NULL);
    for (unsigned i = 0; i < 3; i++) {
        sid_of("PN", 90000 + i, sid);
        lister_add(L, "IncomingPhoneNumbers", sid, d + 1, d + 1, NULL);
    }
    set_now(d + 60);
    json_t *to = poll_ok("pollIncomingPhoneNumbers", cursor_of(start), NULL);
    assert_int_equal(items_of(to), 3);
    assert_int_equal(lister_count(L), 2);
    assert_true(request_has(1, "/IncomingPhoneNumbers.json?PageSize=101"));
    set_now(d + 600);
    json_t *q = poll_ok("pollIncomingPhoneNumbers", cursor_of(to), NULL);
    assert_int_equal(items_of(q), 0);
    assert_int_equal(lister_count(L), 3);
    json_decref(start);
    json_decref(to);
    json_decref(q);
}

#define CURSOR_REFUSED                                                                             \
    FIELDS_ERROR("\"cursor\"", "\"cursor\":\"is not a cursor this block answered for this "        \
                               "account; pass the previous answer's cursor as it is\"")

static void expect_refused(const char *block, const char *args, const char *want)
{
    char body[8192];
    struct http_reply r;
    size_t before = lister_count(L);
    snprintf(body, sizeof body, "{\"args\":{%s}}", args);
    assert_int_equal(harness_post(&H, block, body, &r), 0);
    assert_int_equal(r.status, 200);
    if (want && strcmp(buf_str(&r.body), want))
        fail_msg("%s with %s:\n got %s\nwant %s", block, args, buf_str(&r.body), want);
    if (!want && !strstr(buf_str(&r.body), "REQUIRED_FIELDS"))
        fail_msg("%s with %s: %s", block, args, buf_str(&r.body));
    assert_int_equal(lister_count(L), before); /* nothing fetched */
    http_reply_free(&r);
}

/* A malformed cursor, or one of another block or account, is named and nothing is fetched. */
static void malformed_cursors_are_refused(void **state)
{
    (void)state;
    char args[8192];
    set_now(T0 + 400000);
    lister_clear(L);
    json_t *mine = poll_ok("pollMessages", NULL, NULL);
    json_t *calls = poll_ok("pollCalls", NULL, NULL);
    const char *c = cursor_of(mine);
    const size_t n = strlen(c);
    const char *cases[8];
    char flipped[256], truncated[256], longer[256];
    snprintf(flipped, sizeof flipped, "%s", c);
    flipped[n / 2] = flipped[n / 2] == 'A' ? 'B' : 'A';
    snprintf(truncated, sizeof truncated, "%.*s", (int)(n - 3), c);
    snprintf(longer, sizeof longer, "%sAAAA", c);
    cases[0] = "not a cursor";
    cases[1] = flipped;
    cases[2] = truncated;
    cases[3] = longer;
    cases[4] = cursor_of(calls); /* another block's */
    cases[5] = "AgAAAABrBAeYANHMs5au5Q5LLnMqGThX9dc=";
    for (size_t i = 0; i < 6; i++) {
        snprintf(args, sizeof args, CREDS ",\"cursor\":\"%s\"", cases[i]);
        expect_refused("pollMessages", args, CURSOR_REFUSED);
    }
    /* the same cursor for another account */
    snprintf(args, sizeof args,
             "\"accountSid\":\"ACbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"accountToken\":\"t\","
             "\"cursor\":\"%s\"",
             c);
    expect_refused("pollMessages", args, CURSOR_REFUSED);
    /* over 4 KB: the arg's own check names it */
    memset(args, 0, sizeof args);
    int at = snprintf(args, sizeof args, CREDS ",\"cursor\":\"");
    memset(args + at, 'A', 5000);
    memcpy(args + at + 5000, "\"", 2);
    expect_refused("pollMessages", args, NULL);
    json_t *ok = poll_ok("pollMessages", c, NULL); /* the genuine one still works */
    json_decref(ok);
    json_decref(mine);
    json_decref(calls);
}

/* The unkeyed cursor of before: SHA-256 of the label, block, path and bytes, which anyone could
 * compute; here with a watermark of INT64_MIN. */
static void unkeyed_cursor(char out[POLLING_CURSOR_TEXT_MAX])
{
    static const char label[] = "twilio-block poll cursor", block[] = "pollMessages",
                      path[] = "/2010-04-01/Accounts/" AC "/Messages.json";
    unsigned char bytes[32] = {1, 0x80, 0, 0, 0, 0, 0, 0, 0, 0}, md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    EVP_DigestUpdate(ctx, label, sizeof label);
    EVP_DigestUpdate(ctx, block, sizeof block);
    EVP_DigestUpdate(ctx, path, sizeof path);
    EVP_DigestUpdate(ctx, bytes, 10);
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    memcpy(bytes + 10, md, 12);
    EVP_EncodeBlock((unsigned char *)out, bytes, 22);
    for (char *c = out; *c; c++) /* base64url, unpadded */
        *c = *c == '+' ? '-' : *c == '/' ? '_' : *c == '=' ? '\0' : *c;
}

/* Cursors a caller writes: the unkeyed kind anyone could compute, one made with another key,
 * and correctly keyed ones whose watermark is out of any sane range (INT64_MIN once overflowed
 * a date computation and asked Twilio for DateSent>=-146138510344-...) or whose SID is not
 * one; each is REQUIRED_FIELDS naming cursor and nothing is fetched. */
static void minted_cursors_are_refused(void **state)
{
    (void)state;
    static const char scope[] = "pollMessages\n/2010-04-01/Accounts/" AC "/Messages.json";
    const long long now = T0 + 400000;
    struct polling_cursor_key ours, other;
    char text[POLLING_CURSOR_TEXT_MAX], args[1024];
    set_now(now);
    lister_clear(L);
    assert_int_equal(polling_cursor_key("docs-example-cursor-secret", &ours), 0);
    assert_int_equal(polling_cursor_key("another-replica-secret", &other), 0);
    unkeyed_cursor(text);
    snprintf(args, sizeof args, CREDS ",\"cursor\":\"%s\"", text);
    expect_refused("pollMessages", args, CURSOR_REFUSED);
    const long long bad_lo[] = {
        INT64_MIN, INT64_MIN + 1, -1, 0, POLLING_CURSOR_MIN_S - 1, now + POLLING_CURSOR_AHEAD_S + 1,
        INT64_MAX};
    for (size_t i = 0; i < sizeof bad_lo / sizeof bad_lo[0]; i++) {
        struct poll_position pos = {bad_lo[i], ""};
        assert_int_equal(polling_cursor_encode(&ours, scope, &pos, text), 0);
        snprintf(args, sizeof args, CREDS ",\"cursor\":\"%s\"", text);
        expect_refused("pollMessages", args, CURSOR_REFUSED);
    }
    struct poll_position odd_sid = {T0, "SM\"&x"}, fine = {T0, "SM0001"};
    assert_int_equal(polling_cursor_encode(&ours, scope, &odd_sid, text), 0);
    snprintf(args, sizeof args, CREDS ",\"cursor\":\"%s\"", text);
    expect_refused("pollMessages", args, CURSOR_REFUSED);
    assert_int_equal(polling_cursor_encode(&other, scope, &fine, text), 0);
    snprintf(args, sizeof args, CREDS ",\"cursor\":\"%s\"", text);
    expect_refused("pollMessages", args, CURSOR_REFUSED);
    /* the same, keyed as the service keys it, is taken */
    assert_int_equal(polling_cursor_encode(&ours, scope, &fine, text), 0);
    json_t *ok = poll_ok("pollMessages", text, NULL);
    json_decref(ok);
}

static void bad_limit_and_since_are_named(void **state)
{
    (void)state;
    lister_clear(L);
    expect_refused("pollMessages", CREDS ",\"limit\":0", NULL);
    expect_refused("pollMessages", CREDS ",\"limit\":1001", NULL);
    expect_refused("pollMessages", CREDS ",\"limit\":\"many\"", NULL);
    expect_refused("pollMessages", CREDS ",\"since\":\"yesterday\"", NULL);
    expect_refused("pollCalls", CREDS ",\"since\":\"2026-13-01\"", NULL);
    json_t *env = call("pollMessages", "\"limit\":0,\"since\":\"soon\"");
    json_t *fields =
        json_object_get(json_object_get(json_object_get(env, "contextWrites"), "to"), "fields");
    assert_int_equal(json_array_size(fields), 2);
    assert_string_equal(json_string_value(json_array_get(fields, 0)), "since");
    assert_string_equal(json_string_value(json_array_get(fields, 1)), "limit");
    json_decref(env);
}

/* Twilio's error is passed on (API_ERROR) and nothing moves; the same cursor works after. */
static void twilio_errors_keep_the_cursor(void **state)
{
    (void)state;
    char since[32], args[64], sid[35];
    const long long d = T0 + 500000;
    lister_clear(L);
    sid_of("SM", 99999, sid);
    lister_add(L, "Messages", sid, d, d, NULL);
    set_now(d + 50);
    iso(d - 10, since);
    snprintf(args, sizeof args, "\"since\":\"%s\"", since);
    json_t *start = poll_ok("pollMessages", NULL, "\"limit\":1");
    lister_fail(L, 401, "{\"code\":20003,\"message\":\"Authenticate\",\"status\":401}");
    json_t *env = call("pollMessages", args);
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    assert_string_equal(json_string_value(json_object_get(env, "callback")), "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "API_ERROR");
    assert_int_equal(json_integer_value(json_object_get(to, "code")), 20003);
    lister_fail(L, 0, NULL);
    json_t *again = poll_ok("pollMessages", NULL, args);
    assert_int_equal(items_of(again), 1);
    json_decref(env);
    json_decref(start);
    json_decref(again);
}

/* A list whose next_page_uri never ends (a mock's example page) has an error of its own after
 * POLL_MAX_PAGES pages, not the "Twilio could not be reached" one; the cursor is kept. */
static void a_list_that_never_ends_is_said(void **state)
{
    (void)state;
    char since[32], args[64], date[40], page[1024];
    const long long d = T0 + 700000;
    lister_clear(L);
    set_now(d + 50);
    iso(d - 10, since);
    lister_date(d, date);
    snprintf(page, sizeof page,
             "{\"messages\":[{\"sid\":\"SM00000000000000000000000000000001\",\"date_sent\":\"%s\","
             "\"date_created\":\"%s\"}],\"next_page_uri\":\"/2010-04-01/Accounts/" AC
             "/Messages.json?PageSize=50&Page=1&PageToken=PAx\"}",
             date, date);
    lister_fail(L, 200, page);
    snprintf(args, sizeof args, "\"since\":\"%s\"", since);
    json_t *env = call("pollMessages", args);
    lister_fail(L, 0, NULL);
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    assert_string_equal(json_string_value(json_object_get(env, "callback")), "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), "LIST_DID_NOT_END");
    assert_string_equal(json_string_value(json_object_get(to, "status_msg")),
                        "Twilio answered 400 pages and each named a next page (next_page_uri); a "
                        "poll reads at most 400, so nothing was delivered and the cursor stays "
                        "where it was");
    assert_int_equal(lister_count(L), 400);
    json_decref(env);
}

/* A poll answered status and body on every request, with since set: its error's code and
 * words (the cursor stays where it was). */
static void expect_page_fault(int status, const char *body, const char *code, const char *msg)
{
    char since[32], args[64];
    const long long d = T0 + 800000;
    lister_clear(L);
    set_now(d + 50);
    iso(d - 10, since);
    lister_fail(L, status, body);
    snprintf(args, sizeof args, "\"since\":\"%s\"", since);
    json_t *env = call("pollMessages", args);
    lister_fail(L, 0, NULL);
    json_t *to = json_object_get(json_object_get(env, "contextWrites"), "to");
    assert_string_equal(json_string_value(json_object_get(env, "callback")), "error");
    assert_string_equal(json_string_value(json_object_get(to, "status_code")), code);
    if (msg)
        assert_string_equal(json_string_value(json_object_get(to, "status_msg")), msg);
    json_decref(env);
}

/* What is not a page of the list (not JSON, not an object, a duplicate member, no array), a
 * next page that is not a path on Twilio's base, and a page that is not HTTP 200 are each
 * worded as the poll's own failure, nothing delivered. */
static void pages_that_are_not_pages_are_said(void **state)
{
    (void)state;
    char date[40], page[1024];
    static const char *const not_pages[] = {"", "[]", "{\"messages\":{}}",
                                            "{\"messages\":[],\"messages\":[]}", "not json"};
    for (size_t i = 0; i < sizeof not_pages / sizeof not_pages[0]; i++)
        expect_page_fault(200, not_pages[i], "INTERNAL_PACKAGE_ERROR",
                          "Twilio answered HTTP 200 but its body is not a page of messages");
    lister_date(T0 + 800000, date);
    snprintf(page, sizeof page,
             "{\"messages\":[{\"sid\":\"SM00000000000000000000000000000001\",\"date_sent\":\"%s\","
             "\"date_created\":\"%s\"}],\"next_page_uri\":\"https://example.com/2010-04-01/"
             "Accounts/" AC "/Messages.json?Page=1\"}",
             date, date);
    expect_page_fault(200, page, "INTERNAL_PACKAGE_ERROR",
                      "Twilio's next_page_uri is not a path; nothing was delivered");
    assert_int_equal(lister_count(L), 1);
    expect_page_fault(201, page, "API_ERROR", NULL);
}

/* The served metadata marks every poll block as a polling trigger, and nothing else. */
/* pollMessages with its flow object changed by edit: what pipeline_check says of it. */
static int check_poll_flow(void (*edit)(json_t *flow), char *err, size_t errlen)
{
    static const char *const name = "pollMessages";
    json_t *def = harness_block_def(name);
    edit(json_object_get(def, "flow"));
    struct block_set *set = harness_blocks_with(&name, &def, 1, err, errlen);
    assert_non_null(set);
    int rc = pipeline_check(set, err, errlen);
    block_set_free(set);
    json_decref(def);
    return rc;
}

static void flow_as_is(json_t *flow)
{
    (void)flow;
}

static void flow_typo(json_t *flow)
{
    json_object_set_new(flow, "pagesize", json_integer(50));
}

static void flow_without_date(json_t *flow)
{
    json_object_del(flow, "date");
}

/* A poll's flow keys are checked when the definitions load, not when a call first meets them. */
static void flow_keys_are_checked_at_load(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(check_poll_flow(flow_as_is, err, sizeof err), 0);
    assert_int_equal(check_poll_flow(flow_typo, err, sizeof err), -1);
    assert_non_null(strstr(err, "pollMessages"));
    assert_non_null(strstr(err, "pagesize"));
    assert_int_equal(check_poll_flow(flow_without_date, err, sizeof err), -1);
    assert_non_null(strstr(err, "list and date"));
}

static void metadata_marks_polling_triggers(void **state)
{
    (void)state;
    char url[256];
    struct http_reply r;
    snprintf(url, sizeof url, "%s/api/twilio", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    json_t *meta = json_loadb(r.body.data, r.body.len, 0, NULL);
    json_t *triggers = json_object_get(meta, "pollingTriggers");
    size_t polls = 0, i;
    json_t *t;
    for (i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        polls += b->flow_kind && strcmp(b->flow_kind, "poll") == 0;
    }
    assert_int_equal(polls, 5);
    assert_int_equal(json_array_size(triggers), polls);
    json_array_foreach(triggers, i, t) {
        const char *name = json_string_value(json_object_get(t, "block"));
        const struct block_def *b = name ? block_find(H.blocks, name, strlen(name)) : NULL;
        assert_non_null(b);
        assert_string_equal(b->flow_kind, "poll");
        assert_string_equal(json_string_value(json_object_get(t, "dedupeKey")), "sid");
        assert_true(json_integer_value(json_object_get(t, "interval")) >= 60);
    }
    json_decref(meta);
    http_reply_free(&r);
}

/* Against Prism: every poll block's requests, with every filter and since, fit Twilio's spec. */
static void requests_fit_the_spec(void **state)
{
    (void)state;
    set_now((long long)time(NULL));
    static const char *const calls[][2] = {
        {"pollMessages", "\"to\":\"+15005550006\",\"from\":\"+15005550006\""},
        {"pollCalls", "\"to\":\"+15005550006\",\"from\":\"+15005550006\",\"status\":\"completed\""},
        {"pollRecordings", "\"callSid\":\"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\""},
        {"pollTranscriptions", ""},
        {"pollIncomingPhoneNumbers", ""},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        char args[512];
        json_t *start = poll_ok(calls[i][0], NULL, calls[i][1]);
        snprintf(args, sizeof args, "%s%s\"since\":\"2026-11-23T09:30:00Z\",\"limit\":10",
                 calls[i][1], *calls[i][1] ? "," : "");
        json_t *since = poll_ok(calls[i][0], NULL, args);
        json_t *next = poll_ok(calls[i][0], cursor_of(since), calls[i][1]);
        json_decref(start);
        json_decref(since);
        json_decref(next);
    }
}

static int prism_setup(void **state)
{
    (void)state;
    struct config cfg;
    L = lister_start(); /* for set_now only */
    harness_config(&cfg);
    snprintf(cfg.api_base, sizeof cfg.api_base, "%s", getenv("PRISM_URL"));
    cfg.retry_max = 0;
    cfg.upstream_timeout_ms = 20000;
    cfg.now_s = clock_now;
    return L ? harness_start_with(&H, &cfg) : -1;
}

int main(void)
{
    if (getenv("PRISM_URL")) {
        const struct CMUnitTest prism[] = {cmocka_unit_test(requests_fit_the_spec)};
        return cmocka_run_group_tests(prism, prism_setup, teardown);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_now),
        cmocka_unit_test(sixty_in_one_second),
        cmocka_unit_test(padded_since_and_limit_work),
        cmocka_unit_test(late_arrivals_exactly_once),
        cmocka_unit_test(backlog_reads_bounded_pages),
        cmocka_unit_test(filters_are_sent),
        cmocka_unit_test(no_date_filter_stops_at_cursor),
        cmocka_unit_test(malformed_cursors_are_refused),
        cmocka_unit_test(minted_cursors_are_refused),
        cmocka_unit_test(bad_limit_and_since_are_named),
        cmocka_unit_test(twilio_errors_keep_the_cursor),
        cmocka_unit_test(a_list_that_never_ends_is_said),
        cmocka_unit_test(pages_that_are_not_pages_are_said),
        cmocka_unit_test(metadata_marks_polling_triggers),
        cmocka_unit_test(flow_keys_are_checked_at_load),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
