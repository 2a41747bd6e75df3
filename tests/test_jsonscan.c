/* jsonscan_object: the cases jansson decides one way or the other, each checked against the
 * scanner and against jansson itself, so that the table cannot drift from the library. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "jsonscan.h"

struct example {
    const char *text;
    size_t len; /* 0: strlen */
    int object;
};

static const struct example examples[] = {
    {"{}", 0, 1},
    {" \t\r\n{ } \n", 0, 1},
    {"{\"a\":1,\"a\":2}", 0, 1}, /* duplicate keys: jansson keeps the last */
    {"{\"\":null}", 0, 1},
    {"{\"a\":[1,-0,0.5,1e3,1E-3,-2.5e+10,true,false,null,\"x\",{},[]]}", 0, 1},
    {"{\"s\":\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00\"}", 0, 1},
    {"{\"s\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}", 0, 1},
    {"{\"n\":9223372036854775807,\"m\":-9223372036854775808}", 0, 1},
    {"{\"r\":1e308,\"tiny\":1e-400}", 0, 1},
    {"[]", 0, 0},
    {"\"x\"", 0, 0},
    {"1", 0, 0},
    {"", 0, 0},
    {"{", 0, 0},
    {"{\"a\":1,}", 0, 0},
    {"{\"a\" 1}", 0, 0},
    {"{a:1}", 0, 0},
    {"{\"a\":1}x", 0, 0},
    {"{\"a\":1}{}", 0, 0},
    {"{\"a\":01}", 0, 0},
    {"{\"a\":1.}", 0, 0},
    {"{\"a\":.5}", 0, 0},
    {"{\"a\":-}", 0, 0},
    {"{\"a\":1e}", 0, 0},
    {"{\"a\":+1}", 0, 0},
    {"{\"a\":9223372036854775808}", 0, 0},
    {"{\"a\":1e309}", 0, 0},
    {"{\"a\":truex}", 0, 0},
    {"{\"a\":nul}", 0, 0},
    {"{\"a\":\"\\u0000\"}", 0, 0},
    {"{\"\\u0000\":1}", 0, 0},
    {"{\"a\":\"\\uD83D\"}", 0, 0},
    {"{\"a\":\"\\uDE00\"}", 0, 0},
    {"{\"a\":\"\\uD83D\\u0041\"}", 0, 0},
    {"{\"a\":\"\\x\"}", 0, 0},
    {"{\"a\":\"\\u12G4\"}", 0, 0},
    {"{\"a\":\"tab\there\"}", 0, 0},
    {"{\"a\":\"\xc0\xaf\"}", 0, 0},     /* overlong */
    {"{\"a\":\"\xed\xa0\x80\"}", 0, 0}, /* an encoded surrogate */
    {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, 0},
    {"{\"a\":\"\xe2\x82\"}", 0, 0},
    {"\xef\xbb\xbf{}", 0, 0}, /* a byte-order mark */
    {"{}\0", 3, 0},
    {"{\"a\":\"x\0y\"}", 11, 0},
};

static void both_agree_with_the_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
        const struct example *e = &examples[i];
        size_t n = e->len ? e->len : strlen(e->text);
        json_t *parsed = json_loadb(e->text, n, 0, NULL);
        int jansson = json_is_object(parsed);
        json_decref(parsed);
        if (jansson != e->object || jsonscan_object(e->text, n) != e->object)
            fail_msg("case %zu (%s): table %d, jansson %d, jsonscan %d", i, e->text, e->object,
                     jansson, jsonscan_object(e->text, n));
    }
}

/* jansson refuses values nested deeper than 2048; the scanner agrees, at any depth. */
static void nesting_up_to_jansson_s_limit(void **state)
{
    (void)state;
    static char text[2 * 5000 + 16];
    for (size_t levels = 2046; levels <= 2049; levels++) {
        for (int scalar = 0; scalar < 2; scalar++) {
            size_t n = 0;
            text[n++] = '{';
            memcpy(text + n, "\"a\":", 4);
            n += 4;
            for (size_t i = 1; i < levels; i++)
                text[n++] = '[';
            if (scalar)
                text[n++] = '1';
            for (size_t i = 1; i < levels; i++)
                text[n++] = ']';
            text[n++] = '}';
            json_t *parsed = json_loadb(text, n, 0, NULL);
            int jansson = json_is_object(parsed);
            json_decref(parsed);
            if (jansson != jsonscan_object(text, n))
                fail_msg("%zu levels, scalar %d: jansson %d", levels, scalar, jansson);
        }
    }
    memset(text, '[', sizeof text);
    text[0] = '{';
    assert_int_equal(jsonscan_object(text, sizeof text), 0); /* no stack spent on it */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(both_agree_with_the_table),
        cmocka_unit_test(nesting_up_to_jansson_s_limit),
    };
    return cmocka_run_group_tests_name("jsonscan", tests, NULL, NULL);
}
