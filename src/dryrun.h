/* dryrun: the answer to a block's dryRun arg: the exact Twilio request the block would send,
 * with credentials and secret parameters masked, and how its message body travels as SMS. */
#ifndef DRYRUN_H
#define DRYRUN_H

#include <stddef.h>

#include "args.h"
#include "block.h"

/* What dryrun_answer puts under "to": {"dryRun": true, "request": {...}} with, for a message
 * body, "encoding", "segments", "characters" and "ucs2Characters". A new object the caller owns,
 * or NULL when memory ran out. */
json_t *dryrun_request(const struct block_def *b, const struct prepared *p, const char *url);

/* The success envelope for a dry run of b; url is the URL the request would go to, without a
 * query string: the parameters are shown as "form" for a POST and "query" otherwise.
 * Returns malloc'd JSON text (length in *len), or NULL when memory ran out. */
char *dryrun_answer(const struct block_def *b, const struct prepared *p, const char *url,
                    size_t *len);

#endif
