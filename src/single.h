/* single: a request block's call, the kind most blocks are: its one checked request shown (a
 * dry run) or sent once, once per Idempotency-Key (call_keyed), and Twilio's answer worded as
 * the envelope. */
#ifndef SINGLE_H
#define SINGLE_H

#include "call.h"

/* A worded answer's message. */
#define SINGLE_MSG_CAP 2048

/* Sends c->prep once (per c->key) and answers with what Twilio said. */
void single_send(struct call *c);

/* Answers with the request c->prep would send: nothing is sent, no Idempotency-Key spent. */
void single_dry_run(struct call *c);

#endif
