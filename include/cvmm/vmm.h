/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vmm.h
 * @brief The VM core: a VM whose vCPUs can be paused and resumed, whose
 *        devices live in one table with one ops table, whose buses change
 *        while vCPUs run, and whose lifecycle is reported as events.
 *
 * The top of the crate graph: it composes kvm-ioctls and vm-memory (and,
 * through the device ops, any device crate) into a VM, the way
 * Firecracker's and Cloud Hypervisor's `vmm` crates do. A program (such as
 * cvmm-microvm) parses its arguments, creates the VM, adds devices and
 * boots; snapshot, migration and a management API build on the same calls.
 *
 * Threads:
 *   - the control thread: whoever calls cvmm_vmm_run(); it runs the VM's
 *     event-manager loop (cvmm_vmm_event_manager()). Lifecycle calls
 *     (pause, resume, device add/remove, stop) are made there, or from any
 *     thread through cvmm_event_manager_call() on that loop;
 *   - one thread per vCPU, started by cvmm_vmm_start(): KVM_RUN and the
 *     dispatch of port I/O and MMIO exits to the buses. A vCPU thread never
 *     takes a lock on that path: the buses are immutable tables swapped
 *     whole (read-copy-update), so adding or removing a range while vCPUs
 *     run never stalls them;
 *   - device threads, owned by the devices themselves.
 *
 * Lifecycle:
 *
 *     CREATED --start--> RUNNING --pause--> PAUSED --resume--> RUNNING
 *        |                  |                  |
 *        +------------------+------stop--------+--> SHUTDOWN
 *
 * Every change is reported to the event callback of the options.
 *
 * All functions return 0 (or a non-negative count) or a negative errno;
 * none prints, exits or aborts. Messages for a user go to the caller's
 * @err buffer, one line naming what is wrong.
 */
#ifndef CVMM_VMM_H
#define CVMM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/event-manager.h>
#include <cvmm/kvm-ioctls.h>
#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most vCPUs one VM may have. */
#define CVMM_VMM_MAX_VCPUS 64u
/** Longest device id, NUL included. */
#define CVMM_VMM_ID_MAX 48u

struct cvmm_vmm;

/* ------------------------------------------------------------------------ */
/* Lifecycle and events                                                      */
/* ------------------------------------------------------------------------ */

enum cvmm_vmm_state {
	CVMM_VMM_CREATED = 0,
	CVMM_VMM_RUNNING,
	CVMM_VMM_PAUSED,
	CVMM_VMM_SHUTDOWN,
};

/** Why a VM stopped; the first reason recorded wins. */
enum cvmm_vmm_stop {
	CVMM_VMM_STOP_NONE = 0,
	CVMM_VMM_STOP_POWEROFF,   /**< ACPI S5, or a shutdown system event */
	CVMM_VMM_STOP_RESET,      /**< the guest asked for a reset */
	CVMM_VMM_STOP_GUEST_EXIT, /**< a test guest wrote its exit code */
	CVMM_VMM_STOP_CRASH,      /**< triple fault, internal error, failed entry */
	CVMM_VMM_STOP_HOST_ERROR, /**< a host-side failure */
	CVMM_VMM_STOP_REQUEST,    /**< the host asked (signal, API) */
};

enum cvmm_vmm_event_type {
	CVMM_VMM_EV_BOOTING = 1,
	CVMM_VMM_EV_BOOTED,
	CVMM_VMM_EV_PAUSING,
	CVMM_VMM_EV_PAUSED,
	CVMM_VMM_EV_RESUMING,
	CVMM_VMM_EV_RESUMED,
	CVMM_VMM_EV_SHUTDOWN,      /**< the VM stopped: see stop, code */
	CVMM_VMM_EV_DEVICE_ADDED,
	CVMM_VMM_EV_DEVICE_REMOVED,
	CVMM_VMM_EV_VCPU_CRASH,    /**< detail holds the registers */
	/** Post-copy lost its link after the switch-over (either side, on the
	 * migration's thread): CVMM_VMM_MIG_POSTCOPY_PAUSED; detail: why. */
	CVMM_VMM_EV_POSTCOPY_PAUSED,
	/** A new connection resumed it (CVMM_VMM_MIG_POSTCOPY again). */
	CVMM_VMM_EV_POSTCOPY_RESUMED,
};

struct cvmm_vmm_event {
	enum cvmm_vmm_event_type type;
	enum cvmm_vmm_stop stop;   /**< SHUTDOWN */
	int code;                  /**< SHUTDOWN: the exit code the stop carries */
	int vcpu;                  /**< VCPU_CRASH: which; else -1 */
	const char *id;            /**< DEVICE_*: the device id; else NULL */
	const char *detail;        /**< a human-readable line or block, or NULL */
};

/**
 * Receives every lifecycle event. Called on the thread that caused it (the
 * control thread, or a vCPU thread for a crash or a guest-requested stop):
 * keep it short and do not call back into the VM from it.
 */
typedef void (*cvmm_vmm_event_fn)(void *opaque, const struct cvmm_vmm_event *ev);

/**
 * Called first on every thread the VM starts, before it touches the
 * guest: a program installs its per-thread seccomp filter here. @type is
 * "vcpu" (@index: which), "virtio" (the device thread), "uffd" and
 * "fill" (an OnDemand snapshot restore's fault thread and background
 * fill; @index 0). A non-zero return stops the VM with
 * CVMM_VMM_STOP_HOST_ERROR (fail closed: that thread never runs guest
 * code); for "uffd"/"fill", cvmm_vmm_start() waits for both hooks and
 * fails (-EPERM or the hook's error) if either failed.
 */
typedef int (*cvmm_vmm_thread_fn)(void *opaque, const char *type, unsigned int index);

/* ------------------------------------------------------------------------ */
/* Creating a VM                                                             */
/* ------------------------------------------------------------------------ */

enum cvmm_vmm_mem_backing {
	CVMM_VMM_MEM_ANON = 0,     /**< private anonymous memory */
	CVMM_VMM_MEM_SHARED,       /**< a memfd (vhost-user backends map it) */
	CVMM_VMM_MEM_HUGETLB,      /**< hugetlbfs memfd (2 MiB pages) */
};

struct cvmm_vmm_opts {
	size_t sz;                      /**< sizeof(struct cvmm_vmm_opts) */
	uint64_t mem_size;              /**< bytes of guest RAM (> 0) */
	unsigned int ncpus;             /**< 1 .. CVMM_VMM_MAX_VCPUS */
	enum cvmm_vmm_mem_backing backing;
	bool prefault;                  /**< populate guest RAM up front */
	cvmm_vmm_event_fn event;        /**< NULL: events are dropped */
	cvmm_vmm_thread_fn thread_start;/**< NULL: threads start as they are */
	void *opaque;                   /**< passed to both callbacks */
	/**
	 * The control loop to live on (a program that serves an API before
	 * any VM exists owns one and creates VMs on it); NULL: the VM makes
	 * its own, run by cvmm_vmm_run(). On a loop of the program's, the VM's
	 * stop is handled by a callback of that loop (threads joined, state
	 * SHUTDOWN, event sent) and the loop goes on.
	 */
	struct cvmm_event_manager *em;
	/**
	 * Bytes of a per-vCPU KVM dirty ring (a power of two, e.g. 65536;
	 * 0: none). Live migration then takes dirty pages from the rings, at
	 * a cost that follows the dirty pages, not the guest size. Where KVM
	 * does not offer the ring the VM is made without it (the bitmap log
	 * is used). The ring must exist before the vCPUs, hence here.
	 */
	uint32_t dirty_ring_bytes;
};

/**
 * Create the KVM VM, its guest memory (registered as KVM memory slots
 * before the irqchip, which keeps start-up fast), the in-kernel irqchip
 * and PIT, the vCPUs (not yet running), the buses, the allocator and the
 * control loop. The fixed platform ranges (I/O APIC, LAPIC, TSS) are
 * reserved in the allocator.
 * @return 0 and *@out; -EINVAL (bad options, message in @err); -ENOENT /
 * -EACCES (/dev/kvm); -ENOMEM; errors of the KVM ioctls. On failure
 * nothing is left behind.
 * Thread safety: any thread; the VM is not shared yet.
 */
int cvmm_vmm_create(const struct cvmm_vmm_opts *o, struct cvmm_vmm **out,
		    char *err, size_t errlen);

/**
 * Stop the vCPUs if they run, destroy every device (in reverse order of
 * addition), then the vCPUs, the VM and its memory. NULL does nothing.
 * Thread safety: the control thread, after cvmm_vmm_run() returned (or
 * when the VM never started).
 */
