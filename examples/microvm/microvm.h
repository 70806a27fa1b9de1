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
};

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
