/*
 * test_config.c: rbgw_config_load (file + command line), its error texts and --help.
 *
 * Config files are written into a fresh mkdtemp directory per test (removed in fini).  Error
 * rows write "@F" where the file's path goes, so each expectation is the exact message.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rbgw/config.h"

#define U "--upstream=pipe:command=/bin/cat"

static char tmpdir[64];

static void
setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/rbgw-test-config-XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
}

static void
teardown(void)
{
    DIR *d = opendir(tmpdir);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char p[512];
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        snprintf(p, sizeof(p), "%s/%s", tmpdir, e->d_name);
        if (rmdir(p) != 0) {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(tmpdir);
}

TestSuite(config, .init = setup, .fini = teardown, .timeout = 10);

/* Write content to tmpdir/name; returns the path in a static buffer of the caller's choice. */
static void
write_file(const char *name, const char *content, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
    cr_assert_eq(fputs(content, f) >= 0, 1);
    cr_assert_eq(fclose(f), 0);
}

/* Load with argv = "rbgw", args... (NULL-terminated). */
static int
load(struct rbgw_config *cfg, char *err, size_t errlen, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "rbgw";
    for (size_t i = 0; args[i] != NULL; i++) {
        cr_assert_lt(argc, 31);
        argv[argc++] = (char *)args[i];
    }
    argv[argc] = NULL;
    return rbgw_config_load(cfg, argc, argv, err, errlen);
}

/* Replace every "@F" in tmpl by path. */
static void
expand(const char *tmpl, const char *path, char *out, size_t outlen)
{
    size_t n = 0;
    for (const char *p = tmpl; *p && n + 1 < outlen; p++) {
        if (p[0] == '@' && p[1] == 'F') {
            n += (size_t)snprintf(out + n, outlen - n, "%s", path);
            p++;
        } else {
            out[n++] = *p;
        }
    }
    out[n < outlen ? n : outlen - 1] = '\0';
}

static bool
is_zeroed(const struct rbgw_config *cfg)
{
    static const struct rbgw_config zero;
    return memcmp(cfg, &zero, sizeof(zero)) == 0;
}

Test(config, defaults)
{
    struct rbgw_config cfg;
    char err[512] = "";
    const char *args[] = {U, NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);

    cr_expect_eq(cfg.nlisteners, 1, "one default listener");
    cr_expect_eq(cfg.listeners[0].cs.transport, RBGW_TRANSPORT_PIPE);
    cr_expect_str_eq(cfg.listeners[0].text, "pipe");
    cr_expect_str_eq(cfg.listeners[0].origin, "default");
    cr_expect_eq(cfg.listeners[0].cs.nopts, 0);

    cr_expect_eq(cfg.nupstreams, 1);
    cr_expect_str_eq(cfg.upstreams[0].text, "pipe:command=/bin/cat");
    cr_expect_str_eq(cfg.upstreams[0].origin, "--upstream");
    cr_expect_str_eq(rbgw_connstr_get(&cfg.upstreams[0].cs, "command"), "/bin/cat");

    cr_expect_null(cfg.config_file);
    cr_expect_eq(cfg.log_level, RBGW_LOG_INFO);
    cr_expect_eq(cfg.log_format, RBGW_LOG_TEXT);
    cr_expect_not(cfg.access_log);
    cr_expect_eq(cfg.max_request_size, 1048576);
    cr_expect_eq(cfg.max_reply_size, 16777216);
    cr_expect_eq(cfg.max_conn_buffer, 1048576);
    cr_expect_eq(cfg.write_timeout_ms, 10000);
    cr_expect_eq(cfg.max_inflight, 4096);
    cr_expect_eq(cfg.json_limits.max_depth, 200);
    cr_expect_eq(cfg.json_limits.max_elements, 4000000);
    cr_expect_not(cfg.check_config);
    cr_expect_not(cfg.help);
    cr_expect_not(cfg.version);
    rbgw_config_free(&cfg);
    cr_expect(is_zeroed(&cfg), "free zeroes the config");
    rbgw_config_free(&cfg);
}

Test(config, every_transport_and_unknown_options_accepted)
{
    struct rbgw_config cfg;
    char err[512] = "";
    const char *args[] = {
        "--listen=pipe",
        "--listen+=unix:path=/tmp/rbgw.sock",
        "--listen+=http:address=127.0.0.1:8053",
        "--listen+=http:address=[::1]:8053",
        "--listen+=zmq:endpoint=tcp://127.0.0.1:5555",
        "--upstream=pipe:command=/bin/cat a b,timeout=2000,whatever=1,flag",
        "--upstream+=unix:path=/run/x.sock,connect-timeout=1,idle-timeout=0",
        "--upstream+=http:url=http://[::1]:8080/dns,post=yes,max-conns=4096,rest-dialect=4",
        "--upstream+=zeromq:endpoint=ipc:///tmp/x,timeout=600000,idle-timeout=86400000",
        NULL,
    };
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    cr_expect_eq(cfg.nlisteners, 5);
    cr_expect_eq(cfg.nupstreams, 4);
    cr_expect_eq(cfg.listeners[4].cs.transport, RBGW_TRANSPORT_ZEROMQ);
    cr_expect_str_eq(cfg.listeners[4].cs.type, "zmq");
    cr_expect_str_eq(rbgw_connstr_get(&cfg.upstreams[0].cs, "whatever"), "1");
    cr_expect_eq(cfg.upstreams[2].cs.transport, RBGW_TRANSPORT_HTTP);
    rbgw_config_free(&cfg);
}

/* A unix listener's permissions: mode= and group=, and their defaults. */
Test(config, unix_listener_permissions)
{
    struct rbgw_config cfg;
    char err[512] = "";
    const char *args[] = {
        "--listen=unix:path=/tmp/rbgw.sock,mode=0600,group=0",
        "--listen+=unix:path=/tmp/rbgw2.sock",
        U,
        NULL,
    };
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    struct rbgw_unix_perm perm;
    cr_assert_eq(rbgw_config_unix_perm(&cfg.listeners[0].cs, &perm, err, sizeof(err)), 0);
    cr_expect_eq(perm.mode, 0600);
    cr_expect_eq(perm.gid, 0);
    cr_expect_str_eq(perm.group, "0");
    cr_assert_eq(rbgw_config_unix_perm(&cfg.listeners[1].cs, &perm, err, sizeof(err)), 0);
    cr_expect_eq(perm.mode, 0660, "the default is never world-writable");
    cr_expect_eq(perm.gid, -1, "no group= leaves the file's group alone");
    cr_expect_null(perm.group);
    rbgw_config_free(&cfg);
}

/* https:// with TLS options, and headers: accepted; a header's value is masked in text. */
Test(config, https_and_headers_accepted)
{
    struct rbgw_config cfg;
    char err[512] = "";
    const char *args[] = {
        "--upstream=http:url=https://127.0.0.1/dns,tls-verify=no,tls-name=api.test",
        "--upstream+=http:url=http://h/,header=Authorization: Bearer abc,header=X-B: c",
        NULL,
    };
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    cr_expect_str_eq(cfg.upstreams[0].text,
                     "http:url=https://127.0.0.1/dns,tls-verify=no,tls-name=api.test");
    cr_expect_str_eq(cfg.upstreams[1].text,
                     "http:url=http://h/,header=Authorization: ***,header=X-B: ***");
    cr_expect_str_eq(rbgw_connstr_get_nth(&cfg.upstreams[1].cs, "header", 0),
                     "Authorization: Bearer abc", "the value itself is kept for use");
    rbgw_config_free(&cfg);
}

Test(config, file_comments_trim_and_append)
{
    char path[256], err[512] = "", want[512];
    write_file("rbgw.conf",
               "# whole-line comment\n"
               "   # indented comment\n"
               "\n"
               "   \t \n"
               "  log-level = debug   # trailing comment\n"
               "upstream = http:url=http://127.0.0.1:8080/dns#frag,timeout=1500\n"
               "upstream += pipe:command=/bin/cat a#b\n"
               "\tlisten=unix:path=/tmp/x.sock\r\n"
               "listen+=pipe\n"
               "max-request-size=64k\n"
               "max-conn-buffer=4k\n"
               "write-timeout=0\n"
               "max-inflight=7\n"
               "max-json-depth=16\n"
               "max-json-elements=5000\n"
               "max-reply-size\t=\t2M",
               path, sizeof(path));
    char cfgarg[300];
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    const char *args[] = {cfgarg, NULL};
    struct rbgw_config cfg;
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);

    cr_expect_str_eq(cfg.config_file, path);
    cr_expect_eq(cfg.log_level, RBGW_LOG_DEBUG);
    cr_expect_eq(cfg.max_request_size, 64 * 1024);
    cr_expect_eq(cfg.max_reply_size, 2 * 1024 * 1024, "last line without a newline is read");
    cr_expect_eq(cfg.max_conn_buffer, 4096);
    cr_expect_eq(cfg.write_timeout_ms, 0, "write-timeout=0: never");
    cr_expect_eq(cfg.max_inflight, 7);
    cr_expect_eq(cfg.json_limits.max_depth, 16);
    cr_expect_eq(cfg.json_limits.max_elements, 5000);

    cr_assert_eq(cfg.nupstreams, 2);
    cr_expect_str_eq(cfg.upstreams[0].text, "http:url=http://127.0.0.1:8080/dns#frag,timeout=1500",
                     "'#' not after whitespace is not a comment");
    cr_expect_str_eq(cfg.upstreams[1].text, "pipe:command=/bin/cat a#b");
    expand("@F:6", path, want, sizeof(want));
    cr_expect_str_eq(cfg.upstreams[0].origin, want);
    expand("@F:7", path, want, sizeof(want));
    cr_expect_str_eq(cfg.upstreams[1].origin, want);

    cr_assert_eq(cfg.nlisteners, 2);
    cr_expect_str_eq(cfg.listeners[0].text, "unix:path=/tmp/x.sock", "CR and tab trimmed");
    cr_expect_str_eq(rbgw_connstr_get(&cfg.listeners[0].cs, "path"), "/tmp/x.sock");
    cr_expect_str_eq(cfg.listeners[1].text, "pipe");
    rbgw_config_free(&cfg);
}

