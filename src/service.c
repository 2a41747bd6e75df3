#include "service.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "apidoc.h"
#include "jsonparse.h"
#include "pipeline.h"

struct service *service_start(const struct config *cfg, const struct block_set *blocks, char *err,
                              size_t errlen)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (!svc) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    svc->cfg = *cfg;
    svc->blocks = blocks;
    jsonparse_set_max_values((size_t)cfg->json_max_values);
    snprintf(err, errlen, "out of memory");
    svc->openapi = apidoc_openapi(blocks, &svc->openapi_len, err, errlen);
    if (!svc->openapi || pipeline_check(blocks, err, errlen) < 0 ||
        !(svc->mcp_tools = mcptools_build(blocks, err, errlen)) ||
        send_service_start(&svc->calls, &svc->cfg, service_upstream_loops(cfg), &svc->draining, err,
                           errlen) < 0 ||
        send_service_open_deliveries(&svc->calls, err, errlen) < 0) {
        service_stop(svc);
        return NULL;
    }
    return svc;
}

void service_stop(struct service *svc)
{
    if (!svc)
        return;
    send_service_stop(&svc->calls);
    mcptools_free(svc->mcp_tools);
    free(svc->openapi);
    free(svc);
}

/* Handing a transfer to a loop costs two thread switches, a quarter of the throughput when
 * Twilio answers within a millisecond, but saves each call in flight a curl multi handle and
 * curl's frames on its worker's stack: 13 MB at 1,000 in flight. Many workers mean many calls
 * in flight, where memory counts more. */
size_t service_upstream_loops(const struct config *cfg)
{
    if (cfg->upstream_loops >= 0)
        return (size_t)cfg->upstream_loops;
    if (cfg->threads <= 256)
        return 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > 8 ? 8 : (size_t)cores;
}

long service_descriptors_needed(const struct config *cfg)
{
    long lent = service_upstream_loops(cfg) ? cfg->upstream_inline : 0;
    return 2 * cfg->threads + 2 * lent + 64;
}
