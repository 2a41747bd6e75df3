/* libFuzzer: whatever Twilio (or TWILIO_API_BASE) answers, as an error body and as a resource,
 * through what reads it (jsonparse_answer, jsonscan, the API_ERROR envelope), on a worker's
 * stack: no answer may crash the service. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "envelope.h"
#include "jsonparse.h"
#include "jsonscan.h"
#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const unsigned char *data, size_t size)
{
    static const long statuses[] = {400, 404, 429, 500};
    const char *text = (const char *)data;
    size_t len;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        free(envelope_api_error(statuses[i], "create record", text, size, "application/json",
                                "RQ0123", i % 2 ? "note" : NULL, &len));
    json_t *resource = jsonparse_answer(text, size, NULL);
    if (jsonscan_object(text, size))
        free(envelope_success_raw(text, size, &len));
    if (resource)
        free(envelope_success(resource, &len));
    json_decref(resource);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    worker_stack_run(one, data, size);
    return 0;
}
