/*
 * call.c: `rbgw call CONNSTR METHOD name=value ...`, the debugging client.
 *
 * It is the gateway with no listener: the command line becomes one request of a session of
 * its own (session.h), whose reply hook prints the line, reports the session gone (so a
 * startTransaction's pinned connection is released) and stops the gateway.  So the call goes
 * through exactly the code pdns's calls go through (upstream transport, initialize on connect,
 * translation, timeouts), which is what makes it useful for checking a responder, and for testing
 * listeners pdns cannot reach (Debian's pdns has no ZeroMQ connector).
 */
#include <stdio.h>
#include <string.h>

#include "rbgw/call.h"
#include "rbgw/gateway.h"
#include "rbgw/json.h"
#include "rbgw/log.h"

struct call_ctx {
    struct rbgw_gateway *gw;      /* borrowed */
    struct rbgw_session *session; /* our reference until the reply, then NULL */
    int status;                   /* exit status once answered */
    bool answered;                /* the reply arrived */
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: rbgw call [--key=value ...] CONNSTR METHOD [name=string | name:=json ...]\n"
               "  Sends one remote-backend call to the responder at CONNSTR (any upstream\n"
               "  connection string: pipe:, unix:, http:, zeromq:) and prints the reply line.\n"
               "  name=value sends a string, name:=json sends any JSON value (numbers, bools).\n"
               "  Exit status: 0 result not false, 1 result false or failure, 2 usage error.\n"
               "example:\n"
               "  rbgw call unix:path=/run/resp.sock lookup qname=www.example.com. qtype=A \\\n"
               "      zone-id:=-1 remote=127.0.0.1 local=127.0.0.1 real-remote=127.0.0.1/32\n");
}

static void
on_reply(struct rbgw_request *req, struct rbgw_str reply)
{
    struct call_ctx *ctx = req->origin;
    fwrite(reply.p, 1, reply.len, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    ctx->answered = true;
    ctx->status = 0;
    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_json *root;
    char err[64];
    if (rbgw_json_parse(&a, reply.p, reply.len, &root, err, sizeof(err)) == 0) {
        const struct rbgw_json *r = rbgw_json_get(root, "result");
        if (r == NULL || r->type == RBGW_JSON_FALSE) {
            ctx->status = 1;
        }
    }
    rbgw_arena_free(&a);
    /* The request still holds the session: it ends when the request is freed. */
    rbgw_session_gone(ctx->session, "its call was answered");
    ctx->session = NULL;
    rbgw_gateway_stop(ctx->gw);
}

/* Build {"method": m, "parameters": {...}} from the name=value arguments. */
static int
build_request(struct rbgw_arena *a, const char *method, int argc, char **argv, struct rbgw_buf *out)
{
    struct rbgw_json *root = rbgw_json_new(a, RBGW_JSON_OBJECT);
    struct rbgw_json *params = rbgw_json_new(a, RBGW_JSON_OBJECT);
    rbgw_json_append(a, root, "method", 6, rbgw_json_new_string(a, method, strlen(method)));
    rbgw_json_append(a, root, "parameters", 10, params);
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        const char *eq = strchr(arg, '=');
        if (eq == NULL || eq == arg) {
            fprintf(stderr, "rbgw call: argument '%s' is not name=value or name:=json\n", arg);
            return -1;
        }
        struct rbgw_json *v;
        size_t klen = (size_t)(eq - arg);
        if (klen > 0 && arg[klen - 1] == ':') {
            char err[160];
            klen--;
            if (rbgw_json_parse(a, eq + 1, strlen(eq + 1), &v, err, sizeof(err)) != 0) {
                fprintf(stderr, "rbgw call: %.*s:= is not JSON: %s\n", (int)klen, arg, err);
                return -1;
            }
        } else {
            v = rbgw_json_new_string(a, eq + 1, strlen(eq + 1));
        }
        rbgw_json_append(a, params, arg, klen, v);
    }
    rbgw_json_write(out, root);
    return 0;
}

int
rbgw_call_main(int argc, char **argv)
{
    /* Leading --key=value options are rbgw configuration (log level, sizes). */
    int i = 1;
    while (i < argc && strncmp(argv[i], "--", 2) == 0) {
        if (strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        i++;
    }
    if (argc - i < 2) {
        usage(stderr);
        return 2;
    }
    const char *connstr = argv[i];
    const char *method = argv[i + 1];

    /* Reuse the configuration loader for validation and defaults. */
    int nopt = i - 1;
    char **cargv = rbgw_xcalloc((size_t)nopt + 4, sizeof(*cargv));
    size_t ulen = strlen(connstr) + 16;
    char *uopt = rbgw_xmalloc(ulen);
    snprintf(uopt, ulen, "--upstream=%s", connstr);
    cargv[0] = "rbgw";
    cargv[1] = "--log-level=warning";
    cargv[2] = uopt;
    for (int k = 0; k < nopt; k++) {
        cargv[3 + k] = argv[1 + k];
    }
    struct rbgw_config cfg;
    char err[512];
    int rc = rbgw_config_load(&cfg, nopt + 3, cargv, err, sizeof(err));
    free(cargv);
    free(uopt);
    if (rc != 0) {
        fprintf(stderr, "rbgw call: %s\n", err);
        return 2;
    }
    rbgw_log_configure(&cfg);

    struct rbgw_arena a = RBGW_ARENA_INIT;
    struct rbgw_buf text = RBGW_BUF_INIT;
    if (build_request(&a, method, argc - i - 2, argv + i + 2, &text) != 0) {
        rbgw_arena_free(&a);
        rbgw_config_free(&cfg);
        return 2;
    }
    rbgw_arena_free(&a);

    /* The gateway only borrows the config: a copy with no listeners. */
    struct rbgw_config view = cfg;
    view.nlisteners = 0;
    view.admin.text = NULL; /* nor an admin endpoint */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct rbgw_gateway gw;
    struct call_ctx ctx = {&gw, NULL, 1, false};
    int status = 2;
    if (rbgw_gateway_init(&gw, &loop, &view, err, sizeof(err)) != 0) {
        fprintf(stderr, "rbgw call: %s\n", err);
    } else {
        if (rbgw_gateway_start(&gw, err, sizeof(err)) != 0) {
            fprintf(stderr, "rbgw call: %s\n", err);
        } else {
            ctx.session = rbgw_session_new(&gw, NULL);
            struct rbgw_request *req =
                rbgw_request_new(ctx.session, text.data, text.len, &ctx, on_reply);
            rbgw_request_dispatch(req);
            rbgw_request_unref(req);
        }
        uv_run(&loop, UV_RUN_DEFAULT);
        if (ctx.session) {
            rbgw_session_gone(ctx.session, "rbgw call ended without an answer");
        }
        rbgw_gateway_deinit(&gw);
        rbgw_log_flush();
        status = ctx.answered ? ctx.status : 1;
    }
    uv_loop_close(&loop);
    rbgw_buf_free(&text);
    rbgw_config_free(&cfg);
    return status;
}
