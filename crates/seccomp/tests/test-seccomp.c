/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filters built from C tables: validation, and each action really happening
 * in a forked child (kill, trap with its message, errno, log), argument
 * conditions matching exactly, TSYNC versus per-thread install, and dumps.
 */
#include <cvmm/seccomp.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "child.h"
#include "cvmm-test.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* What a child needs once its allow-list is in place: report and leave. */
#define BASE_RULES CVMM_SECCOMP_RULE("write"), CVMM_SECCOMP_RULE("exit_group")

static struct cvmm_seccomp_filter *make(const char *name, struct cvmm_seccomp_action def,
					struct cvmm_seccomp_action act,
					const struct cvmm_seccomp_rule *rules, size_t n)
{
	struct cvmm_seccomp_filter_opts o = {
		.sz = sizeof(o), .thread_name = name, .default_action = def, .filter_action = act,
	};
	struct cvmm_seccomp_filter *f = NULL;
	size_t bad = SIZE_MAX;
	int rc;

	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), 0);
	rc = cvmm_seccomp_filter_add_rules(f, rules, n, &bad);
	ck_assert_msg(rc == 0, "rule %zu: %s", bad, strerror(-rc));
	ck_assert_int_eq(cvmm_seccomp_filter_compile(f), 0);
	return f;
}

static void expect_sigsys(const struct child_result *r)
{
	char b[64];

	ck_assert_msg(WIFSIGNALED(r->status) && WTERMSIG(r->status) == SIGSYS,
		      "child ended with %s, output \"%s\"", child_status_str(r->status, b, sizeof(b)),
		      r->out);
}

static void expect_exit0(const struct child_result *r)
{
	char b[64];

	ck_assert_msg(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
		      "child ended with %s, output \"%s\"", child_status_str(r->status, b, sizeof(b)),
		      r->out);
}

/* ---------------------------------------------------------------------- */
/* Validation                                                              */
/* ---------------------------------------------------------------------- */

START_TEST(create_rejects_bad_options)
{
	struct cvmm_seccomp_filter_opts o = {
		.sz = sizeof(o), .thread_name = "vcpu", .default_action = CVMM_SECCOMP_KILL,
	};
	struct cvmm_seccomp_filter *f = NULL;

	o.sz = sizeof(o) - 1;
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.sz = sizeof(o);
	o.thread_name = "";
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.thread_name = "two words";
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.thread_name = "0123456789012345678901234567890123456789012345678901234567890123";
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.thread_name = "vcpu";
	o.default_action = (struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_UNSET, 0 };
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.default_action = CVMM_SECCOMP_ERRNO(4095);
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.default_action = CVMM_SECCOMP_ALLOW; /* filter action defaults to allow too */
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	o.default_action = (struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_TRAP, 1 };
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), -EINVAL);
	ck_assert_ptr_null(f);
	o.default_action = CVMM_SECCOMP_ERRNO(4094);
	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), 0);
	ck_assert_str_eq(cvmm_seccomp_filter_thread_name(f), "vcpu");
	cvmm_seccomp_filter_destroy(f);
	cvmm_seccomp_filter_destroy(NULL);
}
END_TEST

