/* crowd: many client connections at once against the service, for the scenarios wrk cannot
 * play: callers that must each be counted, and crowds that hold sockets open without calling.
 *
 * Usage: crowd MODE N PORT SECONDS [STATS_FILE]
 *   callers      N keep-alive callers, each POSTing a sendSms block call and sending the next
 *                as soon as the answer is in. A reply that says "Connection: close", or a
 *                dropped connection, makes the caller connect again. An answer counts when it
 *                is HTTP 200 with "callback":"success"; one that takes over 5 s is a timeout,
 *                and its caller connects again.
 *   silent       N sockets that connect and send nothing; one the server drops connects again
 *                1 s later.
 *   idle         N connections that each make one GET /healthz and then sit idle; one the
 *                server drops connects again 1 s later and does the same.
 *   slowheaders  N connections that send a request line and then one header line a second,
 *                never finishing; one the server drops connects again at once.
 * Connects to 127.0.0.1:PORT only. Runs SECONDS (or until SIGTERM/SIGINT), then writes one
 * line "CROWD key=value ..." to STATS_FILE, or stdout. One thread, one epoll set.
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
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY_CAP 65536
#define ANSWER_TIMEOUT_MS 5000
#define REDIAL_MS 1000
#define HEADER_EVERY_MS 1000
#define BUCKET_US 100
#define BUCKETS 100000 /* 10 s in 100 us steps; slower answers count in the last */

enum mode { CALLERS, SILENT, IDLE, SLOW };
enum state { DOWN, CONNECTING, WAITING, IDLING };

struct conn {
    int fd;
    enum state state;
    int64_t due_ms;  /* DOWN: when to connect again; WAITING: answer deadline; SLOW: next line */
    int64_t sent_us; /* when the request went out */
    char *reply;
    size_t len;
    unsigned long served;
};

static const char sms_body[] =
    "{\"args\":{\"accountSid\":\"ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"accountToken\":"
    "\"bench-token\",\"from\":\"+15005550006\",\"to\":\"+15005550006\",\"body\":\"Hello\"}}";
static char sms_request[512];
static const char health_request[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n";
static const char slow_start[] = "GET /healthz HTTP/1.1\r\nHost: bench\r\n";
static const char slow_line[] = "X-Slow: 1\r\n";

static enum mode mode;
static int ep;
static struct sockaddr_in target;
static volatile sig_atomic_t stop;
static uint32_t *latency;
static struct {
    unsigned long long answers, bad, connect_errors, read_errors, timeouts, dials, drops,
        closed_by_reply, peak_open;
    long open;
} st;

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static void hang_up(struct conn *c, int64_t redial_in_ms)
{
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
        st.open--;
    }
    c->state = DOWN;
    c->len = 0;
    c->due_ms = now_us() / 1000 + redial_in_ms;
}

