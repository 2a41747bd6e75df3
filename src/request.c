#include "request.h"

#include <string.h>

/* Keys beside a wrapped body's "args" object (credentials at the top level, as people put them
 * when they add "args" by hand) are read too, unless "args" has them: "args" wins. Under memory
 * pressure a key may stay out, and the call fails on it as on any missing arg. */
static void merge_outer_keys(json_t *doc, json_t *wrapped)
{
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        if (strcmp(key, "args") != 0 && !json_object_get(wrapped, key))
            json_object_set(wrapped, key, v);
    }
}

enum request_shape request_parse_body(const char *text, size_t n, json_t **root, json_t **args,
                                      struct jsonparse_error *err)
{
    *root = NULL;
    *args = NULL;
    json_t *doc = jsonparse_loadb(text, n, JSON_REJECT_DUPLICATES, err);
    if (!doc)
        return err->fault == JSONPARSE_SYNTAX ? REQUEST_NOT_JSON : REQUEST_TOO_BIG;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return REQUEST_NOT_OBJECT;
    }
    json_t *wrapped = json_object_get(doc, "args");
    if (wrapped && !json_is_object(wrapped) && !json_is_null(wrapped)) {
        json_decref(doc);
        return REQUEST_ARGS_NOT_OBJECT;
    }
    *root = doc;
    *args = json_is_object(wrapped) ? wrapped : doc;
    if (*args != doc)
        merge_outer_keys(doc, wrapped);
    return REQUEST_PARSED;
}
