/* lister: a Twilio stand-in that holds resources and lists them as the 2010-04-01 API does:
 * newest first, in an order of its own within one second, PageSize pages linked by
 * next_page_uri with a PageToken, inclusive date filters (DateSent, StartTime, DateCreated,
 * with > and <), equality filters (To, From, Status, CallSid), and a resource listed only once
 * the stand-in's clock reaches the time it appears (a late arrival appears after its date). */
#ifndef LISTER_H
#define LISTER_H

#include <stddef.h>

struct lister;

struct lister *lister_start(void);
int lister_port(const struct lister *l);
void lister_stop(struct lister *l);

/* The stand-in's clock, in seconds since the epoch: what "now" is for the lists. */
void lister_set_now(struct lister *l, long long now);

/* The order within one second: a different salt gives another (still stable) order. */
void lister_set_salt(struct lister *l, unsigned salt);

/* Adds a resource to collection (Messages, Calls, Recordings, Transcriptions,
 * IncomingPhoneNumbers): its SID, its date, the time it appears in the list (>= date), and
 * more JSON members ("\"to\":\"+15005550006\"") or NULL. Returns 0 or -1. */
int lister_add(struct lister *l, const char *collection, const char *sid, long long date,
               long long appears, const char *fields);

/* Every following list request gets this status and JSON body (status 0: list again). */
void lister_fail(struct lister *l, int status, const char *body);

/* The requests so far, and request i as "GET /path?query" in out. */
size_t lister_count(struct lister *l);
int lister_request(struct lister *l, size_t i, char *out, size_t size);
/* Forgets the requests (not the resources). */
void lister_clear(struct lister *l);

/* A resource date in Twilio's RFC 2822 form ("Thu, 24 Aug 2023 05:01:45 +0000"). */
void lister_date(long long t, char out[40]);

#endif
