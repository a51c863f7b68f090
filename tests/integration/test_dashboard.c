/*
 * test_dashboard.c: what is written about rbgw's metrics cannot rot: the Grafana dashboard
 * (docker/grafana/rbgw-dashboard.json), the alerting rules (docker/prometheus/rbgw-alerts.yml)
 * and the metrics reference (docs/operations.md).
 *
 * Every query ("expr") in the dashboard must name at least one metric, and every metric it
 * names must be one rbgw exports: a family of RBGW_METRIC_FAMILIES, or a histogram family's
 * _bucket, _sum or _count series.  (test_admin.c checks that a real scrape holds exactly those
 * families, so the dashboard is checked against what rbgw really serves.)  The queries must
 * also be PromQL Prometheus accepts: promtool check rules reads each one as a recording rule,
 * with Grafana's variables given plain values.  The alerting rules get the same two checks,
 * and the reference must name every family.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "fake_json.h"
#include "itest.h"

#include "rbgw/json.h"
#include "rbgw/metrics.h"

#define DASHBOARD RBGW_SOURCE_DIR "/docker/grafana/rbgw-dashboard.json"
#define ALERTS RBGW_SOURCE_DIR "/docker/prometheus/rbgw-alerts.yml"
#define REFERENCE RBGW_SOURCE_DIR "/docs/operations.md"
#define MAX_EXPRS 256

static struct rbgw_arena arena;
static char *dir;

static void
teardown(void)
{
    rbgw_arena_free(&arena);
    fake_json_rmtree(dir);
    free(dir);
    dir = NULL;
    rbgw_test_release();
}

TestSuite(dashboard, .fini = teardown, .timeout = 30);

static void
collect(const struct rbgw_json *v, const char **out, size_t *n)
{
    for (const struct rbgw_json *c = v->child; c; c = c->next) {
        if (v->type == RBGW_JSON_OBJECT && c->type == RBGW_JSON_STRING &&
            rbgw_str_eq_cstr(c->key, "expr")) {
            cr_assert_lt(*n, MAX_EXPRS);
            out[(*n)++] = rbgw_test_keep(strndup(c->str.p, c->str.len));
        }
        collect(c, out, n);
    }
}

/* The whole file (kept, NUL-terminated). */
static const char *
slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    struct rbgw_buf text = RBGW_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        rbgw_buf_append(&text, chunk, n);
    }
    fclose(f);
    char *s = rbgw_test_keep(strdup(text.data ? text.data : ""));
    rbgw_buf_free(&text);
    return s;
}

/* Every "expr" of the dashboard. */
static size_t
dashboard_exprs(const char **out)
{
    const char *text = slurp(DASHBOARD);
    struct rbgw_json *root;
    char err[256];
    cr_assert_eq(rbgw_json_parse(&arena, text, strlen(text), &root, err, sizeof(err)), 0,
                 "%s is not JSON: %s", DASHBOARD, err);
    size_t count = 0;
    collect(root, out, &count);
    return count;
}

static bool
ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool
ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

/* Is name a series rbgw exports? */
static bool
exported(const char *name, size_t len)
{
    static const char *const hist_suffixes[] = {"_bucket", "_sum", "_count"};
    for (int i = 0; i < RBGW_MF_COUNT; i++) {
        size_t fl = strlen(rbgw_metric_names[i]);
        if (fl == len && memcmp(name, rbgw_metric_names[i], len) == 0) {
            return true;
        }
        if (strcmp(rbgw_metric_types[i], "histogram") != 0 || len <= fl ||
            memcmp(name, rbgw_metric_names[i], fl) != 0) {
            continue;
        }
        for (size_t k = 0; k < RBGW_NELEM(hist_suffixes); k++) {
            if (len - fl == strlen(hist_suffixes[k]) &&
                memcmp(name + fl, hist_suffixes[k], len - fl) == 0) {
                return true;
            }
        }
    }
    return false;
}

/*
 * The metric names an expression uses: identifiers starting with "rbgw_" outside quoted
 * strings (label values such as "ok|false").  Returns how many; the first unknown one, if
 * any, goes to *unknown (kept).
 */
static size_t
names_in(const char *expr, const char **unknown)
{
    size_t count = 0;
    *unknown = NULL;
    for (const char *p = expr; *p;) {
        if (*p == '"' || *p == '\'' || *p == '`') {
            char q = *p++;
            while (*p && *p != q) {
                p += *p == '\\' && p[1] ? 2 : 1;
            }
            p += *p ? 1 : 0;
            continue;
        }
        if (!ident_start(*p) || (p > expr && ident_char(p[-1]))) {
            p++;
            continue;
        }
        const char *s = p;
        while (ident_char(*p)) {
            p++;
        }
        size_t len = (size_t)(p - s);
        if (len > 5 && memcmp(s, "rbgw_", 5) == 0) {
            count++;
            if (!exported(s, len) && *unknown == NULL) {
                *unknown = rbgw_test_keep(strndup(s, len));
            }
        }
    }
    return count;
}

