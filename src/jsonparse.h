/* jsonparse: the one way JSON text becomes a jansson tree here: request bodies, JSON-text args,
 * webhook bodies and whatever Twilio answers. jansson's decoder recurses once per level (a
 * worker's small stack holds far fewer levels than jansson's own cap of 2048) and spends a few
 * hundred bytes on each value, so the text's depth and the number of its values are counted
 * first, in one pass that recurses nowhere, and text over either cap never reaches jansson. */
#ifndef JSONPARSE_H
#define JSONPARSE_H

#include <stddef.h>
#include <jansson.h>

/* Nothing this service accepts or Twilio answers nests deeper. */
#define JSONPARSE_MAX_DEPTH 32
/* The default of JSON_MAX_VALUES: room for the largest legitimate call (1,000 bulk recipients,
 * each an object of a few members). */
#define JSONPARSE_DEFAULT_MAX_VALUES 20000

enum jsonparse_fault {
    JSONPARSE_OK,
    JSONPARSE_TOO_DEEP, /* nests deeper than JSONPARSE_MAX_DEPTH */
    JSONPARSE_TOO_MANY, /* holds more values than the cap */
    JSONPARSE_SYNTAX,   /* jansson refused it (or ran out of memory): see json */
};

struct jsonparse_error {
    enum jsonparse_fault fault;
    size_t offset;     /* TOO_DEEP, TOO_MANY: the byte where the text passed the cap */
    json_error_t json; /* SYNTAX: jansson's reason */
};

/* Sets the cap on values in one text (JSON_MAX_VALUES); call once at start, before threads. */
void jsonparse_set_max_values(size_t max);
size_t jsonparse_max_values(void);

/* Parses the n bytes of text with jansson's flags (JSON_REJECT_DUPLICATES, JSON_DECODE_ANY, ...)
 * once they pass both caps. Returns a new reference, or NULL with the reason in *err (err may
 * be NULL). */
json_t *jsonparse_loadb(const char *text, size_t n, size_t flags, struct jsonparse_error *err);

/* What Twilio (or TWILIO_API_BASE) answered, parsed with jansson's default flags: depth capped
 * and memory bounded as above, but no cap on the number of values, since one page of 1,000
 * resources holds more than any caller's request may. */
json_t *jsonparse_answer(const char *text, size_t n, struct jsonparse_error *err);

/* jsonparse_loadb with a cap of max values instead of JSON_MAX_VALUES (SIZE_MAX: none but the
 * memory rule), for texts that are not a caller's: block definitions and the metadata. */
json_t *jsonparse_loadb_capped(const char *text, size_t n, size_t flags, size_t max,
                               struct jsonparse_error *err);

/* The fault in words for an answer ("nests ... deeper than 32 levels (at byte 12)"), written
 * into out; never quotes the text, which may hold a secret. Returns out. */
const char *jsonparse_fault_text(const struct jsonparse_error *err, char *out, size_t size);

#endif
