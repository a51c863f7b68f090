/*
 * rbgw_proc.h: run the rbgw binary as a child, the way pdns runs a pipe co-process.
 *
 * stdin and stdout are pipes owned by the test; stderr goes to a temporary file so a chatty
 * --log-level=debug child can never block on a full pipe, and the test can quote it when an
 * assertion fails.  Every read takes a timeout: it is a safety bound so that a broken build
 * fails instead of hanging, never a timing assertion.
 */
#ifndef RBGW_TEST_RBGW_PROC_H
#define RBGW_TEST_RBGW_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct rbgw_proc;

/**
 * Spawn `binary` (NULL: $RBGW_ITEST_BINARY if set, else RBGW_BINARY) with args (NULL-terminated,
 * argv[0] not included). SIGPIPE is ignored in the calling process (and so in the child, as under
 * pdns).  NULL on failure to fork or to create the pipes.
 */
struct rbgw_proc *rbgw_proc_spawn(const char *binary, const char *const *args);

/**
 * rbgw_proc_spawn with the child's RLIMIT_NOFILE (soft and hard) set to nofile before exec, so
 * that rbgw itself runs out of descriptors (EMFILE) after a few connections.
 */
struct rbgw_proc *rbgw_proc_spawn_nofile(const char *binary, const char *const *args,
                                         unsigned nofile);

/** Write all of data to the child's stdin.  0, or -errno (EPIPE once it is gone). */
int rbgw_proc_write(struct rbgw_proc *p, const void *data, size_t len);
/** rbgw_proc_write of a C string. */
int rbgw_proc_write_str(struct rbgw_proc *p, const char *s);

/**
 * Read one line from the child's stdout.  Returns it without its '\n' (malloc'd, NUL-terminated;
 * *len, if non-NULL, gets its length, which may differ from strlen if it holds a NUL), or NULL:
 * errno ETIMEDOUT after timeout_ms, 0 at EOF (a partial last line is kept, see
 * rbgw_proc_pending).
 */
char *rbgw_proc_read_line(struct rbgw_proc *p, int timeout_ms, size_t *len);

/**
 * True if stdout has something to read (or is at EOF) within timeout_ms.  For checking that no
 * reply came early; use small timeouts only where absence is what is being asserted.
 */
bool rbgw_proc_readable(struct rbgw_proc *p, int timeout_ms);

/** Bytes read from stdout but not yet returned as a line (a partial line). */
size_t rbgw_proc_pending(const struct rbgw_proc *p);

/**
 * Read stdout until EOF.  Returns 0 and sets *rest (malloc'd, NUL-terminated) to everything that
 * was left (buffered partial line included) and *rest_len to its length; -ETIMEDOUT if EOF did
 * not come within timeout_ms.
 */
int rbgw_proc_read_to_eof(struct rbgw_proc *p, int timeout_ms, char **rest, size_t *rest_len);

/** Close the child's stdin (pdns went away).  Idempotent. */
void rbgw_proc_close_stdin(struct rbgw_proc *p);

/**
 * Wait up to timeout_ms for the child to exit.  0 with *wstatus set (as by waitpid), or
 * -ETIMEDOUT.  Once it returned 0 it keeps returning the same status.
 */
int rbgw_proc_wait(struct rbgw_proc *p, int timeout_ms, int *wstatus);

/** The child's pid. */
pid_t rbgw_proc_pid(const struct rbgw_proc *p);

/**
 * The last `max` bytes (0: all) of what the child wrote to stderr so far, malloc'd and
 * NUL-terminated; for failure messages.
 */
char *rbgw_proc_stderr(struct rbgw_proc *p, size_t max);

/** SIGKILL the child if it is still running, reap it, close everything, remove the temp file. */
void rbgw_proc_free(struct rbgw_proc *p);

#endif
