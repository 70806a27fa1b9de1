/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Filter objects: rules are checked and handed to libseccomp as they are
 * added (so an error points at the rule that caused it); compile() exports
 * the BPF program once; install() hands that program straight to the kernel
 * so nothing allocates once the filter is active (seccomp_load() would
 * regenerate the program, and allocate, at that very moment).
 */
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

/* Highest syscall number accepted in C tables; x86_64 is below 512. */
#define NR_LIMIT 4096

struct rule {
	int nr;
	char *name;      /* NULL when libseccomp does not know the number */
	char *comment;
	size_t ncond;
	struct cvmm_seccomp_cond conds[CVMM_SECCOMP_ARG_MAX];
};

struct cvmm_seccomp_filter {
	char name[CVMM_SECCOMP_NAME_MAX];
	struct cvmm_seccomp_action def, act;
	scmp_filter_ctx ctx;
	struct rule *rules;
	size_t nrules, cap;
	struct sock_filter *prog; /* set by compile; read-only afterwards */
	size_t ninsn;
};

static const char *const op_names[] = {
	[CVMM_SECCOMP_OP_EQ] = "eq",
	[CVMM_SECCOMP_OP_NE] = "ne",
	[CVMM_SECCOMP_OP_LT] = "lt",
	[CVMM_SECCOMP_OP_LE] = "le",
	[CVMM_SECCOMP_OP_GT] = "gt",
	[CVMM_SECCOMP_OP_GE] = "ge",
	[CVMM_SECCOMP_OP_MASKED_EQ] = "masked_eq",
};

static const char *const action_names[] = {
	[CVMM_SECCOMP_ACT_ALLOW] = "allow",
	[CVMM_SECCOMP_ACT_KILL_PROCESS] = "kill_process",
	[CVMM_SECCOMP_ACT_KILL_THREAD] = "kill_thread",
	[CVMM_SECCOMP_ACT_TRAP] = "trap",
	[CVMM_SECCOMP_ACT_LOG] = "log",
	[CVMM_SECCOMP_ACT_ERRNO] = "errno",
	[CVMM_SECCOMP_ACT_TRACE] = "trace",
};

const char *cvmm_seccomp_i_op_name(enum cvmm_seccomp_op op)
{
	if ((unsigned int)op >= sizeof(op_names) / sizeof(op_names[0]))
		return NULL;
	return op_names[op];
}

