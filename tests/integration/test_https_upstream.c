/*
 * test_https_upstream.c: https:// upstreams and an upstream's own headers, through the rbgw
 * binary.
 *
 *   test ──stdin──> rbgw --listen=pipe --upstream=http:url=https://... ──TLS──> fake_https
 *   test <─stdout── one JSON line per call                            <──────── (thread)
 *
 * Certificates are made per test by tests/support/test_pki.c: a test CA and, issued by it, a
 * server certificate for 127.0.0.1 and localhost, one for wrong.example, one for api.test, one
 * whose whole validity lies in the past, and a client certificate; plus a second CA that rbgw
 * is not told about.  What is checked:
 *  - a verified call over TLS carries the exact request bytes and the responder's reply;
 *  - SNI: the host name goes out (not an IP literal), tls-name= replaces it and is what the
 *    certificate is checked against;
 *  - refusals: wrong name, wrong address, expired, unknown CA, no trust store given (the
 *    system's does not know the test CA: verification is on by default) - each a false reply
 *    whose reason is OpenSSL's ("certificate verify failed: hostname mismatch"), classed
 *    "could not connect", with no request reaching the responder;
 *  - client certificates: refused without tls-cert=, accepted with it (the responder sees CN);
 *  - session reuse: with a responder that closes after every response, N calls make N
 *    connections, one full handshake and N-1 resumed (TLS 1.3 and TLS 1.2); with keep-alive,
 *    one handshake for all calls;
 *  - header= and header-file= reach the responder in the request head, verbatim, and the
 *    secret value never appears in rbgw's debug log or in --check-config's echo.
 * The handshake counts come from the responder (what it resumed), so they do not depend on
 * rbgw's own report; rbgw's report (rbgw_upstream_tls_handshakes_total on its admin socket) is
 * then checked against them.  A reload makes an upstream that reads files anew.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <signal.h>
#include <ftw.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "fake_http.h"
#include "fake_https.h"
#include "itest.h"
#include "netio.h"
#include "rbgw_proc.h"
#include "test_pki.h"

#define LOOKUP_WWW                                                                                 \
    "{\"method\": \"lookup\", \"parameters\": {\"local\": \"192.0.2.53\", \"qname\": "             \
    "\"www.example.com.\", \"qtype\": \"A\", \"real-remote\": \"198.51.100.0/24\", \"remote\": "   \
    "\"198.51.100.7\", \"zone-id\": 5}}"
#define BODY_WWW                                                                                   \
    "{\"result\":[{\"qtype\":\"A\",\"qname\":\"www.example.com.\",\"content\":\"192.0.2.10\","     \
    "\"ttl\":300,\"domain_id\":5,\"auth\":1}]}"
/* The request rbgw writes for LOOKUP_WWW with host HOST, before any extra header. */
#define REQ_HEAD(host)                                                                             \
    "GET /dns/lookup/www%2eexample%2ecom%2e/A HTTP/1.1\r\n"                                        \
    "Accept: application/json\r\nConnection: Keep-Alive\r\nHost: " host "\r\n"                     \
    "User-Agent: YaHTTP v1.0\r\nX-Remotebackend-Local: 192.0.2.53\r\n"                             \
    "X-Remotebackend-Real-Remote: 198.51.100.0/24\r\nX-Remotebackend-Remote: 198.51.100.7\r\n"     \
    "X-Remotebackend-Zone-Id: 5\r\n"
#define SECRET "s3cr3t-t0ken-do-not-log"

static char dir[] = "/tmp/rbgw-tls-XXXXXX"; /* certificates of the current test */
static struct test_pki *pki;                /* the CA rbgw is told about */
static struct test_pki *other;              /* a CA rbgw does not know */
static struct fake_https *srv;              /* the TLS responder, or NULL */
static struct fake_http *plain;             /* a plain responder, or NULL */
static struct rbgw_proc *gw;                /* rbgw, or NULL */

