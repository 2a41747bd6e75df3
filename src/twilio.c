#include "twilio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"

/* Backoff between retries: 100 ms doubling, with full jitter; Retry-After at most 10 s. */
#define BACKOFF_BASE_MS 100
#define RETRY_AFTER_CAP_MS 10000
/* Every transfer holds its receive buffer, and there is one transfer per call in flight: curl's
 * smallest (1 KB) reads Twilio's few-KB answers in a few steps, and saved 3 MB at 1,000 in flight
 * over 4 KB (16 KB is curl's default). */
#define RECV_BUFFER 1024L

void twilio_response_init(struct twilio_response *rs, size_t max_body)
{
    memset(rs, 0, sizeof *rs);
    buf_init(&rs->body, max_body);
    rs->retry_after_ms = -1;
}

void twilio_response_free(struct twilio_response *rs)
{
    buf_free(&rs->body);
}

/* One transfer's requests, counted as libcurl is about to send each. */
struct sends {
    int post;    /* the request creates something: it may go out once */
    int count;   /* requests libcurl was about to send */
    int refused; /* a second one was stopped */
};

/* Why a POST is never sent twice: libcurl 7.88 sends a request again, silently, when the
 * reused connection it went out on dies before any byte of answer (Curl_retry_request), and
 * no option turns that off. Every request of a transfer, that resend included, passes this
 * callback right before it is sent (CURLOPT_PREREQFUNCTION, on a connection made or reused for
 * it); with basic auth only and no redirects followed, a transfer sends one request, so a
 * second call is that resend, and refusing it ends the transfer with nothing more sent. The
 * first request went out, so the answer is "it may have been acted on". The body stays in
 * POSTFIELDS, so it still leaves in the same write as the headers. */
static int on_prereq(void *userp, char *primary_ip, char *local_ip, int primary_port,
                     int local_port)
{
    struct sends *s = userp;
    (void)primary_ip;
    (void)local_ip;
    (void)primary_port;
    (void)local_port;
    if (++s->count > 1 && s->post) {
        s->refused = 1;
        return CURL_PREREQFUNC_ABORT;
    }
    return CURL_PREREQFUNC_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct twilio_response *rs = userp;
    size_t n = size * nmemb;
    return buf_append(&rs->body, data, n) < 0 ? 0 : n;
}

/* The value of header `name` in one header line, trimmed, or NULL. */
static const char *header_value(const char *line, size_t n, const char *name, size_t *len)
{
    size_t k = strlen(name);
    if (n <= k || strncasecmp(line, name, k) != 0)
        return NULL;
    const char *v = line + k;
    size_t l = n - k;
    while (l && (*v == ' ' || *v == '\t')) {
        v++;
        l--;
    }
    while (l && (v[l - 1] == '\r' || v[l - 1] == '\n' || v[l - 1] == ' '))
        l--;
    *len = l;
    return v;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct twilio_response *rs = userp;
    size_t n = size * nmemb, len;
    const char *v = header_value(data, n, "twilio-request-id:", &len);
    if (v) {
        if (len >= sizeof rs->request_id)
            len = sizeof rs->request_id - 1;
        for (size_t i = 0; i < len; i++)
            rs->request_id[i] = v[i] > 0x20 && v[i] < 0x7f ? v[i] : '?';
        rs->request_id[len] = '\0';
    }
    v = header_value(data, n, "retry-after:", &len);
    if (v && len && len < 12) {
        char num[12];
        memcpy(num, v, len);
        num[len] = '\0';
        char *end;
        long s = strtol(num, &end, 10);
        if (*end == '\0' && s >= 0) /* an HTTP date is not honoured: backoff applies */
            rs->retry_after_ms = s > RETRY_AFTER_CAP_MS / 1000 ? RETRY_AFTER_CAP_MS : s * 1000;
    }
    return n;
}

static const char *maybe_words(const struct twilio_request *rq)
{
    return rq->maybe && *rq->maybe ? rq->maybe : "it may have been acted on";
}

