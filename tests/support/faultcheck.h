/*
 * faultcheck.h: the checks every fault-injection test makes on the rbgw child around a fault
 * (tests/integration/test_faults_*.c): its descriptors come back to what they were before the
 * fault, its memory stays within an absolute slack of what it was, and (where a test needs it)
 * its children are reaped.
 *
 * "Come back" is waited for with a bounded poll on the state itself (a closed socket leaves
 * rbgw's table when its close callback has run, a moment after the answer went out), never with
 * a sleep.  The memory checks are skipped in a sanitizer build, whose allocator keeps freed
 * memory in quarantine by design; the descriptor checks run everywhere.
 *
 * Everything asserts (Criterion) and quotes the tail of rbgw's stderr on failure.
 */
#ifndef RBGW_TEST_FAULTCHECK_H
#define RBGW_TEST_FAULTCHECK_H

#include <stdbool.h>

#include "rbgw_proc.h"

#define RBGW_FAULT_RSS_SLACK_KB (8 * 1024) /* VmRSS / VmHWM may grow this much over a fault */

/* What rbgw held before a fault. */
struct rbgw_fault_base {
    int fds;     /* open descriptors */
    long rss_kb; /* VmRSS */
    long hwm_kb; /* VmHWM (peak so far) */
};

/** True if memory checks run in this build (false under AddressSanitizer). */
bool rbgw_fault_check_memory(void);

/** rbgw's descriptors and memory now. */
struct rbgw_fault_base rbgw_fault_base_take(struct rbgw_proc *gw);

/**
 * Poll (bounded by RBGW_TEST_IO_MS) until rbgw holds exactly base->fds descriptors; then its
 * VmRSS must be within RBGW_FAULT_RSS_SLACK_KB of base->rss_kb.  what names the fault.
 */
void rbgw_fault_assert_settled(struct rbgw_proc *gw, const struct rbgw_fault_base *base,
                               const char *what);

/** rbgw's peak memory (VmHWM) must be within RBGW_FAULT_RSS_SLACK_KB of base->hwm_kb: it never
 * held the fault's bytes (a huge reply, an oversized call) at once. */
void rbgw_fault_assert_peak(struct rbgw_proc *gw, const struct rbgw_fault_base *base,
                            const char *what);

/** Poll (bounded) until rbgw has exactly n child processes (zombies count: unreaped). */
void rbgw_fault_assert_children(struct rbgw_proc *gw, int n);

/** Poll (bounded) until process pid has exited (it may be a zombie not yet reaped). */
void rbgw_fault_assert_exited(long pid);

#endif