struct override_row {
    const char *name;
    const char *args[6]; /* after --config=FILE */
    const char *ups;     /* upstream commands joined by ' ' */
    const char *listens; /* listener texts joined by ' ' */
    enum rbgw_log_level level;
};

static const struct override_row override_rows[] = {
    {"no cli", {NULL}, "/a /b", "unix:path=/f.sock", RBGW_LOG_DEBUG},
    {"scalar", {"--log-level=error", NULL}, "/a /b", "unix:path=/f.sock", RBGW_LOG_ERROR},
    {"list replaced",
     {"--upstream=pipe:command=/c", NULL},
     "/c",
     "unix:path=/f.sock",
     RBGW_LOG_DEBUG},
    {"list appended",
     {"--upstream+=pipe:command=/c", NULL},
     "/a /b /c",
     "unix:path=/f.sock",
     RBGW_LOG_DEBUG},
    {"cli list of two",
     {"--upstream=pipe:command=/c", "--upstream=pipe:command=/d", NULL},
     "/c /d",
     "unix:path=/f.sock",
     RBGW_LOG_DEBUG},
    {"append then set",
     {"--upstream+=pipe:command=/c", "--upstream=pipe:command=/d", NULL},
     "/c /d",
     "unix:path=/f.sock",
     RBGW_LOG_DEBUG},
    {"set then append",
     {"--upstream=pipe:command=/c", "--upstream+=pipe:command=/d", NULL},
     "/c /d",
     "unix:path=/f.sock",
     RBGW_LOG_DEBUG},
    {"listen replaced", {"--listen=pipe", NULL}, "/a /b", "pipe", RBGW_LOG_DEBUG},
    {"listen appended",
     {"--listen+=pipe", NULL},
     "/a /b",
     "unix:path=/f.sock pipe",
     RBGW_LOG_DEBUG},
    {"last scalar wins",
     {"--log-level=error", "--log-level=warning", NULL},
     "/a /b",
     "unix:path=/f.sock",
     RBGW_LOG_WARN},
};

static void
join_upstreams(const struct rbgw_config *cfg, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->nupstreams && n < outlen; i++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? " " : "",
                              rbgw_connstr_get(&cfg->upstreams[i].cs, "command"));
    }
}

static void
join_listeners(const struct rbgw_config *cfg, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->nlisteners && n < outlen; i++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? " " : "", cfg->listeners[i].text);
    }
}

Test(config, cli_overrides_file)
{
    char path[256], cfgarg[300];
    write_file("o.conf",
               "log-level=debug\n"
               "upstream=pipe:command=/a\n"
               "upstream+=pipe:command=/b\n"
               "listen=unix:path=/f.sock\n",
               path, sizeof(path));
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    for (size_t i = 0; i < sizeof(override_rows) / sizeof(override_rows[0]); i++) {
        const struct override_row *r = &override_rows[i];
        const char *args[8] = {cfgarg};
        for (size_t j = 0; r->args[j] != NULL; j++) {
            args[j + 1] = r->args[j];
        }
        struct rbgw_config cfg;
        char err[512] = "", got[256];
        int rc = load(&cfg, err, sizeof(err), args);
        cr_expect_eq(rc, 0, "row '%s': %s", r->name, err);
        if (rc != 0) {
            continue;
        }
        join_upstreams(&cfg, got, sizeof(got));
        cr_expect_str_eq(got, r->ups, "row '%s': upstreams", r->name);
        join_listeners(&cfg, got, sizeof(got));
        cr_expect_str_eq(got, r->listens, "row '%s': listeners", r->name);
        cr_expect_eq(cfg.log_level, r->level, "row '%s': log level", r->name);
        rbgw_config_free(&cfg);
    }
}

Test(config, upstream_origin_names_place_after_override)
{
    char path[256], cfgarg[300], err[512] = "";
    write_file("p.conf", "upstream=pipe:command=/a\n", path, sizeof(path));
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    const char *args[] = {cfgarg, "--upstream+=pipe:command=/b", NULL};
    struct rbgw_config cfg;
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    char want[300];
    expand("@F:1", path, want, sizeof(want));
    cr_expect_str_eq(cfg.upstreams[0].origin, want);
    cr_expect_str_eq(cfg.upstreams[1].origin, "--upstream");
    rbgw_config_free(&cfg);
}

struct bool_row {
    const char *args[4];
    bool help, version, check;
};

static const struct bool_row bool_rows[] = {
    {{"--help", NULL}, true, false, false},
    {{"--version", NULL}, false, true, false},
    {{"--help=yes", NULL}, true, false, false},
    {{U, "--check-config", NULL}, false, false, true},
    {{U, "--check-config=no", NULL}, false, false, false},
    {{U, "--check-config=true", NULL}, false, false, true},
    {{U, "--check-config=on", NULL}, false, false, true},
    {{U, "--check-config=1", NULL}, false, false, true},
    {{U, "--check-config=off", NULL}, false, false, false},
    {{U, "--check-config=false", NULL}, false, false, false},
    {{U, "--check-config", "--check-config=0", NULL}, false, false, false},
    {{U, "--help", "--version", NULL}, true, true, false},
};

Test(config, booleans)
{
    for (size_t i = 0; i < sizeof(bool_rows) / sizeof(bool_rows[0]); i++) {
        const struct bool_row *r = &bool_rows[i];
        struct rbgw_config cfg;
        char err[512] = "";
        int rc = load(&cfg, err, sizeof(err), r->args);
        cr_expect_eq(rc, 0, "row %zu (%s): %s", i, r->args[0], err);
        if (rc != 0) {
            continue;
        }
        cr_expect_eq(cfg.help, r->help, "row %zu: help", i);
        cr_expect_eq(cfg.version, r->version, "row %zu: version", i);
        cr_expect_eq(cfg.check_config, r->check, "row %zu: check-config", i);
        rbgw_config_free(&cfg);
    }
}

struct size_row {
    const char *value;
    size_t want; /* 0: expect the error */
    const char *err;
};

static const struct size_row size_rows[] = {
    {"256", 256, NULL},
    {"1048576", 1048576, NULL},
    {"1k", 1024, NULL},
    {"1K", 1024, NULL},
    {"3m", 3145728, NULL},
    {"1M", 1048576, NULL},
    {"1024m", 1073741824, NULL},
    {"1048576k", 1073741824, NULL},
    {"1073741824", 1073741824, NULL},
    {"0001k", 1024, NULL},
    {"255", 0, "--max-request-size: 255 not in 256..1073741824 bytes"},
    {"0", 0, "--max-request-size: 0 not in 256..1073741824 bytes"},
    {"0k", 0, "--max-request-size: 0k not in 256..1073741824 bytes"},
    {"1073741825", 0, "--max-request-size: 1073741825 not in 256..1073741824 bytes"},
    {"1025m", 0, "--max-request-size: 1025m not in 256..1073741824 bytes"},
    {"99999999999999999999999k", 0,
     "--max-request-size: 99999999999999999999999k not in 256..1073741824 bytes"},
    {"abc", 0, "--max-request-size: 'abc' is not a size (bytes, or a number with a k or m suffix)"},
    {"12x", 0, "--max-request-size: '12x' is not a size (bytes, or a number with a k or m suffix)"},
    {"1g", 0, "--max-request-size: '1g' is not a size (bytes, or a number with a k or m suffix)"},
    {"1kb", 0, "--max-request-size: '1kb' is not a size (bytes, or a number with a k or m suffix)"},
    {"k", 0, "--max-request-size: 'k' is not a size (bytes, or a number with a k or m suffix)"},
    {"-1", 0, "--max-request-size: '-1' is not a size (bytes, or a number with a k or m suffix)"},
    {" 1k", 0, "--max-request-size: ' 1k' is not a size (bytes, or a number with a k or m suffix)"},
    {"", 0, "--max-request-size: '' is not a size (bytes, or a number with a k or m suffix)"},
};

