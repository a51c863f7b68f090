/*
 * faultcheck.c: see faultcheck.h.
 *
 * The polls read /proc (procstat.h) every 10 ms until the state holds or RBGW_TEST_IO_MS has
 * passed; the bound only keeps a broken build from hanging, the assertion is on the state.
 * A process's exit is waited for on a pidfd, which becomes readable when it has exited.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "faultcheck.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "itest.h"
#include "netio.h"
#include "procstat.h"

#if defined(__SANITIZE_ADDRESS__)
#define CHECK_MEMORY 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CHECK_MEMORY 0
#endif
#endif
#ifndef CHECK_MEMORY
#define CHECK_MEMORY 1
#endif

bool
rbgw_fault_check_memory(void)
{
    return CHECK_MEMORY;
}

static long
kb(struct rbgw_proc *gw, const char *field)
{
    long v = rbgw_test_status_kb(rbgw_proc_pid(gw), field);
    cr_assert_geq(v, 0, "no %s for rbgw (gone?); stderr:\n%s", field, rbgw_test_stderr(gw));
    return v;
}

struct rbgw_fault_base
rbgw_fault_base_take(struct rbgw_proc *gw)
{
    struct rbgw_fault_base b;
    b.fds = rbgw_test_fd_count(rbgw_proc_pid(gw));
    cr_assert_gt(b.fds, 0, "cannot count rbgw's descriptors");
    b.rss_kb = kb(gw, "VmRSS");
    b.hwm_kb = kb(gw, "VmHWM");
    return b;
}

void
rbgw_fault_assert_settled(struct rbgw_proc *gw, const struct rbgw_fault_base *base,
                          const char *what)
{
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + RBGW_TEST_IO_MS;
    while (rbgw_test_fd_count(pid) != base->fds && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    int fds = rbgw_test_fd_count(pid);
    cr_assert_eq(fds, base->fds, "%s: rbgw holds %d descriptors, %d before; stderr:\n%s", what, fds,
                 base->fds, rbgw_test_stderr(gw));
    long rss = kb(gw, "VmRSS");
    cr_log_info("%s: fds %d -> %d, VmRSS %ld -> %ld kB, VmHWM %ld -> %ld kB", what, base->fds, fds,
                base->rss_kb, rss, base->hwm_kb, kb(gw, "VmHWM"));
    if (CHECK_MEMORY) {
        cr_assert_leq(rss, base->rss_kb + RBGW_FAULT_RSS_SLACK_KB,
                      "%s: rbgw's VmRSS is %ld kB, %ld kB before (slack %d kB)", what, rss,
                      base->rss_kb, RBGW_FAULT_RSS_SLACK_KB);
    }
}

void
rbgw_fault_assert_peak(struct rbgw_proc *gw, const struct rbgw_fault_base *base, const char *what)
{
    if (!CHECK_MEMORY) {
        return;
    }
    long hwm = kb(gw, "VmHWM");
    cr_assert_leq(hwm, base->hwm_kb + RBGW_FAULT_RSS_SLACK_KB,
                  "%s: rbgw's peak VmHWM reached %ld kB, %ld kB before (slack %d kB)", what, hwm,
                  base->hwm_kb, RBGW_FAULT_RSS_SLACK_KB);
}

void
rbgw_fault_assert_children(struct rbgw_proc *gw, int n)
{
    pid_t pid = rbgw_proc_pid(gw);
    long deadline = rbgw_test_now_ms() + RBGW_TEST_IO_MS;
    while (rbgw_test_children(pid) != n && rbgw_test_now_ms() < deadline) {
        poll(NULL, 0, 10);
    }
    int got = rbgw_test_children(pid);
    cr_assert_eq(got, n, "rbgw has %d child processes (zombies included), want %d; stderr:\n%s",
                 got, n, rbgw_test_stderr(gw));
}

void
rbgw_fault_assert_exited(long pid)
{
    int fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (fd < 0) {
        cr_assert_eq(errno, ESRCH, "pidfd_open(%ld): %s", pid, strerror(errno));
        return; /* already reaped */
    }
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int rc;
    do {
        rc = poll(&pfd, 1, RBGW_TEST_IO_MS);
    } while (rc < 0 && errno == EINTR);
    close(fd);
    cr_assert_eq(rc, 1, "process %ld is still running", pid);
}
