/*
 * listener/unix.c: pdns's unix connector talks to rbgw over a unix stream socket.
 *
 *   unix_listener ──owns──> server handle (uv_pipe_t, listening)
 *                 ├─owns──> read slab (shared by all its conns, see jsonconn.h)
 *                 ├─owns──> write watchdog (write-timeout for all its conns, wdog.h)
 *                 └─owns──> conns (list) ──each──> jsonconn (one call at a time)
 *
 * pdns opens one connection per backend instance and keeps it; every connection starts with
 * its own `initialize`, answered locally (request.c).  A conn is freed in its handle's close
 * callback, after its in-flight call was answered or orphaned.  A connection past max-conns=
 * is closed at accept, and a failed accept is shed and logged (listener/admit.h).
 *
 * Start-up: a socket file left by a dead rbgw (connect refused) is removed; a path that a live
 * server answers on, or that is not a socket, is an error: two gateways must not share a path.
 *
 * Who may connect: the socket file gets mode= (default 0660: owner and group, never the world
 * unless written so) and group= (e.g. group=pdns).  The order bind, chmod, chown, listen is
 * what makes this race-free: a unix socket that is bound but not yet listening refuses every
 * connect (ECONNREFUSED), and the kernel checks the file's permissions at connect time, so no
 * client can get in under the permissions bind() gave the file (which depend on the umask).
 * No umask juggling (process-wide) and no rename of a temporary name are needed.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "rbgw/list.h"
#include "rbgw/log.h"
#include "listener/admit.h"
#include "listener/jsonconn.h"

struct unix_listener {
    struct rbgw_listener *l;    /* borrowed owner */
    uv_pipe_t server;           /* listening socket */
    char *path;                 /* owned: socket path (unlinked at close) */
    struct rbgw_list conns;     /* open unix_conns */
    struct rbgw_read_slab slab; /* the read buffer every conn reads into */
    uint32_t nconns;            /* conns allocated and not yet freed (closing ones too) */
    uint32_t max_conns;         /* max-conns=: beyond, a new conn is closed at once */
    char what[128];             /* "unix listener /run/rbgw.sock", for logs */
    struct rbgw_wdog wdog;      /* closes conns whose client leaves a reply unread */
    unsigned bound : 1;         /* we created the socket file */
    unsigned stopped : 1;       /* no more accepts */
    unsigned closed : 1;        /* handles closing */
    unsigned server_closed : 1; /* the listening socket's close callback ran */
    unsigned wdog_closed : 1;   /* the watchdog timer's close callback ran */
};

struct unix_conn {
    struct rbgw_jsonconn jc;  /* must stay first: jsonconn callbacks hand us &jc */
    uv_pipe_t sock;           /* the accepted connection */
    struct unix_listener *ul; /* borrowed owner */
    struct rbgw_list link;    /* on ul->conns */
};

/* Every handle closed after unix_close: the gateway may free the listener. */
static void
check_closed(struct unix_listener *ul)
{
    if (ul->closed && ul->server_closed && ul->wdog_closed && ul->nconns == 0) {
        rbgw_gateway_listener_closed(ul->l);
    }
}

static void
on_conn_closed(uv_handle_t *h)
{
    struct unix_conn *c = rbgw_container_of(h, struct unix_conn, sock);
    struct unix_listener *ul = c->ul;
    free(c);
    ul->nconns--;
    check_closed(ul);
}

static void
on_server_closed(uv_handle_t *h)
{
    struct unix_listener *ul = h->data;
    ul->server_closed = 1;
    check_closed(ul);
}

static void
on_wdog_closed(uv_handle_t *h)
{
    struct unix_listener *ul = rbgw_container_of(h, struct unix_listener, wdog.timer);
    ul->wdog_closed = 1;
    check_closed(ul);
}

static void
conn_close(struct unix_conn *c)
{
    if (uv_is_closing((uv_handle_t *)&c->sock)) {
        return;
    }
    rbgw_list_remove(&c->link);
    rbgw__jsonconn_deinit(&c->jc);
    uv_close((uv_handle_t *)&c->sock, on_conn_closed);
}

static void
on_conn_done(struct rbgw_jsonconn *jc)
{
    conn_close(rbgw_container_of(jc, struct unix_conn, jc));
}

static void
on_connection(uv_stream_t *server, int status)
{
    struct unix_listener *ul = server->data;
    if (status < 0) {
        rbgw__admit_failed(ul->l, server, status, ul->what);
        return;
    }
    struct unix_conn *c = rbgw_xcalloc(1, sizeof(*c));
    c->ul = ul;
    ul->nconns++;
    rbgw_list_init(&c->link);
    uv_pipe_init(ul->l->gw->loop, &c->sock, 0);
    if (uv_accept(server, (uv_stream_t *)&c->sock) != 0 ||
        rbgw__admit_over(ul->l, ul->nconns, ul->max_conns, ul->what)) {
        /* Closed before anything is read: pdns sees its connection end and tries again. */
        uv_close((uv_handle_t *)&c->sock, on_conn_closed);
        return;
    }
    rbgw_list_push_back(&ul->conns, &c->link);
    rbgw__jsonconn_init(&c->jc, ul->l, &ul->slab, &ul->wdog, (uv_stream_t *)&c->sock,
                        (uv_stream_t *)&c->sock, "unix connection", on_conn_done);
    /* Many pdns connections share the loop: their replies go out together (wbatch.h). */
    c->jc.defer = 1;
    int rc = rbgw__jsonconn_start(&c->jc);
    if (rc < 0) {
        rbgw_log_warn("unix listener %s: cannot read a new connection: %s", ul->path,
                      uv_strerror(rc));
        conn_close(c);
        return;
    }
    if (ul->stopped) {
        rbgw__jsonconn_stop(&c->jc);
    }
}

