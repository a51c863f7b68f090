/*
 * tls.h: the client TLS settings of an https:// upstream (implemented in upstream/xprt_tls.c).
 *
 * One context per upstream, built when the configuration is read, holds everything that is
 * the same for all its connections: the trust store (the system's, or tls-ca=), the optional
 * client certificate (tls-cert=, tls-key=), the name the server's certificate must carry and
 * that goes out as SNI (the URL's host, or tls-name=), and the newest session the responder
 * handed out, which the next connection of the keep-alive pool offers for resumption.
 *
 * Options (connection string of an http upstream whose url= is https://):
 *   tls-ca=FILE        PEM bundle of the CAs to trust instead of the system's store
 *   tls-cert=FILE      PEM client certificate (chain), sent when the server asks for one
 *   tls-key=FILE       its unencrypted PEM private key (default: read from tls-cert's file)
 *   tls-name=NAME      the name to verify and send as SNI instead of the URL's host
 *   tls-verify=no      do not verify the server's certificate (tests only; rbgw warns)
 * Files are read once, here; nothing is read while connections are made.
 */
#ifndef RBGW_TLS_H
#define RBGW_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/common.h"
#include "rbgw/connstr.h"

struct rbgw_tls_ctx;

/** Counters of one context (for logs and tests). */
struct rbgw_tls_stats {
    uint64_t full;    /* handshakes that completed with a new session */
    uint64_t resumed; /* handshakes that resumed the cached session */
    uint64_t failed;  /* handshakes that failed (verification included) */
};

/**
 * Build the TLS context for an upstream whose URL host is host (a name or an IP literal, no
 * brackets) from the tls-* options of cs.  Returns 0 and *out, or RBGW_ECONFIG with a reason
 * naming the option and file ("tls-ca=/etc/x.pem: cannot read: No such file or directory").
 */
int rbgw_tls_ctx_new(const struct rbgw_connstr *cs, const char *host, struct rbgw_tls_ctx **out,
                     char *err, size_t errlen) RBGW_MUSTCHECK;
void rbgw_tls_ctx_free(struct rbgw_tls_ctx *t);

/** True if the server's certificate is verified (tls-verify is not "no"). */
bool rbgw_tls_ctx_verifies(const struct rbgw_tls_ctx *t);
/** Handshake counters (live: they go on counting; for metrics). */
const struct rbgw_tls_stats *rbgw_tls_ctx_stats(const struct rbgw_tls_ctx *t);

/** True if key is one of the tls-* options above. */
bool rbgw_tls_is_option(const char *key);

#endif
