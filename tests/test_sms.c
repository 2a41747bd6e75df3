/* sms_analyse: GSM-7 or UCS-2, units and segments as Twilio bills them, and the characters
 * that forced UCS-2. Every count is exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "sms.h"

#define EURO "\xE2\x82\xAC"      /* U+20AC, a GSM-7 extension character */
#define ZHE "\xD0\xB6"           /* U+0436 Cyrillic zhe, not GSM-7 */
#define EMOJI "\xF0\x9F\x98\x80" /* U+1F600, two UTF-16 units */

/* The text made of (part, count) pairs, each part repeated count times; NULL ends the list. */
static char *repeat(const char *first, size_t count, ...)
{
    struct buf b;
    va_list ap;
    buf_init(&b, 1u << 20);
    va_start(ap, count);
    for (const char *part = first; part;) {
        for (size_t i = 0; i < count; i++)
            assert_int_equal(buf_appendz(&b, part), 0);
        part = va_arg(ap, const char *);
        if (part)
            count = va_arg(ap, size_t);
    }
    va_end(ap);
    char *out = strdup(buf_str(&b));
    buf_free(&b);
    assert_non_null(out);
    return out;
}

struct expect {
    int ucs2;
    size_t characters, units, segments;
    const char *forced; /* the forced list as compact JSON */
};

static void check(const char *text, size_t n, const struct expect *e)
{
    struct sms_info info;
    assert_int_equal(sms_analyse(text, n, &info), 0);
    assert_int_equal(info.ucs2, e->ucs2);
    assert_int_equal(info.characters, e->characters);
    assert_int_equal(info.units, e->units);
    assert_int_equal(info.segments, e->segments);
    assert_non_null(info.forced);
    char *forced = json_dumps(info.forced, JSON_COMPACT | JSON_ENCODE_ANY);
    assert_non_null(forced);
    assert_string_equal(forced, e->forced);
    free(forced);
    json_decref(info.forced);
}

static void check_str(const char *text, const struct expect *e)
{
    check(text, strlen(text), e);
}

/* First part a repeated count times, then the rest, as one analysed text. */
static void check_repeat(const char *part, size_t count, const struct expect *e)
{
    char *text = repeat(part, count, NULL);
    check_str(text, e);
    free(text);
}

static void plain_ascii(void **state)
{
    (void)state;
    check_str("Hello there, your code is 123456.", &(struct expect){0, 33, 33, 1, "[]"});
}

static void empty_text(void **state)
{
    (void)state;
    check("", 0, &(struct expect){0, 0, 0, 1, "[]"});
}

static void gsm7_segment_limits(void **state)
{
    (void)state;
    check_repeat("a", 160, &(struct expect){0, 160, 160, 1, "[]"});
    check_repeat("a", 161, &(struct expect){0, 161, 161, 2, "[]"});
    check_repeat("a", 306, &(struct expect){0, 306, 306, 2, "[]"});
    check_repeat("a", 307, &(struct expect){0, 307, 307, 3, "[]"});
    check_repeat("a", 459, &(struct expect){0, 459, 459, 3, "[]"});
    check_repeat("a", 460, &(struct expect){0, 460, 460, 4, "[]"});
}

/* ^ { } \ [ ~ ] | and the euro sign each cost an escape septet as well. */
static void extension_characters_count_two(void **state)
{
    (void)state;
    static const char *const ext[] = {"^", "{", "}", "\\", "[", "~", "]", "|", EURO};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        check_repeat(ext[i], 80, &(struct expect){0, 80, 160, 1, "[]"});
        check_repeat(ext[i], 81, &(struct expect){0, 81, 162, 2, "[]"});
    }
    check_str("a^b{c}d\\e[f~g]h|i" EURO, &(struct expect){0, 18, 27, 1, "[]"});
    /* 159 plain septets and one extension character: 161 septets, two segments */
    char *text = repeat("a", 159, "|", (size_t)1, NULL);
    check_str(text, &(struct expect){0, 160, 161, 2, "[]"});
    free(text);
}

/* 152 + 2 + 152 = 306 septets would fit two segments of 153 if the escape pair could be cut
 * after the 153rd septet; it cannot, so it takes three. */
static void escape_pair_never_split(void **state)
{
    (void)state;
    char *text = repeat("a", 152, EURO, (size_t)1, "a", (size_t)152, NULL);
    check_str(text, &(struct expect){0, 305, 306, 3, "[]"});
    free(text);
    /* with the pair whole inside the first segment, two suffice */
    text = repeat("a", 151, EURO, (size_t)1, "a", (size_t)153, NULL);
    check_str(text, &(struct expect){0, 305, 306, 2, "[]"});
    free(text);
}

/* The basic GSM 03.38 set outside ASCII is one septet each and does not force UCS-2. */
static void gsm_basic_set_stays_gsm7(void **state)
{
    (void)state;
    static const char basic[] = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¡ÄÖÑÜ§¿äöñüà¤";
    check_str(basic, &(struct expect){0, 44, 44, 1, "[]"});
    /* 132 + 30 = 162 septets: two segments */
    char *text = repeat(basic, 3, "ab", (size_t)15, NULL);
    check_str(text, &(struct expect){0, 162, 162, 2, "[]"});
    free(text);
}

static void backtick_forces_ucs2(void **state)
{
    (void)state;
    check_str("a`b", &(struct expect){1, 3, 3, 1, "[\"`\"]"});
    /* 100 characters fit one GSM-7 segment but need two in UCS-2 */
    char *text = repeat("a", 99, "`", (size_t)1, NULL);
    check_str(text, &(struct expect){1, 100, 100, 2, "[\"`\"]"});
    free(text);
}