Test(config, size_suffixes)
{
    for (size_t i = 0; i < sizeof(size_rows) / sizeof(size_rows[0]); i++) {
        const struct size_row *r = &size_rows[i];
        char arg[128], arg2[128], err[512] = "";
        snprintf(arg, sizeof(arg), "--max-request-size=%s", r->value);
        snprintf(arg2, sizeof(arg2), "--max-reply-size=%s", r->value);
        const char *args[] = {U, arg, r->want ? arg2 : NULL, NULL};
        struct rbgw_config cfg;
        int rc = load(&cfg, err, sizeof(err), args);
        if (r->want != 0) {
            cr_expect_eq(rc, 0, "row %zu '%s': %s", i, r->value, err);
            if (rc == 0) {
                cr_expect_eq(cfg.max_request_size, r->want, "row %zu '%s': request size", i,
                             r->value);
                cr_expect_eq(cfg.max_reply_size, r->want, "row %zu '%s': reply size", i, r->value);
                rbgw_config_free(&cfg);
            }
        } else {
            cr_expect_eq(rc, RBGW_ECONFIG, "row %zu '%s': want an error", i, r->value);
            cr_expect_str_eq(err, r->err, "row %zu '%s': error text", i, r->value);
            cr_expect(is_zeroed(&cfg), "row %zu: config zeroed on error", i);
        }
    }
}

struct cli_err_row {
    const char *args[4];
    const char *err;
};

static const struct cli_err_row cli_err_rows[] = {
    {{NULL}, "no upstream configured (use upstream=...)"},
    {{"--listen=pipe", NULL}, "no upstream configured (use upstream=...)"},
    {{"--check-config", NULL}, "no upstream configured (use upstream=...)"},
    {{"x", NULL}, "unexpected argument 'x'"},
    {{U, "serve", NULL}, "unexpected argument 'serve'"},
    {{"-h", NULL}, "unexpected argument '-h' (options are written --key=value)"},
    {{"--", NULL}, "unexpected argument '--' (options are written --key=value)"},
    {{"--=x", NULL}, "unexpected argument '--=x' (options are written --key=value)"},
    {{"--upstream", "pipe:command=/x", NULL},
     "--upstream: needs a value: write --upstream=VALUE (--upstream VALUE is not supported)"},
    {{U, "--log-level", "debug", NULL},
     "--log-level: needs a value: write --log-level=VALUE (--log-level VALUE is not supported)"},
    {{"--config", NULL},
     "--config: needs a value: write --config=VALUE (--config VALUE is not supported)"},
    {{"--upstrem=pipe:command=/x", NULL}, "--upstrem: unknown option (did you mean --upstream?)"},
    {{"--Upstream=pipe:command=/x", NULL}, "--Upstream: unknown option (did you mean --upstream?)"},
    {{"--log_level=debug", NULL}, "--log_level: unknown option (did you mean --log-level?)"},
    {{"--frobnicate=1", NULL}, "--frobnicate: unknown option (see --help)"},
    {{"--upstream+", NULL}, "--upstream+: unknown option (did you mean --upstream?)"},
    {{U, "--log-level+=debug", NULL},
     "--log-level: += only works for list keys (listen, upstream)"},
    {{U, "--log-level=verbose", NULL},
     "--log-level: unknown level 'verbose' (expected error, warning, info or debug)"},
    {{U, "--max-conn-buffer=4095", NULL}, "--max-conn-buffer: 4095 not in 4096..1073741824 bytes"},
    {{U, "--write-timeout=3600001", NULL},
     "--write-timeout: '3600001' is not a whole number in 0..3600000"},
    {{U, "--write-timeout=-1", NULL}, "--write-timeout: '-1' is not a whole number in 0..3600000"},
    {{U, "--log-level=INFO", NULL},
     "--log-level: unknown level 'INFO' (expected error, warning, info or debug)"},
    {{U, "--log-format=yaml", NULL}, "--log-format: unknown format 'yaml' (expected text or json)"},
    {{U, "--log-format=JSON", NULL}, "--log-format: unknown format 'JSON' (expected text or json)"},
    {{U, "--log-format", NULL},
     "--log-format: needs a value: write --log-format=VALUE (--log-format VALUE is not supported)"},
    {{U, "--access-log=sometimes", NULL}, "--access-log: 'sometimes' is not yes or no"},
    {{"--help=maybe", NULL}, "--help: 'maybe' is not yes or no"},
    {{"--config=", NULL}, "--config: needs a file name"},
    {{"--config=/nonexistent/rbgw.conf", NULL},
     "--config: cannot open /nonexistent/rbgw.conf: No such file or directory"},
    {{"--upstream=tcp:host=x", NULL},
     "--upstream: unknown connector type 'tcp' (expected pipe, unix, http or zeromq)"},
    {{"--upstream=", NULL},
     "--upstream: empty connection string (expected TYPE:OPTIONS, e.g. "
     "pipe:command=/path/to/responder)"},
    {{"--upstream=pipe", NULL},
     "--upstream: pipe upstream needs command=... (e.g. pipe:command=/usr/bin/responder)"},
    {{"--upstream=pipe:command=,timeout=5", NULL},
     "--upstream: pipe upstream needs command=... (e.g. pipe:command=/usr/bin/responder)"},
    {{"--upstream=unix:timeout=5", NULL},
     "--upstream: unix upstream needs path=... (e.g. unix:path=/run/responder.sock)"},
    {{"--upstream=http:timeout=1500", NULL},
     "--upstream: http upstream needs url=... (e.g. http:url=http://127.0.0.1:8080/dns)"},
    {{"--upstream=zmq:timeout=5", NULL},
     "--upstream: zeromq upstream needs endpoint=... (e.g. zeromq:endpoint=tcp://127.0.0.1:5555)"},
    {{"--upstream=http:url=ftp://x/", NULL},
     "--upstream: url=ftp://x/: unsupported URL scheme 'ftp' (expected http:// or https://)"},
    {{"--upstream=http:url=http://x/,tls-ca=/x.pem", NULL},
     "--upstream: tls-ca= needs an https:// url"},
    {{"--upstream=http:url=http://x/,tls-verify=no", NULL},
     "--upstream: tls-verify= needs an https:// url"},
    {{"--upstream=http:url=https://x/,tls-ca=/nonexistent/ca.pem", NULL},
     "--upstream: tls-ca=/nonexistent/ca.pem: cannot read: No such file or directory"},
    {{"--upstream=http:url=https://x/,tls-ca=/dev/null", NULL},
     "--upstream: tls-ca=/dev/null: no usable PEM certificate: no certificate or crl found"},
    {{"--upstream=http:url=https://x/,tls-key=/k.pem", NULL},
     "--upstream: tls-key= needs tls-cert= (the certificate of that key)"},
    {{"--upstream=http:url=https://x/,tls-cert=/nonexistent/c.pem", NULL},
     "--upstream: tls-cert=/nonexistent/c.pem: cannot read: No such file or directory"},
    {{"--upstream=http:url=https://x/,tls-verify=maybe", NULL},
     "--upstream: tls-verify=maybe is not yes or no"},
    {{"--upstream=http:url=https://x/,tls-name=a/b", NULL},
     "--upstream: tls-name=a/b is not a host name"},
    /* An https upstream whose TLS settings differ in one option from good ones is refused
     * (the CA store is shared between upstreams, nothing else). */
    {{"--upstream=http:url=https://x/,tls-verify=no",
      "--upstream+=http:url=https://x/,tls-verify=no,tls-cert=/nonexistent/c.pem", NULL},
     "--upstream: tls-cert=/nonexistent/c.pem: cannot read: No such file or directory"},
    {{"--upstream=http:url=https://x/,tls-verify=no,tls-name=ok",
      "--upstream+=http:url=https://x/,tls-verify=no,tls-name=a/b", NULL},
     "--upstream: tls-name=a/b is not a host name"},
    {{"--upstream=http:url=https://x/,tls-verify=no",
      "--upstream+=http:url=https://x/,tls-verify=maybe", NULL},
     "--upstream: tls-verify=maybe is not yes or no"},
    {{"--upstream=http:url=https://x/,tls-name=", NULL}, "--upstream: tls-name= is empty"},
    {{"--upstream=http:url=http://x/,header=Host: y", NULL},
     "--upstream: header Host cannot be set: rbgw writes it itself or it changes how the request "
     "is framed"},
    {{"--upstream=http:url=http://x/,header=X-Token: sec\r\nret", NULL},
     "--upstream: header X-Token: the value holds CR or LF, which would split the request's "
     "header block"},
    {{"--upstream=http:url=http://x/,header-file=/nonexistent/h", NULL},
     "--upstream: header-file=/nonexistent/h: cannot open: No such file or directory"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,mode=0999", NULL},
     "--listen: mode=0999 is not an octal mode 0000..0777 (e.g. mode=0660)"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,mode=4777", NULL},
     "--listen: mode=4777 is not an octal mode 0000..0777 (e.g. mode=0660)"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,mode=rw", NULL},
     "--listen: mode=rw is not an octal mode 0000..0777 (e.g. mode=0660)"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,mode=", NULL},
     "--listen: mode= is not an octal mode 0000..0777 (e.g. mode=0660)"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,group=no-such-group-rbgw", NULL},
     "--listen: group=no-such-group-rbgw: no such group"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,group=", NULL},
     "--listen: group= is empty (a group name or number, e.g. group=pdns)"},
    {{U, "--listen=unix:path=/tmp/rbgw-t.sock,group=99999999999", NULL},
     "--listen: group=99999999999 is not a group number"},
    {{"--upstream=http:url=http://x:0/", NULL},
     "--upstream: url=http://x:0/: port 0 not in 1..65535"},
    {{"--upstream=pipe:command=/x,timeout=0", NULL}, "--upstream: timeout=0 not in 1..600000"},
    {{"--upstream=pipe:command=/x,timeout=600001", NULL},
     "--upstream: timeout=600001 not in 1..600000"},
    {{"--upstream=pipe:command=/x,timeout=abc", NULL}, "--upstream: timeout=abc is not a number"},
    {{"--upstream=pipe:command=/x,timeout", NULL}, "--upstream: timeout=yes is not a number"},
    {{"--upstream=pipe:command=/x,connect-timeout=0", NULL},
     "--upstream: connect-timeout=0 not in 1..600000"},
    {{"--upstream=pipe:command=/x,idle-timeout=-1", NULL},
     "--upstream: idle-timeout=-1 not in 0..86400000"},
    {{"--upstream=pipe:command=/x,idle-timeout=86400001", NULL},
     "--upstream: idle-timeout=86400001 not in 0..86400000"},
    {{"--upstream=pipe:command=/x,max-conns=0", NULL}, "--upstream: max-conns=0 not in 1..4096"},
    {{"--upstream=pipe:command=/x,max-conns=4097", NULL},
     "--upstream: max-conns=4097 not in 1..4096"},
    {{"--upstream=http:url=http://h/,rest-dialect=3", NULL},
     "--upstream: rest-dialect=3 not in 4..5"},
    {{"--upstream=http:url=http://h/,rest-dialect=6", NULL},
     "--upstream: rest-dialect=6 not in 4..5"},
    {{"--upstream=unix:path=/"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      NULL},
     "--upstream: path=/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa is too long for a unix socket (109 bytes, at most 107)"},
    {{"--listen=unix", U, NULL},
     "--listen: unix listener needs path=... (e.g. unix:path=/run/rbgw.sock)"},
    {{"--listen=http", U, NULL},
     "--listen: http listener needs address=... (e.g. http:address=127.0.0.1:8053)"},
    {{"--listen=http:address=127.0.0.1", U, NULL},
     "--listen: address=127.0.0.1: missing port (expected host:port, e.g. 127.0.0.1:8080)"},
    {{"--listen=http:address=::1:53", U, NULL},
     "--listen: address=::1:53: IPv6 address '::1:53' must be written in brackets, e.g. [::1]"},
    {{"--listen=zeromq", U, NULL},
     "--listen: zeromq listener needs endpoint=... (e.g. zeromq:endpoint=ipc:///run/rbgw.zmq)"},
    {{"--listen=zeromq:endpoint=ipc:///x,session-timeout=9", U, NULL},
     "--listen: session-timeout=9 not in 10..86400000"},
    {{"--listen=zeromq:endpoint=ipc:///x,session-timeout=soon", U, NULL},
     "--listen: session-timeout=soon is not a number"},
    {{"--listen=pipe:squeeze=2", U, NULL}, "--listen: squeeze=2 not in 0..1"},
    {{"--listen=unix:path=/x,max-conns=0", U, NULL}, "--listen: max-conns=0 not in 1..1000000"},
    {{"--listen=http:address=127.0.0.1:8,max-headers=300", U, NULL},
     "--listen: max-headers=300 not in 1..256"},
    {{"--listen=http:address=127.0.0.1:8,header-timeout=5", U, NULL},
     "--listen: header-timeout=5 not in 10..600000"},
    {{"--max-json-depth=201", U, NULL}, "--max-json-depth: '201' is not a whole number in 8..200"},
    {{"--max-inflight=0", U, NULL}, "--max-inflight: '0' is not a whole number in 1..1000000"},
    {{"--listen=udp:port=53", U, NULL},
     "--listen: unknown connector type 'udp' (expected pipe, unix, http or zeromq)"},
    {{"--max-reply-size=1g", U, NULL},
     "--max-reply-size: '1g' is not a size (bytes, or a number with a k or m suffix)"},
    {{U, "--admin=pipe", NULL},
     "--admin: the admin endpoint is http:address=HOST:PORT or unix:path=SOCKET, not pipe"},
    {{U, "--admin=zeromq:endpoint=tcp://127.0.0.1:1", NULL},
     "--admin: the admin endpoint is http:address=HOST:PORT or unix:path=SOCKET, not zeromq"},
    {{U, "--admin=http:port=8054", NULL},
     "--admin: http admin endpoint needs address=... (e.g. http:address=127.0.0.1:8054)"},
    {{U, "--admin=unix:mode=0600", NULL},
     "--admin: unix admin endpoint needs path=... (e.g. unix:path=/run/rbgw/admin.sock)"},
    {{U, "--admin=http:address=127.0.0.1", NULL},
     "--admin: address=127.0.0.1: missing port (expected host:port, e.g. 127.0.0.1:8080)"},
    {{U, "--admin=http:address=127.0.0.1:8054,max-conns=0", NULL},
     "--admin: max-conns=0 not in 1..1024"},
    {{U, "--admin=http:address=127.0.0.1:8054,timeout=5", NULL},
     "--admin: timeout=5 not in 10..600000"},
    {{U, "--admin=unix:path=/x,max-request-size=100", NULL},
     "--admin: max-request-size=100 not in 256..1048576"},
    {{U, "--listen=http:address=127.0.0.1:8053", "--admin=http:address=127.0.0.1:8053", NULL},
     "--admin: admin: address=127.0.0.1:8053 is also where listener http:address=127.0.0.1:8053 "
     "(--listen) takes pdns's calls; the admin endpoint must be apart from them"},
    {{U, "--listen=unix:path=/run/a.sock", "--admin=unix:path=/run/a.sock", NULL},
     "--admin: admin: path=/run/a.sock is also where listener unix:path=/run/a.sock (--listen) "
     "takes pdns's calls; the admin endpoint must be apart from them"},
};

