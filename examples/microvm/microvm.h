/* SPDX-License-Identifier: Apache-2.0 */
/* What cvmm-microvm's files share. */
#ifndef MICROVM_H
#define MICROVM_H

#include <cvmm/vmm/vm.h>

/*
 * The VM builder's boot_image hook (guest-image.c): boot a cvmm test-guest
 * image (tests/guests, "CVMMGST1") when --kernel is one: ACPI tables, the
 * image, and every vCPU entered at CPL3 with the boot info args from
 * --guest-arg. @return 1 (not a test guest: boot it as a kernel); 0
 * loaded; negative errno with @err.
 */
int microvm_boot_test_guest(void *opaque, struct cvmm_vm *vm, char *err, size_t errlen);

#endif
