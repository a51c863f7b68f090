/*
 * fake_fanout.h: scripted HTTP responders that can die and come back, and a harness running the
 * rbgw binary in front of two or three of them, for the fan-out integration tests
 * (tests/integration/test_fanout_*.c, docs/fanout.md).
 *
 * A responder speaks pdns's REST dialect as rbgw sends it (GET /dns/lookup/<qname>/<qtype>, POST
 * /dns/startTransaction/<id>/<domain>/<trxid>, PATCH /dns/feedRecord/<trxid>, ...).  Its replies
 * name it: a lookup is answered with one A record whose content is 192.0.2.<id> and a log line
 * "<name> lookup"; every other method with {"result": true, "log": ["<name> <method>"]}.
 * Per-method rules change that (empty, false, close, stall, hold), each for a number of requests.
 *
 * A responder is a front end of the test support's one HTTP server (fake_httpd.h), which
 * records every request before it answers it, in the same critical section, so once a test
 * has rbgw's reply to a call, the responder's record of it is there: tests never wait for
 * records of calls that were answered.  Records carry the connection the request came on (the
 * accept index), so tests can check that a transaction stayed on one TCP connection.
 *
 * A responder can be killed (it stops listening and closes every connection; the port stays
 * bound, so connects are refused and nobody else can take the port) and revived (it listens
 * again on the same port): the way an upstream process dies and is restarted.
 */
#ifndef RBGW_TEST_FAKE_FANOUT_H
#define RBGW_TEST_FAKE_FANOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_json.h"
#include "rbgw_proc.h"

/* ---- the responder ---- */

enum fake_fanout_act {
    FAKE_FANOUT_ANSWER, /* the normal reply (records for lookup/list, true otherwise) */
    FAKE_FANOUT_EMPTY,  /* {"result": [], "log": ["<name> <method> empty"]} */
    FAKE_FANOUT_FALSE,  /* {"result": false, "log": ["<name> <method> false"]} */
    FAKE_FANOUT_CLOSE,  /* read the request, close the connection without writing a byte */
    FAKE_FANOUT_STALL,  /* never answer; keep the connection open */
    FAKE_FANOUT_HOLD,   /* answer normally once fake_fanout_release() was called */
};

/* One request as received (a copy; see fake_fanout_req). */
struct fake_fanout_req {
    unsigned conn;            /* 0-based accept index of the connection it came on */
    char method[64];          /* first path segment after /dns/, e.g. "lookup" */
    char name[256];           /* the DNS name it is about (percent-decoded), or "": lookup,
                                 APILookup, getDomainInfo: segment 1; startTransaction,
                                 replaceRRSet: segment 2; feedRecord: rr[qname] of the body */
    long long trxid;          /* X-RemoteBackend-Trxid header, -1 when absent */
    enum fake_fanout_act act; /* what the responder did with it */
};

struct fake_fanout;

/**
 * Start a responder called name (at most 31 bytes) on 127.0.0.1:<ephemeral>; id (1..254) makes
 * its lookup answers distinct (content 192.0.2.<id>).  NULL on failure.
 */
struct fake_fanout *fake_fanout_start(const char *name, int id);
/** Stop the thread, close every socket, free everything.  NULL: no-op. */
void fake_fanout_stop(struct fake_fanout *s);

uint16_t fake_fanout_port(const struct fake_fanout *s);
const char *fake_fanout_name(const struct fake_fanout *s);
/** "192.0.2.<id>": the content of its lookup answers. */
const char *fake_fanout_content(const struct fake_fanout *s);

/**
 * Append a rule: the next `times` requests for method (NULL: any method) get act; times < 0
 * means forever.  Rules are looked at in the order they were added; the first one that matches
 * and is not used up applies; with none, FAKE_FANOUT_ANSWER.
 */
void fake_fanout_rule(struct fake_fanout *s, const char *method, enum fake_fanout_act act,
                      int times);
/** Answer every held request now, and later HOLD requests at once. */
void fake_fanout_release(struct fake_fanout *s);

/** Stop listening and close every connection; connects are refused until revive.  Waits. */
void fake_fanout_kill(struct fake_fanout *s);
/** Listen again on the same port.  0, or -errno.  Waits. */
int fake_fanout_revive(struct fake_fanout *s);

