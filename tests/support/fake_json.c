/*
 * fake_json.c: scripted JSON stream responders (unix socket server thread, python3 pipe
 * co-process script) and a pdns-like unix client; see fake_json.h for the request language.
 *
 * Why one table for both responders: the canned replies are defined once (canned[] below) and
 * the python script is generated from it, so the unix and the pipe scenario of a test see the
 * very same bytes, and a test compares against the header's macros.  The table checks itself
 * against those macros before it is used.
 *
 * The unix server is one thread with a poll() loop over the listening socket, the accepted
 * connections and a wake pipe (stop, latch release).  Shared state (records, counters, the
 * latch) is under one mutex; waits use a monotonic condition variable, never sleeps.  The only
 * pauses are the gaps between the pieces of a "pieces"/"pretty"/"blank" reply, which are the
 * scenario itself (a reply that arrives in several reads), not synchronisation.
 *
 * The pipe responder is a python3 script, because rbgw needs an executable to spawn and the
 * test support library builds no programs.  Children record by appending one
 * "<pid>\t<line>\n" per request with a single write(2) on an O_APPEND descriptor, so lines of
 * concurrent children never interleave.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fake_json.h"
#include "netio.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- canned replies ---- */

struct canned {
    const char *method;    /* request method that selects it */
    const char *pieces[4]; /* written one by one, FAKE_JSON_PIECE_GAP_MS apart; NULL ends */
    const char *expect;    /* the pieces joined: checked against the header's macros */
};

static const struct canned canned[] = {
    {"pieces",
     {"{\"result\": {\"a\": 1.", "50, \"b\": [1, ", "2, 3]}, \"log\": [\"in p", "ieces\"]}\n"},
     FAKE_JSON_REPLY_PIECES "\n"},
    {"pretty",
     {"{\n  \"result\": [\n    1,\n    2.5", "0\n  ],\n  \"log\": [\n    \"pretty\"\n  ]\n}\n"},
     FAKE_JSON_REPLY_PRETTY "\n"},
    {"nonl", {FAKE_JSON_REPLY_NONL}, FAKE_JSON_REPLY_NONL},
    {"blank", {"\n\n", FAKE_JSON_REPLY_BLANK "\n"}, "\n\n" FAKE_JSON_REPLY_BLANK "\n"},
    {"raw", {FAKE_JSON_REPLY_RAW "\n"}, FAKE_JSON_REPLY_RAW "\n"},
    {"garbage", {FAKE_JSON_REPLY_GARBAGE "\n"}, FAKE_JSON_REPLY_GARBAGE "\n"},
    {"noresult", {FAKE_JSON_REPLY_NORESULT "\n"}, FAKE_JSON_REPLY_NORESULT "\n"},
    {"nullresult", {FAKE_JSON_REPLY_NULLRESULT "\n"}, FAKE_JSON_REPLY_NULLRESULT "\n"},
    {"stray", {FAKE_JSON_REPLY_STRAY}, FAKE_JSON_REPLY_STRAY},
};

#define NCANNED (sizeof(canned) / sizeof(canned[0]))

static void
canned_selfcheck(void)
{
    for (size_t i = 0; i < NCANNED; i++) {
        char joined[512] = "";
        for (size_t j = 0; j < 4 && canned[i].pieces[j]; j++) {
            strncat(joined, canned[i].pieces[j], sizeof(joined) - strlen(joined) - 1);
        }
        if (strcmp(joined, canned[i].expect) != 0) {
            fprintf(stderr, "fake_json: canned reply '%s' does not match its macro\n",
                    canned[i].method);
            abort();
        }
    }
}

static void
gap(void)
{
    struct timespec ts = {0, FAKE_JSON_PIECE_GAP_MS * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Find `"method"<ws>:<ws>"<name>"` in line; name's bytes go to *m, *mlen.  False if absent. */
static bool
find_method(const char *line, size_t len, const char **m, size_t *mlen)
{
    const char *end = line + len;
    const char *p = memmem(line, len, "\"method\"", 8);
    if (!p) {
        return false;
    }
    p += 8;
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p == end || *p++ != ':') {
        return false;
    }
    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }
    if (p == end || *p++ != '"') {
        return false;
    }
    const char *q = memchr(p, '"', (size_t)(end - p));
    if (!q) {
        return false;
    }
    *m = p;
    *mlen = (size_t)(q - p);
    return true;
}

