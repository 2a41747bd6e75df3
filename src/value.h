/* value: a caller's values parsed once, by one set of rules that the arg checks (args.c) and
 * the flows both use: text trimmed (white space only counts as absent), ISO 8601 dates and
 * Twilio's own dates as seconds since the epoch, phone numbers without separators, SIDs, and
 * unpadded base64url. Nothing here knows blocks or Twilio requests. */
#ifndef VALUE_H
#define VALUE_H

#include <stddef.h>

#include "buf.h"

/* A slice of a string, not NUL-terminated. */
struct text {
    const char *p;
    size_t n;
};

/* t without the white space around it: how identifiers, credentials and URLs are read. */
struct text value_trim(struct text t);

/* ISO 8601 as Twilio takes it: 2026-11-23, or 2026-11-23T09:30:00 (a space or 't' for the T)
 * with an optional fraction and Z or an offset (+hh:mm); no zone is GMT. Returns 0 with
 * *epoch the whole seconds since 1970 (a fraction dropped; epoch may be NULL), or -1. */
int value_date(struct text t, long long *epoch);

/* A date as Twilio writes it: RFC 2822 ("Thu, 24 Aug 2023 05:01:45 +0000", the 2010-04-01
 * API) or ISO 8601 (the product APIs). Returns 0 with *epoch, or -1. */
int value_twilio_date(const char *s, long long *epoch);

/* t as 2026-11-23T09:30:00Z. */
void value_date_format(long long t, char out[32]);

/* A phone number with the separators people type (space, tab, - . ( )) dropped, into norm:
 * an optional leading '+' and 3 to 15 digits (E.164 allows 15; short codes are shorter).
 * Returns 0, or -1 when it is not one (or memory ran out). */
int value_phone(struct text t, struct buf *norm);

/* A phone number in E.164 (a '+', a first digit not 0, 7 to 15 digits), separators dropped,
 * into out. Returns 0, or -1 when it is not one or does not fit. */
int value_e164(struct text t, char *out, size_t size);

/* Whether t is a SID: two letters, the first two of prefix, and 32 hex digits. */
int value_sid(struct text t, const char *prefix);

/* Unpadded base64url of n bytes into out (room for 4 * n / 3 + 3 bytes, NUL included). */
void value_b64url_encode(const unsigned char *in, size_t n, char *out);

/* Decodes unpadded base64url text (n bytes) into at most cap bytes; returns the byte count, or
 * -1 on any other character, a cut-off text or bits left over (one text per value). */
long value_b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap);

/* Decodes base64 text (n bytes; padded to a multiple of 4 with '=', or not padded) as
 * value_b64url_decode does. */
long value_b64_decode(const char *in, size_t n, unsigned char *out, size_t cap);

#endif
