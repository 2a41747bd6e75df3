#include "sms.h"

#include <stdint.h>
#include <string.h>

/* GSM 03.38 basic character set, outside ASCII (which is in it except ` [ \ ] ^ { | } ~). */
static const uint32_t gsm_basic[] = {
    0x00A1, 0x00A3, 0x00A4, 0x00A5, 0x00A7, 0x00BF, 0x00C4, 0x00C5, 0x00C6, 0x00C7,
    0x00C9, 0x00D1, 0x00D6, 0x00D8, 0x00DC, 0x00DF, 0x00E0, 0x00E4, 0x00E5, 0x00E6,
    0x00E8, 0x00E9, 0x00EC, 0x00F1, 0x00F2, 0x00F6, 0x00F8, 0x00F9, 0x00FC, 0x0393,
    0x0394, 0x0398, 0x039B, 0x039E, 0x03A0, 0x03A3, 0x03A6, 0x03A8, 0x03A9,
};
/* The extension table: each costs an escape septet too. */
static const char gsm_extension_ascii[] = "^{}\\[~]|";
#define EURO 0x20AC

/* Septets for c in GSM-7, or 0 when GSM-7 cannot carry it. */
static unsigned gsm_units(uint32_t c)
{
    if (c == '\n' || c == '\r')
        return 1;
    if (c >= 0x20 && c < 0x7F) {
        if (c == '`')
            return 0;
        return strchr(gsm_extension_ascii, (int)c) ? 2 : 1;
    }
    if (c == EURO)
        return 2;
    for (size_t i = 0; i < sizeof gsm_basic / sizeof gsm_basic[0]; i++)
        if (gsm_basic[i] == c)
            return 1;
    return 0;
}

/* Decodes one UTF-8 character at s (n bytes left). Returns its length, or 0 when malformed. */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *c)
{
    size_t len;
    uint32_t v;
    if (s[0] < 0x80) {
        *c = s[0];
        return 1;
    }
    if ((s[0] & 0xE0) == 0xC0) {
        len = 2;
        v = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3;
        v = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        len = 4;
        v = s[0] & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = v << 6 | (s[i] & 0x3F);
    }
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000}; /* shorter forms are overlong */
    if (v < least[len] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *c = v;
    return len;
}

/* Segments when split: a character is never cut between two segments (an escape pair or a
 * surrogate pair stays whole), so a segment may carry one unit less than its size. */
static size_t count_segments(const char *text, size_t n, int ucs2, size_t units)
{
    size_t single = ucs2 ? 70 : 160, multi = ucs2 ? 67 : 153;
    if (units <= single)
        return 1;
    size_t segments = 1, used = 0;
    for (size_t i = 0; i < n;) {
        uint32_t c = 0;
        i += utf8_next((const unsigned char *)text + i, n - i, &c);
        size_t u = ucs2 ? (c > 0xFFFF ? 2 : 1) : gsm_units(c);
        if (used + u > multi) {
            segments++;
            used = 0;
        }
        used += u;
    }
    return segments;
}

int sms_analyse(const char *text, size_t n, struct sms_info *info)
{
    size_t septets = 0, utf16 = 0;
    memset(info, 0, sizeof *info);
    info->forced = json_array();
    if (!info->forced)
        return -1;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_next((const unsigned char *)text + i, n - i, &c);
        if (len == 0)
            goto fail;
        unsigned g = gsm_units(c);
        if (g == 0) {
            int seen = 0;
            size_t k;
            json_t *f;
            json_array_foreach(info->forced, k, f) {
                seen |= json_string_length(f) == len &&
                        memcmp(json_string_value(f), text + i, len) == 0;
            }
            if (!seen && json_array_append_new(info->forced, json_stringn(text + i, len)) < 0)
                goto fail;
            info->ucs2 = 1;
        }
        septets += g;
        utf16 += c > 0xFFFF ? 2 : 1;
        info->characters++;
        i += len;
    }
    info->units = info->ucs2 ? utf16 : septets;
    info->segments = count_segments(text, n, info->ucs2, info->units);
    return 0;
fail:
    json_decref(info->forced);
    info->forced = NULL;
    return -1;
}
