/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Program-side seccomp: the --seccomp and --seccomp-filter flags, one
 * compiled filter per thread type, and the install each thread makes at
 * its start.
 *
 * Order: cvmm_sandbox_prepare() in the main thread before any thread whose
 * type it names is started (libseccomp allocates while compiling); then each
 * thread calls cvmm_sandbox_install() with its type as the last step of its
 * setup (vCPU threads before the first KVM_RUN, the main thread after the
 * whole VM is set up); cvmm_sandbox_fini() after every thread is joined.
 */
#ifndef CVMM_EXAMPLES_SANDBOX_H
#define CVMM_EXAMPLES_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

#include <cvmm/seccomp.h>

enum cvmm_sandbox_mode {
	CVMM_SANDBOX_ON = 0,   /* default: trap; message naming the syscall, exit 159 */
	CVMM_SANDBOX_LOG,      /* the syscall runs; the kernel audit-logs it */
	CVMM_SANDBOX_OFF,      /* no filter */
};

#define CVMM_SANDBOX_MAX_THREADS 8

struct cvmm_sandbox {
	enum cvmm_sandbox_mode mode;
	const char *filter_path;        /* --seccomp-filter, or NULL */
	size_t n;
	const char *thread[CVMM_SANDBOX_MAX_THREADS];
	struct cvmm_seccomp_filter *filter[CVMM_SANDBOX_MAX_THREADS];
	struct cvmm_seccomp_set *set;   /* owns the filters loaded from JSON */
	char selftest_thread[CVMM_SECCOMP_NAME_MAX]; /* CVMM_SECCOMP_SELFTEST */
	char selftest_call[16];
};

/**
 * Parse the value of --seccomp: "on", "log" or "off".
 * @return 0; -EINVAL.
 * Thread safety: reentrant.
 */
int cvmm_sandbox_parse_mode(const char *s, enum cvmm_sandbox_mode *out);

/**
 * Build and compile one filter per thread type in @threads (@n at most
 * CVMM_SANDBOX_MAX_THREADS) for @program: from the built-in tables, or from
 * @filter_path (Firecracker JSON, which must have a filter for each of these
 * thread types; its actions are used as written). Installs the SIGSYS
 * handler. Reads CVMM_SECCOMP_SELFTEST=THREAD:CALL (test hook: after THREAD
 * installs its filter it calls CALL, one of execve, open, socket). With
 * filters on, turns glibc's heap trimming off (M_TRIM_THRESHOLD): shrinking
 * a thread arena opens a /proc file, which no filter allows.
 * With mode off and no path, does nothing.
 * @return 0; -EINVAL (a one-line reason in @err: malformed JSON with file,
 *         line and field; a missing thread type; --seccomp-filter with
 *         --seccomp off/log); other negative errno (described in @err).
 * Thread safety: call once, from the main thread, before the threads start.
 */
int cvmm_sandbox_prepare(struct cvmm_sandbox *sb, const char *program,
			 const char *const *threads, size_t n,
			 enum cvmm_sandbox_mode mode, const char *filter_path,
			 char *err, size_t errlen);

/**
 * Install @thread's filter on the calling thread (no allocation), then run
 * the self-test hook when it names this thread type.
 * @return 0 (also when the sandbox is off); -ENOENT (no filter of that
 *         type); negative errno from seccomp(2).
 * Thread safety: any thread; the sandbox is only read.
 */
int cvmm_sandbox_install(const struct cvmm_sandbox *sb, const char *thread);

/** Free the filters. Thread safety: after every thread is joined. */
void cvmm_sandbox_fini(struct cvmm_sandbox *sb);

#endif