Test(config, cli_errors)
{
    for (size_t i = 0; i < sizeof(cli_err_rows) / sizeof(cli_err_rows[0]); i++) {
        const struct cli_err_row *r = &cli_err_rows[i];
        struct rbgw_config cfg;
        char err[512] = "";
        int rc = load(&cfg, err, sizeof(err), r->args);
        cr_expect_eq(rc, RBGW_ECONFIG, "row %zu (%s): want an error", i,
                     r->args[0] ? r->args[0] : "no args");
        cr_expect_str_eq(err, r->err, "row %zu (%s): error text", i,
                         r->args[0] ? r->args[0] : "no args");
        cr_expect(is_zeroed(&cfg), "row %zu: config zeroed on error", i);
        if (rc == 0) {
            rbgw_config_free(&cfg);
        }
    }
}

struct file_err_row {
    const char *content;
    const char *err; /* "@F" stands for the file's path */
};

static const struct file_err_row file_err_rows[] = {
    {"", "no upstream configured (use upstream=...)"},
    {"# only a comment\nlog-level=debug\n", "no upstream configured (use upstream=...)"},
    {"log-level=debug\nnonsense\n", "@F:2: nonsense: expected key=value"},
    {"\n=foo\n", "@F:2: missing key before '='"},
    {"  +=foo\n", "@F:1: missing key before '='"},
    {"upstreams=pipe:command=/x\n", "@F:1: upstreams: unknown key (did you mean 'upstream'?)"},
    {"--upstream=pipe:command=/x\n", "@F:1: --upstream: unknown key (did you mean 'upstream'?)"},
    {"colour=blue\n", "@F:1: colour: unknown key (see --help)"},
    {"help=yes\n", "@F:1: help: only allowed on the command line (--help)"},
    {"config=/etc/x.conf\n", "@F:1: config: only allowed on the command line (--config)"},
    {"check-config=yes\n", "@F:1: check-config: only allowed on the command line (--check-config)"},
    {"version=yes\n", "@F:1: version: only allowed on the command line (--version)"},
    {"log-level+=debug\n", "@F:1: log-level: += only works for list keys (listen, upstream)"},
    {"log-level=loud\n",
     "@F:1: log-level: unknown level 'loud' (expected error, warning, info or debug)"},
    {"max-reply-size=100\n", "@F:1: max-reply-size: 100 not in 256..1073741824 bytes"},
    {"upstream=pipe:command=/a\nupstream=pipe:command=/b\n",
     "@F:2: upstream: already set at @F:1; write upstream+=... to add another, or remove one"},
    {"upstream+=pipe:command=/a\n\nupstream=pipe:command=/b\n",
     "@F:3: upstream: already set at @F:1; write upstream+=... to add another, or remove one"},
    {"listen=pipe\nlisten=unix:path=/x\n",
     "@F:2: listen: already set at @F:1; write listen+=... to add another, or remove one"},
    {"# c\nupstream=http:url=ftp://x/\n",
     "@F:2: upstream: url=ftp://x/: unsupported URL scheme 'ftp' (expected http:// or https://)"},
    {"upstream=pipe:command=/x,max-conns=5000\n", "@F:1: upstream: max-conns=5000 not in 1..4096"},
    {"upstream = tcp:x # comment\n",
     "@F:1: upstream: unknown connector type 'tcp' (expected pipe, unix, http or zeromq)"},
    {"upstream=\n", "@F:1: upstream: empty connection string (expected TYPE:OPTIONS, e.g. "
                    "pipe:command=/path/to/responder)"},
    {"listen=unix\nupstream=pipe:command=/x\n",
     "@F:1: listen: unix listener needs path=... (e.g. unix:path=/run/rbgw.sock)"},
};

