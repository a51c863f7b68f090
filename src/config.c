/*
 * config.c: command line + pdns-style config file -> struct rbgw_config.
 *
 * One const schema table (`opts[]`, below) drives everything: which keys exist, their type,
 * where they land in struct rbgw_config (offsetof), their default, their bounds, whether they
 * are lists or command-line only, and the --help text.  Adding a key is adding a row (and a
 * field), as with twemproxy's conf_commands[] and redis's static_configs[].
 *
 * Loading runs in passes so that precedence is a property of the order, not of flags:
 *
 *   argv  --collect-->  cli[] (syntax checked, keys resolved, nothing applied yet)
 *                          |  the last --config=FILE (else RBGW_CONFIG) names the file
 *   defaults  -->  RBGW_* environment  -->  FILE lines top to bottom  -->  cli[] left to right
 *
 * The environment is for containers: every key that the file takes is also read from
 * RBGW_<KEY> (upper case, '-' -> '_'), in table order, so errors come out in a fixed order.  A
 * list variable holds one entry per line.  Each layer treats the lists of the layers below it
 * alike: a plain key=value replaces them, key+=value extends them.  So a list key (listen,
 * upstream) from the command line replaces the file's and the environment's list when any
 * --key=value for it is present, and otherwise (only --key+=value) extends it; the file's first
 * `upstream=` replaces RBGW_UPSTREAM's entries, `upstream+=` adds to them.  Within the file a
 * second plain `upstream=` would silently drop the first (pdns's "last wins"), which is never
 * what a user listing two upstreams means, so it is an error pointing at `upstream+=`.
 * Variables applied are kept in cfg->env, marked when a higher layer overrides them, for
 * --check-config.  An RBGW_ variable that is no key is ignored (tools use RBGW_BIN and the
 * like), unless its name is a near miss of a key's, which is refused as the typo it is.
 *
 * Every connection string is parsed and checked when it is applied, so errors come out in
 * reading order and each one names its place: "FILE:LINE: key: problem" or "--key: problem".
 * The module is pure: no logging, no I/O except reading the config file and what it names
 * (an http upstream's header files and TLS certificates are loaded to check them, a unix
 * listener's group= is looked up), so --check-config finds what a start would.
 */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "rbgw/config.h"
#include "rbgw/httphdr.h"
#include "rbgw/tls.h"
#include "rbgw/url.h"

enum opt_type {
    OPT_PATH,     /* a file name; stored as an owned char * */
    OPT_LISTEN,   /* connection string of a listener; appended to a rbgw_endpoint_conf array */
    OPT_UPSTREAM, /* connection string of an upstream; ditto */
    OPT_LEVEL,    /* enum rbgw_log_level by name */
    OPT_LOGFMT,   /* enum rbgw_log_format by name */
    OPT_SIZE,     /* size_t bytes, optional k/K or m/M suffix, bounded by min..max */
    OPT_BOOL,     /* bool: yes/no, true/false, on/off, 1/0 */
    OPT_NAMED,    /* NAME:key=value,... (pool=, route=); checked by the router; a list */
    OPT_UINT,     /* uint32_t, plain decimal, bounded by min..max */
    OPT_ADMIN,    /* the admin endpoint's connection string: one rbgw_endpoint_conf; "" = off */
};

#define F_LIST 0x1u     /* value is an array; `key+=value` appends */
#define F_CLI_ONLY 0x2u /* refused in the config file (and in the environment, unless F_ENV) */
#define F_ENV 0x4u      /* F_CLI_ONLY, but RBGW_<KEY> is read all the same */

struct opt {
    const char *name;            /* key as written in the file and after "--" */
    enum opt_type type;          /* how the value is parsed */
    size_t off;                  /* offsetof the field in struct rbgw_config */
    size_t noff;                 /* F_LIST: offsetof the element count */
    const char *def;             /* default as it would be written; NULL = none */
    unsigned long long min, max; /* OPT_SIZE bounds */
    unsigned flags;              /* F_LIST, F_CLI_ONLY */
    const char *help;            /* one line for --help */
};

#define CFG(f) offsetof(struct rbgw_config, f)

static const struct opt opts[] = {
    {"config", OPT_PATH, CFG(config_file), 0, NULL, 0, 0, F_CLI_ONLY | F_ENV,
     "configuration file of key=value lines"},
    {"listen", OPT_LISTEN, CFG(listeners), CFG(nlisteners), "pipe", 0, 0, F_LIST,
     "where pdns connects to rbgw (a connection string; one per listener)"},
    {"upstream", OPT_UPSTREAM, CFG(upstreams), CFG(nupstreams), NULL, 0, 0, F_LIST,
     "where rbgw sends the calls (a connection string; at least one)"},
    {"pool", OPT_NAMED, CFG(pools), CFG(npools), NULL, 0, 0, F_LIST,
     "fan-out pool: NAME:upstreams=a+b,policy=P,read=R,write=W"},
    {"route", OPT_NAMED, CFG(routes), CFG(nroutes), NULL, 0, 0, F_LIST,
     "CLASS:pool=NAME[,zone=Z], CLASS reads|writes|all"},
    {"deadline", OPT_UINT, CFG(deadline_ms), 0, "1800", 1, 600000, 0,
     "ms to answer any call, retries included (< pdns's timeout)"},
    {"retry-budget", OPT_UINT, CFG(retry_budget), 0, "20", 0, 100, 0,
     "retries allowed, in percent of calls (at least 3/s)"},
    {"admin", OPT_ADMIN, CFG(admin), 0, NULL, 0, 0, 0,
     "metrics/status endpoint: http:address=HOST:PORT or unix:path=SOCKET"},
    {"log-level", OPT_LEVEL, CFG(log_level), 0, "info", 0, 0, 0,
     "error, warning, info or debug (logs go to stderr)"},
    {"log-format", OPT_LOGFMT, CFG(log_format), 0, "text", 0, 0, 0,
     "text, or json: one JSON object per line"},
    {"access-log", OPT_BOOL, CFG(access_log), 0, "no", 0, 0, 0,
     "one info line per call answered (method, upstream, outcome, time)"},
    {"max-request-size", OPT_SIZE, CFG(max_request_size), 0, "1048576", 256, 1073741824, 0,
     "bytes (k, m suffixes); a larger request from pdns gets a false reply"},
    {"max-reply-size", OPT_SIZE, CFG(max_reply_size), 0, "16777216", 256, 1073741824, 0,
     "bytes (k, m suffixes); a larger upstream reply becomes a false reply"},
    {"max-conn-buffer", OPT_SIZE, CFG(max_conn_buffer), 0, "1048576", 4096, 1073741824, 0,
     "bytes (k, m suffixes) buffered per connection before reading pauses"},
    {"write-timeout", OPT_UINT, CFG(write_timeout_ms), 0, "10000", 0, 3600000, 0,
     "ms a reply may stay unread by a socket client, then close; 0 = never"},
    {"max-inflight", OPT_UINT, CFG(max_inflight), 0, "4096", 1, 1000000, 0,
     "calls in flight at once; a call beyond is answered false at once"},
    {"max-json-depth", OPT_UINT, CFG(json_limits.max_depth), 0, "200", 8, 200, 0,
     "nesting levels of a call or reply (deeper: false); at most 200"},
    {"max-json-elements", OPT_UINT, CFG(json_limits.max_elements), 0, "4000000", 1000, 1000000000,
     0, "values in a call or reply (more: false)"},
    {"cache-ttl", OPT_UINT, CFG(cache_ttl_ms), 0, "0", 0, 3600000, 0,
     "ms a read's successful reply answers identical reads; 0 = no cache"},
    {"cache-size", OPT_SIZE, CFG(cache_size), 0, "67108864", 65536, 68719476736ULL, 0,
     "bytes (k, m suffixes) the read cache may hold, least recently used out"},
    {"cache-per-client", OPT_BOOL, CFG(cache_per_client), 0, "yes", 0, 0, 0,
     "lookup's client address is part of the cache key (default yes)"},
    {"coalesce", OPT_BOOL, CFG(coalesce), 0, "no", 0, 0, 0,
     "identical reads in flight share one upstream call (default no)"},
    {"check-config", OPT_BOOL, CFG(check_config), 0, "no", 0, 0, F_CLI_ONLY,
     "validate the configuration, print a summary and exit"},
    {"help", OPT_BOOL, CFG(help), 0, "no", 0, 0, F_CLI_ONLY, "print this text and exit"},
    {"version", OPT_BOOL, CFG(version), 0, "no", 0, 0, F_CLI_ONLY, "print the version and exit"},
};

