/* SPDX-License-Identifier: Apache-2.0 */
/* cvmm-microvm's snapshot and restore flags (docs/snapshot.md). */
#ifndef MICROVM_SNAPSHOT_H
#define MICROVM_SNAPSHOT_H

#include <stdbool.h>
#include <stdio.h>

#include <cvmm/vmm.h>

#include "config.h"

enum snapshot_then { SNAP_THEN_PAUSE = 0, SNAP_THEN_RESUME, SNAP_THEN_EXIT };

struct microvm_snap {
	/* --snapshot destination_url=file:///DIR[,then=pause|resume|exit]:
	 * SIGUSR1 pauses the VM and writes DIR. */
	const char *dest;           /* NULL: no --snapshot */
	enum snapshot_then then;
	char *config;               /* the arguments stored in every snapshot (a JSON array) */
	/* --restore source_url=file:///DIR[,memory_restore_mode=M][,resume=on][,prefault=on] */
	const char *source;         /* NULL: a normal boot */
	char *source_copy;          /* vm.restore: the body's path, owned */
	char *opt_copy[2];          /* the --snapshot and --restore values, owned */
	struct cvmm_vmm_snapshot *snap;
	struct cvmm_vmm_restore_opts ro;
	bool resume;
	/* argv for the configuration parser: without our flags; on restore the
	 * stored arguments with the command line's overrides applied */
	int argc;
	char **argv;
	bool started;               /* the vCPUs run (resume=off waits for SIGUSR2) */
	/* progress lines on the event monitor (-1: none) */
	int evfd;
	uint64_t t0_ns;
	const char *prog_event;     /* "snapshot-progress" / "restore-progress" */
	int prog_last;              /* the last tenth reported */
};

/*
 * Take --snapshot and --restore out of @argv. With --restore, open the
 * snapshot (every file checked) and build the arguments from its stored
 * configuration: a flag given on the command line replaces the stored one
 * (device flags --disk, --net, --vsock, --fs, --vhost-user replace the
 * stored one at the same position: the first --net given replaces the
 * first stored --net), so clones do not share TAPs, sockets or files.
 * @return 0; -EINVAL/-ENOENT/... with @err naming the flag or file.
 */
int microvm_snap_args(struct microvm_snap *s, int argc, char **argv, char *err, size_t errlen);

/* Free what microvm_snap_args() made. */
void microvm_snap_fini(struct microvm_snap *s);

/* Restore the snapshot into the VM made from its configuration (instead
 * of booting). @return 0 or negative errno with @err. */
int microvm_snap_restore(struct microvm_snap *s, struct cvmm_vmm *vmm, char *err, size_t errlen);

/* SIGUSR1: pause and snapshot (then as --snapshot says); SIGUSR2: resume a
 * paused VM. @return true when SIGUSR2 asks to start a VM restored with
 * resume=off (the caller starts it). */
bool microvm_snap_signal(struct microvm_snap *s, struct cvmm_vmm *vmm,
			 const struct microvm_config *cfg, int signo);

struct microvm_config;
struct json_object;

/*
 * config.json of a snapshot: the VmConfig of @cfg (Cloud Hypervisor's, as
 * vm.info shows it) and, from the flags path, "cvmm-microvm": {"version":
 * 1, "args": @args} (the command line, what --restore re-parses).
 */
char *microvm_snap_config(const struct microvm_config *cfg, const char *args);

/* Write a snapshot of the paused @vmm to @dir. @return 0 or negative errno with @err. */
int microvm_snap_write(struct microvm_snap *s, struct cvmm_vmm *vmm,
		       const struct microvm_config *cfg, const char *args, const char *dir,
		       char *err, size_t errlen);

/* vm.snapshot {"destination_url": "file:///DIR"}. @return 0; -EINVAL (a
 * bad body); errors of the snapshot, with @err. */
int microvm_snap_api_snapshot(struct microvm_snap *s, struct cvmm_vmm *vmm,
			      const struct microvm_config *cfg, struct json_object *body, char *err,
			      size_t errlen);

/*
 * vm.restore {"source_url", "memory_restore_mode", "prefault", "resume"}:
 * open the snapshot into @s and fill @cfg (the base: the command line)
 * from its config.json (the stored arguments, else its VmConfig, kept in
 * *@cfg_json whose strings @cfg points into). Then building the VM with
 * m->snap = @s restores instead of booting.
 * @return 0; -EINVAL (body or config) and errors of the snapshot, with @err.
 */
int microvm_snap_api_restore_open(struct microvm_snap *s, struct json_object *body,
				  struct microvm_config *cfg, struct json_object **cfg_json,
				  char *err, size_t errlen);

void microvm_snap_usage(FILE *f);

#endif
