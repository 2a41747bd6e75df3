/* webhook: Twilio's X-Twilio-Signature (HMAC-SHA1 of the URL and the sorted form fields, or of
 * the URL alone with a bodySHA256 query parameter for JSON bodies), the validateWebhookSignature
 * block, and the webhookEvent relay of the marketplace (MARKETPLACE.md). */
#ifndef WEBHOOK_H
#define WEBHOOK_H

#include <stddef.h>
#include <jansson.h>

#include "call.h"

enum sig_result {
    SIG_VALID = 1,
    SIG_INVALID = 0,
    SIG_BAD_BODY_HASH = -1, /* the body's SHA-256 is not the URL's bodySHA256 */
    SIG_NO_BODY_HASH = -2,  /* a raw body was given but the URL has no bodySHA256 */
    SIG_NOMEM = -3,
    SIG_UNSIGNED = -4, /* a field the signature cannot cover (null, an object, a nested or
                        * empty list), or a bodySHA256 URL whose body was not given as text */
};

/* Checks signature for a request Twilio sent to url, with its form fields in params (an object
 * of strings, numbers or lists of them; NULL for none) or its raw JSON body in raw (NULL for
 * none). A field of params that is none of those is SIG_UNSIGNED, and so is a url carrying
 * bodySHA256 without raw: what a signature does not cover must never pass for signed. The URL is tried with and without its port, as Twilio's libraries do; the comparison
 * takes the same time wherever the strings differ. */
enum sig_result webhook_signature_check(const char *token, const char *url, json_t *params,
                                        const char *raw, size_t raw_len, const char *signature);

/* The validateWebhookSignature block, whose args passed its checks: valid or why not. */
void webhook_validate_block(struct call *c);

/* The webhookEvent relay: the delivery checked against each listener's args and signature,
 * answered once per delivery (a repeat is marked a duplicate). */
void webhook_event(struct call *c);

#endif
