/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vmm/snap.h
 * @brief Snapshot and restore orchestration over cvmm_vmm_snapshot*():
 *        Cloud Hypervisor's --snapshot/--restore option strings, a program's
 *        command line stored in config.json and re-parsed with overrides on
 *        restore, progress lines on the event monitor, and the bodies of
 *        the API's vm.snapshot and vm.restore (docs/snapshot.md).
 *
 * config.json of a snapshot holds the VmConfig of the VM (as vm.info shows
 * it) and, when a program stores its command line, "<args_key>":
 * {"version": 1, "args": [...]}; a restore from such a snapshot re-parses
 * those arguments (through the program's parse_args hook) so that every
 * flag a VmConfig cannot carry survives.
 *
 * Errors: 0 or a negative errno with one line in @err naming the flag,
 * field or file (-EINVAL for a bad option or body, -ENOMEM, and the errors
 * of cvmm_vmm_snapshot_open() and cvmm_vmm_snapshot()).
 *
 * Thread safety: a struct cvmm_vm_snap belongs to the control thread.
 */
#ifndef CVMM_VMM_SNAP_H
#define CVMM_VMM_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm.h>
#include <cvmm/vmm/config.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_object;

/* What a program's command line looks like, for storing and re-parsing it. */
struct cvmm_vm_snap_spec {
	const char *args_key;              /* config.json's key for the arguments */
	const char *const *no_value;       /* long options (no "--") without a value; NULL-terminated */
	const char *const *positional;     /* device options an override replaces by position */
	/* Parse @argv (argv[0] the program) into the VM configuration @c;
	 * strings may point into @argv. @return 0; -EINVAL with @err. */
	int (*parse_args)(void *opaque, int argc, char **argv, struct cvmm_vm_config *c,
			  char *err, size_t errlen);
	void *opaque;
};

/*
 * How far the last snapshot or restore has got, for a reader on another
 * thread (the API's vm.snapshot-progress while the snapshot runs on the
 * control loop, an OnDemand restore's fill on its own thread): written
 * and read with atomics only.
 */
enum cvmm_vm_snap_op { CVMM_VM_SNAP_OP_NONE, CVMM_VM_SNAP_OP_SNAPSHOT, CVMM_VM_SNAP_OP_RESTORE };
enum cvmm_vm_snap_state { CVMM_VM_SNAP_RUNNING = 1, CVMM_VM_SNAP_COMPLETED, CVMM_VM_SNAP_FAILED };

struct cvmm_vm_snap_live {
	uint32_t op;          /* enum cvmm_vm_snap_op */
	uint32_t state;       /* enum cvmm_vm_snap_state */
	uint32_t stream;      /* the bytes are OnDemand's background fill */
	uint64_t done, total; /* bytes */
	uint64_t t0_ns, end_ns;
};

/** A snapshot or restore (@op) begins (@live may be NULL). Thread safety: any. */
void cvmm_vm_snap_live_begin(struct cvmm_vm_snap_live *live, enum cvmm_vm_snap_op op);
/** ... and ends (@ret 0: completed). Thread safety: any. */
void cvmm_vm_snap_live_end(struct cvmm_vm_snap_live *live, int ret);
/** {"operation", "state", "what", "bytes_done", "bytes_total", "elapsed_ms"}
 *  of @live. @return a new object or NULL. Thread safety: any. */
struct json_object *cvmm_vm_snap_live_json(const struct cvmm_vm_snap_live *live);

enum cvmm_vm_snap_then { CVMM_VM_SNAP_THEN_PAUSE = 0, CVMM_VM_SNAP_THEN_RESUME, CVMM_VM_SNAP_THEN_EXIT };

struct cvmm_vm_snap {
	const struct cvmm_vm_snap_spec *spec;
	/* --snapshot destination_url=file:///DIR[,snapshot_type=Full|Diff][,then=pause|resume|exit] */
	const char *dest;           /* NULL: no --snapshot */
	enum cvmm_vm_snap_then then;
	bool chain;                 /* snapshot_type=Diff: DIR full, then DIR.1, DIR.2 ... diffs */
	unsigned int taken;         /* snapshots written so far (the next diff's number) */
	bool full_next;             /* a chain's snapshot failed: its interval is lost */
	char *config;               /* the arguments stored in every snapshot (a JSON array) */
	/* --restore source_url=file:///DIR[,memory_restore_mode=M][,resume=on][,prefault=on]
	 * [,clock=realtime][,diff_urls=[file:///D1,...]] */
	const char *source;         /* NULL: a normal boot */
	char *source_copy;          /* vm.restore: the body's path, owned */
	char *opt_copy[2];          /* the --snapshot and --restore values, owned */
	char *ovr_serial;           /* vm.restore's "serial" file, owned */
	struct cvmm_vmm_snapshot *snap;
	struct cvmm_vmm_restore_opts ro;
	bool resume;
	bool diff;                  /* vm.snapshot "snapshot_type": "Diff" (while writing) */
	/* argv for the configuration parser: without --snapshot/--restore; on
	 * restore the stored arguments with the command line's overrides */
	int argc;
	char **argv;
	bool started;               /* the vCPUs run (resume=off waits for the caller) */
	/* progress lines on the event monitor (-1: none) */
	int evfd;
	uint64_t t0_ns;
	const char *prog_event;     /* "snapshot-progress" / "restore-progress" */
	int prog_last;              /* the last tenth reported */
	struct cvmm_vm_snap_live *live; /* progress for other threads, or NULL */
};

/*
 * Take --snapshot and --restore out of @argv. With --restore, open the
 * snapshot (every file checked) and build the arguments from its stored
 * configuration: a flag given on the command line replaces the stored one
 * (the @spec's positional flags replace the stored one at the same
 * position: the first --net given replaces the first stored --net), so
 * clones do not share TAPs, sockets or files.
 * @return 0; -EINVAL/-ENOENT/-ENOMEM/... with @err naming the flag or file.
 */
int cvmm_vm_snap_args(struct cvmm_vm_snap *s, const struct cvmm_vm_snap_spec *spec, int argc,
		      char **argv, char *err, size_t errlen);

/** Free what cvmm_vm_snap_args() or cvmm_vm_snap_api_restore_open() made. */
void cvmm_vm_snap_fini(struct cvmm_vm_snap *s);

/** config.json of a snapshot: the VmConfig of @cfg and, with @args, the
 *  spec's "args_key": {"version": 1, "args": @args}. @return a new string or NULL. */
char *cvmm_vm_snap_config(const struct cvmm_vm_snap *s, const struct cvmm_vm_config *cfg,
			  const char *args);

/** Write a snapshot of the paused @vmm to @dir. @return 0 or negative errno with @err. */
int cvmm_vm_snap_write(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
		       const struct cvmm_vm_config *cfg, const char *args, const char *dir,
		       char *err, size_t errlen);

/**
 * --snapshot's action: pause @vmm (if running), write s->dest, then do as
 * s->then says. With snapshot_type=Diff the first snapshot is a full one
 * in s->dest that turns dirty tracking on, and snapshot N after it is a
 * diff of what the guest wrote since the one before, in "DIR.N" (restore
 * the chain with --restore source_url=DIR,diff_urls=[DIR.1,...]).
 * @msg gets the line to report: where it went and how long it took, or
 * why it failed (the VM then stays paused). A failed snapshot loses its
 * dirty interval: the chain's next one is a full snapshot in "DIR.N"
 * (a new base, restored alone or with the diffs after it).
 * @return 0 or negative errno.
 */
int cvmm_vm_snap_take(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
		      const struct cvmm_vm_config *cfg, char *msg, size_t msglen);

/** vm.snapshot {"destination_url": "file:///DIR"}. @return 0; -EINVAL (a
 *  bad body); errors of the snapshot, with @err. */
int cvmm_vm_snap_api_snapshot(struct cvmm_vm_snap *s, struct cvmm_vmm *vmm,
			      const struct cvmm_vm_config *cfg, struct json_object *body,
			      char *err, size_t errlen);

/*
 * vm.restore {"source_url", "memory_restore_mode" (Copy, OnDemand, Shared
 * or Cloud Hypervisor's CopyOnWrite, the same as Shared), "prefault",
 * "resume", "clock_realtime", "diff_urls"} and the overrides of
 * cvmm_vm_snap_api_restore_overrides():
 * open the snapshot into @s and fill @cfg (the base: the command line)
 * from its config.json (the stored arguments, else its VmConfig, kept in
 * *@cfg_json whose strings @cfg points into). Then building the VM with
 * vm->snap = @s restores instead of booting.
 * @return 0; -EINVAL (body or config) and errors of the snapshot, with @err.
 */
int cvmm_vm_snap_api_restore_open(struct cvmm_vm_snap *s, struct json_object *body,
				  struct cvmm_vm_config *cfg, struct json_object **cfg_json,
				  char *err, size_t errlen);

/*
 * vm.restore's "net_fds": [{"id": "eth0", "num_fds": N}, ...] (Cloud
 * Hypervisor's RestoredNetConfig): the request's SCM_RIGHTS fds @fds, in
 * order, N for each entry, become the TAP fds (one a queue pair) of the
 * network card @id of @d (named already), instead of the TAP name the
 * snapshot stored, so clones do not share a TAP. Every fd must be used.
 * The fds taken are set to -1 in @fds (@d owns them).
 * @return 0 (nothing to do without the field); -EINVAL with @err (an
 * unknown id, a count that is not the card's queue pairs, fds left over
 * or missing); nothing is taken then.
 */
int cvmm_vm_snap_api_restore_fds(struct json_object *body, struct cvmm_vm_devices *d, int *fds,
				 unsigned int nfds, char *err, size_t errlen);

/*
 * The host side of the restored VM's devices from the vm.restore @body,
 * into @c (its devices named already), so that clones of one snapshot do
 * not share host resources:
 *  - "net_fds" (Cloud Hypervisor): cvmm_vm_snap_api_restore_fds();
 *  - "network_overrides": [{"iface_id", "host_dev_name"}] (Firecracker):
 *    card iface_id opens TAP host_dev_name instead of the stored one;
 *  - "vsock_override": {"uds_path"} (Firecracker): the vsock device's
 *    unix socket (it must not exist yet);
 *  - "disk_overrides": [{"id", "path"}] (cvmm): disk id's image (of the
 *    same size: the restore refuses another capacity);
 *  - "serial", "console" (Cloud Hypervisor's SerialConfig/ConsoleConfig,
 *    mode Off/Null/Tty/File): where the output goes; the console device
 *    cannot come or go.
 * Every field is checked before anything changes; strings are copied
 * (the serial file into @s). @return 0; -EINVAL with @err naming the
 * field (nothing changed, no fd taken); -ENOMEM.
 */
int cvmm_vm_snap_api_restore_overrides(struct cvmm_vm_snap *s, struct json_object *body,
				       struct cvmm_vm_config *c, int *fds, unsigned int nfds,
				       char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
