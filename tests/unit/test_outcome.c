/*
 * test_outcome.c: the failure classes of a call (outcome.h): stable tokens, which classes count
 * toward ejection and which let fan-out try another member, the reason text, and which system
 * errors are rbgw's own.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <string.h>

#include <uv.h>

#include "rbgw/outcome.h"

/* The tokens label metrics: changing one is a breaking change, so they are spelled out here. */
static const struct {
    int status;
    const char *token;
    bool health;
    bool next;
} expected[] = {
    {0, "ok", false, false},
    {RBGW_ETIMEDOUT, "timeout", true, true},
    {RBGW_ECONNECT, "connect", true, true},
    {RBGW_ECLOSED, "closed", true, true},
    {RBGW_ETOOBIG, "too_big", false, false},
    {RBGW_EQUEUE, "queue_full", false, true},
    {RBGW_EQTIMEDOUT, "queue_timeout", false, true},
    {RBGW_ESHUTDOWN, "shutdown", false, false},
    {RBGW_EPROTO, "protocol", true, true},
    {RBGW_ENOTSUP, "unsupported", false, true},
    {RBGW_ELOCAL, "local", false, false},
    {RBGW_EBACKOFF, "backoff", true, true},
};

Test(outcome, every_class_has_its_token_and_rules)
{
    cr_assert_eq(RBGW_NELEM(expected), RBGW_OUTCOME_COUNT, "a class without a row here");
    for (size_t i = 0; i < RBGW_NELEM(expected); i++) {
        int st = expected[i].status;
        const char *tok = rbgw_outcome_name(rbgw_outcome_of(st));
        cr_expect_str_eq(tok, expected[i].token, "status %d", st);
        cr_expect_eq(rbgw_outcome_counts_against(st), expected[i].health, "%s: ejection", tok);
        cr_expect_eq(rbgw_outcome_may_try_next(st), expected[i].next, "%s: next member", tok);
    }
}

Test(outcome, classes_are_distinct_and_tokens_are_short_identifiers)
{
    for (int a = 0; a < RBGW_OUTCOME_COUNT; a++) {
        const char *ta = rbgw_outcome_name((enum rbgw_outcome)a);
        cr_expect(strspn(ta, "abcdefghijklmnopqrstuvwxyz_") == strlen(ta), "token '%s'", ta);
        for (int b = a + 1; b < RBGW_OUTCOME_COUNT; b++) {
            cr_expect_str_neq(ta, rbgw_outcome_name((enum rbgw_outcome)b));
        }
    }
}

Test(outcome, unknown_codes_count_as_protocol)
{
    cr_expect_eq(rbgw_outcome_of(RBGW_EPARSE), RBGW_OUTCOME_PROTOCOL);
    cr_expect_eq(rbgw_outcome_of(UV_ECONNREFUSED), RBGW_OUTCOME_PROTOCOL);
    cr_expect_str_eq(rbgw_outcome_name(RBGW_OUTCOME_COUNT), "unknown");
}

Test(outcome, reason_names_target_detail_and_class)
{
    char buf[200];
    cr_expect_str_eq(rbgw_outcome_reason(buf, sizeof(buf), RBGW_ETIMEDOUT, "127.0.0.1:8080",
                                         "no reply within 1500 ms"),
                     "127.0.0.1:8080: no reply within 1500 ms (timed out)");
    cr_expect_str_eq(rbgw_outcome_reason(buf, sizeof(buf), RBGW_ELOCAL, "unix:/run/r.sock",
                                         "too many open files"),
                     "unix:/run/r.sock: too many open files (rbgw out of resources)");
    /* Truncated, never overrun. */
    char small[8];
    rbgw_outcome_reason(small, sizeof(small), RBGW_ECONNECT, "127.0.0.1:8080", "refused");
    cr_expect_str_eq(small, "127.0.0");
}

Test(outcome, own_resource_errors_are_local)
{
    int uv_local[] = {UV_EMFILE, UV_ENFILE, UV_ENOMEM, UV_ENOBUFS, UV_EAI_MEMORY};
    for (size_t i = 0; i < RBGW_NELEM(uv_local); i++) {
        cr_expect_eq(rbgw_outcome_from_uv(uv_local[i], RBGW_ECONNECT), RBGW_ELOCAL, "%s",
                     uv_err_name(uv_local[i]));
    }
    int uv_peer[] = {UV_ECONNREFUSED, UV_ENOENT, UV_ETIMEDOUT, UV_EPIPE, UV_ECONNRESET};
    for (size_t i = 0; i < RBGW_NELEM(uv_peer); i++) {
        cr_expect_eq(rbgw_outcome_from_uv(uv_peer[i], RBGW_ECONNECT), RBGW_ECONNECT, "%s",
                     uv_err_name(uv_peer[i]));
    }
    cr_expect_eq(rbgw_outcome_from_errno(EMFILE, RBGW_ECLOSED), RBGW_ELOCAL);
    cr_expect_eq(rbgw_outcome_from_errno(ENFILE, RBGW_ECLOSED), RBGW_ELOCAL);
    cr_expect_eq(rbgw_outcome_from_errno(ENOMEM, RBGW_ECLOSED), RBGW_ELOCAL);
    cr_expect_eq(rbgw_outcome_from_errno(ECONNREFUSED, RBGW_ECLOSED), RBGW_ECLOSED);
}
