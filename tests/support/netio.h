/*
 * netio.h: the socket, clock and lock chores the scripted responder threads in tests/support/
 * do the same way (fake_httpd, the HTTP server behind fake_http, fake_fanout and zmq_echo_http;
 * fake_json), and the clock the bounded reads of rbgw_proc and fake_json use.
 *
 * None of these assert: they run on responder threads, where a Criterion assertion cannot end
 * the test; they report failure by their return value instead.
 */
#ifndef RBGW_TEST_NETIO_H
#define RBGW_TEST_NETIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

/** CLOCK_MONOTONIC in milliseconds. */
long rbgw_test_now_ms(void);
/** *ts = now + timeout_ms on CLOCK_MONOTONIC: a deadline for pthread_cond_timedwait on a
 * condition variable made by rbgw_test_cond_init. */
void rbgw_test_deadline(struct timespec *ts, int timeout_ms);
/** Initialise cv to time its waits on CLOCK_MONOTONIC. */
void rbgw_test_cond_init(pthread_cond_t *cv);
/** *field read under mu. */
unsigned rbgw_test_locked_get(pthread_mutex_t *mu, const unsigned *field);

/**
 * A TCP socket (CLOEXEC) bound to 127.0.0.1 on a port the kernel picks, not yet listening;
 * *port gets the port.  -1 on failure.  Kept bound but not listening, it is a port where a
 * connect is refused and that nobody else can take.
 */
int rbgw_test_tcp_bind(uint16_t *port);

/** send() all of p[0..n) (MSG_NOSIGNAL, EINTR retried).  False once the peer is gone. */
bool rbgw_test_send_all(int fd, const void *p, size_t n);

/**
 * recv() once into *buf after its first *len bytes, first growing it (realloc; *cap doubles from
 * 8192) when fewer than 4096 bytes are free; the bytes are kept NUL-terminated.  Returns what
 * recv() returned: > 0 bytes added, 0 at EOF, -1 with errno (EINTR and EAGAIN included).
 */
ssize_t rbgw_test_recv_more(int fd, char **buf, size_t *len, size_t *cap);

/** The "\r\n\r\n" that ends an HTTP head in p[0..len), or NULL. */
const char *rbgw_test_head_end(const char *p, size_t len);

#endif
