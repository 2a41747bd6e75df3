#include "twilio.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

void twilio_response_init(struct twilio_response *rs, size_t max_body)
{
    memset(rs, 0, sizeof *rs);
    buf_init(&rs->body, max_body);
}

void twilio_response_free(struct twilio_response *rs)
{
    buf_free(&rs->body);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    struct twilio_response *rs = userp;
    size_t n = size * nmemb;
    return buf_append(&rs->body, data, n) < 0 ? 0 : n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userp)
{
    struct twilio_response *rs = userp;
    size_t n = size * nmemb;
    static const char name[] = "twilio-request-id:";
    if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
        const char *v = data + sizeof name - 1;
        size_t len = n - (sizeof name - 1);
        while (len && (*v == ' ' || *v == '\t')) {
            v++;
            len--;
        }
        while (len && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len >= sizeof rs->request_id)
            len = sizeof rs->request_id - 1;
        memcpy(rs->request_id, v, len);
        rs->request_id[len] = '\0';
    }
    return n;
}

static void describe_failure(CURL *h, CURLcode rc, const struct twilio_request *rq,
                             const char *detail, struct twilio_response *rs)
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
        snprintf(rs->error, sizeof rs->error, "Could not reach Twilio at %s: TLS handshake failed (%s)",
                 rq->base, *detail ? detail : curl_easy_strerror(rc));
        return;
    case CURLE_OPERATION_TIMEDOUT: {
        curl_off_t connected = 0;
        curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &connected);
        if (connected == 0)
            snprintf(rs->error, sizeof rs->error,
                     "Could not reach Twilio at %s: no connection within %ld ms "
                     "(CONNECT_TIMEOUT_MS)",
                     rq->base, rq->connect_timeout_ms);
        else
            snprintf(rs->error, sizeof rs->error,
                     "Twilio did not answer within %ld ms (UPSTREAM_TIMEOUT_MS); the request "
                     "was sent, so the message or call may have been created",
                     rq->timeout_ms);
        return;
    }
    case CURLE_WRITE_ERROR:
        snprintf(rs->error, sizeof rs->error,
                 "Twilio's answer was larger than %zu bytes and was cut off; the request may "
                 "have succeeded",
                 rs->body.max);
        return;
    case CURLE_UNSUPPORTED_PROTOCOL:
        what = "the URL's protocol is not allowed (https only)";
        break;
    default:
        snprintf(rs->error, sizeof rs->error,
                 "The request to Twilio at %s failed (%s); it may have been sent", rq->base,
                 *detail ? detail : curl_easy_strerror(rc));
        return;
    }
    snprintf(rs->error, sizeof rs->error, "Could not reach Twilio at %s: %s", rq->base, what);
}

int twilio_perform(CURL *h, const struct twilio_request *rq, struct twilio_response *rs)
{
    char detail[CURL_ERROR_SIZE] = "";
    struct curl_slist *headers = curl_slist_append(NULL, "Accept: application/json");
    if (!headers) {
        snprintf(rs->error, sizeof rs->error, "out of memory");
        return -1;
    }
    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, rq->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, rq->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, rq->allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
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
    if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->form);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->form_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }
    CURLcode rc = curl_easy_perform(h);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
    curl_slist_free_all(headers);
    if (rc != CURLE_OK) {
        describe_failure(h, rc, rq, detail, rs);
        rs->status = 0;
        return -1;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rs->status);
    const char *ct = NULL;
    if (curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
        snprintf(rs->content_type, sizeof rs->content_type, "%s", ct);
    return 0;
}
