/* SPDX-License-Identifier: Apache-2.0 */
/* What cvmm-microvm keeps beside the VM core: its configuration, sandbox
 * and the host files it opened for the guest. */
#ifndef MICROVM_H
#define MICROVM_H

#include <cvmm/vmm.h>

#include "config.h"

struct microvm {
	const struct microvm_config *cfg;
	struct cvmm_vmm *vmm;
	const struct cvmm_sandbox *sandbox; /* each thread installs its filter (may be NULL) */
	uint64_t t0_ns;              /* process start, for the boot timer */
	int serial_out;              /* the guest's serial output, or -1 */
	int con_out;                 /* --console file=, or -1 */
	/* The device models by id, for vm.counters (the VM core owns them). */
	struct microvm_model {
		char id[CVMM_VMM_ID_MAX];
		const char *kind;
		void *model;
		unsigned int pci_slot; /* 0: virtio-mmio */
	} models[MICROVM_VIRTIO_MAX];
	unsigned int nmodels;
	struct cvmm_event_manager *em; /* the control loop to live on (NULL: the VM's own) */
	/* Every lifecycle event of the VM, after the crash report (may be NULL). */
	void (*on_event)(void *opaque, const struct cvmm_vmm_event *ev);
	void *event_opaque;
	struct microvm_snap *snap;   /* --snapshot / --restore (snapshot.h), or NULL */
	bool incoming;               /* vm.receive-migration: build the VM, load nothing */
};

/*
 * Build the VM of m->cfg (vm.c): the VM core on m->em, virtio devices,
 * the platform and the boot state; cvmm_vmm_start() is the caller's.
 * @return 0 or negative errno with @err naming the option. On failure,
 * microvm_vm_destroy() frees what was built.
 */
int microvm_vm_create(struct microvm *m, char *err, size_t errlen);
/* Destroy the VM (NULL-safe) and close the files opened for it. */
void microvm_vm_destroy(struct microvm *m);
/* The process exit status a stopped VM calls for (docs/microvm.md). */
int microvm_exit_status(struct cvmm_vmm *vmm);

/*
 * --api-socket (api.c): serve the management API; with m->cfg->kernel
 * (flags or --config) boot that VM first. Runs the control loop until
 * vmm.shutdown, a signal, or the guest ends its VM.
 * @return the process exit status.
 */
int microvm_api_main(struct microvm *m, int sfd);

/* --event-monitor: open its target; -1 with @err on failure. */
int microvm_event_monitor_open(const struct microvm_config *c, char *err, size_t errlen);
/* Write @ev as one line of Cloud Hypervisor's event-monitor JSON to @fd. */
void microvm_event_monitor_write(int fd, uint64_t t0_ns, const char *source, const char *event,
				 const char *id);
/* The same with properties: @kv is NULL or {key, value, ..., NULL}. */
void microvm_event_monitor_write_props(int fd, uint64_t t0_ns, const char *source,
				       const char *event, const char *const *kv);
/* The (source, event) names of a VM event, or NULL for one not reported. */
const char *microvm_event_name(const struct cvmm_vmm_event *ev, const char **source);

/* The virtio devices of the configuration, on the VM's device loop, in
 * the order virtio.h documents. @return 0 or negative errno with @err
 * naming the option. */
int microvm_devices_add(struct microvm *m, char *err, size_t errlen);

/*
 * Boot a cvmm test-guest image (tests/guests, "CVMMGST1") when --kernel
 * is one: ACPI tables, the image, and every vCPU entered at CPL3 with the
 * boot info args from --guest-arg. @return 1 (not a test guest: boot it as
 * a kernel); 0 loaded; negative errno with @err.
 */
int microvm_boot_test_guest(struct microvm *m, char *err, size_t errlen);

#endif
