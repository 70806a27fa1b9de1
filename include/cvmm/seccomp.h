/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/seccomp.h
 * @brief Per-thread seccomp filters: C tables or Firecracker-format JSON,
 *        compiled once with libseccomp, installed without allocating.
 *
 * A filter is an allow-list (or deny-list) of syscalls for one thread type
 * ("vcpu", "vmm", "api"...): rules name a syscall and optional argument
 * conditions; a rule that matches takes the filter action (usually allow),
 * anything else takes the default action (kill, trap, log, errno).
 *
 * Life cycle: create -> add rules -> compile (libseccomp builds the BPF
 * program, which the filter keeps) -> install on each thread of that type
 * (one seccomp(2) call, no allocation, so it is safe right before the thread
 * starts its real work) -> destroy when no thread will install it again.
 *
 * Everything returns 0 (or a count) or a negative errno; nothing prints or
 * exits, except the SIGSYS handler of cvmm_seccomp_install_sigsys_handler(),
 * which by design runs inside a process that is about to die.
 */
#ifndef CVMM_SECCOMP_H
#define CVMM_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest thread-type name, including the terminating NUL. */
#define CVMM_SECCOMP_NAME_MAX 64
/** Syscall arguments are numbered 0..5. */
#define CVMM_SECCOMP_ARG_MAX 6
/** Exit status of a process killed by the SIGSYS trap handler (128 + SIGSYS). */
#define CVMM_SECCOMP_TRAP_EXIT_CODE 159

/* ------------------------------------------------------------------------ */
/* Actions, conditions, rules                                                */
/* ------------------------------------------------------------------------ */

/* Value 0 is "unset", so a zero-filled options struct never means "allow". */
enum cvmm_seccomp_action_kind {
	CVMM_SECCOMP_ACT_UNSET = 0,
	CVMM_SECCOMP_ACT_ALLOW,
	CVMM_SECCOMP_ACT_KILL_PROCESS,
	CVMM_SECCOMP_ACT_KILL_THREAD,
	/** SIGSYS to the thread; see cvmm_seccomp_install_sigsys_handler(). */
	CVMM_SECCOMP_ACT_TRAP,
	/** The syscall runs and the kernel logs it (audit). */
	CVMM_SECCOMP_ACT_LOG,
	/** The syscall fails with errno = data (0..4094, a libseccomp limit). */
	CVMM_SECCOMP_ACT_ERRNO,
	/** A ptrace tracer is notified with data (0..65535). */
	CVMM_SECCOMP_ACT_TRACE,
};

struct cvmm_seccomp_action {
	enum cvmm_seccomp_action_kind kind;
	uint32_t data; /* errno or trace value; 0 for the others */
};

#define CVMM_SECCOMP_ALLOW ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_ALLOW, 0 })
#define CVMM_SECCOMP_KILL ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_KILL_PROCESS, 0 })
#define CVMM_SECCOMP_KILL_THREAD ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_KILL_THREAD, 0 })
#define CVMM_SECCOMP_TRAP ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_TRAP, 0 })
#define CVMM_SECCOMP_LOG ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_LOG, 0 })
#define CVMM_SECCOMP_ERRNO(e) ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_ERRNO, (e) })
#define CVMM_SECCOMP_TRACE(v) ((struct cvmm_seccomp_action){ CVMM_SECCOMP_ACT_TRACE, (v) })

/** Comparison operators (Firecracker's names in the JSON format). */
enum cvmm_seccomp_op {
	CVMM_SECCOMP_OP_INVALID = 0,
	CVMM_SECCOMP_OP_EQ,
	CVMM_SECCOMP_OP_NE,
	CVMM_SECCOMP_OP_LT,
	CVMM_SECCOMP_OP_LE,
	CVMM_SECCOMP_OP_GT,
	CVMM_SECCOMP_OP_GE,
	/** (arg & mask) == val; val must have no bits outside mask. */
	CVMM_SECCOMP_OP_MASKED_EQ,
};

/**
 * Argument width. QWORD compares the whole 64-bit register. DWORD is for
 * 32-bit arguments (int, unsigned int): val and mask must fit in 32 bits;
 * EQ and MASKED_EQ look at the low 32 bits only (the kernel ignores the upper
 * half of an int argument, so a caller cannot dodge the check by setting it);
 * NE, LT, LE, GT and GE compare the 64-bit register with the zero-extended
 * value (libseccomp compares each argument once per rule, so the upper half
 * cannot be masked off for them): in an allow rule, prefer EQ/MASKED_EQ for
 * 32-bit arguments, because upper bits make NE/GT/GE match.
 */
