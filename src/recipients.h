/* recipients: a bulk block's list (blocks/<name>.json "each"; sendBulkSms's recipients) checked
 * before anything is sent: each entry, merged with the other args, against the block it calls,
 * every problem named after its entry (recipients[3].to), and the entries that give the same
 * address merged into one recipient. Pure: no I/O. */
#ifndef RECIPIENTS_H
#define RECIPIENTS_H

#include <stddef.h>
#include <jansson.h>

#include "args.h"
#include "block.h"

/* One distinct recipient: the request the called block makes for it. */
struct recipient {
    struct prepared prep;
    char *to;     /* its address as sent (the item arg's parameter) */
    size_t entry; /* the first list entry that named it */
};

/* A checked list: its distinct recipients in list order, and which one each entry names. */
struct recipients {
    struct recipient *items;
    size_t n_items;
    size_t *item_of; /* for each list entry */
    size_t n_entries;
    int dry_run;
};

/* Checks args against b (a bulk block of a loaded set) and each list entry, merged with the
 * other args, against the block it calls; at most max_entries entries. On ARGS_OK, out holds the
 * recipients (free them with recipients_free). On ARGS_INVALID or ARGS_BAD_JSON, *reasons is a
 * new object like args_prepare's, in b's arg order, an entry's fields named recipients[3].to; out
 * is then empty, as it is on ARGS_NOMEM. */
enum args_status recipients_check(const struct block_def *b, json_t *args, size_t max_entries,
                                  size_t form_cap, struct recipients *out, json_t **reasons);
void recipients_free(struct recipients *r);

#endif
