/* apidoc: the service's own API described from the loaded block set, the one source for an
 * OpenAPI 3.0.3 document (printed by --openapi, served at GET /api/twilio/openapi.json) and a
 * Postman collection v2.1 (--postman). Both are deterministic: keys in a fixed order, no
 * timestamps or generated ids, so committed copies can be compared byte for byte. */
#ifndef APIDOC_H
#define APIDOC_H

#include <stddef.h>

#include "block.h"

/* Each returns a new indented JSON document ending in a newline (its length in *len), which
 * the caller frees, or NULL with the reason in err. */
char *apidoc_openapi(const struct block_set *set, size_t *len, char *err, size_t errlen);
char *apidoc_postman(const struct block_set *set, size_t *len, char *err, size_t errlen);

#endif
