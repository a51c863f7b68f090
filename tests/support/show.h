/*
 * show.h: printable rendering of arbitrary bytes for test failure messages.
 */
#ifndef RBGW_TEST_SHOW_H
#define RBGW_TEST_SHOW_H

#include <stddef.h>

/** p[0..n) with non-printable bytes and '\' as \xNN; one of 4 rotating static buffers, so up
 * to four results can be used in one message.  NULL gives "(null)". */
const char *rbgw_test_show(const char *p, size_t n);

#endif
