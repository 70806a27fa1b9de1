/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the API's files share (not installed): one struct api per server,
 * used on the control loop only, but for the migration thread's fields.
 * api.c: states, lifecycle, snapshot and restore, routing, the main loop;
 * api-info.c: vm.info and vm.counters; api-devices.c: vm.add-*, remove,
 * resize; api-migrate.c: live migration.
 */
#ifndef CVMM_VMM_API_INTERNAL_H
#define CVMM_VMM_API_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <json-c/json.h>

#include <cvmm/api.h>
#include <cvmm/migration.h>
#include <cvmm/vmm/api.h>

struct api {
	struct cvmm_vm vm;            /* the VM (vm.vmm: NULL until built) and its hooks */
	const struct cvmm_vm_api_opts *o;
	const struct cvmm_vm_config *flags; /* the command line: the base of every config */
	struct cvmm_vm_config cfg;    /* the VM's configuration ... */
	bool have_cfg;                /* ... once created */
	struct json_object *cfg_json; /* strings of cfg point into it */
	unsigned int id_counter;
	struct cvmm_event_manager *em;
	int evfd;                     /* --event-monitor, or -1 */
	bool api_stop;                /* the VM's stop came from the API */
	bool quit;                    /* leave the loop */
	int status;                   /* ... with this exit status */
	struct cvmm_vm_snap snap;     /* vm.restore: the snapshot and its stored arguments */
	struct cvmm_vm_snap_live snap_live; /* vm.snapshot-progress reads it on the API thread */
	bool restored_paused;         /* restored with resume false: vm.resume starts it */
	struct mig {                  /* the last or current migration */
		pthread_t t;
		bool thread;          /* t exists (joined by the next one or at exit) */
		bool done;            /* t has finished (atomic) */
		bool sending;         /* the source side */
		char url[128];
		int lfd;              /* receive: the listening socket, or -1 */
		int cfd;              /* receive: the connection (atomic), or -1 */
		bool cancel;          /* receive: vm.migration-cancel stopped it (atomic) */
		struct cvmm_vmm_incoming *in;
		struct cvmm_vmm_migrate_opts o;
		char *config;         /* the VmConfig sent in START */
		pthread_mutex_t mu;
		pthread_cond_t cv;
		int setup;            /* 0: pending; 1: connected/listening; <0: failed */
		char err[300];        /* ... why */
		struct cvmm_vmm_mig_progress own; /* figures while no VM holds them */
		/* What the request asked beyond the URL */
		bool live;            /* send: the core published this send's figures (atomic) */
		bool postcopy;        /* memory_mode Postcopy: send post-copy / receive allows it */
		bool postcopy_switch; /* send: pre-copy that may switch */
		bool resume;          /* post-copy recovery (either side) */
		unsigned int connections; /* send: 1..16 */
		char tls_dir[256];    /* "" : none */
		unsigned int link_timeout_ms; /* link_timeout_s; 0: the defaults */
		/* The connections of the migration: kept until its VM goes (a
		 * post-copy receive reads them after the VM runs). */
		int fds[2 + CVMM_MIG_MAX_CONNECTIONS];
		unsigned int nfds;
		int mem_fds[CVMM_MIG_MAX_CONNECTIONS];
		/* send, local: copies of the devices' host fds (closed when
		 * the send ends: a device removed meanwhile cannot reuse them) */
		struct cvmm_vmm_devfd devfds[CVMM_VMM_MAX_DEVFDS];
		unsigned int ndevfds;
	} mig;
};