enum cvmm_seccomp_op cvmm_seccomp_i_op_parse(const char *s)
{
	for (size_t i = 1; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (strcmp(s, op_names[i]) == 0)
			return (enum cvmm_seccomp_op)i;
	return CVMM_SECCOMP_OP_INVALID;
}

const char *cvmm_seccomp_i_action_name(enum cvmm_seccomp_action_kind k)
{
	if ((unsigned int)k >= sizeof(action_names) / sizeof(action_names[0]))
		return NULL;
	return action_names[k];
}

enum cvmm_seccomp_action_kind cvmm_seccomp_i_action_parse(const char *s)
{
	/* Firecracker's older files say "kill" for killing the process. */
	if (strcmp(s, "kill") == 0)
		return CVMM_SECCOMP_ACT_KILL_PROCESS;
	for (size_t i = 1; i < sizeof(action_names) / sizeof(action_names[0]); i++)
		if (strcmp(s, action_names[i]) == 0)
			return (enum cvmm_seccomp_action_kind)i;
	return CVMM_SECCOMP_ACT_UNSET;
}

int cvmm_seccomp_i_action_check(const struct cvmm_seccomp_action *a, const char **why)
{
	switch (a->kind) {
	case CVMM_SECCOMP_ACT_ALLOW:
	case CVMM_SECCOMP_ACT_KILL_PROCESS:
	case CVMM_SECCOMP_ACT_KILL_THREAD:
	case CVMM_SECCOMP_ACT_TRAP:
	case CVMM_SECCOMP_ACT_LOG:
		if (a->data) {
			*why = "this action takes no value";
			return -EINVAL;
		}
		return 0;
	case CVMM_SECCOMP_ACT_ERRNO:
		/* libseccomp refuses 4095 (MAX_ERRNO); the kernel would clamp above it. */
		if (a->data > 4094) {
			*why = "errno value must be 0..4094";
			return -EINVAL;
		}
		return 0;
	case CVMM_SECCOMP_ACT_TRACE:
		if (a->data > 0xffff) {
			*why = "trace value must be 0..65535";
			return -EINVAL;
		}
		return 0;
	default:
		*why = "unknown action";
		return -EINVAL;
	}
}

int cvmm_seccomp_i_cond_check(const struct cvmm_seccomp_cond *c, const char **why)
{
	if (c->index >= CVMM_SECCOMP_ARG_MAX) {
		*why = "argument index must be 0..5";
		return -EINVAL;
	}
	if (c->width != CVMM_SECCOMP_DWORD && c->width != CVMM_SECCOMP_QWORD) {
		*why = "unknown argument type";
		return -EINVAL;
	}
	if (c->op <= CVMM_SECCOMP_OP_INVALID || c->op > CVMM_SECCOMP_OP_MASKED_EQ) {
		*why = "unknown operator";
		return -EINVAL;
	}
	if (c->width == CVMM_SECCOMP_DWORD && c->val > UINT32_MAX) {
		*why = "value does not fit in a dword";
		return -EINVAL;
	}
	if (c->op == CVMM_SECCOMP_OP_MASKED_EQ) {
		if (c->width == CVMM_SECCOMP_DWORD && c->mask > UINT32_MAX) {
			*why = "mask does not fit in a dword";
			return -EINVAL;
		}
		/* Such a rule could never match: almost surely a typo. */
		if (c->val & ~c->mask) {
			*why = "value has bits outside the mask";
			return -EINVAL;
		}
	}
	return 0;
}

int cvmm_seccomp_i_name_check(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strnlen(name, CVMM_SECCOMP_NAME_MAX);
	if (n == 0 || n >= CVMM_SECCOMP_NAME_MAX)
		return -EINVAL;
	/* The name goes into the SIGSYS message and JSON keys: keep it tame. */
	for (size_t i = 0; i < n; i++)
		if (name[i] < 0x21 || name[i] > 0x7e || name[i] == '"' || name[i] == '\\')
			return -EINVAL;
	return 0;
}

static uint32_t to_scmp_action(const struct cvmm_seccomp_action *a)
{
	switch (a->kind) {
	case CVMM_SECCOMP_ACT_ALLOW: return SCMP_ACT_ALLOW;
	case CVMM_SECCOMP_ACT_KILL_PROCESS: return SCMP_ACT_KILL_PROCESS;
	case CVMM_SECCOMP_ACT_KILL_THREAD: return SCMP_ACT_KILL_THREAD;
	case CVMM_SECCOMP_ACT_TRAP: return SCMP_ACT_TRAP;
	case CVMM_SECCOMP_ACT_LOG: return SCMP_ACT_LOG;
	case CVMM_SECCOMP_ACT_ERRNO: return SCMP_ACT_ERRNO(a->data);
	case CVMM_SECCOMP_ACT_TRACE: return SCMP_ACT_TRACE(a->data);
	default: return SCMP_ACT_KILL_PROCESS;
	}
}

static struct scmp_arg_cmp to_scmp_cond(const struct cvmm_seccomp_cond *c)
{
	struct scmp_arg_cmp s = { .arg = c->index };

