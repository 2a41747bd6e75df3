#include "status.h"

#include <string.h>

static const struct status_code codes[] = {
    {STATUS_REQUIRED_FIELDS, 200,
     "args missing or invalid; `fields` lists them in the block's order and `reasons` says why "
     "for each. Nothing was sent."},
    {STATUS_JSON_VALIDATION, 200, "the body, or a JSON-typed arg, is not valid JSON."},
    {STATUS_API_ERROR, 200,
     "Twilio answered with an error; its `code`, `message`, `more_info` and HTTP `status` "
     "follow, and `twilio_request_id` when Twilio sent one."},
    {STATUS_INTERNAL, 200,
     "Twilio could not be reached or gave no usable answer; `status_msg` says whether the "
     "request may have been sent."},
    {STATUS_KEY_REUSED, 200,
     "the Idempotency-Key was already used with other credentials or args; nothing was sent."},
    {STATUS_KEY_IN_FLIGHT, 200,
     "the first request with this Idempotency-Key is still in flight; nothing was sent."},
    {STATUS_PARTIAL_FAILURE, 200,
     "sendBulkSms: some messages were sent, some not; `total`, `messages`, `sent`, `failed`, "
     "`merged` and `results` (one per list entry, each failed one with its own `status_code`, "
     "`status_msg`, Twilio's `code` and `more_info`) follow."},
    {STATUS_DEADLINE_EXCEEDED, 200,
     "sendBulkSms: BULK_DEADLINE_MS passed before the recipient's turn; nothing was sent to it."},
    {STATUS_LIST_DID_NOT_END, 200,
     "poll blocks: each of the 400 pages a poll reads named a next page; nothing was delivered "
     "and the cursor stays where it was."},
    {STATUS_LIST_TOO_LARGE, 200,
     "poll blocks, listEventTypes, subscribeEvents, unsubscribeEvents: Twilio's pages for one "
     "call passed the list budget (8 MB together); nothing was delivered, and a flow says "
     "whether it had written anything before."},
    {STATUS_INVALID_SIGNATURE, 200,
     "webhookEvent: X-Twilio-Signature does not match a listener's authToken and webhookUrl; "
     "`listener` is its index and nothing was delivered."},
    {STATUS_WEBHOOK_TAKEN, 200,
     "subscribeWebhook: the webhook already points at another URL, named in `current`; nothing "
     "was written (`replace: true` takes it over)."},
    {STATUS_WEBHOOK_BYPASSED, 200,
     "subscribeWebhook: Twilio sends that traffic elsewhere (the Messaging Service, TwiML App "
     "or SIP trunk in `ownerSid`), so the URL would never be called; nothing was written."},
    {STATUS_BAD_REQUEST, 400,
     "both Content-Length and Transfer-Encoding, or a body that could not be read."},
    {STATUS_UNAUTHORIZED, 401,
     "PROXY_SECRET is set and the X-RapidAPI-Proxy-Secret header is missing or wrong."},
    {STATUS_UNKNOWN_BLOCK, 404, "no block with that name; `status_msg` lists the blocks."},
    {STATUS_NOT_FOUND, 404, "no such route."},
    {STATUS_METHOD_NOT_ALLOWED, 405,
     "a block called without POST, or a GET route called with another method (the Allow "
     "header says which)."},
    {STATUS_REQUEST_TIMEOUT, 408, "the body did not arrive within BODY_TIMEOUT_MS."},
    {STATUS_PAYLOAD_TOO_LARGE, 413, "the body is larger than MAX_BODY_BYTES."},
    {STATUS_UNSUPPORTED_MEDIA_TYPE, 415,
     "a Content-Type other than application/json or *+json (none at all is fine)."},
    {STATUS_SHUTTING_DOWN, 503,
     "the service is shutting down; nothing was sent. Retry (Retry-After: 1)."},
    {STATUS_STORE_UNAVAILABLE, 503,
     "REDIS_URL is set, the request carries an Idempotency-Key and Redis cannot be reached; "
     "nothing was sent. Retry (Retry-After: 5)."},
    {STATUS_CAMPAIGN_NOT_FOUND, 200,
     "campaign blocks: no campaign with that campaignId for these credentials (only the account "
     "and token or API key that created one see it)."},
    {STATUS_CAMPAIGN_STATE, 200,
     "campaign blocks: the campaign's status does not allow it (only a draft starts, only a "
     "running campaign pauses, ...); `status_msg` names the status. Nothing was changed."},
    {STATUS_CAMPAIGNS_UNAVAILABLE, 200,
     "campaign blocks: REDIS_URL is set without CAMPAIGN_SECRET; `status_msg` names the "
     "setting. Nothing was stored."},
    {STATUS_CAMPAIGN_STORE_UNAVAILABLE, 503,
     "campaign blocks: Redis cannot be reached; nothing was changed. Retry (Retry-After: 2)."},
};

size_t status_count(void)
{
    return sizeof codes / sizeof codes[0];
}

const struct status_code *status_at(size_t i)
{
    return i < status_count() ? &codes[i] : NULL;
}

const struct status_code *status_find(const char *code)
{
    for (size_t i = 0; code && i < status_count(); i++)
        if (strcmp(codes[i].code, code) == 0)
            return &codes[i];
    return NULL;
}
