/* upstream: runs the Twilio transfers of many workers. The first few calls in flight each borrow
 * one of a fixed set of multi handles and run on their worker's own thread, as cheap as
 * curl_easy_perform; the rest go to event-loop threads that each run many transfers on one
 * multi handle, so a thousand calls in flight cost no curl stack frames in the workers and no
 * multi handle each. Connections stay with the borrowed handle or the loop, and are reused by
 * whoever comes next. */
#ifndef UPSTREAM_H
#define UPSTREAM_H

#include <stddef.h>
#include <curl/curl.h>

struct upstream;

/* Starts loops (at least 1) event-loop threads, each with its own connections, max_idle of
 * which it keeps open between transfers, and inline_slots handles lent to workers (0: every
 * transfer goes to a loop). Returns NULL with err set when it cannot. */
struct upstream *upstream_start(size_t loops, long max_idle, size_t inline_slots, char *err,
                                size_t errlen);

/* Runs the transfer configured on h to its end, on this thread with a borrowed handle when one
 * is free and on a loop otherwise, and returns its result as curl_easy_perform would. h belongs
 * to the caller again when this returns. */
CURLcode upstream_run(struct upstream *u, CURL *h);

/* Finishes the transfers in flight, stops the loops' threads and closes every connection of
 * the loops and the lent handles. NULL is ignored. */
void upstream_stop(struct upstream *u);

#endif
