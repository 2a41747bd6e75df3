#include "handler.h"

#include <string.h>

#include "webhook.h"

static const struct {
    const char *name;
    handler_fn fn;
} handlers[] = {
    {"validateWebhookSignature", webhook_validate_block},
    {"webhookEvent", webhook_event},
};

handler_fn handler_find(const char *name)
{
    for (size_t i = 0; i < sizeof handlers / sizeof handlers[0]; i++)
        if (strcmp(handlers[i].name, name) == 0)
            return handlers[i].fn;
    return NULL;
}
