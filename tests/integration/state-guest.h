/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM of the tests that move a whole VM (test-vmm-state, -snapshot,
 * -migrate): 2 vCPUs, the legacy platform, a virtio-rng on virtio-mmio,
 * the host's "finish" port, and optionally the memory-checking guest
 * (tests/guests/state.c: exit 0x5a when it found every byte). It also runs
 * in the tests' restoring child processes, outside Check: SG_CHECK exits
 * there instead of asserting.
 */
#ifndef CVMM_STATE_GUEST_H
#define CVMM_STATE_GUEST_H

#include <check.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

#include <cvmm/vmm.h>

#define SG_PORT_CTL 0x510
#define SG_NCPUS 2

extern _Atomic int sg_finish; /* what the guest reads at SG_PORT_CTL */
extern bool sg_in_child;      /* a restoring child, outside Check */

#define SG_CHECK(c)                                                            \
	do {                                                                   \
		if (sg_in_child) {                                             \
			if (!(c))                                              \
				exit(103);                                     \
		} else {                                                       \
			ck_assert(c);                                          \
		}                                                              \
	} while (0)

struct sg_vm_opts {
	uint64_t mem;                      /* bytes of RAM */
	enum cvmm_vmm_mem_backing backing;
	uint32_t dirty_ring_bytes;
	bool load;                         /* the guest image, vCPUs at its entry */
	bool no_platform;
	bool no_rng;
	cvmm_vmm_thread_fn thread_start;   /* NULL: none */
};

struct cvmm_vmm *sg_make_vm(const struct sg_vm_opts *o);
void sg_nap(unsigned int ms);
/* Tell the guest to finish and run the VM to its end: the guest's exit
 * code (0x5a: every byte found), or -EIO when it did not exit by itself. */
int sg_finish_guest(struct cvmm_vmm *vmm);

#endif
