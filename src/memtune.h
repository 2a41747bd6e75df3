/* memtune: process-wide malloc settings that glibc reads only when a process starts. */
#ifndef MEMTUNE_H
#define MEMTUNE_H

/* Re-executes the program once with glibc's per-thread malloc cache turned off
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0, appended to any tunables already set), unless the
 * operator set tcache_count themselves. Returns only when no re-execution was needed or it
 * failed; on failure err says why and the program runs on with the cache. */
void memtune_reexec(char **argv, char *err, unsigned long errlen);

#endif