Test(config, file_errors)
{
    for (size_t i = 0; i < sizeof(file_err_rows) / sizeof(file_err_rows[0]); i++) {
        const struct file_err_row *r = &file_err_rows[i];
        char name[32], path[256], cfgarg[300], want[1024], err[1024] = "";
        snprintf(name, sizeof(name), "err%zu.conf", i);
        write_file(name, r->content, path, sizeof(path));
        snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
        expand(r->err, path, want, sizeof(want));
        const char *args[] = {cfgarg, NULL};
        struct rbgw_config cfg;
        int rc = load(&cfg, err, sizeof(err), args);
        cr_expect_eq(rc, RBGW_ECONFIG, "row %zu: want an error", i);
        cr_expect_str_eq(err, want, "row %zu: error text", i);
        cr_expect(is_zeroed(&cfg), "row %zu: config zeroed on error", i);
        if (rc == 0) {
            rbgw_config_free(&cfg);
        }
    }
}

Test(config, file_error_beats_cli_and_cli_is_checked_after_file)
{
    char path[256], cfgarg[300], want[512], err[512] = "";
    write_file("bad.conf", "upstream=pipe:command=/a\nlog-level=x\n", path, sizeof(path));
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    const char *args[] = {"--log-level=debug", cfgarg, NULL};
    struct rbgw_config cfg;
    cr_expect_eq(load(&cfg, err, sizeof(err), args), RBGW_ECONFIG);
    expand("@F:2: log-level: unknown level 'x' (expected error, warning, info or debug)", path,
           want, sizeof(want));
    cr_expect_str_eq(err, want, "the file is read before the command line is applied");
}

Test(config, last_config_option_wins)
{
    char p1[256], p2[256], a1[300], a2[300], err[512] = "";
    write_file("one.conf", "upstream=pipe:command=/one\n", p1, sizeof(p1));
    write_file("two.conf", "upstream=pipe:command=/two\n", p2, sizeof(p2));
    snprintf(a1, sizeof(a1), "--config=%s", p1);
    snprintf(a2, sizeof(a2), "--config=%s", p2);
    const char *args[] = {a1, a2, NULL};
    struct rbgw_config cfg;
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    cr_expect_str_eq(cfg.config_file, p2);
    cr_assert_eq(cfg.nupstreams, 1);
    cr_expect_str_eq(rbgw_connstr_get(&cfg.upstreams[0].cs, "command"), "/two");
    rbgw_config_free(&cfg);
}

Test(config, unreadable_config_is_reported)
{
    char err[512] = "", want[512], arg[300];
    /* a directory opens but cannot be read */
    snprintf(arg, sizeof(arg), "--config=%s", tmpdir);
    const char *args[] = {arg, NULL};
    struct rbgw_config cfg;
    cr_expect_eq(load(&cfg, err, sizeof(err), args), RBGW_ECONFIG);
    snprintf(want, sizeof(want), "--config: cannot read %s: Is a directory", tmpdir);
    cr_expect_str_eq(err, want);
    cr_expect(is_zeroed(&cfg));
}

Test(config, log_level_names)
{
    cr_expect_str_eq(rbgw_log_level_name(RBGW_LOG_ERROR), "error");
    cr_expect_str_eq(rbgw_log_level_name(RBGW_LOG_WARN), "warning");
    cr_expect_str_eq(rbgw_log_level_name(RBGW_LOG_INFO), "info");
    cr_expect_str_eq(rbgw_log_level_name(RBGW_LOG_DEBUG), "debug");

    static const char *const names[] = {"error", "warning", "info", "debug"};
    for (size_t i = 0; i < 4; i++) {
        char arg[64], err[512] = "";
        snprintf(arg, sizeof(arg), "--log-level=%s", names[i]);
        const char *args[] = {U, arg, NULL};
        struct rbgw_config cfg;
        cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s: %s", names[i], err);
        cr_expect_str_eq(rbgw_log_level_name(cfg.log_level), names[i]);
        rbgw_config_free(&cfg);
    }
}

/* admin= is off by default, takes the two forms, and the last one (or an empty one) wins. */
Test(config, admin_endpoint)
{
    struct rbgw_config cfg;
    char err[512] = "";
    const char *off[] = {U, NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), off), 0, "%s", err);
    cr_expect_null(cfg.admin.text, "admin= must be off unless set");
    rbgw_config_free(&cfg);

    char path[256];
    write_file("admin.conf", "upstream=pipe:command=/bin/cat\nadmin=unix:path=/run/rbgw/a.sock\n",
               path, sizeof(path));
    char cfgarg[300];
    snprintf(cfgarg, sizeof(cfgarg), "--config=%s", path);
    const char *file_only[] = {cfgarg, NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), file_only), 0, "%s", err);
    cr_expect_str_eq(cfg.admin.text, "unix:path=/run/rbgw/a.sock");
    cr_expect_eq(cfg.admin.cs.transport, RBGW_TRANSPORT_UNIX);
    rbgw_config_free(&cfg);

    const char *cli_wins[] = {cfgarg, "--admin=http:address=127.0.0.1:8054,max-conns=2", NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), cli_wins), 0, "%s", err);
    cr_expect_str_eq(cfg.admin.text, "http:address=127.0.0.1:8054,max-conns=2");
    cr_expect_str_eq(cfg.admin.origin, "--admin");
    cr_expect_str_eq(rbgw_connstr_get(&cfg.admin.cs, "max-conns"), "2");
    rbgw_config_free(&cfg);

    const char *cli_off[] = {cfgarg, "--admin=", NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), cli_off), 0, "%s", err);
    cr_expect_null(cfg.admin.text, "an empty --admin= must turn the file's one off");
    rbgw_config_free(&cfg);

    /* Apart from the listeners: another port, or the same port on another address, is fine. */
    const char *apart[] = {U, "--listen=http:address=127.0.0.1:8053",
                           "--admin=http:address=127.0.0.1:8054", NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), apart), 0, "%s", err);
    rbgw_config_free(&cfg);
    const char *other_host[] = {U, "--listen=http:address=127.0.0.1:8053",
                                "--admin=http:address=127.0.0.2:8053", NULL};
    cr_assert_eq(load(&cfg, err, sizeof(err), other_host), 0, "%s", err);
    rbgw_config_free(&cfg);
}

Test(config, log_format_and_access_log)
{
    static const struct {
        const char *args[3];
        const char *env;
        enum rbgw_log_format format;
        bool access;
    } rows[] = {
        {{"--log-format=json", NULL}, NULL, RBGW_LOG_JSON, false},
        {{"--log-format=text", "--access-log", NULL}, NULL, RBGW_LOG_TEXT, true},
        {{"--access-log=no", NULL}, "RBGW_ACCESS_LOG=yes", RBGW_LOG_TEXT, false},
        {{NULL}, "RBGW_LOG_FORMAT=json", RBGW_LOG_JSON, false},
        {{NULL}, "RBGW_ACCESS_LOG=on", RBGW_LOG_TEXT, true},
        {{"--log-format=text", NULL}, "RBGW_LOG_FORMAT=json", RBGW_LOG_TEXT, false},
    };
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        char *argv[4] = {"rbgw", "--upstream=pipe:command=/bin/cat"};
        int argc = 2;
        for (size_t k = 0; rows[i].args[k]; k++) {
            argv[argc++] = (char *)rows[i].args[k];
        }
        char *envp[] = {(char *)rows[i].env, NULL};
        struct rbgw_config cfg;
        char err[512] = "";
        cr_assert_eq(rbgw_config_load_env(&cfg, argc, argv, envp, err, sizeof(err)), 0,
                     "row %zu: %s", i, err);
        cr_expect_eq(cfg.log_format, rows[i].format, "row %zu", i);
        cr_expect_eq(cfg.access_log, rows[i].access, "row %zu", i);
        rbgw_config_free(&cfg);
    }
    cr_expect_str_eq(rbgw_log_format_name(RBGW_LOG_TEXT), "text");
    cr_expect_str_eq(rbgw_log_format_name(RBGW_LOG_JSON), "json");
}

