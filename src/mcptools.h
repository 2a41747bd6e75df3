/* mcptools: the blocks as MCP tools, generated from their definitions once at start: each
 * tool's JSON (name, description, inputSchema without the credential args, annotations from
 * what the block does, outputSchema where the answer's shape is stable) and the toolset it
 * belongs to. The relay-only blocks (handlers, events) are no tools. */
#ifndef MCPTOOLS_H
#define MCPTOOLS_H

#include <stddef.h>

#include "block.h"

struct mcptools;

/* Builds the tools of set (borrowed: it must outlive them). Returns them, or NULL with the
 * reason in err. */
struct mcptools *mcptools_build(const struct block_set *set, char *err, size_t errlen);
void mcptools_free(struct mcptools *t);

size_t mcptools_count(const struct mcptools *t);
const struct block_def *mcptools_block(const struct mcptools *t, size_t i);
/* Tool i as compact JSON text (len in *len), owned by t. */
const char *mcptools_json(const struct mcptools *t, size_t i, size_t *len);
/* Whether tool i has an outputSchema: its successes are checked against it, and its errors
 * carry no structuredContent. */
int mcptools_has_output(const struct mcptools *t, size_t i);
/* The toolset tool i belongs to (messaging, voice, numbers, ...). */
const char *mcptools_toolset(const struct mcptools *t, size_t i);

/* Index of the tool called name (len bytes), or -1. */
long mcptools_find(const struct mcptools *t, const char *name, size_t len);
/* Index of the tool nearest to a mistyped name, or -1 (suggest.h). */
long mcptools_nearest(const struct mcptools *t, const char *name, size_t len);

/* The toolsets, in a fixed order; a name that is not one gives -1. */
size_t mcptools_toolset_count(void);
const char *mcptools_toolset_name(size_t k);
long mcptools_toolset_find(const char *name, size_t len);

/* Whether arg name of tool i is a credential, which travels in the Authorization header and
 * never as an argument. */
int mcptools_is_credential(const struct mcptools *t, size_t i, const char *name);

/* Whether tool i takes an argument called name (len bytes); -1 when not, else its index in
 * the block's args. */
long mcptools_arg(const struct mcptools *t, size_t i, const char *name, size_t len);

/* The argument of tool i nearest to a mistyped name, or NULL. */
const char *mcptools_nearest_arg(const struct mcptools *t, size_t i, const char *name, size_t len);

#endif
