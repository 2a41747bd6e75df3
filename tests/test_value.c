/* value.c: the values a caller gives, parsed once for the arg checks and the flows alike. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "value.h"

static struct text T(const char *s) {
    return (struct text){s, strlen(s)};
}

static void
trim_drops_white_space_around(void **state)
{
    (void)state;
    struct text t = value_trim(T(" \t2026-11-23\r\n"));
    assert_int_equal(t.n, 10);
    assert_memory_equal(t.p, "2026-11-23", 10);
    assert_int_equal(value_trim(T(" \t ")).n, 0); /* blank: absent */
}

static void dates_parse_to_epoch_seconds(void **state)
{
    (void)state;
    long long t = 0;
    assert_int_equal(value_date(T("1970-01-01"), &t), 0);
    assert_int_equal(t, 0);
    assert_int_equal(value_date(T("2026-11-23T09:30:00Z"), &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_date(T("2026-11-23 09:30:00.250"), &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_date(T("2026-11-23T10:30:00+01:00"), &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_date(T("2026-11-23t08:00:00-01:30"), &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_date(T("2026-11-23T23:59:60Z"), NULL), 0); /* a leap second */
    const char *bad[] = {"2026-13-01",
                         "2026-11-32",
                         "2026-11-2",
                         "2026/11/23",
                         "2026-11-23T24:00:00",
                         "2026-11-23T09:60:00",
                         "2026-11-23T09:30:61",
                         "2026-11-23T09:30:00.",
                         "2026-11-23T09:30",
                         "2026-11-23T09:30:00+1:00",
                         "2026-11-23T09:30:00ZZ",
                         " 2026-11-23"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (value_date(T(bad[i]), &t) == 0)
            fail_msg("%s passed", bad[i]);
}

static void twilio_dates_and_their_format(void **state)
{
    (void)state;
    long long t = 0;
    char out[32];
    assert_int_equal(value_twilio_date("Mon, 23 Nov 2026 09:30:00 +0000", &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_twilio_date("Mon, 23 Nov 2026 10:30:00 +0100", &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_twilio_date("2026-11-23T09:30:00Z", &t), 0);
    assert_int_equal(t, 1795426200LL);
    assert_int_equal(value_twilio_date("Mon, 23 Nov 2026 09:30:00 CET", &t), -1);
    value_date_format(1795426200LL, out);
    assert_string_equal(out, "2026-11-23T09:30:00Z");
}

static void phones_and_sids(void **state)
{
    (void)state;
    struct buf norm;
    char e164[24];
    buf_init(&norm, 64);
    assert_int_equal(value_phone(T("+1 (500) 555-0006"), &norm), 0);
    assert_string_equal(buf_str(&norm), "+15005550006");
    assert_int_equal(value_phone(T("12"), &norm), -1);
    assert_int_equal(value_phone(T("+1 500 555 000x"), &norm), -1);
    buf_free(&norm);
    assert_int_equal(value_e164(T(" +1.500.555.0006 "), e164, sizeof e164), 0);
    assert_string_equal(e164, "+15005550006");
    assert_int_equal(value_e164(T("15005550006"), e164, sizeof e164), -1);
    assert_int_equal(value_e164(T("+0123456789"), e164, sizeof e164), -1);
    assert_true(value_sid(T("PN0123456789abcdef0123456789ABCDEF"), "PN"));
    assert_false(value_sid(T("MG0123456789abcdef0123456789ABCDEF"), "PN"));
    assert_false(value_sid(T("PN0123456789abcdef0123456789ABCDEG"), "PN"));
}

static void base64url_round_trips_and_refuses_other_texts(void **state)
{
    (void)state;
    unsigned char in[40], back[40];
    char text[64];
    for (size_t n = 0; n <= sizeof in; n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n);
        value_b64url_encode(in, n, text);
        assert_null(strchr(text, '='));
        assert_int_equal(value_b64url_decode(text, strlen(text), back, sizeof back), (long)n);
        assert_memory_equal(in, back, n);
    }
    assert_int_equal(value_b64url_decode("AB+/", 4, back, sizeof back), -1);
    assert_int_equal(value_b64url_decode("A", 1, back, sizeof back), -1);
    assert_int_equal(value_b64url_decode("AA", 2, back, sizeof back), 1);
    assert_int_equal(value_b64url_decode("AB", 2, back, sizeof back), -1); /* bits left over */
}

/* Basic credentials' base64: padded or not, nothing after the padding, no other alphabet. */
static void base64_takes_padded_and_unpadded_texts(void **state)
{
    (void)state;
    unsigned char back[16];
    const char *texts[] = {"dXNlcjpwdw==", "dXNlcjpwdw", "dXNlcjpwd28=", "dXNlcjpwd28"};
    const char *plain[] = {"user:pw", "user:pw", "user:pwo", "user:pwo"};
    for (size_t i = 0; i < 4; i++) {
        long n = value_b64_decode(texts[i], strlen(texts[i]), back, sizeof back);
        assert_int_equal(n, (long)strlen(plain[i]));
        assert_memory_equal(back, plain[i], (size_t)n);
    }
    assert_int_equal(value_b64_decode("AB+/", 4, back, sizeof back), 3);
    assert_int_equal(value_b64_decode("AB-_", 4, back, sizeof back), -1);
    assert_int_equal(value_b64_decode("dXNlcjpwdw==dXNl", 16, back, sizeof back), -1);
    assert_int_equal(value_b64_decode("dXNlcjpwdw=", 11, back, sizeof back), -1);
    assert_int_equal(value_b64_decode("dXNlcjpwdw===", 13, back, sizeof back), -1);
    assert_int_equal(value_b64_decode("dXNlcjpwdx==", 12, back, sizeof back), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trim_drops_white_space_around),
        cmocka_unit_test(dates_parse_to_epoch_seconds),
        cmocka_unit_test(twilio_dates_and_their_format),
        cmocka_unit_test(phones_and_sids),
        cmocka_unit_test(base64url_round_trips_and_refuses_other_texts),
        cmocka_unit_test(base64_takes_padded_and_unpadded_texts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
