/*
 * fake_https.c: TLS HTTP/1.1 responder for the https tests (see fake_https.h).
 *
 *   accept thread ──accept──> conn thread: SSL_accept, then request/response until EOF
 *   test thread <──wait_* (condvar)── handshakes[], requests[] <──recorded── conn threads
 *
 * Each connection has its own thread and blocking socket; stop() wakes the accept thread
 * through a pipe and unblocks every connection thread by shutting its socket down, then joins
 * them all.  Records are allocated once and never changed, so the pointers the test gets stay
 * valid until stop.  The server's session cache and tickets are OpenSSL's defaults (with a
 * session id context, which resumption needs when client certificates are requested), so a
 * client that offers a session it got earlier resumes.
 */
#include "fake_https.h"
#include "netio.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define MAX_CONNS 256

struct conn {
    struct fake_https *s; /* borrowed owner */
    int fd;               /* the accepted socket; shut down by stop */
    pthread_t thread;     /* runs serve() */
};

struct fake_https {
    SSL_CTX *ctx;                    /* owned: server settings */
    int lfd;                         /* listening socket */
    uint16_t port;                   /* its port */
    int wake[2];                     /* self-pipe: a byte stops the accept thread */
    pthread_t thread;                /* the accept loop */
    bool close_after;                /* Connection: close after every response */
    char *body;                      /* owned: the response body */
    pthread_mutex_t mu;              /* guards everything below */
    pthread_cond_t cv;               /* broadcast on every record */
    struct conn *conns[MAX_CONNS];   /* owned: every accepted connection */
    size_t nconns;                   /* entries in conns */
    struct fake_https_handshake *hs; /* owned array: finished handshakes, in order */
    size_t nhs;                      /* entries in hs */
    char **reqs;                     /* owned array of owned strings: requests */
    size_t nreqs;                    /* entries in reqs */
};

static char *
xstrdup(const char *s)
{
    char *d = strdup(s ? s : "");
    if (d == NULL) {
        abort();
    }
    return d;
}

static void
grow(void **arr, size_t n, size_t size)
{
    void *p = realloc(*arr, (n + 1) * size);
    if (p == NULL) {
        abort();
    }
    *arr = p;
}

static void
record_handshake(struct fake_https *s, SSL *ssl, bool ok)
{
    struct fake_https_handshake h = {.ok = ok};
    char cn[256] = "";
    if (ok) {
        h.resumed = SSL_session_reused(ssl);
        X509 *peer = SSL_get1_peer_certificate(ssl);
        if (peer != NULL) {
            X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, cn, sizeof(cn));
            X509_free(peer);
        }
    }
    unsigned long e = ERR_peek_last_error();
    h.error = xstrdup(ok ? "" : (e ? ERR_reason_error_string(e) : "closed"));
    ERR_clear_error();
    h.sni = xstrdup(SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name));
    h.client_cn = xstrdup(cn);
    pthread_mutex_lock(&s->mu);
    grow((void **)&s->hs, s->nhs, sizeof(*s->hs));
    s->hs[s->nhs++] = h;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Read one request (head, and a Content-Length body) into *buf; false at EOF or error. */
static bool
read_request(SSL *ssl, char **buf, size_t *len, size_t *cap, size_t *used)
{
    for (;;) {
        const char *end = rbgw_test_head_end(*buf, *len);
        if (end != NULL) {
            size_t head = (size_t)(end - *buf) + 4;
            size_t body = 0;
            const char *cl = strcasestr(*buf, "\r\ncontent-length:");
            if (cl != NULL && cl < end) {
                body = strtoul(cl + 17, NULL, 10);
            }
            if (*len >= head + body) {
                *used = head + body;
                return true;
            }
        }
        if (*cap - *len < 4096) {
            *cap = *cap ? *cap * 2 : 8192;
            *buf = realloc(*buf, *cap);
            if (*buf == NULL) {
                abort();
            }
        }
        int n = SSL_read(ssl, *buf + *len, (int)(*cap - *len - 1));
        if (n <= 0) {
            return false;
        }
        *len += (size_t)n;
        (*buf)[*len] = '\0';
    }
}

static void *
serve(void *arg)
{
    struct conn *c = arg;
    struct fake_https *s = c->s;
    SSL *ssl = SSL_new(s->ctx);
    if (ssl == NULL) {
        return NULL;
    }
    SSL_set_fd(ssl, c->fd);
    if (SSL_accept(ssl) != 1) {
        record_handshake(s, ssl, false);
        SSL_free(ssl);
        return NULL;
    }
    record_handshake(s, ssl, true);
    char *buf = NULL;
    size_t len = 0, cap = 0, used = 0;
    while (read_request(ssl, &buf, &len, &cap, &used)) {
        pthread_mutex_lock(&s->mu);
        grow((void **)&s->reqs, s->nreqs, sizeof(*s->reqs));
        s->reqs[s->nreqs] = malloc(used + 1);
        if (s->reqs[s->nreqs] == NULL) {
            abort();
        }
        memcpy(s->reqs[s->nreqs], buf, used);
        s->reqs[s->nreqs][used] = '\0';
        s->nreqs++;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        memmove(buf, buf + used, len - used);
        len -= used;
        char resp[4096];
        int n = snprintf(resp, sizeof(resp),
                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: %zu\r\n%s\r\n%s",
                         strlen(s->body), s->close_after ? "Connection: close\r\n" : "", s->body);
        if (SSL_write(ssl, resp, n) != n) {
            break;
        }
        if (s->close_after) {
            SSL_shutdown(ssl);
            break;
        }
    }
    free(buf);
    SSL_free(ssl);
    shutdown(c->fd, SHUT_RDWR);
    return NULL;
}

