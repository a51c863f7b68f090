/*
 * test_pki.h: certificates for the TLS tests, made at run time with OpenSSL's API.
 *
 * A test builds a throw-away CA in a temporary directory and issues the certificates it needs
 * from it: a server certificate for 127.0.0.1/localhost, one for a wrong name, an expired one
 * (its whole validity window in the past), a client certificate.  Nothing is committed and
 * nothing expires between runs: the validity windows are relative to now.  Keys are P-256
 * (fast to generate), files are PEM, keys unencrypted.
 *
 * Paths are "<dir>/<name>.pem" (certificate) and "<dir>/<name>.key" (key); the CA's own are
 * "<dir>/<ca>.pem" and "<dir>/<ca>.key".
 */
#ifndef RBGW_TEST_PKI_H
#define RBGW_TEST_PKI_H

#include <stdbool.h>

struct test_pki;

/** A new self-signed CA named ca (subject CN=ca), files in dir.  NULL on failure. */
struct test_pki *test_pki_new(const char *dir, const char *ca);
void test_pki_free(struct test_pki *p);

/**
 * Issue name.pem/name.key signed by the CA: subject CN=cn, subjectAltName san (OpenSSL syntax,
 * "DNS:localhost,IP:127.0.0.1", or NULL for none), valid from now + from_days to now + to_days
 * (negative: in the past), for client authentication if client, else for a server.  0 or -1.
 */
int test_pki_issue(struct test_pki *p, const char *name, const char *cn, const char *san,
                   long from_days, long to_days, bool client);

/** "<dir>/<file>" in static storage that lives until test_pki_free (one slot per call). */
const char *test_pki_path(struct test_pki *p, const char *file);

#endif