void cvmm_vmm_destroy(struct cvmm_vmm *vmm);

struct cvmm_kvm *cvmm_vmm_kvm(const struct cvmm_vmm *vmm);
struct cvmm_kvm_vm *cvmm_vmm_kvm_vm(const struct cvmm_vmm *vmm);
struct cvmm_guest_mem *cvmm_vmm_mem(const struct cvmm_vmm *vmm);
unsigned int cvmm_vmm_ncpus(const struct cvmm_vmm *vmm);
/** The vCPU object, for boot-time set-up before cvmm_vmm_start(). */
struct cvmm_kvm_vcpu *cvmm_vmm_vcpu(const struct cvmm_vmm *vmm, unsigned int i);
/** The control loop (its own or opts.em). Add the program's fds (signals,
 * input) here. */
struct cvmm_event_manager *cvmm_vmm_event_manager(const struct cvmm_vmm *vmm);
enum cvmm_vmm_state cvmm_vmm_state(const struct cvmm_vmm *vmm);
const char *cvmm_vmm_state_name(enum cvmm_vmm_state s);

/* ------------------------------------------------------------------------ */
/* Buses                                                                     */
/* ------------------------------------------------------------------------ */

enum cvmm_vmm_bus_kind { CVMM_VMM_PIO = 0, CVMM_VMM_MMIO = 1 };

/**
 * A device's handler for an access at @offset (relative to the range's
 * base) of @len bytes (1-8; an access straddling the range's end is cut to
 * what lies inside). Reads fill @data; the bus pre-fills it with ones.
 * Called on vCPU threads, concurrently: the device serialises itself.
 */
typedef void (*cvmm_vmm_io_fn)(void *opaque, uint64_t offset, uint8_t *data,
			       uint32_t len, bool is_write);

/**
 * Map [@base, @base + @len) on a bus to @fn. Safe while vCPUs run: the
 * new table is published whole; no vCPU waits.
 * @return 0; -EINVAL (@len 0, wraps, @fn NULL); -EEXIST (overlaps a range
 * already mapped); -ENOSPC (the bus holds CVMM_VMM_BUS_MAX ranges); -ENOMEM.
 * Thread safety: any thread; bus changes are serialised internally.
 */
#define CVMM_VMM_BUS_MAX 256u
int cvmm_vmm_bus_add(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t base,
		     uint64_t len, cvmm_vmm_io_fn fn, void *opaque, const char *name);

/**
 * Unmap the range starting at @base. When this returns, no vCPU is still
 * inside the removed handler (it waits for the ones that were), so the
 * device may be freed.
 * @return 0; -ENOENT (no range starts at @base).
 * Thread safety: any thread except a vCPU thread (it would wait for itself).
 */
int cvmm_vmm_bus_remove(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t base);

/**
 * Dispatch one access as a vCPU exit would (reads of unclaimed addresses
 * return ones, writes to them are dropped). For tests and for devices that
 * forward accesses. @return true when a range claimed it.
 * Thread safety: any thread.
 */
bool cvmm_vmm_bus_access(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t addr,
			 uint8_t *data, uint32_t len, bool is_write);

/**
 * Add a guest RAM region while the VM is paused (memory hotplug, virtio-mem):
 * map it, register it as a KVM memory slot, and tell every device
 * (memory_changed) before anything runs again.
 * @return 0; -EBUSY (not PAUSED or CREATED); errors of
 * cvmm_guest_mem_add_region() and KVM_SET_USER_MEMORY_REGION (the region
 * is then removed again).
 * Thread safety: the control thread.
 */
int cvmm_vmm_memory_add(struct cvmm_vmm *vmm, const struct cvmm_mem_region_opts *o);

/**
 * Remove the region starting at @gpa while the VM is paused: KVM slot
 * deleted, devices told, then the mapping goes. The guest must have given
 * the memory up (no buffer of an in-flight request may lie in it).
 * @return 0; -EBUSY (not PAUSED or CREATED); -ENOENT.
 * Thread safety: the control thread.
 */
int cvmm_vmm_memory_remove(struct cvmm_vmm *vmm, uint64_t gpa);

/* ------------------------------------------------------------------------ */
/* Resource allocator                                                        */
/* ------------------------------------------------------------------------ */

enum cvmm_vmm_res_kind {
	CVMM_VMM_RES_MMIO32 = 0, /**< MMIO below 4 GiB (the 32-bit hole) */
	CVMM_VMM_RES_MMIO64,     /**< MMIO above guest RAM */
	CVMM_VMM_RES_PIO,        /**< port I/O */
	CVMM_VMM_RES_GSI,        /**< I/O APIC pins for devices (5..23, legacy lines excluded) */
	CVMM_VMM_RES_MSI,        /**< GSIs for MSI routes (24 and up) */
	CVMM_VMM_RES_KINDS,
};

/** One allocation, recorded with its owner so a restore can rebuild it. */
struct cvmm_vmm_resource {
	uint32_t kind;          /**< enum cvmm_vmm_res_kind */
	uint32_t rsvd;
	uint64_t base;
	uint64_t len;
	char owner[CVMM_VMM_ID_MAX];
};

/**
 * Allocate @len units (bytes, ports or GSIs) aligned to @align (a power of
 * two; 0 or 1: none) from the pool of @kind, first fit, for @owner.
 * @return 0 and *@base; -EINVAL; -ENOSPC (the pool is exhausted).
 * Thread safety: the control thread.
 */
int cvmm_vmm_alloc(struct cvmm_vmm *vmm, enum cvmm_vmm_res_kind kind, uint64_t len,
		   uint64_t align, const char *owner, uint64_t *base);

/**
 * Claim exactly [@base, @base + @len) (a fixed platform range, or a range
 * a restore takes back from saved state).
 * @return 0; -EINVAL (outside the pool); -EBUSY (overlaps an allocation).
 * Thread safety: the control thread.
 */
int cvmm_vmm_alloc_at(struct cvmm_vmm *vmm, enum cvmm_vmm_res_kind kind, uint64_t base,
		      uint64_t len, const char *owner);

/** Release every allocation of @owner. @return how many were freed. */
int cvmm_vmm_alloc_free_owner(struct cvmm_vmm *vmm, const char *owner);

/**
 * Copy up to @max allocations (ordered by kind, then base) to @out.
 * @return the total count (may exceed @max). Thread safety: control thread.
 */
int cvmm_vmm_alloc_list(const struct cvmm_vmm *vmm, struct cvmm_vmm_resource *out,
			unsigned int max);

/* ------------------------------------------------------------------------ */
/* Device manager                                                            */
/* ------------------------------------------------------------------------ */

struct cvmm_snap_writer;
struct cvmm_snap_reader;

/** Guest [gpa, gpa + size) as another process maps it, at its address addr. */
struct cvmm_vmm_pc_region {
	uint64_t gpa, size, addr;
};

/**
 * What the VM asks of every device, whatever its kind and transport. Only
 * destroy is required; a NULL op means "nothing to do" (pause, resume,
 * dirty logging) or "no state of its own" (save/restore). Every op runs on
 * the control thread, with the vCPUs paused for save and restore.
 */
struct cvmm_vmm_device_ops {
	/** Stop processing guest requests; finish or park what is in flight. */
	int (*pause)(void *dev);
	/** Go on after pause (or after restore). */
	int (*resume)(void *dev);
	/** Write the device's state as sections whose ids start with @id. */
	int (*save)(void *dev, struct cvmm_snap_writer *w, const char *id);
	/**
	 * Load state written by save(); on a refusal, write one line naming
	 * the section and field to @err and return -EINVAL.
	 */
	int (*restore)(void *dev, struct cvmm_snap_reader *r, const char *id,
		       char *err, size_t errlen);
	/** Start (@on) or stop logging the guest pages the device writes. */
	int (*dirty_log)(void *dev, bool on);
	/**
	 * Move pages the device logged elsewhere (a vhost-user backend's
	 * shared log) into guest memory's dirty bitmap; before each
	 * migration pass reads it. @return pages marked or negative errno. */
	long (*dirty_harvest)(void *dev);
	/**
	 * Guest memory changed shape (cvmm_vmm_memory_add/remove, VM paused):
	 * drop or re-translate whatever points into it (virtqueue rings). */
	int (*memory_changed)(void *dev);
	/** Free everything; the device is off every bus already. */
	void (*destroy)(void *dev);
	/**
	 * Post-copy at the destination, for a device that maps guest RAM in
	 * another process (vhost-user): before the state is restored, hand
	 * out a userfaultfd over that mapping in *@ufd (the VM serves its
	 * faults); -EOPNOTSUPP: the device cannot take part (the receive is
	 * refused). */
	int (*postcopy_begin)(void *dev, int *ufd);
	/** Where that mapping is: up to @max regions; @return the count (0
	 * while unknown). Any thread. */
	unsigned int (*postcopy_regions)(void *dev, struct cvmm_vmm_pc_region *out,
					 unsigned int max);
	/** Every page is here: the device stops faulting. */
	int (*postcopy_end)(void *dev);
};

