/*
 * rbgw_proc.c: spawn rbgw with piped stdin/stdout and a file for stderr (see rbgw_proc.h).
 *
 * Why fork+execv by hand rather than posix_spawn: the child must close every descriptor above 2
 * (Criterion's own pipes, other tests' sockets) so that rbgw's stdin reaches EOF exactly when the
 * test closes it, and so that a leftover child cannot keep Criterion's runner waiting.  Every
 * descriptor here is created CLOEXEC as well.
 *
 * Waiting with a bound uses a pidfd (poll() on it signals exit), so no sleep loop is needed.
 * stdout is read through a small buffer owned by the proc: a line may arrive in pieces and
 * several lines may arrive in one read.
 */
#include "rbgw_proc.h"
#include "netio.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RBGW_BINARY
#define RBGW_BINARY "rbgw"
#endif

struct rbgw_proc {
    pid_t pid;        /* child */
    int in;           /* write end of the child's stdin, -1 once closed */
    int out;          /* read end of the child's stdout, -1 at EOF */
    int err;          /* the stderr temp file (read side, same open file) */
    int pidfd;        /* pidfd of the child, -1 if unavailable */
    char errpath[64]; /* temp file path, unlinked in rbgw_proc_free */
    char *buf;        /* owned: stdout bytes not yet returned */
    size_t len;       /* bytes in buf */
    size_t cap;       /* allocated size of buf */
    bool eof;         /* stdout reached EOF */
    bool reaped;      /* waitpid done */
    int wstatus;      /* its status once reaped */
};