static bool
method_is(const char *m, size_t mlen, const char *name)
{
    return strlen(name) == mlen && memcmp(m, name, mlen) == 0;
}

/* ---- records ---- */

void
fake_json_recs_free(struct fake_json_rec *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].data);
    }
    free(r);
}

bool
fake_json_rec_is(const struct fake_json_rec *r, const char *method)
{
    const char *m;
    size_t mlen;
    return find_method(r->data, r->len, &m, &mlen) && method_is(m, mlen, method);
}

static char *
memdup0(const char *p, size_t len)
{
    char *s = malloc(len + 1);
    if (!s) {
        abort();
    }
    memcpy(s, p, len);
    s[len] = '\0';
    return s;
}

/* ---- directories ---- */

char *
fake_json_mkdtemp(void)
{
    char tmpl[] = "/tmp/rbgw-fj-XXXXXX";
    if (!mkdtemp(tmpl)) {
        return NULL;
    }
    return strdup(tmpl);
}

void
fake_json_rmtree(const char *dir)
{
    if (!dir) {
        return;
    }
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
                unlinkat(dirfd(d), e->d_name, 0);
            }
        }
        closedir(d);
    }
    rmdir(dir);
}

/* ---- pipe responder ---- */

static const char *
python_path(void)
{
    static char found[512];
    if (access("/usr/bin/python3", X_OK) == 0) {
        return "/usr/bin/python3";
    }
    const char *path = getenv("PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        snprintf(found, sizeof(found), "%.*s/python3", (int)n, path);
        if (n > 0 && access(found, X_OK) == 0) {
            return found;
        }
        path = colon ? colon + 1 : NULL;
    }
    return NULL;
}

/* Write s[0..n) as a python bytes literal, every byte outside plain printable ASCII as \xNN. */
static void
py_bytes_n(FILE *f, const char *s, size_t n)
{
    fputs("b'", f);
    for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n; p++) {
        if (*p < 0x20 || *p > 0x7e || *p == '\'' || *p == '\\') {
            fprintf(f, "\\x%02x", *p);
        } else {
            fputc(*p, f);
        }
    }
    fputc('\'', f);
}

static void
py_bytes(FILE *f, const char *s)
{
    py_bytes_n(f, s, strlen(s));
}

static const char script_head[] =
    "# fake_json pipe responder, written by tests/support/fake_json.c (see fake_json.h).\n"
    "import os, re, sys, time\n"
    "D = sys.argv[1]\n"
    "LOG = os.open(os.path.join(D, 'pipe.log'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)\n"
    "PID = os.getpid()\n"
    "METHOD = re.compile(rb'\"method\"[ \\t]*:[ \\t]*\"([^\"]*)\"')\n"
    "out = sys.stdout.buffer\n"
    "inp = sys.stdin.buffer\n";

static const char script_body[] = "def send(parts):\n"
                                  "    for i, p in enumerate(parts):\n"
                                  "        if i:\n"
                                  "            time.sleep(GAP)\n"
                                  "        out.write(p)\n"
                                  "        out.flush()\n"
                                  "def flag(name):\n"
                                  "    return os.path.exists(os.path.join(D, name))\n"
                                  "def exit_after():\n"
                                  "    try:\n"
                                  "        with open(os.path.join(D, 'exit-after')) as f:\n"
                                  "            return int(f.read())\n"
                                  "    except (OSError, ValueError):\n"
                                  "        return 0\n"
                                  "LAST = exit_after()\n"
                                  "if flag('orphan'):\n"
                                  "    g = os.fork()\n"
                                  "    if g == 0:\n"
                                  "        time.sleep(600)\n"
                                  "        os._exit(0)\n"
                                  "    os.write(os.open(os.path.join(D, 'orphans'), os.O_WRONLY | "
                                  "os.O_APPEND | os.O_CREAT, 0o644), b'%d\\n' % g)\n"
                                  "calls = 0\n"
                                  "while True:\n"
                                  "    line = inp.readline()\n"
                                  "    if not line:\n"
                                  "        sys.exit(0)\n"
                                  "    if line.endswith(b'\\n'):\n"
                                  "        line = line[:-1]\n"
                                  "    os.write(LOG, b'%d\\t' % PID + line + b'\\n')\n"
                                  "    m = METHOD.search(line)\n"
                                  "    method = m.group(1) if m else b''\n"
                                  "    if method == b'initialize':\n"
                                  "        if flag('init-crash'):\n"
                                  "            os._exit(3)\n"
                                  "        send([b'{\"result\": false}\\n' if flag('init-false') "
                                  "else b'{\"result\": true}\\n'])\n"
                                  "    elif method == b'stall':\n"
                                  "        continue\n"
                                  "    elif method == b'crash':\n"
                                  "        os._exit(4)\n"
                                  "    elif method == b'crash-mid':\n"
                                  "        send([CRASH_MID])\n"
                                  "        os._exit(5)\n"
                                  "    elif method == b'junk':\n"
                                  "        send([JUNK])\n"
                                  "    elif method in CANNED:\n"
                                  "        send(CANNED[method])\n"
                                  "    else:\n"
                                  "        send([b'{\"result\": ' + line + b'}\\n'])\n"
                                  "    if method == b'unsolicited':\n"
                                  "        with open(os.path.join(D, 'go'), 'rb') as go:\n"
                                  "            go.read(1)\n"
                                  "        send([UNSOLICITED + b'\\n'])\n"
                                  "    if method != b'initialize':\n"
                                  "        calls += 1\n"
                                  "        if calls == LAST:\n"
                                  "            os._exit(6)\n";

