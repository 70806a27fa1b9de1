/* SPDX-License-Identifier: Apache-2.0 */
/* The insides of a VM, shared by the crate's files (each owns one job:
 * vm.c creation, bus.c the buses, vcpu.c the vCPU threads, alloc.c the
 * allocator, device.c the device table, lifecycle.c states and events). */
#ifndef CVMM_VMM_INTERNAL_H
#define CVMM_VMM_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include <cvmm/sys-util.h>
#include <cvmm/vmm.h>

#define VMM_CRATE "vmm"

struct platform;
struct ged;
struct snap_restore;
struct snap_track;

/* ---- buses (bus.c) ------------------------------------------------------- */

struct bus_range {
	uint64_t base;
	uint64_t len;
	cvmm_vmm_io_fn fn;
	void *opaque;
	const char *name;
};

/* Immutable once published: a change builds a new table and swaps it in. */
struct bus_table {
	unsigned int n;
	struct bus_range r[];
};

/*
 * Who may be reading a table: one slot per vCPU thread plus one shared by
 * every other thread (serialised by a mutex: tests, devices forwarding
 * accesses). A reader announces itself by bumping seq to an odd value
 * before it loads the table pointer and to even when done; a writer that
 * swapped a table waits for every slot that was odd to move on. Readers
 * never wait.
 */
#define BUS_READERS (CVMM_VMM_MAX_VCPUS + 1)
struct bus_reader {
	_Atomic uint64_t seq;
	char pad[56];
};

struct bus_domain {
	struct bus_reader reader[BUS_READERS];
	pthread_mutex_t other_lock;   /* the shared slot */
	pthread_mutex_t write_lock;   /* one writer at a time */
};

struct bus {
	_Atomic(struct bus_table *) table;
	struct bus_domain *dom;
};

int cvmm_vi_bus_domain_init(struct bus_domain *d);
void cvmm_vi_bus_domain_fini(struct bus_domain *d);
int cvmm_vi_bus_init(struct bus *b, struct bus_domain *d);
void cvmm_vi_bus_fini(struct bus *b);
int cvmm_vi_bus_add(struct bus *b, uint64_t base, uint64_t len, cvmm_vmm_io_fn fn, void *opaque,
	    const char *name);
int cvmm_vi_bus_remove(struct bus *b, uint64_t base);
/* @reader: the vCPU index, or BUS_READERS - 1 for any other thread. */
bool cvmm_vi_bus_dispatch(struct bus *b, unsigned int reader, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write);

/* ---- allocator (alloc.c) ------------------------------------------------- */

struct alloc_pool {
	uint64_t start, end;          /* [start, end) */
	struct cvmm_vmm_resource *a;  /* sorted by base */
	unsigned int n, cap;
};

struct allocator {
	struct alloc_pool pool[CVMM_VMM_RES_KINDS];
};

void cvmm_vi_alloc_init(struct allocator *al, uint64_t mmio64_start);
void cvmm_vi_alloc_fini(struct allocator *al);

/* ---- vCPUs (vcpu.c) ------------------------------------------------------ */

enum vcpu_state { VCPU_CREATED = 0, VCPU_RUNNING, VCPU_PAUSED, VCPU_EXITED };
enum vcpu_request { VCPU_REQ_NONE = 0, VCPU_REQ_PAUSE, VCPU_REQ_STOP };

struct vcpu {
	struct cvmm_vmm *vmm;
	unsigned int index;
	struct cvmm_kvm_vcpu *kvm;
	pthread_t thread;
	bool started;
	_Atomic int request;          /* enum vcpu_request */
	enum vcpu_state state;        /* under vmm->vcpu_lock */
	/* a call to run on this thread while paused (cvmm_vmm_vcpu_call) */
	int (*call_fn)(void *arg, struct cvmm_kvm_vcpu *vcpu);
	void *call_arg;
	int call_ret;
	bool call_pending;
};

int cvmm_vi_vcpus_start(struct cvmm_vmm *vmm);
void cvmm_vi_vcpus_kick_stop(struct cvmm_vmm *vmm);
void cvmm_vi_vcpus_stop_and_join(struct cvmm_vmm *vmm);
int cvmm_vi_vcpus_pause(struct cvmm_vmm *vmm);
void cvmm_vi_vcpus_resume(struct cvmm_vmm *vmm);

/* ---- devices (device.c) -------------------------------------------------- */

struct device_entry {
	char id[CVMM_VMM_ID_MAX];
	const char *kind;
	const struct cvmm_vmm_device_ops *ops;
	void *dev;
};

int cvmm_vi_devices_pause(struct cvmm_vmm *vmm);
int cvmm_vi_devices_resume(struct cvmm_vmm *vmm);
void cvmm_vi_devices_destroy_all(struct cvmm_vmm *vmm);

/* ---- the VM -------------------------------------------------------------- */