/** A device in the table. */
struct cvmm_vmm_device_info {
	char id[CVMM_VMM_ID_MAX];
	const char *kind;           /**< "virtio-blk", "serial", ... */
	void *dev;
	const struct cvmm_vmm_device_ops *ops;
};

/**
 * Make a device id from @prefix as Cloud Hypervisor does ("_disk" ->
 * "_disk3"): one counter for the whole VM, skipping ids in use.
 * @return 0; -ENAMETOOLONG. Thread safety: the control thread.
 */
int cvmm_vmm_device_next_id(struct cvmm_vmm *vmm, const char *prefix,
			    char id[CVMM_VMM_ID_MAX]);

/**
 * Add @dev under @id (NULL: cvmm_vmm_device_next_id(@prefix)). The VM takes
 * ownership: ops->destroy runs on removal or when the VM is destroyed.
 * Before cvmm_vmm_start() or while paused the device joins paused; while
 * running it joins running.
 * @return 0 (the id used is copied to @out_id when not NULL); -EEXIST (the
 * id is taken; the device is not taken over); -EINVAL (bad id: empty, too
 * long, or characters other than [A-Za-z0-9_.-]; no ops->destroy);
 * -ENOMEM.
 * Thread safety: the control thread.
 */
int cvmm_vmm_device_add(struct cvmm_vmm *vmm, const char *id, const char *prefix,
			const char *kind, const struct cvmm_vmm_device_ops *ops, void *dev,
			char out_id[CVMM_VMM_ID_MAX]);

/**
 * Remove the device @id: free its resources (allocator), destroy it. The
 * caller removed its bus ranges first. @return 0; -ENOENT.
 * Thread safety: the control thread.
 */
int cvmm_vmm_device_remove(struct cvmm_vmm *vmm, const char *id);

/** The device @id, or NULL. Thread safety: the control thread. */
void *cvmm_vmm_device_find(const struct cvmm_vmm *vmm, const char *id);

/**
 * Copy up to @max entries of the table, in the order devices were added.
 * @return the total count. Thread safety: the control thread.
 */
int cvmm_vmm_device_list(const struct cvmm_vmm *vmm, struct cvmm_vmm_device_info *out,
			 unsigned int max);

/* ------------------------------------------------------------------------ */
/* The legacy x86 platform                                                   */
/* ------------------------------------------------------------------------ */

/* Fixed addresses of the microVM platform (docs/microvm.md). */
#define CVMM_VMM_IOAPIC_ADDR 0xfec00000ull
#define CVMM_VMM_LAPIC_ADDR 0xfee00000ull
#define CVMM_VMM_SERIAL_PORT 0x3f8
#define CVMM_VMM_SERIAL_IRQ 4
#define CVMM_VMM_I8042_PORT 0x60
#define CVMM_VMM_RTC_PORT 0x70
#define CVMM_VMM_POST_PORT 0x80       /**< POST codes: the boot timer */
#define CVMM_VMM_DEBUG_EXIT_PORT 0xf4 /**< test guests' exit code */
#define CVMM_VMM_SLEEP_PORT 0x600     /**< ACPI hardware-reduced sleep control/status */

struct cvmm_vmm_platform_opts {
	size_t sz;              /**< sizeof(struct cvmm_vmm_platform_opts) */
	int serial_out_fd;      /**< the guest's serial output goes here; -1 drops it */
	bool debug_exit;        /**< port 0xf4 stops the VM with the guest's exit code */
	/** Boot timer: each byte written to port 0x80, with the nanoseconds
	 * since @t0_ns (called on a vCPU thread). NULL: port unclaimed. */
	void (*post_code)(void *opaque, uint8_t code, uint64_t ns);
	uint64_t t0_ns;
	void *opaque;
};

/**
 * Put the legacy platform on the port bus as device "__platform": COM1
 * (16550A on GSI 4), the i8042 (its reset command stops the VM with
 * CVMM_VMM_STOP_RESET), the CMOS RTC (told the RAM size), the ACPI sleep
 * register (S5: CVMM_VMM_STOP_POWEROFF) and the optional ports of @o.
 * The VM does not own @o->serial_out_fd.
 * @return 0; -EEXIST (already added); -EINVAL; errors of KVM_IRQFD and the
 * models, with @err naming the piece.
 * Thread safety: the control thread, before cvmm_vmm_start().
 */
int cvmm_vmm_platform_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_platform_opts *o,
			  char *err, size_t errlen);

/**
 * Feed host input to the serial port's receive FIFO. @return bytes taken
 * (fewer than @len when the FIFO is full: offer the rest later).
 * Thread safety: any thread.
 */