static void
setup(void)
{
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    char sub[64];
    snprintf(sub, sizeof(sub), "%s/other", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    pki = test_pki_new(dir, "ca");
    other = test_pki_new(sub, "ca");
    cr_assert(pki && other, "cannot make the test CAs");
    cr_assert_eq(test_pki_issue(pki, "server", "rbgw test server", "DNS:localhost,IP:127.0.0.1", -1,
                                30, false),
                 0);
    cr_assert_eq(test_pki_issue(pki, "wrong", "wrong.example", "DNS:wrong.example", -1, 30, false),
                 0);
    cr_assert_eq(test_pki_issue(pki, "api", "api.test", "DNS:api.test", -1, 30, false), 0);
    cr_assert_eq(test_pki_issue(pki, "expired", "rbgw test server", "DNS:localhost,IP:127.0.0.1",
                                -30, -1, false),
                 0);
    cr_assert_eq(test_pki_issue(pki, "client", "rbgw-client", NULL, -1, 30, true), 0);
    cr_assert_eq(test_pki_issue(other, "server", "rbgw test server", "DNS:localhost,IP:127.0.0.1",
                                -1, 30, false),
                 0);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    fake_https_stop(srv);
    srv = NULL;
    fake_http_stop(plain);
    plain = NULL;
    test_pki_free(pki);
    test_pki_free(other);
    pki = other = NULL;
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    rbgw_test_release();
}

TestSuite(https, .init = setup, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

static const char *
path_of(struct test_pki *p, const char *file)
{
    const char *s = test_pki_path(p, file);
    cr_assert_not_null(s);
    return s;
}

/* Start the TLS responder with certificate `name` of CA p (and more options in o). */
static void
start_srv(struct test_pki *p, const char *name, struct fake_https_opts o)
{
    o.cert = path_of(p, rbgw_test_fmt("%s.pem", name));
    o.key = path_of(p, rbgw_test_fmt("%s.key", name));
    srv = fake_https_start(&o);
    cr_assert_not_null(srv, "cannot start the TLS responder");
}

/* Start rbgw with an upstream url=https://host:<responder's port>/dns and options. */
static void
start_gw(const char *host, const char *opts)
{
    char *up =
        rbgw_test_fmt("--upstream=http:url=https://%s:%d/dns,timeout=5000,connect-timeout=5000%s%s",
                      host, (int)fake_https_port(srv), opts ? "," : "", opts ? opts : "");
    const char *args[] = {"--listen=pipe",
                          up,
                          "--log-level=debug",
                          "--deadline=8000",
                          rbgw_test_fmt("--admin=unix:path=%s/admin.sock", dir),
                          NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
}

/* GET /metrics from rbgw's admin socket (kept). */
static const char *
scrape(void)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/admin.sock", dir);
    cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0, "admin socket: %s",
                 strerror(errno));
    const char *req = "GET /metrics HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
    cr_assert(rbgw_test_send_all(fd, req, strlen(req)));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    long deadline = rbgw_test_now_ms() + RBGW_TEST_IO_MS;
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left = deadline - rbgw_test_now_ms();
        cr_assert_gt(left, 0, "the admin endpoint did not answer");
        if (poll(&p, 1, (int)left) <= 0) {
            continue;
        }
        ssize_t n = rbgw_test_recv_more(fd, &buf, &len, &cap);
        if (n == 0) {
            break;
        }
        cr_assert(n > 0 || errno == EINTR || errno == EAGAIN, "recv: %s", strerror(errno));
    }
    close(fd);
    cr_assert_not_null(buf);
    return rbgw_test_keep(buf);
}

/* rbgw's own count of TLS handshakes of kind for its one upstream (http#1). */
static void
expect_tls_metric(const char *kind, unsigned n)
{
    const char *line = rbgw_test_fmt(
        "\nrbgw_upstream_tls_handshakes_total{upstream=\"http#1\",kind=\"%s\"} %u\n", kind, n);
    const char *m = scrape();
    cr_assert(strstr(m, line) != NULL, "no <%s> in /metrics:\n%s", line + 1, m);
}