char *
fake_json_pipe_script(const char *dir)
{
    canned_selfcheck();
    const char *py = python_path();
    if (!py) {
        errno = ENOENT;
        return NULL;
    }
    char path[4096];
    snprintf(path, sizeof(path), "%s/responder.py", dir);
    FILE *f = fopen(path, "we");
    if (!f) {
        return NULL;
    }
    /* -I: ignore PYTHON* variables and the user's site dir; -S: no site import (faster start). */
    fprintf(f, "#!%s -IS\n%s", py, script_head);
    fprintf(f, "GAP = %g\n", FAKE_JSON_PIECE_GAP_MS / 1000.0);
    fputs("CRASH_MID = ", f);
    py_bytes(f, FAKE_JSON_CRASH_MID);
    fputs("\nJUNK = ", f);
    py_bytes_n(f, FAKE_JSON_REPLY_JUNK, FAKE_JSON_JUNK_LEN);
    fputs("\nUNSOLICITED = ", f);
    py_bytes(f, FAKE_JSON_REPLY_UNSOLICITED);
    fputs("\nCANNED = {\n", f);
    for (size_t i = 0; i < NCANNED; i++) {
        fputs("    ", f);
        py_bytes(f, canned[i].method);
        fputs(": [", f);
        for (size_t j = 0; j < 4 && canned[i].pieces[j]; j++) {
            fputs(j ? ", " : "", f);
            py_bytes(f, canned[i].pieces[j]);
        }
        fputs("],\n", f);
    }
    fputs("}\n", f);
    fputs(script_body, f);
    if (fchmod(fileno(f), 0755) != 0 || fclose(f) != 0) {
        return NULL;
    }
    char *cmd = NULL;
    if (asprintf(&cmd, "%s %s", path, dir) < 0) {
        return NULL;
    }
    return cmd;
}

int
fake_json_pipe_flag(const char *dir, const char *flag, bool on)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, flag);
    if (!on) {
        return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    close(fd);
    return 0;
}

size_t
fake_json_pipe_records(const char *dir, struct fake_json_rec **out)
{
    *out = NULL;
    char path[4096];
    snprintf(path, sizeof(path), "%s/pipe.log", dir);
    FILE *f = fopen(path, "re");
    if (!f) {
        return 0;
    }
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char chunk[4096];
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            text = realloc(text, cap);
            if (!text) {
                abort();
            }
        }
        memcpy(text + len, chunk, n);
        len += n;
    }
    fclose(f);
    if (text == NULL) {
        return 0;
    }
    text[len] = '\0'; /* strtol below reads a C string */
    struct fake_json_rec *recs = NULL;
    size_t nrecs = 0;
    size_t pos = 0;
    while (pos < len) {
        char *nl = memchr(text + pos, '\n', len - pos);
        if (!nl) {
            break; /* a record is one write(2): a partial one cannot be there, but be safe */
        }
        char *tab = memchr(text + pos, '\t', (size_t)(nl - (text + pos)));
        if (tab) {
            recs = realloc(recs, (nrecs + 1) * sizeof(*recs));
            if (!recs) {
                abort();
            }
            recs[nrecs].conn = strtol(text + pos, NULL, 10);
            recs[nrecs].data = memdup0(tab + 1, (size_t)(nl - tab - 1));
            recs[nrecs].len = (size_t)(nl - tab - 1);
            nrecs++;
        }
        pos = (size_t)(nl - text) + 1;
    }
    free(text);
    *out = recs;
    return nrecs;
}

