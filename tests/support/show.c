/*
 * show.c: see show.h.
 */
#include <stdio.h>

#include "show.h"

const char *
rbgw_test_show(const char *p, size_t n)
{
    static char bufs[4][1024];
    static unsigned k;
    char *o = bufs[k++ & 3];
    size_t j = 0;
    if (p == NULL) {
        return "(null)";
    }
    for (size_t i = 0; i < n && j + 8 < sizeof(bufs[0]); i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            o[j++] = (char)c;
        } else {
            j += (size_t)snprintf(o + j, 8, "\\x%02x", c);
        }
    }
    o[j] = '\0';
    return o;
}