static char *
call(const char *request)
{
    return rbgw_test_call(gw, request);
}

static void
finish(void)
{
    rbgw_test_assert_stdout_ends(gw);
    rbgw_test_assert_exit_0(gw);
    rbgw_test_assert_clean_stderr(gw);
}

static const char *
ca_opt(void)
{
    return rbgw_test_fmt("tls-ca=%s", path_of(pki, "ca.pem"));
}

static struct fake_https_handshake
handshake_at(size_t i)
{
    struct fake_https_handshake h;
    cr_assert(fake_https_wait_handshakes(srv, i + 1, RBGW_TEST_IO_MS),
              "the responder saw no handshake #%zu; rbgw stderr:\n%s", i, rbgw_test_stderr(gw));
    cr_assert(fake_https_handshake(srv, i, &h));
    return h;
}

/* A call that must succeed with the responder's default body. */
static void
expect_ok(void)
{
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, "{\"result\":true}", "rbgw stderr:\n%s", rbgw_test_stderr(gw));
}

/*
 * A call that must fail at the TLS level: a false reply naming reason and the connect class,
 * the same reason in rbgw's log, a failed handshake at the responder and no request there.
 */
static void
expect_refused(const char *reason)
{
    char *line = call(LOOKUP_WWW);
    rbgw_test_assert_false_reply(line, reason);
    rbgw_test_assert_false_reply(line, "could not connect");
    cr_assert(rbgw_test_stderr_has(gw, reason), "log lacks <%s>:\n%s", reason,
              rbgw_test_stderr(gw));
    struct fake_https_handshake h = handshake_at(0);
    cr_assert(!h.ok, "the responder completed the handshake");
    cr_assert_eq(fake_https_nrequests(srv), 0, "a request reached the responder");
}

/* ---- verified calls ---- */

Test(https, verified_call_carries_the_exact_request)
{
    start_srv(pki, "server", (struct fake_https_opts){.body = BODY_WWW});
    start_gw("127.0.0.1", ca_opt());
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, BODY_WWW, "rbgw stderr:\n%s", rbgw_test_stderr(gw));
    cr_assert(fake_https_wait_requests(srv, 1, RBGW_TEST_IO_MS));
    cr_assert_str_eq(fake_https_request(srv, 0), REQ_HEAD("127.0.0.1") "\r\n");
    struct fake_https_handshake h = handshake_at(0);
    cr_assert(h.ok);
    cr_assert_str_eq(h.sni, "", "SNI sent for an IP literal (RFC 6066 forbids it)");
    cr_assert(rbgw_test_stderr_has(gw, "TLSv1.3"), "no TLS handshake logged:\n%s",
              rbgw_test_stderr(gw));
    finish();
}

Test(https, host_name_is_sent_as_sni_and_verified)
{
    start_srv(pki, "server", (struct fake_https_opts){0});
    start_gw("localhost", ca_opt());
    expect_ok();
    struct fake_https_handshake h = handshake_at(0);
    cr_assert_str_eq(h.sni, "localhost");
    cr_assert(strstr(fake_https_request(srv, 0), "\r\nHost: localhost\r\n") != NULL);
    finish();
}

Test(https, tls_name_replaces_the_url_host_for_sni_and_verification)
{
    start_srv(pki, "api", (struct fake_https_opts){0});
    start_gw("127.0.0.1", rbgw_test_fmt("%s,tls-name=api.test", ca_opt()));
    expect_ok();
    cr_assert_str_eq(handshake_at(0).sni, "api.test");
    finish();
}

/* ---- refusals ---- */

Test(https, wrong_host_name_is_refused)
{
    start_srv(pki, "wrong", (struct fake_https_opts){0});
    start_gw("localhost", ca_opt());
    expect_refused("certificate verify failed: hostname mismatch");
    finish();
}