enum cvmm_seccomp_width {
	CVMM_SECCOMP_DWORD = 0,
	CVMM_SECCOMP_QWORD,
};

/** One condition on one argument; all conditions of a rule must hold. */
struct cvmm_seccomp_cond {
	unsigned int index;           /* 0..5; each index at most once per rule */
	enum cvmm_seccomp_width width;
	enum cvmm_seccomp_op op;
	uint64_t val;
	uint64_t mask;                /* MASKED_EQ only; ignored otherwise */
	const char *comment;          /* optional, kept for to_json */
};

/**
 * One rule: the syscall by name (resolved for the native architecture) or,
 * when @syscall is NULL, by number @nr. Rules for the same syscall are ORed.
 */
struct cvmm_seccomp_rule {
	const char *syscall;
	int nr;
	const struct cvmm_seccomp_cond *conds;
	size_t ncond;                 /* 0: any arguments; at most 6 */
	const char *comment;          /* optional */
};

/* Helpers for tables (CVMM_SECCOMP_RULE_COND uses a compound literal, so a
 * static table must be at file scope; inside a function drop the static):
 *   static const struct cvmm_seccomp_rule vcpu_rules[] = {
 *       CVMM_SECCOMP_RULE("exit_group"),
 *       CVMM_SECCOMP_RULE_COND("ioctl",
 *           CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, KVM_RUN)),
 *   };
 */
#define CVMM_SECCOMP_COND(idx, w, o, v) \
	{ .index = (idx), .width = (w), .op = (o), .val = (v) }
#define CVMM_SECCOMP_COND_MASKED(idx, w, m, v) \
	{ .index = (idx), .width = (w), .op = CVMM_SECCOMP_OP_MASKED_EQ, .val = (v), .mask = (m) }
#define CVMM_SECCOMP_RULE(name) { .syscall = (name) }
#define CVMM_SECCOMP_RULE_COND(name, ...)                                          \
	{ .syscall = (name),                                                       \
	  .conds = (const struct cvmm_seccomp_cond[]){ __VA_ARGS__ },              \
	  .ncond = sizeof((const struct cvmm_seccomp_cond[]){ __VA_ARGS__ }) /     \
		   sizeof(struct cvmm_seccomp_cond) }

/* ------------------------------------------------------------------------ */
/* Filters                                                                   */
/* ------------------------------------------------------------------------ */

struct cvmm_seccomp_filter;

struct cvmm_seccomp_filter_opts {
	size_t sz;                    /* sizeof(struct cvmm_seccomp_filter_opts) */
	const char *thread_name;      /* 1..63 printable ASCII, no '"' or '\\' */
	struct cvmm_seccomp_action default_action; /* required */
	struct cvmm_seccomp_action filter_action;  /* UNSET means ALLOW */
};

/**
 * Create an empty filter for one thread type. Syscalls of other
 * architectures (i386 int 0x80, x32) always kill the process.
 * @return 0; -EINVAL (bad sz, name or action; default equal to filter
 *         action); -EOPNOTSUPP (the running kernel lacks the default action
 *         or KILL_PROCESS, which foreign-architecture calls get); -ENOMEM.
 * Thread safety: the new filter belongs to the caller.
 */
int cvmm_seccomp_filter_create(const struct cvmm_seccomp_filter_opts *o,
			       struct cvmm_seccomp_filter **out);

/** Free the filter; NULL does nothing. Installed copies stay in the kernel. */
void cvmm_seccomp_filter_destroy(struct cvmm_seccomp_filter *f);

/**
 * Add one rule (its strings are copied).
 * @return 0; -ENOENT (unknown syscall name, or one that does not exist on
 *         this architecture); -EINVAL (nr < 0, index > 5, an index used twice,
 *         bad op/width, DWORD value or mask over 32 bits, MASKED_EQ value with
 *         bits outside the mask, more than 6 conditions); -EBUSY (already
 *         compiled); -ENOMEM; other negative errno from libseccomp.
 * Ordering: before cvmm_seccomp_filter_compile().
 * Thread safety: not thread-safe on the same filter.
 */
int cvmm_seccomp_filter_add_rule(struct cvmm_seccomp_filter *f,
				 const struct cvmm_seccomp_rule *rule);

/**
 * Add @n rules from a table; stops at the first error and stores its index
 * in @failed (optional). @return as cvmm_seccomp_filter_add_rule().
 */
int cvmm_seccomp_filter_add_rules(struct cvmm_seccomp_filter *f,
				  const struct cvmm_seccomp_rule *rules, size_t n,
				  size_t *failed);

