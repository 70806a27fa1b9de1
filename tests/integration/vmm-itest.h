/* SPDX-License-Identifier: Apache-2.0 */
/* Shared bits of the integration tests of VMs built with the vmm crate. */
#ifndef CVMM_VMM_ITEST_H
#define CVMM_VMM_ITEST_H

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cvmm/snapshot.h>
#include <cvmm/vmm.h>

/*
 * Start @vmm and wait (30 s at most) until its guest has set *@phase to 1,
 * the handshake of the save/restore guests; @phase is cleared first.
 */
static inline void vmm_itest_start_until_handshake(struct cvmm_vmm *vmm, _Atomic int *phase)
{
	*phase = 0;
	ck_assert_int_eq(cvmm_vmm_start(vmm), 0);
	for (int i = 0; i < 30000 && *phase != 1 && cvmm_vmm_state(vmm) == CVMM_VMM_RUNNING;
	     i++) {
		struct timespec ts = { 0, 1000000 };

		nanosleep(&ts, NULL);
	}
	ck_assert_msg(*phase == 1, "the guest did not get to its handshake");
}

/*
 * Pause @vmm, save it whole with its memory, stop and destroy it: the
 * stream in a malloc'd copy of *@len bytes, which the caller frees (the
 * restore tests rebuild a VM and restore this copy into it).
 */
static inline void *vmm_itest_save_and_destroy(struct cvmm_vmm *vmm, size_t *len)
{
	struct cvmm_snap_writer *w;
	const void *p;
	char err[256];
	void *copy;

	ck_assert_int_eq(cvmm_vmm_pause(vmm), 0);
	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	ck_assert_msg(cvmm_vmm_save(vmm, w, CVMM_VMM_SAVE_MEMORY, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &p, len), 0);
	copy = malloc(*len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, p, *len);
	cvmm_snap_writer_destroy(w);
	cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_REQUEST, 0);
	cvmm_vmm_run(vmm);
	cvmm_vmm_destroy(vmm);
	return copy;
}

#endif
