/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-jailer internals shared by its files. Single-threaded program: none
 * of this is thread-safe.
 */
#ifndef CVMM_JAILER_H
#define CVMM_JAILER_H

#include <limits.h>

#define CVMM_JAILER_MAX_CGROUP 16

/* Print "cvmm-jailer: <message>" as one line and exit(1). */
__attribute__((noreturn, format(printf, 1, 2))) void cvmm_jailer_die(const char *fmt, ...);

/*
 * The VMM's cgroup v2: <cgroup2 mount>/<parent>/<id>, with the limits given
 * as CONTROLLER.FILE=VALUE.
 */
struct cvmm_jailer_cgroup {
	const char *parent;                          /* NULL: the exec file's name */
	char key[CVMM_JAILER_MAX_CGROUP][65];        /* e.g. "memory.max" */
	const char *value[CVMM_JAILER_MAX_CGROUP];   /* e.g. "256M" */
	int n;
	int wanted;                                  /* --cgroup or --parent-cgroup given */
	char path[PATH_MAX];                         /* set by cvmm_jailer_cgroup_create */
};

/* --cgroup KEY=VALUE: dies unless KEY is CONTROLLER.FILE without '/' or "..". */
void cvmm_jailer_cgroup_add(struct cvmm_jailer_cgroup *cg, const char *arg);

/* --parent-cgroup: dies unless a relative path of plain names. */
void cvmm_jailer_cgroup_parent(struct cvmm_jailer_cgroup *cg, const char *arg);

/*
 * Without --cgroup or --parent-cgroup, nothing. Otherwise create the cgroup
 * for @id below --parent-cgroup or else @exec_name (dies if it exists), enable each controller a key
 * names in the parents' cgroup.subtree_control and write every limit. On any
 * failure, and when the program later exits from this process, the cgroup is
 * removed again (see cvmm_jailer_cgroup_disown).
 */
void cvmm_jailer_cgroup_create(struct cvmm_jailer_cgroup *cg, const char *id,
			       const char *exec_name);

/* In a child process: leave the removal to the parent. */
void cvmm_jailer_cgroup_disown(void);

/* Move the calling process into the cgroup (dies on failure). */
void cvmm_jailer_cgroup_enter(const struct cvmm_jailer_cgroup *cg);

/*
 * Remove the cgroup once the VMM has gone; 0, or a negative errno (the
 * cgroup stays) after printing one line.
 */
int cvmm_jailer_cgroup_remove(void);

#endif