static const char *const level_names[] = {
    [RBGW_LOG_ERROR] = "error",
    [RBGW_LOG_WARN] = "warning",
    [RBGW_LOG_INFO] = "info",
    [RBGW_LOG_DEBUG] = "debug",
};

/* Where a value came from: a file line, an environment variable, or the command line. */
struct place {
    const char *file; /* config path as given, or NULL for the environment and argv */
    unsigned line;    /* 1-based line number in file, or in a multi-line variable; else 0 */
    const char *env;  /* variable name ("RBGW_UPSTREAM") when from the environment, else NULL */
};

/* One --key[+]=value from argv, resolved but not yet applied. */
struct cli_arg {
    const struct opt *opt; /* row in opts[] */
    bool append;           /* written with += */
    const char *value;     /* borrowed from argv (or the literal "yes") */
};

#define NOPTS RBGW_NELEM(opts)
#define NONE SIZE_MAX

struct loader {
    struct rbgw_config *cfg; /* being filled */
    char *err;               /* caller's error buffer */
    size_t errlen;           /* its size */
    size_t env_at[NOPTS];    /* per key: its entry in cfg->env, or NONE */
    size_t file_at[NOPTS];   /* per list key: index of the file's first entry in it, or NONE */
};

static const char *const format_names[] = {
    [RBGW_LOG_TEXT] = "text",
    [RBGW_LOG_JSON] = "json",
};

const char *
rbgw_log_level_name(enum rbgw_log_level l)
{
    if ((unsigned)l < RBGW_NELEM(level_names)) {
        return level_names[l];
    }
    return "?";
}

const char *
rbgw_log_format_name(enum rbgw_log_format f)
{
    if ((unsigned)f < RBGW_NELEM(format_names)) {
        return format_names[f];
    }
    return "?";
}

static int fail(struct loader *ld, const struct place *pl, const char *key, const char *fmt, ...)
    RBGW_PRINTF(4, 5);

/* Format "FILE:LINE: key: problem", "RBGW_KEY: problem" or "--key: problem" into the
 * caller's buffer. */
static int
fail(struct loader *ld, const struct place *pl, const char *key, const char *fmt, ...)
{
    int n;
    if (pl->file != NULL) {
        n = snprintf(ld->err, ld->errlen, "%s:%u: %s: ", pl->file, pl->line, key);
    } else if (pl->env != NULL && pl->line > 0) {
        n = snprintf(ld->err, ld->errlen, "%s line %u: ", pl->env, pl->line);
    } else if (pl->env != NULL) {
        n = snprintf(ld->err, ld->errlen, "%s: ", pl->env);
    } else {
        n = snprintf(ld->err, ld->errlen, "--%s: ", key);
    }
    if (n >= 0 && (size_t)n < ld->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return RBGW_ECONFIG;
}

static const struct opt *
find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        if (strlen(opts[i].name) == len && memcmp(opts[i].name, name, len) == 0) {
            return &opts[i];
        }
    }
    return NULL;
}

/* Levenshtein distance, capped: names are short, so a 2-row table is plenty. */
static size_t
edit_distance(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    size_t row[64], prev[64];
    if (alen >= RBGW_NELEM(row) || blen >= RBGW_NELEM(row)) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= blen; j++) {
        prev[j] = j;
    }
    for (size_t i = 1; i <= alen; i++) {
        row[0] = i;
        for (size_t j = 1; j <= blen; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = row[j - 1] + 1;
            row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, row, (blen + 1) * sizeof(row[0]));
    }
    return prev[blen];
}

/* The known key closest to name, if it is a plausible typo (distance <= 2), else NULL. */
static const char *
suggest(const char *name, size_t len)
{
    const char *best = NULL;
    size_t bestd = 3;
    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        size_t d = edit_distance(name, len, opts[i].name);
        if (d < bestd) {
            bestd = d;
            best = opts[i].name;
        }
    }
    return best;
}

static struct rbgw_endpoint_conf **
list_of(struct rbgw_config *cfg, const struct opt *o, size_t **n)
{
    *n = (size_t *)((char *)cfg + o->noff);
    return (struct rbgw_endpoint_conf **)((char *)cfg + o->off);
}

void
rbgw_endpoint_conf_copy(struct rbgw_endpoint_conf *dst, const struct rbgw_endpoint_conf *src)
{
    rbgw_connstr_copy(&dst->cs, &src->cs);
    dst->text = rbgw_xstrdup(src->text);
    dst->raw = rbgw_xstrdup(src->raw);
    dst->origin = rbgw_xstrdup(src->origin);
}

void
rbgw_endpoint_conf_free(struct rbgw_endpoint_conf *ec)
{
    rbgw_connstr_free(&ec->cs);
    free(ec->text);
    free(ec->raw);
    free(ec->origin);
    memset(ec, 0, sizeof(*ec));
}

const char *
rbgw_listener_address(const struct rbgw_endpoint_conf *ec)
{
    switch (ec->cs.transport) {
    case RBGW_TRANSPORT_UNIX:
        return rbgw_connstr_get(&ec->cs, "path");
    case RBGW_TRANSPORT_HTTP:
        return rbgw_connstr_get(&ec->cs, "address");
    case RBGW_TRANSPORT_ZEROMQ:
        return rbgw_connstr_get(&ec->cs, "endpoint");
    case RBGW_TRANSPORT_PIPE:
    case RBGW_TRANSPORT_NONE:
        break;
    }
    return NULL;
}

static void
free_list(struct rbgw_endpoint_conf *eps, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        rbgw_endpoint_conf_free(&eps[i]);
    }
    free(eps);
}

static void
clear_list(struct rbgw_config *cfg, const struct opt *o)
{
    size_t *n;
    struct rbgw_endpoint_conf **eps = list_of(cfg, o, &n);
    free_list(*eps, *n);
    *eps = NULL;
    *n = 0;
}

/* An option that must be present and non-empty; NULL (after reporting) when it is not. */
static const char *
need(struct loader *ld, const struct place *pl, const char *key, const struct rbgw_connstr *cs,
     const char *role, const char *opt, const char *example)
{
    const char *v = rbgw_connstr_get(cs, opt);
    if (v == NULL || *v == '\0') {
        fail(ld, pl, key, "%s %s needs %s=... (e.g. %s)", rbgw_transport_name(cs->transport), role,
             opt, example);
        return NULL;
    }
    return v;
}

