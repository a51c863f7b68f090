/*
 * config.h: rbgw's configuration, in pdns's idiom.
 *
 * Sources, applied in this order (later wins, as in pdns):
 *   1. built-in defaults (the schema table in config.c);
 *   2. the environment: RBGW_<KEY> for every key the file takes (upper case, '-' -> '_'), and
 *      RBGW_CONFIG; a list variable holds one entry per line; an empty variable is unset;
 *   3. the file named by --config=FILE (else by RBGW_CONFIG): `key=value` lines, '#' comments,
 *      blank lines, spaces around key and value trimmed, `key+=value` appends to a list key;
 *   4. the command line: every key also as `--key=value` (`--key` alone means `--key=yes`).
 * For a list key (listen, upstream) each layer replaces the list of the layers below unless it
 * uses `key+=value`.
 *
 * Loading is pure (no logging, no I/O but reading the file); every error names its place:
 * "rbgw.conf:12: upstream: unknown connector type 'tcp'", "RBGW_LOG_LEVEL: ...", "--timeout: ...".
 */
#ifndef RBGW_CONFIG_H
#define RBGW_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "rbgw/connstr.h"
#include "rbgw/json.h"

enum rbgw_log_level {
    RBGW_LOG_ERROR,
    RBGW_LOG_WARN,
    RBGW_LOG_INFO,
    RBGW_LOG_DEBUG,
};

enum rbgw_log_format {
    RBGW_LOG_TEXT, /* "rbgw[pid]: level: message", as a terminal or a log file wants it */
    RBGW_LOG_JSON, /* one JSON object per line (log.h lists the fields) */
};

/*
 * Numeric upstream connection-string options that rbgw itself reads (all times in ms).
 * rbgw_config_load checks each one that is present against its range; the upstream code reads
 * them with rbgw_connstr_get_int(cs, name, def, min, max, ...) using the same row, so the
 * defaults printed by --help and docs/configuration.md are the ones in force.
 *   X(name, default, min, max, help)
 */
#define RBGW_UPSTREAM_INT_OPTS(X)                                                                  \
    X("timeout", 1500, 1, 600000, "ms for a whole call (keep it below pdns's own timeout)")        \
    X("connect-timeout", 1000, 1, 600000, "ms to connect a socket or spawn a coprocess")           \
    X("idle-timeout", 60000, 0, 86400000, "ms an idle connection is kept; 0 = forever")            \
    X("max-conns", 8, 1, 4096, "connections (or coprocesses) per upstream")                        \
    X("rest-dialect", 5, 4, 5, "http REST bodies as pdns 5.x (5) or 4.x (4) writes them")          \
    X("retry-after", 100, 0, 600000, "ms before reconnecting after a failure (doubles up to 8x)")  \
    X("max-queue", 256, 0, 1000000, "calls that may wait for a busy upstream's connection")        \
    X("queue-timeout", 500, 1, 600000, "ms a call may wait for a connection, then false")          \
    X("weight", 1, 1, 1000, "share of calls under policy=weighted")                                \
    X("failure-limit", 3, 1, 1000, "consecutive failures that eject the upstream from its pool")   \
    X("health-interval", 1000, 10, 600000, "ms between checks of an ejected upstream")

/*
 * Numeric listener connection-string options, per transport (times in ms), with the same rule
 * as above: rbgw_config_load checks them, the listener reads them through the same row
 * (rbgw_listener_int_opt), --help and docs/configuration.md print it.
 *   X(transport, name, default, min, max, help)
 */
#define RBGW_LISTENER_INT_OPTS(X)                                                                  \
    X(RBGW_TRANSPORT_PIPE, "squeeze", 0, 0, 1, "1: replies without whitespace between tokens")     \
    X(RBGW_TRANSPORT_ZEROMQ, "session-timeout", 60000, 10, 86400000,                               \
      "ms a peer may idle before its session ends")                                                \
    X(RBGW_TRANSPORT_UNIX, "max-conns", 256, 1, 1000000,                                           \
      "connections at once; more are closed at accept")                                            \
    X(RBGW_TRANSPORT_HTTP, "max-conns", 256, 1, 1000000,                                           \
      "connections at once; more get a 503 and are closed")                                        \
    X(RBGW_TRANSPORT_HTTP, "max-headers", 64, 1, 256, "header lines of a request (431 beyond)")    \
    X(RBGW_TRANSPORT_HTTP, "max-header-size", 16384, 1024, 1048576,                                \
      "bytes of target and headers (431 beyond)")                                                  \
    X(RBGW_TRANSPORT_HTTP, "header-timeout", 5000, 10, 600000,                                     \
      "ms for a request line and headers, then close")                                             \
    X(RBGW_TRANSPORT_HTTP, "body-timeout", 5000, 10, 600000,                                       \
      "ms for a body after its headers, then close")

