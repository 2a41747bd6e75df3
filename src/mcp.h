/* mcp: the Model Context Protocol at POST /mcp (Streamable HTTP, JSON answers, no session):
 * JSON-RPC 2.0 messages in, initialize, ping, tools/list and tools/call answered, a tool run as
 * one block call through pipeline.h with the caller's credentials from the Authorization
 * header. server.c reads the request under the usual caps and deadlines and writes the reply;
 * nothing here touches the connection. */
#ifndef MCP_H
#define MCP_H

#include <stddef.h>
#include <curl/curl.h>

#include "call.h"
#include "mcptools.h"
#include "send.h"

/* The newest revision this server speaks. */
#define MCP_PROTOCOL_LATEST "2025-11-25"

/* What one request brings: its HTTP method, query string and headers (NULL when absent), and
 * its body. */
struct mcp_request {
    const char *method;
    const char *query;
    const char *protocol_version; /* MCP-Protocol-Version */
    const char *authorization;
    const char *account_sid; /* X-Twilio-Account-Sid, with an API key */
    const char *accept;
    const char *body;
    size_t len;
};

/* What every request shares. */
struct mcp_service {
    const struct send_service *svc;
    const struct mcptools *tools;
};

struct mcp_reply {
    int status;
    char *body; /* malloc'd, or NULL: no body (202), or out of memory when status is 500 */
    size_t len;
    const char *const *headers; /* static extra headers, or NULL */
    const char *what;           /* the outcome, for the log line and the metrics */
    const char *block;          /* the tool called, or NULL */
    struct call_answer call;    /* a tool call's outcome (call.body is already freed) */
};

/* Whether a request with this Origin header may reach /mcp: none at all (a server-side
 * client), localhost, 127.0.0.1 or [::1] on any port, or one of allowed (comma-separated
 * origins such as https://app.example.com, or host names for any scheme and port; "*" lets
 * any origin in). */
int mcp_origin_allowed(const char *origin, const char *allowed);

/* The 403 for an Origin mcp_origin_allowed refused, as a JSON-RPC error. */
void mcp_forbidden(struct mcp_reply *out);

/* Answers one POSTed message (or refuses another method). Fills *out; the caller frees
 * out->body. curl is the worker's handle slot, as pipeline_run takes it. */
void mcp_serve(const struct mcp_service *m, const struct mcp_request *rq, CURL **curl,
               struct mcp_reply *out);

#endif
