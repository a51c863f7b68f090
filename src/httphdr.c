/*
 * httphdr.c: an http upstream's own request headers (see httphdr.h), checked and rendered once.
 *
 * The headers are fixed for the upstream's lifetime, so all the work happens at configuration
 * time: rbgw_httphdr_build() turns the options into one block of "NAME: VALUE\r\n" lines and
 * the translation appends that block to each request head (one memcpy per call).
 *
 * What is refused, and why:
 *  - a NAME that is not an RFC 9110 token (a space, ':' or a control byte would corrupt the
 *    head or be read differently by different servers);
 *  - a control byte in VALUE (CR and LF would end the header and start another, or end the
 *    head; NUL and the rest are refused by strict servers, llhttp among them); HTAB is allowed;
 *  - framing and hop-by-hop headers (Host, Content-Length, Transfer-Encoding, Connection,
 *    Keep-Alive, TE, Trailer, Upgrade, Expect, Proxy-Connection): a second Content-Length or a
 *    Transfer-Encoding would make the responder read the body differently than rbgw wrote it;
 *  - the headers rbgw always writes (Accept, Content-Type, User-Agent): sending two would leave
 *    the responder to pick one;
 *  - X-RemoteBackend-*: pdns's REST requests carry call parameters in them, and a configured
 *    one would change what the call says;
 *  - the same NAME twice.
 * No message quotes a VALUE: it may be a secret.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rbgw/httphdr.h"

static const char *const reserved[] = {
    "accept",     "connection", "content-length",    "content-type",
    "expect",     "host",       "keep-alive",        "proxy-connection",
    "te",         "trailer",    "transfer-encoding", "upgrade",
    "user-agent",
};

static bool
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool
is_blank(char c)
{
    return c == ' ' || c == '\t';
}

int
rbgw_httphdr_parse(const char *line, size_t len, struct rbgw_str *name, struct rbgw_str *value,
                   char *err, size_t errlen)
{
    const char *colon = memchr(line, ':', len);
    if (colon == NULL) {
        snprintf(err, errlen, "expected NAME: VALUE (no ':' found)");
        return RBGW_ECONFIG;
    }
    size_t nlen = (size_t)(colon - line);
    if (nlen == 0) {
        snprintf(err, errlen, "empty header name before ':'");
        return RBGW_ECONFIG;
    }
    for (size_t i = 0; i < nlen; i++) {
        unsigned char c = (unsigned char)line[i];
        if (!is_tchar(c)) {
            snprintf(err, errlen,
                     "header name '%.*s' holds byte 0x%02x (a name is letters, digits and "
                     "!#$%%&'*+-.^_`|~ only)",
                     (int)(nlen > 64 ? 64 : nlen), line, c);
            return RBGW_ECONFIG;
        }
    }
    const char *v = colon + 1, *end = line + len;
    while (v < end && is_blank(*v)) {
        v++;
    }
    while (end > v && is_blank(end[-1])) {
        end--;
    }
    for (const char *p = v; p < end; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\r' || c == '\n') {
            snprintf(err, errlen,
                     "header %.*s: the value holds CR or LF, which would split the request's "
                     "header block",
                     (int)(nlen > 64 ? 64 : nlen), line);
            return RBGW_ECONFIG;
        }
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            snprintf(err, errlen, "header %.*s: the value holds the control byte 0x%02x",
                     (int)(nlen > 64 ? 64 : nlen), line, c);
            return RBGW_ECONFIG;
        }
    }
    struct rbgw_str n = rbgw_str_make(line, nlen);
    for (size_t i = 0; i < RBGW_NELEM(reserved); i++) {
        if (rbgw_str_caseeq(n, rbgw_str_cstr(reserved[i]))) {
            snprintf(err, errlen,
                     "header %.*s cannot be set: rbgw writes it itself or it changes how the "
                     "request is framed",
                     (int)nlen, line);
            return RBGW_ECONFIG;
        }
    }
    static const char xrb[] = "x-remotebackend-";
    if (nlen >= sizeof(xrb) - 1 && strncasecmp(line, xrb, sizeof(xrb) - 1) == 0) {
        snprintf(err, errlen,
                 "header %.*s cannot be set: X-RemoteBackend-* headers carry the "
                 "call's parameters",
                 (int)(nlen > 64 ? 64 : nlen), line);
        return RBGW_ECONFIG;
    }
    *name = n;
    *value = rbgw_str_make(v, (size_t)(end - v));
    return 0;
}

/* What build() has collected so far. */
struct block {
    struct rbgw_buf text;              /* rendered lines */
    size_t name_off[RBGW_HTTPHDR_MAX]; /* where each header's name starts in text */
    size_t name_len[RBGW_HTTPHDR_MAX]; /* and its length (for the duplicate check) */
    size_t n;                          /* headers in text */
};