static int
check_unix_path(struct loader *ld, const struct place *pl, const char *key, const char *path)
{
    struct sockaddr_un sun;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        return fail(ld, pl, key, "path=%s is too long for a unix socket (%zu bytes, at most %zu)",
                    path, strlen(path), sizeof(sun.sun_path) - 1);
    }
    return 0;
}

int
rbgw_config_unix_perm(const struct rbgw_connstr *cs, struct rbgw_unix_perm *out, char *err,
                      size_t errlen)
{
    const char *m = rbgw_connstr_get(cs, "mode");
    const char *g = rbgw_connstr_get(cs, "group");
    out->mode = 0660;
    out->gid = -1;
    out->group = g;
    if (m != NULL) {
        size_t n = strlen(m);
        if (n == 0 || n > 4 || strspn(m, "01234567") != n || strtoul(m, NULL, 8) > 0777) {
            snprintf(err, errlen, "mode=%s is not an octal mode 0000..0777 (e.g. mode=0660)", m);
            return RBGW_ECONFIG;
        }
        out->mode = (unsigned)strtoul(m, NULL, 8);
    }
    if (g == NULL) {
        return 0;
    }
    if (*g == '\0') {
        snprintf(err, errlen, "group= is empty (a group name or number, e.g. group=pdns)");
        return RBGW_ECONFIG;
    }
    if (strspn(g, "0123456789") == strlen(g)) {
        errno = 0;
        unsigned long id = strtoul(g, NULL, 10);
        if (errno != 0 || id > 0x7fffffffUL) {
            snprintf(err, errlen, "group=%s is not a group number", g);
            return RBGW_ECONFIG;
        }
        out->gid = (long)id;
        return 0;
    }
    struct group gr, *res = NULL;
    char buf[4096];
    int rc = getgrnam_r(g, &gr, buf, sizeof(buf), &res);
    if (res == NULL) {
        snprintf(err, errlen, "group=%s: %s", g, rc != 0 ? strerror(rc) : "no such group");
        return RBGW_ECONFIG;
    }
    out->gid = (long)gr.gr_gid;
    return 0;
}

bool
rbgw_config_upstream_reads_files(const struct rbgw_endpoint_conf *ec)
{
    const char *url = rbgw_connstr_get(&ec->cs, "url");
    return ec->cs.transport == RBGW_TRANSPORT_HTTP &&
           (rbgw_connstr_count(&ec->cs, "header-file") > 0 ||
            (url != NULL && strncasecmp(url, "https://", 8) == 0));
}

/* Per-transport checks of a listener's connection string. */
static int
check_listener(struct loader *ld, const struct place *pl, const char *key,
               const struct rbgw_connstr *cs)
{
    char why[256];
    const char *v;
    switch (cs->transport) {
    case RBGW_TRANSPORT_PIPE:
        break;
    case RBGW_TRANSPORT_UNIX: {
        if ((v = need(ld, pl, key, cs, "listener", "path", "unix:path=/run/rbgw.sock")) == NULL ||
            check_unix_path(ld, pl, key, v) != 0) {
            return RBGW_ECONFIG;
        }
        struct rbgw_unix_perm perm;
        if (rbgw_config_unix_perm(cs, &perm, why, sizeof(why)) != 0) {
            return fail(ld, pl, key, "%s", why);
        }
        break;
    }
    case RBGW_TRANSPORT_HTTP: {
        if ((v = need(ld, pl, key, cs, "listener", "address", "http:address=127.0.0.1:8053")) ==
            NULL) {
            return RBGW_ECONFIG;
        }
        struct rbgw_url u;
        if (rbgw_hostport_parse(v, &u, why, sizeof(why)) != 0) {
            return fail(ld, pl, key, "address=%s: %s", v, why);
        }
        rbgw_url_free(&u);
        break;
    }
    case RBGW_TRANSPORT_ZEROMQ:
        if (need(ld, pl, key, cs, "listener", "endpoint", "zeromq:endpoint=ipc:///run/rbgw.zmq") ==
            NULL) {
            return RBGW_ECONFIG;
        }
        break;
    case RBGW_TRANSPORT_NONE:
        return fail(ld, pl, key, "unknown transport");
    }

    long n;
#define CHECK_INT(tr, name, def, min, max, help)                                                   \
    if (cs->transport == (tr) &&                                                                   \
        rbgw_connstr_get_int(cs, name, def, min, max, &n, why, sizeof(why)) != 0) {                \
        return fail(ld, pl, key, "%s", why);                                                       \
    }
    RBGW_LISTENER_INT_OPTS(CHECK_INT)
#undef CHECK_INT
    return 0;
}

/*
 * An http upstream's extra headers and TLS settings, checked the way the upstream will use
 * them: header files are read and every header is vetted (httphdr.c), and for https:// the TLS
 * context is built (certificate files loaded), so --check-config finds what a start would.
 */
static int
check_http_security(const struct rbgw_connstr *cs, const struct rbgw_url *u, char *why,
                    size_t whylen)
{
    if (!u->tls) {
        for (size_t i = 0; i < cs->nopts; i++) {
            if (rbgw_tls_is_option(cs->opts[i].key)) {
                snprintf(why, whylen, "%s= needs an https:// url", cs->opts[i].key);
                return RBGW_ECONFIG;
            }
        }
    }
    struct rbgw_buf hdrs = RBGW_BUF_INIT;
    int rc = rbgw_httphdr_build(cs, &hdrs, why, whylen);
    rbgw_buf_free(&hdrs);
    if (rc == 0 && u->tls) {
        /* Cheap after the first upstream trusting the same CA file (xprt_tls.c shares it). */
        struct rbgw_tls_ctx *t;
        rc = rbgw_tls_ctx_new(cs, u->host, &t, why, whylen);
        rbgw_tls_ctx_free(t);
    }
    return rc;
}

static char *
origin_of(const struct place *pl, const char *key)
{
    char buf[512];
    if (pl->file != NULL) {
        snprintf(buf, sizeof(buf), "%s:%u", pl->file, pl->line);
    } else if (pl->env != NULL && pl->line > 0) {
        snprintf(buf, sizeof(buf), "%s line %u", pl->env, pl->line);
    } else if (pl->env != NULL) {
        snprintf(buf, sizeof(buf), "%s", pl->env);
    } else if (key != NULL) {
        snprintf(buf, sizeof(buf), "--%s", key);
    } else {
        snprintf(buf, sizeof(buf), "default");
    }
    return rbgw_xstrdup(buf);
}

/* The admin endpoint: http:address=HOST:PORT or unix:path=SOCKET, then its numeric options. */
static int
check_admin(struct loader *ld, const struct place *pl, const char *key,
            const struct rbgw_connstr *cs)
{
    char why[256];
    const char *v;
    switch (cs->transport) {
    case RBGW_TRANSPORT_UNIX:
        if ((v = need(ld, pl, key, cs, "admin endpoint", "path",
                      "unix:path=/run/rbgw/admin.sock")) == NULL ||
            check_unix_path(ld, pl, key, v) != 0) {
            return RBGW_ECONFIG;
        }
        break;
    case RBGW_TRANSPORT_HTTP: {
        if ((v = need(ld, pl, key, cs, "admin endpoint", "address",
                      "http:address=127.0.0.1:8054")) == NULL) {
            return RBGW_ECONFIG;
        }
        struct rbgw_url u;
        if (rbgw_hostport_parse(v, &u, why, sizeof(why)) != 0) {
            return fail(ld, pl, key, "address=%s: %s", v, why);
        }
        rbgw_url_free(&u);
        break;
    }
    default:
        return fail(ld, pl, key,
                    "the admin endpoint is http:address=HOST:PORT or unix:path=SOCKET, not %s",
                    cs->type);
    }
    long n;
#define CHECK_INT(name, def, min, max, help)                                                       \
    if (rbgw_connstr_get_int(cs, name, def, min, max, &n, why, sizeof(why)) != 0) {                \
        return fail(ld, pl, key, "%s", why);                                                       \
    }
    RBGW_ADMIN_INT_OPTS(CHECK_INT)
#undef CHECK_INT
    return 0;
}

