/*
 * fuzz_config.c: loading the configuration (config.c) from a file and the command line, and
 * building the routing configuration from it (router.c).
 *
 * The input is a config file, optionally followed by a NUL byte and command-line arguments
 * separated by NUL bytes (as argv can hold no NUL).  The file is handed over as
 * --config=/proc/self/fd/N of a memfd, so rbgw reads it through its own fopen/getline path.
 * Arguments that start with --config are dropped: they would make rbgw open other files.
 * Checks:
 *
 *  1. a refusal names a reason and leaves the configuration zeroed;
 *  2. an accepted configuration has at least one upstream (unless --help or --version), every
 *     listener and upstream has a known transport and an origin, every upstream a name, and
 *     each upstream's initialize call (built from its options) is a valid call;
 *  3. rbgw_router_conf_build on it either refuses with a reason or gives at least one pool,
 *     pools with members that are upstream indexes, and routes that point at pools.
 *
 * An https upstream without tls-ca= loads the system CA store (SSL_CERT_FILE, else the
 * system's bundle) when the configuration is checked.  Parsing Debian's ~140 certificates took
 * 80 % of the time per input and most of the memory (before CA files were parsed once per
 * process: xprt_tls.c), so the target points SSL_CERT_FILE at a one-certificate store of its
 * own (a self-signed test CA, below): the same code path, a smaller file, and no input's
 * outcome that depends on the machine's CA bundle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "rbgw/config.h"
#include "rbgw/router.h"
#include "rbgw/rpc.h"

#define MAX_ARGS 32

static int memfd = -1;

/* A self-signed P-256 certificate ("rbgw fuzz CA"), public test data: the CA store. */
static const char test_ca_pem[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBhDCCASugAwIBAgIUWEJp16aFcgmWuRmxEiKoM6Ps5JcwCgYIKoZIzj0EAwIw\n"
    "FzEVMBMGA1UEAwwMcmJndyBmdXp6IENBMCAXDTI2MTIwNzA3NTU1MloYDzIxMjYx\n"
    "MTEzMDc1NTUyWjAXMRUwEwYDVQQDDAxyYmd3IGZ1enogQ0EwWTATBgcqhkjOPQIB\n"
    "BggqhkjOPQMBBwNCAAR6u09rpTYLOFsDKdANsFMyFLFd1uD1NoI25frv2DGgMrsf\n"
    "Gj3oLH6cfqmlRNdzX43HG4oHz3RVKYDsZxa9/Fcoo1MwUTAdBgNVHQ4EFgQU9cZa\n"
    "S3WX596sOVw5l3pQW6IRlbgwHwYDVR0jBBgwFoAU9cZaS3WX596sOVw5l3pQW6IR\n"
    "lbgwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiA0FjBOjsodafXN\n"
    "71xLD0yVl74fL8STjXhvxUE6btFzzgIgCj8tRY4BBtdL+cur4bcFfMxKc9SDP/0J\n"
    "qndeK4mw5ss=\n"
    "-----END CERTIFICATE-----\n";

/* SSL_CERT_FILE=/proc/self/fd/N of a memfd holding test_ca_pem. */
static void
use_test_ca(void)
{
    int fd = memfd_create("rbgw-fuzz-ca", 0);
    FUZZ_CHECK(fd >= 0, "memfd_create");
    size_t n = sizeof(test_ca_pem) - 1;
    FUZZ_CHECK(pwrite(fd, test_ca_pem, n, 0) == (ssize_t)n, "writing the CA memfd");
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FUZZ_CHECK(setenv("SSL_CERT_FILE", path, 1) == 0, "setenv");
}

static void
check_endpoints(const struct rbgw_endpoint_conf *eps, size_t n, bool named)
{
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(eps[i].text != NULL && eps[i].origin != NULL, "endpoint %zu incomplete", i);
        FUZZ_CHECK(named || eps[i].cs.transport != RBGW_TRANSPORT_NONE,
                   "endpoint %s has no transport", eps[i].text);
    }
}