/* Is somebody answering on path?  1 yes, 0 no (stale or absent), <0 not a socket. */
static int
probe_path(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        return 0;
    }
    if (!S_ISSOCK(st.st_mode)) {
        snprintf(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
        return RBGW_ECONFIG;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_un sa;
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int live = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 || errno == EAGAIN;
    close(fd);
    return live;
}

static int
unix_start(struct rbgw_listener *l, char *err, size_t errlen)
{
    const struct rbgw_connstr *cs = &l->conf->cs;
    const char *path = rbgw_connstr_get(cs, "path");
    if (path == NULL || *path == '\0') {
        snprintf(err, errlen, "path= is required");
        return RBGW_ECONFIG;
    }
    if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        snprintf(err, errlen, "path %s is too long for a unix socket (max %zu bytes)", path,
                 sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
        return RBGW_ECONFIG;
    }
    struct rbgw_unix_perm perm;
    int prc = rbgw_config_unix_perm(cs, &perm, err, errlen);
    if (prc != 0) {
        return prc;
    }
    int live = probe_path(path, err, errlen);
    if (live < 0) {
        return live;
    }
    if (live) {
        snprintf(err, errlen, "%s is in use by a running server", path);
        return RBGW_ECONFIG;
    }
    unlink(path); /* stale socket of a dead process, or nothing */

    long max_conns;
    int rc = rbgw_listener_int_opt(l, "max-conns", &max_conns, err, errlen);
    if (rc != 0) {
        return rc;
    }
    struct unix_listener *ul = rbgw_xcalloc(1, sizeof(*ul));
    ul->l = l;
    ul->path = rbgw_xstrdup(path);
    ul->max_conns = (uint32_t)max_conns;
    snprintf(ul->what, sizeof(ul->what), "unix listener %s", path);
    rbgw_list_init(&ul->conns);
    l->impl = ul;
    uv_pipe_init(l->gw->loop, &ul->server, 0);
    ul->server.data = ul;
    rbgw__wdog_init(&ul->wdog, l->gw->loop);
    rc = uv_pipe_bind(&ul->server, path);
    if (rc < 0) {
        snprintf(err, errlen, "cannot bind %s: %s", path, uv_strerror(rc));
        return rc;
    }
    ul->bound = 1;
    /* Bound, not listening: nobody can connect until the permissions below are in place. */
    if (chmod(path, (mode_t)perm.mode) != 0) {
        snprintf(err, errlen, "cannot set the mode of %s to %04o: %s", path, perm.mode,
                 strerror(errno));
        return RBGW_ECONFIG;
    }
    if (perm.gid >= 0 && chown(path, (uid_t)-1, (gid_t)perm.gid) != 0) {
        snprintf(err, errlen,
                 "cannot give %s to group %s: %s (rbgw must run as root or be a member of that "
                 "group)",
                 path, perm.group, strerror(errno));
        return RBGW_ECONFIG;
    }
    if (perm.mode & 0002) {
        rbgw_log_warn("unix listener %s: mode=%04o lets every local user send calls", path,
                      perm.mode);
    }
    rc = uv_listen((uv_stream_t *)&ul->server, 128, on_connection);
    if (rc < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, uv_strerror(rc));
        return rc;
    }
    rbgw_log_info("listening on unix:%s (mode %04o%s%s)", path, perm.mode,
                  perm.group ? ", group " : "", perm.group ? perm.group : "");
    return 0;
}

static void
unix_stop(struct rbgw_listener *l)
{
    struct unix_listener *ul = l->impl;
    if (ul->stopped) {
        return;
    }
    ul->stopped = 1;
    /* Connections finish their in-flight call, then close (on_conn_done). */
    struct rbgw_list *n = ul->conns.next;
    while (n != &ul->conns) {
        struct unix_conn *c = rbgw_list_entry(n, struct unix_conn, link);
        n = n->next; /* stop may close c */
        rbgw__jsonconn_stop(&c->jc);
    }
    l->done = true;
}

static void
unix_close(struct rbgw_listener *l)
{
    struct unix_listener *ul = l->impl;
    if (ul->closed) {
        return;
    }
    ul->closed = 1;
    while (!rbgw_list_empty(&ul->conns)) {
        conn_close(rbgw_list_entry(ul->conns.next, struct unix_conn, link));
    }
    uv_close((uv_handle_t *)&ul->server, on_server_closed);
    rbgw__wdog_close(&ul->wdog, on_wdog_closed);
    if (ul->bound) {
        unlink(ul->path);
    }
}

static void
unix_destroy(struct rbgw_listener *l)
{
    struct unix_listener *ul = l->impl;
    rbgw_slab_free(&ul->slab);
    free(ul->path);
    free(ul);
    l->impl = NULL;
}

const struct rbgw_listener_ops rbgw_unix_listener_ops = {
    .name = "unix",
    .start = unix_start,
    .stop = unix_stop,
    .close = unix_close,
    .destroy = unix_destroy,
};
