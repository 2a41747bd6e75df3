/* subscribe_lock: part of subscribe. Twilio has no conditional write, so subscribeWebhook and
 * unsubscribeWebhook hold a lock on their target (a number's or Messaging Service's SID and the
 * event's field) from their read to their read-back: in the process, and with REDIS_URL across
 * replicas through a short Redis lock (SET NX PX, released only by its holder). */
#ifndef SUBSCRIBE_LOCK_H
#define SUBSCRIBE_LOCK_H

#include <stddef.h>

#include "config.h"

struct subscribe_lock {
    char key[128];
    char token[40];
    int local;  /* the in-process lock is held */
    int remote; /* the Redis lock is held */
};

enum subscribe_lock_result {
    SUBSCRIBE_LOCKED,
    SUBSCRIBE_LOCK_BUSY,        /* still held by another call after wait_ms */
    SUBSCRIBE_LOCK_UNAVAILABLE, /* REDIS_URL is set and Redis could not be asked */
};

/* Takes the lock of key (the target), waiting up to wait_ms for a holder to give it. */
enum subscribe_lock_result subscribe_lock_take(const struct config *cfg, const char *key,
                                               long wait_ms, struct subscribe_lock *l);

/* Gives the lock back (nothing when it is not held). */
void subscribe_lock_give(const struct config *cfg, struct subscribe_lock *l);

#endif
