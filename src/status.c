/*
 * status.c: `rbgw status [--config=FILE] [ADDRESS]`: GET /status from a running rbgw's admin
 * endpoint and print it as tables on stdout.
 *
 * This is a separate short-lived command, not the gateway: it uses plain blocking sockets with
 * a time limit on every step (connect, send, each read), reads the answer to EOF (the admin
 * endpoint closes after each answer), and reads the JSON with the project's parser.
 *
 * ADDRESS is what admin= takes (http:address=HOST:PORT, unix:path=SOCKET) or the short forms
 * HOST:PORT, http://HOST:PORT and an absolute socket path.  Without it, the admin= of --config's
 * file is used, and without that the default, 127.0.0.1:8054.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "rbgw/config.h"
#include "rbgw/json.h"
#include "rbgw/status.h"
#include "rbgw/url.h"

#define IO_MS 5000                    /* limit for each step */
#define MAX_ANSWER (16 * 1024 * 1024) /* a /status of thousands of upstreams is far below */
#define DEFAULT_ADDRESS "127.0.0.1:8054"

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: rbgw status [--config=FILE] [ADDRESS]\n"
            "  Prints the state of a running rbgw (listeners, upstreams, pools) from its admin\n"
            "  endpoint's /status.  ADDRESS: HOST:PORT, http:address=HOST:PORT,\n"
            "  unix:path=SOCKET or /path/to/socket; default: admin= of FILE, else %s.\n"
            "  Exit status: 0 printed (ready or not), 1 cannot reach or read it, 2 usage error.\n",
            DEFAULT_ADDRESS);
}

/* Wait for fd to be ready for events; false after IO_MS. */
static bool
wait_fd(int fd, short events)
{
    struct pollfd p = {.fd = fd, .events = events};
    int rc;
    do {
        rc = poll(&p, 1, IO_MS);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

/* Connect to sa without blocking longer than IO_MS: the fd, or -1 with errno. */
static int
connect_to(const struct sockaddr *sa, socklen_t salen)
{
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, sa, salen) != 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        if (!wait_fd(fd, POLLOUT)) {
            close(fd);
            errno = ETIMEDOUT;
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0 || soerr != 0) {
            close(fd);
            errno = soerr ? soerr : EIO;
            return -1;
        }
    }
    return fd;
}