Test(dashboard, every_query_names_exported_metrics)
{
    /* The check itself can fail: a name rbgw does not export is found, quoted text is not. */
    const char *unknown;
    cr_assert_eq(names_in("sum(rate(rbgw_calls_totl{outcome=\"rbgw_x\"}[5m]))", &unknown), 1);
    cr_assert_str_eq(unknown, "rbgw_calls_totl");
    cr_assert_eq(names_in("rbgw_upstream_up_bucket", &unknown), 1);
    cr_assert_not_null(unknown, "_bucket of a gauge passed");
    cr_assert_eq(
        names_in("histogram_quantile(0.5, rate(rbgw_call_duration_seconds_bucket[1m]))", &unknown),
        1);
    cr_assert_null(unknown);

    const char *exprs[MAX_EXPRS];
    size_t n = dashboard_exprs(exprs);
    cr_assert_geq(n, 10, "only %zu queries in the dashboard", n);
    for (size_t i = 0; i < n; i++) {
        size_t used = names_in(exprs[i], &unknown);
        cr_expect_gt(used, 0, "query names no rbgw metric: %s", exprs[i]);
        cr_expect_null(unknown, "query names %s, which rbgw does not export: %s", unknown,
                       exprs[i]);
    }
}

/* Replace every occurrence of what by with in s (kept). */
static const char *
replace_all(const char *s, const char *what, const char *with)
{
    struct rbgw_buf b = RBGW_BUF_INIT;
    size_t wl = strlen(what);
    for (const char *p; (p = strstr(s, what)) != NULL; s = p + wl) {
        rbgw_buf_append(&b, s, (size_t)(p - s));
        rbgw_buf_append_cstr(&b, with);
    }
    rbgw_buf_append_cstr(&b, s);
    char *out = rbgw_test_keep(strdup(b.data));
    rbgw_buf_free(&b);
    return out;
}

/* promtool check rules on path: it must accept the file. */
static void
promtool_check_rules(const char *path)
{
    FILE *p = popen(rbgw_test_fmt("promtool check rules %s 2>&1", path), "r");
    cr_assert_not_null(p);
    char out[8192] = "";
    size_t len = fread(out, 1, sizeof(out) - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 127,
              "promtool is not installed (Debian package prometheus; scripts/setup.sh): %s", out);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool refused %s:\n%s", path, out);
}

Test(dashboard, alert_rules_are_valid_and_name_exported_metrics)
{
    promtool_check_rules(ALERTS);
    /* Metric names appear only in the queries; comments are skipped, quoted text (summaries,
     * label values) is skipped by names_in. */
    const char *text = slurp(ALERTS);
    size_t total = 0;
    for (const char *line = text; *line;) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        const char *l = rbgw_test_keep(strndup(line, len));
        const char *first = l + strspn(l, " ");
        if (*first != '#') {
            const char *unknown;
            total += names_in(l, &unknown);
            cr_expect_null(unknown, "%s names %s, which rbgw does not export: %s", ALERTS, unknown,
                           l);
        }
        line = eol ? eol + 1 : line + len;
    }
    cr_expect_geq(total, 10, "only %zu metric names in the alerting rules", total);
}

Test(dashboard, reference_documents_every_metric)
{
    const char *text = slurp(REFERENCE);
    for (int i = 0; i < RBGW_MF_COUNT; i++) {
        const char *entry = rbgw_test_fmt("`%s`", rbgw_metric_names[i]);
        cr_expect_not_null(strstr(text, entry), "%s does not document %s", REFERENCE,
                           rbgw_metric_names[i]);
    }
}

Test(dashboard, every_query_is_promql)
{
    const char *exprs[MAX_EXPRS];
    size_t n = dashboard_exprs(exprs);
    dir = fake_json_mkdtemp();
    cr_assert_not_null(dir);
    const char *path = rbgw_test_fmt("%s/rules.yml", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f, "groups:\n- name: dashboard\n  rules:\n");
    for (size_t i = 0; i < n; i++) {
        const char *e = replace_all(exprs[i], "$__rate_interval", "5m");
        e = replace_all(e, "$instance", ".*");
        struct rbgw_buf q = RBGW_BUF_INIT;
        rbgw_json_write_string(&q, e, strlen(e)); /* a JSON string is a YAML string */
        fprintf(f, "  - record: dashboard_query_%zu\n    expr: %s\n", i, q.data);
        rbgw_buf_free(&q);
    }
    fclose(f);
    promtool_check_rules(path);
}
