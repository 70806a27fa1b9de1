/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-seccomp-export PROGRAM [--count]: print a program's built-in filters
 * as Firecracker-format JSON (a starting point for --seccomp-filter), or
 * one "THREAD RULES SYSCALLS" line per thread type (docs/security.md).
 * PROGRAM: microvm, vhost-user-blk, vhost-user-net or hello-kvm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seccomp-filters.h"

/* Distinct syscalls: rules for one syscall with different arguments count once. */
static size_t distinct_syscalls(const struct cvmm_seccomp_filter *f)
{
	size_t n = cvmm_seccomp_filter_rule_count(f), d = 0;

	for (size_t i = 0; i < n; i++) {
		struct cvmm_seccomp_rule r, p;
		bool seen = false;

		cvmm_seccomp_filter_get_rule(f, i, &r);
		for (size_t j = 0; j < i && !seen; j++) {
			cvmm_seccomp_filter_get_rule(f, j, &p);
			seen = r.syscall && p.syscall ? !strcmp(r.syscall, p.syscall) : r.nr == p.nr;
		}
		d += !seen;
	}
	return d;
}

int main(int argc, char **argv)
{
	const struct cvmm_seccomp_filter *filters[16];
	const struct cvmm_sandbox_table *t;
	size_t nt, n = 0;
	bool count = argc == 3 && !strcmp(argv[2], "--count");
	char *json;
	int ret = 0;

	if (argc != 2 && !count) {
		fprintf(stderr, "usage: %s PROGRAM [--count]\n", argv[0]);
		return 1;
	}
	t = cvmm_sandbox_tables(argv[1], &nt);
	for (size_t i = 0; i < nt && n < 16; i++) {
		struct cvmm_seccomp_filter_opts o = {
			.sz = sizeof(o), .thread_name = t[i].thread,
			.default_action = CVMM_SECCOMP_TRAP,
		};
		struct cvmm_seccomp_filter *f;

		if (cvmm_seccomp_filter_create(&o, &f) || cvmm_sandbox_table_add(f, &t[i])) {
			fprintf(stderr, "%s: cannot build the %s filter\n", argv[0], t[i].thread);
			return 1;
		}
		filters[n++] = f;
	}
	if (!n) {
		fprintf(stderr, "%s: no filters for program '%s' (known:", argv[0], argv[1]);
		for (size_t i = 0; cvmm_sandbox_program_name(i); i++)
			fprintf(stderr, " %s", cvmm_sandbox_program_name(i));
		fprintf(stderr, ")\n");
		return 1;
	}
	if (count) {
		for (size_t i = 0; i < n; i++)
			printf("%s %zu %zu\n", cvmm_seccomp_filter_thread_name(filters[i]),
			       cvmm_seccomp_filter_rule_count(filters[i]), distinct_syscalls(filters[i]));
	} else if (cvmm_seccomp_to_json(filters, n, &json) == 0) {
		fputs(json, stdout);
		free(json);
	} else {
		ret = 1;
	}
	for (size_t i = 0; i < n; i++)
		cvmm_seccomp_filter_destroy((struct cvmm_seccomp_filter *)filters[i]);
	return ret;
}
