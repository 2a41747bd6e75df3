#include "form.h"

#include <string.h>

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

int form_escape(struct buf *out, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && unreserved((unsigned char)s[run]))
            run++;
        if (run > i && buf_append(out, s + i, run - i) < 0)
            return -1;
        if (run == n)
            break;
        unsigned char c = (unsigned char)s[run];
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        if (buf_append(out, esc, 3) < 0)
            return -1;
        i = run + 1;
    }
    return 0;
}

int form_add(struct buf *out, const char *key, const char *value, size_t value_len)
{
    if (out->len && buf_append(out, "&", 1) < 0)
        return -1;
    if (form_escape(out, key, strlen(key)) < 0 || buf_append(out, "=", 1) < 0)
        return -1;
    return form_escape(out, value, value_len);
}

int form_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) into out ('+' is a space, %XX a byte); a bad escape is kept as typed. */
static int unescape(struct buf *out, const char *s, size_t n)
{
    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%' && i + 2 < n && form_hex_value(s[i + 1]) >= 0 &&
                   form_hex_value(s[i + 2]) >= 0) {
            c = (char)(form_hex_value(s[i + 1]) * 16 + form_hex_value(s[i + 2]));
            i += 2;
        }
        if (buf_append(out, &c, 1) < 0)
            return -1;
    }
    return 0;
}

static int add_field(json_t *obj, const char *key, json_t *value)
{
    json_t *had = json_object_get(obj, key);
    if (!had)
        return json_object_set_new(obj, key, value);
    if (json_is_array(had))
        return json_array_append_new(had, value);
    json_t *list = json_pack("[O]", had);
    if (!list || json_array_append_new(list, value) < 0) {
        json_decref(list);
        return -1;
    }
    return json_object_set_new(obj, key, list);
}

json_t *form_parse(const char *s, size_t n)
{
    json_t *obj = json_object();
    struct buf key, value;
    buf_init(&key, n + 1);
    buf_init(&value, n + 1);
    size_t start = 0;
    for (size_t i = 0; obj && i <= n; i++) {
        if (i < n && s[i] != '&')
            continue;
        const char *pair = s + start;
        size_t len = i - start;
        start = i + 1;
        if (len == 0)
            continue;
        const char *eq = memchr(pair, '=', len);
        size_t klen = eq ? (size_t)(eq - pair) : len;
        json_t *v = NULL;
        if (unescape(&key, pair, klen) < 0 ||
            unescape(&value, eq ? eq + 1 : pair + len, eq ? len - klen - 1 : 0) < 0 ||
            !(v = json_stringn(buf_str(&value), value.len)) ||
            add_field(obj, buf_str(&key), v) < 0) {
            json_decref(obj);
            obj = NULL; /* v, when made, went to add_field, which frees it on failure */
        }
    }
    buf_free(&key);
    buf_free(&value);
    return obj;
}