/* admin=VALUE: replaces an earlier one; an empty value turns the endpoint off. */
static int
set_admin(struct loader *ld, const struct opt *o, const char *value, const struct place *pl)
{
    struct rbgw_endpoint_conf *ep = &ld->cfg->admin;
    struct rbgw_connstr cs = {0};
    char why[256];
    if (*value != '\0') {
        if (rbgw_connstr_parse(value, &cs, why, sizeof(why)) != 0) {
            return fail(ld, pl, o->name, "%s", why);
        }
        if (check_admin(ld, pl, o->name, &cs) != 0) {
            rbgw_connstr_free(&cs);
            return RBGW_ECONFIG;
        }
    }
    rbgw_connstr_free(&ep->cs);
    free(ep->text);
    free(ep->origin);
    memset(ep, 0, sizeof(*ep));
    if (*value != '\0') {
        ep->cs = cs;
        ep->text = rbgw_xstrdup(value);
        ep->origin = origin_of(pl, o->name);
    }
    return 0;
}

/*
 * The admin endpoint must not be where pdns talks to rbgw: the same http address or unix path
 * as a listener is refused at load rather than left to a bind error (or, for a unix socket, to
 * one of the two replacing the other's file).
 */
static int
check_admin_apart(struct loader *ld)
{
    const struct rbgw_endpoint_conf *ad = &ld->cfg->admin;
    if (ad->text == NULL) {
        return 0;
    }
    const char *key = ad->cs.transport == RBGW_TRANSPORT_HTTP ? "address" : "path";
    const char *mine = rbgw_connstr_get(&ad->cs, key);
    struct rbgw_url a = {0};
    if (ad->cs.transport == RBGW_TRANSPORT_HTTP &&
        rbgw_hostport_parse(mine, &a, ld->err, ld->errlen) != 0) {
        return RBGW_ECONFIG;
    }
    int rc = 0;
    for (size_t i = 0; i < ld->cfg->nlisteners && rc == 0; i++) {
        const struct rbgw_endpoint_conf *l = &ld->cfg->listeners[i];
        const char *theirs = rbgw_connstr_get(&l->cs, key);
        if (l->cs.transport != ad->cs.transport || theirs == NULL) {
            continue;
        }
        bool same = strcmp(mine, theirs) == 0;
        struct rbgw_url b = {0};
        char why[256];
        if (!same && ad->cs.transport == RBGW_TRANSPORT_HTTP &&
            rbgw_hostport_parse(theirs, &b, why, sizeof(why)) == 0) {
            same = strcmp(a.hostport, b.hostport) == 0;
        }
        rbgw_url_free(&b);
        if (same) {
            snprintf(ld->err, ld->errlen,
                     "%s: admin: %s=%s is also where listener %s (%s) takes pdns's calls; the "
                     "admin endpoint must be apart from them",
                     ad->origin, key, mine, l->text, l->origin);
            rc = RBGW_ECONFIG;
        }
    }
    rbgw_url_free(&a);
    return rc;
}

/* Per-transport checks of an upstream's connection string, then its numeric options. */
static int
check_upstream(struct loader *ld, const struct place *pl, const char *key,
               const struct rbgw_connstr *cs)
{
    char why[256];
    const char *v;
    switch (cs->transport) {
    case RBGW_TRANSPORT_PIPE:
        if (need(ld, pl, key, cs, "upstream", "command", "pipe:command=/usr/bin/responder") ==
            NULL) {
            return RBGW_ECONFIG;
        }
        break;
    case RBGW_TRANSPORT_UNIX:
        if ((v = need(ld, pl, key, cs, "upstream", "path", "unix:path=/run/responder.sock")) ==
            NULL) {
            return RBGW_ECONFIG;
        }
        if (check_unix_path(ld, pl, key, v) != 0) {
            return RBGW_ECONFIG;
        }
        break;
    case RBGW_TRANSPORT_HTTP: {
        if ((v = need(ld, pl, key, cs, "upstream", "url", "http:url=http://127.0.0.1:8080/dns")) ==
            NULL) {
            return RBGW_ECONFIG;
        }
        struct rbgw_url u;
        if (rbgw_url_parse(v, &u, why, sizeof(why)) != 0) {
            return fail(ld, pl, key, "url=%s: %s", v, why);
        }
        int rc = check_http_security(cs, &u, why, sizeof(why));
        rbgw_url_free(&u);
        if (rc != 0) {
            return fail(ld, pl, key, "%s", why);
        }
        break;
    }
    case RBGW_TRANSPORT_ZEROMQ:
        if (need(ld, pl, key, cs, "upstream", "endpoint", "zeromq:endpoint=tcp://127.0.0.1:5555") ==
            NULL) {
            return RBGW_ECONFIG;
        }
        break;
    case RBGW_TRANSPORT_NONE:
        return fail(ld, pl, key, "unknown transport");
    }

    long n;
#define CHECK_INT(name, def, min, max, help)                                                       \
    if (rbgw_connstr_get_int(cs, name, def, min, max, &n, why, sizeof(why)) != 0) {                \
        return fail(ld, pl, key, "%s", why);                                                       \
    }
    RBGW_UPSTREAM_INT_OPTS(CHECK_INT)
#undef CHECK_INT
    return 0;
}

static int
add_endpoint(struct loader *ld, const struct opt *o, const char *value, const struct place *pl,
             const char *origin_key)
{
    char why[256];
    struct rbgw_connstr cs;
    int rc = o->type == OPT_NAMED ? rbgw_connstr_parse_named(value, &cs, why, sizeof(why))
                                  : rbgw_connstr_parse(value, &cs, why, sizeof(why));
    if (rc != 0) {
        return fail(ld, pl, o->name, "%s", why);
    }
    rc = o->type == OPT_LISTEN     ? check_listener(ld, pl, o->name, &cs)
         : o->type == OPT_UPSTREAM ? check_upstream(ld, pl, o->name, &cs)
                                   : 0;
    if (rc != 0) {
        rbgw_connstr_free(&cs);
        return rc;
    }
    size_t *n;
    struct rbgw_endpoint_conf **eps = list_of(ld->cfg, o, &n);
    *eps = rbgw_xrealloc(*eps, (*n + 1) * sizeof(**eps));
    struct rbgw_endpoint_conf *ep = &(*eps)[*n];
    ep->cs = cs;
    ep->text = rbgw_connstr_masked(value);
    ep->raw = rbgw_xstrdup(value);
    ep->origin = origin_of(pl, origin_key);
    (*n)++;
    return 0;
}

