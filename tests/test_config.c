/* config: defaults, environment, flags and bad values. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

static void defaults(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    char *argv[] = {"twilio-block", NULL};
    unsetenv("PORT");
    unsetenv("TWILIO_API_BASE");
    assert_int_equal(config_load(&c, 1, argv, err, sizeof err), 0);
    assert_int_equal(c.port, 8080);
    assert_string_equal(c.bind, "0.0.0.0");
    assert_string_equal(c.api_base, "https://api.twilio.com");
    assert_int_equal(c.upstream_timeout_ms, 15000);
    assert_int_equal(c.connect_timeout_ms, 3000);
    assert_int_equal(c.max_body_bytes, 262144);
    assert_int_equal(c.log_level, LOG_INFO);
    assert_int_equal(c.api_base_set, 0);
    assert_string_equal(c.edge, "");
    assert_string_equal(c.region, "");
}

/* TWILIO_API_BASE set by the operator (even to the default) turns edge and region off. */
static void edge_region_and_an_explicit_base(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    setenv("TWILIO_EDGE", "sydney", 1);
    char *a1[] = {"twilio-block", "--twilio-region", "au1", NULL};
    assert_int_equal(config_load(&c, 3, a1, err, sizeof err), 0);
    assert_string_equal(c.edge, "sydney");
    assert_string_equal(c.region, "au1");
    assert_int_equal(c.api_base_set, 0);
    char *a2[] = {"twilio-block", "--twilio-api-base=https://api.twilio.com", NULL};
    assert_int_equal(config_load(&c, 2, a2, err, sizeof err), 0);
    assert_int_equal(c.api_base_set, 1);
    char *a3[] = {"twilio-block", "--twilio-region", "AU1.evil", NULL};
    assert_int_equal(config_load(&c, 3, a3, err, sizeof err), -1);
    assert_string_equal(
        err, "TWILIO_REGION: expected lower-case letters, digits and '-', got \"AU1.evil\"");
    unsetenv("TWILIO_EDGE");
}

static void flags_override_environment(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    setenv("PORT", "9000", 1);
    setenv("TWILIO_API_BASE", "http://127.0.0.1:4010/", 1);
    setenv("LOG_LEVEL", "debug", 1);
    char *argv[] = {"twilio-block", "--port", "9001", "--threads=4", NULL};
    assert_int_equal(config_load(&c, 4, argv, err, sizeof err), 0);
    assert_int_equal(c.port, 9001);
    assert_int_equal(c.threads, 4);
    assert_string_equal(c.api_base, "http://127.0.0.1:4010");
    assert_int_equal(c.log_level, LOG_DEBUG);
    unsetenv("PORT");
    unsetenv("TWILIO_API_BASE");
    unsetenv("LOG_LEVEL");
}

static void bad_values_are_refused(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    char *a1[] = {"twilio-block", "--port", "70000", NULL};
    assert_int_equal(config_load(&c, 3, a1, err, sizeof err), -1);
    assert_string_equal(err, "--port: expected an integer from 0 to 65535, got \"70000\"");
    char *a2[] = {"twilio-block", "--nope", NULL};
    assert_int_equal(config_load(&c, 2, a2, err, sizeof err), -1);
    assert_string_equal(err, "unknown option \"--nope\" (see --help)");
    setenv("UPSTREAM_TIMEOUT_MS", "soon", 1);
    char *a3[] = {"twilio-block", NULL};
    assert_int_equal(config_load(&c, 1, a3, err, sizeof err), -1);
    assert_string_equal(err,
                        "UPSTREAM_TIMEOUT_MS: expected an integer from 1 to 600000, got \"soon\"");
    unsetenv("UPSTREAM_TIMEOUT_MS");
    char *a4[] = {"twilio-block", "--twilio-api-base", "ftp://x", NULL};
    assert_int_equal(config_load(&c, 3, a4, err, sizeof err), -1);
    assert_string_equal(err, "TWILIO_API_BASE: expected an http:// or https:// URL");
    char *a5[] = {"twilio-block", "--twilio-api-base", "https://user:pw@proxy.example/x", NULL};
    assert_int_equal(config_load(&c, 3, a5, err, sizeof err), -1);
    assert_string_equal(err, "TWILIO_API_BASE: must not carry user:password@");
}

static void log_format_is_text_or_json(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    char *argv[] = {"twilio-block", NULL};
    unsetenv("LOG_FORMAT");
    assert_int_equal(config_load(&c, 1, argv, err, sizeof err), 0);
    assert_int_equal(c.log_format, LOG_TEXT);
    setenv("LOG_FORMAT", "json", 1);
    assert_int_equal(config_load(&c, 1, argv, err, sizeof err), 0);
    assert_int_equal(c.log_format, LOG_JSON);
    char *text[] = {"twilio-block", "--log-format=text", NULL};
    assert_int_equal(config_load(&c, 2, text, err, sizeof err), 0);
    assert_int_equal(c.log_format, LOG_TEXT);
    setenv("LOG_FORMAT", "logfmt", 1);
    assert_int_equal(config_load(&c, 1, argv, err, sizeof err), -1);
    assert_string_equal(err, "LOG_FORMAT: expected text or json, got \"logfmt\"");
    unsetenv("LOG_FORMAT");
}

static void public_url_drops_credentials(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"https://api.twilio.com", "https://api.twilio.com"},
        {"http://127.0.0.1:4010", "http://127.0.0.1:4010"},
        {"https://AC123:tok@api.twilio.com/base", "https://api.twilio.com/base"},
        {"http://u:p@h:1/x?key=s#f", "http://h:1/x"},
        {"http://h/a@b", "http://h/a@b"}, /* an @ in the path is not userinfo */
    };
    char out[128];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config_public_url(cases[i][0], out, sizeof out);
        assert_string_equal(out, cases[i][1]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(flags_override_environment),
        cmocka_unit_test(edge_region_and_an_explicit_base),
        cmocka_unit_test(bad_values_are_refused),
        cmocka_unit_test(log_format_is_text_or_json),
        cmocka_unit_test(public_url_drops_credentials),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
