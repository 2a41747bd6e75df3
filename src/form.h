/* form: application/x-www-form-urlencoded encoding into a capped buffer, and decoding. */
#ifndef FORM_H
#define FORM_H

#include <stddef.h>

#include <jansson.h>

#include "buf.h"

/* Appends n bytes of s percent-encoded (everything but A-Z a-z 0-9 - . _ ~).
 * Returns 0, or -1 when the buffer is full. */
int form_escape(struct buf *out, const char *s, size_t n);

/* Appends "key=value", preceded by '&' unless the buffer is empty. Returns 0 or -1. */
int form_add(struct buf *out, const char *key, const char *value, size_t value_len);

/* The value of a hex digit of a %XX escape (either case), or -1. */
int form_hex_value(char c);

/* Decodes form text into an object: each key maps to its value, or to a list of its values
 * when repeated (MediaUrl=a&MediaUrl=b). Returns a new object, or NULL when memory ran out or
 * a key or value is not valid UTF-8. */
json_t *form_parse(const char *s, size_t n);

#endif
