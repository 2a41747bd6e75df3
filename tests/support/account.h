/* account: a Twilio account stand-in that keeps state, for the trigger flows: phone numbers
 * (2010-04-01 IncomingPhoneNumbers), Messaging Services (messaging v1 Services) and Event
 * Streams (events v1 Sinks, Subscriptions, SubscribedEvents, Types), each list paged as
 * Twilio pages it (absolute next_page_url on Twilio's own host). It counts what is written
 * (every POST and DELETE) and keeps a line per request. */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stddef.h>
#include <jansson.h>

struct account;

struct account *account_start(void);
int account_port(const struct account *a);
void account_stop(struct account *a);
/* Forgets every resource, the counts and the request lines. */
void account_reset(struct account *a);

/* Adds a resource to a collection ("numbers", "services", "sinks", "subscriptions", "types");
 * resource is stolen. A subscription's types are its "types" member, an array of names. */
void account_add(struct account *a, const char *collection, json_t *resource);
/* A string member of the resource with that sid, copied into out ("" when null or absent).
 * Returns 0, or -1 when there is no such resource. */
int account_get(struct account *a, const char *collection, const char *sid, const char *key,
                char *out, size_t size);
/* Sets a member of the resource with that sid (value stolen), as someone else would. */
void account_set(struct account *a, const char *collection, const char *sid, const char *key,
                 json_t *value);
size_t account_size(struct account *a, const char *collection);
/* A copy of the collection (a new reference). */
json_t *account_copy(struct account *a, const char *collection);

/* From now on every request is first sent as it came (method, path, query, form, credentials)
 * to a Prism mock of Twilio's specs at base: when Prism refuses it (HTTP 4xx: it breaks the
 * contract), that refusal is the answer; otherwise the answer comes from the state. */
void account_validate(struct account *a, const char *base);
/* Requests Prism refused. */
int account_refused(struct account *a);

/* The next request whose "METHOD path" is line is answered status with a Twilio error body
 * (code 20500) and changes nothing. */
void account_fail_next(struct account *a, const char *line, int status);

/* From now on (until account_reset) every GET waits ms before it is read and answered, so
 * that two calls' reads overlap. */
void account_delay_reads(struct account *a, int ms);

/* POSTs and DELETEs received, and every request. */
int account_writes(struct account *a);
int account_requests(struct account *a);
/* Request i as "METHOD path?query", copied into out. Returns 0, or -1 when there is none. */
int account_line(struct account *a, size_t i, char *out, size_t size);

/* The trigger suites' server: the stand-in account started, and the server pointed at it (with
 * prism unless NULL: every request first checked by Prism there, and an upstream timeout of
 * 15 s). Returns 0 or -1. */
struct harness;
int account_harness_start(struct harness *h, struct account **a, const char *prism);
void account_harness_stop(struct harness *h, struct account *a);
/* The same, and harness other stopped at once (each server's stop takes seconds). */
void account_harness_stop_with(struct harness *h, struct account *a, struct harness *other);
/* The same as a group fixture: account_fixture(&h, &a) names them, the setup starts both, the
 * teardown stops both, and reset forgets the account's state before each test. */
void account_fixture(struct harness *h, struct account **a);
int account_fixture_setup(void **state);
int account_fixture_teardown(void **state);
int account_fixture_reset(void **state);

#endif
