/* SPDX-License-Identifier: Apache-2.0 */
/*
 * hello-kvm's small VMM: a VM with N vCPU threads, guest RAM in KVM slots,
 * the in-kernel irqchip, a test guest loaded by guest-loader, and the ports
 * of the test-guest ABI (exit, serial, marker, sync). Shared with the
 * integration tests and benchmarks, which add behaviour through the hooks.
 * Links only sys-util, vm-memory and kvm-ioctls.
 */
#ifndef HK_VM_H
#define HK_VM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cvmm/kvm-ioctls.h>
#include <cvmm/vm-memory.h>

#include "guest-loader.h"

enum hk_dirty_mode {
	HK_DIRTY_NONE = 0,
	HK_DIRTY_LOG,   /* KVM_GET_DIRTY_LOG, the kernel re-protects */
	HK_DIRTY_CLEAR, /* manual protect: KVM_GET_DIRTY_LOG + KVM_CLEAR_DIRTY_LOG */
	HK_DIRTY_RING,  /* per-vCPU dirty rings */
};

struct hk_vm;

/* Return 0 when handled; a negative errno stops the VM with an error. */
typedef int (*hk_sync_fn)(struct hk_vm *vm, uint32_t cpu, uint8_t value, void *opaque);
/* Any port I/O or MMIO exit the VM does not handle itself. For reads fill
 * the exit's data. */
typedef int (*hk_io_fn)(struct hk_vm *vm, uint32_t cpu, const struct cvmm_kvm_exit *e,
			void *opaque);
/* Called once per dirty page found by hk_vm_dirty_collect(). */
typedef void (*hk_dirty_fn)(uint64_t gpa, void *opaque);
/* Per-thread set-up (e.g. a seccomp filter): on each vCPU thread (@cpu)
 * after its register set-up, before its first KVM_RUN; and on the thread in
 * hk_vm_run() (@cpu = HK_MAIN_THREAD) once every vCPU thread is started,
 * before it waits. A negative errno stops the VM with HK_ERROR. */
typedef int (*hk_thread_fn)(struct hk_vm *vm, uint32_t cpu, void *opaque);
#define HK_MAIN_THREAD UINT32_MAX

struct hk_vm_opts {
	size_t sz;               /* sizeof(struct hk_vm_opts) */
	uint32_t ncpus;          /* 1 .. CVMM_GUEST_MAX_CPUS */
	uint64_t mem_size;       /* RAM bytes, 2 MiB multiple, >= 16 MiB */
	uint64_t split_gpa;      /* if in (0, low RAM end): RAM below and above it are
				  * separate slots (the loader's area vs. test data) */
	enum hk_dirty_mode dirty;
	uint32_t ring_bytes;     /* HK_DIRTY_RING: ring size (0: 64 KiB) */
	uint64_t args[CVMM_GUEST_NUM_ARGS];
	FILE *serial;            /* guest serial output; NULL: discard */
	hk_sync_fn on_sync;      /* sync port (default: ignore) */
	hk_io_fn on_io;          /* other I/O (default: writes ignored, reads 0xff) */
	void *opaque;
	uint32_t timeout_ms;     /* stop the VM with HK_TIMEOUT after this long (0: never) */
	hk_thread_fn on_thread_start; /* optional, see hk_thread_fn */
};

enum hk_outcome {
	HK_EXITED = 0,  /* through the debug-exit port: code */
	HK_SHUTDOWN,    /* triple fault on vCPU cpu at rip */
	HK_ERROR,       /* error (negative errno) on vCPU cpu: what */
	HK_TIMEOUT,     /* still running after opts.timeout_ms */
};

struct hk_result {
	enum hk_outcome outcome;
	uint32_t code;
	uint32_t cpu;
	uint64_t rip;
	int error;
	char what[128];
	uint64_t marker_ns;  /* CLOCK_MONOTONIC of the first marker-port exit, 0: none */
	uint64_t exit_ns;    /* CLOCK_MONOTONIC when the VM stopped */
};

/**
 * Create the VM, its RAM and slots, irqchip, dirty tracking and vCPUs.
 * @return 0; -EINVAL (opts); negative errno from KVM or vm-memory.
 */
int hk_vm_create(const struct hk_vm_opts *o, struct hk_vm **out);
void hk_vm_destroy(struct hk_vm *vm);

/** Load the image at @path. @return 0 or cvmm_guest_load_file()'s errors. */
int hk_vm_load(struct hk_vm *vm, const char *path);

/** Run every vCPU on its own thread until the first stops the VM. @return 0
 * when @res describes the outcome; negative errno if threads could not start. */
int hk_vm_run(struct hk_vm *vm, struct hk_result *res);

/**
 * Harvest the guest's dirty pages since the last call (every slot; in ring
 * mode every vCPU's ring), re-arm tracking, and call @fn for each page.
 * @return the number of pages; -EOPNOTSUPP without dirty tracking;
 * negative errno. Safe from a hook while other vCPUs run.
 */
long hk_vm_dirty_collect(struct hk_vm *vm, hk_dirty_fn fn, void *opaque);

struct cvmm_guest_mem *hk_vm_mem(struct hk_vm *vm);
struct cvmm_kvm_vm *hk_vm_kvm(struct hk_vm *vm);
const struct cvmm_guest_layout *hk_vm_layout(const struct hk_vm *vm);
/* Ask the VM to stop (as if the guest exited with @code). Any thread. */
void hk_vm_stop(struct hk_vm *vm, uint32_t code);

/* "log", "clear", "ring". @return 0; -EINVAL. */
int hk_dirty_mode_parse(const char *s, enum hk_dirty_mode *out);

#endif /* HK_VM_H */