static int
parse_size(struct loader *ld, const struct opt *o, const char *v, const struct place *pl,
           size_t *out)
{
    unsigned long long n = 0, mult = 1;
    const char *p = v;
    if (*p < '0' || *p > '9') {
        goto bad;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        n = n * 10 + (unsigned long long)(*p - '0');
        if (n > o->max) {
            /* keep scanning for syntax, but the range check below will refuse it */
            n = o->max + 1;
        }
    }
    if (*p == 'k' || *p == 'K') {
        mult = 1024;
        p++;
    } else if (*p == 'm' || *p == 'M') {
        mult = 1024 * 1024;
        p++;
    }
    if (*p != '\0') {
        goto bad;
    }
    if (n > o->max / mult || n * mult < o->min) {
        return fail(ld, pl, o->name, "%s not in %llu..%llu bytes", v, o->min, o->max);
    }
    *out = (size_t)(n * mult);
    return 0;
bad:
    return fail(ld, pl, o->name, "'%s' is not a size (bytes, or a number with a k or m suffix)", v);
}

/* Apply one value to the field of o; for lists, append (the caller handles replacing). */
static int
apply(struct loader *ld, const struct opt *o, const char *v, const struct place *pl)
{
    void *field = (char *)ld->cfg + o->off;
    switch (o->type) {
    case OPT_PATH:
        if (*v == '\0') {
            return fail(ld, pl, o->name, "needs a file name");
        }
        free(*(char **)field);
        *(char **)field = rbgw_xstrdup(v);
        return 0;
    case OPT_LISTEN:
    case OPT_UPSTREAM:
    case OPT_NAMED:
        return add_endpoint(ld, o, v, pl, o->name);
    case OPT_ADMIN:
        return set_admin(ld, o, v, pl);
    case OPT_UINT: {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || n < o->min || n > o->max) {
            return fail(ld, pl, o->name, "'%s' is not a whole number in %llu..%llu", v, o->min,
                        o->max);
        }
        *(uint32_t *)field = (uint32_t)n;
        return 0;
    }
    case OPT_LEVEL:
        for (size_t i = 0; i < RBGW_NELEM(level_names); i++) {
            if (strcmp(v, level_names[i]) == 0) {
                *(enum rbgw_log_level *)field = (enum rbgw_log_level)i;
                return 0;
            }
        }
        return fail(ld, pl, o->name, "unknown level '%s' (expected error, warning, info or debug)",
                    v);
    case OPT_LOGFMT:
        for (size_t i = 0; i < RBGW_NELEM(format_names); i++) {
            if (strcmp(v, format_names[i]) == 0) {
                *(enum rbgw_log_format *)field = (enum rbgw_log_format)i;
                return 0;
            }
        }
        return fail(ld, pl, o->name, "unknown format '%s' (expected text or json)", v);
    case OPT_SIZE:
        return parse_size(ld, o, v, pl, (size_t *)field);
    case OPT_BOOL:
        if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1")) {
            *(bool *)field = true;
            return 0;
        }
        if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0")) {
            *(bool *)field = false;
            return 0;
        }
        return fail(ld, pl, o->name, "'%s' is not yes or no", v);
    }
    return fail(ld, pl, o->name, "unhandled option type");
}

static void
unknown_key(struct loader *ld, const struct place *pl, const char *key, size_t klen)
{
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)(klen < 100 ? klen : 100), key);
    const char *near = suggest(key, klen);
    const char *what = pl->file ? "unknown key" : "unknown option";
    if (near != NULL) {
        fail(ld, pl, name, pl->file ? "%s (did you mean '%s'?)" : "%s (did you mean --%s?)", what,
             near);
    } else {
        fail(ld, pl, name, "%s (see --help)", what);
    }
}

/* Pass 1: check the syntax of every argument and resolve its key; apply nothing. */
static int
collect_cli(struct loader *ld, int argc, char **argv, struct cli_arg *out, size_t *nout)
{
    static const struct place cli = {NULL, 0, NULL};
    *nout = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (a[0] != '-' || a[1] != '-' || a[2] == '\0' || a[2] == '=') {
            snprintf(ld->err, ld->errlen, "unexpected argument '%s'%s", a,
                     a[0] == '-' ? " (options are written --key=value)" : "");
            return RBGW_ECONFIG;
        }
        const char *key = a + 2;
        const char *eq = strchr(key, '=');
        size_t klen = eq ? (size_t)(eq - key) : strlen(key);
        bool append = false;
        if (eq != NULL && klen > 0 && key[klen - 1] == '+') {
            append = true;
            klen--;
        }
        const struct opt *o = find_opt(key, klen);
        if (o == NULL) {
            unknown_key(ld, &cli, key, klen);
            return RBGW_ECONFIG;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL) {
            if (o->type != OPT_BOOL) {
                return fail(ld, &cli, o->name,
                            "needs a value: write --%s=VALUE (--%s VALUE is not supported)",
                            o->name, o->name);
            }
            value = "yes";
        }
        if (append && !(o->flags & F_LIST)) {
            return fail(ld, &cli, o->name, "+= only works for list keys (listen, upstream)");
        }
        out[*nout].opt = o;
        out[*nout].append = append;
        out[*nout].value = value;
        (*nout)++;
    }
    return 0;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Trim [*p, *p + *n) in place (as a view). */
static void
trim(char **p, size_t *n)
{
    while (*n > 0 && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && is_space((*p)[*n - 1])) {
        (*n)--;
    }
}

/* Mark the environment's value of o, if any, as overridden by the value at pl. */
static void
env_overridden(struct loader *ld, const struct opt *o, const struct place *pl)
{
    size_t k = (size_t)(o - opts);
    size_t e = ld->env_at[k];
    if (e == NONE) {
        return;
    }
    ld->env_at[k] = NONE;
    char *by = origin_of(pl, o->name);
    char *old = ld->cfg->env[e];
    size_t len = strlen(old) + strlen(by) + 32;
    char *marked = rbgw_xmalloc(len);
    snprintf(marked, len, "%s (overridden by %s)", old, by);
    free(old);
    free(by);
    ld->cfg->env[e] = marked;
}

/* "RBGW_" + the key in upper case with '-' -> '_': log-level -> RBGW_LOG_LEVEL. */
static void
env_name(const char *key, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "RBGW_");
    for (const char *p = key; *p && n + 1 < outlen; p++) {
        out[n++] = *p == '-' ? '_' : (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
    }
    out[n] = '\0';
}

/* The value of NAME in envp (the first one, as getenv), or NULL. */
static const char *
env_lookup(char **envp, const char *name)
{
    size_t len = strlen(name);
    for (char **e = envp; *e != NULL; e++) {
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=') {
            return *e + len + 1;
        }
    }
    return NULL;
}

/* Keep "NAME=value" in cfg->env for --check-config, line breaks shown as "\n". */
static size_t
env_record(struct rbgw_config *cfg, const char *name, const char *value)
{
    size_t len = strlen(name) + 1 + 2 * strlen(value) + 1, n = 0;
    char *text = rbgw_xmalloc(len);
    n = (size_t)snprintf(text, len, "%s=", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\n') {
            text[n++] = '\\';
            text[n++] = 'n';
        } else {
            text[n++] = *p;
        }
    }
    text[n] = '\0';
    cfg->env = rbgw_xrealloc(cfg->env, (cfg->nenv + 1) * sizeof(*cfg->env));
    cfg->env[cfg->nenv] = text;
    return cfg->nenv++;
}