/* Open a connection to address (any of the accepted forms); -1 with a message in err. */
static int
open_address(const char *address, char *err, size_t errlen)
{
    const char *path = NULL;
    const char *hostport = NULL;
    struct rbgw_connstr cs = {0};
    bool have_cs = false;
    if (address[0] == '/') {
        path = address;
    } else if (strncmp(address, "http://", 7) == 0) {
        hostport = address + 7;
    } else if (strncmp(address, "unix:", 5) == 0 || strncmp(address, "http:", 5) == 0) {
        char why[256];
        if (rbgw_connstr_parse(address, &cs, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s: %s", address, why);
            return -1;
        }
        have_cs = true;
        path = rbgw_connstr_get(&cs, "path");
        hostport = rbgw_connstr_get(&cs, "address");
        if (cs.transport == RBGW_TRANSPORT_UNIX ? path == NULL : hostport == NULL) {
            snprintf(err, errlen, "%s: needs %s", address,
                     cs.transport == RBGW_TRANSPORT_UNIX ? "path=SOCKET" : "address=HOST:PORT");
            rbgw_connstr_free(&cs);
            return -1;
        }
        if (cs.transport != RBGW_TRANSPORT_UNIX) {
            path = NULL;
        }
    } else {
        hostport = address;
    }

    int fd = -1;
    if (path) {
        struct sockaddr_un sa;
        memset(&sa, 0, sizeof(sa));
        sa.sun_family = AF_UNIX;
        if (strlen(path) >= sizeof(sa.sun_path)) {
            snprintf(err, errlen, "%s: path too long for a unix socket", path);
        } else {
            memcpy(sa.sun_path, path, strlen(path));
            fd = connect_to((struct sockaddr *)&sa, sizeof(sa));
            if (fd < 0) {
                snprintf(err, errlen, "cannot connect to unix:%s: %s", path, strerror(errno));
            }
        }
    } else {
        struct rbgw_url u;
        if (rbgw_hostport_parse(hostport, &u, err, errlen) == 0) {
            char port[8];
            snprintf(port, sizeof(port), "%u", (unsigned)u.port);
            struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
            struct addrinfo *ai = NULL;
            int gai = getaddrinfo(u.host, port, &hints, &ai);
            if (gai != 0) {
                snprintf(err, errlen, "cannot resolve %s: %s", u.host, gai_strerror(gai));
            } else {
                fd = connect_to(ai->ai_addr, ai->ai_addrlen);
                if (fd < 0) {
                    snprintf(err, errlen, "cannot connect to %s: %s", u.hostport, strerror(errno));
                }
                freeaddrinfo(ai);
            }
            rbgw_url_free(&u);
        }
    }
    if (have_cs) {
        rbgw_connstr_free(&cs);
    }
    return fd;
}

/* GET /status: the body of a 200 answer in *body (malloc'd), or -1 with a message in err. */
static int
fetch_status(const char *address, char **body, size_t *body_len, char *err, size_t errlen)
{
    int fd = open_address(address, err, errlen);
    if (fd < 0) {
        return -1;
    }
    static const char req[] = "GET /status HTTP/1.1\r\nHost: rbgw\r\nConnection: close\r\n\r\n";
    size_t off = 0;
    while (off < sizeof(req) - 1) {
        ssize_t n = send(fd, req + off, sizeof(req) - 1 - off, MSG_NOSIGNAL);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT)) {
                break;
            }
            continue;
        }
        if (n <= 0) {
            break;
        }
        off += (size_t)n;
    }
    if (off < sizeof(req) - 1) {
        snprintf(err, errlen, "%s: cannot send the request: %s", address, strerror(errno));
        close(fd);
        return -1;
    }
    struct rbgw_buf in = RBGW_BUF_INIT;
    for (;;) {
        if (!wait_fd(fd, POLLIN)) {
            snprintf(err, errlen, "%s: no answer within %d ms", address, IO_MS);
            goto fail;
        }
        char *dst = rbgw_buf_reserve(&in, 65536);
        ssize_t n = recv(fd, dst, 65536, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "%s: read failed: %s", address, strerror(errno));
            goto fail;
        }
        if (n == 0) {
            break;
        }
        in.len += (size_t)n;
        if (in.len > MAX_ANSWER) {
            snprintf(err, errlen, "%s: answer larger than %d bytes", address, MAX_ANSWER);
            goto fail;
        }
    }
    close(fd);
    fd = -1;
    int status = 0;
    const char *end = in.len ? memmem(in.data, in.len, "\r\n\r\n", 4) : NULL;
    if (end == NULL || sscanf(in.data, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "%s: not an HTTP answer (is this rbgw's admin endpoint?)", address);
        goto fail;
    }
    if (status != 200) {
        snprintf(err, errlen, "%s: /status answered HTTP %d", address, status);
        goto fail;
    }
    end += 4;
    *body_len = in.len - (size_t)(end - in.data);
    *body = rbgw_xstrndup(end, *body_len);
    rbgw_buf_free(&in);
    return 0;
fail:
    if (fd >= 0) {
        close(fd);
    }
    rbgw_buf_free(&in);
    return -1;
}

/* ---- tables ---- */

#define MAX_COLS 12

struct table {
    const char *head[MAX_COLS]; /* column titles */
    size_t ncols;               /* columns */
    char **cells;               /* owned: nrows * ncols strings (owned) */
    size_t nrows;               /* rows */
};

static void
table_row(struct table *t, char **cells)
{
    t->cells = rbgw_xrealloc(t->cells, (t->nrows + 1) * t->ncols * sizeof(*t->cells));
    memcpy(t->cells + t->nrows * t->ncols, cells, t->ncols * sizeof(*cells));
    t->nrows++;
}

static void
table_print(struct table *t)
{
    size_t w[MAX_COLS];
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = strlen(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t l = strlen(t->cells[r * t->ncols + c]);
            w[c] = l > w[c] ? l : w[c];
        }
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        const char *const *row =
            r == 0 ? t->head : (const char *const *)t->cells + (r - 1) * t->ncols;
        for (size_t c = 0; c + 1 < t->ncols; c++) {
            printf("%-*s  ", (int)w[c], row[c]);
        }
        printf("%s\n", row[t->ncols - 1]);
    }
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    t->cells = NULL;
    t->nrows = 0;
}

