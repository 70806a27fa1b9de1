/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The built-in seccomp allow-lists of the cvmm programs, one per program
 * and thread type, each as small as that thread's work after its setup.
 */
#ifndef CVMM_EXAMPLES_SECCOMP_FILTERS_H
#define CVMM_EXAMPLES_SECCOMP_FILTERS_H

#include <stddef.h>

#include <cvmm/seccomp.h>

/** One thread type's built-in table. */
struct cvmm_sandbox_table {
	const char *program;     /* "microvm", "vhost-user-blk", "vhost-user-net", "hello-kvm" */
	const char *thread;      /* "vmm", "vcpu", "virtio", "main", "worker", ... */
	const struct cvmm_seccomp_rule *rules;
	size_t n;
};

/**
 * Find the table of @program's thread type @thread.
 * @return the table, or NULL when there is none.
 * Thread safety: reentrant (the tables are constant).
 */
const struct cvmm_sandbox_table *cvmm_sandbox_table_find(const char *program, const char *thread);

/**
 * Add @t's rules to @f, then the rules whose values are only known at run
 * time (the kick signal for tgkill) and, in sanitizer builds, what the
 * ASan/UBSan runtime needs.
 * @return 0 or a negative errno from cvmm_seccomp_filter_add_rule().
 * Thread safety: not thread-safe on the same filter.
 */
int cvmm_sandbox_table_add(struct cvmm_seccomp_filter *f, const struct cvmm_sandbox_table *t);

/**
 * @program's tables, for tools and tests; @n gets the count.
 * @return the first table, or NULL (and 0) for an unknown program.
 * Thread safety: reentrant.
 */
const struct cvmm_sandbox_table *cvmm_sandbox_tables(const char *program, size_t *n);

/** The name of the @i-th program with tables, NULL past the last. Reentrant. */
const char *cvmm_sandbox_program_name(size_t i);

#endif
