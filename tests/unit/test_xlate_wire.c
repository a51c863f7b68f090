/*
 * test_xlate_wire.c: rbgw_xlate_rpc_to_http checked byte for byte against real pdns 4.7.3 traffic.
 *
 * tests/fixtures/pdns-wire/<case>/ holds, for one call pdns made, the JSON-RPC request it sent on
 * a post_json connection (call.json) and the exact request bytes its http connector wrote in
 * REST, post and post_json mode (rest.http, post.http, post_json.http), captured by
 * scripts/capture/run_captures.py (see docs/wire-captures.md).  meta.txt names the url path,
 * url-suffix and Host the captures were made with.
 *
 * Each test walks every fixture directory, so a new capture is covered without touching this
 * file.  A translation that differs is reported with both texts (CR and LF made visible) and
 * the first differing offset; the test then fails once, after all cases were tried, so one run
 * lists every mismatch.  The fixtures are real pdns output, so they are also used to check the
 * JSON writer against json11 (parse + write must give call.json back).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/xlate.h"

#define FIXTURE_DIR RBGW_SOURCE_DIR "/tests/fixtures/pdns-wire"
#define MAX_CASES 512
/* The capture run writes ~60 cases; fewer than this means the fixtures went missing. */
#define MIN_CASES 40

struct wire_case {
    char name[256];     /* fixture directory name */
    char *call;         /* call.json bytes (owned) */
    size_t call_len;    /* length of call */
    char *http[3];      /* rest.http, post.http, post_json.http (owned), by rbgw_http_mode */
    size_t http_len[3]; /* their lengths */
    char path[256];     /* meta.txt "path:" */
    char suffix[64];    /* meta.txt "url-suffix:" */
    char host[64];      /* meta.txt "host:" */
};

static const char *const mode_file[3] = {
    [RBGW_HTTP_REST] = "rest.http",
    [RBGW_HTTP_POST] = "post.http",
    [RBGW_HTTP_POST_JSON] = "post_json.http",
};

static struct wire_case cases[MAX_CASES];
static size_t ncases;

static char *
slurp(const char *dir, const char *file, size_t *len)
{
    char p[2048];
    snprintf(p, sizeof(p), "%s/%s", dir, file);
    FILE *f = fopen(p, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct rbgw_buf b = RBGW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rbgw_buf_append(&b, chunk, n);
    }
    fclose(f);
    *len = b.len;
    if (b.data == NULL) {
        return rbgw_xcalloc(1, 1);
    }
    return b.data;
}

/* Copy the value of "key: value" from meta.txt into out ("" when absent). */
static void
meta_get(const char *meta, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    out[0] = '\0';
    for (const char *l = meta; l != NULL && *l != '\0';) {
        const char *nl = strchr(l, '\n');
        size_t len = nl ? (size_t)(nl - l) : strlen(l);
        if (len > klen + 1 && strncmp(l, key, klen) == 0 && l[klen] == ':') {
            const char *v = l + klen + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vlen = len - (size_t)(v - l);
            if (vlen >= outlen) {
                vlen = outlen - 1;
            }
            memcpy(out, v, vlen);
            out[vlen] = '\0';
            return;
        }
        l = nl ? nl + 1 : NULL;
    }
}

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const struct wire_case *)a)->name, ((const struct wire_case *)b)->name);
}

/* Load every fixture directory; fails the test when one is incomplete. */
static void
load_cases(void)
{
    DIR *d = opendir(FIXTURE_DIR);
    cr_assert_not_null(d, "cannot open %s", FIXTURE_DIR);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char dir[1024];
        struct stat st;
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(dir, sizeof(dir), "%s/%s", FIXTURE_DIR, e->d_name);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            continue;
        }
        cr_assert_lt(ncases, MAX_CASES, "too many fixture directories");
        struct wire_case *c = &cases[ncases++];
        snprintf(c->name, sizeof(c->name), "%s", e->d_name);
        c->call = slurp(dir, "call.json", &c->call_len);
        cr_assert_not_null(c->call, "%s: no call.json", c->name);
        for (int m = 0; m < 3; m++) {
            c->http[m] = slurp(dir, mode_file[m], &c->http_len[m]);
            cr_assert_not_null(c->http[m], "%s: no %s", c->name, mode_file[m]);
        }
        size_t mlen;
        char *meta = slurp(dir, "meta.txt", &mlen);
        cr_assert_not_null(meta, "%s: no meta.txt", c->name);
        meta_get(meta, "path", c->path, sizeof(c->path));
        meta_get(meta, "url-suffix", c->suffix, sizeof(c->suffix));
        meta_get(meta, "host", c->host, sizeof(c->host));
        free(meta);
        cr_assert_neq(c->host[0], '\0', "%s: meta.txt has no host", c->name);
    }
    closedir(d);
    qsort(cases, ncases, sizeof(cases[0]), by_name);
}

static void
free_cases(void)
{
    for (size_t i = 0; i < ncases; i++) {
        free(cases[i].call);
        for (int m = 0; m < 3; m++) {
            free(cases[i].http[m]);
        }
    }
    ncases = 0;
}

TestSuite(xlate_wire, .init = load_cases, .fini = free_cases, .timeout = 30);