/* Check and append one header; where ("header-file=PATH: line N: ") prefixes errors. */
static int
add(struct block *b, const char *line, size_t len, const char *where, char *err, size_t errlen)
{
    struct rbgw_str name, value;
    char why[256];
    if (rbgw_httphdr_parse(line, len, &name, &value, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s%s", where, why);
        return RBGW_ECONFIG;
    }
    for (size_t i = 0; i < b->n; i++) {
        if (rbgw_str_caseeq(rbgw_str_make(b->text.data + b->name_off[i], b->name_len[i]), name)) {
            snprintf(err, errlen, "%sheader %.*s is given twice", where, (int)name.len, name.p);
            return RBGW_ECONFIG;
        }
    }
    if (b->n == RBGW_HTTPHDR_MAX) {
        snprintf(err, errlen, "%smore than %d headers", where, RBGW_HTTPHDR_MAX);
        return RBGW_ECONFIG;
    }
    /* Offsets, not views: text moves as it grows. */
    b->name_off[b->n] = b->text.len;
    b->name_len[b->n++] = name.len;
    rbgw_buf_append_str(&b->text, name);
    rbgw_buf_append(&b->text, ": ", 2);
    rbgw_buf_append_str(&b->text, value);
    rbgw_buf_append(&b->text, "\r\n", 2);
    return 0;
}

static int
read_file(const char *path, struct rbgw_buf *out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        snprintf(err, errlen, "header-file=%s: cannot open: %s", path, strerror(errno));
        return RBGW_ECONFIG;
    }
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > RBGW_HTTPHDR_MAX_FILE) {
            fclose(f);
            snprintf(err, errlen, "header-file=%s: larger than %d bytes", path,
                     RBGW_HTTPHDR_MAX_FILE);
            return RBGW_ECONFIG;
        }
        rbgw_buf_append(out, chunk, n);
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "header-file=%s: cannot read: %s", path, strerror(EIO));
        return RBGW_ECONFIG;
    }
    return 0;
}

static int
add_file(struct block *b, const char *path, char *err, size_t errlen)
{
    struct rbgw_buf text = RBGW_BUF_INIT;
    int rc = read_file(path, &text, err, errlen);
    if (rc != 0 || text.len == 0) {
        rbgw_buf_free(&text); /* nothing read: text.data may be NULL */
        return rc;
    }
    const char *p = text.data, *end = text.data + text.len;
    for (unsigned lineno = 1; rc == 0 && p < end; lineno++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *next = nl ? nl + 1 : end;
        if (le > p && le[-1] == '\r') {
            le--;
        }
        const char *s = p;
        while (s < le && is_blank(*s)) {
            s++;
        }
        if (s < le && *s != '#') {
            char where[300];
            snprintf(where, sizeof(where), "header-file=%s: line %u: ", path, lineno);
            rc = add(b, s, (size_t)(le - s), where, err, errlen);
        }
        p = next;
    }
    rbgw_buf_free(&text);
    return rc;
}

int
rbgw_httphdr_build(const struct rbgw_connstr *cs, struct rbgw_buf *out, char *err, size_t errlen)
{
    struct block b;
    memset(&b, 0, sizeof(b));
    int rc = 0;
    size_t nh = rbgw_connstr_count(cs, "header");
    for (size_t i = 0; rc == 0 && i < nh; i++) {
        const char *h = rbgw_connstr_get_nth(cs, "header", i);
        rc = add(&b, h, strlen(h), "", err, errlen);
    }
    size_t nf = rbgw_connstr_count(cs, "header-file");
    for (size_t i = 0; rc == 0 && i < nf; i++) {
        rc = add_file(&b, rbgw_connstr_get_nth(cs, "header-file", i), err, errlen);
    }
    if (rc == 0) {
        rbgw_buf_append(out, b.text.data, b.text.len);
    }
    rbgw_buf_free(&b.text);
    return rc;
}
