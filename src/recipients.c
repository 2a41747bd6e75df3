#include "recipients.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "form.h"
#include "jsonparse.h"

#define NAME_MAX_LEN 160
#define REASON_MAX_LEN 256

/* One list entry while the plan is made. */
struct entry {
    struct prepared prep; /* valid while ok */
    int ok;
    char *to;        /* its address as sent, when ok */
    size_t first;    /* the entry whose message it is: itself, or the first with its address */
    json_t *reasons; /* its fields' problems, named recipients[i].field; or NULL */
};

static int is_absent(json_t *v)
{
    return !v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0);
}

/* The list as low-code tools send it: an array; a string holding one; or addresses separated
 * by commas or line breaks, split no further than one past max (*cut set then). A new
 * reference: the array, or v itself for take_json to refuse. */
static json_t *list_value(json_t *v, size_t max, int *cut)
{
    *cut = 0;
    if (!json_is_string(v))
        return json_incref(v);
    struct text t = value_trim((struct text){json_string_value(v), json_string_length(v)});
    if (t.n && t.p[0] == '[') {
        json_t *parsed = jsonparse_loadb(t.p, t.n, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_array(parsed))
            return parsed;
        json_decref(parsed);
        return json_incref(v);
    }
    json_t *list = json_array();
    size_t start = 0;
    for (size_t k = 0; list && k <= t.n; k++) {
        if (k < t.n && t.p[k] != ',' && t.p[k] != '\n' && t.p[k] != '\r')
            continue;
        if (json_array_size(list) > max) { /* the count is refused before more work */
            *cut = 1;
            break;
        }
        struct text one = value_trim((struct text){t.p + start, k - start});
        if (one.n && json_array_append_new(list, json_stringn(one.p, one.n)) < 0) {
            json_decref(list);
            list = NULL;
        }
        start = k + 1;
    }
    return list;
}

/* Whether an entry may give field: the item arg or one of the overrides. */
static int settable(const struct each_def *e, const char *field)
{
    if (strcmp(field, e->item) == 0)
        return 1;
    size_t i;
    json_t *o;
    json_array_foreach(e->overrides, i, o) {
        if (strcmp(json_string_value(o), field) == 0)
            return 1;
    }
    return 0;
}

static int add_reason(struct entry *en, const char *list, size_t i, const char *field, json_t *why)
{
    char name[NAME_MAX_LEN];
    snprintf(name, sizeof name, field ? "%s[%zu].%s" : "%s[%zu]", list, i, field);
    if (!en->reasons && !(en->reasons = json_object()))
        return -1;
    return json_object_set(en->reasons, name, why);
}

static int add_reason_text(struct entry *en, const char *list, size_t i, const char *field,
                           const char *why)
{
    json_t *s = json_string(why);
    int rc = s ? add_reason(en, list, i, field, s) : -1;
    json_decref(s);
    return rc;
}

/* Puts entry v's address and overrides into one, the other args' copy; what an entry may not
 * give is a reason. Returns 2 when v is no entry at all, 1 when it gave what it may not, 0, or
 * -1 when memory ran out. */
static int take_entry(const struct each_def *e, json_t *v, json_t *one, struct entry *en,
                      const char *list, size_t i, const char *fields)
{
    char why[REASON_MAX_LEN];
    if (json_is_array(v)) {
        snprintf(why, sizeof why, "must be an address, or an object with %.120s", fields);
        return add_reason_text(en, list, i, NULL, why) < 0 ? -1 : 2;
    }
    if (!json_is_object(v))
        return is_absent(v) || json_object_set(one, e->item, v) == 0 ? 0 : -1;
    const char *key;
    json_t *x;
    int bad = 0;
    json_object_foreach(v, key, x) {
        if (settable(e, key)) {
            if (!is_absent(x) && json_object_set(one, key, x) < 0)
                return -1;
            continue;
        }
        snprintf(why, sizeof why, "is not a field of a recipient (%.120s)", fields);
        if (add_reason_text(en, list, i, key, why) < 0)
            return -1;
        bad = 1;
    }
    return bad;
}

/* Whether entry v gave field itself (rather than taking it from the other args). */
static int gave(const struct each_def *e, json_t *v, const char *field)
{
    if (json_is_object(v))
        return !is_absent(json_object_get(v, field));
    return strcmp(field, e->item) == 0 && !is_absent(v);
}

/* An entry's problems from the called block's checks, named after the entry. A problem with a
 * value the entry took from the other args is theirs, named once (top). A field the entry
 * cannot give is dropped when the entry's own fields explain it: a missing body also makes
 * "one of body, mediaUrl, contentSid" fail on contentSid. */
