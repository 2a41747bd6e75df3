/* block: the loader's checks and the served metadata (composed, internal fields stripped,
 * in agreement with metadata.json and blocks/). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "block.h"
#include "embedded.h"
#include "harness.h"

static json_t *served(void)
{
    struct block_set *set = harness_blocks();
    size_t len;
    const char *text = block_metadata(set, &len);
    json_t *meta = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(meta);
    block_set_free(set);
    return meta;
}

static void metadata_has_package_fields_and_every_block(void **state)
{
    (void)state;
    json_t *meta = served();
    json_t *file = json_loadb(embedded_metadata.text, embedded_metadata.len, 0, NULL);
    const char *fields[] = {"package", "tagline",  "description", "image",
                            "repo",    "keywords", "accounts"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        assert_non_null(json_object_get(meta, fields[i]));
        assert_true(json_equal(json_object_get(meta, fields[i]), json_object_get(file, fields[i])));
    }
    json_t *blocks = json_object_get(meta, "blocks");
    json_t *listed = json_object_get(file, "blocks");
    assert_int_equal(json_array_size(blocks), embedded_blocks_count);
    assert_int_equal(json_array_size(listed), embedded_blocks_count);
    for (size_t i = 0; i < json_array_size(blocks); i++) {
        json_t *b = json_array_get(blocks, i);
        assert_string_equal(json_string_value(json_object_get(b, "name")),
                            json_string_value(json_array_get(listed, i)));
    }
    json_decref(file);
    json_decref(meta);
}

/* Served blocks and args carry only marketplace keys, and every declared arg is served. */
static void internal_fields_are_stripped(void **state)
{
    (void)state;
    json_t *meta = served();
    struct block_set *set = harness_blocks();
    size_t i, k;
    json_t *b, *arg;
    json_array_foreach(json_object_get(meta, "blocks"), i, b) {
        const char *key;
        json_t *v;
        json_object_foreach(b, key, v) {
            if (strcmp(key, "name") && strcmp(key, "description") && strcmp(key, "args") &&
                strcmp(key, "callbacks"))
                fail_msg("block key %s served", key);
        }
        const char *name = json_string_value(json_object_get(b, "name"));
        const struct block_def *found = block_find(set, name, strlen(name));
        assert_non_null(found);
        json_t *def = found->root;
        json_t *args = json_object_get(b, "args");
        assert_int_equal(json_array_size(args), json_array_size(json_object_get(def, "args")));
        json_array_foreach(args, k, arg) {
            json_object_foreach(arg, key, v) {
                if (strcmp(key, "name") && strcmp(key, "type") && strcmp(key, "info") &&
                    strcmp(key, "required") && strcmp(key, "requiredUnless") &&
                    strcmp(key, "options") && strcmp(key, "structure"))
                    fail_msg("%s: arg key %s served", name, key);
            }
            /* a form shows the token as needed unless the API key pair is given, and back */
            const char *an = json_string_value(json_object_get(arg, "name"));
            json_t *unless = json_object_get(arg, "requiredUnless");
            if (strcmp(an, "accountToken") == 0)
                assert_string_equal(json_string_value(json_array_get(unless, 1)), "apiKeySecret");
            if (strcmp(an, "apiKeySid") == 0 || strcmp(an, "apiKeySecret") == 0)
                assert_string_equal(json_string_value(json_array_get(unless, 0)), "accountToken");
            json_t *declared = json_array_get(json_object_get(def, "args"), k);
            assert_string_equal(json_string_value(json_object_get(arg, "name")),
                                json_string_value(json_object_get(declared, "name")));
        }
        assert_non_null(json_object_get(b, "callbacks"));
    }
    json_decref(meta);
    block_set_free(set);
}

static void every_arg_has_a_valid_example(void **state)
{
    (void)state;
    struct block_set *set = harness_blocks();
    for (size_t j = 0; j < block_count(set); j++) {
        const struct block_def *b = block_at(set, j);
        size_t k;
        json_t *arg;
        json_array_foreach(json_object_get(b->root, "args"), k, arg) {
            if (!json_object_get(arg, "example"))
                fail_msg("%s: arg %s has no example", b->name,
                         json_string_value(json_object_get(arg, "name")));
        }
    }
    block_set_free(set);
}

static void expect_rejected(const char *name, const char *text, const char *reason)
{
    struct block_def b;
    char err[256] = "";
    assert_int_equal(block_parse(name, text, strlen(text), NULL, &b, err, sizeof err), -1);
    assert_string_equal(err, reason);
}

#define HEAD                                                                                       \
    "\"description\":\"d\",\"method\":\"POST\",\"action\":\"create\",\"callbacks\":[],"            \
    "\"auth\":[[\"sid\",\"tok\"]],"
