/* slow_upstream: a stand-in for Twilio's REST API that answers every request after a fixed
 * delay, so a benchmark can keep thousands of calls in flight without the stand-in being the
 * limit.
 *
 * One thread, one epoll set. A complete request (headers plus Content-Length body) is put on
 * a FIFO of pending answers; because every answer waits the same DELAY_MS, the FIFO is also
 * sorted by due time, and epoll_wait's timeout is the wait until its head is due. A pending
 * answer costs one small struct and its read buffer. HTTP/1.1 keep-alive and pipelining are
 * honoured; "Expect: 100-continue" gets its interim answer.
 *
 * Usage: slow_upstream PORT DELAY_MS [STATS_FILE]
 *   PORT 0 picks a free port; the port is printed on stdout as "port N".
 *   Listens on 127.0.0.1 only. On SIGTERM or SIGINT it writes one line of counters
 *   (connections accepted, requests, answers, peaks) to STATS_FILE (or stderr) and exits.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_HEADER_BYTES (64 * 1024)
#define MAX_BODY_BYTES (1024 * 1024)
#define MAX_EVENTS 512

enum state { READING, WAITING, WRITING };

struct conn {
    int fd;
    enum state state;
    int keep_alive;
    int closed;      /* fd closed while the answer was pending: free when popped */
    int is_call;     /* the pending request was for Calls.json */
    char *buf;       /* bytes read and not yet consumed */
    size_t len, cap;
    const char *out; /* answer being written */
    size_t out_len, out_off;
    int64_t due_ms;
    struct conn *next; /* pending FIFO */
};

static const char message_json[] =
    "{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"api_version\":\"2010-04-01\","
    "\"body\":\"Hello\",\"date_created\":\"Thu, 24 Aug 2023 05:01:45 +0000\",\"date_sent\":null,"
    "\"date_updated\":\"Thu, 24 Aug 2023 05:01:45 +0000\",\"direction\":\"outbound-api\","
    "\"error_code\":null,\"error_message\":null,\"from\":\"+15005550006\","
    "\"messaging_service_sid\":null,\"num_media\":\"0\",\"num_segments\":\"1\",\"price\":null,"
    "\"price_unit\":\"USD\",\"sid\":\"SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"status\":\"queued\","
    "\"subresource_uris\":{\"media\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"
    "Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json\"},\"to\":\"+15005550006\","
    "\"uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/"
    "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json\"}";

static const char call_json[] =
    "{\"account_sid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"annotation\":null,"
    "\"answered_by\":null,\"api_version\":\"2010-04-01\",\"caller_name\":null,"
    "\"date_created\":null,\"date_updated\":null,\"direction\":\"outbound-api\","
    "\"duration\":null,\"end_time\":null,\"forwarded_from\":null,\"from\":\"+15005550006\","
    "\"from_formatted\":\"(500) 555-0006\",\"group_sid\":null,\"parent_call_sid\":null,"
    "\"phone_number_sid\":null,\"price\":null,\"price_unit\":\"USD\","
    "\"sid\":\"CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"start_time\":null,\"status\":\"queued\","
    "\"to\":\"+15005550006\",\"to_formatted\":\"(500) 555-0006\",\"trunk_sid\":null,"
    "\"uri\":\"/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Calls/"
    "CAaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json\",\"queue_time\":\"0\"}";

static const char not_found_json[] =
    "{\"code\":20404,\"message\":\"The requested resource was not found\",\"status\":404}";

static char *answer_message, *answer_call, *answer_not_found, *answer_bad;
static size_t answer_message_len, answer_call_len, answer_not_found_len, answer_bad_len;

static struct {
    unsigned long long accepted, requests, answers, closed_pending, bad_requests;
    long open, max_open, pending, max_pending;
} stats;

static int epfd;
static int64_t delay_ms;
static struct conn *q_head, *q_tail;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *make_answer(const char *status, const char *body, size_t *len, int close_after)
{
    size_t body_len = strlen(body);
    size_t cap = body_len + 512;
    char *out = malloc(cap);
    if (!out) {
        perror("malloc");
        exit(1);
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 %s\r\nContent-Type: application/json; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nTwilio-Request-Id: RQaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n"
                     "Connection: %s\r\n\r\n%s",
                     status, body_len, close_after ? "close" : "keep-alive", body);
    *len = (size_t)n;
    return out;
}