/* nofile: RLIMIT_NOFILE for the child, 0 to leave it as it is. */
static struct rbgw_proc *
spawn(const char *binary, const char *const *args, unsigned nofile)
{
    if (!binary) {
        binary = getenv("RBGW_ITEST_BINARY");
    }
    if (!binary || !*binary) {
        binary = RBGW_BINARY;
    }
    signal(SIGPIPE, SIG_IGN);

    struct rbgw_proc *p = calloc(1, sizeof(*p));
    if (!p) {
        return NULL;
    }
    p->in = p->out = p->err = p->pidfd = -1;
    int inp[2] = {-1, -1}, outp[2] = {-1, -1};
    snprintf(p->errpath, sizeof(p->errpath), "/tmp/rbgw-itest-stderr-XXXXXX");
    int errfd = mkostemp(p->errpath, O_CLOEXEC);
    if (errfd < 0 || pipe2(inp, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
        goto fail;
    }

    size_t nargs = 0;
    while (args && args[nargs]) {
        nargs++;
    }
    char **argv = calloc(nargs + 2, sizeof(*argv));
    if (!argv) {
        goto fail;
    }
    argv[0] = (char *)binary;
    for (size_t i = 0; i < nargs; i++) {
        argv[i + 1] = (char *)args[i];
    }

    pid_t pid = fork();
    if (pid < 0) {
        free(argv);
        goto fail;
    }
    if (pid == 0) {
        /* child: only async-signal-safe calls from here on.  If the test process dies (a
         * crash, an assertion in a forked Criterion worker), take rbgw with it: a gateway with
         * a socket listener would otherwise outlive its test. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (dup2(inp[0], 0) < 0 || dup2(outp[1], 1) < 0 || dup2(errfd, 2) < 0) {
            _exit(126);
        }
        if (syscall(SYS_close_range, 3U, ~0U, 0U) < 0) {
            for (int fd = 3; fd < 4096; fd++) {
                close(fd);
            }
        }
        if (nofile > 0) {
            struct rlimit rl = {.rlim_cur = nofile, .rlim_max = nofile};
            if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
                _exit(125);
            }
        }
        execv(binary, argv);
        _exit(127);
    }
    free(argv);
    p->pid = pid;
    close(inp[0]);
    close(outp[1]);
    p->in = inp[1];
    p->out = outp[0];
    p->err = errfd;
    p->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    return p;

fail:
    for (int i = 0; i < 2; i++) {
        if (inp[i] >= 0) {
            close(inp[i]);
        }
        if (outp[i] >= 0) {
            close(outp[i]);
        }
    }
    if (errfd >= 0) {
        close(errfd);
        unlink(p->errpath);
    }
    free(p);
    return NULL;
}

struct rbgw_proc *
rbgw_proc_spawn(const char *binary, const char *const *args)
{
    return spawn(binary, args, 0);
}

struct rbgw_proc *
rbgw_proc_spawn_nofile(const char *binary, const char *const *args, unsigned nofile)
{
    return spawn(binary, args, nofile);
}

int
rbgw_proc_write(struct rbgw_proc *p, const void *data, size_t len)
{
    const char *s = data;
    if (p->in < 0) {
        return -EPIPE;
    }
    while (len > 0) {
        ssize_t n = write(p->in, s, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return -errno;
        }
        s += n;
        len -= (size_t)n;
    }
    return 0;
}

int
rbgw_proc_write_str(struct rbgw_proc *p, const char *s)
{
    return rbgw_proc_write(p, s, strlen(s));
}

/* One read from stdout into buf, waiting at most timeout_ms.  1 data, 0 EOF, -ETIMEDOUT. */
static int
fill(struct rbgw_proc *p, int timeout_ms)
{
    if (p->eof) {
        return 0;
    }
    struct pollfd pfd = {.fd = p->out, .events = POLLIN};
    int rc;
    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        return -ETIMEDOUT;
    }
    if (p->cap - p->len < 4096) {
        p->cap = p->cap ? p->cap * 2 : 16384;
        p->buf = realloc(p->buf, p->cap + 1);
        if (!p->buf) {
            abort();
        }
    }
    ssize_t n;
    do {
        n = read(p->out, p->buf + p->len, p->cap - p->len);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) {
        p->eof = true;
        close(p->out);
        p->out = -1;
        return 0;
    }
    p->len += (size_t)n;
    return 1;
}

char *
rbgw_proc_read_line(struct rbgw_proc *p, int timeout_ms, size_t *len)
{
    long deadline = rbgw_test_now_ms() + timeout_ms;
    for (;;) {
        char *nl = p->buf ? memchr(p->buf, '\n', p->len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - p->buf);
            char *line = malloc(n + 1);
            if (!line) {
                abort();
            }
            memcpy(line, p->buf, n);
            line[n] = '\0';
            memmove(p->buf, nl + 1, p->len - n - 1);
            p->len -= n + 1;
            if (len) {
                *len = n;
            }
            return line;
        }
        long left = deadline - rbgw_test_now_ms();
        int rc = fill(p, left > 0 ? (int)left : 0);
        if (rc == 0) {
            errno = 0;
            return NULL;
        }
        if (rc < 0) {
            errno = ETIMEDOUT;
            return NULL;
        }
    }
}

bool
rbgw_proc_readable(struct rbgw_proc *p, int timeout_ms)
{
    if (p->len > 0 || p->eof) {
        return true;
    }
    struct pollfd pfd = {.fd = p->out, .events = POLLIN};
    int rc;
    do {
        rc = poll(&pfd, 1, timeout_ms);
    } while (rc < 0 && errno == EINTR);
    return rc > 0;
}

size_t
rbgw_proc_pending(const struct rbgw_proc *p)
{
    return p->len;
}

int
rbgw_proc_read_to_eof(struct rbgw_proc *p, int timeout_ms, char **rest, size_t *rest_len)
{
    long deadline = rbgw_test_now_ms() + timeout_ms;
    while (!p->eof) {
        long left = deadline - rbgw_test_now_ms();
        if (fill(p, left > 0 ? (int)left : 0) < 0) {
            return -ETIMEDOUT;
        }
    }
    char *r = malloc(p->len + 1);
    if (!r) {
        abort();
    }
    if (p->len) {
        memcpy(r, p->buf, p->len);
    }
    r[p->len] = '\0';
    *rest = r;
    if (rest_len) {
        *rest_len = p->len;
    }
    p->len = 0;
    return 0;
}

void
rbgw_proc_close_stdin(struct rbgw_proc *p)
{
    if (p->in >= 0) {
        close(p->in);
        p->in = -1;
    }
}

int
rbgw_proc_wait(struct rbgw_proc *p, int timeout_ms, int *wstatus)
{
    if (!p->reaped) {
        if (p->pidfd >= 0) {
            struct pollfd pfd = {.fd = p->pidfd, .events = POLLIN};
            int rc;
            do {
                rc = poll(&pfd, 1, timeout_ms);
            } while (rc < 0 && errno == EINTR);
            if (rc == 0) {
                return -ETIMEDOUT;
            }
            while (waitpid(p->pid, &p->wstatus, 0) < 0 && errno == EINTR) {
            }
        } else {
            /* No pidfd (old kernel): bounded polling of waitpid is the only portable way. */
            long deadline = rbgw_test_now_ms() + timeout_ms;
            for (;;) {
                pid_t r = waitpid(p->pid, &p->wstatus, WNOHANG);
                if (r == p->pid) {
                    break;
                }
                if (rbgw_test_now_ms() >= deadline) {
                    return -ETIMEDOUT;
                }
                struct timespec ts = {0, 5000000L};
                nanosleep(&ts, NULL);
            }
        }
        p->reaped = true;
    }
    if (wstatus) {
        *wstatus = p->wstatus;
    }
    return 0;
}

pid_t
rbgw_proc_pid(const struct rbgw_proc *p)
{
    return p->pid;
}

char *
rbgw_proc_stderr(struct rbgw_proc *p, size_t max)
{
    struct stat st;
    size_t size = fstat(p->err, &st) == 0 ? (size_t)st.st_size : 0;
    size_t off = max && size > max ? size - max : 0;
    char *s = malloc(size - off + 1);
    if (!s) {
        abort();
    }
    ssize_t n = pread(p->err, s, size - off, (off_t)off);
    s[n > 0 ? (size_t)n : 0] = '\0';
    return s;
}

void
rbgw_proc_free(struct rbgw_proc *p)
{
    if (!p) {
        return;
    }
    rbgw_proc_close_stdin(p);
    if (!p->reaped) {
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &p->wstatus, 0) < 0 && errno == EINTR) {
        }
        p->reaped = true;
    }
    if (p->out >= 0) {
        close(p->out);
    }
    if (p->pidfd >= 0) {
        close(p->pidfd);
    }
    close(p->err);
    unlink(p->errpath);
    free(p->buf);
    free(p);
}