/**
 * Build the BPF program and keep it inside the filter (libseccomp allocates
 * here, so do it at start-up). Idempotent.
 * @return 0; -E2BIG (more than 4096 instructions); -ENOMEM; other negative
 *         errno from libseccomp or memfd_create.
 * Thread safety: not thread-safe on the same filter.
 */
int cvmm_seccomp_filter_compile(struct cvmm_seccomp_filter *f);

/**
 * Free all but the compiled program of a filter: libseccomp's rule
 * database and the rule list (tens of KiB each, most of a sandboxed VMM's
 * heap otherwise). install, dump_bpf and insn_count keep working; the rule
 * list is empty afterwards and dump_text returns -EINVAL.
 * @return 0; -EINVAL (not compiled).
 * Thread safety: not thread-safe on the same filter.
 */
int cvmm_seccomp_filter_seal(struct cvmm_seccomp_filter *f);

/**
 * Install the compiled program on the calling thread: sets no_new_privs,
 * then one seccomp(2) call (prctl(PR_SET_SECCOMP) on old kernels). Nothing
 * is allocated, so a thread may call it as the last step before running
 * untrusted work. Filters stack: a later filter can only restrict further.
 * The program must allow what the thread still needs, including, for a trap
 * default action, write and exit_group (used by the SIGSYS handler).
 * @return 0; -EINVAL (not compiled); negative errno from the kernel (then
 *         no filter was added, though no_new_privs may already be set).
 * Thread safety: any number of threads may install the same compiled filter
 * at once (it is only read).
 */
int cvmm_seccomp_filter_install(const struct cvmm_seccomp_filter *f);

/**
 * Like cvmm_seccomp_filter_install() but SECCOMP_FILTER_FLAG_TSYNC: every
 * thread of the process gets the filter, atomically.
 * @return 0; -EINVAL (not compiled); -EBUSY (some thread has a filter tree
 *         that cannot be synchronised: nothing was installed); negative errno.
 * Thread safety: as cvmm_seccomp_filter_install().
 */
int cvmm_seccomp_filter_install_tsync(const struct cvmm_seccomp_filter *f);

/**
 * Write the compiled program to @fd as raw struct sock_filter records (the
 * same bytes as seccomp_export_bpf(3), loadable with seccomp(2)).
 * @return 0; -EINVAL (not compiled); negative errno from write.
 * Thread safety: read-only on the filter.
 */
int cvmm_seccomp_filter_dump_bpf(const struct cvmm_seccomp_filter *f, int fd);

/**
 * Write the filter as libseccomp's readable pseudo-filter-code (PFC) text,
 * which names each syscall, for review.
 * @return 0; -EINVAL (sealed); negative errno from libseccomp or write.
 * Thread safety: not thread-safe on the same filter.
 */
int cvmm_seccomp_filter_dump_text(struct cvmm_seccomp_filter *f, int fd);

/** Number of rules added. Thread safety: read-only. */
size_t cvmm_seccomp_filter_rule_count(const struct cvmm_seccomp_filter *f);
/** Number of BPF instructions once compiled, else 0. Thread safety: read-only. */
size_t cvmm_seccomp_filter_insn_count(const struct cvmm_seccomp_filter *f);
/** The thread-type name given at creation. Thread safety: read-only. */
const char *cvmm_seccomp_filter_thread_name(const struct cvmm_seccomp_filter *f);
/** Copy rule @i out (its pointers stay owned by the filter). @return 0; -ERANGE. */
int cvmm_seccomp_filter_get_rule(const struct cvmm_seccomp_filter *f, size_t i,
				 struct cvmm_seccomp_rule *out);
/** The default and filter actions. Thread safety: read-only. */
struct cvmm_seccomp_action cvmm_seccomp_filter_default_action(const struct cvmm_seccomp_filter *f);
struct cvmm_seccomp_action cvmm_seccomp_filter_filter_action(const struct cvmm_seccomp_filter *f);

/* ------------------------------------------------------------------------ */
/* The SIGSYS trap handler                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Install a process-wide SIGSYS handler for the TRAP action. When a thread
 * makes a forbidden syscall, it writes
 *   "cvmm: seccomp: thread <name> made forbidden syscall <syscall> (<nr>)\n"
 * to fd 2 with one write(2) and ends the process (exit_group, as _exit does)
 * with status CVMM_SECCOMP_TRAP_EXIT_CODE (159 = 128 + SIGSYS, so shells
 * report it like a death by SIGSYS). <name> is the thread-type name of the filter
 * installed by that thread (or by the last TSYNC install), "?" otherwise.
 * The handler is async-signal-safe: the syscall-name table is built here,
 * before any filter is in place, and the handler only reads it.
 * @return 0; negative errno from sigaction.
 * Ordering: call before installing filters whose action is TRAP.
 * Thread safety: call once at start-up, before creating threads.
 */