Test(config, usage_lists_every_key)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    rbgw_config_usage(f);
    long len = ftell(f);
    cr_assert_gt(len, 0);
    char *text = calloc(1, (size_t)len + 1);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);

    static const char *const needles[] = {
        "--config=FILE",
        "--listen=CONNSTR",
        "--upstream=CONNSTR",
        "--log-level=LEVEL",
        "--max-request-size=BYTES",
        "--max-reply-size=BYTES",
        "--max-conn-buffer=BYTES",
        "--write-timeout=N",
        "--check-config",
        "--admin=CONNSTR",
        "max-request-size=8192",
        "--help",
        "--version",
        "default: pipe",
        "default: info",
        "default: 1048576",
        "default: 16777216",
        "timeout=1500",
        "connect-timeout=1000",
        "idle-timeout=60000",
        "max-conns=8",
        "rest-dialect=5",
        "(1..600000)",
        "(0..86400000)",
        "(1..4096)",
        "(4..5)",
        "unix:path=SOCKET",
        "http:address=HOST:PORT",
        "zeromq:endpoint=ENDPOINT",
        "pipe:command=PROGRAM",
        "http:url=http://",
        "rbgw --listen=pipe --upstream=http:url=http://127.0.0.1:8080/dns,timeout=1500",
        "remote-connection-string=pipe:command=/usr/bin/rbgw --config=/etc/rbgw/rbgw.conf",
        "splits its connection string on commas",
        "RBGW_<KEY>",
        "RBGW_LOG_LEVEL=debug",
        "RBGW_CONFIG names the file",
    };
    for (size_t i = 0; i < sizeof(needles) / sizeof(needles[0]); i++) {
        cr_expect_not_null(strstr(text, needles[i]), "usage lacks '%s'", needles[i]);
    }
    /* no line of the help is wider than 100 columns */
    size_t col = 0;
    for (const char *p = text; *p; p++) {
        col = *p == '\n' ? 0 : col + 1;
        cr_expect_leq(col, 100, "help line too long near: %.40s", p - col + 1);
        if (col > 100) {
            break;
        }
    }
    free(text);
}

Test(config, example_configs_load)
{
    glob_t g;
    cr_assert_eq(glob(RBGW_SOURCE_DIR "/config/*.conf", 0, NULL, &g), 0, "no config/*.conf");
    size_t loaded = 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i];
        const char *base = strrchr(p, '/') + 1;
        if (strncmp(base, "pdns-", 5) == 0) {
            continue; /* pdns.conf snippets, not rbgw configs */
        }
        char arg[1024], err[512] = "";
        snprintf(arg, sizeof(arg), "--config=%s", p);
        const char *args[] = {arg, NULL};
        struct rbgw_config cfg;
        int rc = load(&cfg, err, sizeof(err), args);
        cr_expect_eq(rc, 0, "%s: %s", base, err);
        if (rc == 0) {
            cr_expect_geq(cfg.nupstreams, 1, "%s: has an upstream", base);
            cr_expect_geq(cfg.nlisteners, 1, "%s: has a listener", base);
            rbgw_config_free(&cfg);
        }
        loaded++;
    }
    globfree(&g);
    cr_expect_geq(loaded, 2, "expected at least config/rbgw.conf and pipe-to-http-post.conf");
}

Test(config, pdns_snippet_launches_rbgw_as_pipe_coprocess)
{
    FILE *f = fopen(RBGW_SOURCE_DIR "/config/pdns-pipe.conf", "r");
    cr_assert_not_null(f, "config/pdns-pipe.conf: %s", strerror(errno));
    char line[1024];
    bool launch = false, conn = false;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strcmp(line, "launch=remote\n") == 0) {
            launch = true;
        }
        if (strncmp(line, "remote-connection-string=pipe:command=/", 39) == 0 &&
            strstr(line, " --config=/") != NULL) {
            conn = true;
            /* pdns splits the connection string on ',': the command must not contain one */
            char *cmd = line + strlen("remote-connection-string=pipe:command=");
            char *comma = strchr(cmd, ',');
            char *cfg = strstr(cmd, "--config=");
            cr_expect(comma == NULL || comma > cfg, "no comma inside the rbgw command line");
        }
    }
    fclose(f);
    cr_expect(launch, "pdns-pipe.conf has launch=remote");
    cr_expect(conn, "pdns-pipe.conf runs rbgw with --config=");
}

/* Collects rbgw_config_warnings' texts. */
struct warnings {
    char text[4][600]; /* the first four */
    size_t n;          /* how many were emitted */
};

static void
collect_warning(void *ctx, const char *text)
{
    struct warnings *w = ctx;
    if (w->n < 4) {
        snprintf(w->text[w->n], sizeof(w->text[0]), "%s", text);
    }
    w->n++;
}

Test(config, timeout_above_deadline_is_a_warning_naming_upstream_timeout_and_deadline)
{
    static const struct {
        const char *args[4]; /* after "rbgw" */
        size_t warnings;     /* expected count */
        const char *text;    /* the first one, exactly, or NULL */
    } rows[] = {
        /* the defaults: timeout 1500 < deadline 1800 */
        {{U, NULL}, 0, NULL},
        /* equal: the timeout still applies as written */
        {{U ",timeout=1800", NULL}, 0, NULL},
        {{U ",timeout=8000,name=slow", NULL},
         1,
         "upstream slow (--upstream): timeout=8000 ms is above deadline=1800 ms, so its calls "
         "are answered false after at most 1800 ms; keep timeout below deadline, and deadline "
         "below pdns's own timeout (2000 ms by default)"},
        /* the default timeout against a short deadline; unnamed upstreams by position */
        {{"--deadline=1000", U, "--upstream+=pipe:command=/bin/cat,timeout=900", NULL},
         1,
         "upstream pipe#1 (--upstream): timeout=1500 ms is above deadline=1000 ms, so its "
         "calls "
         "are answered false after at most 1000 ms; keep timeout below deadline, and deadline "
         "below pdns's own timeout (2000 ms by default)"},
        {{"--deadline=100", U, "--upstream+=pipe:command=/bin/cat", NULL}, 2, NULL},
    };
    for (size_t i = 0; i < RBGW_NELEM(rows); i++) {
        struct rbgw_config cfg;
        char err[512];
        cr_assert_eq(load(&cfg, err, sizeof(err), rows[i].args), 0, "row %zu: %s", i, err);
        struct warnings w = {.n = 0};
        size_t n = rbgw_config_warnings(&cfg, collect_warning, &w);
        cr_expect_eq(n, rows[i].warnings, "row %zu: %zu warnings", i, n);
        cr_expect_eq(w.n, n, "row %zu: returned %zu, emitted %zu", i, n, w.n);
        if (rows[i].text) {
            cr_expect_str_eq(w.text[0], rows[i].text, "row %zu", i);
        }
        rbgw_config_free(&cfg);
    }
}

/*
 * The environment layer (RBGW_<KEY>), through rbgw_config_load_env so that each row brings its
 * own environment.  "@F" in env values, args and expectations stands for the row's file, which
 * is written only when the row has content for it.
 */
struct env_row {
    const char *name;
    const char *env[5];  /* NAME=value, NULL-terminated */
    const char *args[4]; /* after "rbgw" (and --config=@F when file is set) */
    const char *file;    /* config file content, or NULL for none */
    const char *ups;     /* upstream commands joined by ' ' */
    const char *origins; /* upstream origins joined by '|' */
    const char *listens; /* listener texts joined by ' ' */
    enum rbgw_log_level level;
    const char *shown; /* cfg->env joined by '|' (what --check-config prints) */
};