/* Classifies a failed transfer and words it. */
static enum twilio_outcome describe_failure(CURL *h, CURLcode rc, const struct twilio_request *rq,
                                            long budget_ms, const char *detail,
                                            struct twilio_response *rs)
{
    const char *what = NULL;
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        what = "connection refused";
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
        what = "DNS lookup failed";
        break;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
        snprintf(rs->error, sizeof rs->error,
                 "Could not reach Twilio at %s: TLS handshake failed (%s)", rq->base,
                 *detail ? detail : curl_easy_strerror(rc));
        return TWILIO_NOT_SENT;
    case CURLE_UNSUPPORTED_PROTOCOL:
        what = "the URL's protocol is not allowed (https only)";
        break;
    case CURLE_FAILED_INIT:
        what = "the transfer could not be started";
        break;
    case CURLE_URL_MALFORMAT: /* refused before a connection: a CR or LF in a next page's path */
        snprintf(rs->error, sizeof rs->error,
                 "libcurl refused the request to Twilio at %s before sending anything (%s): "
                 "nothing was sent",
                 rq->base, *detail ? detail : curl_easy_strerror(rc));
        return TWILIO_NOT_SENT;
    case CURLE_OPERATION_TIMEDOUT: {
        /* Nothing is sent before the connection, and for https its TLS handshake, is up. */
        curl_off_t connected = 0;
        curl_easy_getinfo(h,
                          strncmp(rq->url, "https://", 8) == 0 ? CURLINFO_APPCONNECT_TIME_T
                                                               : CURLINFO_CONNECT_TIME_T,
                          &connected);
        /* A reused connection has no connect time of this transfer: the bytes of request
         * written tell that it went out. */
        long request_size = 0;
        curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &request_size);
        if (connected == 0 && request_size == 0) {
            snprintf(rs->error, sizeof rs->error,
                     "Could not reach Twilio at %s: no connection within %ld ms", rq->base,
                     budget_ms < rq->connect_timeout_ms ? budget_ms : rq->connect_timeout_ms);
            return TWILIO_NOT_SENT;
        }
        snprintf(rs->error, sizeof rs->error,
                 "Twilio did not answer within %ld ms (UPSTREAM_TIMEOUT_MS); the request was "
                 "sent, so %s",
                 rq->timeout_ms, maybe_words(rq));
        return TWILIO_MAYBE_SENT;
    }
    case CURLE_SEND_FAIL_REWIND:
        snprintf(rs->error, sizeof rs->error,
                 "The connection to Twilio at %s failed after the request was sent (the "
                 "kept-alive connection closed before any answer); %s",
                 rq->base, maybe_words(rq));
        return TWILIO_MAYBE_SENT;
    case CURLE_WRITE_ERROR:
        snprintf(rs->error, sizeof rs->error,
                 "Twilio's answer was larger than %zu bytes and was cut off; %s", rs->body.max,
                 maybe_words(rq));
        return TWILIO_MAYBE_SENT;
    default:
        snprintf(rs->error, sizeof rs->error,
                 "The connection to Twilio at %s failed after the request was sent (%s); %s",
                 rq->base, *detail ? detail : curl_easy_strerror(rc), maybe_words(rq));
        return TWILIO_MAYBE_SENT;
    }
    snprintf(rs->error, sizeof rs->error, "Could not reach Twilio at %s: %s", rq->base, what);
    return TWILIO_NOT_SENT;
}

static int retryable(CURLcode rc)
{
    return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
           rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_OPERATION_TIMEDOUT;
}

/* Resets *hp, and gives it curl's smallest receive buffer. A transfer curl ended before it had a
 * connection (a URL it refused) keeps the handle's 1 KB buffer; curl 7.88 then refuses a new size
 * while curl_easy_reset has set its default back, and would read 16 KB into that 1 KB. Such a
 * handle is replaced by a new one: its connections go, the heap stays whole. */
static int reset_handle(CURL **hp)
{
    curl_easy_reset(*hp);
    if (curl_easy_setopt(*hp, CURLOPT_BUFFERSIZE, RECV_BUFFER) == CURLE_OK)
        return 0;
    CURL *fresh = curl_easy_init();
    if (!fresh)
        return -1;
    curl_easy_cleanup(*hp);
    *hp = fresh;
    return curl_easy_setopt(fresh, CURLOPT_BUFFERSIZE, RECV_BUFFER) == CURLE_OK ? 0 : -1;
}

