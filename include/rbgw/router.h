/*
 * router.h: pools and routes built from the configuration, and the route a call takes (pure:
 * no I/O, no clocks, no logging).  fanout.c runs the calls; the policies it applies live in
 * their own modules: lb.h (member order), result.h (pdns's reading of a reply), merge.h
 * (read=merge), dname.h (names under zones) and method.h (method classes, call names).
 *
 * Model (docs/fanout.md):
 *   upstream=http:url=...,name=a,weight=2   named responders (name defaults to "<type>#<n>")
 *   pool=NAME:upstreams=a+b+c,policy=round-robin,read=first-nonempty,write=all,retries=1
 *   route=reads:pool=NAME[,zone=example.com.]      first matching route wins, in file order
 *   route=writes:pool=NAME                          classes: reads, writes, all
 * With no pool= lines there is one implicit pool "default" of every upstream; with no route=
 * lines every call goes to the first pool.  A call that no route matches goes to the first pool.
 *
 * A call's class is its method's (method.h): the method table says which methods are reads;
 * every other method, unknown ones included, is a write.
 */
#ifndef RBGW_ROUTER_H
#define RBGW_ROUTER_H

#include <stdbool.h>

#include "rbgw/buf.h"
#include "rbgw/config.h"
#include "rbgw/lb.h"
#include "rbgw/method.h"

enum rbgw_read_mode {
    RBGW_READ_ONE,            /* "one" (default): one upstream (retries go to another) */
    RBGW_READ_FIRST_SUCCESS,  /* "first-success": try in policy order until one succeeds */
    RBGW_READ_FIRST_NONEMPTY, /* "first-nonempty": in order, first with records wins */
    RBGW_READ_MERGE,          /* "merge": all members, record arrays and logs concatenated */
};

enum rbgw_write_mode {
    RBGW_WRITE_ONE, /* "one" (default): one upstream, never retried once sent */
    RBGW_WRITE_ALL, /* "all": every member; success only if all succeed */
};

struct rbgw_pool_conf {
    char *name;                 /* owned */
    size_t *members;            /* owned: indexes into cfg->upstreams, in the order written */
    size_t nmembers;            /* at least 1 */
    enum rbgw_lb_policy policy; /* policy= */
    enum rbgw_read_mode read;   /* read= */
    enum rbgw_write_mode write; /* write= */
    unsigned retries;           /* retries= for reads in mode one (default 1; 0..8) */
    char *origin;               /* owned: "file:line" or "--pool" or "default" */
};

struct rbgw_route_conf {
    bool reads;   /* matches read-class methods */
    bool writes;  /* matches write-class methods */
    char *zone;   /* owned: zone suffix in DNS text form ("example.com."), or NULL = any */
    size_t pool;  /* index into rbgw_router_conf.pools */
    char *origin; /* owned */
};

struct rbgw_router_conf {
    struct rbgw_pool_conf *pools;   /* owned; at least one */
    size_t npools;                  /* entries in pools */
    struct rbgw_route_conf *routes; /* owned; may be empty */
    size_t nroutes;                 /* entries in routes */
};

/**
 * Build the routing configuration from cfg->pools / cfg->routes (raw entries) and the upstream
 * names.  Errors name the entry's origin and the problem ("rbgw.conf:7: pool main: unknown
 * upstream 'c' (known: a, b)", "route: unknown pool 'x'", duplicate upstream or pool names,
 * bad policy/read/write words, an upstream in no pool is fine).  Returns 0 or RBGW_ECONFIG.
 */
int rbgw_router_conf_build(const struct rbgw_config *cfg, struct rbgw_router_conf *out, char *err,
                           size_t errlen) RBGW_MUSTCHECK;
void rbgw_router_conf_free(struct rbgw_router_conf *rc);

/** Index of the first route matching (class, name), or the first pool when none matches. */
size_t rbgw_route_pick(const struct rbgw_router_conf *rc, enum rbgw_method_class cls,
                       struct rbgw_str name);

#endif
