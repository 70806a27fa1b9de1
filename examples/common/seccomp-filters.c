/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in allow-lists: lookup by program and thread type, and the
 * rules added to every list (the kick signal for tgkill, known only at run
 * time; what the ASan/UBSan runtime needs in sanitizer builds). The tables
 * themselves live in seccomp-filters-PROGRAM.c, one file per program.
 *
 * The lists were derived with `strace -f` over the integration suites and
 * checked by running them with the filters on (a missing syscall is a test
 * failure with the trap message naming it). docs/security.md has the counts.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>

#include "seccomp-rules.h"

static const struct {
	const char *name;
	const struct cvmm_sandbox_program *p;
} programs[] = {
	{ "microvm", &cvmm_sandbox_microvm },
	{ "vhost-user-blk", &cvmm_sandbox_vhost_user_blk },
	{ "vhost-user-net", &cvmm_sandbox_vhost_user_net },
	{ "hello-kvm", &cvmm_sandbox_hello_kvm },
};

#ifdef CVMM_SANDBOX_SANITIZED
/*
 * The ASan/UBSan runtimes map shadow and fake stacks and switch to an
 * alternate signal stack; at exit LeakSanitizer clones a tracer task that
 * lists /proc/self/task and ptrace-stops every thread. Allowed in sanitizer
 * builds only, so that CI runs the whole suite with the filters on in both
 * builds. openat (what glibc and our code use) stays read-only, so the
 * "open of a new file" check holds in these builds too; the legacy open(2)
 * that only the sanitizer runtime calls is allowed. execve and AF_INET
 * sockets stay forbidden (symbolized reports need --seccomp off).
 */
static const struct cvmm_seccomp_rule sanitizer_rules[] = {
	NO_EXEC("mmap", 2),
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("sigaltstack"),
	CVMM_SECCOMP_RULE("sched_yield"),
	CVMM_SECCOMP_RULE("sched_getaffinity"),
	CVMM_SECCOMP_RULE("getrlimit"),
	CVMM_SECCOMP_RULE("prlimit64"),
	CVMM_SECCOMP_RULE("prctl"),
	CVMM_SECCOMP_RULE("rt_sigaction"),
	CVMM_SECCOMP_RULE_COND("openat",
		CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD,
					 O_ACCMODE | O_CREAT | O_TRUNC | __O_TMPFILE, O_RDONLY)),
	CVMM_SECCOMP_RULE("open"),                 /* the runtime's own raw open(2) */
	CVMM_SECCOMP_RULE("getdents"),
	CVMM_SECCOMP_RULE("getppid"),
	CVMM_SECCOMP_RULE("readlink"),
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("pread64"),
	CVMM_SECCOMP_RULE("close"),
	CVMM_SECCOMP_RULE("getdents64"),
	CVMM_SECCOMP_RULE("newfstatat"),
	CVMM_SECCOMP_RULE("fstat"),
	CVMM_SECCOMP_RULE("lseek"),
	CVMM_SECCOMP_RULE("clone"),
	CVMM_SECCOMP_RULE("wait4"),
	CVMM_SECCOMP_RULE("ptrace"),
	CVMM_SECCOMP_RULE("waitid"),
	CVMM_SECCOMP_RULE("process_vm_readv"),
};
#endif

const char *cvmm_sandbox_program_name(size_t i)
{
	return i < CVMM_ARRAY_SIZE(programs) ? programs[i].name : NULL;
}

const struct cvmm_sandbox_table *cvmm_sandbox_tables(const char *program, size_t *n)
{
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(programs); i++) {
		if (!strcmp(programs[i].name, program)) {
			*n = programs[i].p->n;
			return programs[i].p->tables;
		}
	}
	*n = 0;
	return NULL;
}

const struct cvmm_sandbox_table *cvmm_sandbox_table_find(const char *program, const char *thread)
{
	size_t n;
	const struct cvmm_sandbox_table *t = cvmm_sandbox_tables(program, &n);

	for (size_t i = 0; i < n; i++)
		if (!strcmp(t[i].thread, thread))
			return &t[i];
	return NULL;
}

#ifdef CVMM_SANDBOX_SANITIZED
/* Whether @t names @syscall already (libseccomp refuses a second, wider rule). */
static bool table_has(const struct cvmm_sandbox_table *t, const char *syscall)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->rules[i].syscall, syscall))
			return true;
	return false;
}
#endif

int cvmm_sandbox_table_add(struct cvmm_seccomp_filter *f, const struct cvmm_sandbox_table *t)
{
	/* glibc's SIGRTMIN is a run-time value; kicks are the only signals
	 * sent. (No pid condition: the filter must stay valid when exported
	 * as JSON and loaded by another process.) */
	const struct cvmm_seccomp_rule tgkill = CVMM_SECCOMP_RULE_COND("tgkill",
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, (uint32_t)cvmm_kick_signal()));
	int ret = cvmm_seccomp_filter_add_rules(f, t->rules, t->n, NULL);

	if (!ret)
		ret = cvmm_seccomp_filter_add_rule(f, &tgkill);
#ifdef CVMM_SANDBOX_SANITIZED
	for (size_t i = 0; !ret && i < CVMM_ARRAY_SIZE(sanitizer_rules); i++)
		if (!table_has(t, sanitizer_rules[i].syscall))
			ret = cvmm_seccomp_filter_add_rule(f, &sanitizer_rules[i]);
#endif
	return ret;
}
