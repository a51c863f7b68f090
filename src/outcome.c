/*
 * outcome.c: the classes of a call's end (outcome.h): tokens, what fan-out does with each, the
 * reason text, and which system errors are rbgw's own.  Pure: no I/O, no state.
 */
#include <errno.h>
#include <stdio.h>

#include <uv.h>

#include "rbgw/outcome.h"

static const struct {
    int status;        /* the code call->done receives */
    const char *token; /* stable name for logs and metrics */
    int flags;         /* RBGW_OUTCOME_HEALTH, RBGW_OUTCOME_NEXT */
} outcomes[RBGW_OUTCOME_COUNT] = {
#define RBGW_X(name, st, tok, fl) [RBGW_OUTCOME_##name] = {st, tok, fl},
    RBGW_OUTCOME_MAP(RBGW_X)
#undef RBGW_X
};

enum rbgw_outcome
rbgw_outcome_of(int status)
{
    switch (status) {
#define RBGW_X(name, st, tok, fl)                                                                  \
    case st:                                                                                       \
        return RBGW_OUTCOME_##name;
        RBGW_OUTCOME_MAP(RBGW_X)
#undef RBGW_X
    default:
        return RBGW_OUTCOME_PROTOCOL;
    }
}

const char *
rbgw_outcome_name(enum rbgw_outcome o)
{
    return (unsigned)o < RBGW_OUTCOME_COUNT ? outcomes[o].token : "unknown";
}

enum rbgw_answer
rbgw_answer_of(int status)
{
    switch (status) {
    case 0:
        return RBGW_ANSWER_FALSE;
    case RBGW_ENOUPSTREAM:
        return RBGW_ANSWER_NO_UPSTREAM;
    case RBGW_EPARSE:
        return RBGW_ANSWER_BAD_REQUEST;
    default:
        return (enum rbgw_answer)rbgw_outcome_of(status);
    }
}

const char *
rbgw_answer_name(enum rbgw_answer a)
{
    switch (a) {
    case RBGW_ANSWER_FALSE:
        return "false";
    case RBGW_ANSWER_NO_UPSTREAM:
        return "no_upstream";
    case RBGW_ANSWER_BAD_REQUEST:
        return "bad_request";
    default:
        return rbgw_outcome_name((enum rbgw_outcome)a);
    }
}

bool
rbgw_outcome_counts_against(int status)
{
    return (outcomes[rbgw_outcome_of(status)].flags & RBGW_OUTCOME_HEALTH) != 0;
}

bool
rbgw_outcome_may_try_next(int status)
{
    return (outcomes[rbgw_outcome_of(status)].flags & RBGW_OUTCOME_NEXT) != 0;
}

char *
rbgw_outcome_reason(char *buf, size_t len, int status, const char *target, const char *detail)
{
    /* The class words are rbgw_strerror's text for the code: one table says what each means. */
    snprintf(buf, len, "%s: %s (%s)", target, detail, rbgw_strerror(status));
    return buf;
}

int
rbgw_outcome_from_uv(int uv_err, int otherwise)
{
    switch (uv_err) {
    case UV_EMFILE:
    case UV_ENFILE:
    case UV_ENOMEM:
    case UV_ENOBUFS:
    case UV_EAI_MEMORY:
        return RBGW_ELOCAL;
    default:
        return otherwise;
    }
}

int
rbgw_outcome_from_errno(int errno_value, int otherwise)
{
    switch (errno_value) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
        return RBGW_ELOCAL;
    default:
        return otherwise;
    }
}