/** Requests recorded so far (all methods). */
size_t fake_fanout_nreqs(struct fake_fanout *s);
/** Requests recorded so far for method (NULL: all). */
size_t fake_fanout_count(struct fake_fanout *s, const char *method);
/** Copy the i-th recorded request (arrival order) to *out; false if there is none yet. */
bool fake_fanout_req(struct fake_fanout *s, size_t i, struct fake_fanout_req *out);
/** True while the connection with this accept index is open. */
bool fake_fanout_conn_open(struct fake_fanout *s, unsigned conn);
/** Connections accepted / closed (by either side) so far. */
unsigned fake_fanout_accepts(struct fake_fanout *s);
unsigned fake_fanout_closes(struct fake_fanout *s);
/** Requests stalled or held right now (on open connections). */
unsigned fake_fanout_pending(struct fake_fanout *s);

/* Waits: true once the count reaches n, false if timeout_ms passed first (a safety bound). */
bool fake_fanout_wait_reqs(struct fake_fanout *s, size_t n, int timeout_ms);
bool fake_fanout_wait_accepts(struct fake_fanout *s, unsigned n, int timeout_ms);
bool fake_fanout_wait_closes(struct fake_fanout *s, unsigned n, int timeout_ms);
bool fake_fanout_wait_pending(struct fake_fanout *s, unsigned n, int timeout_ms);
/** Wait until the connection with this accept index is closed (the state, not a count that
 * another connection's close could also raise). */
bool fake_fanout_wait_conn_closed(struct fake_fanout *s, unsigned conn, int timeout_ms);

/* ---- the harness: one rbgw and up to three responders per test ----
 *
 * Criterion runs every test in its own process, so the harness keeps its state in globals and
 * fanout_test_teardown (the suite's .fini) releases all of it.  Every function asserts: a
 * failure ends the test with a message that quotes the tail of rbgw's stderr.  Strings it hands
 * out live until teardown.
 */

#define FANOUT_IO_MS 10000 /* safety bound for one read or wait, never a timing assertion */
#define FANOUT_MAX_UP 3

/** Start n (1..3) responders: alpha (id 1), bravo (id 2), charlie (id 3). */
void fanout_test_responders(size_t n);
/** Responder i (0: alpha, 1: bravo, 2: charlie). */
struct fake_fanout *fanout_test_up(size_t i);

/**
 * Write the config (rbgw.conf in a fresh directory) and start rbgw with --config=: the lines
 * "listen=pipe", "listen+=unix:path=<dir>/gw.sock" and "log-level=debug" come first, then conf,
 * in which {A}, {B}, {C} become the responders' URLs (http://127.0.0.1:<port>/dns).  Returns
 * once rbgw answered an initialize on its stdin (so the unix listener accepts too).
 */
void fanout_test_gw(const char *conf);
/** rbgw's stderr so far (the last 6000 bytes), for messages. */
const char *fanout_test_stderr(void);

/** Send one call (a JSON line without '\n') on rbgw's stdin and return the reply line. */
const char *fanout_test_call(const char *json);
/** A new pdns-like connection to the unix listener, initialized (answer checked). */
struct fake_json_client *fanout_test_client(void);
/** Send one call on a unix connection (no reply read). */
void fanout_test_send(struct fake_json_client *c, const char *json);
/** Read the reply to a call sent with fanout_test_send. */
const char *fanout_test_read(struct fake_json_client *c);
/** Close a unix connection (pdns went away). */
void fanout_test_client_close(struct fake_json_client *c);
/** fanout_test_send + fanout_test_read. */
const char *fanout_test_client_call(struct fake_json_client *c, const char *json);

/** printf into memory that lives until teardown. */
const char *fanout_test_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* pdns's calls, in pdns's own serialisation (sorted keys, ", " and ": "). */
const char *fanout_test_lookup(const char *qname);
const char *fanout_test_replace(const char *qname); /* replaceRRSet: a write naming qname */
const char *fanout_test_start_trx(const char *domain, long long trxid);
const char *fanout_test_feed(const char *qname, long long trxid);
const char *fanout_test_commit(long long trxid);

/* ---- reading replies (each asserts that the line is a JSON object with a "result") ---- */

/** True when "result" is not false. */
bool fanout_reply_ok(const char *line);
/** The "content" of every record in a result array, in order; returns the count (<= max). */
size_t fanout_reply_contents(const char *line, const char **out, size_t max);
/** The "log" strings, in order; returns the count (<= max). */
size_t fanout_reply_logs(const char *line, const char **out, size_t max);
/** True when "result" is an empty array. */
bool fanout_reply_empty_array(const char *line);
/**
 * Which responder answered a lookup: the index of the responder whose content is the one record
 * of the result; asserts that there is exactly one record and that it is a responder's.
 */
size_t fanout_reply_from(const char *line);

/** Free everything: rbgw (SIGKILL if still running), clients, responders, the directory. */
void fanout_test_teardown(void);

#endif
