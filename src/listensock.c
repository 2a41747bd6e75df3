#define _DEFAULT_SOURCE /* struct tcp_info */
#include "listensock.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int port_of(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET)
        return ntohs(((const struct sockaddr_in *)(const void *)a)->sin_port);
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)a)->sin6_port);
    return -1;
}

static int listens_on(int fd, int port)
{
    struct stat st;
    struct sockaddr_storage a;
    socklen_t alen = sizeof a;
    int on = 0;
    socklen_t olen = sizeof on;
    return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode) &&
           getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &olen) == 0 && on &&
           getsockname(fd, (struct sockaddr *)&a, &alen) == 0 && port_of(&a) == port;
}

size_t listensock_find(struct listensock *l, int port)
{
    l->n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    for (struct dirent *e; l->n < LISTENSOCK_MAX && (e = readdir(d));) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (end != e->d_name && *end == '\0' && fd != dirfd(d) && listens_on((int)fd, port))
            l->fds[l->n++] = (int)fd;
    }
    closedir(d);
    return l->n;
}

int listensock_defer_accept(const struct listensock *l, int seconds, char *err, size_t errlen)
{
    if (l->n == 0) {
        snprintf(err, errlen, "the listening socket was not found");
        return -1;
    }
    for (size_t i = 0; i < l->n; i++) {
        if (setsockopt(l->fds[i], IPPROTO_TCP, TCP_DEFER_ACCEPT, &seconds, sizeof seconds) < 0) {
            snprintf(err, errlen, "TCP_DEFER_ACCEPT: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

long listensock_queued(const struct listensock *l)
{
    long queued = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct tcp_info ti;
        socklen_t len = sizeof ti;
        /* On a listening socket Linux reports its accept queue's length in tcpi_unacked. */
        if (getsockopt(l->fds[i], IPPROTO_TCP, TCP_INFO, &ti, &len) == 0)
            queued += ti.tcpi_unacked;
    }
    return queued;
}
