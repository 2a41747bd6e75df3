/* apidoc: the OpenAPI document and the Postman collection, checked against the block
 * definitions they come from and against what the running service answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apidoc.h"
#include "args.h"
#include "embedded.h"
#include "harness.h"
#include "reference.h"

static json_t *generate(const struct block_set *set, int postman)
{
    char err[256];
    size_t len = 0;
    char *text = postman ? apidoc_postman(set, &len, err, sizeof err)
                         : apidoc_openapi(set, &len, err, sizeof err);
    if (!text)
        fail_msg("%s", err);
    assert_int_equal(strlen(text), len);
    assert_true(len > 1 && text[len - 1] == '\n');
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    assert_non_null(doc);
    free(text);
    return doc;
}

/* doc at a path of keys, NULL-terminated. */
static json_t *at(json_t *doc, ...)
{
    va_list ap;
    va_start(ap, doc);
    for (const char *key = va_arg(ap, const char *); key && doc; key = va_arg(ap, const char *))
        doc = json_is_array(doc) ? json_array_get(doc, (size_t)strtoul(key, NULL, 10))
                                 : json_object_get(doc, key);
    va_end(ap);
    return doc;
}

static const char *str_at(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* json_equal, with two absent values equal too. */
static int same(json_t *a, json_t *b)
{
    return (!a && !b) || json_equal(a, b);
}

static int is_type(json_t *def, const char *type)
{
    return strcmp(str_at(def, "type"), type) == 0;
}

/* The schema one arg gets, by type, as docs/blocks.md "Types and coercion" describes. */
static void expect_arg_schema(const char *block, json_t *def, json_t *schema)
{
    const char *name = str_at(def, "name");
    json_t *any = json_object_get(schema, "anyOf");
    if (!schema)
        fail_msg("%s: no schema for arg %s", block, name);
    assert_string_equal(str_at(schema, "description"), str_at(def, "info"));
    assert_true(same(json_object_get(schema, "example"), json_object_get(def, "example")));
    if (is_type(def, "credentials") || json_is_true(json_object_get(def, "secret"))) {
        assert_string_equal(str_at(schema, "type"), "string");
        assert_string_equal(str_at(schema, "format"), "password");
    } else if (is_type(def, "Select")) {
        assert_string_equal(str_at(schema, "type"), "string");
        assert_true(json_equal(json_object_get(schema, "enum"), json_object_get(def, "options")));
    } else if (is_type(def, "List")) {
        assert_string_equal(str_at(json_array_get(any, 0), "type"), "array");
        assert_string_equal(str_at(json_array_get(any, 1), "type"), "string");
        json_t *options = at(def, "structure", "options", NULL);
        if (options)
            assert_true(json_equal(at(any, "0", "items", "enum", NULL), options));
        else
            assert_string_equal(str_at(at(any, "0", "items", NULL), "type"), "string");
    } else if (is_type(def, "Number")) {
        int decimal = json_is_true(at(def, "check", "decimal", NULL));
        assert_string_equal(str_at(json_array_get(any, 0), "type"), decimal ? "number" : "integer");
        assert_true(same(at(any, "0", "minimum", NULL), at(def, "check", "min", NULL)));
        assert_true(same(at(any, "0", "maximum", NULL), at(def, "check", "max", NULL)));
        assert_non_null(str_at(json_array_get(any, 1), "pattern"));
    } else if (is_type(def, "Boolean")) {
        assert_string_equal(str_at(json_array_get(any, 0), "type"), "boolean");
        assert_string_equal(str_at(json_array_get(any, 1), "type"), "integer");
        assert_non_null(str_at(json_array_get(any, 2), "pattern"));
    } else if (is_type(def, "JSON")) {
        assert_string_equal(str_at(json_array_get(any, 0), "type"), "object");
        assert_string_equal(str_at(json_array_get(any, 1), "type"), "array");
        assert_string_equal(str_at(json_array_get(any, 2), "type"), "string");
    } else if (json_object_get(def, "param")) { /* String, DatePicker sent in the form */
        assert_string_equal(str_at(json_array_get(any, 0), "type"), "string");
        assert_string_equal(str_at(json_array_get(any, 1), "type"), "number");
    } else { /* sent outside the form: a string only */
        assert_string_equal(str_at(schema, "type"), "string");
    }
}

static void openapi_describes_every_block_from_its_definition(void **state)
{
    (void)state;
    struct block_set *set = harness_blocks();
    json_t *doc = generate(set, 0);
    assert_string_equal(str_at(doc, "openapi"), "3.0.3");
    assert_non_null(at(doc, "paths", "/api/twilio", "get", NULL));
    assert_non_null(at(doc, "paths", "/api/twilio/openapi.json", "get", NULL));
    assert_non_null(at(doc, "paths", "/healthz", "get", NULL));
    assert_non_null(at(doc, "paths", "/mcp", "post", NULL));
    /* the relay too, with its listeners' args; Idempotency-Key only where a block takes one */
    assert_non_null(at(doc, "paths", "/api/twilio/webhookEvent", "post", "requestBody", NULL));
    assert_non_null(at(doc, "paths", "/api/twilio/sendSms", "post", "parameters", NULL));
    assert_null(at(doc, "paths", "/api/twilio/pollMessages", "post", "parameters", NULL));
    assert_int_equal(json_object_size(json_object_get(doc, "paths")),
                     block_count(set) + block_event_count(set) + 4);
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        char path[256], ref[512], schema_name[256];
        snprintf(path, sizeof path, "/api/twilio/%s", b->name);
        snprintf(schema_name, sizeof schema_name, "%sArgs", b->name);
        snprintf(ref, sizeof ref, "#/components/schemas/%s", schema_name);
        json_t *op = at(doc, "paths", path, "post", NULL);
        assert_non_null(op);
        assert_string_equal(str_at(op, "operationId"), b->name);
        assert_string_equal(str_at(op, "summary"), str_at(b->root, "description"));
        json_t *body = at(op, "requestBody", "content", "application/json", NULL);
        /* wrapped, then flat */
        assert_string_equal(
            str_at(at(body, "schema", "anyOf", "0", "properties", "args", NULL), "$ref"), ref);
        assert_string_equal(str_at(at(body, "schema", "anyOf", "1", NULL), "$ref"), ref);
        assert_true(json_equal(at(body, "examples", "wrapped", "value", "args", NULL),
                               at(body, "examples", "flat", "value", NULL)));
        assert_non_null(at(op, "responses", "200", NULL));
        assert_non_null(at(op, "responses", "415", NULL));

        json_t *schema = at(doc, "components", "schemas", schema_name, NULL);
        json_t *props = json_object_get(schema, "properties");
        json_t *required = json_array();
        assert_int_equal(json_object_size(props), b->n_args);
        const char *key;
        json_t *prop;
        size_t k = 0;
        json_object_foreach(props, key, prop) { /* in the block's order */
            json_t *def = json_array_get(json_object_get(b->root, "args"), k++);
            assert_string_equal(key, str_at(def, "name"));
            expect_arg_schema(b->name, def, prop);
            if (json_is_true(json_object_get(def, "required")))
                json_array_append_new(required, json_string(key));
        }
        assert_true(
            same(json_object_get(schema, "required"), json_array_size(required) ? required : NULL));
        /* each oneOf group: at least one of its args */
        json_t *all_of = json_object_get(schema, "allOf");
        size_t exclusive_pairs = 0;
        for (size_t g = 0; g < b->n_exclusive; g++)
            exclusive_pairs += b->exclusive[g].n * (b->exclusive[g].n - 1) / 2;
        assert_int_equal(json_array_size(all_of), b->n_one_of + (b->n_auth > 0) + exclusive_pairs);
        for (size_t g = 0; g < b->n_one_of; g++)
            assert_int_equal(json_array_size(json_object_get(json_array_get(all_of, g), "anyOf")),
                             b->one_of[g].n);
        json_decref(required);
    }
    json_decref(doc);
    block_set_free(set);
}

