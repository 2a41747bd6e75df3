#include "form.h"

#include <string.h>

static int unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
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
