/* SPDX-License-Identifier: Apache-2.0 */
#include "child.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

void child_say(const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t w = write(STDERR_FILENO, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void child_sayf(const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	child_say(buf);
}

void child_exit(int code)
{
	/* exit() would run atexit hooks (and sanitizer reports) needing more syscalls. */
	for (;;)
		syscall(SYS_exit_group, code);
}

void child_run(void (*fn)(void *), void *arg, struct child_result *r)
{
	int p[2];
	pid_t pid;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		close(p[0]);
		dup2(p[1], STDERR_FILENO);
		close(p[1]);
		/* A child stuck on a bug dies of SIGALRM instead of hanging the suite. */
		alarm(20);
		fn(arg);
		child_exit(0);
	}
	close(p[1]);
	for (;;) {
		ssize_t n = read(p[0], r->out + r->len, sizeof(r->out) - 1 - r->len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		r->len += (size_t)n;
		if (r->len == sizeof(r->out) - 1)
			break;
	}
	r->out[r->len] = '\0';
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &r->status, 0), pid);
}

const char *child_status_str(int status, char *buf, size_t n)
{
	if (WIFEXITED(status))
		snprintf(buf, n, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, n, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, n, "status 0x%x", status);
	return buf;
}