static void watch(struct conn *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void dial(struct conn *c)
{
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        st.connect_errors++;
        c->due_ms = now_us() / 1000 + REDIAL_MS;
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    st.dials++;
    st.open++;
    if (st.open > (long)st.peak_open)
        st.peak_open = (unsigned long long)st.open;
    if (connect(c->fd, (struct sockaddr *)&target, sizeof target) < 0 && errno != EINPROGRESS) {
        st.connect_errors++;
        hang_up(c, REDIAL_MS);
        return;
    }
    c->state = CONNECTING;
    c->len = 0;
    watch(c, EPOLLOUT | EPOLLIN | EPOLLRDHUP);
}

static int send_all(struct conn *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1; /* these requests are small: a full send buffer counts as a failure */
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The connection is up: do what the mode does first. */
static void start(struct conn *c)
{
    int64_t ms = now_us() / 1000;
    int rc = 0;
    switch (mode) {
    case CALLERS:
        c->sent_us = now_us();
        c->due_ms = ms + ANSWER_TIMEOUT_MS;
        c->state = WAITING;
        rc = send_all(c, sms_request, strlen(sms_request));
        break;
    case IDLE:
        c->state = WAITING;
        c->due_ms = ms + ANSWER_TIMEOUT_MS;
        rc = send_all(c, health_request, sizeof health_request - 1);
        break;
    case SLOW:
        c->state = IDLING;
        c->due_ms = ms + HEADER_EVERY_MS;
        rc = send_all(c, slow_start, sizeof slow_start - 1);
        break;
    case SILENT:
        c->state = IDLING;
        break;
    }
    if (rc < 0) {
        st.read_errors++;
        hang_up(c, mode == SLOW ? 0 : REDIAL_MS);
        return;
    }
    watch(c, EPOLLIN | EPOLLRDHUP);
}

/* Whether buf holds a whole reply; sets its status and whether it closes the connection. */
static int whole_reply(const char *buf, size_t len, int *status, int *closing, size_t *used)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end)
        return 0;
    size_t head = (size_t)(end - buf) + 4;
    size_t body = 0;
    *status = len > 12 ? atoi(buf + 9) : 0;
    *closing = 0;
    for (const char *line = buf; line < end;) {
        const char *eol = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
        size_t n = (size_t)(eol - line);
        if (n > 16 && strncasecmp(line, "Content-Length:", 15) == 0)
            body = strtoul(line + 15, NULL, 10);
        if (n > 11 && strncasecmp(line, "Connection:", 11) == 0 &&
            strcasestr(line + 11, "close") && (size_t)(strcasestr(line + 11, "close") - line) < n)
            *closing = 1;
        line = eol + 2;
    }
    if (len < head + body)
        return 0;
    *used = head + body;
    return 1;
}

static void answered(struct conn *c, int status, const char *body, size_t body_len)
{
    if (mode == CALLERS) {
        int64_t us = now_us() - c->sent_us;
        size_t b = (size_t)(us / BUCKET_US);
        latency[b < BUCKETS ? b : BUCKETS - 1]++;
        if (status == 200 && memmem(body, body_len, "\"callback\":\"success\"", 20)) {
            st.answers++;
            c->served++;
        } else {
            st.bad++;
        }
    } else {
        st.answers++;
    }
}

