/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared glue for the Check-based unit tests: TAP output for automake's
 * tap-driver, and a clean skip when the machine lacks /dev/kvm.
 * Test-only; never installed.
 */
#ifndef CVMM_TEST_H
#define CVMM_TEST_H

#include <check.h>
#include <stdbool.h>

/* Run every suite in @suites (NULL-terminated), print TAP, return the exit code. */
int cvmm_test_run(Suite **suites);

/* True when /dev/kvm can be opened read-write. */
bool cvmm_test_have_kvm(void);

/*
 * For test programs that need KVM: when it is missing, print a TAP plan that
 * skips the whole program with the reason and exit(0).
 */
void cvmm_test_require_kvm(void);

/* A zero-filled temporary file of @size bytes in $TMPDIR; its path goes to
 * @path (PATH_MAX). Returns an open O_RDWR fd; the test unlinks it. */
int cvmm_test_tmpfile(char *path, unsigned long long size);

/* How many fds this process has open (for leak checks around add/remove). */
int cvmm_test_count_fds(void);

/*
 * A watchdog for a guest that may hang: after @seconds, unless
 * cvmm_test_watchdog_stop() came first, @fire(@arg) runs on the watchdog's
 * thread (e.g. cvmm_vmm_request_stop). One at a time per process.
 */
void cvmm_test_watchdog_start(unsigned int seconds, void (*fire)(void *arg), void *arg);
void cvmm_test_watchdog_stop(void);

#endif