/* ---- unix responder ---- */

struct fj_conn {
    int fd;     /* -1 once closed */
    char *buf;  /* received bytes not yet split into lines */
    size_t len; /* bytes in buf */
    size_t cap; /* allocated size of buf */
};

struct fj_held {
    size_t conn; /* index into conns */
    char *line;  /* the request line (owned) */
    size_t len;  /* its length */
};

struct fake_json {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* signalled on every counter change */
    int lfd;               /* listening socket */
    int wake[2];           /* wake pipe: stop, latch release */
    char *path;            /* socket path (unlinked at stop) */
    struct fj_conn *conns; /* every accepted connection, by accept index (thread only) */
    size_t nconns;         /* accepted so far */
    /* under mu: */
    struct fake_json_rec *recs;
    size_t nrecs;
    struct fj_held *held; /* "hold" requests waiting for the latch */
    size_t nheld;
    unsigned accepts, closes, open, max_open;
    enum fake_json_init init;
    bool latch;  /* open: hold requests are answered */
    bool inject; /* fake_json_inject asked, not yet written */
    bool stop;
};

static void
lock(struct fake_json *s)
{
    pthread_mutex_lock(&s->mu);
}

static void
unlock(struct fake_json *s)
{
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

static void
write_echo(int fd, const char *line, size_t len)
{
    size_t n = len + 13;
    char *b = malloc(n);
    if (!b) {
        abort();
    }
    memcpy(b, "{\"result\": ", 11);
    memcpy(b + 11, line, len);
    memcpy(b + 11 + len, "}\n", 2);
    rbgw_test_send_all(fd, b, n);
    free(b);
}

/* {"result": [[...]]} nested FAKE_JSON_NESTED_DEPTH deep, '\n'. */
static void
write_nested(int fd)
{
    size_t n = 11 + 2 * (size_t)FAKE_JSON_NESTED_DEPTH + 2;
    char *b = malloc(n);
    if (!b) {
        abort();
    }
    memcpy(b, "{\"result\": ", 11);
    memset(b + 11, '[', FAKE_JSON_NESTED_DEPTH);
    memset(b + 11 + FAKE_JSON_NESTED_DEPTH, ']', FAKE_JSON_NESTED_DEPTH);
    memcpy(b + n - 2, "}\n", 2);
    rbgw_test_send_all(fd, b, n);
    free(b);
}

/* {"result": "xxx..."} with FAKE_JSON_HUGE_BYTES of x, '\n', in 1 MiB writes until all is
 * written or the peer is gone. */
static void
write_huge(int fd)
{
    static char chunk[1 << 20];
    memset(chunk, 'x', sizeof(chunk));
    if (!rbgw_test_send_all(fd, "{\"result\": \"", 12)) {
        return;
    }
    for (size_t sent = 0; sent < FAKE_JSON_HUGE_BYTES; sent += sizeof(chunk)) {
        if (!rbgw_test_send_all(fd, chunk, sizeof(chunk))) {
            return;
        }
    }
    rbgw_test_send_all(fd, "\"}\n", 3);
}

static void
conn_close(struct fake_json *s, size_t ci)
{
    struct fj_conn *c = &s->conns[ci];
    if (c->fd < 0) {
        return;
    }
    close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
    lock(s);
    s->closes++;
    s->open--;
    unlock(s);
}

static void
handle_line(struct fake_json *s, size_t ci, const char *line, size_t len)
{
    int fd = s->conns[ci].fd;
    lock(s);
    s->recs = realloc(s->recs, (s->nrecs + 1) * sizeof(*s->recs));
    if (!s->recs) {
        abort();
    }
    s->recs[s->nrecs].conn = (long)ci;
    s->recs[s->nrecs].data = memdup0(line, len);
    s->recs[s->nrecs].len = len;
    s->nrecs++;
    enum fake_json_init init = s->init;
    bool latch = s->latch;
    unlock(s);

    const char *m = "";
    size_t mlen = 0;
    find_method(line, len, &m, &mlen);
    if (method_is(m, mlen, "initialize")) {
        if (init == FAKE_JSON_INIT_CLOSE) {
            conn_close(s, ci);
        } else if (init == FAKE_JSON_INIT_FALSE) {
            rbgw_test_send_all(fd, "{\"result\": false}\n", 18);
        } else {
            rbgw_test_send_all(fd, "{\"result\": true}\n", 17);
        }
        return;
    }
    if (method_is(m, mlen, "stall")) {
        return;
    }
    if (method_is(m, mlen, "crash")) {
        conn_close(s, ci);
        return;
    }
    if (method_is(m, mlen, "crash-mid")) {
        rbgw_test_send_all(fd, FAKE_JSON_CRASH_MID, strlen(FAKE_JSON_CRASH_MID));
        conn_close(s, ci);
        return;
    }
    if (method_is(m, mlen, "junk")) {
        rbgw_test_send_all(fd, FAKE_JSON_REPLY_JUNK, FAKE_JSON_JUNK_LEN);
        return;
    }
    if (method_is(m, mlen, "nested")) {
        write_nested(fd);
        return;
    }
    if (method_is(m, mlen, "huge")) {
        write_huge(fd);
        return;
    }
    if (method_is(m, mlen, "hold") && !latch) {
        lock(s);
        s->held = realloc(s->held, (s->nheld + 1) * sizeof(*s->held));
        if (!s->held) {
            abort();
        }
        s->held[s->nheld].conn = ci;
        s->held[s->nheld].line = memdup0(line, len);
        s->held[s->nheld].len = len;
        s->nheld++;
        unlock(s);
        return;
    }
    for (size_t i = 0; i < NCANNED; i++) {
        if (method_is(m, mlen, canned[i].method)) {
            for (size_t j = 0; j < 4 && canned[i].pieces[j]; j++) {
                if (j) {
                    gap();
                }
                rbgw_test_send_all(fd, canned[i].pieces[j], strlen(canned[i].pieces[j]));
            }
            return;
        }
    }
    write_echo(fd, line, len);
}

static void
conn_read(struct fake_json *s, size_t ci)
{
    struct fj_conn *c = &s->conns[ci];
    ssize_t n;
    do {
        n = rbgw_test_recv_more(c->fd, &c->buf, &c->len, &c->cap);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        conn_close(s, ci);
        return;
    }
    size_t pos = 0;
    while (s->conns[ci].fd >= 0) {
        c = &s->conns[ci];
        char *nl = memchr(c->buf + pos, '\n', c->len - pos);
        if (!nl) {
            break;
        }
        size_t llen = (size_t)(nl - (c->buf + pos));
        char *line = memdup0(c->buf + pos, llen);
        pos += llen + 1;
        handle_line(s, ci, line, llen);
        free(line);
    }
    c = &s->conns[ci];
    if (c->fd >= 0 && pos > 0) {
        memmove(c->buf, c->buf + pos, c->len - pos);
        c->len -= pos;
    }
}

static void
do_accept(struct fake_json *s)
{
    int fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    s->conns = realloc(s->conns, (s->nconns + 1) * sizeof(*s->conns));
    if (!s->conns) {
        abort();
    }
    memset(&s->conns[s->nconns], 0, sizeof(s->conns[0]));
    s->conns[s->nconns].fd = fd;
    s->nconns++;
    lock(s);
    s->accepts++;
    s->open++;
    if (s->open > s->max_open) {
        s->max_open = s->open;
    }
    unlock(s);
}

/* The latch was opened: answer every held request (echo) on its connection. */
static void
answer_held(struct fake_json *s)
{
    lock(s);
    struct fj_held *held = s->held;
    size_t nheld = s->nheld;
    s->held = NULL;
    s->nheld = 0;
    unlock(s);
    for (size_t i = 0; i < nheld; i++) {
        if (s->conns[held[i].conn].fd >= 0) {
            write_echo(s->conns[held[i].conn].fd, held[i].line, held[i].len);
        }
        free(held[i].line);
    }
    free(held);
}

static void *
server_main(void *arg)
{
    struct fake_json *s = arg;
    struct pollfd *pfds = NULL;
    size_t *which = NULL;
    for (;;) {
        pfds = realloc(pfds, (s->nconns + 2) * sizeof(*pfds));
        which = realloc(which, (s->nconns + 2) * sizeof(*which));
        if (!pfds || !which) {
            abort();
        }
        size_t np = 0;
        pfds[np++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        pfds[np++] = (struct pollfd){.fd = s->lfd, .events = POLLIN};
        for (size_t i = 0; i < s->nconns; i++) {
            if (s->conns[i].fd >= 0) {
                which[np] = i;
                pfds[np++] = (struct pollfd){.fd = s->conns[i].fd, .events = POLLIN};
            }
        }
        if (poll(pfds, (nfds_t)np, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (pfds[0].revents) {
            char b[64];
            while (read(s->wake[0], b, sizeof(b)) > 0) {
            }
            lock(s);
            bool stop = s->stop;
            bool latch = s->latch;
            bool inject = s->inject;
            unlock(s);
            if (stop) {
                break;
            }
            if (latch) {
                answer_held(s);
            }
            if (inject) {
                for (size_t i = 0; i < s->nconns; i++) {
                    if (s->conns[i].fd >= 0) {
                        rbgw_test_send_all(s->conns[i].fd, FAKE_JSON_REPLY_UNSOLICITED "\n",
                                           strlen(FAKE_JSON_REPLY_UNSOLICITED) + 1);
                    }
                }
                lock(s);
                s->inject = false;
                unlock(s);
            }
        }
        if (pfds[1].revents & POLLIN) {
            do_accept(s);
        }
        for (size_t k = 2; k < np; k++) {
            if (pfds[k].revents && s->conns[which[k]].fd == pfds[k].fd) {
                conn_read(s, which[k]);
            }
        }
    }
    free(pfds);
    free(which);
    return NULL;
}

struct fake_json *
fake_json_unix_start(const char *path)
{
    canned_selfcheck();
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    struct fake_json *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->lfd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->path = strdup(path);
    pthread_mutex_init(&s->mu, NULL);
    rbgw_test_cond_init(&s->cv);
    strcpy(sa.sun_path, path);
    unlink(path);
    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        listen(s->lfd, 64) != 0 || pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) != 0 ||
        pthread_create(&s->thread, NULL, server_main, s) != 0) {
        int e = errno;
        if (s->lfd >= 0) {
            close(s->lfd);
        }
        if (s->wake[0] >= 0) {
            close(s->wake[0]);
            close(s->wake[1]);
        }
        unlink(path);
        free(s->path);
        free(s);
        errno = e;
        return NULL;
    }
    return s;
}

void
fake_json_stop(struct fake_json *s)
{
    if (!s) {
        return;
    }
    lock(s);
    s->stop = true;
    unlock(s);
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->nconns; i++) {
        if (s->conns[i].fd >= 0) {
            close(s->conns[i].fd);
        }
        free(s->conns[i].buf);
    }
    free(s->conns);
    for (size_t i = 0; i < s->nheld; i++) {
        free(s->held[i].line);
    }
    free(s->held);
    fake_json_recs_free(s->recs, s->nrecs);
    close(s->lfd);
    close(s->wake[0]);
    close(s->wake[1]);
    unlink(s->path);
    free(s->path);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

void
fake_json_set_init(struct fake_json *s, enum fake_json_init how)
{
    lock(s);
    s->init = how;
    unlock(s);
}

void
fake_json_release(struct fake_json *s)
{
    lock(s);
    s->latch = true;
    unlock(s);
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
}

void
fake_json_inject(struct fake_json *s)
{
    lock(s);
    s->inject = true;
    unlock(s);
    ssize_t w = write(s->wake[1], "x", 1);
    (void)w;
    pthread_mutex_lock(&s->mu);
    while (s->inject) {
        pthread_cond_wait(&s->cv, &s->mu);
    }
    pthread_mutex_unlock(&s->mu);
}

size_t
fake_json_records(struct fake_json *s, struct fake_json_rec **out)
{
    lock(s);
    size_t n = s->nrecs;
    struct fake_json_rec *r = NULL;
    if (n) {
        r = calloc(n, sizeof(*r));
        if (!r) {
            abort();
        }
        for (size_t i = 0; i < n; i++) {
            r[i].conn = s->recs[i].conn;
            r[i].data = memdup0(s->recs[i].data, s->recs[i].len);
            r[i].len = s->recs[i].len;
        }
    }
    unlock(s);
    *out = r;
    return n;
}

unsigned
fake_json_accepts(struct fake_json *s)
{
    return rbgw_test_locked_get(&s->mu, &s->accepts);
}

unsigned
fake_json_closes(struct fake_json *s)
{
    return rbgw_test_locked_get(&s->mu, &s->closes);
}

unsigned
fake_json_max_open(struct fake_json *s)
{
    return rbgw_test_locked_get(&s->mu, &s->max_open);
}

/* Wait (bounded) until *field >= n; field is read under the lock. */
static bool
wait_for(struct fake_json *s, const size_t *zfield, const unsigned *ufield, size_t n,
         int timeout_ms)
{
    struct timespec dl;
    rbgw_test_deadline(&dl, timeout_ms);
    pthread_mutex_lock(&s->mu);
    bool ok;
    for (;;) {
        size_t v = zfield ? *zfield : *ufield;
        if (v >= n) {
            ok = true;
            break;
        }
        if (pthread_cond_timedwait(&s->cv, &s->mu, &dl) == ETIMEDOUT) {
            v = zfield ? *zfield : *ufield;
            ok = v >= n;
            break;
        }
    }
    pthread_mutex_unlock(&s->mu);
    return ok;
}

bool
fake_json_wait_closes(struct fake_json *s, unsigned n, int timeout_ms)
{
    return wait_for(s, NULL, &s->closes, n, timeout_ms);
}

bool
fake_json_wait_held(struct fake_json *s, unsigned n, int timeout_ms)
{
    return wait_for(s, &s->nheld, NULL, n, timeout_ms);
}

/* ---- client ---- */

struct fake_json_client {
    int fd;     /* the connection */
    char *buf;  /* received, not yet returned */
    size_t len; /* bytes in buf */
    size_t cap; /* allocated size of buf */
    bool eof;   /* the peer closed */
};

struct fake_json_client *
fake_json_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        errno = ENAMETOOLONG;
        return NULL;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return NULL;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    struct fake_json_client *c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return NULL;
    }
    c->fd = fd;
    return c;
}