#define CRED                                                                                       \
    "{\"name\":\"sid\",\"type\":\"credentials\",\"info\":\"\",\"required\":true},"                 \
    "{\"name\":\"tok\",\"type\":\"credentials\",\"info\":\"\",\"required\":true}"

static void loader_rejects_broken_definitions(void **state)
{
    (void)state;
    expect_rejected("x", "{\"name\":\"y\"}", "x: \"name\" must be \"x\", as the file is named");
    expect_rejected("x", "[1]", "x: a block definition must be a JSON object");
    expect_rejected("x", "{\"name\":\"x\",",
                    "x: line 1, column 12: string or '}' expected near end of file");
    expect_rejected("x", "{\"name\":\"x\",\"paht\":\"/\"}", "x: unknown key \"paht\"");
    expect_rejected("x", "{\"name\":\"x\"," HEAD "\"path\":\"/{nope}\",\"args\":[" CRED "]}",
                    "x: path placeholder {nope} must be a required arg without param");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"Text\",\"info\":\"\",\"required\":false}]}",
                    "x: arg \"a\": unknown type \"Text\"");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"Select\",\"info\":\"\",\"required\":false}]}",
                    "x: arg \"a\": a Select needs a non-empty list of options");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"String\",\"info\":\"\",\"required\":false,"
                    "\"check\":{\"maxLen\":3}}]}",
                    "x: arg \"a\": unknown key \"maxLen\"");
    expect_rejected("x", "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED "," CRED "]}",
                    "x: arg \"sid\" is declared twice");
    expect_rejected(
        "x", "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"oneOf\":[[\"a\"]],\"args\":[" CRED "]}",
        "x: no arg named \"a\"");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"String\",\"info\":\"\",\"required\":false,"
                    "\"header\":\"X-Twilio-Webhook-Enabled\"}]}",
                    "x: arg \"a\": header must be an HTTP header name, on a Boolean or Select "
                    "without param");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"Boolean\",\"info\":\"\",\"required\":false,"
                    "\"header\":\"X-A: b\\r\\nX-B\"}]}",
                    "x: arg \"a\": header must be an HTTP header name, on a Boolean or Select "
                    "without param");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED
                    ",{\"name\":\"a\",\"type\":\"String\",\"info\":\"\",\"required\":false,"
                    "\"param\":\"A\",\"join\":\",\"}]}",
                    "x: arg \"a\": join must be a short separator, on a List with a param");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"contentUrl\":{\"list\":\"m\"},"
                    "\"args\":[" CRED "]}",
                    "x: contentUrl must be {\"list\": <array in the answer>, \"key\": <name of "
                    "the URL to add to each item>}");
    /* a block whose caller chooses the request: all three roles, no request of its own */
#define ROLE(name, type, role, extra)                                                              \
    ",{\"name\":\"" name "\",\"type\":\"" type "\",\"info\":\"\",\"required\":true,"               \
    "\"role\":\"" role "\"" extra "}"
#define PRODUCT(options) ROLE("p", "Select", "product", ",\"options\":" options)
#define METHOD ROLE("m", "Select", "method", ",\"options\":[\"GET\"]")
#define PATH ROLE("q", "String", "path", "")
#define CHOSEN                                                                                     \
    "\"description\":\"d\",\"action\":\"complete request\",\"callbacks\":[],"                      \
    "\"auth\":[[\"sid\",\"tok\"]],"
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED PRODUCT("[\"api\"]")
                        METHOD PATH "]}",
                    "x: a block whose caller chooses the request has product, method and path "
                    "args (roles), and no product, method, path, fixed or next page of its own");
    expect_rejected("x",
                    "{\"name\":\"x\"," CHOSEN "\"args\":[" CRED PRODUCT("[\"api\"]") METHOD "]}",
                    "x: a block whose caller chooses the request has product, method and path "
                    "args (roles), and no product, method, path, fixed or next page of its own");
    expect_rejected("x",
                    "{\"name\":\"x\"," CHOSEN "\"args\":[" CRED PRODUCT("[\"api\",\"evil.com\"]")
                        METHOD PATH "]}",
                    "x: product option \"evil.com\" is not a product's host name");
    expect_rejected("x",
                    "{\"name\":\"x\"," CHOSEN "\"args\":[" CRED PRODUCT("[\"api\"]")
                        ROLE("m", "Select", "method", ",\"options\":[\"PUT\"]") PATH "]}",
                    "x: method options must be POST, GET or DELETE");
    expect_rejected("x",
                    "{\"name\":\"x\"," HEAD
                    "\"path\":\"/\",\"args\":[" CRED ROLE("j", "JSON", "params", "") "]}",
                    "x: params args belong to blocks whose caller chooses the request");
    /* a product is a host name under twilio.com, never a host of its own */
    static const char *const products[] = {"\"evil.com/x\"", "\"Verify\"", "\"\"", "\"-api\"", "1"};
    for (size_t i = 0; i < sizeof products / sizeof products[0]; i++) {
        char def[512];
        snprintf(def, sizeof def,
                 "{\"name\":\"x\"," HEAD "\"product\":%s,\"path\":\"/\","
                 "\"args\":[" CRED "]}",
                 products[i]);
        expect_rejected("x", def,
                        "x: product must be a Twilio product's host name (api, verify, lookups, "
                        "...): lower-case letters, digits and -");
    }
}