/* A member's value as text ("" when absent): strings as they are, numbers as written. */
static char *
text_of(const struct rbgw_json *obj, const char *key)
{
    const struct rbgw_json *v = rbgw_json_get(obj, key);
    if (v == NULL) {
        return rbgw_xstrdup("");
    }
    switch (v->type) {
    case RBGW_JSON_STRING:
    case RBGW_JSON_NUMBER:
        return rbgw_xstrndup(v->str.p, v->str.len);
    case RBGW_JSON_TRUE:
        return rbgw_xstrdup("yes");
    case RBGW_JSON_FALSE:
        return rbgw_xstrdup("no");
    default:
        return rbgw_xstrdup("?");
    }
}

static char *fmt(const char *f, ...) RBGW_PRINTF(1, 2);

static char *
fmt(const char *f, ...)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    va_list ap;
    va_start(ap, f);
    rbgw_buf_vprintf(&b, f, ap);
    va_end(ap);
    char *s = rbgw_xstrdup(b.data ? b.data : "");
    rbgw_buf_free(&b);
    return s;
}

/* "busy/idle/max", and the opening and pinned ones when there are any. */
static char *
conns_cell(const char *busy, const char *idle, const char *max, const char *opening,
           const char *pinned)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    rbgw_buf_printf(&b, "%s/%s/%s", busy, idle, max);
    if (strcmp(opening, "0") != 0) {
        rbgw_buf_printf(&b, " +%s opening", opening);
    }
    if (strcmp(pinned, "0") != 0) {
        rbgw_buf_printf(&b, " +%s pinned", pinned);
    }
    char *s = rbgw_xstrdup(b.data);
    rbgw_buf_free(&b);
    return s;
}

static const struct rbgw_json *
array_of(const struct rbgw_json *root, const char *key)
{
    const struct rbgw_json *v = rbgw_json_get(root, key);
    return v && v->type == RBGW_JSON_ARRAY ? v->child : NULL;
}

static void
print_status(const char *address, const struct rbgw_json *root)
{
    char *version = text_of(root, "version");
    char *gen = text_of(root, "generation");
    char *rok = text_of(root, "reloads_ok");
    char *rfail = text_of(root, "reloads_failed");
    char *rerr = text_of(root, "last_reload_error");
    char *inflight = text_of(root, "calls_in_flight");
    const struct rbgw_json *ready = rbgw_json_get(root, "ready");
    char *why = text_of(root, "not_ready_because");
    bool is_ready = ready && ready->type == RBGW_JSON_TRUE;
    printf("rbgw %s at %s: %s%s%s\n", version, address, is_ready ? "ready" : "NOT READY",
           is_ready ? "" : ": ", is_ready ? "" : why);
    printf("configuration generation %s; reloads: %s ok, %s failed%s%s; calls in flight: %s\n", gen,
           rok, rfail, *rerr ? "; last refused: " : "", rerr, inflight);
    free(version);
    free(gen);
    free(rok);
    free(rfail);
    free(rerr);
    free(inflight);
    free(why);

    struct table t = {
        .head = {"LISTENER", "TYPE", "OPEN", "SESSIONS", "CALLS", "FAILED", "CONNECTION STRING"},
        .ncols = 7};
    static const char *const lkeys[] = {
        "name", "type", "open", "sessions", "calls", "failed", "connection_string"};
    for (const struct rbgw_json *l = array_of(root, "listeners"); l; l = l->next) {
        char *cells[7];
        for (size_t c = 0; c < 7; c++) {
            cells[c] = text_of(l, lkeys[c]);
        }
        table_row(&t, cells);
    }
    printf("\n");
    table_print(&t);

    struct table u = {.head = {"UPSTREAM", "TYPE", "STATE", "IN-FLIGHT", "CONNS busy/idle/max",
                               "QUEUE", "FAILURES", "CALLS", "FALSE", "FAILED", "EJECTIONS",
                               "TARGET"},
                      .ncols = 12};
    for (const struct rbgw_json *x = array_of(root, "upstreams"); x; x = x->next) {
        const struct rbgw_json *conns = rbgw_json_get(x, "connections");
        char *busy = text_of(conns, "busy"), *opening = text_of(conns, "opening");
        char *idle = text_of(conns, "idle"), *pinned = text_of(conns, "pinned");
        char *max = text_of(conns, "max");
        char *fails = text_of(x, "consecutive_failures"), *limit = text_of(x, "failure_limit");
        char *cells[12] = {
            text_of(x, "name"),
            text_of(x, "type"),
            text_of(x, "state"),
            text_of(x, "in_flight"),
            conns_cell(busy, idle, max, opening, pinned),
            text_of(x, "queue"),
            fmt("%s/%s", fails, limit),
            text_of(x, "calls"),
            text_of(x, "said_false"),
            text_of(x, "failed"),
            text_of(x, "ejections"),
            text_of(x, "target"),
        };
        free(busy);
        free(opening);
        free(idle);
        free(pinned);
        free(max);
        free(fails);
        free(limit);
        table_row(&u, cells);
    }
    printf("\n");
    table_print(&u);

    struct table p = {.head = {"POOL", "UP/MEMBERS", "MEMBERS"}, .ncols = 3};
    for (const struct rbgw_json *x = array_of(root, "pools"); x; x = x->next) {
        const struct rbgw_json *members = rbgw_json_get(x, "members");
        struct rbgw_buf names = RBGW_BUF_INIT;
        size_t n = 0;
        for (const struct rbgw_json *m = members ? members->child : NULL; m; m = m->next, n++) {
            rbgw_buf_printf(&names, "%s%.*s", n ? ", " : "", (int)m->str.len, m->str.p);
        }
        char *up = text_of(x, "members_up");
        char *cells[3] = {text_of(x, "name"), fmt("%s/%zu", up, n),
                          rbgw_xstrdup(names.data ? names.data : "")};
        free(up);
        rbgw_buf_free(&names);
        table_row(&p, cells);
    }
    printf("\n");
    table_print(&p);

    const struct rbgw_json *routes = array_of(root, "routes");
    if (routes) {
        struct table r = {.head = {"ROUTE", "ZONE", "POOL"}, .ncols = 3};
        for (const struct rbgw_json *x = routes; x; x = x->next) {
            char *zone = text_of(x, "zone");
            char *cells[3] = {text_of(x, "class"), *zone ? zone : fmt("(any)"), text_of(x, "pool")};
            if (!*zone) {
                free(zone);
            }
            table_row(&r, cells);
        }
        printf("\n");
        table_print(&r);
    }
}