int
fake_json_send(struct fake_json_client *c, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

char *
fake_json_read_line(struct fake_json_client *c, int timeout_ms, size_t *len)
{
    long deadline = rbgw_test_now_ms() + timeout_ms;
    for (;;) {
        char *nl = c->len ? memchr(c->buf, '\n', c->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            char *line = memdup0(c->buf, n);
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            if (len) {
                *len = n;
            }
            return line;
        }
        if (c->eof) {
            errno = 0;
            return NULL;
        }
        long left = deadline - rbgw_test_now_ms();
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int rc;
        do {
            rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
        } while (rc < 0 && errno == EINTR);
        if (rc <= 0) {
            errno = ETIMEDOUT;
            return NULL;
        }
        ssize_t n;
        do {
            n = rbgw_test_recv_more(c->fd, &c->buf, &c->len, &c->cap);
        } while (n < 0 && errno == EINTR);
        if (n <= 0) {
            c->eof = true;
        }
    }
}

size_t
fake_json_pending(const struct fake_json_client *c)
{
    return c->len;
}

int
fake_json_client_shutdown(struct fake_json_client *c)
{
    return shutdown(c->fd, SHUT_WR) == 0 ? 0 : -errno;
}

void
fake_json_client_free(struct fake_json_client *c)
{
    if (!c) {
        return;
    }
    close(c->fd);
    free(c->buf);
    free(c);
}

/* ---- rbgw readiness ---- */

bool
fake_json_gw_ready(struct rbgw_proc *p, int timeout_ms)
{
    static const char probe[] = "{\"method\": \"initialize\", \"parameters\": {\"command\": "
                                "\"fake_json readiness probe\", \"timeout\": \"2000\"}}\n";
    if (rbgw_proc_write_str(p, probe) != 0) {
        return false;
    }
    size_t len = 0;
    char *line = rbgw_proc_read_line(p, timeout_ms, &len);
    bool ok = line && strstr(line, "\"result\"") && strstr(line, "true");
    free(line);
    return ok;
}
