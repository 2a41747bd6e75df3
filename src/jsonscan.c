#include "jsonscan.h"

#include <stdint.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH: values nested deeper are refused */

struct scan {
    const unsigned char *p, *end;
};

static int is_digit(unsigned c)
{
    return c >= '0' && c <= '9';
}

static int is_alpha(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static void skip_space(struct scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hex4(struct scan *s, unsigned *out)
{
    unsigned v = 0;
    if (s->end - s->p < 4)
        return 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = *s->p++;
        v <<= 4;
        if (is_digit(c))
            v |= c - '0';
        else if (c >= 'a' && c <= 'f')
            v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v |= c - 'A' + 10;
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence of two to four bytes, as jansson's utf8_check_full accepts it. */
static int utf8(struct scan *s)
{
    unsigned c = *s->p, v;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(s->end - s->p) < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        unsigned u = s->p[i];
        if (u < 0x80 || u > 0xBF)
            return 0;
        v = (v << 6) | (u & 0x3F);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (len == 3 && v < 0x800) ||
        (len == 4 && v < 0x10000))
        return 0;
    s->p += len;
    return 1;
}

/* The rest of a string after its opening quote, the closing quote included. */
static int string(struct scan *s)
{
    while (s->p < s->end) {
        unsigned c = *s->p;
        if (c == '"') {
            s->p++;
            return 1;
        }
        if (c < 0x20)
            return 0;
        if (c >= 0x80) {
            if (!utf8(s))
                return 0;
            continue;
        }
        s->p++;
        if (c != '\\')
            continue;
        if (s->p >= s->end)
            return 0;
        c = *s->p++;
        if (c == 'u') {
            unsigned v, low;
            if (!hex4(s, &v) || v == 0 || (v >= 0xDC00 && v <= 0xDFFF))
                return 0;
            if (v >= 0xD800 && v <= 0xDBFF) { /* the low half must follow */
                if (s->end - s->p < 2 || s->p[0] != '\\' || s->p[1] != 'u')
                    return 0;
                s->p += 2;
                if (!hex4(s, &low) || low < 0xDC00 || low > 0xDFFF)
                    return 0;
            }
        } else if (!c || !strchr("\"\\/bfnrt", (int)c)) {
            return 0;
        }
    }
    return 0;
}

/* Whether a number's text fits where jansson stores it: a long long, or a finite double. */
static int in_range(const unsigned char *text, size_t n, int real)
{
    size_t digits = n - (text[0] == '-');
    if (!real && digits <= 18)
        return 1;
    char small[64];
    char *copy = n < sizeof small ? small : malloc(n + 1);
    if (!copy)
        return 0;
    memcpy(copy, text, n);
    copy[n] = '\0';
    errno = 0;
    int ok;
    if (real) {
        double d = strtod(copy, NULL);
        ok = !(isinf(d) && errno == ERANGE);
    } else {
        (void)strtoll(copy, NULL, 10);
        ok = errno != ERANGE;
    }
    if (copy != small)
        free(copy);
    return ok;
}

static int number(struct scan *s)
{
    const unsigned char *start = s->p;
    int real = 0;
    if (*s->p == '-')
        s->p++;
    if (s->p >= s->end || !is_digit(*s->p))
        return 0;
    if (*s->p++ == '0') {
        if (s->p < s->end && is_digit(*s->p))
            return 0;
    } else {
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && *s->p == '.') {
        real = 1;
        if (++s->p >= s->end || !is_digit(*s->p))
            return 0;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
        real = 1;
        if (++s->p < s->end && (*s->p == '+' || *s->p == '-'))
            s->p++;
        if (s->p >= s->end || !is_digit(*s->p))
            return 0;
        while (s->p < s->end && is_digit(*s->p))
            s->p++;
    }
    return in_range(start, (size_t)(s->p - start), real);
}

/* true, false or null, not followed by more letters (jansson reads a whole word). */
static int literal(struct scan *s)
{
    static const char *const words[] = {"true", "false", "null"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(words[i]);
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i], n) == 0 &&
            ((size_t)(s->end - s->p) == n || !is_alpha(s->p[n]))) {
            s->p += n;
            return 1;
        }
    }
    return 0;
}

int jsonscan_object(const char *text, size_t n)
{
    struct scan s = {(const unsigned char *)text, (const unsigned char *)text + n};
    uint8_t objects[MAX_DEPTH / 8]; /* bit d: the container open at depth d is an object */
    size_t depth = 0;               /* containers open */
#define TOP_IS_OBJECT (objects[(depth - 1) / 8] & (1u << ((depth - 1) % 8)))
    skip_space(&s);
    if (s.p >= s.end || *s.p != '{')
        return 0;
value:
    skip_space(&s);
    if (s.p >= s.end || depth + 1 > MAX_DEPTH)
        return 0;
    if (*s.p == '{' || *s.p == '[') {
        const int object = *s.p++ == '{';
        if (object)
            objects[depth / 8] |= (uint8_t)(1u << (depth % 8));
        else
            objects[depth / 8] &= (uint8_t) ~(1u << (depth % 8));
        depth++;
        skip_space(&s);
        if (s.p < s.end && *s.p == (object ? '}' : ']')) {
            s.p++;
            depth--;
            goto after;
        }
        if (object)
            goto key;
        goto value;
    }
    if (*s.p == '"') {
        s.p++;
        if (!string(&s))
            return 0;
    } else if (*s.p == '-' || is_digit(*s.p)) {
        if (!number(&s))
            return 0;
    } else if (!literal(&s)) {
        return 0;
    }
after:
    skip_space(&s);
    if (depth == 0)
        return s.p == s.end;
    if (s.p >= s.end)
        return 0;
    if (*s.p == ',') {
        s.p++;
        if (TOP_IS_OBJECT)
            goto key;
        goto value;
    }
    if (*s.p != (TOP_IS_OBJECT ? '}' : ']'))
        return 0;
    s.p++;
    depth--;
    goto after;
key:
    skip_space(&s);
    if (s.p >= s.end || *s.p != '"')
        return 0;
    s.p++;
    if (!string(&s))
        return 0;
    skip_space(&s);
    if (s.p >= s.end || *s.p != ':')
        return 0;
    s.p++;
    goto value;
#undef TOP_IS_OBJECT
}