/* Print s[0..len) with CR/LF/TAB and non-printable bytes escaped, one line per LF. */
static void
dump(const char *label, const char *s, size_t len)
{
    fprintf(stderr, "  %s (%zu bytes):\n    ", label, len);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '\r') {
            fputs("\\r", stderr);
        } else if (ch == '\n') {
            fputs("\\n\n    ", stderr);
        } else if (ch == '\t') {
            fputs("\\t", stderr);
        } else if (ch < 0x20 || ch >= 0x7f) {
            fprintf(stderr, "\\x%02x", ch);
        } else {
            fputc(ch, stderr);
        }
    }
    fputc('\n', stderr);
}

static size_t
first_diff(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t i = 0;
    while (i < alen && i < blen && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* Translate case c in mode m; returns 1 when the bytes match the capture, 0 after reporting. */
static int
check_case(const struct wire_case *c, enum rbgw_http_mode m)
{
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf out = RBGW_BUF_INIT;
    struct rbgw_json *call = NULL;
    char err[256] = "";
    int ok = 0;

    if (rbgw_json_parse(&a, c->call, c->call_len, &call, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: call.json does not parse: %s\n", c->name, err);
        goto done;
    }
    const struct rbgw_json *method = rbgw_json_get(call, "method");
    const struct rbgw_json *params = rbgw_json_get(call, "parameters");
    if (method == NULL || method->type != RBGW_JSON_STRING) {
        fprintf(stderr, "%s: call.json has no method string\n", c->name);
        goto done;
    }
    struct rbgw_http_target t = {
        .mode = m,
        .dialect = 4,
        .host = rbgw_str_cstr(c->host),
        .path = rbgw_str_cstr(c->path),
        .suffix = rbgw_str_cstr(c->suffix),
    };
    int rc = rbgw_xlate_rpc_to_http(&t, method->str, params, rbgw_str_make(c->call, c->call_len),
                                    &out, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s [%s]: rbgw_xlate_rpc_to_http failed: %s (%s)\n", c->name, mode_file[m],
                rbgw_strerror(rc), err);
        goto done;
    }
    if (out.len == c->http_len[m] && memcmp(out.data, c->http[m], out.len) == 0) {
        ok = 1;
        goto done;
    }
    fprintf(stderr, "%s [%s]: translation differs from pdns 4.7.3 at byte %zu\n", c->name,
            mode_file[m], first_diff(out.data, out.len, c->http[m], c->http_len[m]));
    dump("pdns sent", c->http[m], c->http_len[m]);
    dump("rbgw wrote", out.data, out.len);
done:
    rbgw_buf_free(&out);
    rbgw_arena_free(&a);
    return ok;
}

static void
check_mode(enum rbgw_http_mode m)
{
    size_t good = 0;
    cr_assert_geq(ncases, MIN_CASES, "only %zu fixtures in %s", ncases, FIXTURE_DIR);
    for (size_t i = 0; i < ncases; i++) {
        good += (size_t)check_case(&cases[i], m);
    }
    cr_expect_eq(good, ncases, "%s: %zu of %zu captures differ (details on stderr)", mode_file[m],
                 ncases - good, ncases);
}

Test(xlate_wire, rest_dialect4_matches_pdns)
{
    check_mode(RBGW_HTTP_REST);
}

Test(xlate_wire, post_matches_pdns)
{
    check_mode(RBGW_HTTP_POST);
}

Test(xlate_wire, post_json_matches_pdns)
{
    check_mode(RBGW_HTTP_POST_JSON);
}

/* The fixtures themselves: post_json's body is call.json, and the JSON writer reproduces it. */
Test(xlate_wire, fixtures_consistent_and_json11_roundtrip)
{
    size_t bad = 0;
    cr_assert_geq(ncases, MIN_CASES, "only %zu fixtures in %s", ncases, FIXTURE_DIR);
    for (size_t i = 0; i < ncases; i++) {
        const struct wire_case *c = &cases[i];
        const char *pj = c->http[RBGW_HTTP_POST_JSON];
        size_t pjlen = c->http_len[RBGW_HTTP_POST_JSON];
        const char *sep = strstr(pj, "\r\n\r\n");
        if (sep == NULL || (size_t)(pj + pjlen - (sep + 4)) != c->call_len ||
            memcmp(sep + 4, c->call, c->call_len) != 0) {
            fprintf(stderr, "%s: post_json.http body is not call.json\n", c->name);
            bad++;
            continue;
        }
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_buf out = RBGW_BUF_INIT;
        struct rbgw_json *call = NULL;
        char err[256] = "";
        if (rbgw_json_parse(&a, c->call, c->call_len, &call, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: call.json does not parse: %s\n", c->name, err);
            bad++;
        } else {
            rbgw_json_write(&out, call);
            if (out.len != c->call_len || memcmp(out.data, c->call, out.len) != 0) {
                fprintf(stderr, "%s: json writer differs from pdns's json11\n", c->name);
                dump("pdns sent", c->call, c->call_len);
                dump("rbgw wrote", out.data, out.len);
                bad++;
            }
        }
        rbgw_buf_free(&out);
        rbgw_arena_free(&a);
    }
    cr_expect_eq(bad, 0, "%zu of %zu fixtures failed the consistency/round-trip check", bad,
                 ncases);
}