Test(https, wrong_address_is_refused)
{
    start_srv(pki, "wrong", (struct fake_https_opts){0});
    start_gw("127.0.0.1", ca_opt());
    expect_refused("certificate verify failed: IP address mismatch");
    finish();
}

Test(https, expired_certificate_is_refused)
{
    start_srv(pki, "expired", (struct fake_https_opts){0});
    start_gw("127.0.0.1", ca_opt());
    expect_refused("certificate verify failed: certificate has expired");
    expect_tls_metric("failed", 1);
    expect_tls_metric("full", 0);
    finish();
}

Test(https, unknown_ca_is_refused)
{
    start_srv(other, "server", (struct fake_https_opts){0});
    start_gw("127.0.0.1", ca_opt());
    expect_refused("certificate verify failed: unable to get local issuer certificate");
    finish();
}

/* No tls-ca=: the system store is used, and it does not know the test CA. */
Test(https, verification_is_on_by_default)
{
    start_srv(pki, "server", (struct fake_https_opts){0});
    start_gw("127.0.0.1", NULL);
    expect_refused("certificate verify failed: unable to get local issuer certificate");
    finish();
}

Test(https, tls_verify_no_accepts_any_certificate_and_warns)
{
    start_srv(pki, "wrong", (struct fake_https_opts){0});
    start_gw("127.0.0.1", "tls-verify=no");
    expect_ok();
    cr_assert(rbgw_test_stderr_has(gw, "tls-verify=no: the certificate of 127.0.0.1:"),
              "no warning:\n%s", rbgw_test_stderr(gw));
    finish();
}

/* ---- client certificates ---- */

Test(https, client_certificate_is_required_by_the_responder)
{
    start_srv(pki, "server", (struct fake_https_opts){.client_ca = path_of(pki, "ca.pem")});
    start_gw("127.0.0.1", ca_opt());
    /* TLS 1.3: the server refuses after rbgw finished its side, so the alert arrives instead
     * of the reply; before any application byte it still counts as not connecting. */
    char *line = call(LOOKUP_WWW);
    rbgw_test_assert_false_reply(line, "certificate required");
    rbgw_test_assert_false_reply(line, "could not connect");
    cr_assert(!handshake_at(0).ok);
    cr_assert_eq(fake_https_nrequests(srv), 0);
    finish();
}

Test(https, client_certificate_is_presented)
{
    start_srv(pki, "server", (struct fake_https_opts){.client_ca = path_of(pki, "ca.pem")});
    start_gw("127.0.0.1", rbgw_test_fmt("%s,tls-cert=%s,tls-key=%s", ca_opt(),
                                        path_of(pki, "client.pem"), path_of(pki, "client.key")));
    expect_ok();
    struct fake_https_handshake h = handshake_at(0);
    cr_assert(h.ok);
    cr_assert_str_eq(h.client_cn, "rbgw-client");
    finish();
}

/* ---- session reuse ---- */

/* n calls on a responder that closes after each response: n connections, 1 full handshake. */
static void
check_resumption(int max_version, const char *version)
{
    const unsigned n = 5;
    start_srv(pki, "server",
              (struct fake_https_opts){.close_after = true, .max_version = max_version});
    start_gw("127.0.0.1", ca_opt());
    for (unsigned i = 0; i < n; i++) {
        expect_ok();
    }
    unsigned full, resumed, failed;
    fake_https_counts(srv, &full, &resumed, &failed);
    cr_assert_eq(fake_https_nrequests(srv), n);
    cr_assert_eq(full + resumed + failed, n, "one handshake per connection");
    cr_assert_eq(failed, 0);
    cr_assert_eq(full, 1, "full handshakes: %u, resumed: %u; rbgw stderr:\n%s", full, resumed,
                 rbgw_test_stderr(gw));
    cr_assert_eq(resumed, n - 1);
    cr_assert(rbgw_test_stderr_has(gw, version), "no %s in the log:\n%s", version,
              rbgw_test_stderr(gw));
    cr_assert(rbgw_test_stderr_has(gw, "session resumed"));
    /* rbgw counts the same as the responder. */
    expect_tls_metric("full", 1);
    expect_tls_metric("resumed", n - 1);
    expect_tls_metric("failed", 0);
    finish();
}