/* In UCS-2 the extension characters are one unit like any other. */
static void ucs2_counts_extension_as_one(void **state)
{
    (void)state;
    check_str(ZHE EURO "{", &(struct expect){1, 3, 3, 1, "[\"ж\"]"});
}

static void ucs2_segment_limits(void **state)
{
    (void)state;
    check_repeat(ZHE, 70, &(struct expect){1, 70, 70, 1, "[\"ж\"]"});
    check_repeat(ZHE, 71, &(struct expect){1, 71, 71, 2, "[\"ж\"]"});
    check_repeat(ZHE, 134, &(struct expect){1, 134, 134, 2, "[\"ж\"]"});
    check_repeat(ZHE, 135, &(struct expect){1, 135, 135, 3, "[\"ж\"]"});
    /* one non-GSM character among GSM ones switches the whole text */
    char *text = repeat("a", 69, ZHE, (size_t)1, NULL);
    check_str(text, &(struct expect){1, 70, 70, 1, "[\"ж\"]"});
    free(text);
    text = repeat("a", 70, ZHE, (size_t)1, NULL);
    check_str(text, &(struct expect){1, 71, 71, 2, "[\"ж\"]"});
    free(text);
}

static void emoji_is_two_units(void **state)
{
    (void)state;
    check_str(EMOJI, &(struct expect){1, 1, 2, 1, "[\"" EMOJI "\"]"});
    check_repeat(EMOJI, 35, &(struct expect){1, 35, 70, 1, "[\"" EMOJI "\"]"});
    check_repeat(EMOJI, 36, &(struct expect){1, 36, 72, 2, "[\"" EMOJI "\"]"});
    char *text = repeat("a", 69, EMOJI, (size_t)1, NULL);
    check_str(text, &(struct expect){1, 70, 71, 2, "[\"" EMOJI "\"]"});
    free(text);
}

/* 66 + 2 + 66 = 134 units would fit two segments of 67 if the surrogate pair could be cut
 * after the 67th unit; it cannot, so it takes three. */
static void surrogate_pair_never_split(void **state)
{
    (void)state;
    char *text = repeat(ZHE, 66, EMOJI, (size_t)1, ZHE, (size_t)66, NULL);
    check_str(text, &(struct expect){1, 133, 134, 3, "[\"ж\",\"" EMOJI "\"]"});
    free(text);
    text = repeat(ZHE, 65, EMOJI, (size_t)1, ZHE, (size_t)67, NULL);
    check_str(text, &(struct expect){1, 133, 134, 2, "[\"ж\",\"" EMOJI "\"]"});
    free(text);
}

/* ucs2Characters: each forcing character once, in the order it first appears. */
static void forced_distinct_in_order(void **state)
{
    (void)state;
    check_str("Привет `hi` " EMOJI " мир " EMOJI "ё",
              &(struct expect){1, 20, 22, 1,
                               "[\"П\",\"р\",\"и\",\"в\",\"е\",\"т\",\"`\",\"" EMOJI
                               "\",\"м\",\"ё\"]"});
    check_str("Ça coûte 5€ ou 5¥, façon ŝ", &(struct expect){1, 26, 26, 1, "[\"û\",\"ç\",\"ŝ\"]"});
}

static void expect_invalid(const char *text, size_t n)
{
    struct sms_info info;
    int rc = sms_analyse(text, n, &info);
    int kept = info.forced != NULL;
    if (rc == 0)
        json_decref(info.forced); /* so that a failure leaks nothing */
    assert_int_equal(rc, -1);
    assert_false(kept);
}

static void invalid_utf8_refused(void **state)
{
    (void)state;
    expect_invalid("abc\xFF", 4);   /* never in UTF-8 */
    expect_invalid("\x80hello", 6); /* continuation byte first */
    expect_invalid("ab\xC3", 3);    /* cut short at the end */
    expect_invalid("\xE2\x82"
                   "a",
                   3);                          /* cut short inside */
    expect_invalid("a\xF8\x88\x80\x80\x80", 6); /* five-byte form */
    expect_invalid("\xED\xA0\x80", 3);          /* a UTF-16 surrogate */
    expect_invalid("\xF4\x90\x80\x80", 4);      /* above U+10FFFF */
    /* the bytes are counted, not the NUL-terminated string */
    expect_invalid("ok\xC3\xA9\xC3", 5);
    check("ok\xC3\xA9\xC3", 4, &(struct expect){0, 3, 3, 1, "[]"});
}

/* An overlong form is not UTF-8 either, even when it would decode to a GSM-7 letter. */
static void overlong_utf8_refused(void **state)
{
    (void)state;
    expect_invalid("\xC1\x81", 2);     /* 'A' in two bytes */
    expect_invalid("\xE0\x81\x81", 3); /* 'A' in three bytes */
    expect_invalid("\xC0\x80", 2);     /* NUL in two bytes */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_ascii),
        cmocka_unit_test(empty_text),
        cmocka_unit_test(gsm7_segment_limits),
        cmocka_unit_test(extension_characters_count_two),
        cmocka_unit_test(escape_pair_never_split),
        cmocka_unit_test(gsm_basic_set_stays_gsm7),
        cmocka_unit_test(backtick_forces_ucs2),
        cmocka_unit_test(ucs2_counts_extension_as_one),
        cmocka_unit_test(ucs2_segment_limits),
        cmocka_unit_test(emoji_is_two_units),
        cmocka_unit_test(surrogate_pair_never_split),
        cmocka_unit_test(forced_distinct_in_order),
        cmocka_unit_test(invalid_utf8_refused),
        cmocka_unit_test(overlong_utf8_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