static CURLcode attempt(CURL **hp, const struct twilio_request *rq, struct curl_slist *headers,
                        long budget_ms, char *detail, struct twilio_response *rs)
{
    struct sends sends = {.post = strcmp(rq->method, "POST") == 0};
    buf_reset(&rs->body);
    rs->request_id[0] = '\0';
    rs->content_type[0] = '\0';
    rs->retry_after_ms = -1;
    rs->status = 0;
    detail[0] = '\0';
    if (reset_handle(hp) < 0) {
        snprintf(detail, CURL_ERROR_SIZE, "out of memory");
        return CURLE_OUT_OF_MEMORY;
    }
    CURL *h = *hp;
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, budget_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     budget_ms < rq->connect_timeout_ms ? budget_ms : rq->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, rq->allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    if (rq->ca_file && *rq->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, rq->ca_file);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, rq->username);
    curl_easy_setopt(h, CURLOPT_PASSWORD, rq->password);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "twilio-block/" TWILIO_BLOCK_VERSION);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, rs);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rs);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, on_prereq);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, &sends);
    if (sends.post) {
        /* POSTFIELDS is not copied: rq->form outlives the transfer. See on_prereq. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->form);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->form_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    rs->attempts++;
    CURLcode rc = rq->via ? upstream_run(rq->via, h) : curl_easy_perform(h);
    /* The handle outlives this call: drop pointers to our stack and our list. */
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_easy_setopt(h, CURLOPT_PREREQDATA, NULL);
    if (rc == CURLE_ABORTED_BY_CALLBACK && sends.refused)
        rc = CURLE_SEND_FAIL_REWIND; /* worded as the resend it stopped */
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
        const char *ct = NULL;
        if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct) {
            size_t i = 0; /* printable ASCII only: it ends up in a JSON error text */
            for (; ct[i] && i < sizeof rs->content_type - 1; i++)
                rs->content_type[i] = ct[i] >= 0x20 && ct[i] < 0x7f ? ct[i] : '?';
            rs->content_type[i] = '\0';
        }
    }
    return rc;
}

int twilio_perform(CURL **hp, const struct twilio_request *rq, struct twilio_response *rs)
{
    char detail[CURL_ERROR_SIZE];
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    /* A body sent at once, never after a 100 Continue: one round trip. */
    if (headers && strcmp(rq->method, "POST") == 0) {
        struct curl_slist *more = curl_slist_append(headers, "Expect:");
        if (!more)
            curl_slist_free_all(headers);
        headers = more;
    }
    for (const char *line_at = rq->headers; headers && line_at && *line_at;) {
        const char *end = strchr(line_at, '\n');
        size_t n = end ? (size_t)(end - line_at) : strlen(line_at);
        char line[256];
        struct curl_slist *more = NULL;
        if (n < sizeof line) {
            memcpy(line, line_at, n);
            line[n] = '\0';
            more = curl_slist_append(headers, line);
        }
        if (!more) /* too long (only fixed words are sent as headers) or out of memory */
            curl_slist_free_all(headers);
        headers = more;
        line_at += end ? n + 1 : n;
    }
    if (!headers) {
        rs->outcome = TWILIO_NOT_SENT;
        snprintf(rs->error, sizeof rs->error, "out of memory");
        return -1;
    }
    const long deadline = clock_ms() + rq->timeout_ms;
    unsigned seed = (unsigned)deadline ^ (unsigned)(size_t)rs;
    int rc_out = -1;
    for (long retry = 0;; retry++) {
        long budget = deadline - clock_ms();
        if (budget < 1)
            budget = 1;
        CURLcode rc = attempt(hp, rq, headers, budget, detail, rs);
        long wait;
        if (rc == CURLE_OK) {
            rs->outcome = TWILIO_ANSWERED;
            rc_out = 0;
            if (rs->status != 429 || rq->pace_429)
                break;
            wait = rs->retry_after_ms;
        } else {
            rs->outcome = describe_failure(*hp, rc, rq, budget, detail, rs);
            if (rs->outcome != TWILIO_NOT_SENT || !retryable(rc))
                break;
            wait = -1;
        }
        if (wait < 0) {
            long cap = BACKOFF_BASE_MS << (retry < 10 ? retry : 10);
            wait = cap / 2 + (long)(rand_r(&seed) % (unsigned)(cap / 2 + 1));
        }
        if (retry >= rq->retry_max || clock_ms() + wait >= deadline)
            break;
        clock_sleep_ms(wait);
        rc_out = -1;
    }
    curl_slist_free_all(headers);
    return rc_out;
}

int twilio_product_base(struct buf *out, const char *product, const char *configured,
                        int configured_set, const char *edge, const char *region)
{
    int api = strcmp(product, "api") == 0;
    if (configured_set || (api && !*edge && !*region))
        return buf_appendz(out, configured);
    if (!*edge && !*region)
        return buf_appendf(out, "https://%s.twilio.com", product);
    if (!*region)
        region = "us1";
    return *edge ? buf_appendf(out, "https://%s.%s.%s.twilio.com", product, edge, region)
                 : buf_appendf(out, "https://%s.%s.twilio.com", product, region);
}

int twilio_base_url(struct buf *out, const char *configured, int configured_set, const char *edge,
                    const char *region)
{
    return twilio_product_base(out, "api", configured, configured_set, edge, region);
}
