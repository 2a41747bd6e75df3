/* polling_cursor: a poll's cursor, part of polling. Its text is the watermark and one SID,
 * bound to the block and account (the scope) by an HMAC-SHA256 keyed with CURSOR_SECRET (shared
 * by replicas; unset: a key drawn once per process, so a cursor outlives neither a restart nor
 * another replica), and range-checked on the way in: no text a caller writes makes a poll
 * compute outside sane dates. */
#ifndef POLLING_CURSOR_H
#define POLLING_CURSOR_H

#include <stddef.h>

#define POLLING_CURSOR_SID_MAX 64
/* A cursor's text: version, watermark, one SID and the check, in base64url. */
#define POLLING_CURSOR_TEXT_MAX 160
/* The earliest watermark a cursor holds: 2000-01-01, before any Twilio resource. */
#define POLLING_CURSOR_MIN_S 946684800LL
/* How far past now a watermark may be: a cursor is made at most a clock's drift ahead. */
#define POLLING_CURSOR_AHEAD_S 86400LL

/* Everything up to and including (lo - 1 s) and the SIDs <= after dated lo was delivered. */
struct poll_position {
    long long lo;
    char after[POLLING_CURSOR_SID_MAX + 1];
};

/* The key: secret (len bytes), or when len is 0 the process's own, drawn at first use.
 * Returns 0, or -1 when no randomness could be had. */
struct polling_cursor_key {
    unsigned char key[64];
    size_t len;
};
int polling_cursor_key(const char *secret, struct polling_cursor_key *k);

/* Writes pos as a cursor for scope (the block and account) into out. Returns 0 or -1. */
int polling_cursor_encode(const struct polling_cursor_key *k, const char *scope,
                          const struct poll_position *pos, char out[POLLING_CURSOR_TEXT_MAX]);

/* Reads text, a cursor for scope, into pos. Returns 0, or -1 when text is not one this key
 * made for scope or its watermark is before POLLING_CURSOR_MIN_S or more than
 * POLLING_CURSOR_AHEAD_S past now (pos is then untouched). */
int polling_cursor_decode(const struct polling_cursor_key *k, const char *scope, const char *text,
                          long long now, struct poll_position *pos);

#endif
