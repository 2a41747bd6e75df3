#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <civetweb.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "embedded.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct http_reply *r = userp;
    return buf_append(&r->body, data, size * nmemb) < 0 ? 0 : size * nmemb;
}

static void header_value(const char *line, size_t n, const char *name, char *out, size_t size)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return;
    line += k;
    n -= k;
    while (n && *line == ' ') {
        line++;
        n--;
    }
    while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
        n--;
    snprintf(out, size, "%.*s", (int)n, line);
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct http_reply *r = userp;
    size_t n = size * nmemb;
    header_value(data, n, "Allow:", r->allow, sizeof r->allow);
    header_value(data, n, "Content-Type:", r->content_type, sizeof r->content_type);
    header_value(data, n, "Idempotent-Replayed:", r->replayed, sizeof r->replayed);
    header_value(data, n, "X-Request-Id:", r->request_id, sizeof r->request_id);
    return n;
}

int http_call(const char *method, const char *url, const char *body, size_t len,
              struct http_reply *r)
{
    return http_call_ex(method, url, "application/json", NULL, NULL, body, len, r);
}

int http_call_ex(const char *method, const char *url, const char *content_type, const char *userpwd,
                 const char *const *extra, const char *body, size_t len, struct http_reply *r)
{
    char ct[128];
    memset(r, 0, sizeof *r);
    buf_init(&r->body, 64u << 20);
    CURL *h = curl_easy_init();
    if (!h)
        return -1;
    snprintf(ct, sizeof ct, "Content-Type: %s", content_type);
    struct curl_slist *headers = curl_slist_append(NULL, ct);
    headers = curl_slist_append(headers, "Expect:");
    for (; extra && *extra; extra++)
        headers = curl_slist_append(headers, *extra);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (userpwd)
        curl_easy_setopt(h, CURLOPT_USERPWD, userpwd);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(headers);
    curl_easy_cleanup(h);
    return rc == CURLE_OK ? 0 : -1;
}

void http_reply_free(struct http_reply *r)
{
    buf_free(&r->body);
}

int http_post_keyed(const char *url, const char *key, const char *json, struct http_reply *r)
{
    char header[320];
    snprintf(header, sizeof header, "Idempotency-Key: %s", key ? key : "");
    const char *const extra[] = {header, NULL};
    return http_call_ex("POST", url, "application/json", NULL, key ? extra : NULL, json,
                        strlen(json), r);
}

void harness_config(struct config *cfg)
{
    config_defaults(cfg);
    snprintf(cfg->bind, sizeof cfg->bind, "127.0.0.1");
    cfg->port = 0;
    cfg->threads = 8;
    cfg->log_level = LOG_WARN;
    cfg->api_base[0] = '\0';
    cfg->api_base_set = 1; /* tests choose the upstream; edge and region are not applied */
    /* ctest runs some suites a second time with the transfers on upstream loops */
    const char *loops = getenv("UPSTREAM_LOOPS");
    cfg->upstream_loops = loops && *loops ? strtol(loops, NULL, 10) : 0;
    const char *lent = getenv("UPSTREAM_INLINE");
    if (lent && *lent)
        cfg->upstream_inline = strtol(lent, NULL, 10);
}

const char *harness_prism(void)
{
    const char *prism = getenv("PRISM_URL");
    if (prism && *prism)
        return prism;
    fprintf(stderr, "PRISM_URL is not set: run tests/contract/run.sh (needs npm ci in tests/)\n");
    return NULL;
}

struct block_set *harness_blocks(void)
{
    char err[256];
    struct block_set *set = block_set_load(&embedded_metadata, &embedded_common_args,
                                           embedded_blocks, embedded_blocks_count, err, sizeof err);
    if (!set)
        fail_msg("%s", err);
    return set;
}

json_t *harness_block_def(const char *name)
{
    for (size_t i = 0; i < embedded_blocks_count; i++) {
        if (strcmp(embedded_blocks[i].name, name) != 0)
            continue;
        json_t *def = json_loadb(embedded_blocks[i].text, embedded_blocks[i].len, 0, NULL);
        assert_non_null(def);
        return def;
    }
    fail_msg("no block %s", name);
    return NULL;
}

struct block_set *harness_blocks_with(const char *const *names, json_t *const *defs, size_t n,
                                      char *err, size_t errlen)
{
    struct embedded_file *files = malloc(embedded_blocks_count * sizeof *files);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    assert_non_null(files);
    assert_non_null(texts);
    memcpy(files, embedded_blocks, embedded_blocks_count * sizeof *files);
    for (size_t k = 0; k < n; k++) {
        size_t i = 0;
        while (i < embedded_blocks_count && strcmp(files[i].name, names[k]) != 0)
            i++;
        if (i == embedded_blocks_count)
            fail_msg("no block %s", names[k]);
        texts[k] = json_dumps(defs[k], 0);
        assert_non_null(texts[k]);
        files[i].text = texts[k];
        files[i].len = strlen(texts[k]);
    }
    struct block_set *set = block_set_load(&embedded_metadata, &embedded_common_args, files,
                                           embedded_blocks_count, err, errlen);
    /* the set keeps what it needs of the texts (block_parse copies into its own tree) */
    for (size_t k = 0; k < n; k++)
        free(texts[k]);
    free(texts);
    free(files);
    return set;
}

