/*
 * skip_int.h: find the next byte that matters to a JSON scanner, 16 bytes at a time.
 *
 * Inside strings the frame scanner and the validating scanner spend most of their time on bytes
 * that cannot change their state (the letters of a qname, an address).  With SSE2 (every
 * x86-64) these helpers test 16 bytes with a few compares and one movemask; elsewhere they
 * fall back to a byte loop.  (Between tokens structural bytes come every few bytes, and a
 * table loop is cheaper: see frame.c.)  Loads never cross `end`: the last <16 bytes take the byte loop.
 * Private to src/.
 */
#ifndef RBGW_SKIP_INT_H
#define RBGW_SKIP_INT_H

#include <stddef.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* The first byte at or after p that is '"', '\\' or a control byte (< 0x20), or end. */
static inline const unsigned char *
rbgw__skip_string_body(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    const __m128i ctl = _mm_set1_epi8(0x1f);
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        /* max(x, 0x1f) == 0x1f exactly when x <= 0x1f, unsigned */
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                 _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) {
            return p + __builtin_ctz(bits);
        }
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) {
        p++;
    }
    return p;
}

/* The first byte at or after p that is '"' or '\\', or end. */
static inline const unsigned char *
rbgw__skip_to_quote(const unsigned char *p, const unsigned char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i m = _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits) {
            return p + __builtin_ctz(bits);
        }
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\') {
        p++;
    }
    return p;
}

#endif
