/* jsonlimit: a linear pre-check of JSON nesting depth. jansson parses recursively (up to 2048
 * levels), which overflows a worker thread's stack long before that; nothing we accept nests
 * deeper than a few levels. */
#ifndef JSONLIMIT_H
#define JSONLIMIT_H

#include <stddef.h>

#define JSON_MAX_DEPTH 32

/* Returns 0 when no array or object in the n bytes of text nests deeper than max_depth,
 * -1 otherwise (with the byte offset where it did in *where). Strings are skipped. */
int json_depth_check(const char *text, size_t n, int max_depth, size_t *where);

#endif
