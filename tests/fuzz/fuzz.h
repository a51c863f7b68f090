/*
 * fuzz.h: what the fuzz targets in tests/fuzz share (docs/testing.md, "Fuzzing").
 *
 * Each fuzz_<surface>.c defines LLVMFuzzerTestOneInput for one input surface of rbgw.  The same
 * file is linked twice:
 *
 *   fuzz_<surface>.c + util.c + libFuzzer     -> fuzz_<surface>   (-DRBGW_FUZZ=ON, clang)
 *   fuzz_<surface>.c + util.c + replay.c      -> replay_<surface> (any compiler, ctest)
 *
 * replay_<surface> feeds every file of the committed corpus (seeds and every crash ever found)
 * to the target, so the regression inputs run in every test tree, ASan included.
 *
 * A target states the properties it checks in its opening comment and checks them with
 * FUZZ_CHECK: a broken property prints what went wrong and aborts, which libFuzzer records as a
 * crash (with the input saved) like any sanitizer report.
 */
#ifndef RBGW_FUZZ_H
#define RBGW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/** The input being replayed (a file name), for failure messages; NULL under libFuzzer. */
extern const char *rbgw_fuzz_input_name;

/** Print "fuzz check failed: FILE:LINE: COND: message" to stderr and abort. */
_Noreturn void rbgw_fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    RBGW_PRINTF(4, 5);

#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            rbgw_fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                \
        }                                                                                          \
    } while (0)

/** p[0..n) printable: other bytes as \xHH, cut after 400 bytes.  One of 4 rotating buffers. */
const char *rbgw_fuzz_show(const void *p, size_t n);

/** rbgw_fuzz_show of a view. */
const char *rbgw_fuzz_show_str(struct rbgw_str s);

/**
 * Append the json11 form (rbgw_json_write) of text to out.  Returns 0, or -1 when
 * rbgw_json_parse refuses the text (out unchanged).
 */
int rbgw_fuzz_canon(const char *text, size_t len, struct rbgw_buf *out);

/** True when s is one line: no byte below 0x20 and no DEL. */
bool rbgw_fuzz_one_line(const char *s, size_t len);

/**
 * Check that rbgw_rpc_error_reply(reason, extra) writes what pdns accepts: one JSON object with
 * "result": false and a "log" array of "rbgw: <reason>" followed by extra's elements.
 */
void rbgw_fuzz_check_error_reply(const char *reason, const struct rbgw_json *extra);

#endif
