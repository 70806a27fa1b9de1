/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vmm/vm.h
 * @brief Build a VM from a struct cvmm_vm_config (cvmm/vmm/config.h): the
 *        VM core, the virtio devices on virtio-mmio or virtio-pci, the
 *        legacy platform and the boot state, ready for cvmm_vmm_start().
 *        Also Cloud Hypervisor's event-monitor line writer.
 *
 * A program fills a struct cvmm_vm with its configuration and hooks (what
 * each new thread installs, e.g. a seccomp filter; how a test-guest image
 * boots; what to do with each event) and calls cvmm_vm_build(). The API
 * layer (cvmm/vmm/api.h) builds a new VM this way for every vm.boot.
 *
 * Thread safety: a struct cvmm_vm is used by one thread at a time (the
 * control loop's); the event-monitor writer may be called from any thread.
 */
#ifndef CVMM_VMM_VM_H
#define CVMM_VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vmm.h>
#include <cvmm/vmm/config.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_vm_snap;
struct cvmm_vm_input;
struct cvmm_iommu;

/* A device model of a built VM, by id (the VM core owns it). */
struct cvmm_vm_model {
	char id[CVMM_VMM_ID_MAX];
	const char *kind;          /* "virtio-blk", "virtio-net", ... */
	void *model;               /* struct cvmm_blk *, struct cvmm_net *, ... */
	unsigned int pci_slot;     /* 0: virtio-mmio */
};

struct cvmm_vm {
	/* ---- set by the caller ---- */
	const struct cvmm_vm_config *cfg;
	uint64_t t0_ns;              /* process start, for the boot timer and events */
	struct cvmm_event_manager *em; /* the control loop to live on (NULL: the VM's own) */
	/* Each thread the VM starts (vcpu, virtio, ...) calls this first; non-zero fails it. */
	int (*thread_start)(void *opaque, const char *type, unsigned int index);
	/* Every lifecycle event of the VM (may be NULL). */
	void (*on_event)(void *opaque, const struct cvmm_vmm_event *ev);
	/* cfg->boot_timer: each guest write to port 0x80 (may be NULL). */
	void (*post_code)(void *opaque, uint8_t code, uint64_t ns);
	/*
	 * Boot an image the kernel loader does not know (a test guest):
	 * return 1 when @vm->cfg->kernel is not one (it is booted as a kernel),
	 * 0 when loaded, a negative errno with @err. NULL: kernels only.
	 */
	int (*boot_image)(void *opaque, struct cvmm_vm *vm, char *err, size_t errlen);
	void *opaque;                /* for the hooks above */
	/* A second watcher of every event, after on_event (the API layer's). */
	void (*observer)(void *opaque, const struct cvmm_vmm_event *ev);
	void *observer_opaque;
	struct cvmm_vm_snap *snap;   /* restore this snapshot instead of booting, or NULL */
	bool incoming;               /* a migration brings memory and registers: load nothing */
	bool serial_stdin;           /* cfg->serial stdio: stdin feeds the guest's serial port */
	/* ---- set by cvmm_vm_build() ---- */
	struct cvmm_vmm *vmm;
	int serial_out;              /* the guest's serial output, or -1 */
	int con_out;                 /* a console file=, or -1 */
	struct cvmm_vm_model models[CVMM_VM_VIRTIO_MAX];
	unsigned int nmodels;
	const char *only_id;         /* cvmm_vm_device_hotplug: the one device to add */
	struct cvmm_vm_input *input; /* serial_stdin: the reader of stdin, or NULL */
	/* the virtio-iommu when a device has iommu=on (freed after the VM
	 * core: the devices behind it translate through it to the end) */
	struct cvmm_iommu *iommu;
};

/**
 * Add PCI device @id of vm->cfg (already in the configuration with its
 * slot: cvmm_vm_pci_assign) to the booted VM: its model on the device
 * loop, attached on virtio-pci inside cvmm_vmm_hotplug_begin/end, so the
 * guest hears of it through the ACPI GED (docs/crates/vmm.md).
 * @return 0; -EINVAL; -EOPNOTSUPP (the VM has no PCI segment or no GED);
 * -ENOENT (no PCI device @id in the configuration); the model's and the
 * VM core's errors; @err names what failed.
 * Thread safety: the control thread.
 */
int cvmm_vm_device_hotplug(struct cvmm_vm *vm, const char *id, char *err, size_t errlen);

/** A struct cvmm_vm with nothing built (fds -1). */
void cvmm_vm_init(struct cvmm_vm *vm);

/**
 * Build the VM of vm->cfg: the VM core on vm->em, the virtio devices, the
 * platform (serial, i8042, RTC, debug exit port) and the boot state (a
 * kernel, an image through boot_image, a snapshot, or nothing for an
 * incoming migration). cvmm_vmm_start() is the caller's.
 * @return 0 or negative errno with @err naming the option (--disk: ...,
 * --memory: ...). On failure, cvmm_vm_teardown() frees what was built.
 */
int cvmm_vm_build(struct cvmm_vm *vm, char *err, size_t errlen);

/**
 * Take (@hold) or let go of the advisory locks on the VM's disk images
 * (cvmm_blk_image_lock()): a live migration hands them from the source to
 * the destination (an incoming VM opens its images without them).
 * @return 0; the first failure (-EBUSY: another process holds one), the
 * others still tried. Thread safety: any thread, the VM not changing.
 */
int cvmm_vm_images_lock(struct cvmm_vm *vm, bool hold);
/** Destroy the VM (nothing built: nothing done) and close the files opened for it. */
void cvmm_vm_teardown(struct cvmm_vm *vm);

/** The process exit status a stopped VM calls for: 0 after a power-off or
 *  reset, the debug-exit value, 2 for a crash, 3 for a host error or a VM
 *  that never stopped, 128 + N after signal N. */
int cvmm_vm_exit_status(struct cvmm_vmm *vmm);

/* ---- Host input for the guest's serial port (serial-input.c) ---------- */

/**
 * Feed what @fd (stdin, a pipe, a regular file) gives to the serial port
 * of @vmm, on the VM's control loop, with back-pressure: bytes the UART's
 * FIFO refuses are offered again on a timer and @fd is not read meanwhile.
 * EOF or a read error ends the input; the guest keeps running. @fd stays
 * the caller's (never closed). cvmm_vm_build() does this for stdin when
 * vm->serial_stdin is set and the serial port is stdio.
 * @return 0; -EINVAL (no VM, negative fd); -ENOMEM; the loop's errors.
 * Thread safety: create and destroy on the control loop's thread (or
 * before it runs).
 */
int cvmm_vm_input_create(struct cvmm_vmm *vmm, int fd, struct cvmm_vm_input **out);
/** Stop reading and free (NULL-safe). Before the VM is destroyed. */
void cvmm_vm_input_destroy(struct cvmm_vm_input *in);

/* ---- Cloud Hypervisor's event monitor (events.c) ----------------------- */

/**
 * Open the event monitor: @fd when >= 0 (checked open), else @path
 * (created, appended to), else nothing.
 * @return the fd; -1 for none; -1 with @err set on failure.
 */
int cvmm_vm_event_monitor_open(const char *path, int fd, char *err, size_t errlen);
/** Write @event as one line of Cloud Hypervisor's event-monitor JSON to
 *  @fd (nothing when @fd < 0), time counted from @t0_ns; one write(). */
void cvmm_vm_event_monitor_write(int fd, uint64_t t0_ns, const char *source, const char *event,
				 const char *id);
/** The same with properties: @kv is NULL or {key, value, ..., NULL}. */
void cvmm_vm_event_monitor_write_props(int fd, uint64_t t0_ns, const char *source,
				       const char *event, const char *const *kv);
/** The (source, event) names of a VM event, or NULL for one not reported. */
const char *cvmm_vm_event_name(const struct cvmm_vmm_event *ev, const char **source);

#ifdef __cplusplus
}
#endif

#endif
