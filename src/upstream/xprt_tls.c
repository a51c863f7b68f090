/*
 * upstream/xprt_tls.c: TLS toward an https:// responder, on the libuv loop (see xprt.h, tls.h).
 *
 *   socket ──read──> slab ──BIO_write──> rbio ─┐
 *                                              SSL ──SSL_read──> plaintext slab ──> up->data
 *   socket <──write── out <──BIO_read─── wbio <┘ <──SSL_write── ops->send (plaintext bufs)
 *
 * OpenSSL never touches the socket: it reads ciphertext from a memory BIO that the read
 * callback fills and writes ciphertext into another that flush() drains to the socket, the
 * same uv_try_write-then-uv_write way the TCP layer writes.  So the handshake, session tickets
 * arriving on an idle connection, and alerts all happen inside libuv's callbacks without
 * blocking, and the protocol above sees nothing but plaintext.
 *
 * Per upstream (struct rbgw_tls_ctx, built once from the options): the SSL_CTX with the trust
 * store, the client certificate and the name to verify (X509_VERIFY_PARAM: a DNS name, or an
 * IP literal checked against the certificate's IP addresses), the SNI name (none for an IP
 * literal, RFC 6066), and the newest session the responder gave.  Per connection (struct
 * tls_layer): the SSL and its two BIOs, and the ciphertext being written.
 *
 * Session reuse on the keep-alive pool: the client session cache is external (a new-session
 * callback keeps the newest session per upstream), and every new connection of the pool
 * offers it, so after the first full handshake the pool's later connections resume (TLS 1.2
 * session ids or tickets, TLS 1.3 tickets).  A connection rbgw closes says close_notify first:
 * OpenSSL marks the session of a connection freed without it as not resumable.
 *
 * Failure classes: anything before the handshake completes (the server's certificate refused,
 * a protocol version or cipher mismatch, the server closing) is a connect failure; a TLS
 * error after it is a protocol failure, except before the first byte of application data,
 * where it is still the server refusing the connection (TLS 1.3 servers reject a missing client
 * certificate only after the client finished its side of the handshake).  The reason is
 * OpenSSL's, prefixed with what failed: "certificate verify failed: hostname mismatch".
 *
 * Nothing reads files while connections are made: the trust store is loaded whole at start
 * (the system's CA bundle file, or tls-ca=), never looked up in a hashed directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "rbgw/buf.h"
#include "rbgw/tls.h"
#include "upstream/xprt.h"

struct rbgw_tls_ctx {
    SSL_CTX *ctx;                /* owned: settings every connection of the upstream shares */
    SSL_SESSION *session;        /* owned: the newest session the responder gave, or NULL */
    char *sni;                   /* owned: server name sent as SNI; NULL for an IP literal */
    bool verify;                 /* the server's certificate is verified */
    struct rbgw_tls_stats stats; /* handshakes so far */
};

struct tls_layer {
    SSL *ssl;                /* owned */
    BIO *rbio;               /* owned by ssl: ciphertext read from the socket */
    BIO *wbio;               /* owned by ssl: ciphertext to write to the socket */
    struct rbgw_buf out;     /* ciphertext handed to the socket, kept until written */
    unsigned handshaken : 1; /* the handshake completed */
    unsigned got_data : 1;   /* application data arrived (a TLS error is no longer "connect") */
    unsigned fatal : 1;      /* a TLS error happened: no close_notify, OpenSSL dropped the
                                session */
};

static const char *const tls_options[] = {"tls-ca", "tls-cert", "tls-key", "tls-name",
                                          "tls-verify"};

bool
rbgw_tls_is_option(const char *key)
{
    for (size_t i = 0; i < RBGW_NELEM(tls_options); i++) {
        if (strcmp(key, tls_options[i]) == 0) {
            return true;
        }
    }
    return false;
}

/* OpenSSL's reason for the last error, and an empty error queue afterwards. */
static const char *
ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    if (r != NULL) {
        snprintf(buf, len, "%s", r);
    } else if (e != 0) {
        ERR_error_string_n(e, buf, len);
    } else {
        snprintf(buf, len, "unknown TLS error");
    }
    ERR_clear_error();
    return buf;
}

/* ---- the per-upstream context ---- */

/* Encrypted keys would make OpenSSL prompt on the terminal (stdin is pdns's pipe): refuse. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    RBGW_UNUSED(buf);
    RBGW_UNUSED(size);
    RBGW_UNUSED(rwflag);
    RBGW_UNUSED(u);
    return -1;
}

static int
on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    struct rbgw_tls_ctx *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (t->session != NULL) {
        SSL_SESSION_free(t->session);
    }
    t->session = sess;
    return 1; /* the reference is ours now */
}

