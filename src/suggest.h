/* suggest: the nearest of a list of names to one a caller mistyped (a block, an arg), for an
 * answer that says "did you mean ...". Case is ignored: sendSMS is sendSms. */
#ifndef SUGGEST_H
#define SUGGEST_H

#include <stddef.h>

/* The index in names[0..n) of the name nearest to the len bytes at name, or -1 when none is
 * near: at most one edit (insert, delete, change, swap of two neighbours) away, two for names
 * of six letters or more, case ignored. An exact match counts too. */
long suggest_nearest(const char *name, size_t len, const char *const *names, size_t n);

#endif
