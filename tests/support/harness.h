/* harness: the real service and server started in-process on 127.0.0.1:0 with the embedded
 * blocks, an upstream stand-in beside it, and a small libcurl client for the tests. */
#ifndef HARNESS_H
#define HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "block.h"
#include "buf.h"
#include "config.h"
#include "server.h"
#include "service.h"
#include "standin.h"

struct http_reply {
    long status;
    struct buf body;
    char allow[64];
    char content_type[64];
    char replayed[16];    /* Idempotent-Replayed */
    char request_id[256]; /* X-Request-Id */
};

/* One request; body may be NULL. Returns 0 when an answer came, -1 otherwise. */
int http_call(const char *method, const char *url, const char *body, size_t len,
              struct http_reply *r);
/* The same with a Content-Type, basic auth "user:password" unless NULL, and extra header
 * lines ("Name: value", NULL-terminated) unless NULL. */
int http_call_ex(const char *method, const char *url, const char *content_type, const char *userpwd,
                 const char *const *extra, const char *body, size_t len, struct http_reply *r);
void http_reply_free(struct http_reply *r);
/* POSTs json to url as application/json, with an Idempotency-Key header unless key is NULL. */
int http_post_keyed(const char *url, const char *key, const char *json, struct http_reply *r);

struct harness {
    struct block_set *blocks;
    struct service *svc;
    struct server *srv;
    struct standin *up;
    char url[128]; /* http://127.0.0.1:PORT */
};

/* PRISM_URL (set by tests/contract/run.sh, which starts Prism), or NULL after saying so. */
const char *harness_prism(void);
/* The embedded block set (blocks/<name>.json, as the binary has them); the test fails when it
 * does not load. */
struct block_set *harness_blocks(void);
/* Block name's definition (blocks/<name>.json), a new reference; the test fails when there is
 * none. */
json_t *harness_block_def(const char *name);
/* The embedded block set with n blocks' definitions replaced: names[i] by defs[i] (borrowed). The set, or
 * NULL with the loader's reason in err. */
struct block_set *harness_blocks_with(const char *const *names, json_t *const *defs, size_t n,
                                      char *err, size_t errlen);

/* The settings tests start from: defaults, 127.0.0.1:0, 8 threads, api_base empty. */
void harness_config(struct config *cfg);

/* Starts the stand-in, then the service and its server with cfg, as main.c does; an empty
 * api_base means the stand-in.
 * Returns 0 or -1. */
int harness_start_with(struct harness *h, struct config *cfg);

/* The same with the given upstream timeout and body cap (0: defaults). */
int harness_start(struct harness *h, const char *api_base, long upstream_timeout_ms,
                  long max_body_bytes);

/* The port the harness's server listens on. */
int harness_port(const struct harness *h);

/* A TCP connection to 127.0.0.1:port, or -1. */
int loopback_connect(int port);

/* Sends the parts to 127.0.0.1:port over one raw connection, gap_ms apart, then reads the
 * answer until the peer closes or 5 s pass. Returns 0, or -1 when no connection was made. */
int raw_request(int port, const char *const *parts, size_t n, int gap_ms, struct buf *out);
/* Reads from fd into out until it holds one whole reply (head and Content-Length body); the
 * test fails when the connection ends first or nothing comes for 10 s. */
void raw_read_reply(int fd, struct buf *out);
/* Whether the peer has closed fd cleanly (EOF, not a reset) within 10 s. */
int raw_closed_by_server(int fd);

/* Everything written to stderr (the server's log) goes to a file while captured: tests read
 * it with read_file(c.path). */
struct log_capture {
    char path[96];
    int saved; /* the real stderr */
};
/* Starts capturing into a file named after name. Returns 0 or -1. */
int log_capture_start(struct log_capture *c, const char *name);
/* Gives stderr back, replays the lines that were not the server's log (text or JSON), such as
 * cmocka's failure reports, and removes the file. */
void log_capture_end(struct log_capture *c);
/* Reads a whole file into out. */
int read_file(const char *path, struct buf *out);
/* {"a":[[...]]}: an object whose member nests depth lists, as a malloc'd string (length in
 * *len unless NULL), for an upstream answer a recursive parser would overflow a worker's
 * stack on. */
char *deep_json(int depth, size_t *len);
void harness_stop(struct harness *h);

/* A real twilio-block process: its pid, the port its start-up line names, and its log file. */
struct child {
    pid_t pid;
    int port;
    char log[96];
};

/* Starts binary with PORT=0, BIND=127.0.0.1 and env (NULL-terminated name, value pairs), its
 * stderr in a log file named after name, and waits up to wait_ms for its start-up line; the
 * test fails when it does not start. The child is killed if the test process dies. */
void child_start(struct child *c, const char *binary, const char *name, const char *const *env,
                 long wait_ms);
/* Starts binary as child_start does, without waiting for anything (c->port stays 0). */
void child_spawn(struct child *c, const char *binary, const char *name, const char *const *env);
/* http://127.0.0.1:<its port>/api/twilio/<block> */
void child_url(const struct child *c, const char *block, char *out, size_t size);
/* Whether the child's log holds text. */
int child_log_has(const struct child *c, const char *text);
/* How many times text is in the child's log. */
int child_log_count(const struct child *c, const char *text);
/* Sends SIGTERM and waits: the child must exit 0 (under the sanitizers a leak makes it fail).
 * Its pid is 0 after. */
void child_stop(struct child *c);

/* The exact REQUIRED_FIELDS envelope, as a string literal, for fields (the quoted names,
 * comma-separated) and reasons (the "name":"why" members). */
#define FIELDS_ERROR(fields, reasons)                                                              \
    "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":\"REQUIRED_FIELDS\","      \
    "\"status_msg\":\"Please, check and fill in required fields.\",\"fields\":[" fields            \
    "],\"reasons\":{" reasons "}}}}"

/* The fixture the scenario suites share: harness_fixture(&h) names the harness, then the group
 * setup starts it (upstream timeout 400 ms, bodies up to 16 KB), the group teardown stops it
 * and reset clears the stand-in before each test. */
void harness_fixture(struct harness *h);
int harness_fixture_setup(void **state);
int harness_fixture_teardown(void **state);
int harness_fixture_reset(void **state);

/* POSTs json to /api/twilio/<block>. */
int harness_post(struct harness *h, const char *block, const char *json, struct http_reply *r);

/* POSTs json to block; the test fails unless the answer is HTTP 200. Its body, malloc'd. */
char *harness_call(struct harness *h, const char *block, const char *json);
/* Every following request to the stand-in gets status with a JSON body. */
void harness_answer(struct harness *h, int status, const char *body);
/* POSTs json to block; the test fails unless the answer is HTTP 200 with exactly want. */
void harness_expect(struct harness *h, const char *block, const char *json, const char *want);
/* The test fails unless the stand-in got exactly one request: this one (form: its body). */
void harness_expect_sent(struct harness *h, const char *method, const char *path, const char *auth,
                         const char *form);

#endif