int cvmm_seccomp_install_sigsys_handler(void);

/* ------------------------------------------------------------------------ */
/* Syscall names                                                             */
/* ------------------------------------------------------------------------ */

/**
 * Resolve a syscall name for the native architecture.
 * @return the number (>= 0); -ENOENT when unknown or absent on this arch.
 * Thread safety: reentrant.
 */
int cvmm_seccomp_syscall_nr(const char *name);

/* ------------------------------------------------------------------------ */
/* JSON (Firecracker's seccompiler format)                                   */
/* ------------------------------------------------------------------------ */

/** Where a JSON error is; filled by the loaders on failure. */
struct cvmm_seccomp_error {
	unsigned int line;   /* 1-based; 0 when not tied to a line */
	char field[32];      /* the JSON field at fault, "" when none */
	/* "file.json:12: rule 3 of thread "vcpu": field "op": unknown operator "equal"" */
	char msg[256];
};

struct cvmm_seccomp_json_opts {
	size_t sz;            /* sizeof(struct cvmm_seccomp_json_opts) */
	const char *path;     /* read this file (at most 16 MiB), or, when NULL, */
	const char *buf;      /* parse @len bytes from @buf */
	size_t len;
	const char *name;     /* file name for messages; default @path or "<buffer>" */
	struct cvmm_seccomp_error *err; /* optional */
};

/** A set of filters, one per thread type, in file order. */
struct cvmm_seccomp_set;

/**
 * Load every thread's filter from a JSON document. The filters are not
 * compiled yet: call cvmm_seccomp_filter_compile() on the ones you use, or
 * cvmm_seccomp_set_compile().
 * @return 0; -EINVAL (syntax or schema error, described in @o->err);
 *         -ENOENT (unknown syscall name, described in @o->err); -EFBIG
 *         (file over 16 MiB, or more than 2^18 JSON values); -ENOMEM;
 *         negative errno from open/read.
 * Thread safety: reentrant.
 */
int cvmm_seccomp_load_json_all(const struct cvmm_seccomp_json_opts *o,
			       struct cvmm_seccomp_set **out);

/**
 * Load only the filter for @thread_name (the whole document is validated).
 * @return as cvmm_seccomp_load_json_all(); -ENOENT also when the document
 *         has no such thread (@o->err says which).
 */
int cvmm_seccomp_load_json(const struct cvmm_seccomp_json_opts *o,
			   const char *thread_name,
			   struct cvmm_seccomp_filter **out);

/** Free the set and its filters; NULL does nothing. */
void cvmm_seccomp_set_destroy(struct cvmm_seccomp_set *s);
/** Number of filters. */
size_t cvmm_seccomp_set_count(const struct cvmm_seccomp_set *s);
/** Filter @i (owned by the set), NULL when out of range. */
struct cvmm_seccomp_filter *cvmm_seccomp_set_get(const struct cvmm_seccomp_set *s, size_t i);
/** The filter for @thread_name (owned by the set), NULL when absent. */
struct cvmm_seccomp_filter *cvmm_seccomp_set_find(const struct cvmm_seccomp_set *s,
						  const char *thread_name);
/**
 * Take filter @thread_name out of the set; the caller then owns it.
 * @return 0; -ENOENT.
 */
int cvmm_seccomp_set_take(struct cvmm_seccomp_set *s, const char *thread_name,
			  struct cvmm_seccomp_filter **out);
/** Compile every filter. @return 0 or the first error (see compile). */
int cvmm_seccomp_set_compile(struct cvmm_seccomp_set *s);

/**
 * Write @n filters as one JSON document in the format the loaders read
 * (canonical spelling: "index"/"type", "kill_process"), into a malloc'd
 * string @out that the caller frees.
 * @return 0; -EINVAL (two filters with the same thread name); -ENOMEM.
 * Thread safety: read-only on the filters.
 */
int cvmm_seccomp_to_json(const struct cvmm_seccomp_filter *const *filters, size_t n,
			 char **out);
/** cvmm_seccomp_to_json() of every filter of a set. */
int cvmm_seccomp_set_to_json(const struct cvmm_seccomp_set *s, char **out);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_SECCOMP_H */