static void generation_is_deterministic(void **state)
{
    (void)state;
    struct block_set *set = harness_blocks();
    char err[256];
    for (int postman = 0; postman < 2; postman++) {
        size_t n1 = 0, n2 = 0;
        char *a = postman ? apidoc_postman(set, &n1, err, sizeof err)
                          : apidoc_openapi(set, &n1, err, sizeof err);
        char *b = postman ? apidoc_postman(set, &n2, err, sizeof err)
                          : apidoc_openapi(set, &n2, err, sizeof err);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(n1, n2);
        assert_memory_equal(a, b, n1);
        free(a);
        free(b);
    }
    block_set_free(set);
}

static struct harness H;

/* One server for the tests that call it: stopping one waits for its idle connections. */
static int setup(void **state)
{
    (void)state;
    return harness_start(&H, NULL, 0, 0);
}

static int teardown(void **state)
{
    (void)state;
    harness_stop(&H);
    return 0;
}

/* The document's REQUIRED_FIELDS example for each block is what the service answers to an
 * empty call, byte for byte once parsed. */
static void required_fields_example_is_the_service_answer(void **state)
{
    (void)state;
    json_t *doc = generate(H.blocks, 0);
    for (size_t i = 0; i < block_count(H.blocks); i++) {
        const struct block_def *b = block_at(H.blocks, i);
        char path[256];
        snprintf(path, sizeof path, "/api/twilio/%s", b->name);
        json_t *example = at(doc, "paths", path, "post", "responses", "200", "content",
                             "application/json", "examples", "requiredFields", "value", NULL);
        assert_non_null(example);
        struct http_reply r;
        assert_int_equal(harness_post(&H, b->name, "{}", &r), 0);
        assert_int_equal(r.status, 200);
        json_t *answer = json_loadb(r.body.data, r.body.len, 0, NULL);
        if (!json_equal(answer, example))
            fail_msg("%s: example differs from the answer %s", b->name, buf_str(&r.body));
        json_decref(answer);
        http_reply_free(&r);
    }
    json_decref(doc);
}

