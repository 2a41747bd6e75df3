/* The body deadline's watchdog: an armed thread's blocking call is interrupted once its deadline
 * passes, also when the first signal came while it was between calls, and once deadline_disarm
 * returns nothing is left to interrupt it, also when the watchdog fired just as it disarmed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "clock.h"
#include "deadline.h"

/* poll on a pipe nobody writes to: 0 when it waited ms, -1 with EINTR when interrupted. */
static int wait_on_pipe(int ms)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct pollfd p = {.fd = fds[0], .events = POLLIN};
    int rc = poll(&p, 1, ms);
    int e = errno;
    close(fds[0]);
    close(fds[1]);
    errno = e;
    return rc;
}

static void a_blocked_call_is_interrupted(void **state)
{
    (void)state;
    assert_int_equal(deadline_init(), 0);
    assert_int_equal(deadline_arm(100), 0);
    assert_int_equal(wait_on_pipe(20000), -1); /* only a hang waits that long */
    assert_int_equal(errno, EINTR);
    deadline_disarm();
    assert_int_equal(wait_on_pipe(300), 0);
    deadline_release();
}

/* The deadline passes while the thread runs without a system call, so the watchdog takes the
 * slot before deadline_disarm does: disarm waits for the signal, which never reaches the next
 * call. Then a deadline disarmed in time never fires. */
static void a_deadline_that_fired_is_spent_by_disarm(void **state)
{
    (void)state;
    assert_int_equal(deadline_init(), 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(deadline_arm(0), 0);
        const long until = clock_ms() + 200;
        while (clock_ms() < until)
            ;
        deadline_disarm();
        assert_int_equal(wait_on_pipe(300), 0);
    }
    assert_int_equal(deadline_arm(200), 0);
    deadline_disarm();
    assert_int_equal(wait_on_pipe(500), 0);
    deadline_release();
}

/* The first signal lands while the thread runs outside any system call, where it interrupts
 * nothing: the watchdog signals again at its next tick, so the read the thread then blocks in
 * is still interrupted (it used to wait for as long as bytes trickled in). */
static void a_signal_that_interrupted_nothing_comes_again(void **state)
{
    (void)state;
    assert_int_equal(deadline_init(), 0);
    assert_int_equal(deadline_arm(0), 0);
    const long until = clock_ms() + 200;
    while (clock_ms() < until)
        ;
    assert_int_equal(wait_on_pipe(20000), -1); /* only a lost interruption waits that long */
    assert_int_equal(errno, EINTR);
    deadline_disarm();
    assert_int_equal(wait_on_pipe(300), 0);
    deadline_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_blocked_call_is_interrupted),
        cmocka_unit_test(a_deadline_that_fired_is_spent_by_disarm),
        cmocka_unit_test(a_signal_that_interrupted_nothing_comes_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
