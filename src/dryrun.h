/* dryrun: the answer to a block's dryRun arg: the exact Twilio request the block would send,
 * with credentials and secret parameters masked, and how its message body travels as SMS. */
#ifndef DRYRUN_H
#define DRYRUN_H

#include <stddef.h>

#include "args.h"
#include "block.h"

/* The success envelope for a dry run of b; url is the URL the request would go to, without a
 * query string: the parameters are shown as "form" for a POST and "query" otherwise.
 * Returns malloc'd JSON text (length in *len), or NULL when memory ran out. */
char *dryrun_answer(const struct block_def *b, const struct prepared *p, const char *url,
                    size_t *len);

#endif