	if (c->op == CVMM_SECCOMP_OP_MASKED_EQ) {
		s.op = SCMP_CMP_MASKED_EQ;
		s.datum_a = c->mask;
		s.datum_b = c->val;
	} else if (c->op == CVMM_SECCOMP_OP_EQ && c->width == CVMM_SECCOMP_DWORD) {
		/* The kernel reads only the low half of a 32-bit argument. */
		s.op = SCMP_CMP_MASKED_EQ;
		s.datum_a = UINT32_MAX;
		s.datum_b = c->val;
	} else {
		static const enum scmp_compare map[] = {
			[CVMM_SECCOMP_OP_EQ] = SCMP_CMP_EQ, [CVMM_SECCOMP_OP_NE] = SCMP_CMP_NE,
			[CVMM_SECCOMP_OP_LT] = SCMP_CMP_LT, [CVMM_SECCOMP_OP_LE] = SCMP_CMP_LE,
			[CVMM_SECCOMP_OP_GT] = SCMP_CMP_GT, [CVMM_SECCOMP_OP_GE] = SCMP_CMP_GE,
		};
		s.op = map[c->op];
		s.datum_a = c->val;
	}
	return s;
}

static int same_action(const struct cvmm_seccomp_action *a, const struct cvmm_seccomp_action *b)
{
	return a->kind == b->kind && a->data == b->data;
}

int cvmm_seccomp_syscall_nr(const char *name)
{
	int nr;

	if (!name || !*name || strnlen(name, 64) >= 64)
		return -ENOENT;
	nr = seccomp_syscall_resolve_name(name);
	/* Negative values are libseccomp's pseudo numbers for other arches. */
	return nr < 0 ? -ENOENT : nr;
}

int cvmm_seccomp_filter_create(const struct cvmm_seccomp_filter_opts *o,
			       struct cvmm_seccomp_filter **out)
{
	struct cvmm_seccomp_filter *f;
	struct cvmm_seccomp_action act;
	const char *why;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	if (cvmm_seccomp_i_name_check(o->thread_name))
		return -EINVAL;
	act = o->filter_action.kind == CVMM_SECCOMP_ACT_UNSET ? CVMM_SECCOMP_ALLOW : o->filter_action;
	if (cvmm_seccomp_i_action_check(&o->default_action, &why) ||
	    cvmm_seccomp_i_action_check(&act, &why) || same_action(&o->default_action, &act))
		return -EINVAL;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	memcpy(f->name, o->thread_name, strlen(o->thread_name) + 1);
	f->def = o->default_action;
	f->act = act;
	f->ctx = seccomp_init(to_scmp_action(&f->def));
	if (!f->ctx) {
		/*
		 * libseccomp says only NULL: it also refuses actions the kernel
		 * lacks (KILL_PROCESS before 4.14, or seccomp(2) unknown to an
		 * emulator such as valgrind). Tell that apart from memory.
		 */
		scmp_filter_ctx probe = seccomp_init(SCMP_ACT_ALLOW);

		free(f);
		if (!probe)
			return -ENOMEM;
		seccomp_release(probe);
		return -EOPNOTSUPP;
	}
	/* Another ABI (int 0x80, x32) would dodge every rule: end the process. */
	if (seccomp_attr_set(f->ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0) {
		cvmm_seccomp_filter_destroy(f);
		return -EOPNOTSUPP;
	}
	/* A binary tree keeps long allow-lists O(log n); older libs lack it. */
	(void)seccomp_attr_set(f->ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	*out = f;
	return 0;
}

/* Everything but the compiled program. */
static void drop_rules(struct cvmm_seccomp_filter *f)
{
	for (size_t i = 0; i < f->nrules; i++) {
		free(f->rules[i].name);
		free(f->rules[i].comment);
		for (size_t j = 0; j < f->rules[i].ncond; j++)
			free((char *)f->rules[i].conds[j].comment);
	}
	free(f->rules);
	f->rules = NULL;
	f->nrules = f->cap = 0;
	if (f->ctx)
		seccomp_release(f->ctx);
	f->ctx = NULL;
}

void cvmm_seccomp_filter_destroy(struct cvmm_seccomp_filter *f)
{
	if (!f)
		return;
	drop_rules(f);
	free(f->prog);
	free(f);
}

static char *dup_opt(const char *s, int *failed)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*failed = 1;
	return d;
}

static void rule_free(struct rule *r)
{
	free(r->name);
	free(r->comment);
	for (size_t j = 0; j < r->ncond; j++)
		free((char *)r->conds[j].comment);
}

int cvmm_seccomp_filter_add_rule(struct cvmm_seccomp_filter *f,
				 const struct cvmm_seccomp_rule *rule)
{
	struct scmp_arg_cmp cmp[CVMM_SECCOMP_ARG_MAX];
	unsigned int seen = 0;
	struct rule r = { 0 };
	const char *why;
	int nomem = 0, nr, rc;

	if (!f || !rule)
		return -EINVAL;
	if (f->prog)
		return -EBUSY;
	if (rule->ncond > CVMM_SECCOMP_ARG_MAX || (rule->ncond && !rule->conds))
		return -EINVAL;
	for (size_t i = 0; i < rule->ncond; i++) {
		const struct cvmm_seccomp_cond *c = &rule->conds[i];

		if (cvmm_seccomp_i_cond_check(c, &why))
			return -EINVAL;
		/* libseccomp compares each argument at most once per rule. */
		if (seen & (1u << c->index))
			return -EINVAL;
		seen |= 1u << c->index;
		cmp[i] = to_scmp_cond(c);
	}
	if (rule->syscall) {
		nr = cvmm_seccomp_syscall_nr(rule->syscall);
		if (nr < 0)
			return nr;
		r.name = dup_opt(rule->syscall, &nomem);
	} else {
		if (rule->nr < 0 || rule->nr >= NR_LIMIT)
			return -EINVAL;
		nr = rule->nr;
		/* libseccomp returns a malloc'd name, or NULL if it has none. */
		r.name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
	}
	r.nr = nr;
	r.comment = dup_opt(rule->comment, &nomem);
	r.ncond = rule->ncond;
	for (size_t i = 0; i < rule->ncond; i++) {
		r.conds[i] = rule->conds[i];
		r.conds[i].comment = dup_opt(rule->conds[i].comment, &nomem);
		if (r.conds[i].op != CVMM_SECCOMP_OP_MASKED_EQ)
			r.conds[i].mask = 0;
	}
	if (nomem || (rule->syscall && !r.name)) {
		rule_free(&r);
		return -ENOMEM;
	}
	if (f->nrules == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 16;
		struct rule *nr_ = reallocarray(f->rules, ncap, sizeof(*nr_));

		if (!nr_) {
			rule_free(&r);
			return -ENOMEM;
		}
		f->rules = nr_;
		f->cap = ncap;
	}
	rc = seccomp_rule_add_array(f->ctx, to_scmp_action(&f->act), nr,
				    (unsigned int)rule->ncond, cmp);
	if (rc < 0) {
		rule_free(&r);
		return rc;
	}
	f->rules[f->nrules++] = r;
	return 0;
}

int cvmm_seccomp_filter_add_rules(struct cvmm_seccomp_filter *f,
				  const struct cvmm_seccomp_rule *rules, size_t n,
				  size_t *failed)
{
	if (n && !rules)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int rc = cvmm_seccomp_filter_add_rule(f, &rules[i]);

		if (rc < 0) {
			if (failed)
				*failed = i;
			return rc;
		}
	}
	return 0;
}

int cvmm_seccomp_filter_compile(struct cvmm_seccomp_filter *f)
{
	struct sock_filter *prog;
	struct stat st;
	size_t got = 0;
	int fd, rc;

	if (!f)
		return -EINVAL;
	if (f->prog)
		return 0;
	/* libseccomp 2.5 exports only to an fd; a memfd keeps it in memory. */
	fd = memfd_create("cvmm-seccomp-bpf", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	rc = seccomp_export_bpf(f->ctx, fd);
	if (rc < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter)) {
		rc = -EIO;
		goto out;
	}
	if (st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS) {
		rc = -E2BIG;
		goto out;
	}
	prog = malloc((size_t)st.st_size);
	if (!prog) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = pread(fd, (char *)prog + got, (size_t)st.st_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -errno : -EIO;
			free(prog);
			goto out;
		}
		got += (size_t)n;
	}
	f->prog = prog;
	f->ninsn = (size_t)st.st_size / sizeof(struct sock_filter);
	rc = 0;
out:
	close(fd);
	return rc;
}

