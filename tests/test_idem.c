/* idem: claims, replays, conflicts, LRU bounds that never drop a request still in flight, and
 * claims that only their owner can settle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "idem.h"

static const unsigned char FP_A[IDEM_FP_LEN] = {1};
static const unsigned char FP_B[IDEM_FP_LEN] = {2};

static enum idem_claim claim(struct idem_store *s, const char *key, const unsigned char *fp,
                             unsigned long *ticket, char **body)
{
    size_t len;
    *body = NULL;
    return idem_claim(s, key, fp, 0, body, &len, ticket);
}

static void fresh_replay_conflict(void **state)
{
    (void)state;
    struct idem_store *s = idem_new(4, 60);
    unsigned long t;
    char *body;
    assert_int_equal(claim(s, "k", FP_A, &t, &body), IDEM_FRESH);
    assert_int_equal(claim(s, "k", FP_A, &t, &body), IDEM_PENDING);
    idem_finish(s, "k", t, "answer", 6);
    assert_int_equal(claim(s, "k", FP_A, &t, &body), IDEM_REPLAY);
    assert_string_equal(body, "answer");
    free(body);
    assert_int_equal(claim(s, "k", FP_B, &t, &body), IDEM_CONFLICT);
    idem_free(s);
}

static void pending_claims_are_never_evicted(void **state)
{
    (void)state;
    struct idem_store *s = idem_new(2, 60);
    unsigned long t1, t2, t3;
    char *body;
    assert_int_equal(claim(s, "a", FP_A, &t1, &body), IDEM_FRESH);
    assert_int_equal(claim(s, "b", FP_A, &t2, &body), IDEM_FRESH);
    assert_int_equal(claim(s, "c", FP_A, &t3, &body), IDEM_FRESH); /* over max: nothing dropped */
    assert_int_equal(idem_count(s), 3);
    assert_int_equal(claim(s, "a", FP_A, &t1, &body), IDEM_PENDING);
    idem_finish(s, "b", t2, "b", 1);
    unsigned long t4;
    assert_int_equal(claim(s, "d", FP_A, &t4, &body), IDEM_FRESH); /* evicts answered b only */
    assert_int_equal(claim(s, "b", FP_A, &t2, &body), IDEM_FRESH);
    assert_int_equal(claim(s, "a", FP_A, &t1, &body), IDEM_PENDING);
    idem_free(s);
}

static void only_the_claimer_settles(void **state)
{
    (void)state;
    struct idem_store *s = idem_new(4, 60);
    unsigned long first, second;
    char *body;
    assert_int_equal(claim(s, "k", FP_A, &first, &body), IDEM_FRESH);
    idem_abandon(s, "k", first);
    assert_int_equal(claim(s, "k", FP_A, &second, &body), IDEM_FRESH);
    idem_abandon(s, "k", first); /* stale: must not free the second claim */
    idem_finish(s, "k", first, "stale", 5);
    assert_int_equal(claim(s, "k", FP_A, &first, &body), IDEM_PENDING);
    idem_finish(s, "k", second, "fresh", 5);
    assert_int_equal(claim(s, "k", FP_A, &first, &body), IDEM_REPLAY);
    assert_string_equal(body, "fresh");
    free(body);
    idem_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fresh_replay_conflict),
        cmocka_unit_test(pending_claims_are_never_evicted),
        cmocka_unit_test(only_the_claimer_settles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