/* Shared among the API's files; short names, global symbols prefixed. */
#define stopped(...) cvmm_vm_api_stopped(__VA_ARGS__)
#define state_name(...) cvmm_vm_api_state_name(__VA_ARGS__)
#define sending(...) cvmm_vm_api_sending(__VA_ARGS__)
#define need(...) cvmm_vm_api_need(__VA_ARGS__)
#define emit(...) cvmm_vm_api_emit(__VA_ARGS__)
#define drop_vm(...) cvmm_vm_api_drop_vm(__VA_ARGS__)
#define drop_cfg(...) cvmm_vm_api_drop_cfg(__VA_ARGS__)
#define bdf_json(...) cvmm_vm_api_bdf_json(__VA_ARGS__)
#define counter(...) cvmm_vm_api_counter(__VA_ARGS__)
#define mig_join(...) cvmm_vm_api_mig_join(__VA_ARGS__)
#define mig_close_fds(...) cvmm_vm_api_mig_close_fds(__VA_ARGS__)
#define only_known(...) cvmm_vm_api_only_known(__VA_ARGS__)
#define adopt_cfg(...) cvmm_vm_api_adopt_cfg(__VA_ARGS__)

/* Is the VM stopped (shut down, or a stop requested)? */
bool stopped(const struct api *a);
/* Cloud Hypervisor's state names: Created, Running, Paused, Shutdown. */
const char *state_name(const struct api *a);
/* Does a send run on the migration thread (the VM must stay as it is)? */
bool sending(const struct api *a);
/* 404 without a VM; 409 unless the state is one of @ok ("Running|Paused"),
 * and while a send runs (but for vm.counters). */
bool need(struct api *a, struct cvmm_api_response *r, const char *ok, const char *what);
/* One line on the event monitor. */
void emit(struct api *a, const char *source, const char *event, const char *id);
/* Destroy the VM (the configuration stays). */
void drop_vm(struct api *a);
/* Close the last migration's connections (its VM is gone or never came). */
void mig_close_fds(struct api *a);
/* Drop the configuration (and the fds and snapshot it holds). */
void drop_cfg(struct api *a);
/* @c (strings in @cj, which it takes) becomes the VM's configuration, its
 * devices named. */
void adopt_cfg(struct api *a, const struct cvmm_vm_config *c, struct json_object *cj);
/* Cloud Hypervisor's PCI address form of @slot: 0000:00:SS.0. */
struct json_object *bdf_json(unsigned int slot);
/* @o[@k] = @v as an integer. */
void counter(struct json_object *o, const char *k, uint64_t v);
/* Join the last migration thread (cancelling a running one first). */
void mig_join(struct api *a, bool cancel);
/* Refuse a body member other than @known (NULL-terminated): false with 400 in @r. */
bool only_known(struct json_object *j, const char *const *known, const char *what,
		struct cvmm_api_response *r);

/* The handlers of other files (run on the loop). */
#define API_HANDLER(fn) \
	void cvmm_vm_api_##fn(struct api *a, struct cvmm_api_request *q, struct cvmm_api_response *r)
API_HANDLER(vm_info);
API_HANDLER(vm_counters);
API_HANDLER(vm_add_disk);
API_HANDLER(vm_add_net);
API_HANDLER(vm_add_fs);
API_HANDLER(vm_add_vsock);
API_HANDLER(vm_add_vhost);
API_HANDLER(vm_resize);
API_HANDLER(vm_remove_device);
API_HANDLER(vm_receive_migration);
API_HANDLER(vm_send_migration);
API_HANDLER(vm_migration_progress);
API_HANDLER(vm_migration_cancel);
#define vm_info cvmm_vm_api_vm_info
#define vm_counters cvmm_vm_api_vm_counters
#define vm_add_disk cvmm_vm_api_vm_add_disk
#define vm_add_net cvmm_vm_api_vm_add_net
#define vm_add_fs cvmm_vm_api_vm_add_fs
#define vm_add_vsock cvmm_vm_api_vm_add_vsock
#define vm_add_vhost cvmm_vm_api_vm_add_vhost
#define vm_resize cvmm_vm_api_vm_resize
#define vm_remove_device cvmm_vm_api_vm_remove_device
#define vm_receive_migration cvmm_vm_api_vm_receive_migration
#define vm_send_migration cvmm_vm_api_vm_send_migration
#define vm_migration_progress cvmm_vm_api_vm_migration_progress
#define vm_migration_cancel cvmm_vm_api_vm_migration_cancel

#endif