/*
 * Numeric options of the admin endpoint's connection string (admin=), the same way: checked at
 * load, read by admin.c through the same row.  They bound what one client can hold.
 *   X(name, default, min, max, help)
 */
#define RBGW_ADMIN_INT_OPTS(X)                                                                     \
    X("max-conns", 8, 1, 1024, "admin connections at once (503 beyond)")                           \
    X("timeout", 5000, 10, 600000, "ms to send a request and read the answer")                     \
    X("max-request-size", 8192, 256, 1048576, "bytes of one request (431 beyond)")

/** One listen= or upstream= entry. */
struct rbgw_endpoint_conf {
    struct rbgw_connstr cs; /* parsed connection string (owned) */
    char *text;             /* owned: the string as written, secrets masked (header= values,
                               a URL's userinfo): for messages and --check-config */
    char *raw;              /* owned: the string exactly as written: what a reload compares */
    char *origin;           /* owned: "file:line" or "--upstream", for later error messages */
};

struct rbgw_config {
    struct rbgw_endpoint_conf *listeners; /* owned array; default one "pipe" listener */
    size_t nlisteners;
    struct rbgw_endpoint_conf *upstreams; /* owned array; at least one when valid */
    size_t nupstreams;
    struct rbgw_endpoint_conf *pools; /* owned array: pool=NAME:... entries (router.h) */
    size_t npools;
    struct rbgw_endpoint_conf *routes; /* owned array: route=CLASS:... entries (router.h) */
    size_t nroutes;
    struct rbgw_endpoint_conf admin; /* admin=: the admin endpoint; text NULL when off */
    uint32_t deadline_ms;          /* deadline=: a call is answered within this, retries included */
    uint32_t retry_budget;         /* retry-budget=: retries as a percentage of calls */
    char *config_file;             /* owned or NULL: the --config path */
    enum rbgw_log_level log_level; /* log-level=error|warning|info|debug, default info */
    enum rbgw_log_format log_format; /* log-format=text|json, default text */
    bool access_log;                 /* access-log=yes: one info line per call answered */
    size_t max_request_size;         /* bytes; a larger request from pdns gets a false reply */
    size_t max_reply_size;           /* bytes; a larger upstream reply becomes a false reply */
    uint32_t cache_ttl_ms;           /* cache-ttl=: ms a read's reply is reused; 0: no cache */
    size_t cache_size;               /* cache-size=: bytes the read cache may hold */
    bool cache_per_client;           /* cache-per-client=: the client's address is in the key */
    bool coalesce;                   /* coalesce=: identical reads in flight share one call */
    size_t max_conn_buffer;          /* bytes per pdns connection: unserved input + unsent reply
                                        past which the listener stops reading it */
    uint32_t write_timeout_ms; /* ms a reply may wait for a socket client to read it; 0 never */
    uint32_t max_inflight;     /* calls in flight at once; beyond, answered false at once */
    struct rbgw_json_limits json_limits; /* max-json-depth, max-json-elements: calls and replies
                                            past them are refused */
    char **env;                          /* owned: "RBGW_KEY=value" per variable applied, with
                                            " (overridden by PLACE)" when the file or argv won */
    size_t nenv;                         /* entries in env */
    bool check_config;                   /* --check-config: validate, print a summary, exit */
    bool help;                           /* --help */
    bool version;                        /* --version */
};

/**
 * Fill cfg from argv (argv[0] skipped) and the --config file.  Returns 0, or RBGW_ECONFIG with
 * the first error in err ("file:line: key: problem").  Validates every connection string:
 * known type, required option present (pipe: command, unix: path, http: url, zeromq:
 * endpoint), numeric options in range.  On error cfg is freed and zeroed.
 */
int rbgw_config_load(struct rbgw_config *cfg, int argc, char **argv, char *err,
                     size_t errlen) RBGW_MUSTCHECK;

