/* jsonscan: whether bytes are one JSON object, decided without building it. Twilio's resources
 * go into our envelopes as Twilio sent them, so the only question is whether they are valid:
 * parsing them into a jansson tree to ask it cost a third of a fast call's instructions. The
 * answer is jansson's own (json_loadb with no flags, then json_is_object), which a fuzzer
 * checks: strict RFC 8259 grammar, UTF-8 without overlong forms or surrogates, no \u0000, no
 * lone surrogate escapes, values nested at most 2048 deep, integers within a long long and
 * reals within a double. One difference: every raw NUL byte is refused, where jansson lets one
 * through after a number or a word ({"a":1\0}). */
#ifndef JSONSCAN_H
#define JSONSCAN_H

#include <stddef.h>

/* Returns 1 when the n bytes of text are exactly one JSON object (with white space around it
 * allowed), 0 otherwise. Iterative: any nesting costs no stack. */
int jsonscan_object(const char *text, size_t n);

#endif