static void
check_config(const struct rbgw_config *cfg)
{
    FUZZ_CHECK(cfg->nupstreams > 0 || cfg->help || cfg->version, "accepted without upstreams");
    FUZZ_CHECK(cfg->nlisteners > 0, "accepted without listeners");
    check_endpoints(cfg->listeners, cfg->nlisteners, false);
    check_endpoints(cfg->upstreams, cfg->nupstreams, false);
    check_endpoints(cfg->pools, cfg->npools, true);
    check_endpoints(cfg->routes, cfg->nroutes, true);
    for (size_t i = 0; i < cfg->nupstreams; i++) {
        char *name = rbgw_config_upstream_name(cfg, i);
        FUZZ_CHECK(name != NULL, "upstream %zu has no name", i);
        free(name);
        struct rbgw_buf b = RBGW_BUF_INIT;
        struct rbgw_arena a = RBGW_ARENA_INIT;
        struct rbgw_rpc_call call;
        char err[256];
        rbgw_rpc_initialize_call(&b, &cfg->upstreams[i].cs);
        FUZZ_CHECK(rbgw_rpc_decode(&a, b.data, b.len, &call, err, sizeof(err)) == 0,
                   "upstream %zu: initialize is not a call (%s): %s", i, err,
                   rbgw_fuzz_show(b.data, b.len));
        rbgw_arena_free(&a);
        rbgw_buf_free(&b);
    }
    if (cfg->nupstreams == 0) {
        return;
    }
    struct rbgw_router_conf rc;
    char err[512] = "";
    if (rbgw_router_conf_build(cfg, &rc, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0', "router refused without a reason");
        return;
    }
    FUZZ_CHECK(rc.npools > 0, "no pool");
    for (size_t i = 0; i < rc.npools; i++) {
        FUZZ_CHECK(rc.pools[i].nmembers > 0, "pool %s is empty", rc.pools[i].name);
        for (size_t j = 0; j < rc.pools[i].nmembers; j++) {
            FUZZ_CHECK(rc.pools[i].members[j] < cfg->nupstreams, "pool %s: member %zu",
                       rc.pools[i].name, rc.pools[i].members[j]);
        }
    }
    for (size_t i = 0; i < rc.nroutes; i++) {
        FUZZ_CHECK(rc.routes[i].pool < rc.npools, "route %zu: pool %zu", i, rc.routes[i].pool);
    }
    rbgw_router_conf_free(&rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (memfd < 0) {
        memfd = memfd_create("rbgw-fuzz-config", 0);
        FUZZ_CHECK(memfd >= 0, "memfd_create");
        use_test_ca();
    }
    const char *p = (const char *)data;
    const char *nul = memchr(p, '\0', size);
    size_t flen = nul ? (size_t)(nul - p) : size;
    FUZZ_CHECK(ftruncate(memfd, 0) == 0 && pwrite(memfd, p, flen, 0) == (ssize_t)flen,
               "writing the memfd");

    char *args = rbgw_xmalloc(size + 1);
    memcpy(args, p, size);
    args[size] = '\0';
    char config_arg[64];
    snprintf(config_arg, sizeof(config_arg), "--config=/proc/self/fd/%d", memfd);
    char *argv[MAX_ARGS + 3];
    int argc = 0;
    argv[argc++] = "rbgw";
    argv[argc++] = config_arg;
    for (size_t i = flen + 1; nul != NULL && i <= size && argc < MAX_ARGS + 2;) {
        char *a = args + i;
        size_t alen = strlen(a);
        if (strncmp(a, "--config", 8) != 0) {
            argv[argc++] = a;
        }
        i += alen + 1;
    }
    argv[argc] = NULL;

    struct rbgw_config cfg;
    char err[1024] = "";
    if (rbgw_config_load(&cfg, argc, argv, err, sizeof(err)) == 0) {
        check_config(&cfg);
        rbgw_config_free(&cfg);
    } else {
        FUZZ_CHECK(err[0] != '\0', "refused without a reason");
        FUZZ_CHECK(cfg.nupstreams == 0 && cfg.upstreams == NULL && cfg.nlisteners == 0 &&
                       cfg.listeners == NULL && cfg.config_file == NULL,
                   "a refused configuration is not zeroed");
    }
    free(args);
    return 0;
}