START_TEST(add_rule_validates)
{
	struct cvmm_seccomp_filter_opts o = {
		.sz = sizeof(o), .thread_name = "vmm", .default_action = CVMM_SECCOMP_KILL,
	};
	struct cvmm_seccomp_cond c[7] = { 0 };
	struct cvmm_seccomp_rule r = { .syscall = "ioctl", .conds = c, .ncond = 1 };
	struct cvmm_seccomp_filter *f;
	struct cvmm_seccomp_rule got;

	ck_assert_int_eq(cvmm_seccomp_filter_create(&o, &f), 0);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(6, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_EQ, 1);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ,
							  0x100000000ull);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(1, CVMM_SECCOMP_QWORD, 0, 1);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(1, 7, CVMM_SECCOMP_OP_EQ, 1);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND_MASKED(1, CVMM_SECCOMP_QWORD, 0xf0, 0x1f);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND_MASKED(1, CVMM_SECCOMP_DWORD,
								 0x1ffffffffull, 1);
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	/* Two conditions on one argument: libseccomp cannot express it. */
	c[0] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(1, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_GE, 1);
	c[1] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(1, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_LE, 9);
	r.ncond = 2;
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	for (unsigned int i = 0; i < 7; i++)
		c[i] = (struct cvmm_seccomp_cond)CVMM_SECCOMP_COND(i % 6, CVMM_SECCOMP_QWORD,
								  CVMM_SECCOMP_OP_EQ, i);
	r.ncond = 7;
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	r.ncond = 6;
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), 0);

	r = (struct cvmm_seccomp_rule){ .syscall = "no_such_syscall" };
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -ENOENT);
	r.syscall = "socketcall"; /* exists on i386, not on x86_64 */
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -ENOENT);
	r = (struct cvmm_seccomp_rule){ .nr = -1 };
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EINVAL);
	r = (struct cvmm_seccomp_rule){ .nr = SYS_getppid, .comment = "by number" };
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), 0);
	ck_assert_uint_eq(cvmm_seccomp_filter_rule_count(f), 2);

	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 1, &got), 0);
	ck_assert_str_eq(got.syscall, "getppid");
	ck_assert_int_eq(got.nr, SYS_getppid);
	ck_assert_str_eq(got.comment, "by number");
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 0, &got), 0);
	ck_assert_uint_eq(got.ncond, 6);
	ck_assert_uint_eq(got.conds[5].val, 5);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 2, &got), -ERANGE);

	ck_assert_int_eq(cvmm_seccomp_filter_install(f), -EINVAL); /* not compiled */
	ck_assert_int_eq(cvmm_seccomp_filter_dump_bpf(f, 2), -EINVAL);
	ck_assert_uint_eq(cvmm_seccomp_filter_insn_count(f), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_compile(f), 0);
	ck_assert_uint_gt(cvmm_seccomp_filter_insn_count(f), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_compile(f), 0);
	r = (struct cvmm_seccomp_rule){ .syscall = "read" };
	ck_assert_int_eq(cvmm_seccomp_filter_add_rule(f, &r), -EBUSY);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(syscall_names_resolve)
{
	ck_assert_int_eq(cvmm_seccomp_syscall_nr("read"), SYS_read);
	ck_assert_int_eq(cvmm_seccomp_syscall_nr("ioctl"), SYS_ioctl);
	ck_assert_int_eq(cvmm_seccomp_syscall_nr("exit_group"), SYS_exit_group);
	ck_assert_int_eq(cvmm_seccomp_syscall_nr(""), -ENOENT);
	ck_assert_int_eq(cvmm_seccomp_syscall_nr(NULL), -ENOENT);
	ck_assert_int_eq(cvmm_seccomp_syscall_nr("READ"), -ENOENT);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Actions                                                                 */
/* ---------------------------------------------------------------------- */

static const struct cvmm_seccomp_rule base_rules[] = { BASE_RULES };

static void body_forbidden_getppid(void *arg)
{
	struct cvmm_seccomp_filter *f = arg;

	if (cvmm_seccomp_filter_install(f))
		child_exit(10);
	child_say("installed\n");
	syscall(SYS_getppid);
	child_say("survived\n");
}

START_TEST(kill_process_action)
{
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	struct child_result r;

	child_run(body_forbidden_getppid, f, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "installed\n");
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(kill_thread_action)
{
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_KILL_THREAD, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	struct child_result r;

	child_run(body_forbidden_getppid, f, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "installed\n");
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

static void body_trap(void *arg)
{
	if (cvmm_seccomp_install_sigsys_handler())
		child_exit(11);
	body_forbidden_getppid(arg);
}

START_TEST(trap_action_logs_and_exits)
{
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_TRAP, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	struct child_result r;
	char want[160], b[64];

	child_run(body_trap, f, &r);
	ck_assert_msg(WIFEXITED(r.status) && WEXITSTATUS(r.status) == CVMM_SECCOMP_TRAP_EXIT_CODE,
		      "child ended with %s", child_status_str(r.status, b, sizeof(b)));
	snprintf(want, sizeof(want),
		 "installed\ncvmm: seccomp: thread vcpu made forbidden syscall getppid (%d)\n",
		 (int)SYS_getppid);
	ck_assert_str_eq(r.out, want);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

/* A SIGSYS that seccomp did not raise still ends the process with the code. */
static void body_plain_sigsys(void *arg)
{
	(void)arg;
	if (cvmm_seccomp_install_sigsys_handler())
		child_exit(11);
	raise(SIGSYS);
	child_say("survived\n");
}

START_TEST(trap_handler_other_sigsys)
{
	struct child_result r;

	child_run(body_plain_sigsys, NULL, &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), CVMM_SECCOMP_TRAP_EXIT_CODE);
	ck_assert_str_eq(r.out, "cvmm: seccomp: thread ? received SIGSYS\n");
}
END_TEST

static void body_errno(void *arg)
{
	struct cvmm_seccomp_filter *f = arg;
	long rc;

	if (cvmm_seccomp_filter_install(f))
		child_exit(10);
	errno = 0;
	rc = syscall(SYS_getppid);
	child_sayf("rc=%ld errno=%d\n", rc, errno);
}

START_TEST(errno_default_action)
{
	struct cvmm_seccomp_filter *f = make("api", CVMM_SECCOMP_ERRNO(EACCES), CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	struct child_result r;
	char want[64];

	child_run(body_errno, f, &r);
	expect_exit0(&r);
	snprintf(want, sizeof(want), "rc=-1 errno=%d\n", EACCES);
	ck_assert_str_eq(r.out, want);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(errno_filter_action_denylist)
{
	/* Deny-list: everything allowed except the listed syscall. */
	static const struct cvmm_seccomp_rule rules[] = { CVMM_SECCOMP_RULE("getppid") };
	struct cvmm_seccomp_filter *f = make("api", CVMM_SECCOMP_ALLOW, CVMM_SECCOMP_ERRNO(EPERM),
					     rules, ARRAY_SIZE(rules));
	struct child_result r;
	char want[64];

	child_run(body_errno, f, &r);
	expect_exit0(&r);
	snprintf(want, sizeof(want), "rc=-1 errno=%d\n", EPERM);
	ck_assert_str_eq(r.out, want);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

static void body_log(void *arg)
{
	struct cvmm_seccomp_filter *f = arg;
	long before = syscall(SYS_getppid), after;

	if (cvmm_seccomp_filter_install(f))
		child_exit(10);
	after = syscall(SYS_getppid);
	child_say(after == before && after > 0 ? "same\n" : "different\n");
}

START_TEST(log_action_lets_syscall_run)
{
	struct cvmm_seccomp_filter *f = make("vmm", CVMM_SECCOMP_LOG, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	struct child_result r;

	child_run(body_log, f, &r);
	expect_exit0(&r);
	ck_assert_str_eq(r.out, "same\n");
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Argument conditions                                                     */
/* ---------------------------------------------------------------------- */

struct ioctl_case {
	struct cvmm_seccomp_filter *f;
	unsigned long req; /* the request made after the allowed FIONREAD */
};

static void body_ioctl(void *arg)
{
	struct ioctl_case *c = arg;
	struct termios t;
	int p[2], n = -1;

	if (pipe(p))
		child_exit(12);
	if (cvmm_seccomp_filter_install(c->f))
		child_exit(10);
	if (ioctl(p[0], FIONREAD, &n) == 0 && n == 0)
		child_say("fionread\n");
	errno = 0;
	syscall(SYS_ioctl, p[0], c->req, &t);
	child_sayf("second errno=%d\n", errno);
}

START_TEST(ioctl_only_one_request)
{
	const struct cvmm_seccomp_rule rules[] = {
		BASE_RULES,
		CVMM_SECCOMP_RULE_COND("ioctl", CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD,
								  CVMM_SECCOMP_OP_EQ, FIONREAD)),
	};
	struct ioctl_case c = { .f = make("vcpu", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW, rules,
					  ARRAY_SIZE(rules)) };
	struct child_result r;

	c.req = TCGETS;
	child_run(body_ioctl, &c, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "fionread\n");

	/* A dword ignores the upper half, as the kernel's unsigned int cmd does. */
	c.req = 0xffffffff00000000ul | FIONREAD;
	child_run(body_ioctl, &c, &r);
	expect_exit0(&r);
	ck_assert_str_eq(r.out, "fionread\nsecond errno=0\n");
	cvmm_seccomp_filter_destroy(c.f);
}
END_TEST

START_TEST(ioctl_qword_checks_upper_half)
{
	const struct cvmm_seccomp_rule rules[] = {
		BASE_RULES,
		CVMM_SECCOMP_RULE_COND("ioctl", CVMM_SECCOMP_COND(1, CVMM_SECCOMP_QWORD,
								  CVMM_SECCOMP_OP_EQ, FIONREAD)),
	};
	struct ioctl_case c = { .f = make("vcpu", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW, rules,
					  ARRAY_SIZE(rules)) };
	struct child_result r;

	c.req = 0x100000000ul | FIONREAD;
	child_run(body_ioctl, &c, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "fionread\n");
	cvmm_seccomp_filter_destroy(c.f);
}
END_TEST

struct socket_case {
	struct cvmm_seccomp_filter *f;
	int family;
};

static void body_socket(void *arg)
{
	struct socket_case *c = arg;
	int fd;

	if (cvmm_seccomp_filter_install(c->f))
		child_exit(10);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	child_say(fd >= 0 ? "unix ok\n" : "unix failed\n");
	fd = socket(c->family, SOCK_STREAM, 0);
	child_say(fd >= 0 ? "second ok\n" : "second failed\n");
}

START_TEST(socket_only_af_unix)
{
	const struct cvmm_seccomp_rule rules[] = {
		BASE_RULES,
		CVMM_SECCOMP_RULE_COND("socket", CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD,
								   CVMM_SECCOMP_OP_EQ, AF_UNIX)),
	};
	struct socket_case c = { .f = make("vmm", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW, rules,
					   ARRAY_SIZE(rules)) };
	struct child_result r;

	c.family = AF_INET;
	child_run(body_socket, &c, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "unix ok\n");
	c.family = AF_UNIX;
	child_run(body_socket, &c, &r);
	expect_exit0(&r);
	ck_assert_str_eq(r.out, "unix ok\nsecond ok\n");
	cvmm_seccomp_filter_destroy(c.f);
}
END_TEST

/*
 * Conditions probed through getppid, which ignores its arguments while
 * seccomp sees all six registers: with a deny-list (default allow, match ->
 * errno E2BIG) each probe reports whether the rule matched.
 */
struct probe {
	struct cvmm_seccomp_filter *f;
	unsigned int index;
	const uint64_t *vals;
	size_t nvals;
};

static void body_probe(void *arg)
{
	struct probe *p = arg;

	if (cvmm_seccomp_filter_install(p->f))
		child_exit(10);
	for (size_t i = 0; i < p->nvals; i++) {
		uint64_t a[6] = { 0 };
		long rc;

		a[p->index] = p->vals[i];
		errno = 0;
		rc = syscall(SYS_getppid, a[0], a[1], a[2], a[3], a[4], a[5]);
		child_say(rc == -1 && errno == E2BIG ? "1" : rc > 0 ? "0" : "?");
	}
}

/* Run the probe for one condition; @out gets one '1'/'0' per value. */
static void probe(const struct cvmm_seccomp_cond *c, const uint64_t *vals, size_t n, char *out)
{
	struct cvmm_seccomp_rule rule = { .syscall = "getppid", .conds = c, .ncond = 1 };
	struct probe p = { .index = c->index, .vals = vals, .nvals = n };
	struct child_result r;

	p.f = make("probe", CVMM_SECCOMP_ALLOW, CVMM_SECCOMP_ERRNO(E2BIG), &rule, 1);
	child_run(body_probe, &p, &r);
	expect_exit0(&r);
	ck_assert_uint_eq(r.len, n);
	memcpy(out, r.out, n + 1);
	cvmm_seccomp_filter_destroy(p.f);
}

static int qword_holds(enum cvmm_seccomp_op op, uint64_t a, uint64_t v, uint64_t m)
{
	switch (op) {
	case CVMM_SECCOMP_OP_EQ: return a == v;
	case CVMM_SECCOMP_OP_NE: return a != v;
	case CVMM_SECCOMP_OP_LT: return a < v;
	case CVMM_SECCOMP_OP_LE: return a <= v;
	case CVMM_SECCOMP_OP_GT: return a > v;
	case CVMM_SECCOMP_OP_GE: return a >= v;
	case CVMM_SECCOMP_OP_MASKED_EQ: return (a & m) == v;
	default: return -1;
	}
}

static const uint64_t probe_vals[] = {
	0, 1, 99, 100, 101, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull,
	0x100000064ull, 0xffffffff00000064ull, 0x8000000000000000ull, UINT64_MAX,
};

START_TEST(qword_operators_match_exactly)
{
	static const enum cvmm_seccomp_op ops[] = {
		CVMM_SECCOMP_OP_EQ, CVMM_SECCOMP_OP_NE, CVMM_SECCOMP_OP_LT,
		CVMM_SECCOMP_OP_LE, CVMM_SECCOMP_OP_GT, CVMM_SECCOMP_OP_GE,
	};
	const size_t n = ARRAY_SIZE(probe_vals);

	for (size_t k = 0; k < ARRAY_SIZE(ops); k++) {
		struct cvmm_seccomp_cond c = CVMM_SECCOMP_COND((unsigned int)k % 6, CVMM_SECCOMP_QWORD,
							       ops[k], 100);
		char got[32], want[32];

		probe(&c, probe_vals, n, got);
		for (size_t i = 0; i < n; i++)
			want[i] = qword_holds(ops[k], probe_vals[i], 100, 0) ? '1' : '0';
		want[n] = '\0';
		ck_assert_msg(strcmp(got, want) == 0, "op %d: got %s want %s", ops[k], got, want);
	}
}
END_TEST

START_TEST(qword_large_values)
{
	/* Values above 2^63 must compare unsigned, in both halves. */
	struct cvmm_seccomp_cond c = CVMM_SECCOMP_COND(2, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_GT,
						       0x8000000000000000ull);
	const size_t n = ARRAY_SIZE(probe_vals);
	char got[32], want[32];

	probe(&c, probe_vals, n, got);
	for (size_t i = 0; i < n; i++)
		want[i] = probe_vals[i] > 0x8000000000000000ull ? '1' : '0';
	want[n] = '\0';
	ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(dword_operators)
{
	/* EQ looks at the low half only; the others see the zero-extended value. */
	static const enum cvmm_seccomp_op ops[] = {
		CVMM_SECCOMP_OP_EQ, CVMM_SECCOMP_OP_NE, CVMM_SECCOMP_OP_LT,
		CVMM_SECCOMP_OP_LE, CVMM_SECCOMP_OP_GT, CVMM_SECCOMP_OP_GE,
	};
	const size_t n = ARRAY_SIZE(probe_vals);

	for (size_t k = 0; k < ARRAY_SIZE(ops); k++) {
		struct cvmm_seccomp_cond c = CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, ops[k], 100);
		char got[32], want[32];

		probe(&c, probe_vals, n, got);
		for (size_t i = 0; i < n; i++) {
			uint64_t a = probe_vals[i];

			if (ops[k] == CVMM_SECCOMP_OP_EQ)
				a &= UINT32_MAX;
			want[i] = qword_holds(ops[k], a, 100, 0) ? '1' : '0';
		}
		want[n] = '\0';
		ck_assert_msg(strcmp(got, want) == 0, "op %d: got %s want %s", ops[k], got, want);
	}
}
END_TEST

START_TEST(masked_eq_matches_exactly)
{
	static const struct { enum cvmm_seccomp_width w; uint64_t mask, val; } cases[] = {
		{ CVMM_SECCOMP_QWORD, 0xf0, 0x60 },
		{ CVMM_SECCOMP_QWORD, 0xff00000000000000ull, 0x8000000000000000ull },
		{ CVMM_SECCOMP_QWORD, 0x1, 0 },
		{ CVMM_SECCOMP_DWORD, 0xffff, 0x64 },
		{ CVMM_SECCOMP_DWORD, 0x80000000, 0x80000000 },
	};
	const size_t n = ARRAY_SIZE(probe_vals);

	for (size_t k = 0; k < ARRAY_SIZE(cases); k++) {
		struct cvmm_seccomp_cond c = CVMM_SECCOMP_COND_MASKED(3, cases[k].w, cases[k].mask,
								      cases[k].val);
		char got[32], want[32];

		probe(&c, probe_vals, n, got);
		for (size_t i = 0; i < n; i++)
			want[i] = (probe_vals[i] & cases[k].mask) == cases[k].val ? '1' : '0';
		want[n] = '\0';
		ck_assert_msg(strcmp(got, want) == 0, "case %zu: got %s want %s", k, got, want);
	}
}
END_TEST

START_TEST(conditions_are_anded_rules_ored)
{
	/* getppid matches when (a0 == 1 && a1 == 2) || a2 == 3. */
	const struct cvmm_seccomp_rule rules[] = {
		CVMM_SECCOMP_RULE_COND("getppid",
				       CVMM_SECCOMP_COND(0, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_EQ, 1),
				       CVMM_SECCOMP_COND(1, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_EQ, 2)),
		CVMM_SECCOMP_RULE_COND("getppid",
				       CVMM_SECCOMP_COND(2, CVMM_SECCOMP_QWORD, CVMM_SECCOMP_OP_EQ, 3)),
	};
	static const uint64_t args[][3] = {
		{ 1, 2, 0 }, { 1, 0, 0 }, { 0, 2, 0 }, { 0, 0, 3 }, { 1, 2, 3 }, { 0, 0, 0 },
	};
	struct cvmm_seccomp_filter *f = make("t", CVMM_SECCOMP_ALLOW, CVMM_SECCOMP_ERRNO(E2BIG),
					     rules, ARRAY_SIZE(rules));
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int bad = 0;

		if (cvmm_seccomp_filter_install(f))
			child_exit(10);
		for (size_t i = 0; i < ARRAY_SIZE(args); i++) {
			int want = (args[i][0] == 1 && args[i][1] == 2) || args[i][2] == 3;
			long rc = syscall(SYS_getppid, args[i][0], args[i][1], args[i][2]);

			if ((rc == -1) != want)
				bad |= 1 << i;
		}
		child_exit(bad);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Threads                                                                 */
/* ---------------------------------------------------------------------- */

struct sibling {
	int go[2];
	long rc;
	int err;
};

static void *sibling_main(void *arg)
{
	struct sibling *s = arg;
	char c;

	if (read(s->go[0], &c, 1) != 1)
		return NULL;
	errno = 0;
	s->rc = syscall(SYS_getppid);
	s->err = errno;
	return NULL;
}

static void body_threads(void *arg)
{
	int tsync = arg != NULL;
	static const struct cvmm_seccomp_rule rules[] = { CVMM_SECCOMP_RULE("getppid") };
	struct cvmm_seccomp_filter_opts o = {
		.sz = sizeof(o), .thread_name = "t", .default_action = CVMM_SECCOMP_ALLOW,
		.filter_action = CVMM_SECCOMP_ERRNO(EPERM),
	};
	struct cvmm_seccomp_filter *f;
	struct sibling s = { .rc = 0 };
	pthread_t t;
	long mine;
	int rc;

	if (cvmm_seccomp_filter_create(&o, &f) || cvmm_seccomp_filter_add_rules(f, rules, 1, NULL) ||
	    cvmm_seccomp_filter_compile(f) || pipe(s.go) || pthread_create(&t, NULL, sibling_main, &s))
		child_exit(12);
	rc = tsync ? cvmm_seccomp_filter_install_tsync(f) : cvmm_seccomp_filter_install(f);
	if (rc)
		child_exit(10);
	mine = syscall(SYS_getppid);
	if (write(s.go[1], "x", 1) != 1 || pthread_join(t, NULL))
		child_exit(13);
	child_sayf("self=%s sibling=%s\n", mine == -1 ? "denied" : "allowed",
		   s.rc == -1 && s.err == EPERM ? "denied" : s.rc > 0 ? "allowed" : "?");
	cvmm_seccomp_filter_destroy(f);
}

/* The sibling got its filter through TSYNC: the handler names that filter. */
static void *sibling_trap_main(void *arg)
{
	struct sibling *s = arg;
	char c;

	if (read(s->go[0], &c, 1) != 1)
		return NULL;
	syscall(SYS_getppid);
	return NULL;
}

static void body_tsync_trap(void *arg)
{
	struct cvmm_seccomp_filter *f = arg;
	struct sibling s = { .rc = 0 };
	pthread_t t;

	if (cvmm_seccomp_install_sigsys_handler() || pipe(s.go) ||
	    pthread_create(&t, NULL, sibling_trap_main, &s)) {
		child_exit(12);
		return;
	}
	if (cvmm_seccomp_filter_install_tsync(f) || write(s.go[1], "x", 1) != 1)
		child_exit(13);
	pthread_join(t, NULL);
	child_say("survived\n");
}

START_TEST(trap_names_tsync_thread)
{
	const struct cvmm_seccomp_rule rules[] = { CVMM_SECCOMP_RULE("getppid") };
	struct cvmm_seccomp_filter *f = make("api", CVMM_SECCOMP_ALLOW, CVMM_SECCOMP_TRAP,
					     rules, ARRAY_SIZE(rules));
	struct child_result r;
	char want[160];

	child_run(body_tsync_trap, f, &r);
	ck_assert(WIFEXITED(r.status));
	ck_assert_int_eq(WEXITSTATUS(r.status), CVMM_SECCOMP_TRAP_EXIT_CODE);
	snprintf(want, sizeof(want), "cvmm: seccomp: thread api made forbidden syscall getppid (%d)\n",
		 (int)SYS_getppid);
	ck_assert_str_eq(r.out, want);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(install_is_per_thread)
{
	struct child_result r;

	child_run(body_threads, NULL, &r);
	expect_exit0(&r);
	ck_assert_str_eq(r.out, "self=denied sibling=allowed\n");
}
END_TEST

START_TEST(tsync_reaches_other_threads)
{
	struct child_result r;

	child_run(body_threads, (void *)1, &r);
	expect_exit0(&r);
	ck_assert_str_eq(r.out, "self=denied sibling=denied\n");
}
END_TEST

/* ---------------------------------------------------------------------- */
/* Dumps                                                                   */
/* ---------------------------------------------------------------------- */

static char *read_all(int fd, size_t *len)
{
	struct stat st;
	char *buf;

	ck_assert_int_eq(fstat(fd, &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(pread(fd, buf, (size_t)st.st_size, 0), st.st_size);
	*len = (size_t)st.st_size;
	return buf;
}

START_TEST(dump_text_names_syscalls)
{
	const struct cvmm_seccomp_rule rules[] = {
		BASE_RULES,
		CVMM_SECCOMP_RULE_COND("socket", CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD,
								   CVMM_SECCOMP_OP_EQ, AF_UNIX)),
		CVMM_SECCOMP_RULE("getppid"),
	};
	struct cvmm_seccomp_filter *f = make("vmm", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW, rules,
					     ARRAY_SIZE(rules));
	int fd = memfd_create("text", MFD_CLOEXEC);
	size_t len;
	char *txt;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_seccomp_filter_dump_text(f, fd), 0);
	txt = read_all(fd, &len);
	for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
		ck_assert_msg(strstr(txt, rules[i].syscall), "%s missing from:\n%s",
			      rules[i].syscall, txt);
	ck_assert_ptr_null(strstr(txt, "getpid\""));
	free(txt);
	close(fd);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

/* A sealed filter keeps its program only. */
START_TEST(seal_keeps_program)
{
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	size_t ninsn = cvmm_seccomp_filter_insn_count(f);
	struct cvmm_seccomp_rule r;
	int fd = memfd_create("text", MFD_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_seccomp_filter_seal(f), 0);
	ck_assert_uint_eq(cvmm_seccomp_filter_insn_count(f), ninsn);
	ck_assert_uint_eq(cvmm_seccomp_filter_rule_count(f), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_get_rule(f, 0, &r), -ERANGE);
	ck_assert_int_eq(cvmm_seccomp_filter_dump_bpf(f, fd), 0);
	ck_assert_int_eq(cvmm_seccomp_filter_dump_text(f, fd), -EINVAL);
	ck_assert_int_eq(cvmm_seccomp_filter_seal(NULL), -EINVAL);
	close(fd);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

static void body_raw_bpf(void *arg)
{
	const struct sock_fprog *fp = arg;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, fp))
		child_exit(10);
	child_say("installed\n");
	syscall(SYS_getppid);
	child_say("survived\n");
}

START_TEST(dump_bpf_is_loadable)
{
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_KILL, CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	int fd = memfd_create("bpf", MFD_CLOEXEC);
	struct child_result r;
	struct sock_fprog fp;
	size_t len;
	char *bpf;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_seccomp_filter_dump_bpf(f, fd), 0);
	bpf = read_all(fd, &len);
	ck_assert_uint_eq(len, cvmm_seccomp_filter_insn_count(f) * sizeof(struct sock_filter));
	fp.len = (unsigned short)(len / sizeof(struct sock_filter));
	fp.filter = (struct sock_filter *)bpf;
	child_run(body_raw_bpf, &fp, &r);
	expect_sigsys(&r);
	ck_assert_str_eq(r.out, "installed\n");
	free(bpf);
	close(fd);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

START_TEST(bad_arch_is_killed)
{
	/* The program starts with an architecture check that kills. */
	struct cvmm_seccomp_filter *f = make("vcpu", CVMM_SECCOMP_ERRNO(EPERM), CVMM_SECCOMP_ALLOW,
					     base_rules, ARRAY_SIZE(base_rules));
	int fd = memfd_create("text", MFD_CLOEXEC);
	size_t len;
	char *txt;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_seccomp_filter_dump_text(f, fd), 0);
	txt = read_all(fd, &len);
	ck_assert_msg(strstr(txt, "KILL_PROCESS"), "no kill for bad arch in:\n%s", txt);
	free(txt);
	close(fd);
	cvmm_seccomp_filter_destroy(f);
}
END_TEST

static Suite *seccomp_suite(void)
{
	Suite *s = suite_create("seccomp");
	TCase *tc = tcase_create("filter");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, create_rejects_bad_options);
	tcase_add_test(tc, add_rule_validates);
	tcase_add_test(tc, syscall_names_resolve);
	tcase_add_test(tc, kill_process_action);
	tcase_add_test(tc, kill_thread_action);
	tcase_add_test(tc, trap_action_logs_and_exits);
	tcase_add_test(tc, trap_handler_other_sigsys);
	tcase_add_test(tc, errno_default_action);
	tcase_add_test(tc, errno_filter_action_denylist);
	tcase_add_test(tc, log_action_lets_syscall_run);
	tcase_add_test(tc, ioctl_only_one_request);
	tcase_add_test(tc, ioctl_qword_checks_upper_half);
	tcase_add_test(tc, socket_only_af_unix);
	tcase_add_test(tc, qword_operators_match_exactly);
	tcase_add_test(tc, qword_large_values);
	tcase_add_test(tc, dword_operators);
	tcase_add_test(tc, masked_eq_matches_exactly);
	tcase_add_test(tc, conditions_are_anded_rules_ored);
	tcase_add_test(tc, install_is_per_thread);
	tcase_add_test(tc, tsync_reaches_other_threads);
	tcase_add_test(tc, trap_names_tsync_thread);
	tcase_add_test(tc, dump_text_names_syscalls);
	tcase_add_test(tc, seal_keeps_program);
	tcase_add_test(tc, dump_bpf_is_loadable);
	tcase_add_test(tc, bad_arch_is_killed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { seccomp_suite(), NULL };

	return cvmm_test_run(suites);
}
