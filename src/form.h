/* form: application/x-www-form-urlencoded encoding into a capped buffer. */
#ifndef FORM_H
#define FORM_H

#include <stddef.h>

#include "buf.h"

/* Appends n bytes of s percent-encoded (everything but A-Z a-z 0-9 - . _ ~).
 * Returns 0, or -1 when the buffer is full. */
int form_escape(struct buf *out, const char *s, size_t n);

/* Appends "key=value", preceded by '&' unless the buffer is empty. Returns 0 or -1. */
int form_add(struct buf *out, const char *key, const char *value, size_t value_len);

#endif