/* Apply RBGW_<KEY>=value: a scalar as one value, a list as one entry per non-blank line. */
static int
apply_env(struct loader *ld, const struct opt *o, const char *name, const char *raw)
{
    char *copy = rbgw_xstrdup(raw);
    char *v = copy;
    size_t n = strlen(v);
    int rc = 0;
    trim(&v, &n);
    v[n] = '\0';
    if (n == 0) {
        goto out; /* empty means unset, as an unset ${VAR} in a compose file gives */
    }
    struct place pl = {NULL, 0, name};
    if ((o->flags & F_CLI_ONLY) && !(o->flags & F_ENV)) {
        rc = fail(ld, &pl, o->name, "only allowed on the command line (--%s)", o->name);
        goto out;
    }
    ld->env_at[o - opts] = env_record(ld->cfg, name, v);
    if (!(o->flags & F_LIST)) {
        rc = apply(ld, o, v, &pl);
        goto out;
    }
    bool several = strchr(v, '\n') != NULL;
    unsigned line = 0;
    for (char *next, *p = v; p != NULL; p = next) {
        next = strchr(p, '\n');
        if (next != NULL) {
            *next++ = '\0';
        }
        line++;
        size_t len = strlen(p);
        trim(&p, &len);
        p[len] = '\0';
        if (len == 0) {
            continue;
        }
        pl.line = several ? line : 0;
        if ((rc = apply(ld, o, p, &pl)) != 0) {
            goto out;
        }
    }
out:
    free(copy);
    return rc;
}

/* The environment layer: every key's RBGW_<KEY> in table order, then the near misses. */
static int
load_env(struct loader *ld, char **envp)
{
    char name[64];
    int rc;
    if (envp == NULL) {
        return 0;
    }
    for (size_t k = 0; k < NOPTS; k++) {
        env_name(opts[k].name, name, sizeof(name));
        const char *v = env_lookup(envp, name);
        if (v != NULL && (rc = apply_env(ld, &opts[k], name, v)) != 0) {
            return rc;
        }
    }
    for (char **e = envp; *e != NULL; e++) {
        const char *eq = strchr(*e, '=');
        size_t len = eq ? (size_t)(eq - *e) : strlen(*e);
        char key[64];
        if (len <= 5 || len - 5 >= sizeof(key) || strncmp(*e, "RBGW_", 5) != 0) {
            continue;
        }
        for (size_t i = 5; i < len; i++) {
            char c = (*e)[i];
            key[i - 5] = c == '_' ? '-' : (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
        }
        key[len - 5] = '\0';
        const struct opt *o = find_opt(key, len - 5);
        const char *near = o ? o->name : suggest(key, len - 5);
        if (near == NULL) {
            continue; /* not meant for rbgw's configuration */
        }
        env_name(near, name, sizeof(name));
        if (strlen(name) != len || strncmp(*e, name, len) != 0) {
            snprintf(ld->err, ld->errlen, "%.*s: unknown variable (did you mean %s?)",
                     (int)(len < 64 ? len : 64), *e, name);
            return RBGW_ECONFIG;
        }
    }
    return 0;
}

/* One line of the file: NUL-terminated, newline still attached. */
static int
apply_line(struct loader *ld, char *line, const struct place *pl)
{
    /* '#' starts a comment at the start of the line or after whitespace, so that a URL's
     * "#fragment" or a value like "a#b" survives. */
    for (char *h = line; (h = strchr(h, '#')) != NULL; h++) {
        if (h == line || is_space(h[-1])) {
            *h = '\0';
            break;
        }
    }
    char *p = line;
    size_t n = strlen(line);
    trim(&p, &n);
    if (n == 0) {
        return 0;
    }
    p[n] = '\0';

    char *eq = strchr(p, '=');
    if (eq == NULL) {
        return fail(ld, pl, p, "expected key=value");
    }
    char *key = p;
    size_t klen = (size_t)(eq - p);
    bool append = false;
    if (klen > 0 && key[klen - 1] == '+') {
        append = true;
        klen--;
    }
    trim(&key, &klen);
    if (klen == 0) {
        snprintf(ld->err, ld->errlen, "%s:%u: missing key before '='", pl->file, pl->line);
        return RBGW_ECONFIG;
    }
    key[klen] = '\0';
    char *value = eq + 1;
    size_t vlen = strlen(value);
    trim(&value, &vlen);
    value[vlen] = '\0';

    const struct opt *o = find_opt(key, klen);
    if (o == NULL) {
        unknown_key(ld, pl, key, klen);
        return RBGW_ECONFIG;
    }
    if (o->flags & F_CLI_ONLY) {
        return fail(ld, pl, o->name, "only allowed on the command line (--%s)", o->name);
    }
    if (append && !(o->flags & F_LIST)) {
        return fail(ld, pl, o->name, "+= only works for list keys (listen, upstream)");
    }
    size_t k = (size_t)(o - opts);
    if (o->flags & F_LIST) {
        size_t *cnt;
        struct rbgw_endpoint_conf **eps = list_of(ld->cfg, o, &cnt);
        if (!append && ld->file_at[k] != NONE) {
            return fail(ld, pl, o->name,
                        "already set at %s; write %s+=... to add another, or remove one",
                        (*eps)[ld->file_at[k]].origin, o->name);
        }
        if (!append) {
            /* the file's first plain key= replaces what the environment gave */
            env_overridden(ld, o, pl);
            clear_list(ld->cfg, o);
        }
        if (ld->file_at[k] == NONE) {
            ld->file_at[k] = *cnt;
        }
    } else {
        env_overridden(ld, o, pl);
    }
    return apply(ld, o, value, pl);
}

/* Read the file; `via` ("--config" or "RBGW_CONFIG") names where the path came from. */
static int
load_file(struct loader *ld, const char *path, const char *via)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(ld->err, ld->errlen, "%s: cannot open %s: %s", via, path, strerror(errno));
        return RBGW_ECONFIG;
    }
    struct place pl = {path, 0, NULL};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    errno = 0;
    while (getline(&line, &cap, f) != -1) {
        pl.line++;
        if ((rc = apply_line(ld, line, &pl)) != 0) {
            goto out;
        }
        errno = 0;
    }
    if (ferror(f)) {
        snprintf(ld->err, ld->errlen, "%s: cannot read %s: %s", via, path,
                 strerror(errno ? errno : EIO));
        rc = RBGW_ECONFIG;
    }
out:
    free(line);
    fclose(f);
    return rc;
}