/* A readable regular file, or a reason naming the option (errno's words, not OpenSSL's). */
static int
check_file(const char *opt, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "%s=%s: cannot read: %s", opt, path, strerror(errno));
        return RBGW_ECONFIG;
    }
    fclose(f);
    return 0;
}

static bool
is_ip_literal(const char *s)
{
    unsigned char a[16];
    return inet_pton(AF_INET, s, a) == 1 || inet_pton(AF_INET6, s, a) == 1;
}

static int
parse_verify(const struct rbgw_connstr *cs, bool *verify, char *err, size_t errlen)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};
    const char *v = rbgw_connstr_get(cs, "tls-verify");
    *verify = true;
    if (v == NULL) {
        return 0;
    }
    for (size_t i = 0; i < RBGW_NELEM(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *verify = false;
            return 0;
        }
    }
    /* A typo must not turn verification off. */
    snprintf(err, errlen, "tls-verify=%s is not yes or no", v);
    return RBGW_ECONFIG;
}

/*
 * Trust stores, shared.  Parsing a CA file is nearly all the cost of making a TLS context (the
 * system bundle, ~140 certificates: 20 ms; a context alone: 0.2 ms), and rbgw makes one per
 * https upstream at every start, --check-config and reload, on the loop: a reload with 20 https
 * upstreams held every call for 1.7 s.  So each file is parsed once into an X509_STORE that
 * every context trusting it shares (OpenSSL counts the references), and parsed again only when
 * the file changed (another inode, size, mtime or ctime): a rotated CA still takes effect at
 * the next reload.  The process keeps one reference per file it has trusted.
 */
struct trust {
    char *path;     /* as given (tls-ca=, or the system store's file) */
    struct stat st; /* the file when it was parsed */
    X509_STORE *store;
};

static struct trust *trusts;
static size_t ntrusts;

static bool
same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Make ctx trust the CAs of path: the shared store, parsed now if it is not held or the file
 * changed.  1, or 0 with OpenSSL's error queue (or errno) saying why. */
static int
trust_file(SSL_CTX *ctx, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        return 0;
    }
    size_t i = 0;
    while (i < ntrusts && strcmp(trusts[i].path, path) != 0) {
        i++;
    }
    if (i < ntrusts && !same_file(&trusts[i].st, &st)) {
        X509_STORE_free(trusts[i].store); /* contexts made with it keep their references */
        free(trusts[i].path);
        trusts[i] = trusts[--ntrusts];
        i = ntrusts;
    }
    if (i == ntrusts) {
        X509_STORE *store = X509_STORE_new();
        if (store == NULL || X509_STORE_load_file(store, path) != 1) {
            X509_STORE_free(store);
            return 0;
        }
        trusts = rbgw_xrealloc(trusts, (ntrusts + 1) * sizeof(*trusts));
        trusts[ntrusts++] = (struct trust){rbgw_xstrdup(path), st, store};
    }
    SSL_CTX_set1_cert_store(ctx, trusts[i].store);
    return 1;
}

static int
load_trust(struct rbgw_tls_ctx *t, const char *ca, char *err, size_t errlen)
{
    char why[256];
    if (ca != NULL) {
        if (check_file("tls-ca", ca, err, errlen) != 0) {
            return RBGW_ECONFIG;
        }
        if (trust_file(t->ctx, ca) != 1) {
            snprintf(err, errlen, "tls-ca=%s: no usable PEM certificate: %s", ca,
                     ssl_reason(why, sizeof(why)));
            return RBGW_ECONFIG;
        }
        return 0;
    }
    /* The system store as one file (honouring SSL_CERT_FILE), loaded now: a hashed directory
     * would be searched file by file during handshakes, on the loop. */
    const char *file = getenv(X509_get_default_cert_file_env());
    if (file == NULL || *file == '\0') {
        file = X509_get_default_cert_file();
    }
    FILE *f = fopen(file, "re");
    if (f == NULL) {
        snprintf(err, errlen,
                 "no tls-ca= given and the system CA store %s cannot be read: %s (install "
                 "ca-certificates or set tls-ca=)",
                 file, strerror(errno));
        return RBGW_ECONFIG;
    }
    fclose(f);
    if (trust_file(t->ctx, file) != 1) {
        snprintf(err, errlen, "no tls-ca= given and the system CA store %s cannot be loaded: %s",
                 file, ssl_reason(why, sizeof(why)));
        return RBGW_ECONFIG;
    }
    return 0;
}

