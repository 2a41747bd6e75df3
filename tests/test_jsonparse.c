/* jsonparse: the caps hold before jansson sees a text, and what a text that passes them costs
 * jansson is at most about 8 bytes per byte of text (plus 1 MB), measured by counting jansson's
 * own allocations (with malloc's overhead) for the shapes that cost most per byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "jsonparse.h"

static size_t allocated;

static void *counting_malloc(size_t n)
{
    allocated += n + 16; /* glibc's chunk header and rounding */
    return malloc(n);
}

static void counting_free(void *p)
{
    free(p);
}

/* A list of count copies of unit (each formatted with its index), inside open and close. */
static void repeat(struct buf *b, const char *open, const char *unit, size_t count,
                   const char *close)
{
    buf_reset(b);
    buf_appendz(b, open);
    for (size_t i = 0; i < count; i++) {
        if (i)
            buf_append(b, ",", 1);
        const char *at = strstr(unit, "%zu");
        if (!at) {
            buf_appendz(b, unit);
            continue;
        }
        buf_append(b, unit, (size_t)(at - unit));
        buf_appendf(b, "%zu", i);
        buf_appendz(b, at + 3);
    }
    buf_appendz(b, close);
}

static void costs_stay_bounded(void **state)
{
    (void)state;
    static const struct {
        const char *open, *unit, *close;
    } shapes[] = {
        {"[", "{}", "]"},         {"[", "[]", "]"},        {"[", "%zu", "]"},
        {"[", "\"\"", "]"},       {"[", "true", "]"},      {"{", "\"k%zu\":{}", "}"},
        {"[", "[[[[{}]]]]", "]"}, {"{", "\"%zu\":0", "}"}, {"[", "{\"a\":\"\"}", "]"},
    };
    struct buf b;
    buf_init(&b, 8u << 20);
    json_set_alloc_funcs(counting_malloc, counting_free);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int refused = 0, parsed = 0;
        for (size_t count = 1000; count <= 256000; count *= 2) {
            repeat(&b, shapes[s].open, shapes[s].unit, count, shapes[s].close);
            struct jsonparse_error err;
            allocated = 0;
            json_t *v = jsonparse_loadb_capped(b.data, b.len, 0, SIZE_MAX, &err);
            size_t cost = allocated;
            json_decref(v);
            if (!v) {
                assert_int_equal(err.fault, JSONPARSE_TOO_MANY);
                refused = 1;
                continue;
            }
            parsed = 1;
            if (cost > 8 * b.len + (1u << 20))
                fail_msg("shape %zu, %zu items: %zu bytes of text cost %zu", s, count, b.len, cost);
        }
        assert_true(parsed);
        assert_true(refused); /* the largest of each shape passes the budget */
    }
    json_set_alloc_funcs(malloc, free);
    buf_free(&b);
}

static void caps_and_faults(void **state)
{
    (void)state;
    struct jsonparse_error err;
    char text[200];
    memset(text, '[', 33);
    memset(text + 33, ']', 33);
    assert_null(jsonparse_loadb(text, 66, 0, &err));
    assert_int_equal(err.fault, JSONPARSE_TOO_DEEP);
    assert_int_equal(err.offset, 32);
    json_t *v = jsonparse_loadb(text + 1, 64, 0, &err); /* 32 levels: the most taken */
    assert_non_null(v);
    json_decref(v);
    /* brackets inside strings are text, not nesting */
    snprintf(text, sizeof text, "{\"a\":\"%s\"}", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
    v = jsonparse_loadb(text, strlen(text), 0, &err);
    assert_non_null(v);
    json_decref(v);
    assert_null(jsonparse_loadb("{\"a\":", 5, 0, &err));
    assert_int_equal(err.fault, JSONPARSE_SYNTAX);
    /* the value cap */
    jsonparse_set_max_values(100);
    struct buf b;
    buf_init(&b, 1u << 20);
    repeat(&b, "[", "%zu", 99, "]"); /* 99 numbers and the list: 100 values */
    v = jsonparse_loadb(b.data, b.len, 0, &err);
    assert_non_null(v);
    json_decref(v);
    repeat(&b, "[", "%zu", 100, "]");
    assert_null(jsonparse_loadb(b.data, b.len, 0, &err));
    assert_int_equal(err.fault, JSONPARSE_TOO_MANY);
    char why[256];
    assert_string_equal(jsonparse_fault_text(&err, why, sizeof why),
                        "holds more values than the service parses (at byte 288): at most 100 "
                        "(JSON_MAX_VALUES), and no more than about 8 bytes of memory per byte of "
                        "text");
    /* Twilio's answers have no value cap: a page holds more than a request may */
    v = jsonparse_answer(b.data, b.len, &err);
    assert_non_null(v);
    json_decref(v);
    jsonparse_set_max_values(JSONPARSE_DEFAULT_MAX_VALUES);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(caps_and_faults),
        cmocka_unit_test(costs_stay_bounded),
    };
    return cmocka_run_group_tests_name("jsonparse", tests, NULL, NULL);
}
