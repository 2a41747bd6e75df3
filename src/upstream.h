/* upstream: one thread that runs every Twilio transfer on one curl multi handle. Workers hand
 * it a configured easy handle and wait, so a thousand calls in flight cost no curl stack frames
 * in the workers and no multi handle each, and the connections to Twilio are one pool that
 * every caller reuses. */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <curl/curl.h>
#include <stddef.h>

struct upstream;

/* Starts loops event-loop threads, each with its own connections; max_idle bounds the
 * connections each keeps open between transfers. Returns NULL with err set when it cannot. */
struct upstream *upstream_start(size_t loops, long max_idle, char *err, size_t errlen);

/* Runs the transfer configured on h to its end on the upstream thread, and returns its result as
 * curl_easy_perform would. h belongs to the caller again when this returns. */
CURLcode upstream_run(struct upstream *u, CURL *h);

/* Finishes the transfers in flight, stops the thread and closes the connections. NULL is
 * ignored. */
void upstream_stop(struct upstream *u);

#endif