size_t cvmm_vmm_serial_input(struct cvmm_vmm *vmm, const uint8_t *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* ACPI Generic Event Device, power button, PCI hotplug (src/ged.c)          */
/* ------------------------------------------------------------------------ */

/**
 * Give the VM an ACPI Generic Event Device as device "__ged": a 4 KiB MMIO
 * page and an I/O APIC line (edge) from the allocator, described in the
 * DSDT by cvmm_vmm_acpi_setup() with a power button (\_SB.PWRB) and, when
 * the VM has PCI, ACPI PCI hotplug (slot devices, PCNT, eject register;
 * layout in acpi-tables.h: CVMM_ACPI_GED_*, CVMM_ACPI_PCIHP_* at page
 * offset 0x10). Its registers are saved as section "dev/__ged/ged".
 * @return 0; -EEXIST; -EBUSY (the VM started); -ENOSPC (no window or
 * line); KVM and event-manager errors; @err says which.
 * Thread safety: the control thread, before cvmm_vmm_start().
 */
int cvmm_vmm_ged_add(struct cvmm_vmm *vmm, char *err, size_t errlen);

/**
 * Where the GED is (page base; event word at 0, PCI hotplug at 0x10) and
 * its GSI; either pointer may be NULL.
 * @return 0; -EINVAL; -ENODEV (no GED).
 * Thread safety: any thread after cvmm_vmm_ged_add().
 */
int cvmm_vmm_ged_info(const struct cvmm_vmm *vmm, uint64_t *base, uint32_t *gsi);

/**
 * Press the ACPI power button: set CVMM_ACPI_GED_POWER_BUTTON in the event
 * word and interrupt the guest; its _EVT does Notify(\_SB.PWRB, 0x80) (a
 * Linux guest then runs its power-key handling). Presses before the guest
 * reads the word coalesce. A paused VM sees it when it resumes.
 * @return 0; -EINVAL (@vmm NULL); -ENODEV (no GED, or the VM is not
 * running or paused).
 * Thread safety: any thread (the API thread, a signal-handling loop).
 */
int cvmm_vmm_power_button(struct cvmm_vmm *vmm);

/**
 * Open a window in which devices may join or leave a booted VM: a running
 * VM is quiesced as for a pause (vCPUs parked, devices paused, device
 * thread stopped) but without events, and cvmm_vmm_state() says Paused
 * until cvmm_vmm_hotplug_end(). Inside it, create models on
 * cvmm_vmm_device_loop() and call cvmm_vmm_virtio_pci_add(); end resumes
 * what begin paused and tells the guest of each new slot (PCIU bit, GED
 * PCI-hotplug event, interrupt). Nothing happens on a VM in Created state
 * (add devices directly).
 * @return 0; -EINVAL; -EBUSY (already open, or the VM is not running or
 * paused); pause errors (nothing changed).
 * Thread safety: the control thread.
 */
int cvmm_vmm_hotplug_begin(struct cvmm_vmm *vmm);
/**
 * Close the window. @return 0; -EBUSY (none open); resume errors (logged;
 * the VM runs).
 * Thread safety: the control thread.
 */
int cvmm_vmm_hotplug_end(struct cvmm_vmm *vmm);

/**
 * Remove device @id. Before start (or after the VM stopped) it goes at
 * once, as cvmm_vmm_device_remove(). On a booted VM only a PCI device can
 * leave, and only with the guest's consent, as with Cloud Hypervisor: its
 * slot's PCID bit is set and the GED interrupts; the device is removed
 * (DEVICE_REMOVED event) when the guest's _EJ0 writes the slot's bit to the
 * eject register. A guest that never ejects keeps the device. The guest
 * cannot eject a slot the host did not offer (refused, logged).
 * @return 0 (removed, or removal requested: see
 * cvmm_vmm_device_unplug_pending()); -EINVAL; -ENOENT (no such device);
 * -EOPNOTSUPP (not a PCI device, or no GED, on a booted VM); -EALREADY
 * (requested before, the guest has not ejected yet); @err says which.
 * Thread safety: the control thread.
 */
int cvmm_vmm_device_unplug(struct cvmm_vmm *vmm, const char *id, char *err, size_t errlen);
/** True while a requested removal of @id waits for the guest's eject.
 * Thread safety: the control thread. */
bool cvmm_vmm_device_unplug_pending(const struct cvmm_vmm *vmm, const char *id);

/* ------------------------------------------------------------------------ */
/* virtio devices                                                            */
/* ------------------------------------------------------------------------ */

struct cvmm_virtio_device;
struct cvmm_acpi_virtio_mmio;

/** virtio-mmio windows are this far apart (one page each). */
#define CVMM_VMM_VIRTIO_MMIO_STRIDE 0x1000ull

/**
 * The device thread's loop: create every virtio device model on it (they
 * subscribe their fds there). Created on first use; the thread runs from
 * cvmm_vmm_start() (thread type "virtio") and stops while the VM is paused.
 * @return the loop, or NULL when it cannot be created (out of memory or fds).
 * Thread safety: the control thread.
 */
struct cvmm_event_manager *cvmm_vmm_device_loop(struct cvmm_vmm *vmm);

struct cvmm_vmm_virtio_opts {
	size_t sz;                      /**< sizeof(struct cvmm_vmm_virtio_opts) */
	const char *id;                 /**< NULL: made from @prefix */
	const char *prefix;             /**< "_disk", "_net", "_vsock", "__rng", ... */
	const char *kind;               /**< "virtio-blk", ... (messages, vm.info) */
	struct cvmm_virtio_device *dev; /**< the model, on cvmm_vmm_device_loop() */
	void *model;                    /**< passed to @detach and @destroy */
	/** Called before the transport goes (vhost-user: drop the connection). */
	void (*detach)(void *model);
	/** Frees the model; the VM owns it once the add succeeded. */
	void (*destroy)(void *model);
	bool used_irq_direct;           /**< see struct cvmm_virtio_mmio_opts */
	/*
	 * Optional model hooks the device's ops call (vhost-user: stop and
	 * start the backend's rings, its shared dirty log). pause, resume and
	 * dirty_log run on the device thread; dirty_harvest on the caller's.
	 */
	int (*pause)(void *model);
	int (*resume)(void *model);
	int (*dirty_log)(void *model, bool on);
	long (*dirty_harvest)(void *model);
	/* Post-copy hooks (struct cvmm_vmm_device_ops): begin and regions on
	 * the caller's thread, end on the device thread. */
	int (*postcopy_begin)(void *model, int *ufd);
	unsigned int (*postcopy_regions)(void *model, struct cvmm_vmm_pc_region *out,
					 unsigned int max);
	int (*postcopy_end)(void *model);
	/** virtio-pci: the slot (1..31), or 0 for the lowest free one. */
	unsigned int pci_slot;
	/**
	 * virtio-pci: the device sits behind a virtio-iommu; this is its
	 * endpoint's translation (cvmm_iommu_endpoint_add(), endpoint = the
	 * BDF, slot << 3). Every ring and buffer goes through it and the
	 * driver must accept ACCESS_PLATFORM. Must outlive the device. Add
	 * the virtio-iommu before the devices behind it: devices restore in
	 * the order they were added, and a restored queue translates its
	 * rings through the IOMMU's restored mappings.
	 * A vhost-user model (@detach) must have been created with
	 * cvmm_vhost_user_dev_opts.iommu: its backend translates through an
	 * IOTLB the model keeps in step with this translation.
	 */
	const struct cvmm_dma_xlate *dma;
};

/*
 * The core has no default transport: a caller picks this call or
 * cvmm_vmm_virtio_pci_add() (after cvmm_vmm_pci_add()) for each device.
 * The configuration layer above it (cvmm/vmm/config.h, cvmm_vm_build())
 * does the choosing: a device's own transport=, else the VM's
 * (--transport, VmConfig platform.transport), else virtio-pci, as in
 * Cloud Hypervisor.
 */

/**
 * Attach a device model on a virtio-mmio transport: an MMIO window
 * (CVMM_VMM_VIRTIO_MMIO_STRIDE aligned in the 32-bit hole) and an I/O APIC
 * line from the allocator, the registers on the MMIO bus, a KVM ioeventfd
 * per queue and an irqfd, and a device-table entry owning transport and
 * model. On failure nothing is left attached and the model stays the
 * caller's.
 * @return 0 (id in @out_id when not NULL); -EINVAL; -EEXIST (id taken);
 * -ENOSPC (no window or line left); KVM and transport errors. @err names
 * the device kind and what failed.
 * Thread safety: the control thread, before start (hotplug needs PCI).
 */
int cvmm_vmm_virtio_mmio_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_virtio_opts *o,
			     char out_id[CVMM_VMM_ID_MAX], char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* PCI (crates/vmm/src/pci.c)                                                */
/* ------------------------------------------------------------------------ */

struct cvmm_pci_segment;

/** Where PCI lives, for ACPI (MCFG, the root's _CRS) and tests. */
struct cvmm_vmm_pci_info {
	uint16_t segment;
	uint8_t bus_start, bus_end;
	uint64_t ecam_base;             /**< 1 MiB: bus 0 */
	uint64_t mmio32_base, mmio32_size; /**< BAR window below 4 GiB */
	uint64_t mmio64_base, mmio64_size; /**< BAR window above RAM */
};

/**
 * Give the VM PCI segment 0: ports 0xCF8..0xCFF and an ECAM window (1 MiB,
 * bus 0) for configuration access, a host bridge at 00.0, and two BAR
 * windows (64 MiB in the 32-bit hole, 1 GiB above RAM) from the
 * allocator (owner "__pci"). A BAR the guest programs inside a window is
 * reached there; outside, it is unreachable (logged).
 * @return 0; -EEXIST (already added); -ENOSPC (no room in the pools);
 * bus errors; @err says which.
 * Thread safety: the control thread, before cvmm_vmm_start().
 */
int cvmm_vmm_pci_add(struct cvmm_vmm *vmm, char *err, size_t errlen);
/** @return 0 and *@out; -ENOENT (no PCI); -EINVAL. Thread-safe after add. */
int cvmm_vmm_pci_info(const struct cvmm_vmm *vmm, struct cvmm_vmm_pci_info *out);
/** The segment (for cvmm_pci_segment_* calls), or NULL without PCI. */
struct cvmm_pci_segment *cvmm_vmm_pci_segment(const struct cvmm_vmm *vmm);

/**
 * Attach a device model on a virtio-pci transport (modern, 32-bit BAR 0)
 * in the lowest free slot: an INTx line (GSI pool, written to Interrupt
 * Line) and num_queues + 1 MSI GSIs from the allocator; the queues'
 * ioeventfds follow BAR 0 wherever the guest maps it; each MSI-X vector
 * becomes a KVM MSI route and irqfd while the guest leaves it usable.
 * Save/restore through sections "dev/<id>/virtio-pci" and "dev/<id>/device".
 * @o->used_irq_direct: the ISR always shows the used bit (for INTx; every
 * MSI-X vector has its own eventfd anyway).
 * @o->pci_slot: that slot (a program naming addresses before boot, as
 * Cloud Hypervisor's API answers do), or 0: the lowest free one.
 * @return 0 (id in @out_id, slot in *@out_slot when not NULL); -ENODEV (no
 * PCI: cvmm_vmm_pci_add() first); -EINVAL (also pci_slot above 31); -EEXIST;
 * -EBUSY (pci_slot taken); -ENOSPC (no slot, line or GSIs); KVM and
 * transport errors, named in @err. On a booted VM (hotplug): -EOPNOTSUPP
 * (no GED), -EBUSY (outside cvmm_vmm_hotplug_begin/end).
 * Thread safety: the control thread; before start, or inside a hotplug
 * window.
 */
int cvmm_vmm_virtio_pci_add(struct cvmm_vmm *vmm, const struct cvmm_vmm_virtio_opts *o,
			    char out_id[CVMM_VMM_ID_MAX], unsigned int *out_slot, char *err,
			    size_t errlen);

/**
 * The virtio-mmio devices as ACPI and the kernel command line describe
 * them, in table order. @return the total count (may exceed @max).
 * Thread safety: the control thread.
 */
int cvmm_vmm_virtio_mmio_list(const struct cvmm_vmm *vmm, struct cvmm_acpi_virtio_mmio *out,
			      unsigned int max);

/* ------------------------------------------------------------------------ */
/* Booting                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Write the ACPI tables (RSDP, XSDT, FADT, MADT, DSDT with the platform
 * and every virtio-mmio device) into guest memory. Called by
 * cvmm_vmm_boot_linux(); a program booting something else (a test guest)
 * calls it itself. @return 0 and *@rsdp_gpa; -E2BIG; acpi-tables errors.
 * Thread safety: the control thread, before start.
 */
int cvmm_vmm_acpi_setup(struct cvmm_vmm *vmm, uint64_t *rsdp_gpa);

struct cvmm_vmm_boot_opts {
	size_t sz;                /**< sizeof(struct cvmm_vmm_boot_opts) */
	int kernel_fd;            /**< ELF vmlinux (PVH or 64-bit entry) or bzImage; not owned */
	int initrd_fd;            /**< -1: none; not owned */
	const char *cmdline;      /**< the kernel command line (NULL: empty) */
	const char *kernel_name;  /**< for messages */
};

/**
 * Boot Linux: ACPI tables, the kernel and initrd loaded (the loader treats
 * the image as hostile), every vCPU's CPUID (kvmclock, the TSC frequency),
 * MSRs, FPU and LAPIC, and the boot vCPU at the kernel's entry; the others
 * wait for the kernel's INIT/SIPI. virtio_mmio.device= entries are added
 * to the command line only when it says acpi=off (otherwise the DSDT is
 * the one registration of each device).
 * @return 0; negative errno with @err: "ACPI tables: ...", "cmdline: ...",
 * "kernel: 'NAME': ...", "vCPU N setup: ...".
 * Thread safety: the control thread, before start.
 */
int cvmm_vmm_boot_linux(struct cvmm_vmm *vmm, const struct cvmm_vmm_boot_opts *o, char *err,
			size_t errlen);

/* ------------------------------------------------------------------------ */
/* Whole-VM state                                                            */
/* ------------------------------------------------------------------------ */

#define CVMM_VMM_SAVE_MEMORY 0x1u            /**< guest RAM into "mem/N" sections */
#define CVMM_VMM_RESTORE_MEMORY 0x1u         /**< load guest RAM from "mem/N" */
/** kvmclock moves on by the wall time since the save (live migration);
 * without it the guest's clock goes on from the saved value. */
#define CVMM_VMM_RESTORE_CLOCK_REALTIME 0x2u

/**
 * Write the whole VM into @w as sections: "vm" (shape: vCPUs, RAM, counts),
 * "vm/kvm" (PIC pair, IOAPIC, PIT, kvmclock), "vm/alloc" (every
 * allocation and its owner), "vm/devices" (ids and kinds in table order),
 * "vcpu/N" (each vCPU's whole state, taken on its own thread), then each
 * device's sections "dev/ID/...", and with CVMM_VMM_SAVE_MEMORY guest RAM
 * as "mem/N" (fine for small VMs; snapshots keep memory in a file of its
 * own). The caller finishes the writer.
 * @return 0; -EBUSY (not PAUSED); -EINVAL; write and device errors, with
 * @err saying which part.
 * Thread safety: the control thread.
 */
int cvmm_vmm_save(struct cvmm_vmm *vmm, struct cvmm_snap_writer *w, unsigned int flags,
		  char *err, size_t errlen);

/**
 * Load a stream written by cvmm_vmm_save() into a VM created with the same
 * shape and the same devices (ids, kinds, and so the same layout: the
 * program re-creates them from the saved configuration), before start.
 * The stream is hostile: everything that can be checked without touching
 * the VM is (shape, device table, layout, the KVM and every vCPU section,
 * which sections belong to whom) before anything is written. A section no
 * part of this VM claims is refused. A refusal puts one line in @err
 * naming the section and field: "state section 'vcpu/1' field 'nmsrs':
 * value 5000 out of range [0, 1024]".
 * @return 0 (start the VM, or keep it for a later start); -EBUSY (the VM
 * ran or was restored already); the snapshot crate's errors (-EINVAL,
 * -ERANGE, -ENOENT for a missing section, -EPROTONOSUPPORT for a newer
 * layout); device and KVM errors. After a failure past the checks the VM
 * refuses to start (-EIO): destroy it.
 * Thread safety: the control thread.
 */
int cvmm_vmm_restore(struct cvmm_vmm *vmm, struct cvmm_snap_reader *r, unsigned int flags,
		     char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Snapshots on disk (snapshot.c, docs/snapshot.md)                          */
/* ------------------------------------------------------------------------ */

/*
 * A snapshot is a directory:
 *   config.json  the program's configuration, stored as given (opaque here)
 *   state        the whole-VM state stream (cvmm_vmm_save() without RAM)
 *   memory       guest RAM, regions one after the other in GPA order; a
 *                sparse file: pages never touched or all zero are holes
 *   manifest     a state-format stream naming the RAM layout, the sizes
 *                and the config's CRC; written last
 * It is built under "DIR.tmp-PID", fsync'ed, and renamed to DIR at the
 * end: a snapshot that failed or was killed never leaves a directory that
 * looks valid under DIR. Every file is hostile input when read back.
 */
#define CVMM_VMM_SNAPSHOT_CONFIG "config.json"
#define CVMM_VMM_SNAPSHOT_STATE "state"
#define CVMM_VMM_SNAPSHOT_MEMORY "memory"
#define CVMM_VMM_SNAPSHOT_MANIFEST "manifest"

/**
 * Progress of a snapshot or restore: @done of @total bytes of guest
 * memory (@what: "memory" while writing or copying it, "stream" for an
 * OnDemand restore's background fill). Called on the thread doing the
 * work (the control thread, or the fill thread): keep it short.
 */
typedef void (*cvmm_vmm_progress_fn)(void *opaque, const char *what, uint64_t done,
				     uint64_t total);

struct cvmm_vmm_snapshot_opts {
	size_t sz;                     /**< sizeof(struct cvmm_vmm_snapshot_opts) */
	const void *config;            /**< the program's configuration (JSON), or NULL */
	size_t config_len;
	cvmm_vmm_progress_fn progress; /**< NULL: none */
	void *opaque;
	/**
	 * A diff snapshot: only the pages written since the previous snapshot
	 * (dirty tracking must be on: cvmm_vmm_snapshot_track()), each
	 * listed in the manifest's "snapshot/dirty" bitmap; the state and
	 * config are whole. It is not restored by itself: a restore of its
	 * base takes it (cvmm_vmm_snapshot_add_diff()), or
	 * cvmm_vmm_snapshot_merge() applies it onto its base.
	 */
	bool diff;
};

/**
 * Write a snapshot of the PAUSED VM to directory @dir (which must not
 * exist, or be empty). The VM stays paused and can be resumed whatever
 * happens. Guest memory is read through the VMM's mapping; only pages the
 * kernel has (present or swapped, or data of the file a restore mapped)
 * are looked at, and all-zero ones are left as holes.
 * @return 0; -EBUSY (not PAUSED); -EEXIST (@dir exists and is not empty);
 * -EINVAL; -errno of the file system (-ENOSPC, -EACCES, ...) with @err
 * naming the file; errors of cvmm_vmm_save(). On failure the temporary
 * directory is removed and @dir is untouched.
 * Thread safety: the control thread.
 */
int cvmm_vmm_snapshot(struct cvmm_vmm *vmm, const char *dir,
		      const struct cvmm_vmm_snapshot_opts *o, char *err, size_t errlen);

/**
 * Turn dirty tracking for diff snapshots on (KVM's dirty log on every
 * memory slot, the VMM's bitmap of device writes, the devices' hooks) or
 * off. While it is on, every snapshot (full or diff) starts a new interval:
 * the next diff holds what was written after it.
 * @return 0; -EBUSY (not PAUSED, or a migration tracks already); -EALREADY
 * (already in that state); KVM errors with @err.
 * Thread safety: the control thread.
 */
int cvmm_vmm_snapshot_track(struct cvmm_vmm *vmm, bool on, char *err, size_t errlen);

/**
 * Apply the diff snapshot @diff onto the full snapshot @base, in place:
 * every page @diff lists is written into @base's memory file (zero pages
 * become holes), then @base takes @diff's state and config and a new
 * manifest. Both are checked as on open (and must have the same RAM
 * layout). While it works @base has no manifest (its old one is renamed
 * "manifest.merging"), so a merge that fails or is killed never leaves a
 * directory that looks valid; copy @base first to keep it.
 * @return 0; -EINVAL (not a full base and a diff of the same layout, a
 * malformed file; @err names it); -errno of the file system.
 * Thread safety: any thread.
 */
int cvmm_vmm_snapshot_merge(const char *base, const char *diff, char *err, size_t errlen);

/** A snapshot directory opened and checked for restore. */
struct cvmm_vmm_snapshot;

/**
 * Open @dir for restore: read and check the manifest, the config (its
 * CRC), the state stream's framing (every section's CRC), and the memory
 * file (a regular file exactly as long as the manifest's RAM). The memory
 * file stays open (a restore may delete or replace it afterwards: the VM
 * keeps reading the one it opened). A refusal names the file and what is
 * wrong: "snapshot '/s': memory file '/s/memory': 1048576 bytes, the
 * snapshot's RAM needs 134217728".
 * @return 0 and *@out; -ENOENT (a file is missing); -EINVAL (a file is
 * malformed or inconsistent); -errno of open/read; -ENOMEM.
 * Thread safety: any thread.
 */
int cvmm_vmm_snapshot_open(const char *dir, struct cvmm_vmm_snapshot **out, char *err,
			   size_t errlen);

/**
 * Restore diff snapshot @dir on top of @s (a chain: add each diff, oldest
 * first). @dir is checked as cvmm_vmm_snapshot_open() checks a snapshot,
 * must be a diff (cvmm_vmm_snapshot_opts.diff) of the same RAM layout and
 * not older than what it is added on; its state and config become @s's
 * (cvmm_vmm_snapshot_config() then returns the diff's). When @s is
 * restored, the pages each diff holds are written over the base's memory
 * in order, whatever the memory mode; neither directory changes (unlike
 * cvmm_vmm_snapshot_merge()).
 * @return 0; -EINVAL (not a diff, other layout, older, malformed: @err
 * names the file); -E2BIG (more than 64 diffs); -errno of open/read.
 * Thread safety: as @s.
 */
int cvmm_vmm_snapshot_add_diff(struct cvmm_vmm_snapshot *s, const char *dir, char *err,
			       size_t errlen);

/** The stored configuration (NUL-terminated after @len bytes; @len may be NULL). */
const char *cvmm_vmm_snapshot_config(const struct cvmm_vmm_snapshot *s, size_t *len);
/** Bytes of guest RAM the snapshot holds. */
uint64_t cvmm_vmm_snapshot_mem_size(const struct cvmm_vmm_snapshot *s);
/** Close (a restore that took the memory file keeps its own reference). NULL: nothing. */
void cvmm_vmm_snapshot_close(struct cvmm_vmm_snapshot *s);

enum cvmm_vmm_mem_restore {
	/** Read the memory file's data into fresh guest RAM now (holes stay zero). */
	CVMM_VMM_MEM_RESTORE_COPY = 0,
	/**
	 * userfaultfd on guest RAM, served by a thread of the VMM: a page is
	 * filled from the file when the guest, a device or the VMM first
	 * touches it (holes become zero pages without a read) while a
	 * background thread streams in the rest. Needs private (ANON) RAM.
	 */
	CVMM_VMM_MEM_RESTORE_ON_DEMAND,
	/**
	 * The memory file mapped MAP_PRIVATE over guest RAM: clones of one
	 * snapshot share its page cache and copy a page when they write it.
	 * Needs private (ANON) RAM; the file must stay unchanged while a VM
	 * restored from it lives (deleting it is fine).
	 */
	CVMM_VMM_MEM_RESTORE_SHARED,
};

struct cvmm_vmm_restore_opts {
	size_t sz;                     /**< sizeof(struct cvmm_vmm_restore_opts) */
	enum cvmm_vmm_mem_restore mode;
	/** Shared: populate the mapping now; OnDemand: return once the
	 * background fill is complete; Copy: nothing more. */
	bool prefault;
	/** CVMM_VMM_RESTORE_CLOCK_REALTIME or 0 (the guest's clock goes on
	 * from the saved value: no jump for the time spent stopped). */
	unsigned int flags;
	cvmm_vmm_progress_fn progress; /**< NULL: none */
	void *opaque;
};

/**
 * Restore snapshot @s into @vmm, created with the snapshot's shape and
 * devices (the program re-creates them from cvmm_vmm_snapshot_config(),
 * with its overrides) and not yet started: guest memory first (checked
 * against the manifest's layout), then cvmm_vmm_restore() of the state.
 * Then cvmm_vmm_start() runs the guest from where it was.
 * @return 0; -EBUSY (started or restored already); -EINVAL (layout
 * mismatch, a mode this RAM cannot do: @err says why); -errno of the
 * memory file reads, userfaultfd or mmap; errors of cvmm_vmm_restore().
 * After a failure the VM refuses to start: destroy it.
 * Thread safety: the control thread.
 */
int cvmm_vmm_snapshot_restore(struct cvmm_vmm *vmm, struct cvmm_vmm_snapshot *s,
			      const struct cvmm_vmm_restore_opts *o, char *err, size_t errlen);

/**
 * An OnDemand restore's fill: bytes of the memory file's data copied in
 * so far (by faults or the background thread) and in total.
 * @return true while the background thread still runs.
 * Thread safety: any thread.
 */
bool cvmm_vmm_restore_progress(const struct cvmm_vmm *vmm, uint64_t *done, uint64_t *total);

/** Parse "Copy", "OnDemand" or "Shared" (Cloud Hypervisor's names; its
 * newer "CopyOnWrite", a private mapping of the file, is Shared).
 * @return 0; -EINVAL. Thread safety: reentrant. */
int cvmm_vmm_mem_restore_parse(const char *s, enum cvmm_vmm_mem_restore *out);

/* ------------------------------------------------------------------------ */
/* Live migration (migrate*.c, docs/migration.md)                            */
/* ------------------------------------------------------------------------ */

enum cvmm_vmm_mig_state {
	CVMM_VMM_MIG_NONE = 0,     /**< no migration yet */
	CVMM_VMM_MIG_SETUP,        /**< START sent / received */
	CVMM_VMM_MIG_PRECOPY,      /**< passes over RAM while the guest runs */
	CVMM_VMM_MIG_STOPCOPY,     /**< source paused: last pages and the device state */
	CVMM_VMM_MIG_POSTCOPY,     /**< the destination runs; pages still come, on demand and pushed */
	CVMM_VMM_MIG_COMPLETED,    /**< the destination runs; the source stays paused */
	CVMM_VMM_MIG_FAILED,       /**< see error; the source runs again */
	CVMM_VMM_MIG_CANCELLED,    /**< cvmm_vmm_migrate_cancel(); the source runs again */
	/**
	 * Post-copy lost its link after the switch-over (see error). The
	 * source keeps its paused, complete copy; the destination keeps its
	 * VM, whose threads wait on the pages it lacks (never wrong data).
	 * A new connection resumes it: cvmm_vmm_migrate_opts.resume on the
	 * source, a receive of the resuming START on the destination.
	 */
	CVMM_VMM_MIG_POSTCOPY_PAUSED,
};

/** A migration's figures, readable at any time and passed to the callback. */
struct cvmm_vmm_mig_progress {
	enum cvmm_vmm_mig_state state;
	uint32_t pass;              /**< 0: the first pass over all RAM */
	uint64_t bytes_sent;        /**< on the wire, headers included */
	uint64_t bytes_remaining;   /**< dirty pages not yet sent, in bytes */
	uint64_t pages_sent;        /**< pages with data */
	uint64_t zero_pages;        /**< pages sent as zero markers */
	uint64_t dirty_rate;        /**< pages dirtied per second, last pass */
	uint64_t bandwidth;         /**< bytes per second, last pass */
	uint64_t expected_downtime_ms;
	uint32_t throttle_pct;      /**< auto-converge: share of time the vCPUs are held */
	uint64_t page_requests;     /**< post-copy: pages the destination asked for */
	bool dirty_ring;            /**< dirty pages come from the KVM dirty ring (else the bitmap) */
	/** Post-copy, destination: fault service time from the request to
	 * the page in place, median and 99th percentile (microseconds). */
	uint64_t fault_median_us, fault_p99_us;
	uint64_t total_ms;          /**< since the start (final once done) */
	uint64_t downtime_ms;       /**< source paused until the destination's verdict */
	/** Pre-copy did not converge and switched to post-copy (the pages
	 * dirtied since the last pass came on demand and pushed). */
	bool switched;
	uint32_t connections;       /**< connections that carried pages (1: the main one) */
	char error[256];            /**< FAILED: one line */
};

typedef void (*cvmm_vmm_mig_progress_fn)(void *opaque, const struct cvmm_vmm_mig_progress *p);

/**
 * A host fd of a device that cannot be opened twice (a TAP queue without
 * IFF_MULTI_QUEUE takes one owner; a vsock listener's path exists), sent
 * to the destination of a local migration (DEVFD, SCM_RIGHTS).
 */
struct cvmm_vmm_devfd {
	int fd;
	uint32_t kind;              /**< enum cvmm_mig_devfd_kind (cvmm/migration.h) */
	uint32_t index;             /**< TAP: the queue pair; vsock: 0 */
	char id[CVMM_VMM_ID_MAX];   /**< the device's id */
};

/** Most device fds one local migration passes (CVMM_MIG_MAX_DEVFDS). */
#define CVMM_VMM_MAX_DEVFDS 64u

struct cvmm_vmm_migrate_opts {
	size_t sz;                  /**< sizeof(struct cvmm_vmm_migrate_opts) */
	uint32_t downtime_ms;       /**< stop-and-copy below this estimate (0: 300) */
	uint32_t max_passes;        /**< then stop-and-copy anyway (0: 30) */
	/** Local migration over a unix socket: guest RAM goes as memfds
	 * (SCM_RIGHTS), nothing is copied. Needs CVMM_VMM_MEM_SHARED RAM. */
	bool local;
	/** Turn auto-converge off (on by default). */
	bool no_auto_converge;
	/**
	 * Pause, save and resume through cvmm_event_manager_call() on the VM's
	 * control loop: set it when the loop runs on another thread (a
	 * program migrating from a thread of its own while serving events).
	 */
	bool via_loop;
	const void *config;         /**< the program's configuration, sent in START */
	size_t config_len;
	cvmm_vmm_mig_progress_fn progress; /**< NULL: none; called after every batch */
	void *opaque;
	/**
	 * Post-copy: pause at once, send the state, and once the destination
	 * runs, answer its page requests on @request_fd (a second connected
	 * socket: a request never waits behind the bulk stream) while every
	 * page is pushed on @fd.
	 */
	bool postcopy;
	int request_fd;
	/**
	 * Pre-copy that switches to post-copy when it does not converge:
	 * after @postcopy_after passes (0: 5), or once auto-converge holds the
	 * vCPUs for its most (90 %) and the estimate still exceeds
	 * @downtime_ms. Needs @request_fd (as for post-copy) and a destination
	 * that accepts it (its receive has a request_fd): START asks, the
	 * destination answers ACCEPT; a destination that declines gets plain
	 * pre-copy. At the switch the source pauses, tells the destination
	 * which pages it holds are stale (DISCARD), sends the state; the
	 * destination runs and takes those pages on demand while they are
	 * pushed.
	 */
	bool postcopy_switch;
	uint32_t postcopy_after;
	/**
	 * Several connections for memory: @nmem_fds more connected sockets
	 * (<= 15) to the same destination besides @fd, in the order the
	 * destination accepts them. Each pass's page batches are spread over
	 * all of them, one thread per connection; the destination applies them
	 * in any order within a pass and waits at each pass's start until every
	 * connection finished the pass before (a later pass's page is never
	 * overwritten by an earlier pass's copy).
	 */
	const int *mem_fds;
	unsigned int nmem_fds;
	/**
	 * Hand over what only one VMM may hold at a time (a writable disk
	 * image's lock, as QEMU inactivates its images): called with false
	 * once the guest is paused for good and its state saved, before the
	 * state goes (the destination takes it before it runs the guest), and
	 * with true when the migration then fails before the destination ran
	 * the guest, before this VM resumes. Runs on the migrating thread,
	 * with @opaque. A non-zero return from the release fails the migration.
	 * NULL: nothing to hand over.
	 */
	int (*handover)(void *opaque, bool hold);
	/**
	 * Post-copy recovery: resume the post-copy whose link was lost
	 * (CVMM_VMM_MIG_POSTCOPY_PAUSED; this VM PAUSED) over the new
	 * connections @fd and @request_fd: the destination says which pages
	 * it holds, every other page is pushed while its requests are served.
	 * Nothing else of these options applies but progress/opaque/via_loop.
	 */
	bool resume;
	/**
	 * Local migration: the devices' host fds (<= CVMM_VMM_MAX_DEVFDS),
	 * sent as DEVFD messages right after START, before the memfds, so the
	 * destination builds its devices on them. Not owned: this VM keeps
	 * using its copies until it pauses, and on a failure before the
	 * switch-over it runs on with them as before; after the switch-over
	 * the program closes them (cvmm_vsock_set_path_owner(false) first),
	 * with no ioctl that would change the TAP under the destination.
	 */
	const struct cvmm_vmm_devfd *devfds;
	unsigned int ndevfds;
};

/**
 * Migrate the RUNNING VM to the destination at the other end of @fd (a
 * connected stream socket; a unix socket for @o->local). Pre-copy: dirty
 * logging on (KVM's dirty log with manual clear, plus the VMM's own bitmap
 * of device writes and each device's dirty_log hook), a first pass over all
 * RAM (zero pages as markers), passes over the pages dirtied since, until
 * the estimated downtime (dirty bytes / measured bandwidth) is under
 * @o->downtime_ms or @o->max_passes is reached; with auto-converge the
 * vCPUs are held for a growing share of each pass while the guest dirties
 * faster than the link carries. Then the VM is paused, the last pages and
 * the whole-VM state (cvmm_vmm_save()) go, and the destination's verdict
 * is awaited.
 * @return 0: the destination runs the guest; this VM stays PAUSED and must
 * not run again (stop it). On any failure before the destination's verdict
 * (link lost, destination gone, refused, cancelled) an ABANDON is sent when
 * possible, dirty logging is turned off and the VM is RUNNING again:
 * -ECANCELED (cancelled); -EPIPE / -ECONNRESET (link); the destination's
 * error; -EBUSY (not RUNNING, or a migration runs); -EINVAL (local without
 * shared RAM). If the link fails after the state was sent and before the
 * verdict, the outcome is unknown: -ENOTCONN and the VM stays PAUSED (it
 * may run on the other side). After a post-copy switch-over a lost link is
 * -EPIPE / -ECONNRESET / -ENOTCONN with the VM PAUSED for good and the
 * state CVMM_VMM_MIG_POSTCOPY_PAUSED (CVMM_VMM_EV_POSTCOPY_PAUSED): call
 * again with @o->resume over new connections. @o->resume in any other
 * state: -EBUSY. @err: one line.
 * Thread safety: the control thread, or with @o->via_loop any thread.
 */
int cvmm_vmm_migrate_send(struct cvmm_vmm *vmm, int fd, const struct cvmm_vmm_migrate_opts *o,
			  char *err, size_t errlen);

/** An incoming migration whose START was read: its shape and config. */
struct cvmm_vmm_incoming;

/**
 * Read START from @fd (an accepted connection; not owned) and check it.
 * The program then creates a VM of that shape with the devices the config
 * names, and calls cvmm_vmm_migrate_receive().
 * @return 0 and *@out; errors of the wire decoder (-EPROTO, ...) with @err.
 * Thread safety: any thread.
 */
int cvmm_vmm_migrate_accept(int fd, struct cvmm_vmm_incoming **out, char *err, size_t errlen);
/** START's config blob (NUL-terminated after *@len bytes; @len may be NULL). */
const char *cvmm_vmm_incoming_config(const struct cvmm_vmm_incoming *in, size_t *len);
uint64_t cvmm_vmm_incoming_mem_size(const struct cvmm_vmm_incoming *in);
unsigned int cvmm_vmm_incoming_ncpus(const struct cvmm_vmm_incoming *in);
bool cvmm_vmm_incoming_local(const struct cvmm_vmm_incoming *in);
/** True when the START resumes a post-copy that lost its link
 * (CVMM_MIG_F_RESUME): the program hands it to the VM whose post-copy is
 * paused rather than creating one. */
bool cvmm_vmm_incoming_resume(const struct cvmm_vmm_incoming *in);
/** True when the source wants a page-request connection (post-copy, or
 * pre-copy that may switch to it): accept it right after the main one. */
bool cvmm_vmm_incoming_wants_requests(const struct cvmm_vmm_incoming *in);
/** Extra memory connections the source makes (after the request one). */
unsigned int cvmm_vmm_incoming_connections(const struct cvmm_vmm_incoming *in);
/**
 * A local migration's device fds (DEVFD, read right after START: each
 * came with exactly one fd, as many as START announced). Unchecked: the
 * program checks each against its own configuration of the device
 * (cvmm_vm_devices_adopt_fds()). It may take an fd (set it to -1); the
 * rest are closed with @in.
 * @return their count, *@out the array inside @in.
 */
unsigned int cvmm_vmm_incoming_devfds(struct cvmm_vmm_incoming *in, struct cvmm_vmm_devfd **out);
/** Free, closing the device fds not taken (not the connection's fd). NULL: nothing. */
void cvmm_vmm_incoming_free(struct cvmm_vmm_incoming *in);

struct cvmm_vmm_receive_opts {
	size_t sz;                  /**< sizeof(struct cvmm_vmm_receive_opts) */
	cvmm_vmm_mig_progress_fn progress;
	void *opaque;
	/** Post-copy's page-request connection (the source's request_fd);
	 * -1 or a NULL @o: none, and a post-copy migration is refused (a
	 * pre-copy that may switch is answered "no switch"). */
	int request_fd;
	/** The extra memory connections, as many as
	 * cvmm_vmm_incoming_connections() says, in accept order. */
	const int *mem_fds;
	unsigned int nmem_fds;
	/**
	 * Take over what the source handed over (its disk images' locks:
	 * cvmm_vmm_migrate_opts.handover), after the state is restored and
	 * before the verdict tells the source that this VM runs. Non-zero
	 * fails the receive (the source is told, takes them back, resumes).
	 * NULL: nothing to take over. Runs on the receiving thread, @opaque.
	 */
	int (*takeover)(void *opaque);
	/**
	 * How long the source may stay silent (no message on a connection
	 * that expects one) before the receive fails, or a post-copy pauses
	 * (postcopy-paused). 0: 60,000 ms. A link that goes down without a
	 * close (a cable, a namespace's veth) is noticed only so. This
	 * guards the start of each message; inside one, give the stream
	 * SO_RCVTIMEO (cvmm_read_full() then fails with -ETIMEDOUT).
	 */
	uint32_t idle_ms;
};

/**
 * Receive the migration @in into @vmm (created with its shape and devices,
 * never started): the RAM ranges must equal this VM's; every page is
 * checked against this VM's own memory map; the state is restored with
 * CVMM_VMM_RESTORE_CLOCK_REALTIME; then the verdict is sent. Local: each
 * RAM region is replaced by the memfd received.
 * Post-copy: guest RAM is registered with userfaultfd before anything
 * arrives; after the state is restored the source is told to switch and
 * this returns 0 at once: start the VM. Pages the guest touches are
 * requested on o->request_fd and filled by the VMM's fault thread
 * (uffd.c) while a thread of this migration receives the pushed rest;
 * cvmm_vmm_migrate_progress() says POSTCOPY, then COMPLETED (every page
 * here) or POSTCOPY_PAUSED (the link was lost or the stream went wrong:
 * missing pages wait; the source keeps its paused copy;
 * CVMM_VMM_EV_POSTCOPY_PAUSED).
 * Post-copy recovery: an @in whose START carries CVMM_MIG_F_RESUME (the
 * program's @vmm is the running VM in POSTCOPY_PAUSED, @o->request_fd the
 * new request connection): its layout is checked, the pages held here are
 * sent, and the push goes on in the background (POSTCOPY; failing again
 * pauses again). A resume on a VM with no paused post-copy, or a plain
 * START there: -EBUSY, nothing changes.
 * @return 0: start the VM (cvmm_vmm_start()). Otherwise the source was
 * told (when the link allows), the VM must be destroyed, never started:
 * -ECANCELED (the source abandoned); -EPIPE (the stream was cut);
 * -ETIMEDOUT (nothing from the source for 60 s);
 * decoder and restore errors. @err: one line.
 * Thread safety: the control thread.
 */
int cvmm_vmm_migrate_receive(struct cvmm_vmm *vmm, struct cvmm_vmm_incoming *in,
			     const struct cvmm_vmm_receive_opts *o, char *err, size_t errlen);

/** The figures of the VM's current or last migration (either side).
 * @return false when it never migrated. Thread safety: any thread. */
bool cvmm_vmm_migrate_progress(struct cvmm_vmm *vmm, struct cvmm_vmm_mig_progress *out);

/**
 * Ask the running send to stop: it sends ABANDON, turns dirty logging off,
 * resumes the VM and returns -ECANCELED. Too late once the state is sent.
 * @return 0; -ENOENT (no send runs). Thread safety: any thread.
 */
int cvmm_vmm_migrate_cancel(struct cvmm_vmm *vmm);

/** "none", "setup", "precopy", "stop-and-copy", "postcopy", "completed", "failed",
 * "cancelled", "postcopy-paused". */
const char *cvmm_vmm_mig_state_name(enum cvmm_vmm_mig_state s);

/* ------------------------------------------------------------------------ */
/* Running, pausing, stopping                                                */
/* ------------------------------------------------------------------------ */

/**
 * Start one thread per vCPU (CREATED -> RUNNING). Boot state must be set
 * up already (registers, loaded kernel).
 * @return 0; -EBUSY (not CREATED); -EIO (a restore failed half-way: the VM
 * must be destroyed); -EAGAIN / negative errno of pthread_create (the VM
 * is then stopped with HOST_ERROR).
 * Thread safety: the control thread.
 */
int cvmm_vmm_start(struct cvmm_vmm *vmm);

/**
 * RUNNING -> PAUSED: ask every vCPU to leave KVM_RUN (a kick makes it
 * prompt whatever the guest does: spinning, halted with interrupts on,
 * mid-MMIO; pending I/O is completed first so saved state is consistent),
 * wait until every one is parked, then pause every device in table order.
 * @return 0; -EBUSY (not RUNNING); -ESHUTDOWN (the VM stopped meanwhile);
 * an error of a device's pause (the VM is resumed again).
 * Thread safety: the control thread.
 */
int cvmm_vmm_pause(struct cvmm_vmm *vmm);

/**
 * PAUSED -> RUNNING: resume every device, then let the vCPUs go.
 * @return 0; -EBUSY (not PAUSED); an error of a device's resume.
 * Thread safety: the control thread.
 */
int cvmm_vmm_resume(struct cvmm_vmm *vmm);

/**
 * Run @fn(@arg, vcpu) on vCPU @i's own thread and wait for it, as KVM
 * wants for state save and restore. Only while PAUSED, or in CREATED
 * state (then it runs on the calling thread: no vCPU thread exists yet).
 * @return what @fn returned; -EBUSY (RUNNING); -EINVAL (@i out of range);
 * -ESHUTDOWN (that vCPU's thread has exited).
 * Thread safety: the control thread.
 */
int cvmm_vmm_vcpu_call(struct cvmm_vmm *vmm, unsigned int i,
		       int (*fn)(void *arg, struct cvmm_kvm_vcpu *vcpu), void *arg);

/**
 * Record why the VM stops (the first caller wins), kick every vCPU out and
 * wake the control loop, which then returns from cvmm_vmm_run().
 * Thread safety: any thread, signal handlers excluded.
 */
void cvmm_vmm_request_stop(struct cvmm_vmm *vmm, enum cvmm_vmm_stop why, int code);

/**
 * cvmm_vmm_request_stop(), then wait for it: the vCPU threads joined, the
 * device thread stopped, state SHUTDOWN and the SHUTDOWN event sent before
 * it returns (Cloud Hypervisor's vm.shutdown answers once the VM is down,
 * so a vm.boot or vm.delete right after meets a finished VM).
 * Thread safety: the control thread.
 */
void cvmm_vmm_stop(struct cvmm_vmm *vmm, enum cvmm_vmm_stop why, int code);

/** The recorded stop reason and its code (CVMM_VMM_STOP_NONE while running). */
enum cvmm_vmm_stop cvmm_vmm_stop_reason(const struct cvmm_vmm *vmm, int *code);

/**
 * Run the control loop on the calling thread until the VM stops, then join
 * the vCPU threads (state SHUTDOWN, SHUTDOWN event sent).
 * @return 0; a negative errno of the loop.
 * Thread safety: one thread, the control thread.
 */
int cvmm_vmm_run(struct cvmm_vmm *vmm);

/**
 * Statistics of the last pause: nanoseconds from the request until every
 * vCPU was out of KVM_RUN. For benchmarks. Thread safety: control thread.
 */
uint64_t cvmm_vmm_last_pause_ns(const struct cvmm_vmm *vmm);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VMM_H */
