#include "block.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonparse.h"

struct block_set {
    struct block_def *blocks;
    size_t n;
    struct block_def *events;
    size_t n_events;
    char *metadata;
    size_t metadata_len;
};

static const char *const type_names[] = {"credentials", "String", "Number", "Boolean",
                                         "Select",      "List",   "JSON",   "DatePicker"};
static const char *const block_keys[] = {
    "name",  "description", "args",  "callbacks",  "product", "method", "path", "action",    "auth",
    "oneOf", "exclusive",   "fixed", "contentUrl", "handler", "each",   "flow", "maybeSent", NULL};
static const char *const each_keys[] = {"block", "list", "item", "overrides", NULL};
static const char *const event_keys[] = {"name", "description", "payload", "steps", "args", NULL};
static const char *const arg_keys[] = {
    "name",   "type",   "info",      "required",       "options",  "structure",
    "param",  "header", "join",      "check",          "requires", "example",
    "secret", "role",   "firstCall", "requiredUnless", NULL};
static const char *const check_keys[] = {"address",  "sid",     "url",       "min",
                                         "max",      "decimal", "maxLength", "minItems",
                                         "maxItems", "charset", "date",      NULL};
static const char *const role_names[] = {"",       "dryRun",      "nextPage",      "edge",
                                         "region", "messageBody", "product",       "method",
                                         "path",   "params",      "idempotencyKey"};
/* What GET /api/twilio shows of a block, an event and an arg; everything else is internal. */
static const char *const served_block_keys[] = {"name", "description", "args", "callbacks", NULL};
static const char *const served_event_keys[] = {"name",  "description", "payload",
                                                "steps", "args",        NULL};
static const char *const served_arg_keys[] = {"name",           "type",    "info",      "required",
                                              "requiredUnless", "options", "structure", NULL};

static int in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(key, *list) == 0)
            return 1;
    return 0;
}

static int only_keys(json_t *obj, const char *const *allowed, const char *where, char *err,
                     size_t errlen)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (!in_list(key, allowed)) {
            snprintf(err, errlen, "%s: unknown key \"%s\"", where, key);
            return -1;
        }
    }
    return 0;
}

