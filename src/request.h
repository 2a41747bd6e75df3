/* request: a block call's HTTP body as callers send it, wrapped ({"args": {...}}, as marketplace
 * gateways do) or flat (the args at the top level), parsed into the args object. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stddef.h>
#include <jansson.h>

#include "jsonparse.h"

enum request_shape {
    REQUEST_PARSED,          /* *root is the document, *args the args object inside it */
    REQUEST_TOO_BIG,         /* too deep or too many values: err says which (jsonparse.h) */
    REQUEST_NOT_JSON,        /* the parser's reason in err->json */
    REQUEST_NOT_OBJECT,      /* valid JSON, but not an object */
    REQUEST_ARGS_NOT_OBJECT, /* "args" is there but is not an object */
};

/* Parses a request body, wrapped or flat. On REQUEST_PARSED the caller owns *root (and *args
 * borrows from it); otherwise *root is NULL. */
enum request_shape request_parse_body(const char *text, size_t n, json_t **root, json_t **args,
                                      struct jsonparse_error *err);

#endif
