/*
 * fake_json.h: scripted JSON stream responders for integration tests (docs/protocol.md §4.1, §4.2),
 * and a pdns-like client for rbgw's unix listener.
 *
 * Two responders speak the same little language, so a test can run one scenario against the
 * unix and the pipe upstream alike.  What they do with a request line depends on its "method"
 * (found as `"method": "<name>"` anywhere in the line):
 *
 *   initialize   unix: per fake_json_set_init (default {"result": true});
 *                pipe: exits at once (status 3) if <dir>/init-crash exists, answers
 *                {"result": false} if <dir>/init-false exists, else {"result": true}
 *   stall        never answers (the connection / child stays open)
 *   crash        unix: closes the connection without answering; pipe: the child exits (4)
 *   crash-mid    writes the first bytes of a reply (FAKE_JSON_CRASH_MID), then closes / exits
 *   hold         unix only: answered like echo once the latch is open (fake_json_release);
 *                until then the request waits (fake_json_wait_held counts the waiting ones)
 *   pieces, pretty, nonl, blank, raw, garbage, noresult, nullresult, stray
 *                the canned replies below, written exactly as given (pieces: one write each,
 *                FAKE_JSON_PIECE_GAP_MS apart: the spacing is part of the scenario, nothing
 *                waits on it)
 *   junk         FAKE_JSON_REPLY_JUNK (binary bytes, a NUL among them; FAKE_JSON_JUNK_LEN bytes)
 *   nested       unix only: {"result": [[[...]]]} nested FAKE_JSON_NESTED_DEPTH arrays deep
 *   huge         unix only: {"result": "xxx..."} of FAKE_JSON_HUGE_BYTES, written until all
 *                is sent or the peer is gone
 *   unsolicited  echo, then (pipe only) the child opens the FIFO <dir>/go, reads one byte
 *                from it and writes FAKE_JSON_REPLY_UNSOLICITED: a reply nobody asked for,
 *                written when the test says so (unix: fake_json_inject does the same)
 *   anything else (echo)
 *                {"result": <the request line, byte for byte>} and '\n'
 *
 * Every line received is recorded, byte for byte and before it is answered, so once a test has
 * the reply to a call, the responder's record of that call (and of the initialize before it)
 * is already there: tests never wait for records.
 *
 *   unix   a server thread on a unix socket; records carry the connection's accept index.
 *   pipe   a python3 script written into a test directory; rbgw spawns it with
 *          command=<dir>/responder.py <dir>; every child appends "<pid>\t<line>\n" to
 *          <dir>/pipe.log with one write(2); records carry the child's pid.  If the file
 *          <dir>/exit-after holds a number K when a child starts, that child exits (status 6)
 *          right after writing its K-th reply to a call (initialize not counted).  If the
 *          file <dir>/orphan exists when a child starts, it first forks a grandchild that
 *          keeps the child's stdin, stdout and stderr open (it sleeps for 10 minutes; the test
 *          kills it) and appends its pid to <dir>/orphans.
 */
#ifndef RBGW_TEST_FAKE_JSON_H
#define RBGW_TEST_FAKE_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include "rbgw_proc.h"

/* ---- canned replies (the exact bytes the responders write; '\n' noted where added) ---- */

/* "pieces": written in 4 pieces, then '\n'. */
#define FAKE_JSON_REPLY_PIECES                                                                     \
    "{\"result\": {\"a\": 1.50, \"b\": [1, 2, 3]}, \"log\": [\"in pieces\"]}"
/* "pretty": a multi-line document (written in 2 pieces, the cut inside a line), then '\n'. */
#define FAKE_JSON_REPLY_PRETTY                                                                     \
    "{\n  \"result\": [\n    1,\n    2.50\n  ],\n  \"log\": [\n    \"pretty\"\n  ]\n}"
/* "nonl": no trailing newline at all. */
#define FAKE_JSON_REPLY_NONL "{\"result\": \"no newline\"}"
/* "blank": two blank lines first (a separate write), then this and '\n'. */
#define FAKE_JSON_REPLY_BLANK "{\"result\": \"after blank lines\"}"
/* "raw": odd key order, number forms, raw non-UTF-8 bytes, an extra key; then '\n'. */
#define FAKE_JSON_REPLY_RAW                                                                        \
    "{\"log\": [\"z\"], \"result\": {\"n\": 1.50, \"e\": 1E3, \"s\": \"caf\xc3\xa9 \xff\xfe "      \
    "raw\", "                                                                                      \
    "\"k2\": 2, \"k1\": 1}, \"extra\": true}"
/* "garbage", "noresult", "nullresult": each then '\n'. */
#define FAKE_JSON_REPLY_GARBAGE "this is not json"
#define FAKE_JSON_REPLY_NORESULT "{\"log\": [\"no result here\"]}"
#define FAKE_JSON_REPLY_NULLRESULT "{\"result\": null}"
/* "stray": two documents in one write (the second answers nothing). */
#define FAKE_JSON_REPLY_STRAY_FIRST "{\"result\": 1}"
#define FAKE_JSON_REPLY_STRAY FAKE_JSON_REPLY_STRAY_FIRST "\n{\"result\": 2}\n"
/* "crash-mid": the start of a reply, then the responder is gone. */
#define FAKE_JSON_CRASH_MID "{\"result\": [1, "

