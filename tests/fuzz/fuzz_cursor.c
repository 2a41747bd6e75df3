/* libFuzzer: poll cursors. Any text either fails to decode or decodes to a position in range
 * (a watermark from POLLING_CURSOR_MIN_S to POLLING_CURSOR_AHEAD_S past now, a SID of letters
 * and digits) that encodes back to the same text; any position encodes to a text that decodes
 * to it exactly when it is in range. On a worker's stack. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "polling_cursor.h"
#include "worker_stack.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1795426200LL
static const char scope[] = "pollMessages\n/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                            "/Messages.json";

static void one(const unsigned char *data, size_t size)
{
    struct polling_cursor_key k;
    struct poll_position pos, back;
    char text[POLLING_CURSOR_TEXT_MAX + 64], again[POLLING_CURSOR_TEXT_MAX];
    if (polling_cursor_key("fuzz-cursor-secret", &k) < 0)
        abort();
    /* the bytes as a caller's text */
    size_t n = size < sizeof text - 1 ? size : sizeof text - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    if (polling_cursor_decode(&k, scope, text, NOW, &pos) == 0) {
        if (pos.lo < POLLING_CURSOR_MIN_S || pos.lo > NOW + POLLING_CURSOR_AHEAD_S)
            abort();
        if (polling_cursor_encode(&k, scope, &pos, again) < 0 || strcmp(again, text) != 0)
            abort();
    }
    /* the bytes as a position: 8 of watermark, the rest a SID */
    if (size < 8)
        return;
    uint64_t lo = 0;
    for (int i = 0; i < 8; i++)
        lo = lo << 8 | data[i];
    memset(&pos, 0, sizeof pos);
    pos.lo = (long long)lo;
    size_t s = size - 8 < POLLING_CURSOR_SID_MAX ? size - 8 : POLLING_CURSOR_SID_MAX;
    memcpy(pos.after, data + 8, s);
    pos.after[s] = '\0';
    if (polling_cursor_encode(&k, scope, &pos, again) < 0)
        abort();
    int sid_ok = 1;
    for (const char *c = pos.after; *c; c++)
        sid_ok &= (*c >= '0' && *c <= '9') || (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z');
    int in_range = pos.lo >= POLLING_CURSOR_MIN_S && pos.lo <= NOW + POLLING_CURSOR_AHEAD_S;
    int ok = polling_cursor_decode(&k, scope, again, NOW, &back) == 0;
    if (ok != (in_range && sid_ok) ||
        (ok && (back.lo != pos.lo || strcmp(back.after, pos.after) != 0)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    worker_stack_run(one, data, size);
    return 0;
}