static void set_events(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        perror("epoll_ctl MOD");
}

static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->closed = 1;
    stats.open--;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    if (c->state != WAITING)
        free(c);
    else
        stats.closed_pending++; /* still on the FIFO: freed when popped */
}

static void try_parse(struct conn *c);

/* Writes what is left of the answer; returns when done, blocked, or the connection is gone. */
static void flush_out(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (c->state != WRITING) {
                c->state = WRITING;
                set_events(c, EPOLLOUT);
            }
            return;
        }
        conn_close(c);
        return;
    }
    stats.answers++;
    if (!c->keep_alive) {
        conn_close(c);
        return;
    }
    if (c->state == WRITING)
        set_events(c, EPOLLIN);
    c->state = READING;
    try_parse(c); /* a pipelined request may already be buffered */
}

static void reply_now(struct conn *c, const char *out, size_t len)
{
    c->out = out;
    c->out_len = len;
    c->out_off = 0;
    flush_out(c);
}

static const char *find_crlfcrlf(const char *p, size_t n)
{
    for (size_t i = 3; i < n; i++)
        if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' && p[i - 3] == '\r')
            return p + i + 1;
    return NULL;
}

/* The value of header `name` (with colon) in the header block, or NULL. */
static const char *header(const char *h, size_t n, const char *name, size_t *vlen)
{
    size_t k = strlen(name);
    const char *end = h + n;
    const char *line = memchr(h, '\n', n); /* skip the request line */
    while (line && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            break;
        if ((size_t)(eol - line) > k && strncasecmp(line, name, k) == 0) {
            const char *v = line + k;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol;
    }
    return NULL;
}

static void bad_request(struct conn *c)
{
    stats.bad_requests++;
    c->keep_alive = 0;
    c->len = 0;
    reply_now(c, answer_bad, answer_bad_len);
}

/* Looks for one complete request in the buffer; queues its answer when found. */
static void try_parse(struct conn *c)
{
    if (c->state != READING || c->closed || c->len == 0)
        return;
    const char *hend = find_crlfcrlf(c->buf, c->len);
    if (!hend) {
        if (c->len > MAX_HEADER_BYTES)
            bad_request(c);
        return;
    }
    size_t hlen = (size_t)(hend - c->buf);
    size_t vlen = 0;
    const char *v;
    if (header(c->buf, hlen, "transfer-encoding:", &vlen)) {
        bad_request(c); /* chunked bodies are not needed by the service under test */
        return;
    }
    size_t body = 0;
    if ((v = header(c->buf, hlen, "content-length:", &vlen))) {
        char num[24];
        if (vlen == 0 || vlen >= sizeof num) {
            bad_request(c);
            return;
        }
        memcpy(num, v, vlen);
        num[vlen] = '\0';
        char *e;
        unsigned long long cl = strtoull(num, &e, 10);
        if (*e || cl > MAX_BODY_BYTES) {
            bad_request(c);
            return;
        }
        body = (size_t)cl;
    }
    if (c->len < hlen + body) {
        v = header(c->buf, hlen, "expect:", &vlen);
        if (v && vlen == 12 && strncasecmp(v, "100-continue", 12) == 0 && c->len == hlen) {
            static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
            ssize_t w = send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL);
            (void)w;
        }
        return;
    }
    const char *eol = memchr(c->buf, '\n', hlen);
    size_t rl = (size_t)(eol - c->buf);
    int http10 = rl >= 9 && memcmp(eol - 9, "HTTP/1.0", 8) == 0;
    v = header(c->buf, hlen, "connection:", &vlen);
    if (http10)
        c->keep_alive = v && vlen == 10 && strncasecmp(v, "keep-alive", 10) == 0;
    else
        c->keep_alive = !(v && vlen == 5 && strncasecmp(v, "close", 5) == 0);
    c->is_call = memmem(c->buf, rl, "/Calls.json", 11) != NULL;
    int known = c->is_call || memmem(c->buf, rl, "/Messages.json", 14) != NULL;
    size_t used = hlen + body;
    memmove(c->buf, c->buf + used, c->len - used);
    c->len -= used;
    stats.requests++;
    if (!known) {
        reply_now(c, answer_not_found, answer_not_found_len);
        return;
    }
    c->state = WAITING;
    c->due_ms = now_ms() + delay_ms;
    c->next = NULL;
    if (q_tail)
        q_tail->next = c;
    else
        q_head = c;
    q_tail = c;
    if (++stats.pending > stats.max_pending)
        stats.max_pending = stats.pending;
}

