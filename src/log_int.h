/*
 * log_int.h: the pure parts of log.c, for its unit tests: line formatting, JSON string
 * decoding, and the JOURNAL_STREAM check.  Private to src/ (and tests/unit/test_log.c).
 */
#ifndef RBGW_LOG_INT_H
#define RBGW_LOG_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/buf.h"
#include "rbgw/config.h"

/* Size of the buffer one line is built in; longer lines are cut (JSON stays valid). */
#define RBGW__LOG_LINE_MAX 8192

/** What one line says.  Fields with p == NULL (or the "none" value) are left out. */
struct rbgw__log_line {
    enum rbgw_log_level level; /* severity */
    struct rbgw_str msg;       /* the message, any bytes (ignored on access lines) */
    uint64_t request_id;       /* the call's id; 0: no call */
    struct rbgw_str listener;  /* the listener's connection string */
    struct rbgw_str upstream;  /* the upstream's name */
    struct rbgw_str method;    /* the call's method */
    struct rbgw_str qname;     /* the DNS name the call is about, any bytes */
    int64_t elapsed_us;        /* time since the call was read; < 0: none */
    const char *outcome;       /* access line: "ok", "false" or a failure token; NULL: not one */
    int64_t bytes;             /* access line: bytes answered */
    const char *source;        /* "responder" on forwarded lines, else NULL */
    uint64_t suppressed;       /* rate-limit summary: lines counted; 0: not a summary */
};

/** How lines are written. */
struct rbgw__log_style {
    enum rbgw_log_format format; /* text or json */
    bool journal;                /* "<N>" priority prefix */
    int pid;                     /* for "rbgw[pid]" and "pid" */
    uint64_t real_ns;            /* wall clock for "ts" (json), ns since the epoch */
};

/**
 * Format l as one line ending in '\n' into out (cap bytes, at least 64); returns its length.
 * Never fails: what does not fit is cut, and a JSON line is still one valid object.
 */
size_t rbgw__log_format(char *out, size_t cap, const struct rbgw__log_style *st,
                        const struct rbgw__log_line *l);

/**
 * Decode a JSON string's text (with its quotes, as the scanner returns it) into out (cap
 * bytes); returns the length written, cut at cap.  \u escapes become UTF-8, an unpaired
 * surrogate U+FFFD.  The text must be a valid JSON string.
 */
size_t rbgw__log_json_unescape(struct rbgw_str text, char *out, size_t cap);

/** True if env (JOURNAL_STREAM's value, may be NULL) is "DEV:INO" naming dev and ino. */
bool rbgw__log_journal_matches(const char *env, uint64_t dev, uint64_t ino);

#endif