static const struct env_row env_rows[] = {
    {"upstream from env",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"scalar from env, value trimmed",
     {"RBGW_LOG_LEVEL=  debug \t", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_DEBUG,
     "RBGW_UPSTREAM=pipe:command=/e|RBGW_LOG_LEVEL=debug"},
    {"list of lines, blank lines skipped",
     {"RBGW_UPSTREAM=pipe:command=/a\n  pipe:command=/b \r\n\n", NULL},
     {NULL},
     NULL,
     "/a /b",
     "RBGW_UPSTREAM line 1|RBGW_UPSTREAM line 2",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/a\\n  pipe:command=/b"},
    {"listen from env",
     {"RBGW_LISTEN=unix:path=/run/rbgw/rbgw.sock", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "unix:path=/run/rbgw/rbgw.sock",
     RBGW_LOG_INFO,
     "RBGW_LISTEN=unix:path=/run/rbgw/rbgw.sock|RBGW_UPSTREAM=pipe:command=/e"},
    {"file scalar beats env",
     {"RBGW_LOG_LEVEL=debug", NULL},
     {NULL},
     "log-level=error\nupstream=pipe:command=/f\n",
     "/f",
     "@F:2",
     "pipe",
     RBGW_LOG_ERROR,
     "RBGW_LOG_LEVEL=debug (overridden by @F:1)"},
    {"cli scalar beats env",
     {"RBGW_LOG_LEVEL=debug", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {"--log-level=warning", NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_WARN,
     "RBGW_UPSTREAM=pipe:command=/e|RBGW_LOG_LEVEL=debug (overridden by --log-level)"},
    {"file key= replaces the env list",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     "upstream=pipe:command=/f\nupstream+=pipe:command=/g\n",
     "/f /g",
     "@F:1|@F:2",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e (overridden by @F:1)"},
    {"file key+= extends the env list",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     "upstream+=pipe:command=/f\nupstream+=pipe:command=/g\n",
     "/e /f /g",
     "RBGW_UPSTREAM|@F:1|@F:2",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"cli --key+= extends the env list",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {"--upstream+=pipe:command=/c", NULL},
     NULL,
     "/e /c",
     "RBGW_UPSTREAM|--upstream",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"cli --key= replaces the env list",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {"--upstream=pipe:command=/c", NULL},
     NULL,
     "/c",
     "--upstream",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e (overridden by --upstream)"},
    {"env list, file extends, cli extends",
     {"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {"--upstream+=pipe:command=/c", NULL},
     "upstream+=pipe:command=/f\n",
     "/e /f /c",
     "RBGW_UPSTREAM|@F:1|--upstream",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"RBGW_CONFIG names the file",
     {"RBGW_CONFIG=@F", "RBGW_LOG_LEVEL=debug", NULL},
     {NULL},
     "upstream=pipe:command=/f\n",
     "/f",
     "@F:1",
     "pipe",
     RBGW_LOG_DEBUG,
     "RBGW_CONFIG=@F|RBGW_LOG_LEVEL=debug"},
    {"--config beats RBGW_CONFIG",
     {"RBGW_CONFIG=/nonexistent/rbgw.conf", NULL},
     {NULL},
     "upstream=pipe:command=/f\n",
     "/f",
     "@F:1",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_CONFIG=/nonexistent/rbgw.conf (overridden by --config)"},
    {"empty means unset",
     {"RBGW_LOG_LEVEL=", "RBGW_LISTEN= \n ", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"other RBGW_ variables are not rbgw's",
     {"RBGW_BIN=/x", "RBGW_SOURCE_DIR=/src", "RBGW_TEST_IO_MS=5", "RBGW_UPSTREAM=pipe:command=/e",
      NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"not RBGW_ at all",
     {"RBGW=debug", "RBGW_=x", "XRBGW_LOG_LEVEL=debug", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
    {"first of a duplicated variable, as getenv",
     {"RBGW_UPSTREAM=pipe:command=/e", "RBGW_UPSTREAM=pipe:command=/x", NULL},
     {NULL},
     NULL,
     "/e",
     "RBGW_UPSTREAM",
     "pipe",
     RBGW_LOG_INFO,
     "RBGW_UPSTREAM=pipe:command=/e"},
};

static void
join_origins(const struct rbgw_config *cfg, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->nupstreams && n < outlen; i++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "|" : "", cfg->upstreams[i].origin);
    }
}

static void
join_env(const struct rbgw_config *cfg, char *out, size_t outlen)
{
    size_t n = 0;
    out[0] = '\0';
    for (size_t i = 0; i < cfg->nenv && n < outlen; i++) {
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", i ? "|" : "", cfg->env[i]);
    }
}

/* Expand "@F" in a row's env, args and file into owned copies; argv starts with "rbgw". */
struct env_case {
    char path[256];
    char env[5][512];
    char *envp[6];
    char args[6][512];
    char *argv[7];
    int argc;
};

static void
env_case_build(struct env_case *c, const char *const *env, const char *const *args,
               const char *file, size_t row)
{
    char name[32];
    c->path[0] = '\0';
    if (file != NULL) {
        snprintf(name, sizeof(name), "env%zu.conf", row);
        write_file(name, file, c->path, sizeof(c->path));
    }
    size_t n = 0;
    for (; env[n] != NULL; n++) {
        expand(env[n], c->path, c->env[n], sizeof(c->env[n]));
        c->envp[n] = c->env[n];
    }
    c->envp[n] = NULL;
    c->argc = 0;
    c->argv[c->argc++] = "rbgw";
    bool names_file = false;
    for (size_t i = 0; env[i] != NULL; i++) {
        names_file |= strncmp(env[i], "RBGW_CONFIG=@F", 14) == 0;
    }
    if (file != NULL && !names_file) {
        snprintf(c->args[5], sizeof(c->args[5]), "--config=%s", c->path);
        c->argv[c->argc++] = c->args[5];
    }
    for (size_t i = 0; args[i] != NULL; i++) {
        expand(args[i], c->path, c->args[i], sizeof(c->args[i]));
        c->argv[c->argc++] = c->args[i];
    }
    c->argv[c->argc] = NULL;
}

Test(config, environment_layer)
{
    for (size_t i = 0; i < RBGW_NELEM(env_rows); i++) {
        const struct env_row *r = &env_rows[i];
        struct env_case c;
        env_case_build(&c, r->env, r->args, r->file, i);
        struct rbgw_config cfg;
        char err[512] = "", got[1024], want[1024];
        int rc = rbgw_config_load_env(&cfg, c.argc, c.argv, c.envp, err, sizeof(err));
        cr_expect_eq(rc, 0, "row '%s': %s", r->name, err);
        if (rc != 0) {
            continue;
        }
        join_upstreams(&cfg, got, sizeof(got));
        cr_expect_str_eq(got, r->ups, "row '%s': upstreams", r->name);
        join_origins(&cfg, got, sizeof(got));
        expand(r->origins, c.path, want, sizeof(want));
        cr_expect_str_eq(got, want, "row '%s': origins", r->name);
        join_listeners(&cfg, got, sizeof(got));
        cr_expect_str_eq(got, r->listens, "row '%s': listeners", r->name);
        cr_expect_eq(cfg.log_level, r->level, "row '%s': log level", r->name);
        join_env(&cfg, got, sizeof(got));
        expand(r->shown, c.path, want, sizeof(want));
        cr_expect_str_eq(got, want, "row '%s': env shown", r->name);
        rbgw_config_free(&cfg);
        cr_expect(is_zeroed(&cfg), "row '%s': free zeroes", r->name);
    }
}

struct env_scalar_row {
    const char *var;
    size_t request, reply;
    uint32_t deadline, budget;
    size_t conn_buffer;
    uint32_t write_timeout;
};

static const struct env_scalar_row env_scalar_rows[] = {
    {"RBGW_MAX_REQUEST_SIZE=64k", 65536, 16777216, 1800, 20, 1048576, 10000},
    {"RBGW_MAX_REPLY_SIZE=2m", 1048576, 2097152, 1800, 20, 1048576, 10000},
    {"RBGW_DEADLINE=900", 1048576, 16777216, 900, 20, 1048576, 10000},
    {"RBGW_RETRY_BUDGET=0", 1048576, 16777216, 1800, 0, 1048576, 10000},
    {"RBGW_MAX_CONN_BUFFER=64k", 1048576, 16777216, 1800, 20, 65536, 10000},
    {"RBGW_WRITE_TIMEOUT=0", 1048576, 16777216, 1800, 20, 1048576, 0},
};

Test(config, environment_scalars)
{
    for (size_t i = 0; i < RBGW_NELEM(env_scalar_rows); i++) {
        const struct env_scalar_row *r = &env_scalar_rows[i];
        char *envp[] = {(char *)r->var, "RBGW_UPSTREAM=pipe:command=/e", NULL};
        char *argv[] = {"rbgw", NULL};
        struct rbgw_config cfg;
        char err[512] = "";
        cr_assert_eq(rbgw_config_load_env(&cfg, 1, argv, envp, err, sizeof(err)), 0, "%s: %s",
                     r->var, err);
        cr_expect_eq(cfg.max_request_size, r->request, "%s", r->var);
        cr_expect_eq(cfg.max_reply_size, r->reply, "%s", r->var);
        cr_expect_eq(cfg.deadline_ms, r->deadline, "%s", r->var);
        cr_expect_eq(cfg.retry_budget, r->budget, "%s", r->var);
        cr_expect_eq(cfg.max_conn_buffer, r->conn_buffer, "%s", r->var);
        cr_expect_eq(cfg.write_timeout_ms, r->write_timeout, "%s", r->var);
        rbgw_config_free(&cfg);
    }
}

struct env_err_row {
    const char *env[4];
    const char *args[3];
    const char *file; /* NULL: none */
    const char *err;  /* "@F" stands for the file's path */
};

static const struct env_err_row env_err_rows[] = {
    {{"RBGW_LOG_LEVEL=loud", NULL},
     {NULL},
     NULL,
     "RBGW_LOG_LEVEL: unknown level 'loud' (expected error, warning, info or debug)"},
    {{"RBGW_UPSTREAM=tcp:host=x", NULL},
     {NULL},
     NULL,
     "RBGW_UPSTREAM: unknown connector type 'tcp' (expected pipe, unix, http or zeromq)"},
    {{"RBGW_UPSTREAM=pipe:command=/a\npipe", NULL},
     {NULL},
     NULL,
     "RBGW_UPSTREAM line 2: pipe upstream needs command=... (e.g. "
     "pipe:command=/usr/bin/responder)"},
    {{"RBGW_LISTEN=unix", "RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "RBGW_LISTEN: unix listener needs path=... (e.g. unix:path=/run/rbgw.sock)"},
    {{"RBGW_MAX_REPLY_SIZE=1g", NULL},
     {NULL},
     NULL,
     "RBGW_MAX_REPLY_SIZE: '1g' is not a size (bytes, or a number with a k or m suffix)"},
    {{"RBGW_DEADLINE=0", NULL},
     {NULL},
     NULL,
     "RBGW_DEADLINE: '0' is not a whole number in 1..600000"},
    {{"RBGW_HELP=yes", NULL}, {NULL}, NULL, "RBGW_HELP: only allowed on the command line (--help)"},
    {{"RBGW_CHECK_CONFIG=yes", NULL},
     {NULL},
     NULL,
     "RBGW_CHECK_CONFIG: only allowed on the command line (--check-config)"},
    {{"RBGW_UPSTREAMS=pipe:command=/e", NULL},
     {NULL},
     NULL,
     "RBGW_UPSTREAMS: unknown variable (did you mean RBGW_UPSTREAM?)"},
    {{"RBGW_LOGLEVEL=debug", NULL},
     {NULL},
     NULL,
     "RBGW_LOGLEVEL: unknown variable (did you mean RBGW_LOG_LEVEL?)"},
    {{"RBGW_log_level=debug", NULL},
     {NULL},
     NULL,
     "RBGW_log_level: unknown variable (did you mean RBGW_LOG_LEVEL?)"},
    {{"RBGW_MAX-REPLY-SIZE=1m", NULL},
     {NULL},
     NULL,
     "RBGW_MAX-REPLY-SIZE: unknown variable (did you mean RBGW_MAX_REPLY_SIZE?)"},
    {{"RBGW_CONFIG=/nonexistent/rbgw.conf", NULL},
     {NULL},
     NULL,
     "RBGW_CONFIG: cannot open /nonexistent/rbgw.conf: No such file or directory"},
    {{"RBGW_UPSTREAM=tcp:x", NULL},
     {"--upstream=pipe:command=/c", NULL},
     NULL,
     "RBGW_UPSTREAM: unknown connector type 'tcp' (expected pipe, unix, http or zeromq)"},
    {{"RBGW_LOG_LEVEL=loud", NULL},
     {NULL},
     "log-level=louder\n",
     "RBGW_LOG_LEVEL: unknown level 'loud' (expected error, warning, info or debug)"},
    {{"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     "upstream=pipe:command=/f\nupstream=pipe:command=/g\n",
     "@F:2: upstream: already set at @F:1; write upstream+=... to add another, or remove one"},
    {{"RBGW_UPSTREAM=pipe:command=/e", NULL},
     {NULL},
     "upstream+=pipe:command=/f\nupstream=pipe:command=/g\n",
     "@F:2: upstream: already set at @F:1; write upstream+=... to add another, or remove one"},
};

Test(config, environment_errors)
{
    for (size_t i = 0; i < RBGW_NELEM(env_err_rows); i++) {
        const struct env_err_row *r = &env_err_rows[i];
        struct env_case c;
        env_case_build(&c, r->env, r->args, r->file, 100 + i);
        struct rbgw_config cfg;
        char err[512] = "", want[1024];
        int rc = rbgw_config_load_env(&cfg, c.argc, c.argv, c.envp, err, sizeof(err));
        expand(r->err, c.path, want, sizeof(want));
        cr_expect_eq(rc, RBGW_ECONFIG, "row %zu (%s): want an error", i, r->env[0]);
        cr_expect_str_eq(err, want, "row %zu (%s): error text", i, r->env[0]);
        cr_expect(is_zeroed(&cfg), "row %zu: config zeroed on error", i);
        if (rc == 0) {
            rbgw_config_free(&cfg);
        }
    }
}

Test(config, load_reads_the_process_environment)
{
    cr_assert_eq(setenv("RBGW_LOG_LEVEL", "debug", 1), 0);
    cr_assert_eq(setenv("RBGW_UPSTREAM", "pipe:command=/e", 1), 0);
    const char *args[] = {NULL};
    struct rbgw_config cfg;
    char err[512] = "";
    cr_assert_eq(load(&cfg, err, sizeof(err), args), 0, "%s", err);
    cr_expect_eq(cfg.log_level, RBGW_LOG_DEBUG);
    cr_expect_str_eq(cfg.upstreams[0].origin, "RBGW_UPSTREAM");
    rbgw_config_free(&cfg);
    cr_assert_eq(setenv("RBGW_LOG_LEVEL", "loud", 1), 0);
    cr_expect_eq(load(&cfg, err, sizeof(err), args), RBGW_ECONFIG);
    cr_expect_str_eq(err, "RBGW_LOG_LEVEL: unknown level 'loud' (expected error, warning, info or "
                          "debug)");
}

/* The text rbgw_config_man_keys / _upstream_opts / _admin_opts write, NUL-terminated (caller
 * frees). */
static char *
man_text(int which)
{
    FILE *f = tmpfile();
    cr_assert_not_null(f);
    if (which == 4) {
        rbgw_config_man_listener_opts(f);
    } else if (which == 2) {
        rbgw_config_man_upstream_opts(f);
    } else if (which == 3) {
        rbgw_config_man_admin_opts(f);
    } else {
        rbgw_config_man_keys(f, which == 1);
    }
    long len = ftell(f);
    char *text = calloc(1, (size_t)len + 1);
    rewind(f);
    cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    return text;
}

Test(config, man_pages_list_what_help_lists)
{
    char *cli = man_text(0), *file = man_text(1), *ups = man_text(2);
    static const char *const in_cli[] = {
        ".TP\n\\fB\\-\\-upstream\\fR=\\fICONNSTR\\fR\nwhere rbgw sends the calls",
        "A list: upstream+= adds an entry.\nEnvironment: \\fBRBGW_UPSTREAM\\fR.\n",
        "\\fB\\-\\-log\\-level\\fR=\\fILEVEL\\fR\n",
        "Default: info.\nEnvironment: \\fBRBGW_LOG_LEVEL\\fR.\n",
        "\\fB\\-\\-max\\-request\\-size\\fR=\\fIBYTES\\fR\n",
        ("\\fB\\-\\-config\\fR=\\fIFILE\\fR\nconfiguration file of key=value lines.\n"
         "Command line only.\nEnvironment: \\fBRBGW_CONFIG\\fR.\n"),
        ("\\fB\\-\\-check\\-config\\fR\nvalidate the configuration, print a summary and exit.\n"
         "Command line only.\n.TP"),
    };
    for (size_t i = 0; i < RBGW_NELEM(in_cli); i++) {
        cr_expect_not_null(strstr(cli, in_cli[i]), "rbgw(8) lacks \"%s\" in:\n%s", in_cli[i], cli);
    }
    cr_expect_not_null(strstr(file, ".TP\n\\fBupstream\\fR=\\fICONNSTR\\fR\n"));
    cr_expect_not_null(strstr(file, ".TP\n\\fBretry\\-budget\\fR=\\fIN\\fR\n"));
    cr_expect_null(strstr(file, "check\\-config"), "rbgw.conf(5) lists command-line-only keys");
    cr_expect_null(strstr(file, "RBGW_CONFIG"), "rbgw.conf(5) lists config=");
    for (const char *p = cli; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (*p == '.' || *p == '\'') {
            cr_expect_eq(strncmp(p, ".TP\n", 4), 0, "a line that troff takes as a request: %.30s",
                         p);
        }
    }
    cr_expect_not_null(strstr(ups, ".TP\n\\fBtimeout\\fR=\\fIN\\fR\nms for a whole call"));
    cr_expect_not_null(strstr(ups, "Default: 1500, range 1 to 600000.\n"));
    cr_expect_not_null(strstr(ups, "\\fBhealth\\-interval\\fR"));
    char *adm = man_text(3);
    cr_expect_not_null(
        strstr(adm, ".TP\n\\fBmax\\-conns\\fR=\\fIN\\fR\nadmin connections at once"));
    cr_expect_not_null(strstr(adm, "Default: 5000, range 10 to 600000.\n"));
    cr_expect_not_null(strstr(adm, "\\fBmax\\-request\\-size\\fR"));
    cr_expect_not_null(strstr(file, ".TP\n\\fBadmin\\fR=\\fICONNSTR\\fR\n"));
    cr_expect_not_null(strstr(file, ".TP\n\\fBmax\\-inflight\\fR=\\fIN\\fR\n"));
    cr_expect_not_null(strstr(file, "Environment: \\fBRBGW_MAX_JSON_ELEMENTS\\fR.\n"));
    char *lis = man_text(4);
    cr_expect_not_null(strstr(lis, ".TP\n\\fBheader\\-timeout\\fR=\\fIN\\fR (http)\nms for a "
                                   "request line and headers"),
                       "%s", lis);
    cr_expect_not_null(strstr(lis, "\\fBmax\\-conns\\fR=\\fIN\\fR (unix)\n"), "%s", lis);
    cr_expect_not_null(strstr(lis, "Default: 256, range 1 to 1000000.\n"), "%s", lis);
    free(lis);
    free(adm);
    free(cli);
    free(file);
    free(ups);
}
