/* envelope: exact success and error bodies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

static void success_wraps_bytes_unchanged(void **state)
{
    (void)state;
    size_t len;
    const char resource[] = "{\"sid\": \"SM1\", \"price\": null}\n";
    char *s = envelope_success_raw(resource, sizeof resource - 1, &len);
    assert_string_equal(s, "{\"callback\":\"success\",\"contextWrites\":{\"to\":{\"sid\": \"SM1\", "
                           "\"price\": null}\n}}");
    assert_int_equal(len, strlen(s));
    free(s);
}

static void error_merges_extra(void **state)
{
    (void)state;
    size_t len;
    json_t *extra = json_pack("{s:i}", "code", 5);
    char *s = envelope_error("INTERNAL_PACKAGE_ERROR", "boom", extra, &len);
    assert_string_equal(s, "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                           "\"INTERNAL_PACKAGE_ERROR\",\"status_msg\":\"boom\",\"code\":5}}}");
    json_decref(extra);
    free(s);
}

static void fields_list_follows_reasons(void **state)
{
    (void)state;
    size_t len;
    json_t *reasons = json_pack("{s:s, s:s}", "to", "is required", "body", "is required");
    char *s = envelope_fields(reasons, 0, &len);
    assert_string_equal(s, "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                           "\"REQUIRED_FIELDS\",\"status_msg\":\"Please, check and fill in "
                           "required fields.\",\"fields\":[\"to\",\"body\"],\"reasons\":{\"to\":"
                           "\"is required\",\"body\":\"is required\"}}}}");
    free(s);
    s = envelope_fields(reasons, 1, &len);
    assert_non_null(strstr(s, "\"status_code\":\"JSON_VALIDATION\""));
    free(s);
    json_decref(reasons);
}

static void api_error_json_and_not(void **state)
{
    (void)state;
    size_t len;
    const char twilio[] =
        "{\"code\":21602,\"message\":\"Message body is required.\","
        "\"more_info\":\"https://www.twilio.com/docs/errors/21602\",\"status\":400}";
    char *s = envelope_api_error(400, "create record", twilio, sizeof twilio - 1,
                                 "application/json", NULL, NULL, &len);
    assert_string_equal(s, "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                           "\"API_ERROR\",\"status_msg\":\"[HTTP 400] Unable to create record: "
                           "Message body is required.\",\"code\":21602,\"message\":\"Message body "
                           "is required.\",\"more_info\":\"https://www.twilio.com/docs/errors/"
                           "21602\",\"status\":400}}}");
    free(s);
    s = envelope_api_error(502, "fetch record", "", 0, "", "RQ1", " (note)", &len);
    assert_string_equal(s, "{\"callback\":\"error\",\"contextWrites\":{\"to\":{\"status_code\":"
                           "\"API_ERROR\",\"status_msg\":\"[HTTP 502] Unable to fetch record: "
                           "Twilio answered HTTP 502 with a non-JSON body (0 bytes) (note)\","
                           "\"status\":502,\"twilio_request_id\":\"RQ1\"}}}");
    free(s);
}

static void bad_body_says_where(void **state)
{
    (void)state;
    json_error_t err;
    size_t len;
    assert_null(json_loads("{\n  \"a\": tru\n}", 0, &err));
    char *s = envelope_bad_body(&err, &len);
    assert_non_null(strstr(s, "\"status_code\":\"JSON_VALIDATION\""));
    assert_non_null(strstr(s, "\"line\":2"));
    assert_non_null(strstr(s, "(line 2, column "));
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_wraps_bytes_unchanged), cmocka_unit_test(error_merges_extra),
        cmocka_unit_test(fields_list_follows_reasons),   cmocka_unit_test(api_error_json_and_not),
        cmocka_unit_test(bad_body_says_where),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
