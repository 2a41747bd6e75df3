/* Runs a fuzz input on a thread with a worker's stack: civetweb 1.15 as Debian builds it gives
 * each worker 100 KB (USE_STACK_SIZE 102400), far less than the fuzzer's 8 MB main thread, so
 * a parser that recurses per level of input crashes here as it would in the service. */
#ifndef WORKER_STACK_H
#define WORKER_STACK_H

#include <pthread.h>
#include <stdlib.h>

#define WORKER_STACK_BYTES 102400

struct worker_input {
    const unsigned char *data;
    size_t size;
    void (*run)(const unsigned char *data, size_t size);
};

static void *worker_stack_main(void *arg)
{
    struct worker_input *in = arg;
    in->run(in->data, in->size);
    return NULL;
}

static inline void worker_stack_run(void (*run)(const unsigned char *, size_t),
                                    const unsigned char *data, size_t size)
{
    struct worker_input in = {data, size, run};
    pthread_attr_t attr;
    pthread_t t;
    if (pthread_attr_init(&attr) != 0 ||
        pthread_attr_setstacksize(&attr, WORKER_STACK_BYTES) != 0 ||
        pthread_create(&t, &attr, worker_stack_main, &in) != 0 || pthread_join(t, NULL) != 0)
        abort();
    pthread_attr_destroy(&attr);
}

#endif
