/* listensock: the listening sockets civetweb opened, which its API does not expose, found by their
 * port among the process's descriptors; TCP_DEFER_ACCEPT on them, and the length of their
 * accept queues. */
#ifndef LISTENSOCK_H
#define LISTENSOCK_H

#include <stddef.h>

#define LISTENSOCK_MAX 4

struct listensock {
    int fds[LISTENSOCK_MAX];
    size_t n;
};

/* Finds the descriptors listening on TCP port (either address family). Returns how many were
 * found (0 when none). */
size_t listensock_find(struct listensock *l, int port);

/* Holds a new connection in the kernel until its first bytes arrive, or for about seconds
 * (Linux then hands it over anyway). Returns 0, or -1 with err set. */
int listensock_defer_accept(const struct listensock *l, int seconds, char *err, size_t errlen);

/* Connections the kernel has accepted that nobody has taken with accept() yet. */
long listensock_queued(const struct listensock *l);

#endif
