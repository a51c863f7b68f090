/*
 * frame.c: incremental JSON document boundary scanner (see frame.h for the rules and why).
 */
#include "rbgw/frame.h"
#include "skip_int.h"

/* Bytes that can change the scanner's state inside a container. */
static const unsigned char structural[256] = {
    ['"'] = 1, ['\\'] = 1, ['{'] = 1, ['}'] = 1, ['['] = 1, [']'] = 1,
};

enum {
    S_WS,        /* before the document: skipping whitespace */
    S_CONTAINER, /* inside {...} or [...], outside strings */
    S_STRING,    /* inside a string within a container */
    S_ESCAPE,    /* after a backslash within a container string */
    S_TOPSTRING, /* the document is a bare string */
    S_TOPESCAPE, /* after a backslash in a bare string */
    S_BARE,      /* the document is a bare token or garbage: ends at a newline */
};

/* rbgw_frame_scanner_fresh (frame.h) knows the first state as 0. */
_Static_assert(S_WS == 0, "S_WS is the initial state, 0");

void
rbgw_frame_scanner_init(struct rbgw_frame_scanner *s)
{
    s->pos = 0;
    s->start = 0;
    s->depth = 0;
    s->state = S_WS;
}

int
rbgw_frame_scan(struct rbgw_frame_scanner *s, const char *buf, size_t len, size_t *start,
                size_t *end)
{
    const unsigned char *u = (const unsigned char *)buf;
    size_t i = s->pos;
    uint8_t st = s->state;
    for (; i < len; i++) {
        char c = buf[i];
        switch (st) {
        case S_WS:
            if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
                s->start = i + 1;
                break;
            }
            s->start = i;
            if (c == '{' || c == '[') {
                s->depth = 1;
                st = S_CONTAINER;
            } else if (c == '"') {
                st = S_TOPSTRING;
            } else {
                st = S_BARE;
            }
            break;
        case S_CONTAINER:
            /* Between tokens the structural bytes are dense (a quote every few bytes): a byte
             * loop over a table beats a 16-byte mask here. */
            while (!structural[u[i]]) {
                if (++i == len) {
                    goto need_more;
                }
            }
            c = buf[i];
            if (c == '"') {
                st = S_STRING;
            } else if (c == '{' || c == '[') {
                s->depth++;
            } else if (c == '}' || c == ']') {
                if (--s->depth == 0) {
                    *start = s->start;
                    *end = i + 1;
                    s->pos = i + 1;
                    s->state = st;
                    return 1;
                }
            }
            break;
        case S_STRING:
            i = (size_t)(rbgw__skip_to_quote(u + i, u + len) - u);
            if (i == len) {
                goto need_more;
            }
            st = buf[i] == '\\' ? S_ESCAPE : S_CONTAINER;
            break;
        case S_ESCAPE:
            st = S_STRING;
            break;
        case S_TOPSTRING:
            if (c == '\\') {
                st = S_TOPESCAPE;
            } else if (c == '"') {
                *start = s->start;
                *end = i + 1;
                s->pos = i + 1;
                s->state = st;
                return 1;
            }
            break;
        case S_TOPESCAPE:
            st = S_TOPSTRING;
            break;
        case S_BARE:
            if (c == '\n') {
                *start = s->start;
                *end = i;
                s->pos = i;
                s->state = st;
                return 1;
            }
            break;
        }
    }
need_more:
    s->pos = i;
    s->state = st;
    return 0;
}
