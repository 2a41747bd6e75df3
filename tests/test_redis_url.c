/* redis_url: the REDIS_URL forms, bad ones refused without quoting the URL, and the password
 * masked wherever the URL is shown. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "redis_url.h"

static void host_port_db(void **state)
{
    (void)state;
    struct redis_url u;
    char err[256], text[700];
    assert_int_equal(redis_url_parse("redis://redis.internal", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "redis.internal");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_string_equal(u.password, "");
    redis_url_describe(&u, text, sizeof text);
    assert_string_equal(text, "redis://redis.internal:6379/0");

    assert_int_equal(redis_url_parse("redis://127.0.0.1:6380/", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 0);

    assert_int_equal(redis_url_parse("redis://[::1]:7000/5", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 5);
    redis_url_describe(&u, text, sizeof text);
    assert_string_equal(text, "redis://[::1]:7000/5");
}

static void passwords_are_masked(void **state)
{
    (void)state;
    struct redis_url u;
    char err[256], text[700];
    assert_int_equal(redis_url_parse("redis://:s3cret@redis:6379/2", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.host, "redis");
    assert_int_equal(u.db, 2);
    redis_url_describe(&u, text, sizeof text);
    assert_string_equal(text, "redis://:***@redis:6379/2");

    /* Redis 6 ACL users, %-escapes, and an '@' left unescaped in the password. */
    assert_int_equal(redis_url_parse("redis://app:p%3Aw%40d@h@10.0.0.5", &u, err, sizeof err), 0);
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p:w@d@h");
    assert_string_equal(u.host, "10.0.0.5");
    redis_url_describe(&u, text, sizeof text);
    assert_string_equal(text, "redis://app:***@10.0.0.5:6379/0");

    /* An empty password means none (compose passes ${REDIS_PASSWORD:-}). */
    assert_int_equal(redis_url_parse("redis://:@redis:6379/0", &u, err, sizeof err), 0);
    assert_string_equal(u.password, "");
}

static void bad_urls_are_refused(void **state)
{
    (void)state;
    static const struct {
        const char *url, *err;
    } cases[] = {
        {"http://:s3cret@redis", "REDIS_URL: expected redis://[[user]:password@]host[:port][/db]"},
        {"rediss://:s3cret@redis", "REDIS_URL: TLS (rediss://) is not supported; use redis:// on "
                                   "a private network"},
        {"redis://s3cret@redis",
         "REDIS_URL: put the password after a colon: redis://:password@host"},
        {"redis://:s3cret@redis:0", "REDIS_URL: the port must be a number from 1 to 65535"},
        {"redis://:s3cret@redis:65536", "REDIS_URL: the port must be a number from 1 to 65535"},
        {"redis://:s3cret@redis:port", "REDIS_URL: the port must be a number from 1 to 65535"},
        {"redis://:s3cret@redis/zero", "REDIS_URL: the database after '/' must be a number"},
        {"redis://:s3cret@redis/0?timeout=1", "REDIS_URL: query parameters and fragments are not "
                                              "supported"},
        {"redis://:s3cret@:6379", "REDIS_URL: no host"},
        {"redis://:s3cr%zzt@redis", "REDIS_URL: the user or password is too long or wrongly "
                                    "%-encoded"},
        {"redis://:s3cret@[::1", "REDIS_URL: an IPv6 address needs its closing ']'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct redis_url u;
        char err[256] = "";
        assert_int_equal(redis_url_parse(cases[i].url, &u, err, sizeof err), -1);
        assert_string_equal(err, cases[i].err);
    }
}

static void config_checks_it_at_start(void **state)
{
    (void)state;
    struct config c;
    char err[256];
    char *plain[] = {"twilio-block", NULL};
    unsetenv("REDIS_URL");
    assert_int_equal(config_load(&c, 1, plain, err, sizeof err), 0);
    assert_string_equal(c.redis_url, "");
    assert_int_equal(c.redis_timeout_ms, 1000);

    setenv("REDIS_URL", "redis://:s3cret@redis:6379/1", 1);
    char *flag[] = {"twilio-block", "--redis-timeout-ms=250", NULL};
    assert_int_equal(config_load(&c, 2, flag, err, sizeof err), 0);
    assert_string_equal(c.redis_url, "redis://:s3cret@redis:6379/1");
    assert_int_equal(c.redis_timeout_ms, 250);

    char *bad[] = {"twilio-block", "--redis-url", "redis://:s3cret@redis:99999", NULL};
    assert_int_equal(config_load(&c, 3, bad, err, sizeof err), -1);
    assert_string_equal(err, "REDIS_URL: the port must be a number from 1 to 65535");
    assert_null(strstr(err, "s3cret"));
    unsetenv("REDIS_URL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(host_port_db),
        cmocka_unit_test(passwords_are_masked),
        cmocka_unit_test(bad_urls_are_refused),
        cmocka_unit_test(config_checks_it_at_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