static int take_reasons(const struct each_def *e, json_t *v, json_t *found, json_t *top,
                        struct entry *en, const char *list, size_t i)
{
    const char *field;
    json_t *why;
    int own = 0;
    for (int pass = 0; pass < 2; pass++) {
        json_object_foreach(found, field, why) {
            int theirs = json_object_get(top, field) && !gave(e, v, field);
            int mine = !theirs && settable(e, field);
            if (pass == 0 ? !mine : mine || theirs || own)
                continue;
            if (add_reason(en, list, i, field, why) < 0)
                return -1;
            own |= pass == 0;
        }
    }
    return 0;
}

/* The value the called block sends for its item arg (the normalised address). */
static char *sent_value(const struct block_def *called, const struct each_def *e,
                        const struct prepared *p)
{
    const char *param = called->args[block_arg_index(called, e->item)].param;
    json_t *form = form_parse(p->form.data ? p->form.data : "", p->form.len);
    const char *v = json_string_value(json_object_get(form, param));
    char *out = v ? strdup(v) : NULL;
    json_decref(form);
    return out;
}

struct by_address {
    const char *to;
    size_t entry;
};

static int compare_address(const void *a, const void *b)
{
    const struct by_address *x = a, *y = b;
    int c = strcmp(x->to, y->to);
    return c ? c : (x->entry > y->entry) - (x->entry < y->entry);
}

static int same_request(const struct prepared *a, const struct prepared *b)
{
    return strcmp(buf_str(&a->path), buf_str(&b->path)) == 0 &&
           strcmp(buf_str(&a->form), buf_str(&b->form)) == 0;
}

/* Entries with the same address become one message; the same address with another message is
 * a mistake to name, not a message to drop. Returns 1 when some were, 0, or -1. */
static int merge_duplicates(struct entry *ents, size_t n, const char *list, const char *item)
{
    struct by_address *order = calloc(n ? n : 1, sizeof *order);
    size_t k = 0;
    int rc = 0;
    if (!order)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (ents[i].ok)
            order[k++] = (struct by_address){ents[i].to, i};
    qsort(order, k, sizeof *order, compare_address);
    size_t first = k ? order[0].entry : 0; /* the first entry with this address */
    for (size_t j = 1; j < k && rc >= 0; j++) {
        if (strcmp(order[j].to, order[j - 1].to) != 0) {
            first = order[j].entry;
            continue;
        }
        struct entry *en = &ents[order[j].entry];
        if (same_request(&en->prep, &ents[first].prep)) {
            en->first = first;
            continue;
        }
        char why[REASON_MAX_LEN];
        snprintf(why, sizeof why,
                 "repeats the address of %s[%zu] with another message: give each address once",
                 list, first);
        rc = add_reason_text(en, list, order[j].entry, item, why) < 0 ? -1 : 1;
    }
    free(order);
    return rc;
}

/* Every problem in b's arg order, an entry's at the list's place. */
static json_t *all_reasons(const struct block_def *b, json_t *top, json_t *list_reason,
                           const struct entry *ents, size_t n)
{
    json_t *all = json_object();
    for (size_t i = 0; all && i < b->n_args; i++) {
        const char *name = b->args[i].name;
        json_t *why = i == b->each->list && list_reason ? list_reason : json_object_get(top, name);
        int rc = why ? json_object_set(all, name, why) : 0;
        for (size_t k = 0; i == b->each->list && k < n && rc == 0; k++)
            rc = ents[k].reasons ? json_object_update(all, ents[k].reasons) : 0;
        if (rc < 0) {
            json_decref(all);
            all = NULL;
        }
    }
    return all;
}

/* "to, body, mediaUrl, contentVariables": what an entry may give, for reasons. */
static void field_names(const struct each_def *e, char *out, size_t size)
{
    size_t used = (size_t)snprintf(out, size, "%s", e->item), i;
    json_t *o;
    json_array_foreach(e->overrides, i, o) {
        if (used < size)
            used += (size_t)snprintf(out + used, size - used, ", %s", json_string_value(o));
    }
}

/* The plan's distinct recipients, each entry's prepared request moved into its item. */
static int make_items(struct entry *ents, size_t n, struct recipients *out)
{
    size_t distinct = 0;
    for (size_t i = 0; i < n; i++)
        distinct += ents[i].first == i;
    out->items = calloc(distinct, sizeof *out->items);
    out->item_of = calloc(n, sizeof *out->item_of);
    if (!out->items || !out->item_of)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ents[i].first != i) {
            out->item_of[i] = out->item_of[ents[i].first];
            continue;
        }
        struct recipient *it = &out->items[out->n_items];
        it->prep = ents[i].prep;
        it->to = ents[i].to;
        it->entry = i;
        ents[i].ok = 0;
        ents[i].to = NULL;
        out->item_of[i] = out->n_items++;
    }
    out->n_entries = n;
    return 0;
}