/* The admin= of the configuration file, or NULL (malloc'd). */
static char *
admin_of_config(const char *config_arg, char *err, size_t errlen)
{
    char *argv[] = {"rbgw", (char *)config_arg, NULL};
    struct rbgw_config cfg;
    if (rbgw_config_load(&cfg, 2, argv, err, errlen) != 0) {
        return NULL;
    }
    char *admin = cfg.admin.text ? rbgw_xstrdup(cfg.admin.text) : rbgw_xstrdup("");
    rbgw_config_free(&cfg);
    return admin;
}

int
rbgw_status_main(int argc, char **argv)
{
    const char *config = NULL;
    const char *address = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strncmp(argv[i], "--config=", 9) == 0) {
            config = argv[i];
        } else if (argv[i][0] == '-' || address != NULL) {
            usage(stderr);
            return 2;
        } else {
            address = argv[i];
        }
    }
    char err[512];
    char *from_config = NULL;
    if (address == NULL && config != NULL) {
        from_config = admin_of_config(config, err, sizeof(err));
        if (from_config == NULL) {
            fprintf(stderr, "rbgw status: %s\n", err);
            return 2;
        }
        if (*from_config == '\0') {
            fprintf(stderr, "rbgw status: %s sets no admin= (the admin endpoint is off)\n",
                    config + 9);
            free(from_config);
            return 2;
        }
        address = from_config;
    }
    if (address == NULL) {
        address = DEFAULT_ADDRESS;
    }
    char *body = NULL;
    size_t len = 0;
    int status = 1;
    if (fetch_status(address, &body, &len, err, sizeof(err)) != 0) {
        fprintf(stderr, "rbgw status: %s\n", err);
    } else {
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_json *root;
        char perr[200];
        if (rbgw_json_parse(&a, body, len, &root, perr, sizeof(perr)) != 0 ||
            root->type != RBGW_JSON_OBJECT) {
            fprintf(stderr, "rbgw status: %s: /status is not a JSON object: %s\n", address, perr);
        } else {
            print_status(address, root);
            fflush(stdout);
            status = 0;
        }
        rbgw_arena_free(&a);
    }
    free(body);
    free(from_config);
    return status;
}