/** rbgw_config_load with the environment given as a NULL-terminated "NAME=value" array
 *  (NULL: none) instead of the process's own. */
int rbgw_config_load_env(struct rbgw_config *cfg, int argc, char **argv, char **envp, char *err,
                         size_t errlen) RBGW_MUSTCHECK;
void rbgw_config_free(struct rbgw_config *cfg);

/**
 * Settings that load but cannot work as written (pure; call after a successful load).  Today:
 * an upstream whose timeout= is above deadline=: its calls are cut off at the deadline, so the
 * timeout never applies.  emit(ctx, text) is called once per finding with a one-line text
 * naming the upstream, its origin, the timeout and the deadline; returns how many there were.
 * rbgw prints them at start-up and with --check-config, and starts anyway.
 */
size_t rbgw_config_warnings(const struct rbgw_config *cfg,
                            void (*emit)(void *ctx, const char *text), void *ctx);

/** Deep copy of src into dst (overwritten, not freed); rbgw_endpoint_conf_free releases it. */
void rbgw_endpoint_conf_copy(struct rbgw_endpoint_conf *dst, const struct rbgw_endpoint_conf *src);
void rbgw_endpoint_conf_free(struct rbgw_endpoint_conf *ec);

/**
 * The address a listener binds (unix path=, http address=, zeromq endpoint=), as written, or
 * NULL for one that binds nothing (pipe).  Two listeners with the same address cannot run at
 * the same time.
 */
const char *rbgw_listener_address(const struct rbgw_endpoint_conf *ec);

/** Write --help text (every key, its default and meaning, from the schema table) to f. */
void rbgw_config_usage(FILE *f);

/**
 * Write the keys as troff paragraphs (.TP) for the man pages, from the same table as --help:
 * `--key=VALUE` for rbgw(8), or with file_form `key=VALUE` and without the command-line-only
 * keys for rbgw.conf(5); each with its default, list note and RBGW_ variable.
 */
void rbgw_config_man_keys(FILE *f, bool file_form);

/** Write the upstream options rbgw reads (RBGW_UPSTREAM_INT_OPTS) as troff paragraphs. */
void rbgw_config_man_upstream_opts(FILE *f);
/** The same for the listener options (RBGW_LISTENER_INT_OPTS), each with its transport. */
void rbgw_config_man_listener_opts(FILE *f);
/** The same for the admin endpoint's options (RBGW_ADMIN_INT_OPTS). */
void rbgw_config_man_admin_opts(FILE *f);

/** Name of upstream i: its name= option, or "<transport>#<i+1>" ("http#1").  Caller frees. */
char *rbgw_config_upstream_name(const struct rbgw_config *cfg, size_t i);
/** Name of listener i, the same way ("pipe#1", "unix#2").  Caller frees. */
char *rbgw_config_listener_name(const struct rbgw_config *cfg, size_t i);

/** Who may connect to a unix listener's socket file: its mode= and group= options. */
struct rbgw_unix_perm {
    unsigned mode;     /* mode= in octal, 0..0777; default 0660 (never world-writable unless
                          written so) */
    long gid;          /* group=, resolved; -1 when absent (the file keeps rbgw's group) */
    const char *group; /* borrowed from the options: group= as written, or NULL */
};

/**
 * Read mode= and group= of a unix listener's options (group names are looked up now).
 * Returns 0, or RBGW_ECONFIG with a reason in err ("group=nosuch: no such group",
 * "mode=0999 is not an octal mode 0000..0777 (e.g. mode=0660)").
 */
int rbgw_config_unix_perm(const struct rbgw_connstr *cs, struct rbgw_unix_perm *out, char *err,
                          size_t errlen) RBGW_MUSTCHECK;

/**
 * True if an upstream's settings come partly from files read when it is made (header-file=,
 * and for https:// the certificates and CA store): a reload makes such an upstream anew even
 * when its text is unchanged, so a rotated token or certificate takes effect.
 */
bool rbgw_config_upstream_reads_files(const struct rbgw_endpoint_conf *ec);

/** "error", "warning", "info", "debug". */
const char *rbgw_log_level_name(enum rbgw_log_level l);
/** "text", "json". */
const char *rbgw_log_format_name(enum rbgw_log_format f);

#endif