static void on_readable(struct conn *c)
{
    for (;;) {
        if (c->cap - c->len < 4096) {
            size_t ncap = c->cap ? c->cap * 2 : 8192;
            if (ncap > MAX_HEADER_BYTES + MAX_BODY_BYTES + 8192) {
                conn_close(c);
                return;
            }
            char *nb = realloc(c->buf, ncap);
            if (!nb) {
                conn_close(c);
                return;
            }
            c->buf = nb;
            c->cap = ncap;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (n > 0) {
            c->len += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        conn_close(c); /* EOF or error */
        return;
    }
    try_parse(c);
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                perror("accept4");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->state = READING;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl ADD");
            close(fd);
            free(c);
            continue;
        }
        stats.accepted++;
        if (++stats.open > stats.max_open)
            stats.max_open = stats.open;
    }
}

static void answer_due(void)
{
    int64_t now = now_ms();
    while (q_head && q_head->due_ms <= now) {
        struct conn *c = q_head;
        q_head = c->next;
        if (!q_head)
            q_tail = NULL;
        stats.pending--;
        if (c->closed) {
            free(c);
            continue;
        }
        c->state = READING; /* flush_out moves it to WRITING if the socket is full */
        if (c->is_call)
            reply_now(c, answer_call, answer_call_len);
        else
            reply_now(c, answer_message, answer_message_len);
    }
}

static void write_stats(const char *path)
{
    FILE *f = path ? fopen(path, "w") : NULL;
    FILE *out = f ? f : stderr;
    fprintf(out,
            "connections=%llu requests=%llu answers=%llu bad_requests=%llu "
            "closed_while_pending=%llu max_open=%ld max_pending=%ld\n",
            stats.accepted, stats.requests, stats.answers, stats.bad_requests,
            stats.closed_pending, stats.max_open, stats.max_pending);
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT DELAY_MS [STATS_FILE]\n", argv[0]);
        return 2;
    }
    long port = strtol(argv[1], NULL, 10);
    delay_ms = strtol(argv[2], NULL, 10);
    const char *stats_path = argc > 3 ? argv[3] : NULL;
    if (port < 0 || port > 65535 || delay_ms < 0) {
        fprintf(stderr, "bad PORT or DELAY_MS\n");
        return 2;
    }
    answer_message = make_answer("201 Created", message_json, &answer_message_len, 0);
    answer_call = make_answer("201 Created", call_json, &answer_call_len, 0);
    answer_not_found = make_answer("404 Not Found", not_found_json, &answer_not_found_len, 0);
    answer_bad = make_answer("400 Bad Request", "{\"status\":400}", &answer_bad_len, 1);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (sfd < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 ||
        listen(lfd, 4096) < 0) {
        perror("slow_upstream: listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("port %d\n", ntohs(addr.sin_port));
    fflush(stdout);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    static int lfd_tag, sfd_tag;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &lfd_tag};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev);
    ev.data.ptr = &sfd_tag;
    epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &ev);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int timeout = -1;
        if (q_head) {
            int64_t wait = q_head->due_ms - now_ms();
            timeout = wait < 0 ? 0 : (int)wait;
        }
        int n = epoll_wait(epfd, events, MAX_EVENTS, timeout);
        if (n < 0 && errno != EINTR) {
            perror("epoll_wait");
            break;
        }
        for (int i = 0; i < n; i++) {
            void *p = events[i].data.ptr;
            if (p == &lfd_tag) {
                on_accept(lfd);
            } else if (p == &sfd_tag) {
                write_stats(stats_path);
                return 0;
            } else {
                struct conn *c = p;
                if (c->closed)
                    continue;
                if (c->state == WRITING) {
                    if (events[i].events & (EPOLLERR | EPOLLHUP))
                        conn_close(c);
                    else
                        flush_out(c);
                } else {
                    /* Reading while an answer is pending still notices a closed peer. */
                    on_readable(c);
                }
            }
        }
        answer_due();
    }
    write_stats(stats_path);
    return 1;
}
