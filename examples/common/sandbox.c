/* SPDX-License-Identifier: Apache-2.0 */
/* Program-side seccomp: flags, per-thread-type filters, install, self-test. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox.h"
#include "seccomp-filters.h"

int cvmm_sandbox_parse_mode(const char *s, enum cvmm_sandbox_mode *out)
{
	if (!strcmp(s, "on"))
		*out = CVMM_SANDBOX_ON;
	else if (!strcmp(s, "log"))
		*out = CVMM_SANDBOX_LOG;
	else if (!strcmp(s, "off"))
		*out = CVMM_SANDBOX_OFF;
	else
		return -EINVAL;
	return 0;
}

/* The hook is read once here, not in the thread, where getenv could race
 * with nothing but would still be one more thing a filter has to allow. */
static void selftest_read(struct cvmm_sandbox *sb)
{
	const char *e = getenv("CVMM_SECCOMP_SELFTEST");
	const char *colon = e ? strchr(e, ':') : NULL;

	if (!colon || (size_t)(colon - e) >= sizeof(sb->selftest_thread) ||
	    strlen(colon + 1) >= sizeof(sb->selftest_call))
		return;
	memcpy(sb->selftest_thread, e, (size_t)(colon - e));
	sb->selftest_thread[colon - e] = '\0';
	strcpy(sb->selftest_call, colon + 1);
}

static int from_tables(struct cvmm_sandbox *sb, const char *program, char *err, size_t errlen)
{
	struct cvmm_seccomp_action dflt = sb->mode == CVMM_SANDBOX_LOG ? CVMM_SECCOMP_LOG
								       : CVMM_SECCOMP_TRAP;

	for (size_t i = 0; i < sb->n; i++) {
		const struct cvmm_sandbox_table *t = cvmm_sandbox_table_find(program, sb->thread[i]);
		struct cvmm_seccomp_filter_opts o = {
			.sz = sizeof(o), .thread_name = sb->thread[i], .default_action = dflt,
		};
		int ret;

		if (!t) {
			snprintf(err, errlen, "seccomp: no built-in filter for %s thread '%s'",
				 program, sb->thread[i]);
			return -ENOENT;
		}
		ret = cvmm_seccomp_filter_create(&o, &sb->filter[i]);
		if (!ret)
			ret = cvmm_sandbox_table_add(sb->filter[i], t);
		/* one libseccomp database at a time: the heap's peak (which
		 * stays with the process) is one filter's, not all of them */
		if (!ret && !cvmm_seccomp_filter_compile(sb->filter[i]))
			ret = cvmm_seccomp_filter_seal(sb->filter[i]);
		if (ret) {
			snprintf(err, errlen, "seccomp: %s filter: %s", sb->thread[i], strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int from_json(struct cvmm_sandbox *sb, char *err, size_t errlen)
{
	struct cvmm_seccomp_error e = { 0 };
	struct cvmm_seccomp_json_opts o = { .sz = sizeof(o), .path = sb->filter_path, .err = &e };
	int ret = cvmm_seccomp_load_json_all(&o, &sb->set);

	if (ret) {
		if (e.msg[0])
			snprintf(err, errlen, "--seccomp-filter: %s", e.msg);
		else
			snprintf(err, errlen, "--seccomp-filter: cannot read '%s': %s",
				 sb->filter_path, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < sb->n; i++) {
		sb->filter[i] = cvmm_seccomp_set_find(sb->set, sb->thread[i]);
		if (!sb->filter[i]) {
			snprintf(err, errlen, "--seccomp-filter: %s: no filter for thread \"%s\"",
				 sb->filter_path, sb->thread[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int cvmm_sandbox_prepare(struct cvmm_sandbox *sb, const char *program,
			 const char *const *threads, size_t n,
			 enum cvmm_sandbox_mode mode, const char *filter_path,
			 char *err, size_t errlen)
{
	int ret;

	memset(sb, 0, sizeof(*sb));
	sb->mode = mode;
	sb->filter_path = filter_path;
	if (n > CVMM_SANDBOX_MAX_THREADS)
		return -E2BIG;
	if (filter_path && mode != CVMM_SANDBOX_ON) {
		snprintf(err, errlen, "--seccomp-filter: cannot be combined with --seccomp %s",
			 mode == CVMM_SANDBOX_OFF ? "off" : "log");
		return -EINVAL;
	}
	if (mode == CVMM_SANDBOX_OFF)
		return 0;
	sb->n = n;
	for (size_t i = 0; i < n; i++)
		sb->thread[i] = threads[i];
	ret = filter_path ? from_json(sb, err, errlen) : from_tables(sb, program, err, errlen);
	for (size_t i = 0; !ret && i < n; i++) {
		ret = cvmm_seccomp_filter_compile(sb->filter[i]);
		/* the program is all a thread installs: libseccomp's rule
		 * database (~35 KiB a filter) goes */
		if (!ret)
			ret = cvmm_seccomp_filter_seal(sb->filter[i]);
		if (ret)
			snprintf(err, errlen, "seccomp: compiling the %s filter: %s", threads[i],
				 strerror(-ret));
	}
	if (!ret) {
		/* glibc's free() shrinking a thread arena's heap reads
		 * /proc/sys/vm/overcommit_memory once (an open no filter
		 * allows): with trimming off it never shrinks one. The memory
		 * stays with the process for reuse. (The sanitizers' allocator
		 * ignores the call, and opens nothing there.) */
		(void)mallopt(M_TRIM_THRESHOLD, INT_MAX);
		ret = cvmm_seccomp_install_sigsys_handler();
		if (ret)
			snprintf(err, errlen, "seccomp: SIGSYS handler: %s", strerror(-ret));
	}
	if (ret) {
		cvmm_sandbox_fini(sb);
		return ret;
	}
	selftest_read(sb);
	return 0;
}

/* The test hook: one syscall that no thread type's filter allows. */
static void selftest_run(const struct cvmm_sandbox *sb)
{
	/* A path that does not exist: in log mode the call runs and fails. */
	static char *const argv[] = { "/nonexistent/cvmm-seccomp-selftest", NULL };
	int fd;

	if (!strcmp(sb->selftest_call, "execve")) {
		execve(argv[0], argv, argv + 1);
	} else if (!strcmp(sb->selftest_call, "open")) {
		/* A new, unnamed file: nothing is left behind in log mode. */
		fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	} else if (!strcmp(sb->selftest_call, "socket")) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			close(fd);
	}
}

int cvmm_sandbox_install(const struct cvmm_sandbox *sb, const char *thread)
{
	int ret;

	if (!sb || sb->mode == CVMM_SANDBOX_OFF)
		return 0;
	for (size_t i = 0; i < sb->n; i++) {
		if (strcmp(sb->thread[i], thread))
			continue;
		ret = cvmm_seccomp_filter_install(sb->filter[i]);
		if (!ret && !strcmp(sb->selftest_thread, thread))
			selftest_run(sb);
		return ret;
	}
	return -ENOENT;
}

void cvmm_sandbox_fini(struct cvmm_sandbox *sb)
{
	if (sb->set) {
		cvmm_seccomp_set_destroy(sb->set);
	} else {
		for (size_t i = 0; i < sb->n; i++)
			cvmm_seccomp_filter_destroy(sb->filter[i]);
	}
	memset(sb->filter, 0, sizeof(sb->filter));
	sb->set = NULL;
}
