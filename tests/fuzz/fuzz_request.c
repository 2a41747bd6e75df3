/* libFuzzer: request bytes -> parsed body -> validated args -> encoded form, for every block,
 * and a bulk block's list -> each entry's request. The pure path of a block call, without
 * sockets, on a worker's stack. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "args.h"
#include "block.h"
#include "embedded.h"
#include "recipients.h"
#include "request.h"
#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct block_set *blocks;

static void one(const unsigned char *data, size_t size)
{
    json_t *root, *args;
    struct jsonparse_error jerr;
    if (request_parse_body((const char *)data, size, &root, &args, &jerr) != REQUEST_PARSED)
        return;
    for (size_t i = 0; i < block_count(blocks); i++) {
        const struct block_def *b = block_at(blocks, i);
        struct prepared prep;
        struct recipients list;
        json_t *reasons = NULL;
        if (args_prepare(b, args, 1u << 20, &prep, &reasons) == ARGS_OK)
            args_prepared_free(&prep);
        json_decref(reasons);
        reasons = NULL;
        if (b->each && recipients_check(b, args, 1000, 1u << 20, &list, &reasons) == ARGS_OK)
            recipients_free(&list);
        json_decref(reasons);
    }
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!blocks) {
        char err[256];
        blocks = block_set_load(&embedded_metadata, &embedded_common_args, embedded_blocks,
                                embedded_blocks_count, err, sizeof err);
        if (!blocks)
            abort();
    }
    worker_stack_run(one, data, size);
    return 0;
}
