#include "jsonparse.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* What jansson spends on each kind of value (measured on Debian's 2.14 with malloc's own
 * overhead): an object with its hash table, an array with its first slots, a string (plus its
 * bytes), a number or a word, a member's key (plus its bytes). */
#define COST_OBJECT 256u
#define COST_ARRAY 160u
#define COST_STRING 88u
#define COST_SCALAR 64u
#define COST_KEY 112u
/* A parse may cost this much beyond 8 bytes per byte of text, so small bodies of many small
 * objects (1,000 bulk recipients) still fit. */
#define COST_FLOOR (1u << 20)

static size_t max_values = JSONPARSE_DEFAULT_MAX_VALUES;

void jsonparse_set_max_values(size_t max)
{
    max_values = max;
}

size_t jsonparse_max_values(void)
{
    return max_values;
}

/* One pass over the text, no recursion: depth, values and their estimated cost. A malformed
 * text may be scanned loosely; jansson refuses it afterwards. */
static int precheck(const char *t, size_t n, size_t max, struct jsonparse_error *err)
{
    uint64_t objects = 0; /* bit d: the container at depth d+1 is an object */
    int depth = 0, want_key = 0;
    size_t values = 0, cost = 0;
    const size_t budget = n > (SIZE_MAX - COST_FLOOR) / 8 ? SIZE_MAX : 8 * n + COST_FLOOR;
    for (size_t i = 0; i < n; i++) {
        const char c = t[i];
        size_t start = i;
        switch (c) {
        case '"':
            for (i++; i < n && t[i] != '"'; i++)
                if (t[i] == '\\')
                    i++;
            cost += (want_key ? COST_KEY : COST_STRING) + (i - start);
            if (!want_key)
                values++;
            want_key = 0;
            break;
        case '{':
        case '[':
            if (++depth > JSONPARSE_MAX_DEPTH) {
                err->fault = JSONPARSE_TOO_DEEP;
                err->offset = i;
                return -1;
            }
            if (c == '{')
                objects |= (uint64_t)1 << (depth - 1);
            else
                objects &= ~((uint64_t)1 << (depth - 1));
            values++;
            cost += c == '{' ? COST_OBJECT : COST_ARRAY;
            want_key = c == '{';
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            want_key = 0;
            break;
        case ',':
            want_key = depth > 0 && (objects >> (depth - 1) & 1);
            break;
        case ':':
            want_key = 0;
            break;
        default:
            if ((c >= '0' && c <= '9') || c == '-' || c == 't' || c == 'f' || c == 'n') {
                while (i + 1 < n && t[i + 1] && strchr("0123456789+-.eEtruefalsn", t[i + 1]))
                    i++;
                values++;
                cost += COST_SCALAR;
            }
            break;
        }
        if (values > max || cost > budget) {
            err->fault = JSONPARSE_TOO_MANY;
            err->offset = start;
            return -1;
        }
    }
    return 0;
}

static json_t *load(const char *text, size_t n, size_t flags, size_t max,
                    struct jsonparse_error *err)
{
    struct jsonparse_error local;
    if (!err)
        err = &local;
    memset(err, 0, sizeof *err);
    if (!text || precheck(text, n, max, err) < 0)
        return NULL;
    json_t *v = json_loadb(text, n, flags, &err->json);
    err->fault = v ? JSONPARSE_OK : JSONPARSE_SYNTAX;
    return v;
}

json_t *jsonparse_loadb(const char *text, size_t n, size_t flags, struct jsonparse_error *err)
{
    return load(text, n, flags, max_values, err);
}

json_t *jsonparse_answer(const char *text, size_t n, struct jsonparse_error *err)
{
    return load(text, n, 0, SIZE_MAX, err);
}

json_t *jsonparse_loadb_capped(const char *text, size_t n, size_t flags, size_t max,
                               struct jsonparse_error *err)
{
    return load(text, n, flags, max, err);
}

const char *jsonparse_fault_text(const struct jsonparse_error *err, char *out, size_t size)
{
    switch (err->fault) {
    case JSONPARSE_TOO_DEEP:
        snprintf(out, size, "nests arrays or objects deeper than %d levels (at byte %zu)",
                 JSONPARSE_MAX_DEPTH, err->offset);
        break;
    case JSONPARSE_TOO_MANY:
        snprintf(out, size,
                 "holds more values than the service parses (at byte %zu): at most %zu "
                 "(JSON_MAX_VALUES), and no more than about 8 bytes of memory per byte of text",
                 err->offset, max_values);
        break;
    default:
        snprintf(out, size, "is not valid JSON");
        break;
    }
    return out;
}
