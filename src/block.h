/* block: block definitions (blocks/<name>.json) parsed into checked structs, lookup by name,
 * and the package metadata served at GET /api/twilio, composed and serialised once. */
#ifndef BLOCK_H
#define BLOCK_H

#include <jansson.h>
#include <stddef.h>

#include "embedded.h"

enum arg_type { ARG_CREDENTIALS, ARG_STRING, ARG_NUMBER, ARG_BOOLEAN, ARG_SELECT, ARG_LIST, ARG_JSON, ARG_DATE };
enum addr_kind { ADDR_NONE, ADDR_TO, ADDR_FROM };

struct arg_def {
    const char *name;
    const char *param; /* Twilio form parameter; NULL for credentials and path args */
    enum arg_type type;
    int required;
    json_t *options; /* borrowed: Select options, or the options of a List's items; or NULL */
    enum addr_kind address;
    const char *sid_prefix; /* two letters, or NULL */
    int url;
    int has_min, has_max;
    long long min, max;
    int decimal;
    long max_length; /* characters; -1 when unlimited */
    long min_items, max_items; /* -1 when unlimited */
    const char *charset;
    size_t *requires; /* indexes into the block's args */
    size_t n_requires;
};

struct arg_group {
    size_t *idx;
    size_t n;
};

struct block_def {
    const char *name;
    const char *method;
    const char *path;
    const char *action;
    size_t auth_user, auth_pass; /* indexes of the basic-auth args */
    struct arg_def *args;
    size_t n_args;
    struct arg_group *one_of;
    size_t n_one_of;
    json_t *root; /* owns every string above */
};

struct block_set;

/* Parses one block definition. Returns 0, or -1 with the reason in err and *out untouched.
 * On success *out owns its memory; release it with block_def_free. */
int block_parse(const char *name, const char *text, size_t len, struct block_def *out, char *err,
                size_t errlen);
void block_def_free(struct block_def *b);

/* Loads every block and the metadata, checks they agree (each block listed in metadata.json's
 * "blocks" has a file, and each file is listed) and composes the served metadata.
 * Returns a set the caller frees with block_set_free, or NULL with the reason in err. */
struct block_set *block_set_load(const struct embedded_file *metadata,
                                 const struct embedded_file *files, size_t n, char *err,
                                 size_t errlen);
void block_set_free(struct block_set *set);

const struct block_def *block_find(const struct block_set *set, const char *name, size_t len);
size_t block_count(const struct block_set *set);
const struct block_def *block_at(const struct block_set *set, size_t i);

/* The served metadata document (compact JSON), owned by the set. */
const char *block_metadata(const struct block_set *set, size_t *len);

/* Index of the arg called name, or -1. */
long block_arg_index(const struct block_def *b, const char *name);

#endif
