/* memtune: memory the C library and the thread set-up would otherwise keep: process-wide malloc
 * settings that glibc reads only when a process starts, and the dead part of a new thread's
 * stack. */
#ifndef MEMTUNE_H
#define MEMTUNE_H

#include <stdint.h>

/* Re-executes the program once with glibc's per-thread malloc cache turned off
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, appended to any tunables already set), unless the
 * operator set tcache_count themselves. Returns only when no re-execution was needed or it
 * failed; on failure err says why and the program runs on with the cache. */
void memtune_reexec(char **argv, char *err, unsigned long errlen);

/* Gives back to the kernel the pages of the calling thread's stack below the caller's frame
 * (less a margin): they hold only the dead frames of what ran before, such as the thread's
 * first malloc. Best effort; nothing to report. */
void memtune_release_stack(void);

/* The calling thread's lowest stack address (page-aligned), looked up once per thread; 0 when
 * unknown. For a caller that releases its own stack below its frame (upstream_run). */
uintptr_t memtune_stack_low(void);

/* Asks the next memtune_release_stack_due on this thread to release the stack: a thread that
 * waited in a shallow frame (a handed-over transfer) goes deep again once the wait is over, to
 * answer and log, and would keep those pages through its idle time. */
void memtune_release_stack_later(void);

/* Releases as memtune_release_stack does when memtune_release_stack_later asked for it since
 * the last time; otherwise costs nothing (the fast path). */
void memtune_release_stack_due(void);

#endif
