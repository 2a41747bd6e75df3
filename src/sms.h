/* sms: how a message body travels as SMS: GSM-7 or UCS-2, and how many segments it costs. */
#ifndef SMS_H
#define SMS_H

#include <stddef.h>
#include <jansson.h>

struct sms_info {
    int ucs2;          /* 0: GSM-7 */
    size_t characters; /* Unicode characters */
    size_t units;      /* septets (GSM-7, extension characters count 2) or UTF-16 code units */
    size_t segments;   /* 160/153 units per segment in GSM-7, 70/67 in UCS-2 */
    json_t *forced;    /* new list of the distinct characters that forced UCS-2, in order */
};

/* Analyses n bytes of UTF-8 text. Returns 0, or -1 when memory ran out or the text is not
 * UTF-8. On 0 the caller owns info->forced. */
int sms_analyse(const char *text, size_t n, struct sms_info *info);

#endif