int harness_start_with(struct harness *h, struct config *cfg)
{
    static int initialised;
    char err[512];
    if (!initialised) {
        json_object_seed(0);
        curl_global_init(CURL_GLOBAL_DEFAULT);
        mg_init_library(0);
        initialised = 1;
    }
    memset(h, 0, sizeof *h);
    h->blocks = block_set_load(&embedded_metadata, &embedded_common_args, embedded_blocks,
                               embedded_blocks_count, err, sizeof err);
    h->up = standin_start();
    if (!h->blocks || !h->up) {
        fprintf(stderr, "harness: %s\n", h->blocks ? "stand-in did not start" : err);
        harness_stop(h);
        return -1;
    }
    if (!cfg->api_base[0])
        snprintf(cfg->api_base, sizeof cfg->api_base, "http://127.0.0.1:%d", standin_port(h->up));
    log_set_level(cfg->log_level);
    log_set_format(cfg->log_format);
    h->svc = service_start(cfg, h->blocks, err, sizeof err);
    h->srv = h->svc ? server_start(h->svc, err, sizeof err) : NULL;
    if (!h->srv) {
        fprintf(stderr, "harness: %s\n", err);
        harness_stop(h);
        return -1;
    }
    snprintf(h->url, sizeof h->url, "http://127.0.0.1:%d", server_port(h->srv));
    return 0;
}

int harness_start(struct harness *h, const char *api_base, long upstream_timeout_ms,
                  long max_body_bytes)
{
    struct config cfg;
    harness_config(&cfg);
    if (upstream_timeout_ms)
        cfg.upstream_timeout_ms = upstream_timeout_ms;
    if (max_body_bytes)
        cfg.max_body_bytes = max_body_bytes;
    if (api_base)
        snprintf(cfg.api_base, sizeof cfg.api_base, "%s", api_base);
    return harness_start_with(h, &cfg);
}

int harness_port(const struct harness *h)
{
    return (int)strtol(strrchr(h->url, ':') + 1, NULL, 10);
}

int loopback_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int raw_request(int port, const char *const *parts, size_t n, int gap_ms, struct buf *out)
{
    int fd = loopback_connect(port);
    buf_init(out, 1u << 20);
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (i && gap_ms)
            clock_sleep_ms(gap_ms);
        if (send(fd, parts[i], strlen(parts[i]), MSG_NOSIGNAL) < 0)
            break; /* the server may answer and close early: read what it said */
    }
    char chunk[4096];
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 5000) <= 0)
            break;
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0)
            break;
        buf_append(out, chunk, (size_t)got);
    }
    close(fd);
    return 0;
}

/* Reads into out until it holds a whole reply (head and Content-Length body). */
void raw_read_reply(int fd, struct buf *out)
{
    char chunk[4096];
    buf_init(out, 1u << 20);
    for (;;) {
        const char *head_end = strstr(buf_str(out), "\r\n\r\n");
        if (head_end) {
            const char *cl = strstr(buf_str(out), "Content-Length: ");
            size_t body = cl ? (size_t)strtoul(cl + 16, NULL, 10) : 0;
            if (out->len >= (size_t)(head_end + 4 - buf_str(out)) + body)
                return;
        }
        struct pollfd p = {fd, POLLIN, 0};
        assert_int_equal(poll(&p, 1, 10000), 1);
        ssize_t got = recv(fd, chunk, sizeof chunk, 0);
        if (got <= 0)
            fail_msg("the connection ended before a whole reply; got: %s", buf_str(out));
        buf_append(out, chunk, (size_t)got);
    }
}

/* Whether the server has closed fd (EOF without more data). */
int raw_closed_by_server(int fd)
{
    char c;
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, 10000) == 1 && recv(fd, &c, 1, 0) == 0;
}

int log_capture_start(struct log_capture *c, const char *name)
{
    snprintf(c->path, sizeof c->path, "/tmp/twilio-block-%s-%ld.log", name, (long)getpid());
    c->saved = dup(STDERR_FILENO);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
    if (c->saved < 0 || fd < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int rc = dup2(fd, STDERR_FILENO) < 0 ? -1 : 0;
    close(fd);
    return rc;
}

void log_capture_end(struct log_capture *c)
{
    struct buf all;
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    read_file(c->path, &all);
    for (const char *line = buf_str(&all); *line;) {
        const char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line + 1) : strlen(line);
        int text_log = n > 4 && line[0] == '2' && line[4] == '-'; /* starts with a time */
        if (!text_log && strncmp(line, "{\"time\":", 8) != 0)
            fwrite(line, 1, n, stderr);
        line += n;
    }
    buf_free(&all);
    unlink(c->path);
}

