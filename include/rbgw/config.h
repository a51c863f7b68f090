/*
 * config.h: rbgw's configuration, in pdns's idiom.
 *
 * Sources, applied in this order (later wins, as in pdns):
 *   1. built-in defaults (the schema table in config.c);
 *   2. the file named by --config=FILE: `key=value` lines, '#' comments, blank lines, spaces
 *      around key and value trimmed, `key+=value` appends to a list key;
 *   3. the command line: every key also as `--key=value` (`--key` alone means `--key=yes`).
 * For a list key (listen, upstream) the command line replaces the file's list unless it uses
 * `--key+=value`.
 *
 * Loading is pure (no logging, no I/O but reading the file); every error names its place:
 * "rbgw.conf:12: upstream: unknown connector type 'tcp'", "--timeout: ...".
 */
#ifndef RBGW_CONFIG_H
#define RBGW_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

#include "rbgw/connstr.h"

enum rbgw_log_level {
    RBGW_LOG_ERROR,
    RBGW_LOG_WARN,
    RBGW_LOG_INFO,
    RBGW_LOG_DEBUG,
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

/** One listen= or upstream= entry. */
struct rbgw_endpoint_conf {
    struct rbgw_connstr cs; /* parsed connection string (owned) */
    char *text;             /* owned: the string as written, secrets masked (header=) */
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
    uint32_t deadline_ms;          /* deadline=: a call is answered within this, retries included */
    uint32_t retry_budget;         /* retry-budget=: retries as a percentage of calls */
    char *config_file;             /* owned or NULL: the --config path */
    enum rbgw_log_level log_level; /* log-level=error|warning|info|debug, default info */
    size_t max_request_size;       /* bytes; a larger request from pdns gets a false reply */
    size_t max_reply_size;         /* bytes; a larger upstream reply becomes a false reply */
    bool check_config;             /* --check-config: validate, print a summary, exit */
    bool help;                     /* --help */
    bool version;                  /* --version */
};

/**
 * Fill cfg from argv (argv[0] skipped) and the --config file.  Returns 0, or RBGW_ECONFIG with
 * the first error in err ("file:line: key: problem").  Validates every connection string:
 * known type, required option present (pipe: command, unix: path, http: url, zeromq:
 * endpoint), numeric options in range.  On error cfg is freed and zeroed.
 */
int rbgw_config_load(struct rbgw_config *cfg, int argc, char **argv, char *err,
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

/** Write --help text (every key, its default and meaning, from the schema table) to f. */
void rbgw_config_usage(FILE *f);

/** Name of upstream i: its name= option, or "<transport>#<i+1>" ("http#1").  Caller frees. */
char *rbgw_config_upstream_name(const struct rbgw_config *cfg, size_t i);

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

/** "error", "warning", "info", "debug". */
const char *rbgw_log_level_name(enum rbgw_log_level l);

#endif
