/* reference: the per-block reference in Markdown (docs/reference.md), generated from the loaded
 * block set like the OpenAPI document: each block's Twilio call, rules between args, every arg
 * (type, required, what it does, options, example) and a first call's body, then the events.
 * Deterministic, so the committed copy can be compared byte for byte. */
#ifndef REFERENCE_H
#define REFERENCE_H

#include <stddef.h>

#include "block.h"

/* Returns the document as malloc'd text ending in a newline (its length in *len), which the
 * caller frees, or NULL with the reason in err. */
char *reference_markdown(const struct block_set *set, size_t *len, char *err, size_t errlen);

#endif
