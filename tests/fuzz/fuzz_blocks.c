/* libFuzzer: the block-definition loader and metadata composition on arbitrary bytes, on a
 * worker's stack. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "block.h"
#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const unsigned char *data, size_t size)
{
    static const char meta[] = "{\"package\":\"Twilio\",\"blocks\":[\"x\"]}";
    struct embedded_file metadata = {"metadata", meta, sizeof meta - 1};
    struct embedded_file file = {"x", (const char *)data, size};
    char err[512];
    struct block_set *set =
        block_set_load(&metadata, &embedded_common_args, &file, 1, err, sizeof err);
    block_set_free(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    worker_stack_run(one, data, size);
    return 0;
}