static void readable(struct conn *c)
{
    int ended = 0; /* the server closed or reset the connection */
    while (!ended) {
        if (c->len == REPLY_CAP) {
            st.bad++;
            hang_up(c, REDIAL_MS);
            return;
        }
        ssize_t got = recv(c->fd, c->reply + c->len, REPLY_CAP - c->len, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        if (got <= 0)
            ended = 1;
        else
            c->len += (size_t)got;
    }
    /* A reply and the close after it often come in one wake-up: the reply counts first. */
    int status, closing;
    size_t used;
    if (c->state == WAITING && whole_reply(c->reply, c->len, &status, &closing, &used)) {
        const char *body = memmem(c->reply, used, "\r\n\r\n", 4) + 4;
        answered(c, status, body, used - (size_t)(body - c->reply));
        memmove(c->reply, c->reply + used, c->len - used);
        c->len -= used;
        if (closing)
            st.closed_by_reply++;
        if (mode == CALLERS && (closing || ended)) {
            hang_up(c, 0);
            dial(c);
            return;
        }
        if (mode == CALLERS) {
            start(c);
        } else if (closing) {
            hang_up(c, REDIAL_MS);
            return;
        } else {
            c->state = IDLING; /* until the server drops it */
        }
    }
    if (ended) {
        if (c->state == WAITING)
            st.read_errors++;
        else
            st.drops++;
        hang_up(c, mode == SLOW || mode == CALLERS ? 0 : REDIAL_MS);
    }
}

static void tick(struct conn *cs, size_t n)
{
    int64_t ms = now_us() / 1000;
    for (size_t i = 0; i < n; i++) {
        struct conn *c = &cs[i];
        if (c->state == DOWN && ms >= c->due_ms) {
            dial(c);
        } else if (c->state == WAITING && ms >= c->due_ms) {
            st.timeouts++;
            hang_up(c, 0);
            if (mode == CALLERS)
                dial(c);
        } else if (mode == SLOW && c->state == IDLING && ms >= c->due_ms) {
            c->due_ms = ms + HEADER_EVERY_MS;
            if (send_all(c, slow_line, sizeof slow_line - 1) < 0) {
                st.drops++;
                hang_up(c, 0);
            }
        }
    }
}

static double percentile_ms(double p)
{
    unsigned long long total = 0, seen = 0;
    for (size_t b = 0; b < BUCKETS; b++)
        total += latency[b];
    if (!total)
        return 0;
    for (size_t b = 0; b < BUCKETS; b++) {
        seen += latency[b];
        if ((double)seen >= p * (double)total)
            return (double)(b + 1) * BUCKET_US / 1000.0;
    }
    return (double)BUCKETS * BUCKET_US / 1000.0;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: crowd callers|silent|idle|slowheaders N PORT SECONDS [STATS]\n");
        return 2;
    }
    const char *m = argv[1];
    mode = strcmp(m, "callers") == 0  ? CALLERS
           : strcmp(m, "silent") == 0 ? SILENT
           : strcmp(m, "idle") == 0   ? IDLE
           : strcmp(m, "slowheaders") == 0
               ? SLOW
               : (enum mode)-1;
    size_t n = strtoul(argv[2], NULL, 10);
    int port = atoi(argv[3]);
    double seconds = atof(argv[4]);
    if ((int)mode < 0 || n == 0 || n > 100000 || port <= 0 || port > 65535 || seconds <= 0) {
        fprintf(stderr, "crowd: bad arguments\n");
        return 2;
    }
    snprintf(sms_request, sizeof sms_request,
             "POST /api/twilio/sendSms HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
             "\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof sms_body - 1, sms_body);
    target = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    signal(SIGPIPE, SIG_IGN);

    struct conn *cs = calloc(n, sizeof *cs);
    latency = calloc(BUCKETS, sizeof *latency);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (!cs || !latency || ep < 0) {
        fprintf(stderr, "crowd: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        cs[i].fd = -1;
        if (!(cs[i].reply = malloc(REPLY_CAP))) {
            fprintf(stderr, "crowd: out of memory\n");
            return 1;
        }
        dial(&cs[i]);
    }
    const int64_t began = now_us(), end = began + (int64_t)(seconds * 1e6);
    struct epoll_event ev[512];
    int64_t ticked = 0;
    while (!stop && now_us() < end) {
        int got = epoll_wait(ep, ev, 512, 10);
        for (int i = 0; i < got; i++) {
            struct conn *c = ev[i].data.ptr;
            if (c->fd < 0)
                continue;
            if (c->state == CONNECTING) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err || (ev[i].events & (EPOLLERR | EPOLLHUP))) {
                    st.connect_errors++;
                    hang_up(c, REDIAL_MS);
                    continue;
                }
                start(c);
                continue;
            }
            readable(c);
        }
        if (now_us() - ticked >= 10000) { /* timers need no finer grain than 10 ms */
            ticked = now_us();
            tick(cs, n);
        }
    }
    const double took = (double)(now_us() - began) / 1e6;
    unsigned long served = 0, least = (unsigned long)-1, most = 0;
    for (size_t i = 0; i < n; i++) {
        served += cs[i].served > 0;
        least = cs[i].served < least ? cs[i].served : least;
        most = cs[i].served > most ? cs[i].served : most;
    }
    FILE *out = argc > 5 ? fopen(argv[5], "w") : stdout;
    if (!out)
        out = stdout;
    fprintf(out,
            "CROWD mode=%s conns=%zu seconds=%.1f answers=%llu rps=%.1f p50_ms=%.1f p99_ms=%.1f "
            "bad=%llu connect_errors=%llu read_errors=%llu timeouts=%llu dials=%llu drops=%llu "
            "closed_by_reply=%llu open_at_end=%ld peak_open=%llu callers_served=%lu "
            "least_served=%lu most_served=%lu\n",
            m, n, took, st.answers, (double)st.answers / took, percentile_ms(0.50),
            percentile_ms(0.99), st.bad, st.connect_errors, st.read_errors, st.timeouts, st.dials,
            st.drops, st.closed_by_reply, st.open, st.peak_open, served, least, most);
    if (out != stdout)
        fclose(out);
    return 0;
}
