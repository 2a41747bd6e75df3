/* eventstreams: the Event Streams flows. subscribeEvents finds the webhook sink whose
 * destination is the trigger's URL (reading every page) or creates it, and gives it one
 * subscription holding every type asked for; unsubscribeEvents deletes the subscriptions of
 * every such sink, then the sinks; listEventTypes reads every page of the event types. Each
 * reads first, so a repeat writes nothing. */
#ifndef EVENTSTREAMS_H
#define EVENTSTREAMS_H

#include "flow.h"

/* subscribeEvents, unsubscribeEvents and listEventTypes: flow_fns (see flow.h). */
void eventstreams_subscribe(const struct send_service *svc, const struct block_def *b, json_t *args,
                            const struct prepared *prep, CURL **slot, const char *key,
                            struct send_answer *out);
void eventstreams_unsubscribe(const struct send_service *svc, const struct block_def *b,
                              json_t *args, const struct prepared *prep, CURL **slot,
                              const char *key, struct send_answer *out);
void eventstreams_types(const struct send_service *svc, const struct block_def *b, json_t *args,
                        const struct prepared *prep, CURL **slot, const char *key,
                        struct send_answer *out);

#endif
