/*
 * test_fanout_config.c: the fan-out configuration as the rbgw binary takes it: the shipped
 * example config/fanout.conf passes --check-config and starts, and --check-config reports pool=
 * and route= mistakes the way start-up does (docs/fanout.md, Configuration errors: "rbgw
 * --check-config and startup report the first problem with its origin").
 *
 * Each case runs the binary (rbgw_proc) and reads its exit status and stderr; waits are bounded
 * by IO_BOUND_MS only so a broken build fails instead of hanging.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_json.h"
#include "rbgw_proc.h"

#define IO_BOUND_MS 10000
#define FANOUT_CONF RBGW_SOURCE_DIR "/config/fanout.conf"

static struct rbgw_proc *gw; /* the rbgw of the current test, or NULL */
static char *dir;            /* temp directory, or NULL */
static char *errtext;        /* rbgw's stderr, once read */

static void
teardown(void)
{
    rbgw_proc_free(gw);
    gw = NULL;
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    free(errtext);
    errtext = NULL;
}

TestSuite(fanout_config, .fini = teardown, .timeout = 30);

/* Run rbgw with args to completion; returns its exit status; errtext gets its stderr. */
static int
run_to_exit(const char *const *args)
{
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw, "cannot spawn rbgw: %s", strerror(errno));
    rbgw_proc_close_stdin(gw);
    int st = 0;
    cr_assert_eq(rbgw_proc_wait(gw, IO_BOUND_MS, &st), 0, "rbgw did not exit");
    errtext = rbgw_proc_stderr(gw, 0);
    cr_assert(WIFEXITED(st), "rbgw died by a signal; stderr:\n%s", errtext);
    return WEXITSTATUS(st);
}

/* A config file in a fresh directory with the two upstreams a and b and then extra. */
static const char *
write_conf(const char *extra)
{
    static char path[256];
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir);
    snprintf(path, sizeof(path), "%s/rbgw.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "listen=pipe\n"
            "upstream=http:url=http://127.0.0.1:9/dns,name=a\n"
            "upstream+=http:url=http://127.0.0.1:9/dns,name=b\n"
            "%s",
            extra);
    fclose(f);
    return path;
}

Test(fanout_config, shipped_fanout_conf_passes_check_config)
{
    const char *args[] = {"--check-config", "--config=" FANOUT_CONF, NULL};
    int rc = run_to_exit(args);
    cr_assert_eq(rc, 0, "--check-config rejected config/fanout.conf:\n%s", errtext);
    cr_assert(strstr(errtext, "configuration OK"), "%s", errtext);
    cr_assert(strstr(errtext, "3 upstream(s)"), "%s", errtext);
}

Test(fanout_config, shipped_fanout_conf_starts)
{
    /* The responders are placeholders, but rbgw must start with the file as it is: initialize
     * is answered locally. */
    const char *args[] = {"--config=" FANOUT_CONF, NULL};
    gw = rbgw_proc_spawn(NULL, args);
    cr_assert_not_null(gw);
    if (!fake_json_gw_ready(gw, IO_BOUND_MS)) {
        errtext = rbgw_proc_stderr(gw, 4000);
        cr_assert_fail("rbgw did not start with config/fanout.conf:\n%s", errtext);
    }
}

struct bad_case {
    const char *conf; /* extra lines */
    const char *want; /* in stderr */
};

static const struct bad_case bad_cases[] = {
    {"pool=p:upstreams=a+nosuch\n", "pool p: unknown upstream 'nosuch'"},
    {"pool=p:upstreams=a+b\nroute=reads:pool=nosuch\n", "route reads: unknown pool 'nosuch'"},
    {"pool=p:upstreams=a+b,policy=round_robin\n", "policy=round_robin is not one of"},
    {"pool=p:upstreams=a+a\n", "upstream 'a' listed twice"},
};

Test(fanout_config, check_config_reports_pool_and_route_errors)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(*bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        const char *path = write_conf(c->conf);
        char arg[300];
        snprintf(arg, sizeof(arg), "--config=%s", path);

        /* Start-up rejects it ... */
        const char *run_args[] = {arg, NULL};
        int rc = run_to_exit(run_args);
        cr_assert_neq(rc, 0, "rbgw started with: %s", c->conf);
        cr_assert(strstr(errtext, c->want), "start-up: expected \"%s\" in:\n%s", c->want, errtext);
        teardown();
        path = write_conf(c->conf);
        snprintf(arg, sizeof(arg), "--config=%s", path);

        /* ... and so must --check-config. */
        const char *check_args[] = {"--check-config", arg, NULL};
        rc = run_to_exit(check_args);
        cr_assert_neq(rc, 0, "--check-config accepted a config start-up rejects (%s); it said:\n%s",
                      c->conf, errtext);
        cr_assert(strstr(errtext, c->want), "--check-config: expected \"%s\" in:\n%s", c->want,
                  errtext);
        teardown();
    }
}

Test(fanout_config, timeout_above_deadline_is_reported_by_check_config_and_at_start)
{
    const char *path = write_conf("upstream+=http:url=http://127.0.0.1:9/dns,name=slow,"
                                  "timeout=8000\n");
    char arg[300];
    snprintf(arg, sizeof(arg), "--config=%s", path);
    char want[400];
    snprintf(want, sizeof(want),
             "rbgw: warning: upstream slow (%s:4): timeout=8000 ms is above deadline=1800 ms, "
             "so its calls are answered false after at most 1800 ms",
             path);

    const char *check_args[] = {"--check-config", arg, NULL};
    cr_assert_eq(run_to_exit(check_args), 0, "--check-config failed:\n%s", errtext);
    cr_assert(strstr(errtext, "configuration OK"), "%s", errtext);
    cr_assert(strstr(errtext, want), "--check-config: expected \"%s\" in:\n%s", want, errtext);
    rbgw_proc_free(gw);
    gw = NULL;
    free(errtext);
    errtext = NULL;

    /* Start-up says the same (and starts: the setting is valid, only cut short). */
    const char *run_args[] = {arg, NULL};
    gw = rbgw_proc_spawn(NULL, run_args);
    cr_assert_not_null(gw);
    cr_assert(fake_json_gw_ready(gw, IO_BOUND_MS), "rbgw did not start");
    errtext = rbgw_proc_stderr(gw, 0);
    cr_assert(strstr(errtext, "warning: upstream slow") &&
                  strstr(errtext, "timeout=8000 ms is "
                                  "above deadline=1800 ms"),
              "start-up: expected the warning in:\n%s", errtext);
}