/* "junk": binary garbage, a NUL among it, then '\n' (FAKE_JSON_JUNK_LEN bytes in all). */
#define FAKE_JSON_REPLY_JUNK "\x01\xff\xfe]}junk\x00\x7f\n"
#define FAKE_JSON_JUNK_LEN 12
/* "unsolicited": the document written while no call is in flight, then '\n'. */
#define FAKE_JSON_REPLY_UNSOLICITED "{\"result\": \"nobody asked\"}"
/* "nested", "huge": sizes. */
#define FAKE_JSON_NESTED_DEPTH 100000
#define FAKE_JSON_HUGE_BYTES (100u << 20)

#define FAKE_JSON_PIECE_GAP_MS 20

/* ---- records ---- */

/* One line a responder received (without its '\n'). */
struct fake_json_rec {
    long conn;  /* unix: 0-based accept index; pipe: the child's pid */
    char *data; /* the line, NUL-terminated (malloc'd) */
    size_t len; /* bytes in data */
};

/** Free an array of records returned by fake_json_records / fake_json_pipe_records. */
void fake_json_recs_free(struct fake_json_rec *r, size_t n);
/** True if the record's line carries `"method": "<method>"`. */
bool fake_json_rec_is(const struct fake_json_rec *r, const char *method);

/* ---- test directories ---- */

/** Create a fresh directory under /tmp (short path: unix sockets fit).  malloc'd, or NULL. */
char *fake_json_mkdtemp(void);
/** Remove every entry of dir (one level, no subdirectories expected), then dir.  NULL: no-op. */
void fake_json_rmtree(const char *dir);

/* ---- pipe responder ---- */

/**
 * Write the responder script to <dir>/responder.py (mode 0755, python3 found at
 * /usr/bin/python3 or on PATH) and return the command= value for it: "<dir>/responder.py <dir>"
 * (malloc'd), or NULL on failure.
 */
char *fake_json_pipe_script(const char *dir);
/** Create (on) or remove (off) the control file <dir>/<flag> ("init-crash", "init-false"). */
int fake_json_pipe_flag(const char *dir, const char *flag, bool on);
/** Every record in <dir>/pipe.log so far, in file order; *out malloc'd (NULL when none). */
size_t fake_json_pipe_records(const char *dir, struct fake_json_rec **out);

/* ---- unix responder ---- */

enum fake_json_init {
    FAKE_JSON_INIT_TRUE,  /* {"result": true} */
    FAKE_JSON_INIT_FALSE, /* {"result": false} */
    FAKE_JSON_INIT_CLOSE, /* close the connection without answering */
};

struct fake_json;

/** Listen on the unix socket path (an old file there is removed).  NULL on failure. */
struct fake_json *fake_json_unix_start(const char *path);
/** Stop the thread, close every socket, remove the socket file, free everything. */
void fake_json_stop(struct fake_json *s);
/** How initialize is answered from now on. */
void fake_json_set_init(struct fake_json *s, enum fake_json_init how);
/** Open the latch: answer the held requests now, and later "hold" requests at once. */
void fake_json_release(struct fake_json *s);
/**
 * Write FAKE_JSON_REPLY_UNSOLICITED and '\n' on every connection open now, from the server
 * thread (a reply nobody asked for); returns once it was written.
 */
void fake_json_inject(struct fake_json *s);

/** A copy of every record so far, in arrival order; *out malloc'd (NULL when none). */
size_t fake_json_records(struct fake_json *s, struct fake_json_rec **out);
/** Connections accepted / closed (by either side) so far; most open at the same time. */
unsigned fake_json_accepts(struct fake_json *s);
unsigned fake_json_closes(struct fake_json *s);
unsigned fake_json_max_open(struct fake_json *s);
/** Wait until at least n connections were closed; false if timeout_ms passed first. */
bool fake_json_wait_closes(struct fake_json *s, unsigned n, int timeout_ms);
/** Wait until at least n "hold" requests wait at the same time; false on timeout. */
bool fake_json_wait_held(struct fake_json *s, unsigned n, int timeout_ms);

/* ---- a pdns-like client of rbgw's unix listener ---- */

struct fake_json_client;

/** Connect to the unix socket path.  NULL with errno on failure. */
struct fake_json_client *fake_json_connect(const char *path);
/** Write all of data.  0, or -errno. */
int fake_json_send(struct fake_json_client *c, const void *data, size_t len);
/**
 * Read one line (returned without its '\n', malloc'd, NUL-terminated; *len gets its length),
 * or NULL: errno ETIMEDOUT after timeout_ms, 0 at EOF.  Bytes after the line stay buffered.
 */
char *fake_json_read_line(struct fake_json_client *c, int timeout_ms, size_t *len);
/** Bytes received but not yet returned as a line. */
size_t fake_json_pending(const struct fake_json_client *c);
/** Shut down the sending side (SHUT_WR): rbgw reads EOF, the client can still read.  0 or
 * -errno. */
int fake_json_client_shutdown(struct fake_json_client *c);
/** Close and free.  NULL: no-op. */
void fake_json_client_free(struct fake_json_client *c);

/* ---- rbgw readiness ---- */

/**
 * Send an initialize on rbgw's stdin (its pipe listener) and wait for the {"result":true} line.
 * Listeners start synchronously before rbgw's loop runs, so once this answer comes every other
 * listener of the same rbgw (unix socket, HTTP port) is accepting.  False if rbgw answered
 * something else, exited, or said nothing within timeout_ms.
 */
bool fake_json_gw_ready(struct rbgw_proc *p, int timeout_ms);

#endif