static void served_document_is_the_generated_one(void **state)
{
    (void)state;
    char url[256], err[256];
    size_t len = 0;
    struct http_reply r;
    char *text = apidoc_openapi(H.blocks, &len, err, sizeof err);
    assert_non_null(text);

    snprintf(url, sizeof url, "%s/api/twilio/openapi.json", H.url);
    assert_int_equal(http_call("GET", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_int_equal(r.body.len, len);
    assert_memory_equal(r.body.data, text, len);
    http_reply_free(&r);

    snprintf(url, sizeof url, "%s/api/Twilio/openapi.json", H.url);
    assert_int_equal(http_call("HEAD", url, NULL, 0, &r), 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 0);
    http_reply_free(&r);

    /* The route is not a block: another method is refused as for the metadata. */
    snprintf(url, sizeof url, "%s/api/twilio/openapi.json", H.url);
    assert_int_equal(http_call("POST", url, "{}", 2, &r), 0);
    assert_int_equal(r.status, 405);
    assert_string_equal(r.allow, "GET, HEAD");
    assert_non_null(strstr(buf_str(&r.body), "\"METHOD_NOT_ALLOWED\""));
    http_reply_free(&r);

    free(text);
}

static void postman_has_one_request_per_block_with_its_examples(void **state)
{
    (void)state;
    struct block_set *set = harness_blocks();
    json_t *doc = generate(set, 1);
    json_t *items = json_object_get(doc, "item");
    assert_string_equal(str_at(json_object_get(doc, "info"), "schema"),
                        "https://schema.getpostman.com/json/collection/v2.1.0/collection.json");
    const char *vars[] = {"baseUrl",      "accountSid", "accountToken", "apiKeySid",
                          "apiKeySecret", "authToken",  "campaignId"};
    json_t *variables = json_object_get(doc, "variable");
    assert_int_equal(json_array_size(variables), 7);
    for (size_t v = 0; v < 7; v++)
        assert_string_equal(str_at(json_array_get(variables, v), "key"), vars[v]);
    assert_int_equal(json_array_size(items), block_count(set) + block_event_count(set));
    assert_string_equal(str_at(json_array_get(items, block_count(set)), "name"), "webhookEvent");
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        json_t *item = json_array_get(items, i);
        char url[256];
        snprintf(url, sizeof url, "{{baseUrl}}/api/twilio/%s", b->name);
        assert_string_equal(str_at(item, "name"), b->name);
        assert_string_equal(str_at(at(item, "request", NULL), "method"), "POST");
        assert_string_equal(str_at(at(item, "request", "url", NULL), "raw"), url);
        assert_string_equal(str_at(at(item, "request", "body", NULL), "mode"), "raw");
        json_t *body = json_loads(str_at(at(item, "request", "body", NULL), "raw"), 0, NULL);
        json_t *args = json_object_get(body, "args");
        assert_int_equal(json_object_size(body), 1);
        assert_true(json_is_object(args));

        /* Every required arg, credentials from the variables, the rest their examples. */
        json_t *runnable = json_object();
        for (size_t k = 0; k < b->n_args; k++) {
            json_t *def = json_array_get(json_object_get(b->root, "args"), k);
            json_t *given = json_object_get(args, b->args[k].name);
            if (b->args[k].required)
                assert_non_null(given);
            if (!given)
                continue;
            if (b->args[k].type == ARG_CREDENTIALS || strcmp(b->args[k].name, "campaignId") == 0) {
                /* a campaignId is the one createCampaign's request made */
                char var[128];
                snprintf(var, sizeof var, "{{%s}}", b->args[k].name);
                assert_string_equal(json_string_value(given), var);
            } else {
                assert_true(json_equal(given, json_object_get(def, "example")));
            }
            json_object_set(runnable, b->args[k].name, json_object_get(def, "example"));
        }
        /* ...which, with the variables' values, the engine accepts. */
        struct prepared p;
        json_t *reasons = NULL;
        if (args_prepare(b, runnable, 1u << 20, &p, &reasons) != ARGS_OK) {
            char *why = json_dumps(reasons, JSON_COMPACT);
            fail_msg("%s: the collection's args are refused: %s", b->name, why);
        }
        args_prepared_free(&p);
        json_decref(runnable);
        json_decref(body);

        assert_string_equal(str_at(at(item, "event", "0", NULL), "listen"), "test");
        json_t *exec = at(item, "event", "0", "script", "exec", NULL);
        struct buf script;
        buf_init(&script, 1u << 20);
        size_t k;
        json_t *line;
        json_array_foreach(exec, k, line) {
            buf_appendz(&script, json_string_value(line));
            buf_appendz(&script, "\n");
        }
        assert_non_null(strstr(buf_str(&script), "pm.response.to.have.status(200)"));
        assert_non_null(strstr(buf_str(&script), "pm.response.to.be.json"));
        assert_non_null(strstr(buf_str(&script), ".to.eql('success')"));
        assert_non_null(strstr(buf_str(&script), "pm.expect(to).to.be.an('object')"));
        buf_free(&script);
    }
    json_decref(doc);
    block_set_free(set);
}

/* A block with no required arg and no rules but its credentials: no empty "required" list
 * (OpenAPI 3.0 forbids one), only the credential rule, and a request with only credentials. */
static void block_without_required_args(void **state)
{
    (void)state;
    char err[256];
    static const char def[] =
        "{\"name\":\"x\",\"description\":\"d\",\"method\":\"GET\",\"action\":\"fetch record\","
        "\"callbacks\":[],\"path\":\"/x\",\"auth\":[[\"sid\",\"tok\"]],"
        "\"args\":[{\"name\":\"sid\",\"type\":\"credentials\",\"info\":\"\",\"required\":false},"
        "{\"name\":\"tok\",\"type\":\"credentials\",\"info\":\"\",\"required\":false},"
        "{\"name\":\"n\",\"type\":\"Number\",\"info\":\"i\",\"required\":false,\"param\":\"N\","
        "\"check\":{\"decimal\":true,\"min\":0}}]}";
    static const char meta[] = "{\"blocks\":[\"x\"]}";
    struct embedded_file files[] = {{"x", def, sizeof def - 1}};
    struct embedded_file metadata = {"metadata", meta, sizeof meta - 1};
    struct block_set *set = block_set_load(&metadata, NULL, files, 1, err, sizeof err);
    if (!set)
        fail_msg("%s", err);
    json_t *doc = generate(set, 0);
    json_t *schema = at(doc, "components", "schemas", "xArgs", NULL);
    assert_non_null(schema);
    assert_null(json_object_get(schema, "required"));
    assert_int_equal(json_array_size(json_object_get(schema, "allOf")), 1);
    json_t *n = at(schema, "properties", "n", "anyOf", "0", NULL);
    assert_string_equal(str_at(n, "type"), "number");
    assert_true(json_is_integer(json_object_get(n, "minimum")));
    assert_int_equal(json_integer_value(json_object_get(n, "minimum")), 0);
    json_t *examples = at(doc, "paths", "/api/twilio/x", "post", "responses", "200", "content",
                          "application/json", "examples", NULL);
    assert_non_null(json_object_get(examples, "requiredFields"));
    assert_non_null(json_object_get(examples, "apiError"));
    assert_string_equal(
        str_at(at(examples, "apiError", "value", "contextWrites", "to", NULL), "status_msg"),
        "[HTTP 401] Unable to fetch record: Authenticate");
    json_decref(doc);

    doc = generate(set, 1);
    json_t *body =
        json_loads(str_at(at(doc, "item", "0", "request", "body", NULL), "raw"), 0, NULL);
    assert_int_equal(json_object_size(json_object_get(body, "args")), 0);
    /* the credentials still become variables, valued "" without an example */
    assert_string_equal(str_at(at(doc, "variable", "1", NULL), "key"), "sid");
    assert_string_equal(str_at(at(doc, "variable", "1", NULL), "value"), "");
    json_decref(body);
    json_decref(doc);
    block_set_free(set);
}

/* The reference has a row for every block, then a section per block with a row per arg, in
 * the block's order. */
static void reference_lists_every_block_and_arg(void **state)
{
    (void)state;
    struct block_set *set = harness_blocks();
    char err[256];
    size_t len = 0;
    char *text = reference_markdown(set, &len, err, sizeof err);
    if (!text)
        fail_msg("%s", err);
    assert_int_equal(strlen(text), len);
    assert_true(len > 1 && text[len - 1] == '\n');
    const char *at = text;
    for (size_t i = 0; i < block_count(set); i++) {
        char row[160];
        snprintf(row, sizeof row, "| [`%s`](#", block_at(set, i)->name);
        assert_non_null(at = strstr(at, row));
    }
    for (size_t i = 0; i < block_count(set); i++) {
        const struct block_def *b = block_at(set, i);
        char heading[160];
        snprintf(heading, sizeof heading, "\n## %s\n", b->name);
        if (!(at = strstr(at, heading)))
            fail_msg("no section for %s, or out of order", b->name);
        for (size_t k = 0; k < b->n_args; k++) {
            char row[160];
            snprintf(row, sizeof row, "\n| `%s` | ", b->args[k].name);
            if (!(at = strstr(at, row)))
                fail_msg("%s: no row for arg %s, or out of order", b->name, b->args[k].name);
        }
    }
    assert_non_null(strstr(at, "\n## webhookEvent\n"));
    assert_null(strstr(text, "<Response/>")); /* escaped, not an HTML tag */
    free(text);
    block_set_free(set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(openapi_describes_every_block_from_its_definition),
        cmocka_unit_test(generation_is_deterministic),
        cmocka_unit_test(required_fields_example_is_the_service_answer),
        cmocka_unit_test(served_document_is_the_generated_one),
        cmocka_unit_test(postman_has_one_request_per_block_with_its_examples),
        cmocka_unit_test(block_without_required_args),
        cmocka_unit_test(reference_lists_every_block_and_arg),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