int cvmm_seccomp_filter_seal(struct cvmm_seccomp_filter *f)
{
	if (!f || !f->prog)
		return -EINVAL;
	drop_rules(f);
	return 0;
}

static int install(const struct cvmm_seccomp_filter *f, unsigned int flags)
{
	struct sock_fprog fp;
	long rc;

	if (!f || !f->prog)
		return -EINVAL;
	fp.len = (unsigned short)f->ninsn;
	fp.filter = f->prog;
	cvmm_seccomp_i_note_thread(f->name, flags != 0);
	/* Without CAP_SYS_ADMIN the kernel requires it; with it, it is still wise. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	rc = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fp);
	if (rc < 0 && errno == ENOSYS && !flags)
		rc = prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
	if (rc < 0)
		return -errno;
	/* TSYNC reports the thread that could not follow as a positive id. */
	if (rc > 0)
		return -EBUSY;
	return 0;
}

int cvmm_seccomp_filter_install(const struct cvmm_seccomp_filter *f)
{
	return install(f, 0);
}

int cvmm_seccomp_filter_install_tsync(const struct cvmm_seccomp_filter *f)
{
	return install(f, SECCOMP_FILTER_FLAG_TSYNC);
}

int cvmm_seccomp_filter_dump_bpf(const struct cvmm_seccomp_filter *f, int fd)
{
	const char *p;
	size_t left;

	if (!f || !f->prog)
		return -EINVAL;
	p = (const char *)f->prog;
	left = f->ninsn * sizeof(struct sock_filter);
	while (left) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

int cvmm_seccomp_filter_dump_text(struct cvmm_seccomp_filter *f, int fd)
{
	int rc;

	if (!f || !f->ctx)
		return -EINVAL;
	rc = seccomp_export_pfc(f->ctx, fd);
	return rc < 0 ? rc : 0;
}

size_t cvmm_seccomp_filter_rule_count(const struct cvmm_seccomp_filter *f)
{
	return f ? f->nrules : 0;
}

size_t cvmm_seccomp_filter_insn_count(const struct cvmm_seccomp_filter *f)
{
	return f && f->prog ? f->ninsn : 0;
}

const char *cvmm_seccomp_filter_thread_name(const struct cvmm_seccomp_filter *f)
{
	return f ? f->name : NULL;
}

int cvmm_seccomp_filter_get_rule(const struct cvmm_seccomp_filter *f, size_t i,
				 struct cvmm_seccomp_rule *out)
{
	if (!f || !out || i >= f->nrules)
		return -ERANGE;
	out->syscall = f->rules[i].name;
	out->nr = f->rules[i].nr;
	out->conds = f->rules[i].conds;
	out->ncond = f->rules[i].ncond;
	out->comment = f->rules[i].comment;
	return 0;
}

struct cvmm_seccomp_action cvmm_seccomp_filter_default_action(const struct cvmm_seccomp_filter *f)
{
	return f->def;
}

struct cvmm_seccomp_action cvmm_seccomp_filter_filter_action(const struct cvmm_seccomp_filter *f)
{
	return f->act;
}
