/* jsonscan_object against jansson itself: for any bytes, the scanner calls them a JSON object
 * exactly when json_loadb (no flags) parses them into one. Bytes with a NUL in them are left
 * out: jansson loses a NUL that ends a number or a word (its lexer cannot push one back) and
 * accepts {"a":1\0}, where the scanner refuses every raw NUL; test_jsonscan covers NULs. */
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jsonscan.h"
#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int scanned;

/* The scanner runs where the service runs it, on a worker's stack; jansson, the oracle, on
 * the fuzzer's own. */
static void one(const unsigned char *data, size_t size)
{
    scanned = jsonscan_object((const char *)data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memchr(data, '\0', size))
        return 0;
    json_t *parsed = json_loadb((const char *)data, size, 0, NULL);
    int want = json_is_object(parsed);
    json_decref(parsed);
    worker_stack_run(one, data, size);
    if (scanned != want)
        abort();
    return 0;
}