static void *
accept_loop(void *arg)
{
    struct fake_https *s = arg;
    for (;;) {
        struct pollfd p[2] = {{s->wake[0], POLLIN, 0}, {s->lfd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return NULL;
        }
        if (p[0].revents) {
            return NULL;
        }
        int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            continue;
        }
        struct conn *c = calloc(1, sizeof(*c));
        if (c == NULL) {
            abort();
        }
        c->s = s;
        c->fd = fd;
        pthread_mutex_lock(&s->mu);
        bool room = s->nconns < MAX_CONNS;
        if (room) {
            s->conns[s->nconns++] = c;
        }
        pthread_mutex_unlock(&s->mu);
        if (!room || pthread_create(&c->thread, NULL, serve, c) != 0) {
            close(fd);
            c->fd = -1;
            if (!room) {
                free(c);
            }
        }
    }
}

struct fake_https *
fake_https_start(const struct fake_https_opts *o)
{
    struct fake_https *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    pthread_mutex_init(&s->mu, NULL);
    rbgw_test_cond_init(&s->cv);
    s->close_after = o->close_after;
    s->body = xstrdup(o->body ? o->body : "{\"result\":true}");
    s->ctx = SSL_CTX_new(TLS_server_method());
    if (s->ctx == NULL || SSL_CTX_use_certificate_chain_file(s->ctx, o->cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(s->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
        goto fail;
    }
    static const unsigned char sid_ctx[] = "rbgw-test";
    SSL_CTX_set_session_id_context(s->ctx, sid_ctx, sizeof(sid_ctx) - 1);
    if (o->max_version != 0) {
        SSL_CTX_set_max_proto_version(s->ctx, o->max_version);
    }
    if (o->client_ca != NULL) {
        if (SSL_CTX_load_verify_file(s->ctx, o->client_ca) != 1) {
            goto fail;
        }
        SSL_CTX_set_verify(s->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    if (pipe2(s->wake, O_CLOEXEC) != 0) {
        goto fail;
    }
    s->lfd = rbgw_test_tcp_bind(&s->port);
    if (s->lfd < 0 || listen(s->lfd, 64) != 0) {
        goto fail;
    }
    if (pthread_create(&s->thread, NULL, accept_loop, s) != 0) {
        goto fail;
    }
    return s;
fail:
    ERR_clear_error();
    if (s->lfd >= 0) {
        close(s->lfd);
    }
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    SSL_CTX_free(s->ctx);
    free(s->body);
    free(s);
    return NULL;
}

void
fake_https_stop(struct fake_https *s)
{
    if (s == NULL) {
        return;
    }
    char b = 1;
    ssize_t w = write(s->wake[1], &b, 1);
    (void)w;
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nconns; i++) {
        struct conn *c = s->conns[i];
        if (c->fd >= 0) {
            shutdown(c->fd, SHUT_RDWR);
            pthread_join(c->thread, NULL);
            close(c->fd);
        }
        free(c);
    }
    for (size_t i = 0; i < s->nhs; i++) {
        free(s->hs[i].sni);
        free(s->hs[i].client_cn);
        free(s->hs[i].error);
    }
    free(s->hs);
    for (size_t i = 0; i < s->nreqs; i++) {
        free(s->reqs[i]);
    }
    free(s->reqs);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    SSL_CTX_free(s->ctx);
    free(s->body);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

uint16_t
fake_https_port(const struct fake_https *s)
{
    return s->port;
}

size_t
fake_https_nhandshakes(struct fake_https *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nhs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

bool
fake_https_handshake(struct fake_https *s, size_t i, struct fake_https_handshake *out)
{
    pthread_mutex_lock(&s->mu);
    bool ok = i < s->nhs;
    if (ok) {
        *out = s->hs[i];
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

void
fake_https_counts(struct fake_https *s, unsigned *full, unsigned *resumed, unsigned *failed)
{
    *full = *resumed = *failed = 0;
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nhs; i++) {
        if (!s->hs[i].ok) {
            (*failed)++;
        } else if (s->hs[i].resumed) {
            (*resumed)++;
        } else {
            (*full)++;
        }
    }
    pthread_mutex_unlock(&s->mu);
}

size_t
fake_https_nrequests(struct fake_https *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nreqs;
    pthread_mutex_unlock(&s->mu);
    return n;
}

const char *
fake_https_request(struct fake_https *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    const char *r = i < s->nreqs ? s->reqs[i] : NULL;
    pthread_mutex_unlock(&s->mu);
    return r;
}

static bool
wait_for(struct fake_https *s, const size_t *field, size_t n, int timeout_ms)
{
    struct timespec ts;
    rbgw_test_deadline(&ts, timeout_ms);
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    while (*field < n && rc == 0) {
        rc = pthread_cond_timedwait(&s->cv, &s->mu, &ts);
    }
    bool ok = *field >= n;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool
fake_https_wait_requests(struct fake_https *s, size_t n, int timeout_ms)
{
    return wait_for(s, &s->nreqs, n, timeout_ms);
}

bool
fake_https_wait_handshakes(struct fake_https *s, size_t n, int timeout_ms)
{
    return wait_for(s, &s->nhs, n, timeout_ms);
}
