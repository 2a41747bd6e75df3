/* envelope: the marketplace response bodies ({"callback": ..., "contextWrites": {"to": ...}})
 * as JSON text. Every function returns a malloc'd NUL-terminated string the caller frees
 * (length in *len), or NULL when memory ran out. */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>
#include <jansson.h>

/* Wraps a resource that is already valid JSON text, byte for byte. */
char *envelope_success_raw(const char *resource, size_t n, size_t *len);

/* Wraps an object (borrowed; NULL gives NULL), keys in the order they were set. */
char *envelope_success(json_t *to, size_t *len);

/* An error envelope: {"status_code": code, "status_msg": msg} plus every key of extra
 * (an object, or NULL). extra is borrowed. */
char *envelope_error(const char *code, const char *msg, json_t *extra, size_t *len);

/* REQUIRED_FIELDS, or JSON_VALIDATION when json_args is set, from a reasons object
 * (arg name -> reason) as args_prepare returns it. */
char *envelope_fields(json_t *reasons, int json_args, size_t *len);

/* JSON_VALIDATION for a request body the parser refused. */
char *envelope_bad_body(const json_error_t *err, size_t *len);
/* The same, told from the body's text (n bytes) where that says more: an empty body, and a
 * trailing comma (pointed at where it is, not at the '}' after it). */
char *envelope_bad_body_in(const char *text, size_t n, const json_error_t *err, size_t *len);

/* API_ERROR for a Twilio error answer: "[HTTP 400] Unable to <action>: <message>" (action: "create record", "fetch page", ...)
 * with Twilio's code, message, more_info and status when its body is JSON, and
 * twilio_request_id when known. note, unless NULL, is appended to status_msg. */
char *envelope_api_error(long http_status, const char *action, const char *body, size_t n,
                         const char *content_type, const char *request_id, const char *note,
                         size_t *len);

/* What envelope_api_error puts under "to" ({"status_code": API_ERROR, "status_msg", code,
 * message, more_info, status, twilio_request_id}), for an answer that reports several Twilio
 * answers. A new object the caller owns, or NULL when memory ran out. */
json_t *envelope_api_error_to(long http_status, const char *action, const char *body, size_t n,
                              const char *content_type, const char *request_id, const char *note);

/* The parser's reason without its "near '...'" excerpt, which may quote a secret. */
void envelope_json_reason(const json_error_t *err, char *out, size_t size);

#endif
