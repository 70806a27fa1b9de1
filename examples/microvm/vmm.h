/* SPDX-License-Identifier: Apache-2.0 */
/* The pieces of one running microVM and the calls that build and run it. */
#ifndef MICROVM_VMM_H
#define MICROVM_VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <cvmm/kvm-ioctls.h>
#include <cvmm/vm-memory.h>
#include <cvmm/vm-superio.h>

#include "bus.h"
#include "config.h"

/* Why the VM stopped; the first reason recorded wins. */
enum vm_stop {
	VM_RUNNING = 0,
	VM_STOP_POWEROFF,   /* ACPI sleep register, exit 0 */
	VM_STOP_RESET,      /* i8042 reset or a reset system event, exit 0 */
	VM_STOP_DEBUG_EXIT, /* the guest wrote its exit code to port 0xf4 */
	VM_STOP_CRASH,      /* triple fault, internal error, failed entry: exit 2 */
	VM_STOP_HOST_ERROR, /* a host-side failure: exit 3 */
	VM_STOP_SIGNAL,     /* SIGTERM/SIGINT: exit 128 + signal */
};

/* Fixed guest-physical addresses of the platform (see docs/microvm.md). */
#define MICROVM_IOAPIC_ADDR 0xfec00000ull
#define MICROVM_LAPIC_ADDR 0xfee00000ull
#define MICROVM_TSS_ADDR 0xfffbd000ull
#define MICROVM_IDENTITY_MAP_ADDR 0xfffbc000ull
#define MICROVM_SERIAL_PORT 0x3f8
#define MICROVM_SERIAL_IRQ 4
#define MICROVM_I8042_PORT 0x60
#define MICROVM_RTC_PORT 0x70
#define MICROVM_DEBUG_EXIT_PORT 0xf4
#define MICROVM_SLEEP_PORT 0x600
#define MICROVM_POST_PORT 0x80       /* POST codes: the boot timer listens here */     /* ACPI hardware-reduced sleep control/status */

struct vmm_dev {
	pthread_mutex_t lock;        /* the superio models have no lock of their own */
	void *dev;
};

struct vmm {
	const struct microvm_config *cfg;
	struct cvmm_kvm *kvm;
	struct cvmm_kvm_vm *vm;
	struct cvmm_guest_mem *mem;
	unsigned int ncpus;
	struct cvmm_kvm_vcpu *vcpu[MICROVM_MAX_CPUS];
	pthread_t thread[MICROVM_MAX_CPUS];
	unsigned int nthreads;
	struct bus pio;
	struct bus mmio;

	struct vmm_dev serial, i8042, rtc;
	int serial_irqfd;            /* eventfd wired to GSI 4 */
	int serial_out;              /* fd the guest's serial output goes to, or -1 */
	int stop_efd;                /* written once the VM stops */
	struct vmm_virtio *virtio;   /* virtio.c; NULL without virtio devices */

	const struct cvmm_sandbox *sandbox; /* each thread installs its filter (may be NULL) */
	uint64_t t0_ns;              /* process start, for the boot timer */
	_Atomic int stop;            /* enum vm_stop */
	_Atomic int exit_code;
};

/* Create the VM, its memory, irqchip and vCPUs. @return 0 or negative errno; @err says what. */
int vmm_create(struct vmm *v, const struct microvm_config *cfg, char *err, size_t errlen);
void vmm_destroy(struct vmm *v);

/* Legacy devices on the port bus: serial, i8042, RTC, debug exit, ACPI sleep. */
int vmm_devices_init(struct vmm *v, char *err, size_t errlen);
void vmm_devices_fini(struct vmm *v);
/* Feed host input to the serial port. @return bytes taken. */
size_t vmm_serial_input(struct vmm *v, const uint8_t *buf, size_t len);

/* Load the kernel and set up the boot vCPU. */
int vmm_boot(struct vmm *v, char *err, size_t errlen);

/* Start one thread per vCPU. */
int vmm_start(struct vmm *v);
/* Record why the VM stops (first caller wins) and kick every vCPU. */
void vmm_request_stop(struct vmm *v, enum vm_stop why, int code);
/* Join the vCPU threads. */
void vmm_join(struct vmm *v);
/* The process exit status for the recorded stop reason. */
int vmm_exit_status(const struct vmm *v);

#endif
