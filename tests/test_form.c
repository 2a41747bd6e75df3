/* form: percent-encoding and repeated keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "form.h"

static void escapes_all_but_unreserved(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    const char in[] = "a Z09-._~+&=/?#%\xc3\xa9\n";
    assert_int_equal(form_escape(&b, in, sizeof in - 1), 0);
    assert_string_equal(buf_str(&b), "a%20Z09-._~%2B%26%3D%2F%3F%23%25%C3%A9%0A");
    buf_free(&b);
}

static void embedded_nul_is_escaped(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 64);
    assert_int_equal(form_escape(&b, "a\0b", 3), 0);
    assert_string_equal(buf_str(&b), "a%00b");
    buf_free(&b);
}

static void list_is_the_same_key_repeated(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 1024);
    assert_int_equal(form_add(&b, "To", "+1500", 5), 0);
    assert_int_equal(form_add(&b, "MediaUrl", "a", 1), 0);
    assert_int_equal(form_add(&b, "MediaUrl", "b", 1), 0);
    assert_int_equal(form_add(&b, "Body", "", 0), 0);
    assert_string_equal(buf_str(&b), "To=%2B1500&MediaUrl=a&MediaUrl=b&Body=");
    buf_free(&b);
}

static void cap_is_enforced(void **state)
{
    (void)state;
    struct buf b;
    buf_init(&b, 8);
    assert_int_equal(form_add(&b, "Body", "abc", 3), 0); /* Body=abc: 8 bytes */
    assert_int_equal(b.len, 8);
    assert_int_equal(form_add(&b, "X", "y", 1), -1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(escapes_all_but_unreserved),
        cmocka_unit_test(embedded_nul_is_escaped),
        cmocka_unit_test(list_is_the_same_key_repeated),
        cmocka_unit_test(cap_is_enforced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