struct cvmm_vmm {
	struct cvmm_vmm_opts opts;
	struct cvmm_kvm *kvm;
	struct cvmm_kvm_vm *vm;
	struct cvmm_guest_mem *mem;
	unsigned int ncpus;
	struct vcpu vcpu[CVMM_VMM_MAX_VCPUS];

	struct bus_domain bus_dom;
	struct bus bus[2];            /* CVMM_VMM_PIO, CVMM_VMM_MMIO */
	struct allocator alloc;

	struct device_entry *dev;     /* in order of addition */
	unsigned int ndev, devcap;
	unsigned int next_dev_id;

	struct platform *platform;    /* platform.c, or NULL */
	uint64_t platform_ports[8];   /* its port ranges' bases (0: none) */

	struct cvmm_event_manager *dev_em; /* the device thread's loop (virtio.c) */
	struct vmm_pci *pci;          /* pci.c: the PCI segment, or NULL */
	struct ged *ged;              /* ged.c: GED + PCI hotplug registers, or NULL */
	bool hp_active;               /* between cvmm_vmm_hotplug_begin and _end */
	bool hp_resume;               /* ... and begin quiesced a running VM */
	uint32_t hp_added;            /* PCI slots added in this window */
	pthread_t dev_thread;
	bool dev_thread_exists;       /* created and not yet joined */
	bool dev_thread_running;      /* its loop runs (not parked by a pause) */
	/* A pause parks the device thread instead of ending it, so a resume
	 * creates no thread (virtio.c); under dev_mu: */
	pthread_mutex_t dev_mu;
	pthread_cond_t dev_cv;
	bool dev_parked, dev_go, dev_exit;
	bool dev_failed;              /* its set-up failed: it only waits for exit */
	uint64_t dev_parks;           /* times it parked */
	bool restored;                /* cvmm_vmm_restore() ran: no second one */
	bool broken;                  /* a restore failed half-way: never start */
	bool tearing_down;            /* destroy: devices need not undo KVM wiring */
	struct snap_restore *snap;    /* a snapshot restore's memory source (snapshot-restore.c) */
	struct snap_track *snap_track; /* dirty tracking for diff snapshots (snapshot-diff.c) */
	struct migration *mig;        /* live migration's progress (migrate.c), or NULL */

 	struct cvmm_event_manager *em;
	bool own_em;                  /* em is ours (else the program's opts.em) */
	int stop_efd;                 /* written once the VM stops */

	pthread_mutex_t vcpu_lock;    /* vCPU states and call slots */
	pthread_cond_t vcpu_cond;     /* a vCPU's state or call changed */
	unsigned int parked;          /* vCPUs PAUSED or EXITED */

	_Atomic int state;            /* enum cvmm_vmm_state */
	_Atomic int stop;             /* enum cvmm_vmm_stop */
	_Atomic int stop_code;
	uint64_t last_pause_ns;
};

/*
 * The part of a virtio device that does not depend on its transport
 * (virtio.c: mmio; pci.c: PCI); first member of each, so the shared ops
 * below take the device as it is in the table.
 */
struct vdev_common {
	struct cvmm_vmm *vmm;
	struct cvmm_vmm_virtio_opts o;
	char id[CVMM_VMM_ID_MAX];
	struct cvmm_virtio_transport *core;
};

/* Device ops every virtio device shares (virtio.c). */
int cvmm_vi_vdev_pause(void *dev);
int cvmm_vi_vdev_resume(void *dev);
int cvmm_vi_vdev_dirty_log(void *dev, bool on);
long cvmm_vi_vdev_dirty_harvest(void *dev);
int cvmm_vi_vdev_memory_changed(void *dev);
int cvmm_vi_vdev_postcopy_begin(void *dev, int *ufd);
unsigned int cvmm_vi_vdev_postcopy_regions(void *dev, struct cvmm_vmm_pc_region *out,
					   unsigned int max);
int cvmm_vi_vdev_postcopy_end(void *dev);

/*
 * What differs between the transports' save and restore (virtio.c: mmio,
 * pci.c: PCI); cvmm_vi_vdev_save/restore do the rest: two sections,
 * dev/ID/SECTION (the transport's fixed-size state) and dev/ID/device
 * (the device's own, grown until it fits), and every queue looked at once
 * after a restore.
 */
struct vdev_transport_io {
	const char *section;   /* "transport", "virtio-pci" */
	uint32_t version;      /* of the fixed-size state */
	size_t len;            /* its size */
	/* bytes of device state written to @dev (-ENOSPC: @cap too small) */
	int (*save)(void *dev, void *state, void *dev_buf, size_t cap);
	int (*restore)(void *dev, const void *state, const void *dev_buf, size_t len, char *why,
		       size_t whylen);
	int (*notify_fd)(void *dev, unsigned int queue);
};

int cvmm_vi_vdev_save(void *dev, const struct vdev_transport_io *io, struct cvmm_snap_writer *w,
		      const char *id);