static int
load_client_cert(struct rbgw_tls_ctx *t, const char *cert, const char *key, char *err,
                 size_t errlen)
{
    char why[256];
    if (cert == NULL) {
        if (key != NULL) {
            snprintf(err, errlen, "tls-key= needs tls-cert= (the certificate of that key)");
            return RBGW_ECONFIG;
        }
        return 0;
    }
    if (key == NULL) {
        key = cert;
    }
    if (check_file("tls-cert", cert, err, errlen) != 0 ||
        check_file("tls-key", key, err, errlen) != 0) {
        return RBGW_ECONFIG;
    }
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
        snprintf(err, errlen, "tls-cert=%s: no usable PEM certificate: %s", cert,
                 ssl_reason(why, sizeof(why)));
        return RBGW_ECONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
        snprintf(err, errlen,
                 "tls-key=%s: no usable PEM private key (encrypted keys are not supported): %s",
                 key, ssl_reason(why, sizeof(why)));
        return RBGW_ECONFIG;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        snprintf(err, errlen, "tls-key=%s does not belong to tls-cert=%s: %s", key, cert,
                 ssl_reason(why, sizeof(why)));
        return RBGW_ECONFIG;
    }
    return 0;
}

static int
set_name(struct rbgw_tls_ctx *t, const char *name, char *err, size_t errlen)
{
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(t->ctx);
    if (*name == '\0') {
        snprintf(err, errlen, "tls-name= is empty");
        return RBGW_ECONFIG;
    }
    if (is_ip_literal(name)) {
        /* RFC 6066: no SNI for an address; the certificate must list it as an IP SAN. */
        if (X509_VERIFY_PARAM_set1_ip_asc(param, name) != 1) {
            snprintf(err, errlen, "cannot verify the address %s", name);
            return RBGW_ECONFIG;
        }
        return 0;
    }
    for (const char *p = name; *p != '\0'; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.' || *p == '_')) {
            snprintf(err, errlen, "tls-name=%s is not a host name", name);
            return RBGW_ECONFIG;
        }
    }
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (X509_VERIFY_PARAM_set1_host(param, name, 0) != 1) {
        snprintf(err, errlen, "cannot verify the name %s", name);
        return RBGW_ECONFIG;
    }
    t->sni = rbgw_xstrdup(name);
    return 0;
}

