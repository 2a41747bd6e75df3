#include "jsonparse.h"

#include <string.h>

#include "jsonlimit.h"

static size_t max_values = JSONPARSE_DEFAULT_MAX_VALUES;

void jsonparse_set_max_values(size_t max)
{
    max_values = max;
}

size_t jsonparse_max_values(void)
{
    return max_values;
}

json_t *jsonparse_loadb(const char *text, size_t n, size_t flags, struct jsonparse_error *err)
{
    struct jsonparse_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (json_depth_check(text, n, JSONPARSE_MAX_DEPTH, &err->offset) < 0) {
        err->fault = JSONPARSE_TOO_DEEP;
        return NULL;
    }
    json_t *v = json_loadb(text, n, flags, &err->json);
    err->fault = v ? JSONPARSE_OK : JSONPARSE_SYNTAX;
    return v;
}
