/*
 * frame.h: finding request boundaries in a JSON byte stream (pipe and unix connectors).
 *
 * pdns writes one compact JSON object and a newline per request, but reads replies as "append
 * lines until the text parses", so a peer may spread one document over several lines.  The
 * scanner finds where a document ends without parsing it: it tracks string state and bracket
 * depth only, incrementally, so each byte is looked at once however the input is split.
 * Validation is the decoder's job (rbgw_rpc_decode); a malformed document still ends somewhere
 * and gets a false reply.
 *
 * Rules: leading whitespace is skipped.  A document starting with '{' or '[' ends at its
 * matching bracket; one starting with '"' at its closing quote; anything else (garbage, a bare
 * literal) ends before the next newline, so one bad line costs one error reply.
 */
#ifndef RBGW_FRAME_H
#define RBGW_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/common.h"

struct rbgw_frame_scanner {
    size_t pos;     /* bytes of the buffer already scanned */
    size_t start;   /* offset of the document's first byte (after leading whitespace) */
    uint32_t depth; /* open brackets */
    uint8_t state;  /* internal: skipping whitespace, in container, in string, ... */
};

void rbgw_frame_scanner_init(struct rbgw_frame_scanner *s);

/** Has s seen nothing since rbgw_frame_scanner_init?  (Then a reader may try to frame a
 * whole document another way first, e.g. rbgw_json_scan_prefix, and fall back to s.) */
static inline bool
rbgw_frame_scanner_fresh(const struct rbgw_frame_scanner *s)
{
    return s->pos == 0 && s->depth == 0 && s->state == 0;
}

/**
 * Continue scanning buf[0..len) (the same buffer, grown since the last call; its first bytes
 * unchanged).  Returns 1 when a document is complete: it is buf[*start .. *end).  The caller then
 * consumes *end bytes and re-inits the scanner.  Returns 0 when more input is needed;
 * s->start then tells how many leading whitespace bytes may be dropped.
 */
int rbgw_frame_scan(struct rbgw_frame_scanner *s, const char *buf, size_t len, size_t *start,
                    size_t *end);

#endif