static const char *get_string(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

long block_arg_index(const struct block_def *b, const char *name)
{
    for (size_t i = 0; i < b->n_args; i++)
        if (strcmp(b->args[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int string_array(json_t *a, int allow_empty)
{
    if (!json_is_array(a) || (!allow_empty && json_array_size(a) == 0))
        return 0;
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
        if (!json_is_string(v) || json_string_length(v) == 0)
            return 0;
    }
    return 1;
}

static int names_to_indexes(const struct block_def *b, json_t *names, size_t **out, size_t *n,
                            const char *where, char *err, size_t errlen)
{
    if (!string_array(names, 0)) {
        snprintf(err, errlen, "%s: expected a non-empty list of arg names", where);
        return -1;
    }
    size_t count = json_array_size(names);
    size_t *idx = calloc(count, sizeof *idx);
    if (!idx) {
        snprintf(err, errlen, "%s: out of memory", where);
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        const char *name = json_string_value(json_array_get(names, i));
        long k = block_arg_index(b, name);
        if (k < 0) {
            snprintf(err, errlen, "%s: no arg named \"%s\"", where, name);
            free(idx);
            return -1;
        }
        idx[i] = (size_t)k;
    }
    *out = idx;
    *n = count;
    return 0;
}

static int parse_long(json_t *check, const char *key, long long *out, int *has, const char *where,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(check, key);
    if (!v)
        return 0;
    if (!json_is_integer(v)) {
        snprintf(err, errlen, "%s: check.%s must be an integer", where, key);
        return -1;
    }
    *out = json_integer_value(v);
    if (has)
        *has = 1;
    return 0;
}

static int parse_check(struct arg_def *a, json_t *check, const char *where, char *err,
                       size_t errlen)
{
    a->max_length = -1;
    a->min_items = -1;
    a->max_items = -1;
    if (!check)
        return 0;
    if (!json_is_object(check)) {
        snprintf(err, errlen, "%s: check must be an object", where);
        return -1;
    }
    if (only_keys(check, check_keys, where, err, errlen) < 0)
        return -1;
    const char *address = get_string(check, "address");
    if (address) {
        static const char *const kinds[] = {"", "to", "from", "phone", "phoneOrEmail"};
        size_t k = 1;
        while (k < sizeof kinds / sizeof kinds[0] && strcmp(address, kinds[k]))
            k++;
        if (k == sizeof kinds / sizeof kinds[0]) {
            snprintf(err, errlen,
                     "%s: check.address must be \"to\", \"from\", \"phone\" or \"phoneOrEmail\"",
                     where);
            return -1;
        }
        a->address = (enum addr_kind)k;
    }
    json_t *sid = json_object_get(check, "sid");
    if (sid) {
        /* "SM", or a list of prefixes: a message SID is SM... or MM... */
        if (json_is_string(sid) && json_object_set_new(check, "sid", json_pack("[O]", sid)) < 0) {
            snprintf(err, errlen, "%s: out of memory", where);
            return -1;
        }
        sid = json_object_get(check, "sid");
        size_t i;
        json_t *v;
        int ok = json_is_array(sid) && json_array_size(sid) > 0;
        json_array_foreach(sid, i, v) {
            const char *p = json_string_value(v);
            ok = ok && p && strlen(p) == 2 && p[0] >= 'A' && p[0] <= 'Z' && p[1] >= 'A' &&
                 p[1] <= 'Z';
        }
        if (!ok) {
            snprintf(err, errlen, "%s: check.sid must be two capital letters, or a list of them",
                     where);
            return -1;
        }
        a->sid_prefixes = sid;
    }
    json_t *url = json_object_get(check, "url");
    if (url && !json_is_boolean(url)) {
        snprintf(err, errlen, "%s: check.url must be a boolean", where);
        return -1;
    }
    a->url = json_is_true(url);
    json_t *decimal = json_object_get(check, "decimal");
    if (decimal && !json_is_boolean(decimal)) {
        snprintf(err, errlen, "%s: check.decimal must be a boolean", where);
        return -1;
    }
    a->decimal = json_is_true(decimal);
    json_t *date = json_object_get(check, "date");
    if (date && !json_is_boolean(date)) {
        snprintf(err, errlen, "%s: check.date must be a boolean", where);
        return -1;
    }
    a->date = json_is_true(date);
    json_t *charset = json_object_get(check, "charset");
    if (charset && (!json_is_string(charset) || json_string_length(charset) == 0)) {
        snprintf(err, errlen, "%s: check.charset must be a non-empty string", where);
        return -1;
    }
    a->charset = json_string_value(charset);
    long long ml = -1, mn = -1, mx = -1;
    if (parse_long(check, "min", &a->min, &a->has_min, where, err, errlen) < 0 ||
        parse_long(check, "max", &a->max, &a->has_max, where, err, errlen) < 0 ||
        parse_long(check, "maxLength", &ml, NULL, where, err, errlen) < 0 ||
        parse_long(check, "minItems", &mn, NULL, where, err, errlen) < 0 ||
        parse_long(check, "maxItems", &mx, NULL, where, err, errlen) < 0)
        return -1;
    if (ml < -1 || ml > 1L << 30 || mn < -1 || mn > 1L << 20 || mx < -1 || mx > 1L << 20 ||
        (mx >= 0 && mn > mx) || (a->has_min && a->has_max && a->min > a->max)) {
        snprintf(err, errlen, "%s: check bounds out of range", where);
        return -1;
    }
    a->max_length = (long)ml;
    a->min_items = (long)mn;
    a->max_items = (long)mx;
    return 0;
}

/* A role is the engine's own use of an arg, so its type and param are fixed. */
static int parse_role(struct arg_def *a, json_t *role, const char *where, char *err, size_t errlen)
{
    if (!role)
        return 0;
    const char *name = json_string_value(role);
    size_t r = 1;
    while (name && r < sizeof role_names / sizeof role_names[0] && strcmp(name, role_names[r]))
        r++;
    if (!name || r == sizeof role_names / sizeof role_names[0]) {
        snprintf(err, errlen, "%s: unknown role", where);
        return -1;
    }
    a->role = (enum arg_role)r;
    int ok = !a->header;
    switch (a->role) {
    case ROLE_DRY_RUN:
        ok = ok && a->type == ARG_BOOLEAN && !a->param;
        break;
    case ROLE_MESSAGE_BODY:
        ok = ok && a->type == ARG_STRING && a->param;
        break;
    case ROLE_PRODUCT:
    case ROLE_METHOD:
        ok = ok && a->type == ARG_SELECT && !a->param && a->required;
        break;
    case ROLE_PATH:
        ok = ok && a->type == ARG_STRING && !a->param && a->required;
        break;
    case ROLE_PARAMS:
        ok = ok && a->type == ARG_JSON && !a->param;
        break;
    default:
        ok = ok && a->type == ARG_STRING && !a->param;
        break;
    }
    if (!ok) {
        snprintf(err, errlen, "%s: role %s does not fit this type or param", where, name);
        return -1;
    }
    return 0;
}

/* header: the arg travels as an HTTP header, so its values are fixed words (a Boolean, a
 * Select), never a caller's free text; join: a List sent as one parameter (Fields=a,b). */
static int parse_header_join(struct arg_def *a, json_t *obj, const char *where, char *err,
                             size_t errlen)
{
    json_t *header = json_object_get(obj, "header");
    json_t *join = json_object_get(obj, "join");
    const char *h = json_string_value(header);
    if (header) {
        size_t n = h ? strlen(h) : 0;
        if (n == 0 || n > 64 ||
            strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != n ||
            a->param || (a->type != ARG_BOOLEAN && a->type != ARG_SELECT)) {
            snprintf(err, errlen,
                     "%s: header must be an HTTP header name, on a Boolean or Select without "
                     "param",
                     where);
            return -1;
        }
        a->header = h;
    }
    if (join) {
        const char *j = json_string_value(join);
        if (!j || !*j || strlen(j) > 4 || a->type != ARG_LIST || !a->param) {
            snprintf(err, errlen, "%s: join must be a short separator, on a List with a param",
                     where);
            return -1;
        }
        a->join = j;
    }
    return 0;
}

static int parse_arg(struct arg_def *a, json_t *obj, const char *block, char *err, size_t errlen)
{
    char where[160];
    const char *name = get_string(obj, "name");
    snprintf(where, sizeof where, "%s: arg \"%s\"", block, name ? name : "?");
    if (!json_is_object(obj) || !name || !*name) {
        snprintf(err, errlen, "%s: each arg needs a name", block);
        return -1;
    }
    if (only_keys(obj, arg_keys, where, err, errlen) < 0)
        return -1;
    a->name = name;
    const char *type = get_string(obj, "type");
    size_t t = 0;
    while (t < sizeof type_names / sizeof type_names[0] && (!type || strcmp(type, type_names[t])))
        t++;
    if (t == sizeof type_names / sizeof type_names[0]) {
        snprintf(err, errlen, "%s: unknown type \"%s\"", where, type ? type : "(none)");
        return -1;
    }
    a->type = (enum arg_type)t;
    json_t *required = json_object_get(obj, "required");
    if (!json_is_boolean(required)) {
        snprintf(err, errlen, "%s: required must be true or false", where);
        return -1;
    }
    a->required = json_is_true(required);
    if (!json_is_string(json_object_get(obj, "info"))) {
        snprintf(err, errlen, "%s: info must be a string", where);
        return -1;
    }
    json_t *param = json_object_get(obj, "param");
    if (param && (!json_is_string(param) || json_string_length(param) == 0)) {
        snprintf(err, errlen, "%s: param must be a non-empty string", where);
        return -1;
    }
    a->param = json_string_value(param);
    if (parse_header_join(a, obj, where, err, errlen) < 0)
        return -1;
    json_t *secret = json_object_get(obj, "secret");
    if (secret && !json_is_boolean(secret)) {
        snprintf(err, errlen, "%s: secret must be true or false", where);
        return -1;
    }
    a->secret = json_is_true(secret) || a->type == ARG_CREDENTIALS;
    if (parse_role(a, json_object_get(obj, "role"), where, err, errlen) < 0)
        return -1;
    json_t *options = json_object_get(obj, "options");
    json_t *structure = json_object_get(obj, "structure");
    if (a->type == ARG_SELECT) {
        if (!string_array(options, 0)) {
            snprintf(err, errlen, "%s: a Select needs a non-empty list of options", where);
            return -1;
        }
        a->options = options;
    } else if (options) {
        snprintf(err, errlen, "%s: only a Select has options", where);
        return -1;
    }
    if (a->type == ARG_LIST) {
        if (!json_is_object(structure) || !get_string(structure, "name") ||
            !get_string(structure, "type")) {
            snprintf(err, errlen, "%s: a List needs a structure with name and type", where);
            return -1;
        }
        json_t *item_options = json_object_get(structure, "options");
        if (item_options && !string_array(item_options, 0)) {
            snprintf(err, errlen, "%s: structure.options must be a list of strings", where);
            return -1;
        }
        a->options = item_options;
    } else if (structure) {
        snprintf(err, errlen, "%s: only a List has a structure", where);
        return -1;
    }
    return parse_check(a, json_object_get(obj, "check"), where, err, errlen);
}

void block_def_free(struct block_def *b)
{
    if (!b)
        return;
    for (size_t i = 0; b->args && i < b->n_args; i++)
        free(b->args[i].requires);
    free(b->args);
    for (size_t i = 0; b->one_of && i < b->n_one_of; i++)
        free(b->one_of[i].idx);
    free(b->one_of);
    for (size_t i = 0; b->exclusive && i < b->n_exclusive; i++)
        free(b->exclusive[i].idx);
    free(b->exclusive);
    free(b->auth);
    free(b->each);
    json_decref(b->root);
    memset(b, 0, sizeof *b);
}

/* Every {placeholder} in the path must name a required arg that is not sent as a parameter. */
static int check_path(const struct block_def *b, char *err, size_t errlen)
{
    if (b->path[0] != '/') {
        snprintf(err, errlen, "%s: path must start with /", b->name);
        return -1;
    }
    for (const char *p = strchr(b->path, '{'); p; p = strchr(p + 1, '{')) {
        const char *end = strchr(p, '}');
        char name[128];
        if (!end || (size_t)(end - p - 1) >= sizeof name || end == p + 1) {
            snprintf(err, errlen, "%s: malformed placeholder in path", b->name);
            return -1;
        }
        memcpy(name, p + 1, (size_t)(end - p - 1));
        name[end - p - 1] = '\0';
        long k = block_arg_index(b, name);
        if (k < 0 || !b->args[k].required || b->args[k].param || b->args[k].header) {
            snprintf(err, errlen, "%s: path placeholder {%s} must be a required arg without param",
                     b->name, name);
            return -1;
        }
    }
    return 0;
}

static int parse_auth(struct block_def *b, json_t *auth, char *err, size_t errlen)
{
    if (!json_is_array(auth) || json_array_size(auth) == 0) {
        snprintf(err, errlen, "%s: auth must list [username, password] arg pairs", b->name);
        return -1;
    }
    b->n_auth = json_array_size(auth);
    b->auth = calloc(b->n_auth, sizeof *b->auth);
    if (!b->auth) {
        snprintf(err, errlen, "%s: out of memory", b->name);
        return -1;
    }
    for (size_t i = 0; i < b->n_auth; i++) {
        json_t *pair = json_array_get(auth, i);
        const char *user = json_string_value(json_array_get(pair, 0));
        const char *pass = json_string_value(json_array_get(pair, 1));
        long u = user ? block_arg_index(b, user) : -1, p = pass ? block_arg_index(b, pass) : -1;
        if (json_array_size(pair) != 2 || u < 0 || p < 0 || b->args[u].param || b->args[p].param) {
            snprintf(err, errlen, "%s: auth pair %zu must name two args without param", b->name,
                     i + 1);
            return -1;
        }
        b->auth[i] = (struct auth_pair){(size_t)u, (size_t)p};
    }
    return 0;
}

static int parse_fixed(struct block_def *b, json_t *fixed, char *err, size_t errlen)
{
    const char *key;
    json_t *v;
    if (!json_is_object(fixed)) {
        snprintf(err, errlen, "%s: fixed must map Twilio parameters to strings", b->name);
        return -1;
    }
    json_object_foreach(fixed, key, v) {
        if (!json_is_string(v) || !*key) {
            snprintf(err, errlen, "%s: fixed must map Twilio parameters to strings", b->name);
            return -1;
        }
    }
    b->fixed = fixed;
    return 0;
}

int block_product_name_ok(const char *product)
{
    size_t n = product ? strlen(product) : 0;
    if (n == 0 || n > 31 || product[0] == '-' || product[n - 1] == '-')
        return 0;
    return strspn(product, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

long block_role_index(const struct block_def *b, enum arg_role role)
{
    for (size_t i = 0; i < b->n_args; i++)
        if (b->args[i].role == role)
            return (long)i;
    return -1;
}

static int is_method(const char *m)
{
    return m && (strcmp(m, "POST") == 0 || strcmp(m, "GET") == 0 || strcmp(m, "DELETE") == 0);
}

/* A block whose caller chooses the request (twilioRequest) has product, method and path args
 * instead of those keys; every option of the first two must be safe as it stands. */
static int parse_chosen_request(struct block_def *b, json_t *root, char *err, size_t errlen)
{
    long product = block_role_index(b, ROLE_PRODUCT), method = block_role_index(b, ROLE_METHOD);
    long path = block_role_index(b, ROLE_PATH);
    if (product < 0 || method < 0 || path < 0 || json_object_get(root, "product") ||
        json_object_get(root, "method") || json_object_get(root, "path") ||
        block_role_index(b, ROLE_NEXT_PAGE) >= 0 || json_object_get(root, "fixed")) {
        snprintf(err, errlen,
                 "%s: a block whose caller chooses the request has product, method and path "
                 "args (roles), and no product, method, path, fixed or next page of its own",
                 b->name);
        return -1;
    }
    size_t i;
    json_t *v;
    json_array_foreach(b->args[product].options, i, v) {
        if (!block_product_name_ok(json_string_value(v))) {
            snprintf(err, errlen, "%s: product option \"%s\" is not a product's host name", b->name,
                     json_string_value(v));
            return -1;
        }
    }
    json_array_foreach(b->args[method].options, i, v) {
        if (!is_method(json_string_value(v))) {
            snprintf(err, errlen, "%s: method options must be POST, GET or DELETE", b->name);
            return -1;
        }
    }
    return 0;
}

/* contentUrl: {"list": "media_list", "key": "url"}. */
static int parse_content_url(struct block_def *b, json_t *spec, char *err, size_t errlen)
{
    b->content_list = get_string(spec, "list");
    b->content_key = get_string(spec, "key");
    if (!json_is_object(spec) || json_object_size(spec) != 2 || !b->content_list ||
        !*b->content_list || !b->content_key || !*b->content_key) {
        snprintf(err, errlen,
                 "%s: contentUrl must be {\"list\": <array in the answer>, "
                 "\"key\": <name of the URL to add to each item>}",
                 b->name);
        return -1;
    }
    return 0;
}

/* The Twilio request a block makes: product, method, path, action, auth and fixed
 * parameters, and what it adds to the answer. */
static int parse_request(struct block_def *b, json_t *root, char *err, size_t errlen)
{
    const char *name = b->name;
    b->action = get_string(root, "action");
    if (!b->action) {
        snprintf(err, errlen, "%s: action is required", name);
        return -1;
    }
    if (parse_auth(b, json_object_get(root, "auth"), err, errlen) < 0)
        return -1;
    json_t *content = json_object_get(root, "contentUrl");
    if (content && parse_content_url(b, content, err, errlen) < 0)
        return -1;
    if (block_role_index(b, ROLE_PRODUCT) >= 0 || block_role_index(b, ROLE_METHOD) >= 0 ||
        block_role_index(b, ROLE_PATH) >= 0)
        return parse_chosen_request(b, root, err, errlen);
    if (block_role_index(b, ROLE_PARAMS) >= 0) {
        snprintf(err, errlen, "%s: params args belong to blocks whose caller chooses the request",
                 name);
        return -1;
    }
    json_t *product = json_object_get(root, "product");
    b->product = product ? json_string_value(product) : "api";
    if (!block_product_name_ok(b->product)) {
        snprintf(err, errlen,
                 "%s: product must be a Twilio product's host name (api, verify, lookups, ...): "
                 "lower-case letters, digits and -",
                 name);
        return -1;
    }
    b->method = get_string(root, "method");
    b->path = get_string(root, "path");
    if (!is_method(b->method)) {
        snprintf(err, errlen, "%s: method must be POST, GET or DELETE", name);
        return -1;
    }
    if (!b->path) {
        snprintf(err, errlen, "%s: path is required", name);
        return -1;
    }
    json_t *fixed = json_object_get(root, "fixed");
    if (fixed && parse_fixed(b, fixed, err, errlen) < 0)
        return -1;
    return check_path(b, err, errlen);
}

/* A handler block or an event computes its answer here: nothing of it goes to Twilio. */
static int check_local(struct block_def *b, json_t *root, char *err, size_t errlen)
{
    static const char *const twilio_only[] = {"product", "method", "path",       "action",
                                              "auth",    "fixed",  "contentUrl", "maybeSent"};
    for (size_t i = 0; i < sizeof twilio_only / sizeof twilio_only[0]; i++) {
        if (json_object_get(root, twilio_only[i])) {
            snprintf(err, errlen, "%s: a handler block has no %s", b->name, twilio_only[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < b->n_args; i++) {
        if (b->args[i].param || b->args[i].header || b->args[i].role) {
            snprintf(err, errlen, "%s: arg \"%s\" of a handler block has no param, header or role",
                     b->name, b->args[i].name);
            return -1;
        }
    }
    return 0;
}

/* A bulk block: its own request is the other block's, made once per item, so it has no method,
 * path, action or fixed parameters and its args no param; it checks credentials as that block
 * does (auth). Whether the other block exists and agrees is block_set_load's check. */
static int parse_each(struct block_def *b, json_t *root, char *err, size_t errlen)
{
    static const char *const twilio_only[] = {"method", "path", "action", "fixed", "handler"};
    json_t *each = json_object_get(root, "each");
    for (size_t i = 0; i < sizeof twilio_only / sizeof twilio_only[0]; i++) {
        if (json_object_get(root, twilio_only[i])) {
            snprintf(err, errlen, "%s: a bulk block has no %s", b->name, twilio_only[i]);
            return -1;
        }
    }
    for (size_t i = 0; i < b->n_args; i++) {
        if (b->args[i].param) {
            snprintf(err, errlen, "%s: arg \"%s\" of a bulk block has no param", b->name,
                     b->args[i].name);
            return -1;
        }
    }
    if (!json_is_object(each) || only_keys(each, each_keys, b->name, err, errlen) < 0 ||
        parse_auth(b, json_object_get(root, "auth"), err, errlen) < 0) {
        if (!json_is_object(each))
            snprintf(err, errlen, "%s: each must be an object", b->name);
        return -1;
    }
    const char *list = get_string(each, "list");
    long k = list ? block_arg_index(b, list) : -1;
    json_t *overrides = json_object_get(each, "overrides");
    if (!get_string(each, "block") || !get_string(each, "item") || k < 0 ||
        b->args[k].type != ARG_JSON || (overrides && !string_array(overrides, 1))) {
        snprintf(err, errlen,
                 "%s: each needs block, item, list (a JSON arg of this block) and a list of "
                 "overrides",
                 b->name);
        return -1;
    }
    if (!(b->each = calloc(1, sizeof *b->each))) {
        snprintf(err, errlen, "%s: out of memory", b->name);
        return -1;
    }
    *b->each = (struct each_def){.name = get_string(each, "block"),
                                 .list = (size_t)k,
                                 .item = get_string(each, "item"),
                                 .overrides = overrides};
    return 0;
}

static int parse_args(struct block_def *b, json_t *args, int allow_empty, char *err, size_t errlen)
{
    const char *name = b->name;
    if (!json_is_array(args) || (!allow_empty && json_array_size(args) == 0)) {
        snprintf(err, errlen, "%s: args must be a non-empty list", name);
        return -1;
    }
    b->n_args = json_array_size(args);
    b->args = calloc(b->n_args ? b->n_args : 1, sizeof *b->args);
    if (!b->args) {
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    for (size_t i = 0; i < b->n_args; i++) {
        if (parse_arg(&b->args[i], json_array_get(args, i), name, err, errlen) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(b->args[j].name, b->args[i].name) == 0) {
                snprintf(err, errlen, "%s: arg \"%s\" is declared twice", name, b->args[i].name);
                return -1;
            }
            if (b->args[i].role && b->args[j].role == b->args[i].role) {
                snprintf(err, errlen, "%s: two args have the role of \"%s\"", name,
                         b->args[i].name);
                return -1;
            }
        }
    }
    for (size_t i = 0; i < b->n_args; i++) {
        json_t *req = json_object_get(json_array_get(args, i), "requires");
        if (req && names_to_indexes(b, req, &b->args[i].requires, &b->args[i].n_requires, name, err,
                                    errlen) < 0)
            return -1;
    }
    return 0;
}

/* oneOf and exclusive: lists of groups of arg names. */
static int parse_groups(struct block_def *b, json_t *list, const char *key, struct arg_group **out,
                        size_t *n, char *err, size_t errlen)
{
    if (!list)
        return 0;
    if (!json_is_array(list)) {
        snprintf(err, errlen, "%s: %s must be a list of lists", b->name, key);
        return -1;
    }
    *out = calloc(json_array_size(list) + 1, sizeof **out);
    if (!*out) {
        snprintf(err, errlen, "%s: out of memory", b->name);
        return -1;
    }
    for (size_t i = 0; i < json_array_size(list); i++) {
        if (names_to_indexes(b, json_array_get(list, i), &(*out)[i].idx, &(*out)[i].n, b->name, err,
                             errlen) < 0)
            return -1;
        (*n)++;
    }
    return 0;
}

static int parse_body(struct block_def *b, const char *name, char *err, size_t errlen)
{
    json_t *root = b->root;
    if (!json_is_object(root)) {
        snprintf(err, errlen, "%s: a block definition must be a JSON object", name);
        return -1;
    }
    if (only_keys(root, block_keys, name, err, errlen) < 0)
        return -1;
    b->name = get_string(root, "name");
    if (!b->name || strcmp(b->name, name) != 0) {
        snprintf(err, errlen, "%s: \"name\" must be \"%s\", as the file is named", name, name);
        return -1;
    }
    if (!json_is_string(json_object_get(root, "description"))) {
        snprintf(err, errlen, "%s: description must be a string", name);
        return -1;
    }
    if (!json_is_array(json_object_get(root, "callbacks"))) {
        snprintf(err, errlen, "%s: callbacks must be a list", name);
        return -1;
    }
    if (parse_args(b, json_object_get(root, "args"), 0, err, errlen) < 0)
        return -1;
    if (parse_groups(b, json_object_get(root, "oneOf"), "oneOf", &b->one_of, &b->n_one_of, err,
                     errlen) < 0 ||
        parse_groups(b, json_object_get(root, "exclusive"), "exclusive", &b->exclusive,
                     &b->n_exclusive, err, errlen) < 0)
        return -1;
    if (json_object_get(root, "each"))
        return parse_each(b, root, err, errlen);
    json_t *flow = json_object_get(root, "flow");
    if (flow) {
        b->flow_kind = get_string(flow, "kind");
        if (!json_is_object(flow) || !b->flow_kind || !*b->flow_kind) {
            snprintf(err, errlen, "%s: flow must be an object with a kind (the flow's name)", name);
            return -1;
        }
        b->flow = flow;
    }
    json_t *handler = json_object_get(root, "handler");
    if (handler) {
        /* the name only: dispatch (pipeline.c) finds the handler, and checks at start that
         * every name has one */
        b->handler = json_string_value(handler);
        if (!b->handler || !*b->handler) {
            snprintf(err, errlen, "%s: handler must name a handler", name);
            return -1;
        }
        return check_local(b, root, err, errlen);
    }
    return parse_request(b, root, err, errlen);
}

/* Replaces each {"use": "name"} arg with a copy of common's arg of that name; the other keys
 * given next to "use" override the shared ones (e.g. "required"). */
static int resolve_uses(json_t *root, json_t *common, const char *name, char *err, size_t errlen)
{
    json_t *args = json_object_get(root, "args");
    size_t i;
    json_t *arg;
    json_array_foreach(args, i, arg) {
        const char *use = get_string(arg, "use");
        if (!use)
            continue;
        json_t *shared = NULL, *c;
        size_t k;
        json_array_foreach(common, k, c) {
            if (!shared && get_string(c, "name") && strcmp(get_string(c, "name"), use) == 0)
                shared = c;
        }
        if (!shared) {
            snprintf(err, errlen, "%s: no shared arg named \"%s\" in blocks/common/args.json", name,
                     use);
            return -1;
        }
        json_t *copy = json_deep_copy(shared);
        if (!copy || json_object_update(copy, arg) < 0 || json_object_del(copy, "use") < 0 ||
            json_array_set_new(args, i, copy) < 0) {
            snprintf(err, errlen, "%s: out of memory", name);
            return -1;
        }
    }
    return 0;
}

/* Why a definition did not parse, with jansson's position when it was a syntax error. */
static void parse_failure(const char *name, const struct jsonparse_error *perr, char *err,
                          size_t errlen)
{
    char why[240];
    if (perr->fault == JSONPARSE_SYNTAX)
        snprintf(err, errlen, "%s: line %d, column %d: %s", name, perr->json.line,
                 perr->json.column, perr->json.text);
    else
        snprintf(err, errlen, "%s: %s", name, jsonparse_fault_text(perr, why, sizeof why));
}

int block_parse(const char *name, const char *text, size_t len, json_t *common,
                struct block_def *out, char *err, size_t errlen)
{
    struct block_def b;
    struct jsonparse_error perr;
    memset(&b, 0, sizeof b);
    b.root = jsonparse_loadb_capped(text, len, JSON_REJECT_DUPLICATES, SIZE_MAX, &perr);
    if (!b.root) {
        parse_failure(name, &perr, err, errlen);
        return -1;
    }
    if ((json_is_object(b.root) && resolve_uses(b.root, common, name, err, errlen) < 0) ||
        parse_body(&b, name, err, errlen) < 0) {
        block_def_free(&b);
        return -1;
    }
    *out = b;
    return 0;
}

/* An event's listeners' args are checked by the same engine as a block's. */
static int event_parse(json_t *event, struct block_def *out, char *err, size_t errlen)
{
    struct block_def b;
    memset(&b, 0, sizeof b);
    b.root = json_incref(event);
    b.name = get_string(event, "name");
    b.event = 1;
    int ok = 0;
    if (!json_is_object(event) || !b.name || !*b.name ||
        !json_is_string(json_object_get(event, "description")))
        snprintf(err, errlen, "metadata.json: each event needs a name and a description");
    else if (only_keys(event, event_keys, b.name, err, errlen) < 0)
        ;
    else if (!(b.handler = b.name))
        ;
    else if (!json_object_get(event, "args") &&
             json_object_set_new(event, "args", json_array()) < 0)
        snprintf(err, errlen, "metadata.json: out of memory");
    else
        ok = parse_args(&b, json_object_get(event, "args"), 1, err, errlen) == 0;
    if (!ok) {
        block_def_free(&b);
        return -1;
    }
    *out = b;
    return 0;
}

static json_t *pick(json_t *obj, const char *const *keys)
{
    json_t *out = json_object();
    for (; out && *keys; keys++) {
        json_t *v = json_object_get(obj, *keys);
        if (v && json_object_set(out, *keys, v) < 0) {
            json_decref(out);
            return NULL;
        }
    }
    return out;
}

static json_t *served(const struct block_def *b, const char *const *keys)
{
    json_t *out = pick(b->root, keys);
    json_t *args = json_array();
    if (!out || !args || json_object_set(out, "args", args) < 0)
        goto fail;
    size_t i;
    json_t *arg;
    json_array_foreach(json_object_get(b->root, "args"), i, arg) {
        if (json_array_append_new(args, pick(arg, served_arg_keys)) < 0)
            goto fail;
    }
    json_decref(args);
    return out;
fail:
    json_decref(args);
    json_decref(out);
    return NULL;
}

static int compose_metadata(struct block_set *set, json_t *meta, char *err, size_t errlen)
{
    json_t *blocks = json_array(), *events = json_array();
    int rc = -1;
    if (!blocks || !events)
        goto done;
    for (size_t i = 0; i < set->n; i++) {
        if (json_array_append_new(blocks, served(&set->blocks[i], served_block_keys)) < 0)
            goto done;
    }
    for (size_t i = 0; i < set->n_events; i++) {
        if (json_array_append_new(events, served(&set->events[i], served_event_keys)) < 0)
            goto done;
    }
    if (json_object_set(meta, "blocks", blocks) < 0 ||
        (json_object_get(meta, "events") && json_object_set(meta, "events", events) < 0))
        goto done;
    set->metadata = json_dumps(meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (set->metadata) {
        set->metadata_len = strlen(set->metadata);
        rc = 0;
    }
done:
    if (rc < 0)
        snprintf(err, errlen, "metadata: out of memory");
    json_decref(blocks);
    json_decref(events);
    return rc;
}

/* A bulk block's args are the other block's with its item arg replaced by the list: the same
 * names and types both ways, so neither can gain an option the other lacks. */
static int resolve_each(const struct block_set *set, struct block_def *b, char *err, size_t errlen)
{
    struct each_def *e = b->each;
    const struct block_def *t = block_find(set, e->name, strlen(e->name));
    if (!t || t->each || t->handler) {
        snprintf(err, errlen, "%s: each.block must name a block that calls Twilio", b->name);
        return -1;
    }
    long item = block_arg_index(t, e->item);
    if (item < 0 || !t->args[item].param || block_arg_index(b, e->item) >= 0 ||
        block_arg_index(t, b->args[e->list].name) >= 0) {
        snprintf(err, errlen,
                 "%s: each.item must be an arg of %s sent to Twilio that this block lacks, and "
                 "each.list an arg %s lacks",
                 b->name, t->name, t->name);
        return -1;
    }
    size_t i;
    json_t *o;
    json_array_foreach(e->overrides, i, o) {
        long k = block_arg_index(t, json_string_value(o));
        if (k < 0 || k == item || !t->args[k].param) {
            snprintf(err, errlen,
                     "%s: each.overrides: \"%s\" is not another arg of %s sent to "
                     "Twilio",
                     b->name, json_string_value(o), t->name);
            return -1;
        }
    }
    for (i = 0; i < b->n_args; i++) {
        long k = block_arg_index(t, b->args[i].name);
        if (i != e->list && (k < 0 || t->args[k].type != b->args[i].type)) {
            snprintf(err, errlen, "%s: arg \"%s\" must be an arg of %s of the same type", b->name,
                     b->args[i].name, t->name);
            return -1;
        }
    }
    for (i = 0; i < t->n_args; i++) {
        if ((long)i != item && block_arg_index(b, t->args[i].name) < 0) {
            snprintf(err, errlen, "%s: lacks %s's arg \"%s\"", b->name, t->name, t->args[i].name);
            return -1;
        }
    }
    int same = b->n_auth == t->n_auth;
    for (i = 0; same && i < b->n_auth; i++)
        same = strcmp(b->args[b->auth[i].user].name, t->args[t->auth[i].user].name) == 0 &&
               strcmp(b->args[b->auth[i].pass].name, t->args[t->auth[i].pass].name) == 0;
    if (!same) {
        snprintf(err, errlen, "%s: auth must be %s's", b->name, t->name);
        return -1;
    }
    e->block = t;
    return 0;
}

static int load_events(struct block_set *set, json_t *meta, char *err, size_t errlen)
{
    json_t *events = json_object_get(meta, "events");
    if (!events)
        return 0;
    if (!json_is_array(events)) {
        snprintf(err, errlen, "metadata.json: \"events\" must be a list");
        return -1;
    }
    set->events = calloc(json_array_size(events) + 1, sizeof *set->events);
    if (!set->events) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < json_array_size(events); i++) {
        if (event_parse(json_array_get(events, i), &set->events[i], err, errlen) < 0)
            return -1;
        set->n_events++;
        const char *name = set->events[i].name;
        if (block_find(set, name, strlen(name)) ||
            block_find_event(set, name, strlen(name)) != &set->events[i]) {
            snprintf(err, errlen, "metadata.json: \"%s\" is declared twice", name);
            return -1;
        }
    }
    return 0;
}

struct block_set *block_set_load(const struct embedded_file *metadata,
                                 const struct embedded_file *common,
                                 const struct embedded_file *files, size_t n, char *err,
                                 size_t errlen)
{
    struct jsonparse_error perr;
    json_t *shared = NULL;
    struct block_set *set = calloc(1, sizeof *set);
    json_t *meta = jsonparse_loadb_capped(metadata->text, metadata->len, JSON_REJECT_DUPLICATES,
                                          SIZE_MAX, &perr);
    if (!set) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (!meta) {
        parse_failure("metadata.json", &perr, err, errlen);
        goto fail;
    }
    if (common) {
        shared = jsonparse_loadb_capped(common->text, common->len, JSON_REJECT_DUPLICATES, SIZE_MAX,
                                        &perr);
        if (!shared) {
            parse_failure("blocks/common/args.json", &perr, err, errlen);
            goto fail;
        }
        if (!json_is_array(shared)) {
            snprintf(err, errlen, "blocks/common/args.json: must be a list of args");
            goto fail;
        }
    }
    json_t *listed = json_object_get(meta, "blocks");
    if (!json_is_object(meta) || !string_array(listed, 1)) {
        snprintf(err, errlen,
                 "metadata.json: must be an object whose \"blocks\" lists block names");
        goto fail;
    }
    if (json_array_size(listed) != n) {
        snprintf(err, errlen, "metadata.json lists %zu blocks but blocks/ holds %zu",
                 json_array_size(listed), n);
        goto fail;
    }
    set->blocks = calloc(n ? n : 1, sizeof *set->blocks);
    if (!set->blocks) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    /* Served in metadata.json's order; each listed name must have exactly one file. */
    for (size_t i = 0; i < n; i++) {
        const char *want = json_string_value(json_array_get(listed, i));
        const struct embedded_file *f = NULL;
        for (size_t j = 0; j < n && !f; j++)
            if (strcmp(files[j].name, want) == 0)
                f = &files[j];
        if (!f) {
            snprintf(err, errlen, "metadata.json lists \"%s\" but blocks/%s.json does not exist",
                     want, want);
            goto fail;
        }
        if (block_find(set, want, strlen(want))) {
            snprintf(err, errlen, "metadata.json lists \"%s\" twice", want);
            goto fail;
        }
        if (block_parse(f->name, f->text, f->len, shared, &set->blocks[i], err, errlen) < 0)
            goto fail;
        set->n++;
    }
    for (size_t i = 0; i < n; i++)
        if (set->blocks[i].each && resolve_each(set, &set->blocks[i], err, errlen) < 0)
            goto fail;
    if (load_events(set, meta, err, errlen) < 0 || compose_metadata(set, meta, err, errlen) < 0)
        goto fail;
    json_decref(shared);
    json_decref(meta);
    return set;
fail:
    json_decref(shared);
    json_decref(meta);
    block_set_free(set);
    return NULL;
}

void block_set_free(struct block_set *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->n; i++)
        block_def_free(&set->blocks[i]);
    free(set->blocks);
    for (size_t i = 0; i < set->n_events; i++)
        block_def_free(&set->events[i]);
    free(set->events);
    free(set->metadata);
    free(set);
}

const struct block_def *block_find(const struct block_set *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->n; i++) {
        const char *b = set->blocks[i].name;
        if (strlen(b) == len && memcmp(b, name, len) == 0)
            return &set->blocks[i];
    }
    return NULL;
}

const struct block_def *block_find_event(const struct block_set *set, const char *name, size_t len)
{
    for (size_t i = 0; i < set->n_events; i++) {
        const char *e = set->events[i].name;
        if (strlen(e) == len && memcmp(e, name, len) == 0)
            return &set->events[i];
    }
    return NULL;
}

size_t block_event_count(const struct block_set *set)
{
    return set->n_events;
}

const struct block_def *block_event_at(const struct block_set *set, size_t i)
{
    return &set->events[i];
}

size_t block_count(const struct block_set *set)
{
    return set->n;
}

const struct block_def *block_at(const struct block_set *set, size_t i)
{
    return i < set->n ? &set->blocks[i] : NULL;
}

const char *block_metadata(const struct block_set *set, size_t *len)
{
    *len = set->metadata_len;
    return set->metadata;
}

json_t *block_example_args(const struct block_def *b, int minimal)
{
    json_t *defs = json_object_get(b->root, "args");
    char *take = calloc(b->n_args + 1, 1);
    json_t *out = take ? json_object() : NULL;
#define HAS_EXAMPLE(i) (json_object_get(json_array_get(defs, (i)), "example") != NULL)
    for (size_t i = 0; out && i < b->n_args; i++) {
        /* a next page replaces every filter, so it is not one of "all args" */
        take[i] = (!minimal && b->args[i].role != ROLE_NEXT_PAGE) || b->args[i].required;
        for (size_t g = 0; take[i] && !b->args[i].required && g < b->n_exclusive; g++)
            for (size_t k = 1; k < b->exclusive[g].n; k++)
                take[i] = take[i] && b->exclusive[g].idx[k] != i; /* only the first of a group */
        if (b->n_auth && (b->auth[0].user == i || b->auth[0].pass == i))
            take[i] = 1;
        /* an optional arg a first call needs to answer as expected (a signature's params) */
        take[i] |= json_is_true(json_object_get(json_array_get(defs, i), "firstCall"));
        take[i] = take[i] && HAS_EXAMPLE(i);
    }
    /* an arg whose requirement is left out cannot go either (until nothing changes) */
    for (int changed = 1; out && changed;) {
        changed = 0;
        for (size_t i = 0; i < b->n_args; i++)
            for (size_t k = 0; take[i] && !b->args[i].required && k < b->args[i].n_requires; k++)
                if (!take[b->args[i].requires[k]])
                    take[i] = 0, changed = 1;
    }
    /* each oneOf group that nothing taken meets: its first arg with an example */
    for (size_t g = 0; out && g < b->n_one_of; g++) {
        int met = 0;
        for (size_t k = 0; k < b->one_of[g].n; k++)
            met |= take[b->one_of[g].idx[k]];
        for (size_t k = 0; !met && k < b->one_of[g].n; k++)
            if (HAS_EXAMPLE(b->one_of[g].idx[k]))
                met = take[b->one_of[g].idx[k]] = 1;
    }
#undef HAS_EXAMPLE
    for (size_t i = 0; out && i < b->n_args; i++) {
        if (take[i] && json_object_set(out, b->args[i].name,
                                       json_object_get(json_array_get(defs, i), "example")) < 0) {
            json_decref(out);
            out = NULL;
        }
    }
    free(take);
    return out;
}

json_t *block_alternative_args(const struct block_def *b, size_t k)
{
    json_t *defs = json_object_get(b->root, "args");
    json_t *out = block_example_args(b, 1);
    for (size_t g = 0; out && g < b->n_exclusive; g++)
        for (size_t m = 0; m < b->exclusive[g].n; m++)
            json_object_del(out, b->args[b->exclusive[g].idx[m]].name);
    int bad = !out || json_object_set(out, b->args[k].name,
                                      json_object_get(json_array_get(defs, k), "example")) < 0;
    for (size_t m = 0; !bad && m < b->args[k].n_requires; m++) {
        size_t need = b->args[k].requires[m];
        bad = json_object_set(out, b->args[need].name,
                              json_object_get(json_array_get(defs, need), "example")) < 0;
    }
    if (bad) {
        json_decref(out);
        return NULL;
    }
    return out;
}