#define OPT(name, example)                                                                         \
    ",{\"name\":\"" name "\",\"type\":\"String\",\"info\":\"\",\"required\":false" example "}"

/* A first call's args: required ones, the first credential pair, and for each oneOf group that
 * nothing taken meets, its first arg that has an example; all args leave out the later args
 * of an exclusive group, and an arg that requires one of those (g requires f). */
static void example_args_follow_the_rules(void **state)
{
    (void)state;
    char err[256] = "";
    const char def[] =
        "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"oneOf\":[[\"a\",\"b\"],[\"c\",\"d\"]],"
        "\"exclusive\":[[\"e\",\"f\"]],\"args\":["
        "{\"name\":\"sid\",\"type\":\"credentials\",\"info\":\"\",\"required\":true,"
        "\"example\":\"S\"},{\"name\":\"tok\",\"type\":\"credentials\",\"info\":\"\","
        "\"required\":true,\"example\":\"T\"}" OPT("a", "") OPT("b", ",\"example\":\"B\"")
            OPT("c", ",\"example\":\"C\"") OPT("d", ",\"example\":\"D\"")
                OPT("e", ",\"example\":\"E\"") OPT("f", ",\"example\":\"F\"")
                    OPT("g", ",\"example\":\"G\",\"requires\":[\"f\"]") "]}";
    struct block_def b;
    assert_int_equal(block_parse("x", def, strlen(def), NULL, &b, err, sizeof err), 0);
    json_t *minimal = block_example_args(&b, 1), *all = block_example_args(&b, 0);
    char *m = json_dumps(minimal, JSON_COMPACT), *a = json_dumps(all, JSON_COMPACT);
    assert_string_equal(m, "{\"sid\":\"S\",\"tok\":\"T\",\"b\":\"B\",\"c\":\"C\"}");
    assert_string_equal(a, "{\"sid\":\"S\",\"tok\":\"T\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\","
                           "\"e\":\"E\"}");
    free(m);
    free(a);
    json_decref(minimal);
    json_decref(all);
    block_def_free(&b);
}

static void loader_checks_metadata_agrees_with_blocks(void **state)
{
    (void)state;
    char err[256];
    const char def[] = "{\"name\":\"x\"," HEAD "\"path\":\"/\",\"args\":[" CRED "]}";
    struct embedded_file files[] = {{"x", def, sizeof def - 1}};
#define META(text)                                                                                 \
    {                                                                                              \
        "metadata", text, sizeof text - 1                                                          \
    }
    struct embedded_file meta_missing = META("{\"blocks\":[\"y\"]}");
    struct embedded_file meta_extra = META("{\"blocks\":[\"x\",\"y\"]}");
    struct embedded_file meta_ok = META("{\"blocks\":[\"x\"]}");
    assert_null(block_set_load(&meta_missing, NULL, files, 1, err, sizeof err));
    assert_string_equal(err, "metadata.json lists \"y\" but blocks/y.json does not exist");
    assert_null(block_set_load(&meta_extra, NULL, files, 1, err, sizeof err));
    assert_string_equal(err, "metadata.json lists 2 blocks but blocks/ holds 1");
    struct block_set *set = block_set_load(&meta_ok, NULL, files, 1, err, sizeof err);
    assert_non_null(set);
    size_t len;
    assert_string_equal(
        block_metadata(set, &len),
        "{\"blocks\":[{\"name\":\"x\",\"description\":\"d\",\"args\":[{\"name\":"
        "\"sid\",\"type\":\"credentials\",\"info\":\"\",\"required\":true},{\"name\":"
        "\"tok\",\"type\":\"credentials\",\"info\":\"\",\"required\":true}],"
        "\"callbacks\":[]}]}");
    block_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(metadata_has_package_fields_and_every_block),
        cmocka_unit_test(internal_fields_are_stripped),
        cmocka_unit_test(every_arg_has_a_valid_example),
        cmocka_unit_test(loader_rejects_broken_definitions),
        cmocka_unit_test(loader_checks_metadata_agrees_with_blocks),
        cmocka_unit_test(example_args_follow_the_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
