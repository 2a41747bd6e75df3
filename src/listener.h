/* listener: the listening sockets civetweb opened, which its API does not expose, found by their
 * port among the process's descriptors; TCP_DEFER_ACCEPT on them, and the length of their
 * accept queues. */
#ifndef LISTENER_H
#define LISTENER_H

#include <stddef.h>

#define LISTENER_MAX 4

struct listener {
    int fds[LISTENER_MAX];
    size_t n;
};

/* Finds the descriptors listening on TCP port (either address family). Returns how many were
 * found (0 when none). */
size_t listener_find(struct listener *l, int port);

/* Holds a new connection in the kernel until its first bytes arrive, or for about seconds
 * (Linux then hands it over anyway). Returns 0, or -1 with err set. */
int listener_defer_accept(const struct listener *l, int seconds, char *err, size_t errlen);

/* Connections the kernel has accepted that nobody has taken with accept() yet. */
long listener_queued(const struct listener *l);

#endif