Test(https, new_connections_resume_the_session_tls13)
{
    check_resumption(0, "TLSv1.3");
}

Test(https, new_connections_resume_the_session_tls12)
{
    check_resumption(TLS1_2_VERSION, "TLSv1.2");
}

Test(https, keep_alive_makes_one_handshake_for_many_calls)
{
    start_srv(pki, "server", (struct fake_https_opts){0});
    start_gw("127.0.0.1", ca_opt());
    for (int i = 0; i < 5; i++) {
        expect_ok();
    }
    cr_assert_eq(fake_https_nrequests(srv), 5);
    cr_assert_eq(fake_https_nhandshakes(srv), 1);
    finish();
}

/* ---- the upstream's own headers ---- */

static const char *
write_header_file(const char *content)
{
    const char *path = rbgw_test_fmt("%s/headers", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

Test(https, headers_reach_the_responder_and_secrets_stay_out_of_the_log)
{
    const char *file = write_header_file("# the responder's credentials\r\n"
                                         "Authorization: Bearer " SECRET "\r\n"
                                         "\n"
                                         "X-Api-Key: a,b,c\n");
    start_srv(pki, "server", (struct fake_https_opts){0});
    start_gw("127.0.0.1", rbgw_test_fmt("%s,header=X-Tenant: blue,header-file=%s", ca_opt(), file));
    expect_ok();
    cr_assert(fake_https_wait_requests(srv, 1, RBGW_TEST_IO_MS));
    cr_assert_str_eq(fake_https_request(srv, 0),
                     REQ_HEAD("127.0.0.1") "X-Tenant: blue\r\n"
                                           "Authorization: Bearer " SECRET "\r\n"
                                           "X-Api-Key: a,b,c\r\n"
                                           "\r\n");
    finish();
    cr_assert(!rbgw_test_stderr_has(gw, SECRET), "the secret is in the log:\n%s",
              rbgw_test_stderr(gw));
}

Test(https, headers_on_plain_http)
{
    plain = fake_http_start();
    cr_assert_not_null(plain);
    char *up = rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:%d/dns,header=Authorization: "
                             "Bearer " SECRET ",post,post_json",
                             fake_http_port(plain));
    const char *args[] = {"--listen=pipe", up, "--log-level=debug", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    char *line = call(LOOKUP_WWW);
    cr_assert_str_eq(line, "{\"result\":true}", "rbgw stderr:\n%s", rbgw_test_stderr(gw));
    const struct fake_http_request *r = fake_http_request(plain, 0);
    cr_assert_not_null(r);
    cr_assert_str_eq(r->raw, "POST /dns HTTP/1.1\r\n"
                             "Accept: application/json\r\nConnection: Keep-Alive\r\n"
                             "Content-Length: 176\r\n"
                             "Content-Type: text/javascript; charset=utf-8\r\n"
                             "Host: 127.0.0.1\r\nUser-Agent: YaHTTP v1.0\r\n"
                             "Authorization: Bearer " SECRET "\r\n\r\n" LOOKUP_WWW);
    finish();
    cr_assert(!rbgw_test_stderr_has(gw, SECRET));
}

/* --check-config echoes every upstream; a header's value is masked, its name kept. */
Test(https, check_config_masks_header_values)
{
    const char *args[] = {
        "--check-config",
        "--upstream=http:url=http://127.0.0.1:1/dns,header=Authorization: Bearer " SECRET
        ",header=X-Other: y",
        NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    int st;
    cr_assert_eq(rbgw_proc_wait(gw, RBGW_TEST_IO_MS, &st), 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d:\n%s", st, rbgw_test_stderr(gw));
    cr_assert(rbgw_test_stderr_has(gw, "header=Authorization: ***,header=X-Other: ***"), "%s",
              rbgw_test_stderr(gw));
    cr_assert(!rbgw_test_stderr_has(gw, SECRET), "%s", rbgw_test_stderr(gw));
}

/* Refused at configuration time, with the header named and the value not shown. */
Test(https, bad_headers_are_refused_at_start)
{
    static const struct {
        const char *opt;  /* the upstream option */
        const char *text; /* expected in the error */
    } rows[] = {
        {"header=Host: evil.example", "header Host cannot be set"},
        {"header=Content-Length: 0", "header Content-Length cannot be set"},
        {"header=transfer-encoding: chunked", "header transfer-encoding cannot be set"},
        {"header=Connection: close", "header Connection cannot be set"},
        {"header=X-RemoteBackend-Zone-Id: 7", "X-RemoteBackend-* headers carry"},
        {"header=Bad Name: " SECRET, "header name 'Bad Name' holds byte 0x20"},
        {"header=X-A: " SECRET "\r\nHost: evil", "header X-A: the value holds CR or LF"},
        {"header=NoColon", "expected NAME: VALUE"},
        {"header=X-A: 1,header=x-a: 2", "header x-a is given twice"},
        {"header-file=/nonexistent/rbgw-headers", "header-file=/nonexistent/rbgw-headers: "
                                                  "cannot open: No such file or directory"},
        {"tls-ca=/x.pem", "tls-ca= needs an https:// url"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *up = rbgw_test_fmt("--upstream=http:url=http://127.0.0.1:1/dns,%s", rows[i].opt);
        const char *args[] = {"--listen=pipe", up, NULL};
        struct rbgw_proc *p = rbgw_proc_spawn(NULL, args);
        cr_assert_not_null(p);
        int st;
        cr_assert_eq(rbgw_proc_wait(p, RBGW_TEST_IO_MS, &st), 0);
        char *err = rbgw_test_keep(rbgw_proc_stderr(p, 0));
        rbgw_proc_free(p);
        cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 2, "%s: status %d", rows[i].opt, st);
        cr_expect(strstr(err, rows[i].text) != NULL, "%s: error lacks <%s>:\n%s", rows[i].opt,
                  rows[i].text, err);
        cr_expect(strstr(err, SECRET) == NULL, "%s: the value is in the error:\n%s", rows[i].opt,
                  err);
    }
}

/* ---- reload (SIGHUP) ---- */

static const char *
write_file_at(const char *name, const char *content)
{
    const char *path = rbgw_test_fmt("%s/%s", dir, name);
    const char *tmp = rbgw_test_fmt("%s.new", path);
    FILE *f = fopen(tmp, "w");
    cr_assert_not_null(f);
    fputs(content, f);
    cr_assert_eq(fclose(f), 0);
    cr_assert_eq(rename(tmp, path), 0); /* rbgw never reads half a file */
    return path;
}

/* SIGHUP, then wait (bounded poll of the log) until generation gen is in force. */
static void
reload_to(unsigned gen)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGHUP), 0);
    const char *needle = rbgw_test_fmt("reload: generation %u in force", gen);
    long deadline = rbgw_test_now_ms() + RBGW_TEST_IO_MS;
    while (!rbgw_test_stderr_has(gw, needle)) {
        cr_assert_lt(rbgw_test_now_ms(), deadline, "no \"%s\":\n%s", needle, rbgw_test_stderr(gw));
        usleep(1000);
    }
}

/* rbgw.conf: a pipe listener, an upstream reading its token from a file, and one whose
 * header= value is inline. */
static const char *
write_conf(int port, const char *inline_value)
{
    return write_file_at("rbgw.conf",
                         rbgw_test_fmt("listen=pipe\n"
                                       "upstream=http:url=http://127.0.0.1:%d/dns,name=file,"
                                       "header-file=%s/token\n"
                                       "upstream+=http:url=http://127.0.0.1:%d/dns,name=inline,"
                                       "header=X-Inline: %s\n"
                                       "pool=p:upstreams=file\n"
                                       "route=all:pool=p\n",
                                       port, dir, port, inline_value));
}

/* The Authorization header of the responder's i-th request. */
static const char *
auth_of(size_t i)
{
    cr_assert(fake_http_wait_requests(plain, i + 1, RBGW_TEST_IO_MS));
    const char *v = fake_http_header(fake_http_request(plain, i), "Authorization");
    cr_assert_not_null(v, "request %zu has no Authorization", i);
    return v;
}

/*
 * A reload compares upstreams by their text as written (not the masked echo), so a changed
 * header= value makes a new upstream; and an upstream that reads files (header-file=, https)
 * is made anew at every reload, so a rotated token takes effect without a restart.
 */
Test(https, reload_picks_up_rotated_secrets)
{
    plain = fake_http_start();
    cr_assert_not_null(plain);
    write_file_at("token", "Authorization: Bearer one\n");
    int port = fake_http_port(plain);
    const char *conf = write_conf(port, "v1");
    const char *args[] = {rbgw_test_fmt("--config=%s", conf), NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    expect_ok();
    cr_assert_str_eq(auth_of(0), "Bearer one");

    write_file_at("token", "Authorization: Bearer two\n");
    reload_to(2);
    cr_assert(rbgw_test_stderr_has(gw, "upstreams 1 kept, 1 new"), "%s", rbgw_test_stderr(gw));
    expect_ok();
    cr_assert_str_eq(auth_of(1), "Bearer two");

    write_conf(port, "v2");
    reload_to(3);
    cr_assert(rbgw_test_stderr_has(gw, "upstreams 0 kept, 2 new"), "%s", rbgw_test_stderr(gw));
    finish();
    cr_assert(!rbgw_test_stderr_has(gw, "Bearer"), "a header value in the log:\n%s",
              rbgw_test_stderr(gw));
}

/* The text of file path (kept). */
static const char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    char buf[16384];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return rbgw_test_fmt("%s", buf);
}

/*
 * A CA file is parsed once and shared by every context that trusts it (a reload with many
 * https upstreams would otherwise parse it once per upstream, on the loop), so the file's
 * identity decides: a CA rotated by rename takes effect at the next reload, both ways.
 */
Test(https, reload_picks_up_a_rotated_ca)
{
    start_srv(pki, "server", (struct fake_https_opts){0});
    const char *good = slurp(path_of(pki, "ca.pem")), *unknown = slurp(path_of(other, "ca.pem"));
    const char *trust = write_file_at("trust.pem", unknown);
    const char *conf = write_file_at(
        "rbgw.conf",
        rbgw_test_fmt("listen=pipe\ndeadline=8000\n"
                      "upstream=http:url=https://127.0.0.1:%d/dns,timeout=5000,"
                      "connect-timeout=5000,tls-ca=%s\n"
                      "upstream+=http:url=https://localhost:%d/dns,tls-ca=%s\n",
                      (int)fake_https_port(srv), trust, (int)fake_https_port(srv), trust));
    const char *args[] = {rbgw_test_fmt("--config=%s", conf), NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    const char *refusal = "certificate verify failed: unable to get local issuer certificate";
    rbgw_test_assert_false_reply(call(LOOKUP_WWW), refusal);

    write_file_at("trust.pem", good);
    reload_to(2);
    expect_ok();

    write_file_at("trust.pem", unknown);
    reload_to(3);
    rbgw_test_assert_false_reply(call(LOOKUP_WWW), refusal);
    finish();
}
