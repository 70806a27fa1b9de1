/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Run a test body in a forked child (an installed filter cannot be removed,
 * and the interesting outcomes are deaths by signal), capturing its stderr.
 */
#ifndef CVMM_SECCOMP_TEST_CHILD_H
#define CVMM_SECCOMP_TEST_CHILD_H

#include <stddef.h>

struct child_result {
	int status;      /* from waitpid */
	char out[2048];  /* the child's stderr, NUL-terminated */
	size_t len;
};

/* Fork, run fn(arg) with stderr on a pipe and no core dumps, then exit 0. */
void child_run(void (*fn)(void *), void *arg, struct child_result *r);

/* For use inside a child after a filter is in place: raw syscalls only. */
void child_say(const char *s);
void child_sayf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Not marked noreturn on purpose: ASan calls sigaltstack before noreturn
 * calls, which a tight allow-list forbids. */
void child_exit(int code);

/* Describe a wait status ("exit 3", "signal 31") for failure messages. */
const char *child_status_str(int status, char *buf, size_t n);

#endif
