/*
 * fake_https.h: a small TLS HTTP/1.1 responder on 127.0.0.1:<ephemeral> for the https tests.
 *
 * Standalone (not on fake_http.c): it answers every request with one fixed body and records
 * what a TLS test asserts about: each handshake (full, resumed or failed, the SNI name the
 * client sent, the subject CN of the client's certificate) and each request's bytes.  One
 * thread accepts; every connection gets its own thread running blocking OpenSSL calls, so a
 * client stalling one handshake never blocks another.  Waits are bounded condition-variable
 * waits, never sleeps.
 */
#ifndef RBGW_TEST_FAKE_HTTPS_H
#define RBGW_TEST_FAKE_HTTPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fake_https_opts {
    const char *cert;      /* server certificate (PEM), required */
    const char *key;       /* its key (PEM), required */
    const char *client_ca; /* require a client certificate issued by this CA (PEM), or NULL */
    int max_version;       /* highest protocol (e.g. TLS1_2_VERSION); 0: OpenSSL's highest */
    bool close_after;      /* answer with Connection: close and close after each response */
    const char *body;      /* response body; NULL: {"result":true} */
};

/* One TLS handshake as the server saw it.  Strings are owned by the server. */
struct fake_https_handshake {
    bool ok;         /* completed */
    bool resumed;    /* ok, and the client's session was resumed */
    char *sni;       /* server name the client sent, "" when none */
    char *client_cn; /* subject CN of the client's certificate, "" when none */
    char *error;     /* why it failed (OpenSSL's reason), "" when ok */
};

struct fake_https;

/** Start the responder.  NULL on failure (bad certificate files, no port). */
struct fake_https *fake_https_start(const struct fake_https_opts *o);
/** Close every connection, join every thread, free everything. */
void fake_https_stop(struct fake_https *s);

uint16_t fake_https_port(const struct fake_https *s);

/** Handshakes finished so far (ok or failed), and the i-th of them (copied into *out). */
size_t fake_https_nhandshakes(struct fake_https *s);
bool fake_https_handshake(struct fake_https *s, size_t i, struct fake_https_handshake *out);
/** Counts over all handshakes so far. */
void fake_https_counts(struct fake_https *s, unsigned *full, unsigned *resumed, unsigned *failed);

/** Requests recorded so far, and the i-th (head and body as received, NUL-terminated). */
size_t fake_https_nrequests(struct fake_https *s);
const char *fake_https_request(struct fake_https *s, size_t i);

/** Wait until at least n requests / n finished handshakes; false if timeout_ms passed first. */
bool fake_https_wait_requests(struct fake_https *s, size_t n, int timeout_ms);
bool fake_https_wait_handshakes(struct fake_https *s, size_t n, int timeout_ms);

#endif
