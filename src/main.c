/*
 * main.c: command line, configuration, the loop.
 *
 * stdout belongs to the pipe listener (pdns reads it): only --help and --version, and the
 * `call` and `status` commands, none of which starts a listener, print there.  Everything
 * else, errors included, goes to stderr.
 *
 * The configuration is read in one place, load_config, at start and again at every reload
 * (the gateway calls it back): the same sources with the same precedence (the environment and
 * command line of the start, the --config file read again).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "rbgw/call.h"
#include "rbgw/config.h"
#include "rbgw/gateway.h"
#include "rbgw/log.h"
#include "rbgw/router.h"
#include "rbgw/status.h"

/* --check-config: warnings go after the summary, as plain stderr lines. */
static void
print_warning(void *ctx, const char *text)
{
    RBGW_UNUSED(ctx);
    fprintf(stderr, "rbgw: warning: %s\n", text);
}

/* The process's command line, kept for reloads. */
struct cmdline {
    int argc;    /* as main got it */
    char **argv; /* as main got it (borrowed: lives as long as the process) */
};

/* rbgw_config_loader: the one place the configuration is loaded from its sources. */
static int
load_config(void *ctx, struct rbgw_config *out, char *err, size_t errlen)
{
    const struct cmdline *cl = ctx;
    return rbgw_config_load(out, cl->argc, cl->argv, err, errlen);
}

/* Start-up: warnings go to the log like every other start-up message. */
static void
log_warning(void *ctx, const char *text)
{
    RBGW_UNUSED(ctx);
    rbgw_log_warn("%s", text);
}

static int
run(const struct rbgw_config *cfg, struct cmdline *cl)
{
    uv_loop_t loop;
    struct rbgw_gateway gw;
    char err[512];
    int rc = uv_loop_init(&loop);
    if (rc < 0) {
        fprintf(stderr, "rbgw: cannot create the event loop: %s\n", uv_strerror(rc));
        return 1;
    }
    if (rbgw_gateway_init(&gw, &loop, cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "rbgw: %s\n", err);
        uv_loop_close(&loop);
        return 1;
    }
    rbgw_log_attach_loop(&loop);
    rbgw_gateway_set_loader(&gw, load_config, cl);
    int exit_code = 0;
    if (rbgw_gateway_start(&gw, err, sizeof(err)) != 0) {
        rbgw_log_err("%s", err);
        exit_code = 1;
    } else {
        rbgw_log_info("rbgw %s started: %zu listener(s), %zu upstream(s)", RBGW_VERSION,
                      rbgw_gateway_nlisteners(&gw), rbgw_gateway_nupstreams(&gw));
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (gw.exit_code) {
        exit_code = gw.exit_code;
    }
    rbgw_gateway_deinit(&gw);
    /* Pending rate-limit summaries are written now; one more turn closes the log's timer. */
    rbgw_log_detach_loop();
    uv_run(&loop, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop) != 0) {
        /* A handle left open is a bug; say so rather than hide it. */
        rbgw_log_err("event loop closed with handles still open");
    }
    rbgw_log_debug("exiting with status %d", exit_code);
    return exit_code;
}

int
main(int argc, char **argv)
{
    struct rbgw_config cfg;
    struct cmdline cl = {argc, argv};
    char err[512];

    /* pdns ignores SIGPIPE too; a vanished peer shows up as EPIPE on write. */
    signal(SIGPIPE, SIG_IGN);

    if (argc > 1 && strcmp(argv[1], "call") == 0) {
        return rbgw_call_main(argc - 1, argv + 1);
    }
    if (argc > 1 && strcmp(argv[1], "status") == 0) {
        return rbgw_status_main(argc - 1, argv + 1);
    }

    if (load_config(&cl, &cfg, err, sizeof(err)) != 0) {
        fprintf(stderr, "rbgw: %s\n", err);
        fprintf(stderr, "rbgw: try 'rbgw --help'\n");
        return 2;
    }
    if (cfg.help) {
        rbgw_config_usage(stdout);
        rbgw_config_free(&cfg);
        return 0;
    }
    if (cfg.version) {
        printf("rbgw %s\n", RBGW_VERSION);
        rbgw_config_free(&cfg);
        return 0;
    }
    rbgw_log_configure(&cfg);
    if (cfg.check_config) {
        /* Pools and routes are checked against the upstream names, as a real start does. */
        struct rbgw_router_conf rc;
        if (rbgw_router_conf_build(&cfg, &rc, err, sizeof(err)) != 0) {
            fprintf(stderr, "rbgw: %s\n", err);
            rbgw_config_free(&cfg);
            return 2;
        }
        fprintf(stderr,
                "rbgw: configuration OK: %zu listener(s), %zu upstream(s), %zu pool(s), "
                "%zu route(s)\n",
                cfg.nlisteners, cfg.nupstreams, rc.npools, rc.nroutes);
        for (size_t i = 0; i < cfg.nenv; i++) {
            fprintf(stderr, "  env      %s\n", cfg.env[i]);
        }
        for (size_t i = 0; i < cfg.nlisteners; i++) {
            fprintf(stderr, "  listen   %s  (%s)\n", cfg.listeners[i].text,
                    cfg.listeners[i].origin);
        }
        if (cfg.admin.text) {
            fprintf(stderr, "  admin    %s  (%s)\n", cfg.admin.text, cfg.admin.origin);
        }
        for (size_t i = 0; i < cfg.nupstreams; i++) {
            fprintf(stderr, "  upstream %s  (%s)\n", cfg.upstreams[i].text,
                    cfg.upstreams[i].origin);
        }
        for (size_t i = 0; i < rc.npools; i++) {
            fprintf(stderr, "  pool     %s: %zu member(s)  (%s)\n", rc.pools[i].name,
                    rc.pools[i].nmembers, rc.pools[i].origin);
        }
        for (size_t i = 0; i < rc.nroutes; i++) {
            const struct rbgw_route_conf *r = &rc.routes[i];
            fprintf(stderr, "  route    %s%s%s -> %s  (%s)\n",
                    r->reads && r->writes ? "all"
                    : r->reads            ? "reads"
                                          : "writes",
                    r->zone ? " zone " : "", r->zone ? r->zone : "", rc.pools[r->pool].name,
                    r->origin);
        }
        rbgw_router_conf_free(&rc);
        rbgw_config_warnings(&cfg, print_warning, NULL);
        rbgw_config_free(&cfg);
        return 0;
    }
    rbgw_config_warnings(&cfg, log_warning, NULL);
    int rc = run(&cfg, &cl);
    rbgw_config_free(&cfg);
    return rc;
}
