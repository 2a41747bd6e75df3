/* status: every status_code an answer can carry, in one table (the code, the HTTP status it
 * comes with, when it is used). The codes are spelled here and only here: every other file
 * names them by these macros, the OpenAPI document lists them from status_at, and
 * tests/status_codes.sh fails on a code written anywhere else or missing from
 * docs/envelope.md. */
#ifndef STATUS_H
#define STATUS_H

#include <stddef.h>

#define STATUS_REQUIRED_FIELDS "REQUIRED_FIELDS"
#define STATUS_JSON_VALIDATION "JSON_VALIDATION"
#define STATUS_API_ERROR "API_ERROR"
#define STATUS_INTERNAL "INTERNAL_PACKAGE_ERROR"
#define STATUS_KEY_REUSED "IDEMPOTENCY_KEY_REUSED"
#define STATUS_KEY_IN_FLIGHT "IDEMPOTENCY_KEY_IN_FLIGHT"
#define STATUS_PARTIAL_FAILURE "PARTIAL_FAILURE"
#define STATUS_DEADLINE_EXCEEDED "DEADLINE_EXCEEDED"
#define STATUS_LIST_DID_NOT_END "LIST_DID_NOT_END"
#define STATUS_LIST_TOO_LARGE "LIST_TOO_LARGE"
#define STATUS_INVALID_SIGNATURE "INVALID_SIGNATURE"
#define STATUS_WEBHOOK_TAKEN "WEBHOOK_TAKEN"
#define STATUS_WEBHOOK_BYPASSED "WEBHOOK_BYPASSED"
#define STATUS_BAD_REQUEST "BAD_REQUEST"
#define STATUS_UNAUTHORIZED "UNAUTHORIZED"
#define STATUS_UNKNOWN_BLOCK "UNKNOWN_BLOCK"
#define STATUS_NOT_FOUND "NOT_FOUND"
#define STATUS_METHOD_NOT_ALLOWED "METHOD_NOT_ALLOWED"
#define STATUS_REQUEST_TIMEOUT "REQUEST_TIMEOUT"
#define STATUS_PAYLOAD_TOO_LARGE "PAYLOAD_TOO_LARGE"
#define STATUS_UNSUPPORTED_MEDIA_TYPE "UNSUPPORTED_MEDIA_TYPE"
#define STATUS_SHUTTING_DOWN "SHUTTING_DOWN"
#define STATUS_STORE_UNAVAILABLE "IDEMPOTENCY_STORE_UNAVAILABLE"
#define STATUS_CAMPAIGN_NOT_FOUND "CAMPAIGN_NOT_FOUND"
#define STATUS_CAMPAIGN_STATE "CAMPAIGN_STATE"
#define STATUS_CAMPAIGNS_UNAVAILABLE "CAMPAIGNS_UNAVAILABLE"
#define STATUS_CAMPAIGN_STORE_UNAVAILABLE "CAMPAIGN_STORE_UNAVAILABLE"

struct status_code {
    const char *code;
    int http;         /* the HTTP status it comes with */
    const char *when; /* when it is used (Markdown) */
};

/* The table: status_count entries, in the order the documents list them. */
size_t status_count(void);
const struct status_code *status_at(size_t i);

/* The entry of code, or NULL when the table lacks it. */
const struct status_code *status_find(const char *code);

#endif