int cvmm_vi_vdev_restore(void *dev, const struct vdev_transport_io *io, struct cvmm_snap_reader *r,
			 const char *id, char *err, size_t errlen);

int cvmm_vi_device_thread_start(struct cvmm_vmm *vmm);
/* pci.c: free the segment after the devices are gone. */
void cvmm_vi_pci_fini(struct cvmm_vmm *vmm);
/* pci.c: the segment as ACPI describes it (MCFG, PCI0, _PRT of each slot);
 * false without PCI. @irqs: room for 32. */
struct cvmm_acpi_pci;
struct cvmm_acpi_pci_irq;
struct cvmm_acpi_viot;
struct cvmm_acpi_viot_endpoint;
/* The VIOT for the PCI devices behind a virtio-iommu (a slot whose device
 * is one, devices added with a dma translation): false when there is none. */
bool cvmm_vi_pci_viot(const struct cvmm_vmm *vmm, struct cvmm_acpi_viot *out,
		      struct cvmm_acpi_viot_endpoint *ranges);
bool cvmm_vi_pci_acpi(const struct cvmm_vmm *vmm, struct cvmm_acpi_pci *out,
		      struct cvmm_acpi_pci_irq *irqs);
void cvmm_vi_device_thread_stop(struct cvmm_vmm *vmm);
/* The VM ends: stop the device thread for good and join it. */
void cvmm_vi_device_thread_exit(struct cvmm_vmm *vmm);
/* lifecycle.c: park vCPUs, pause devices, stop the device thread (as a
 * pause, without state change or events) and undo it. */
int cvmm_vi_quiesce(struct cvmm_vmm *vmm);
int cvmm_vi_unquiesce(struct cvmm_vmm *vmm);
/* pci.c: the id of the device in @slot (-ENOENT: none); the slot of device
 * @id (-1: not a PCI device); bitmap of occupied slots. */
int cvmm_vi_pci_id_at(const struct cvmm_vmm *vmm, unsigned int slot,
		      char id[CVMM_VMM_ID_MAX]);
int cvmm_vi_pci_slot_of(const struct cvmm_vmm *vmm, const char *id);
uint32_t cvmm_vi_pci_slots_used(const struct cvmm_vmm *vmm);
/* ged.c: the GED as ACPI describes it (false: none); a device may join a
 * booted VM now (else false with *ret and @err set); slot @slot is empty
 * again (its hotplug bits go). */
struct cvmm_acpi_ged;
bool cvmm_vi_ged_acpi(const struct cvmm_vmm *vmm, struct cvmm_acpi_ged *out);
bool cvmm_vi_hotplug_check(struct cvmm_vmm *vmm, const char *kind, char *err, size_t errlen,
			   int *ret);
void cvmm_vi_ged_slot_gone(struct cvmm_vmm *vmm, unsigned int slot);
/*
 * boot.c: the ranges the guest's memory map (E820 / PVH) marks reserved,
 * into @out (room for CVMM_VI_BOOT_RESERVED_MAX): the legacy BIOS area,
 * the ECAM window with PCI, the I/O APIC and LAPIC pages up to 4 GiB. Not
 * the rest of the 32-bit hole: Linux clips E820-reserved ranges out of a
 * PCI host bridge's windows, and reserving the whole hole left it no
 * 32-bit window for BARs. @return how many.
 */
#define CVMM_VI_BOOT_RESERVED_MAX 3
struct cvmm_mem_range;
unsigned int cvmm_vi_boot_reserved(const struct cvmm_vmm *v, struct cvmm_mem_range *out);

void cvmm_vi_on_stop(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque);
void cvmm_vi_emit(struct cvmm_vmm *vmm, const struct cvmm_vmm_event *ev);
void cvmm_vi_emit_type(struct cvmm_vmm *vmm, enum cvmm_vmm_event_type type, const char *id);
/* snapshot-restore.c: stop the OnDemand threads, drop the memory file. */
void cvmm_vi_snap_restore_fini(struct cvmm_vmm *vmm);
/* An OnDemand restore's threads ran the program's thread hook: 0, else
 * the VM must not start (snapshot-restore.c). */
int cvmm_vi_snap_restore_started(struct cvmm_vmm *vmm);
/* snapshot-diff.c: dirty tracking for diff snapshots off. */
void cvmm_vi_snap_track_fini(struct cvmm_vmm *vmm);
/* migrate.c: free the migration record. */
void cvmm_vi_migrate_fini(struct cvmm_vmm *vmm);
/* migrate.c: vCPU @index's dirty ring is full (on its thread): harvest it
 * into the running migration, if any, and reset the rings. */
void cvmm_vi_mig_ring_full(struct cvmm_vmm *vmm, unsigned int index);
void cvmm_vi_set_state(struct cvmm_vmm *vmm, enum cvmm_vmm_state s);

#endif