int
rbgw_tls_ctx_new(const struct rbgw_connstr *cs, const char *host, struct rbgw_tls_ctx **out,
                 char *err, size_t errlen)
{
    char why[256];
    *out = NULL;
    struct rbgw_tls_ctx *t = rbgw_xcalloc(1, sizeof(*t));
    const char *name = rbgw_connstr_get(cs, "tls-name");
    int rc = parse_verify(cs, &t->verify, err, errlen);
    if (rc != 0) {
        goto fail;
    }
    ERR_clear_error();
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        snprintf(err, errlen, "cannot create a TLS context: %s", ssl_reason(why, sizeof(why)));
        rc = RBGW_ECONFIG;
        goto fail;
    }
    SSL_CTX_set_app_data(t->ctx, t);
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(t->ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_default_passwd_cb(t->ctx, no_passphrase);
    SSL_CTX_set_verify(t->ctx, t->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(t->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, on_new_session);
    if ((t->verify && (rc = load_trust(t, rbgw_connstr_get(cs, "tls-ca"), err, errlen)) != 0) ||
        (rc = load_client_cert(t, rbgw_connstr_get(cs, "tls-cert"), rbgw_connstr_get(cs, "tls-key"),
                               err, errlen)) != 0 ||
        (rc = set_name(t, name ? name : host, err, errlen)) != 0) {
        goto fail;
    }
    *out = t;
    return 0;
fail:
    rbgw_tls_ctx_free(t);
    return rc;
}

void
rbgw_tls_ctx_free(struct rbgw_tls_ctx *t)
{
    if (t == NULL) {
        return;
    }
    if (t->session != NULL) {
        SSL_SESSION_free(t->session);
    }
    SSL_CTX_free(t->ctx);
    free(t->sni);
    free(t);
}

bool
rbgw_tls_ctx_verifies(const struct rbgw_tls_ctx *t)
{
    return t->verify;
}

const struct rbgw_tls_stats *
rbgw_tls_ctx_stats(const struct rbgw_tls_ctx *t)
{
    return &t->stats;
}

/* ---- the per-connection layer ---- */

static void on_write(uv_write_t *w, int status);

/* Hand what OpenSSL wrote to the socket.  0 or <0 (UV_E*) as rbgw__xprt_write. */
static int
flush(struct rbgw_xprt *x, struct tls_layer *l)
{
    if (x->writing) {
        return 0; /* on_write flushes the rest, in order, once the socket took the last part */
    }
    size_t pending = BIO_ctrl_pending(l->wbio);
    if (pending == 0) {
        return 0;
    }
    rbgw_buf_reset(&l->out);
    char *dst = rbgw_buf_reserve(&l->out, pending);
    int n = BIO_read(l->wbio, dst, (int)pending);
    if (n <= 0) {
        return 0;
    }
    l->out.len = (size_t)n;
    uv_buf_t b = uv_buf_init(l->out.data, (unsigned)n);
    return rbgw__xprt_write(x, &b, 1, on_write);
}

static void
on_write(uv_write_t *w, int status)
{
    struct rbgw_xprt *x = w->data;
    x->writing = 0;
    if (x->shut) {
        return;
    }
    int rc = status < 0 ? status : flush(x, x->layer);
    if (rc < 0) {
        x->up->write_failed(x, rc);
    }
}

/* What went wrong in a failed SSL call, in words. */
static void
explain(const struct rbgw_xprt *x, struct tls_layer *l, int ret, char *why, size_t len)
{
    const struct rbgw_tls_ctx *t = x->conf;
    long vr = SSL_get_verify_result(l->ssl);
    int e = SSL_get_error(l->ssl, ret);
    char reason[200];
    if (t->verify && vr != X509_V_OK) {
        snprintf(why, len, "certificate verify failed: %s", X509_verify_cert_error_string(vr));
        ERR_clear_error();
    } else if (e == SSL_ERROR_SSL) {
        snprintf(why, len, "%s", ssl_reason(reason, sizeof(reason)));
    } else if (e == SSL_ERROR_ZERO_RETURN) {
        snprintf(why, len, "the server closed the TLS session");
    } else {
        snprintf(why, len, "%s", ssl_reason(reason, sizeof(reason)));
    }
}

static void
fail(struct rbgw_xprt *x, struct tls_layer *l, int status, const char *what, const char *why)
{
    char text[320];
    l->fatal = 1;
    /* Send the alert OpenSSL queued, if the socket takes it now; nothing waits for it. */
    flush(x, l);
    snprintf(text, sizeof(text), "%s: %s", what, why);
    x->up->fail(x, status, text);
}

/* Decrypt what the read BIO holds and hand it up, until OpenSSL needs more bytes. */
static void
drain(struct rbgw_xprt *x, struct tls_layer *l)
{
    static char plain[32768]; /* one per process, as the read slab: see rbgw__xprt_alloc */
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(l->ssl, plain, sizeof(plain));
        if (n > 0) {
            l->got_data = 1;
            x->up->data(x, plain, (size_t)n);
            if (x->shut) {
                return;
            }
            continue;
        }
        int e = SSL_get_error(l->ssl, n);
        if (e == SSL_ERROR_WANT_READ) {
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            x->up->eof(x, UV_EOF);
            return;
        }
        char why[256];
        explain(x, l, n, why, sizeof(why));
        fail(x, l, l->got_data ? RBGW_EPROTO : RBGW_ECONNECT, "TLS", why);
        return;
    }
    /* Reading may have produced records to send (a key update's answer). */
    int rc = flush(x, l);
    if (rc < 0) {
        x->up->write_failed(x, rc);
    }
}

/* One step of the handshake with what has arrived; ready or fail when it ends. */
static void
handshake(struct rbgw_xprt *x, struct tls_layer *l)
{
    struct rbgw_tls_ctx *t = x->conf;
    ERR_clear_error();
    int r = SSL_do_handshake(l->ssl);
    if (r != 1 && SSL_get_error(l->ssl, r) != SSL_ERROR_WANT_READ) {
        char why[256];
        explain(x, l, r, why, sizeof(why));
        t->stats.failed++;
        fail(x, l, RBGW_ECONNECT, "TLS handshake failed", why);
        return;
    }
    int rc = flush(x, l);
    if (rc < 0) {
        char why[128];
        snprintf(why, sizeof(why), "%s", uv_strerror(rc));
        t->stats.failed++;
        fail(x, l, RBGW_ECONNECT, "sending the TLS handshake failed", why);
        return;
    }
    if (r == 1) {
        l->handshaken = 1;
        if (SSL_session_reused(l->ssl)) {
            t->stats.resumed++;
        } else {
            t->stats.full++;
        }
        x->up->ready(x);
    }
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    struct rbgw_xprt *x = s->data;
    struct tls_layer *l = x->layer;
    if (nread == 0 || x->shut) {
        return;
    }
    if (nread < 0) {
        if (!l->handshaken) {
            ((struct rbgw_tls_ctx *)x->conf)->stats.failed++;
            l->fatal = 1;
            char why[160];
            snprintf(why, sizeof(why), "the server closed the connection (%s)",
                     uv_err_name((int)nread));
            x->up->fail(x, RBGW_ECONNECT, why);
            return;
        }
        x->up->eof(x, (int)nread);
        return;
    }
    if (BIO_write(l->rbio, buf->base, (int)nread) != (int)nread) {
        l->fatal = 1;
        x->up->fail(x, RBGW_ELOCAL, "TLS: out of memory for the received bytes");
        return;
    }
    if (!l->handshaken) {
        handshake(x, l);
        if (x->shut || !l->handshaken) {
            return;
        }
    }
    drain(x, l);
}

