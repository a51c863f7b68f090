/*
 * test_unix_perms.c: who may connect to rbgw's unix listener (mode=, group=).
 *
 *   test ──stdin (readiness probe)──> rbgw --listen=pipe --listen=unix:path=DIR/rbgw.sock,...
 *   test: stat() the socket file; a child that dropped to nobody tries to connect
 *
 * What is checked: without mode= the file is 0660 even when rbgw starts under umask 0 (so the
 * mode is set, not inherited); group= by name and by number gives the file that group; an
 * unknown group stops rbgw at start with a message naming it, before any file is made; and, as
 * root, the permission bits really decide: a process that is neither owner nor in the group is
 * refused (EACCES) under the default and let in under an explicit mode=0666, about which rbgw
 * warns.  Readiness comes from the pipe listener's answer (listeners start before the loop
 * runs), never from a pause; each run ends with SIGTERM and exit status 0.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <ftw.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake_json.h"
#include "itest.h"
#include "rbgw_proc.h"

#define NOBODY 65534 /* uid and gid of nobody/nogroup on Debian */

static char dir[] = "/tmp/rbgw-perms-XXXXXX"; /* the test's directory */
static char *sock;                            /* rbgw's socket path */
static struct rbgw_proc *gw;                  /* rbgw, or NULL */

static void
setup(void)
{
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    /* Searchable by everyone, so only the socket's own bits decide who connects. */
    cr_assert_eq(chmod(dir, 0755), 0);
    sock = rbgw_test_fmt("%s/rbgw.sock", dir);
}

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    nftw(dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    rbgw_test_release();
}

TestSuite(unix_perms, .init = setup, .fini = teardown, .timeout = 30);

static void
spawn(const char *listen_extra)
{
    const char *args[] = {"--listen=pipe",
                          rbgw_test_fmt("--listen+=unix:path=%s%s", sock, listen_extra),
                          "--upstream=http:url=http://127.0.0.1:1/dns", NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
}

static void
start(const char *listen_extra)
{
    spawn(listen_extra);
    cr_assert(fake_json_gw_ready(gw, RBGW_TEST_IO_MS), "rbgw did not start; stderr:\n%s",
              rbgw_test_stderr(gw));
}

/* SIGTERM (a unix listener keeps rbgw running after stdin's EOF): exit status 0. */
static void
stop(void)
{
    cr_assert_eq(kill(rbgw_proc_pid(gw), SIGTERM), 0);
    rbgw_test_assert_exit_0(gw);
}

static struct stat
stat_sock(void)
{
    struct stat st;
    cr_assert_eq(stat(sock, &st), 0, "no socket file: %s", strerror(errno));
    cr_assert(S_ISSOCK(st.st_mode));
    return st;
}

Test(unix_perms, default_mode_is_0660_whatever_the_umask)
{
    mode_t old = umask(0); /* bind() alone would leave the file 0777 */
    spawn("");
    umask(old);
    cr_assert(fake_json_gw_ready(gw, RBGW_TEST_IO_MS), "%s", rbgw_test_stderr(gw));
    struct stat st = stat_sock();
    cr_assert_eq(st.st_mode & 07777, 0660, "mode %04o", (unsigned)(st.st_mode & 07777));
    cr_assert(rbgw_test_stderr_has(gw, "(mode 0660)"), "%s", rbgw_test_stderr(gw));
    stop();
}

/* A group rbgw may give the file to that is not its own: any group as root, else one of its
 * supplementary groups.  -1 if there is none. */
static gid_t
other_group(void)
{
    gid_t mine = getegid();
    if (geteuid() == 0) {
        return mine == NOBODY ? 0 : NOBODY;
    }
    gid_t groups[64];
    int n = getgroups(64, groups);
    for (int i = 0; i < n; i++) {
        if (groups[i] != mine) {
            return groups[i];
        }
    }
    return (gid_t)-1;
}

Test(unix_perms, group_by_number_and_by_name)
{
    gid_t g = other_group();
    if (g == (gid_t)-1) {
        cr_skip_test("no group other than rbgw's own to give the socket to");
    }
    start(rbgw_test_fmt(",group=%u,mode=0640", (unsigned)g));
    struct stat st = stat_sock();
    cr_assert_eq(st.st_gid, g);
    cr_assert_eq(st.st_mode & 07777, 0640);
    stop();
    rbgw_proc_free(gw);

    struct group *gr = getgrgid(g);
    if (gr == NULL) {
        cr_skip_test("group %u has no name", (unsigned)g);
    }
    start(rbgw_test_fmt(",group=%s", gr->gr_name));
    st = stat_sock();
    cr_assert_eq(st.st_gid, g);
    cr_assert(rbgw_test_stderr_has(gw, rbgw_test_fmt("(mode 0660, group %s)", gr->gr_name)), "%s",
              rbgw_test_stderr(gw));
    stop();
}

Test(unix_perms, unknown_group_stops_rbgw_at_start)
{
    spawn(",group=no-such-group-rbgw");
    int st;
    cr_assert_eq(rbgw_proc_wait(gw, RBGW_TEST_IO_MS, &st), 0);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 2, "status %d", st);
    cr_assert(rbgw_test_stderr_has(gw, "--listen: group=no-such-group-rbgw: no such group"), "%s",
              rbgw_test_stderr(gw));
    struct stat sb;
    cr_assert_neq(stat(sock, &sb), 0, "a socket file was made");
}

/*
 * Connect to sock as nobody (in a child); returns the child's errno, 0 if it got in.  The child
 * makes plain system calls only: no Criterion call (an assertion there would report to the
 * runner from a process it does not know, and wait for an answer forever) and nothing that
 * takes a lock another thread of this process might have held at fork().
 */
static int
connect_as_nobody(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
    pid_t pid = fork();
    if (pid == 0) {
        if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setgid, NOBODY) != 0 ||
            syscall(SYS_setuid, NOBODY) != 0) {
            _exit(255);
        }
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
        _exit(rc == 0 ? 0 : errno);
    }
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st));
    cr_assert_neq(WEXITSTATUS(st), 255, "cannot become nobody");
    return WEXITSTATUS(st);
}

Test(unix_perms, other_users_are_kept_out_unless_mode_lets_them_in)
{
    if (geteuid() != 0) {
        cr_skip_test("needs root to run a client as another user");
    }
    start("");
    cr_assert_eq(connect_as_nobody(), EACCES, "nobody connected to a 0660 socket");
    stop();
    rbgw_proc_free(gw);

    start(",mode=0666");
    cr_assert_eq(connect_as_nobody(), 0, "nobody could not connect to a 0666 socket");
    cr_assert(rbgw_test_stderr_has(gw, "mode=0666 lets every local user send calls"), "%s",
              rbgw_test_stderr(gw));
    stop();
}