static int
load(struct loader *ld, int argc, char **argv, char **envp)
{
    static const struct place defaults = {NULL, 0, NULL};
    static const struct place cli = {NULL, 0, NULL};
    struct rbgw_config *cfg = ld->cfg;
    struct cli_arg *args = rbgw_xcalloc(argc > 0 ? (size_t)argc : 1, sizeof(*args));
    size_t nargs;
    int rc;

    if ((rc = collect_cli(ld, argc, argv, args, &nargs)) != 0) {
        goto out;
    }

    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        if (opts[i].def != NULL && !(opts[i].flags & F_LIST)) {
            if ((rc = apply(ld, &opts[i], opts[i].def, &defaults)) != 0) {
                goto out;
            }
        }
    }

    if ((rc = load_env(ld, envp)) != 0) {
        goto out;
    }

    const char *file = cfg->config_file; /* RBGW_CONFIG, unless --config names another */
    const char *via = "RBGW_CONFIG";
    for (size_t i = 0; i < nargs; i++) {
        if (args[i].opt->type == OPT_PATH && strcmp(args[i].opt->name, "config") == 0) {
            file = args[i].value;
            via = "--config";
        }
    }
    if (file != NULL && *file != '\0' && (rc = load_file(ld, file, via)) != 0) {
        goto out;
    }

    /* The command line's own list replaces the file's unless it only appends. */
    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        if (!(opts[i].flags & F_LIST)) {
            continue;
        }
        for (size_t j = 0; j < nargs; j++) {
            if (args[j].opt == &opts[i] && !args[j].append) {
                env_overridden(ld, &opts[i], &cli);
                clear_list(cfg, &opts[i]);
                break;
            }
        }
    }
    for (size_t i = 0; i < nargs; i++) {
        if (!(args[i].opt->flags & F_LIST)) {
            env_overridden(ld, args[i].opt, &cli);
        }
        if ((rc = apply(ld, args[i].opt, args[i].value, &cli)) != 0) {
            goto out;
        }
    }

    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        size_t *cnt;
        if (!(opts[i].flags & F_LIST) || opts[i].def == NULL) {
            continue;
        }
        list_of(cfg, &opts[i], &cnt);
        if (*cnt == 0 && (rc = add_endpoint(ld, &opts[i], opts[i].def, &defaults, NULL)) != 0) {
            goto out;
        }
    }

    /* --help and --version must work without any configuration. */
    if (cfg->nupstreams == 0 && !cfg->help && !cfg->version) {
        snprintf(ld->err, ld->errlen, "no upstream configured (use upstream=...)");
        rc = RBGW_ECONFIG;
        goto out;
    }
    rc = check_admin_apart(ld);
out:
    free(args);
    return rc;
}

int
rbgw_config_load_env(struct rbgw_config *cfg, int argc, char **argv, char **envp, char *err,
                     size_t errlen)
{
    struct loader ld = {.cfg = cfg, .err = err, .errlen = errlen};
    for (size_t k = 0; k < NOPTS; k++) {
        ld.env_at[k] = NONE;
        ld.file_at[k] = NONE;
    }
    memset(cfg, 0, sizeof(*cfg));
    if (errlen > 0) {
        err[0] = '\0';
    }
    int rc = load(&ld, argc, argv, envp);
    if (rc != 0) {
        rbgw_config_free(cfg);
    }
    return rc;
}

int
rbgw_config_load(struct rbgw_config *cfg, int argc, char **argv, char *err, size_t errlen)
{
    return rbgw_config_load_env(cfg, argc, argv, environ, err, errlen);
}

void
rbgw_config_free(struct rbgw_config *cfg)
{
    if (cfg == NULL) {
        return;
    }
    free_list(cfg->listeners, cfg->nlisteners);
    free_list(cfg->upstreams, cfg->nupstreams);
    free_list(cfg->pools, cfg->npools);
    free_list(cfg->routes, cfg->nroutes);
    rbgw_connstr_free(&cfg->admin.cs);
    free(cfg->admin.text);
    free(cfg->admin.origin);
    free(cfg->config_file);
    for (size_t i = 0; i < cfg->nenv; i++) {
        free(cfg->env[i]);
    }
    free(cfg->env);
    memset(cfg, 0, sizeof(*cfg));
}

static const char *
metavar(const struct opt *o)
{
    switch (o->type) {
    case OPT_PATH:
        return "=FILE";
    case OPT_LISTEN:
    case OPT_UPSTREAM:
        return "=CONNSTR";
    case OPT_NAMED:
        return "=NAME:OPTIONS";
    case OPT_ADMIN:
        return "=CONNSTR";
    case OPT_UINT:
        return "=N";
    case OPT_LEVEL:
        return "=LEVEL";
    case OPT_LOGFMT:
        return "=FORMAT";
    case OPT_SIZE:
        return "=BYTES";
    case OPT_BOOL:
        return "";
    }
    return "";
}

void
rbgw_config_usage(FILE *f)
{
    fprintf(f, "Usage: rbgw [--key=value ...]\n"
               "\n"
               "rbgw is a PowerDNS remote-backend gateway: it accepts remote-backend calls on its\n"
               "listeners and forwards them to its upstreams, translating between connectors.\n"
               "\n"
               "Every key below is written --key=value on the command line or key=value in the\n"
               "--config file ('#' comments, blank lines allowed), except those marked\n"
               "'command line only'.  The command line wins over the file.  listen and upstream\n"
               "are lists: key+=value appends, and a --key=value on the command line replaces the\n"
               "file's list.  '--key value' (with a space) is not supported.\n"
               "\n"
               "Every key the file takes can also come from the environment as RBGW_<KEY>\n"
               "(upper case, '-' as '_': RBGW_LOG_LEVEL=debug), and RBGW_CONFIG names the file.\n"
               "The file and the command line win over the environment.  A list variable\n"
               "(RBGW_UPSTREAM) holds one entry per line; the file's key= replaces it, key+=\n"
               "adds to it.  --check-config shows the variables it applied.\n"
               "\n"
               "Keys:\n");
    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        const struct opt *o = &opts[i];
        char left[64];
        snprintf(left, sizeof(left), "--%s%s", o->name, metavar(o));
        fprintf(f, "  %-26s %s\n", left, o->help);
        if (o->def != NULL && o->type != OPT_BOOL) {
            fprintf(f, "  %-26s default: %s\n", "", o->def);
        }
        if (o->flags & (F_LIST | F_CLI_ONLY)) {
            fprintf(f, "  %-26s %s\n", "",
                    o->flags & F_LIST  ? "list: repeat with += for more"
                    : o->flags & F_ENV ? "command line (or RBGW_CONFIG) only"
                                       : "command line only");
        }
    }
    fprintf(f,
            "\n"
            "Connection strings, as in pdns: TYPE:key=value,key=value,...\n"
            "  TYPE is pipe, unix, http or zeromq (zmq is accepted too).  A key without '='\n"
            "  means key=yes.  Values cannot contain commas.\n"
            "  listen:   pipe                          stdin/stdout (pdns runs rbgw as a "
            "coprocess)\n"
            "            unix:path=SOCKET              unix socket; mode=0660 (default),\n"
            "                                          group=NAME: who may connect\n"
            "            http:address=HOST:PORT        HTTP (pdns's http connector)\n"
            "            zeromq:endpoint=ENDPOINT      ZeroMQ ROUTER socket, bound\n"
            "  upstream: pipe:command=PROGRAM ARGS     coprocesses (argv split on single spaces)\n"
            "            unix:path=SOCKET              unix socket\n"
            "            http:url=http[s]://HOST[:PORT][/PATH]\n"
            "                                          HTTP; also url-suffix=, post=yes,\n"
            "                                          post_json=yes (pdns's three modes),\n"
            "                                          header=NAME: VALUE, header-file=FILE;\n"
            "                                          https: tls-ca=FILE, tls-cert=FILE,\n"
            "                                          tls-key=FILE, tls-name=NAME, tls-verify=no\n"
            "            zeromq:endpoint=ENDPOINT      ZeroMQ REQ socket, connected\n"
            "  Upstream options rbgw reads (times in milliseconds):\n");
#define USAGE_INT(name, def, min, max, help)                                                       \
    {                                                                                              \
        char left[64];                                                                             \
        snprintf(left, sizeof(left), "%s=%ld", name, (long)(def));                                 \
        fprintf(f, "    %-24s %s (%ld..%ld)\n", left, help, (long)(min), (long)(max));             \
    }
    RBGW_UPSTREAM_INT_OPTS(USAGE_INT)
#undef USAGE_INT
    fprintf(f, "  Listener options rbgw reads (times in milliseconds):\n");
