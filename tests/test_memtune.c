/* The real binary (argv[1]) runs with glibc's per-thread malloc cache off, keeping any tunables
 * the operator set, and leaves the cache alone when the operator chose its size. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static const char *binary;

/* Starts the binary with GLIBC_TUNABLES=given and returns the value its running image has. */
static void tunables_become(const char *given, const char *want)
{
    const char *const env[] = {"GLIBC_TUNABLES", given, NULL};
    struct child c;
    char path[64];
    struct buf environ_text;
    child_start(&c, binary, "memtune", env, 5000);
    snprintf(path, sizeof path, "/proc/%ld/environ", (long)c.pid);
    assert_int_equal(read_file(path, &environ_text), 0);
    /* ld.so parses the variable in place and leaves a NUL where each ':' was, so the tunables
     * after the first look like entries of their own. */
    struct buf found;
    buf_init(&found, 4096);
    int in = 0;
    for (size_t at = 0; at < environ_text.len; at += strlen(environ_text.data + at) + 1) {
        const char *entry = environ_text.data + at;
        if (strncmp(entry, "GLIBC_TUNABLES=", 15) == 0) {
            buf_appendz(&found, entry + 15);
            in = 1;
        } else if (in && strncmp(entry, "glibc.", 6) == 0) {
            buf_appendf(&found, ":%s", entry);
        } else {
            in = 0;
        }
    }
    if (strcmp(buf_str(&found), want) != 0)
        fail_msg("GLIBC_TUNABLES given '%s': want '%s', the service runs with '%s'", given, want,
                 buf_str(&found));
    buf_free(&found);
    buf_free(&environ_text);
    kill(c.pid, SIGTERM);
    assert_int_equal(waitpid(c.pid, NULL, 0), c.pid);
    unlink(c.log);
}

static void cache_is_turned_off(void **state)
{
    (void)state;
    tunables_become("", "glibc.malloc.tcache_count=0");
}

static void operator_tunables_are_kept(void **state)
{
    (void)state;
    tunables_become("glibc.malloc.arena_max=2",
                    "glibc.malloc.arena_max=2:glibc.malloc.tcache_count=0");
}

static void operator_cache_size_wins(void **state)
{
    (void)state;
    tunables_become("glibc.malloc.tcache_count=7", "glibc.malloc.tcache_count=7");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_memtune path/to/twilio-block\n");
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cache_is_turned_off),
        cmocka_unit_test(operator_tunables_are_kept),
        cmocka_unit_test(operator_cache_size_wins),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
