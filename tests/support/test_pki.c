/*
 * test_pki.c: see test_pki.h.
 *
 * The OpenSSL API instead of the openssl command: no shell, no configuration file, and the
 * validity window of a certificate is two X509_gmtime_adj calls, so an expired certificate is
 * really expired without faking the clock.  Extensions are the ones a verifier looks at: CA
 * basicConstraints and keyUsage on the CA, subjectAltName and extendedKeyUsage on the leaves,
 * subject/authority key identifiers so chains are built the usual way.
 */
#include "test_pki.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define NPATHS 64

struct test_pki {
    char *dir;           /* owned: where files go */
    EVP_PKEY *ca_key;    /* owned */
    X509 *ca_cert;       /* owned */
    long serial;         /* next serial number */
    char *paths[NPATHS]; /* owned: strings handed out by test_pki_path */
    int npaths;          /* used slots */
};

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL) {
        return -1;
    }
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int
write_pem(const char *dir, const char *name, const char *ext, X509 *cert, EVP_PKEY *key)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s.%s", dir, name, ext);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        return -1;
    }
    int ok =
        cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* An unsigned certificate for key with subject CN=cn, valid [now+from_days, now+to_days]; the
 * caller sets the issuer, adds extensions and signs. */
static X509 *
new_cert(struct test_pki *p, EVP_PKEY *key, const char *cn, long from_days, long to_days)
{
    X509 *x = X509_new();
    if (x == NULL) {
        return NULL;
    }
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), p->serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_set_pubkey(x, key);
    X509_NAME *n = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    return x;
}

struct test_pki *
test_pki_new(const char *dir, const char *ca)
{
    struct test_pki *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        return NULL;
    }
    p->dir = strdup(dir);
    p->serial = 1000;
    p->ca_key = EVP_EC_gen("P-256");
    if (p->dir == NULL || p->ca_key == NULL) {
        goto fail;
    }
    p->ca_cert = new_cert(p, p->ca_key, ca, -1, 3650);
    if (p->ca_cert == NULL) {
        goto fail;
    }
    X509_set_issuer_name(p->ca_cert, X509_get_subject_name(p->ca_cert));
    if (add_ext(p->ca_cert, p->ca_cert, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
        add_ext(p->ca_cert, p->ca_cert, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
        add_ext(p->ca_cert, p->ca_cert, NID_subject_key_identifier, "hash") != 0 ||
        X509_sign(p->ca_cert, p->ca_key, EVP_sha256()) == 0 ||
        write_pem(dir, ca, "pem", p->ca_cert, NULL) != 0 ||
        write_pem(dir, ca, "key", NULL, p->ca_key) != 0) {
        goto fail;
    }
    return p;
fail:
    test_pki_free(p);
    return NULL;
}

int
test_pki_issue(struct test_pki *p, const char *name, const char *cn, const char *san,
               long from_days, long to_days, bool client)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = key ? new_cert(p, key, cn, from_days, to_days) : NULL;
    int rc = -1;
    if (x == NULL) {
        goto out;
    }
    X509_set_issuer_name(x, X509_get_subject_name(p->ca_cert));
    if (add_ext(x, p->ca_cert, NID_basic_constraints, "CA:FALSE") != 0 ||
        add_ext(x, p->ca_cert, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(x, p->ca_cert, NID_ext_key_usage, client ? "clientAuth" : "serverAuth") != 0 ||
        add_ext(x, p->ca_cert, NID_subject_key_identifier, "hash") != 0 ||
        add_ext(x, p->ca_cert, NID_authority_key_identifier, "keyid:always") != 0 ||
        (san != NULL && add_ext(x, p->ca_cert, NID_subject_alt_name, san) != 0) ||
        X509_sign(x, p->ca_key, EVP_sha256()) == 0 ||
        write_pem(p->dir, name, "pem", x, NULL) != 0 ||
        write_pem(p->dir, name, "key", NULL, key) != 0) {
        goto out;
    }
    rc = 0;
out:
    X509_free(x);
    EVP_PKEY_free(key);
    return rc;
}

const char *
test_pki_path(struct test_pki *p, const char *file)
{
    if (p->npaths == NPATHS) {
        return NULL;
    }
    char *s = NULL;
    if (asprintf(&s, "%s/%s", p->dir, file) < 0) {
        return NULL;
    }
    p->paths[p->npaths++] = s;
    return s;
}

void
test_pki_free(struct test_pki *p)
{
    if (p == NULL) {
        return;
    }
    for (int i = 0; i < p->npaths; i++) {
        free(p->paths[i]);
    }
    X509_free(p->ca_cert);
    EVP_PKEY_free(p->ca_key);
    free(p->dir);
    free(p);
}