/* Why the list cannot be sent, in why, or NULL when it can: it is not a list, is empty, or has
 * more than max entries (cut: it was split no further than max + 1). */
static const char *list_problem(json_t *list, int cut, size_t max, const char *fields, char *why,
                                size_t size)
{
    size_t n = json_array_size(list);
    if (!json_is_array(list))
        snprintf(why, size, "must be a list of addresses, or of objects with %.120s", fields);
    else if (n == 0)
        snprintf(why, size, "must have at least one entry");
    else if (n > max && cut)
        snprintf(why, size, "must have at most %zu entries (BULK_MAX_RECIPIENTS), got more", max);
    else if (n > max)
        snprintf(why, size, "must have at most %zu entries (BULK_MAX_RECIPIENTS), got %zu", max, n);
    else
        return NULL;
    return why;
}

enum args_status recipients_check(const struct block_def *b, json_t *args, size_t max_entries,
                                  size_t form_cap, struct recipients *out, json_t **reasons)
{
    const struct each_def *e = b->each;
    const char *list_name = b->args[e->list].name;
    enum args_status rc = ARGS_NOMEM;
    struct entry *ents = NULL;
    struct prepared head;
    json_t *top = NULL, *list_reason = NULL, *base = NULL;
    json_t *own = json_copy(args);
    int cut = 0;
    json_t *list = is_absent(json_object_get(args, list_name))
                       ? NULL
                       : list_value(json_object_get(args, list_name), max_entries, &cut);
    size_t n = 0;
    int invalid = 0;
    char fields[128], why[REASON_MAX_LEN];
    memset(out, 0, sizeof *out);
    *reasons = NULL;
    if (!own || (list && json_object_set(own, list_name, list) < 0))
        goto done;
    enum args_status top_rc = args_prepare(b, own, form_cap, &head, &top);
    if (top_rc == ARGS_NOMEM)
        goto done;
    if (top_rc == ARGS_OK) {
        out->dry_run = head.dry_run;
        args_prepared_free(&head);
    }
    invalid = top_rc == ARGS_INVALID;
    field_names(e, fields, sizeof fields);
    if (list && !json_object_get(top, list_name)) {
        n = json_array_size(list);
        if (list_problem(list, cut, max_entries, fields, why, sizeof why)) {
            if (!(list_reason = json_string(why)))
                goto done;
            invalid = 1;
            n = 0;
        }
    }
    if (!(ents = calloc(n ? n : 1, sizeof *ents)) || !(base = json_copy(own)))
        goto done;
    json_object_del(base, list_name);
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_copy(base), *found = NULL;
        ents[i].first = i;
        int shape =
            one ? take_entry(e, json_array_get(list, i), one, &ents[i], list_name, i, fields) : -1;
        enum args_status r = shape < 0 ? ARGS_NOMEM
                             : shape == 2
                                 ? ARGS_INVALID
                                 : args_prepare(e->block, one, form_cap, &ents[i].prep, &found);
        json_decref(one);
        if (r == ARGS_OK && !(ents[i].to = sent_value(e->block, e, &ents[i].prep)))
            r = ARGS_NOMEM;
        ents[i].ok = r == ARGS_OK;
        if (r != ARGS_NOMEM && found &&
            take_reasons(e, json_array_get(list, i), found, top, &ents[i], list_name, i) < 0)
            r = ARGS_NOMEM;
        json_decref(found);
        if (r == ARGS_NOMEM)
            goto done;
        invalid |= shape || r == ARGS_INVALID;
    }
    int merged = merge_duplicates(ents, n, list_name, e->item);
    if (merged < 0)
        goto done;
    invalid |= merged;
    int any = top || list_reason;
    for (size_t i = 0; i < n; i++)
        any |= ents[i].reasons != NULL;
    if (any) {
        if (!(*reasons = all_reasons(b, top, list_reason, ents, n)))
            goto done;
        rc = invalid ? ARGS_INVALID : ARGS_BAD_JSON;
        goto done;
    }
    if (make_items(ents, n, out) < 0)
        goto done;
    rc = ARGS_OK;
done:
    for (size_t i = 0; ents && i < n; i++) {
        if (ents[i].ok)
            args_prepared_free(&ents[i].prep);
        free(ents[i].to);
        json_decref(ents[i].reasons);
    }
    free(ents);
    if (rc != ARGS_OK)
        recipients_free(out);
    json_decref(base);
    json_decref(list_reason);
    json_decref(top);
    json_decref(list);
    json_decref(own);
    return rc;
}

void recipients_free(struct recipients *p)
{
    for (size_t i = 0; p->items && i < p->n_items; i++) {
        args_prepared_free(&p->items[i].prep);
        free(p->items[i].to);
    }
    free(p->items);
    free(p->item_of);
    memset(p, 0, sizeof *p);
}