#define USAGE_INT(tr, name, def, min, max, help)                                                   \
    {                                                                                              \
        char left[64];                                                                             \
        snprintf(left, sizeof(left), "%s=%ld", name, (long)(def));                                 \
        fprintf(f, "    %-24s %s: %s (%ld..%ld)\n", left, rbgw_transport_name(tr), help,           \
                (long)(min), (long)(max));                                                         \
    }
    RBGW_LISTENER_INT_OPTS(USAGE_INT)
#undef USAGE_INT
    fprintf(f, "  Admin endpoint options (admin=..., times in milliseconds):\n");
#define USAGE_INT(name, def, min, max, help)                                                       \
    {                                                                                              \
        char left[64];                                                                             \
        snprintf(left, sizeof(left), "%s=%ld", name, (long)(def));                                 \
        fprintf(f, "    %-24s %s (%ld..%ld)\n", left, help, (long)(min), (long)(max));             \
    }
    RBGW_ADMIN_INT_OPTS(USAGE_INT)
#undef USAGE_INT
    fprintf(f,
            "  Every option of a pipe, unix or zeromq upstream, known or not, is sent to it in\n"
            "  the initialize call, as pdns does.\n"
            "\n"
            "Examples:\n"
            "  rbgw --listen=pipe --upstream=http:url=http://127.0.0.1:8080/dns,timeout=1500\n"
            "\n"
            "  In pdns.conf (pdns splits its connection string on commas, so rbgw's own options\n"
            "  go in rbgw's config file):\n"
            "    launch=remote\n"
            "    remote-connection-string=pipe:command=/usr/bin/rbgw "
            "--config=/etc/rbgw/rbgw.conf\n");
}

/* An upstream's numeric option as the upstream will read it (default from the one table). */
static long
upstream_int(const struct rbgw_endpoint_conf *ec, const char *name)
{
    long n = 0;
#define RBGW_X(oname, def, min, max, help)                                                         \
    if (strcmp(name, oname) == 0 &&                                                                \
        rbgw_connstr_get_int(&ec->cs, oname, def, min, max, &n, NULL, 0) != 0) {                   \
        n = def;                                                                                   \
    }
    RBGW_UPSTREAM_INT_OPTS(RBGW_X)
#undef RBGW_X
    return n;
}

size_t
rbgw_config_warnings(const struct rbgw_config *cfg, void (*emit)(void *ctx, const char *text),
                     void *ctx)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        const struct rbgw_endpoint_conf *ec = &cfg->upstreams[i];
        long timeout = upstream_int(ec, "timeout");
        if (timeout <= (long)cfg->deadline_ms) {
            continue;
        }
        char *name = rbgw_config_upstream_name(cfg, i);
        char text[512];
        snprintf(text, sizeof(text),
                 "upstream %s (%s): timeout=%ld ms is above deadline=%u ms, so its calls are "
                 "answered false after at most %u ms; keep timeout below deadline, and deadline "
                 "below pdns's own timeout (2000 ms by default)",
                 name, ec->origin, timeout, cfg->deadline_ms, cfg->deadline_ms);
        free(name);
        emit(ctx, text);
        n++;
    }
    return n;
}

static char *
endpoint_name(const struct rbgw_endpoint_conf *ec, size_t i)
{
    const char *name = rbgw_connstr_get(&ec->cs, "name");
    if (name != NULL) {
        return rbgw_xstrdup(name);
    }
    char tmp[64];
    snprintf(tmp, sizeof(tmp), "%s#%zu", rbgw_transport_name(ec->cs.transport), i + 1);
    return rbgw_xstrdup(tmp);
}

/* troff text: '-' as \-, '\' as \e, and a line may not start with '.' or '\''. */
static void
troff_text(FILE *f, const char *s)
{
    if (*s == '.' || *s == '\'') {
        fputs("\\&", f);
    }
    for (; *s; s++) {
        if (*s == '-') {
            fputs("\\-", f);
        } else if (*s == '\\') {
            fputs("\\e", f);
        } else {
            fputc(*s, f);
        }
    }
}

void
rbgw_config_man_keys(FILE *f, bool file_form)
{
    char env[64];
    for (size_t i = 0; i < RBGW_NELEM(opts); i++) {
        const struct opt *o = &opts[i];
        if (file_form && (o->flags & F_CLI_ONLY)) {
            continue;
        }
        fputs(".TP\n\\fB", f);
        troff_text(f, file_form ? "" : "--");
        troff_text(f, o->name);
        fputs("\\fR", f);
        const char *mv = metavar(o);
        if (*mv != '\0') {
            fputs("=\\fI", f);
            troff_text(f, mv + 1);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        troff_text(f, o->help);
        fputs(".\n", f);
        if (o->def != NULL && o->type != OPT_BOOL) {
            fputs("Default: ", f);
            troff_text(f, o->def);
            fputs(".\n", f);
        }
        if (o->flags & F_LIST) {
            fputs("A list: ", f);
            troff_text(f, o->name);
            fputs("+= adds an entry.\n", f);
        }
        if ((o->flags & F_CLI_ONLY) && !file_form) {
            fputs("Command line only.\n", f);
        }
        if (!(o->flags & F_CLI_ONLY) || (o->flags & F_ENV)) {
            env_name(o->name, env, sizeof(env));
            fputs("Environment: \\fB", f);
            troff_text(f, env);
            fputs("\\fR.\n", f);
        }
    }
}

void
rbgw_config_man_upstream_opts(FILE *f)
{
#define MAN_INT(name, def, min, max, help)                                                         \
    fprintf(f, ".TP\n\\fB");                                                                       \
    troff_text(f, name);                                                                           \
    fprintf(f, "\\fR=\\fIN\\fR\n");                                                                \
    troff_text(f, help);                                                                           \
    fprintf(f, ".\nDefault: %ld, range %ld to %ld.\n", (long)(def), (long)(min), (long)(max));
    RBGW_UPSTREAM_INT_OPTS(MAN_INT)
#undef MAN_INT
}

void
rbgw_config_man_listener_opts(FILE *f)
{
#define MAN_INT(tr, name, def, min, max, help)                                                     \
    fprintf(f, ".TP\n\\fB");                                                                       \
    troff_text(f, name);                                                                           \
    fprintf(f, "\\fR=\\fIN\\fR (%s)\n", rbgw_transport_name(tr));                                  \
    troff_text(f, help);                                                                           \
    fprintf(f, ".\nDefault: %ld, range %ld to %ld.\n", (long)(def), (long)(min), (long)(max));
    RBGW_LISTENER_INT_OPTS(MAN_INT)
#undef MAN_INT
}

void
rbgw_config_man_admin_opts(FILE *f)
{
#define MAN_INT(name, def, min, max, help)                                                         \
    fprintf(f, ".TP\n\\fB");                                                                       \
    troff_text(f, name);                                                                           \
    fprintf(f, "\\fR=\\fIN\\fR\n");                                                                \
    troff_text(f, help);                                                                           \
    fprintf(f, ".\nDefault: %ld, range %ld to %ld.\n", (long)(def), (long)(min), (long)(max));
    RBGW_ADMIN_INT_OPTS(MAN_INT)
#undef MAN_INT
}

char *
rbgw_config_upstream_name(const struct rbgw_config *cfg, size_t i)
{
    return endpoint_name(&cfg->upstreams[i], i);
}

char *
rbgw_config_listener_name(const struct rbgw_config *cfg, size_t i)
{
    return endpoint_name(&cfg->listeners[i], i);
}