char *deep_json(int depth, size_t *len)
{
    char *text = malloc((size_t)depth * 2 + 8);
    size_t n = 0;
    if (!text)
        return NULL;
    memcpy(text, "{\"a\":", 5);
    n += 5;
    memset(text + n, '[', (size_t)depth);
    n += (size_t)depth;
    memset(text + n, ']', (size_t)depth);
    n += (size_t)depth;
    text[n++] = '}';
    text[n] = '\0';
    if (len)
        *len = n;
    return text;
}

int read_file(const char *path, struct buf *out)
{
    buf_init(out, 64u << 20);
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        buf_append(out, chunk, n);
    fclose(f);
    return 0;
}

void harness_stop(struct harness *h)
{
    server_stop(h->srv);
    service_stop(h->svc);
    standin_stop(h->up);
    block_set_free(h->blocks);
    memset(h, 0, sizeof *h);
}

static struct harness *fixture;

void harness_fixture(struct harness *h)
{
    fixture = h;
}

int harness_fixture_setup(void **state)
{
    (void)state;
    return harness_start(fixture, NULL, 400, 16384);
}

int harness_fixture_teardown(void **state)
{
    (void)state;
    harness_stop(fixture);
    return 0;
}

int harness_fixture_reset(void **state)
{
    (void)state;
    standin_clear(fixture->up);
    return 0;
}

int harness_post(struct harness *h, const char *block, const char *json, struct http_reply *r)
{
    char url[256];
    snprintf(url, sizeof url, "%s/api/twilio/%s", h->url, block);
    return http_call("POST", url, json, strlen(json), r);
}

void harness_answer(struct harness *h, int status, const char *body)
{
    struct standin_answer a = {status, "application/json", body, 0, NULL, 0};
    standin_answer(h->up, &a);
}

char *harness_call(struct harness *h, const char *block, const char *json)
{
    struct http_reply r;
    assert_int_equal(harness_post(h, block, json, &r), 0);
    assert_int_equal(r.status, 200);
    char *out = strdup(buf_str(&r.body));
    assert_non_null(out);
    http_reply_free(&r);
    return out;
}

void harness_expect(struct harness *h, const char *block, const char *json, const char *want)
{
    struct http_reply r;
    assert_int_equal(harness_post(h, block, json, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(buf_str(&r.body), want);
    http_reply_free(&r);
}

void harness_expect_sent(struct harness *h, const char *method, const char *path, const char *auth,
                         const char *form)
{
    struct standin_record rec;
    assert_int_equal(standin_count(h->up), 1);
    assert_int_equal(standin_request(h->up, 0, &rec), 0);
    assert_string_equal(rec.method, method);
    assert_string_equal(rec.path, path);
    assert_string_equal(rec.authorization, auth);
    assert_string_equal(rec.body, form);
}

void child_spawn(struct child *c, const char *binary, const char *name, const char *const *env)
{
    static int runs;
    c->port = 0;
    snprintf(c->log, sizeof c->log, "/tmp/twilio-block-%s-%ld-%d.log", name, (long)getpid(),
             ++runs);
    c->pid = fork();
    assert_true(c->pid >= 0);
    if (c->pid == 0) {
        /* Gone with the test, even one that fails half-way, and not holding ctest's pipe. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!freopen(c->log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        setenv("PORT", "0", 1);
        setenv("BIND", "127.0.0.1", 1);
        for (; env && env[0]; env += 2)
            setenv(env[0], env[1], 1);
        execl(binary, binary, (char *)NULL);
        _exit(127);
    }
}

void child_start(struct child *c, const char *binary, const char *name, const char *const *env,
                 long wait_ms)
{
    child_spawn(c, binary, name, env);
    static const char at[] = "listening on http://127.0.0.1:";
    for (long waited = 0; waited < wait_ms && !c->port; waited += 25) {
        struct buf log;
        read_file(c->log, &log);
        const char *p = strstr(buf_str(&log), at);
        if (p)
            c->port = (int)strtol(p + sizeof at - 1, NULL, 10);
        buf_free(&log);
        if (!c->port)
            clock_sleep_ms(25);
    }
    assert_true(c->port > 0);
}

int child_log_has(const struct child *c, const char *text)
{
    return child_log_count(c, text) > 0;
}

int child_log_count(const struct child *c, const char *text)
{
    size_t step = strlen(text);
    if (!step)
        return 1; /* "" is in every log */
    struct buf log;
    read_file(c->log, &log);
    int n = 0;
    for (const char *at = buf_str(&log); (at = strstr(at, text)); at += step)
        n++;
    buf_free(&log);
    return n;
}

void child_url(const struct child *c, const char *block, char *out, size_t size)
{
    snprintf(out, size, "http://127.0.0.1:%d/api/twilio/%s", c->port, block);
}

void child_stop(struct child *c)
{
    int status = 0;
    kill(c->pid, SIGTERM);
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    c->pid = 0;
}
