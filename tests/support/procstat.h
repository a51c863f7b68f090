/*
 * procstat.h: what a test can see of a running rbgw from /proc: its memory (VmRSS, VmHWM), its
 * open file descriptors, and which of its sockets are connections on a given listener (a unix
 * socket path or a TCP port).
 *
 * Used by the tests that hold rbgw to bounded memory and check that a client's connection is
 * really gone (fd closed, no socket left) once the client is.  Linux only, like rbgw's tests.
 * Nothing here asserts: each returns -1 when /proc cannot be read (the process is gone).
 */
#ifndef RBGW_TEST_PROCSTAT_H
#define RBGW_TEST_PROCSTAT_H

#include <sys/types.h>

/** A "Field:  N kB" line of /proc/<pid>/status (e.g. "VmRSS", "VmHWM"), in kB; -1 if absent. */
long rbgw_test_status_kb(pid_t pid, const char *field);

/** Open file descriptors of pid. */
int rbgw_test_fd_count(pid_t pid);

/**
 * Child processes of pid (its main thread's), zombies included: a child it has not reaped yet
 * still counts.
 */
int rbgw_test_children(pid_t pid);

/**
 * Sockets of pid connected on the unix socket path (the ones its listener accepted there: an
 * accepted socket carries the listening socket's path); the listening socket is not counted.
 */
int rbgw_test_unix_conns(pid_t pid, const char *path);

/**
 * TCP sockets of pid whose local port is port, in any state but LISTEN (a connection its
 * listener accepted, whether ESTABLISHED or left in CLOSE_WAIT by a peer that closed).
 */
int rbgw_test_tcp_conns(pid_t pid, int port);

#endif