static int
tls_start(struct rbgw_xprt *x)
{
    struct rbgw_tls_ctx *t = x->conf;
    struct tls_layer *l = rbgw_xcalloc(1, sizeof(*l));
    x->layer = l;
    ERR_clear_error();
    l->ssl = SSL_new(t->ctx);
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    if (l->ssl == NULL || rbio == NULL || wbio == NULL) {
        BIO_free(rbio);
        BIO_free(wbio);
        ERR_clear_error();
        return RBGW_ELOCAL;
    }
    /* An empty read BIO means "wait for more", not end of input. */
    BIO_set_mem_eof_return(rbio, -1);
    SSL_set_bio(l->ssl, rbio, wbio);
    l->rbio = rbio;
    l->wbio = wbio;
    SSL_set_connect_state(l->ssl);
    if (t->sni != NULL && SSL_set_tlsext_host_name(l->ssl, t->sni) != 1) {
        ERR_clear_error();
        return RBGW_ELOCAL;
    }
    if (t->session != NULL && SSL_SESSION_is_resumable(t->session)) {
        SSL_set_session(l->ssl, t->session);
    }
    x->stream->data = x;
    int rc = uv_read_start(x->stream, rbgw__xprt_alloc, on_read);
    if (rc < 0) {
        return rc;
    }
    handshake(x, l); /* writes the ClientHello */
    return 0;
}

static int
tls_send(struct rbgw_xprt *x, const uv_buf_t *bufs, unsigned nbufs)
{
    struct tls_layer *l = x->layer;
    if (l == NULL || !l->handshaken || l->fatal) {
        return UV_ENOTCONN;
    }
    for (unsigned i = 0; i < nbufs; i++) {
        size_t written;
        ERR_clear_error();
        if (bufs[i].len > 0 && SSL_write_ex(l->ssl, bufs[i].base, bufs[i].len, &written) != 1) {
            /* A memory BIO takes everything; this is OpenSSL refusing (out of memory). */
            ERR_clear_error();
            l->fatal = 1;
            return RBGW_ELOCAL;
        }
    }
    return flush(x, l);
}

static void
tls_shutdown(struct rbgw_xprt *x)
{
    struct tls_layer *l = x->layer;
    if (x->shut) {
        return;
    }
    x->shut = 1;
    if (l == NULL || !l->handshaken || l->fatal) {
        return;
    }
    /* close_notify: the responder learns the close was deliberate, and the session stays
     * resumable.  Only what the socket takes now goes out; the socket closes next. */
    ERR_clear_error();
    SSL_shutdown(l->ssl);
    ERR_clear_error();
    if (!x->writing) {
        char tail[256];
        int n = BIO_read(l->wbio, tail, sizeof(tail));
        if (n > 0) {
            uv_buf_t b = uv_buf_init(tail, (unsigned)n);
            int rc = uv_try_write(x->stream, &b, 1);
            RBGW_UNUSED(rc);
        }
    }
}

static void
tls_free(struct rbgw_xprt *x)
{
    struct tls_layer *l = x->layer;
    if (l == NULL) {
        return;
    }
    SSL_free(l->ssl);
    rbgw_buf_free(&l->out);
    free(l);
    x->layer = NULL;
}

static void
tls_describe(const struct rbgw_xprt *x, char *buf, size_t len)
{
    const struct tls_layer *l = x->layer;
    if (l == NULL || !l->handshaken) {
        snprintf(buf, len, "TLS, no session");
        return;
    }
    snprintf(buf, len, "%s %s, %s", SSL_get_version(l->ssl),
             SSL_CIPHER_get_name(SSL_get_current_cipher(l->ssl)),
             SSL_session_reused(l->ssl) ? "session resumed" : "new session");
}

const struct rbgw_xprt_ops rbgw__xprt_tls_ops = {
    .name = "tls",
    .start = tls_start,
    .send = tls_send,
    .shutdown = tls_shutdown,
    .free = tls_free,
    .describe = tls_describe,
};
