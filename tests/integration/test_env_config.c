/*
 * test_env_config.c: the RBGW_<KEY> environment layer as the rbgw binary takes it (a container
 * sets its configuration this way): --check-config shows which variables were applied and
 * which the command line overrode, and a broken variable stops the start with exit status 2
 * and the variable and the reason on stderr, and nothing on stdout.
 *
 * Each case sets the environment in the test's own process (Criterion runs every test in its
 * own process), runs the binary (rbgw_proc) and reads its exit status and stderr.  The wait is
 * bounded by IO_BOUND_MS only so a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "rbgw_proc.h"

#define IO_BOUND_MS 10000

static struct rbgw_proc *gw; /* the rbgw of the current test, or NULL */
static char *errtext;        /* rbgw's stderr, once read */
static char *outtext;        /* rbgw's stdout, once read */

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    free(errtext);
    errtext = NULL;
    free(outtext);
    outtext = NULL;
}

TestSuite(env_config, .fini = teardown, .timeout = 30);

/* Run rbgw with args to completion; returns its exit status; errtext/outtext get its output. */
static int
run_to_exit(const char *const *args)
{
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    rbgw_proc_close_stdin(gw);
    size_t outlen = 0;
    cr_assert_eq(rbgw_proc_read_to_eof(gw, IO_BOUND_MS, &outtext, &outlen), 0, "no EOF on stdout");
    int st = 0;
    cr_assert_eq(rbgw_proc_wait(gw, IO_BOUND_MS, &st), 0, "rbgw did not exit");
    errtext = rbgw_proc_stderr(gw, 0);
    cr_assert(WIFEXITED(st), "rbgw died by a signal; stderr:\n%s", errtext);
    return WEXITSTATUS(st);
}

Test(env_config, check_config_shows_the_variables)
{
    setenv("RBGW_UPSTREAM", "http:url=http://127.0.0.1:9/dns,name=a\nunix:path=/run/b.sock", 1);
    setenv("RBGW_LISTEN", "unix:path=/run/rbgw/rbgw.sock", 1);
    setenv("RBGW_LOG_LEVEL", "debug", 1);
    const char *args[] = {"--check-config", "--log-level=warning", NULL};
    int rc = run_to_exit(args);
    cr_assert_eq(rc, 0, "--check-config refused the environment:\n%s", errtext);
    static const char *const want[] = {
        "configuration OK: 1 listener(s), 2 upstream(s)",
        "  env      RBGW_LISTEN=unix:path=/run/rbgw/rbgw.sock\n",
        "  env      RBGW_UPSTREAM=http:url=http://127.0.0.1:9/dns,name=a\\nunix:path=/run/b.sock\n",
        "  env      RBGW_LOG_LEVEL=debug (overridden by --log-level)\n",
        "  listen   unix:path=/run/rbgw/rbgw.sock  (RBGW_LISTEN)\n",
        "  upstream http:url=http://127.0.0.1:9/dns,name=a  (RBGW_UPSTREAM line 1)\n",
        "  upstream unix:path=/run/b.sock  (RBGW_UPSTREAM line 2)\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        cr_expect(strstr(errtext, want[i]) != NULL, "expected \"%s\" in:\n%s", want[i], errtext);
    }
    cr_expect_str_eq(outtext, "", "nothing on stdout");
}

struct bad_env {
    const char *name, *value; /* the broken variable */
    const char *want;         /* its message on stderr */
};

static const struct bad_env bad_envs[] = {
    {"RBGW_LOG_LEVEL", "loud",
     "rbgw: RBGW_LOG_LEVEL: unknown level 'loud' (expected error, warning, info or debug)\n"},
    {"RBGW_UPSTREAM", "tcp:host=x",
     "rbgw: RBGW_UPSTREAM: unknown connector type 'tcp' (expected pipe, unix, http or zeromq)\n"},
    {"RBGW_UPSTRAEM", "pipe:command=/bin/cat",
     "rbgw: RBGW_UPSTRAEM: unknown variable (did you mean RBGW_UPSTREAM?)\n"},
};

Test(env_config, broken_variable_stops_the_start)
{
    for (size_t i = 0; i < sizeof(bad_envs) / sizeof(bad_envs[0]); i++) {
        const struct bad_env *b = &bad_envs[i];
        /* a valid upstream, so the broken variable is the only problem */
        setenv("RBGW_UPSTREAM", "pipe:command=/bin/cat", 1);
        setenv(b->name, b->value, 1);
        const char *args[] = {NULL};
        int rc = run_to_exit(args);
        cr_expect_eq(rc, 2, "%s=%s: exit status", b->name, b->value);
        cr_expect(strstr(errtext, b->want) != NULL, "%s: expected \"%s\" in:\n%s", b->name, b->want,
                  errtext);
        cr_expect_str_eq(outtext, "", "%s: nothing on stdout", b->name);
        unsetenv(b->name);
        teardown();
    }
}
