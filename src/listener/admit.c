/*
 * listener/admit.c: max-conns and descriptor shortage at accept (see admit.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rbgw/log.h"
#include "listener/admit.h"

void
rbgw__admit_reserve_open(struct rbgw_gateway *gw)
{
    if (gw->reserve_fd < 0) {
        gw->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}

void
rbgw__admit_reserve_close(struct rbgw_gateway *gw)
{
    if (gw->reserve_fd >= 0) {
        close(gw->reserve_fd);
        gw->reserve_fd = -1;
    }
}

/* Accept and close every connection waiting on fd, with the reserve descriptor freed for it;
 * returns how many. */
static unsigned
shed(struct rbgw_gateway *gw, int fd)
{
    unsigned n = 0;
    if (gw->reserve_fd < 0) {
        return 0;
    }
    close(gw->reserve_fd);
    gw->reserve_fd = -1;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c >= 0) {
            close(c);
            n++;
            continue;
        }
        if (errno != EINTR && errno != ECONNABORTED) {
            break;
        }
    }
    rbgw__admit_reserve_open(gw);
    return n;
}

void
rbgw__admit_failed(struct rbgw_listener *l, uv_stream_t *server, int status, const char *what)
{
    struct rbgw_gateway *gw = l->gw;
    gw->limit_hits[RBGW_LIMIT_ACCEPT_FAILED]++;
    unsigned shed_n = 0;
    uv_os_fd_t fd;
    if ((status == UV_EMFILE || status == UV_ENFILE) &&
        uv_fileno((uv_handle_t *)server, &fd) == 0) {
        shed_n = shed(gw, fd);
    }
    rbgw_rlog_limited(RBGW_LOG_WARN, "accept failed", NULL, NULL,
                      "%s: cannot accept a connection: %s (%u waiting connection(s) closed; "
                      "raise the descriptor limit or lower max-conns)",
                      what, uv_strerror(status), shed_n);
}

bool
rbgw__admit_over(struct rbgw_listener *l, uint32_t nopen, uint32_t max, const char *what)
{
    if (nopen <= max) {
        return false;
    }
    l->gw->limit_hits[RBGW_LIMIT_MAX_CONNS]++;
    rbgw_rlog_limited(RBGW_LOG_WARN, "connections over max-conns", NULL, NULL,
                      "%s: %u connections open (max-conns=%u): a new one is closed at once", what,
                      max, max);
    return true;
}
