/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Post-copy at the destination for devices that map guest RAM in another
 * process (vhost-user backends, struct cvmm_vmm_device_ops.postcopy_*):
 * each hands out a userfaultfd over its mapping; one thread of ours reads
 * their faults, translates the backend's address to a guest physical
 * address through the regions the device reports, and hands it to @fault
 * (which gets the page into guest RAM through the VM's own userfaultfd,
 * like a vCPU fault). The backend's thread still sleeps on its own fd:
 * whoever places a page calls cvmm_vi_peers_wake() (shared memory: the
 * page is the backend's too).
 */
#ifndef CVMM_VMM_UFFD_PEERS_H
#define CVMM_VMM_UFFD_PEERS_H

#include "internal.h"

/* The backend touched guest page @gpa (page-aligned), not here yet. On
 * the peers' thread. @return 0, or a negative errno: the backend's thread
 * is then woken to retry. */
typedef int (*cvmm_vi_peer_fault_fn)(void *opaque, uint64_t gpa);

struct vi_peers;

/*
 * Ask every device of @vmm with a postcopy_begin hook for its
 * userfaultfd and start the thread (the program's thread hook as
 * "migration" first). *@out is NULL when no device takes part.
 * @return 0; a device that cannot take part (-EOPNOTSUPP) or any other
 * failure: negative errno, one line in @err, nothing left running.
 * Thread safety: the receiving thread, before the state is restored.
 */
int cvmm_vi_peers_start(struct vi_peers **out, struct cvmm_vmm *vmm,
			cvmm_vi_peer_fault_fn fault, void *opaque, char *err, size_t errlen);
/* The guest pages [@gpa, @gpa + @len) are in place (or marked as zero
 * runs): wake whatever backend thread waits on them. NULL: nothing. Any
 * thread. */
void cvmm_vi_peers_wake(struct vi_peers *p, uint64_t gpa, uint64_t len);
/* Every page is here (or the VM goes): POSTCOPY_END to each device (on
 * its thread), stop the thread, close the fds; wake() does nothing after.
 * Any thread; a second call waits for the first. Before the devices go.
 * NULL: nothing. */
void cvmm_vi_peers_end(struct vi_peers *p);
/* end(), then free. Only once no thread can call wake() any more. */
void cvmm_vi_peers_free(struct vi_peers *p);
/* Faults served so far (for the figures and tests). */
uint64_t cvmm_vi_peers_faults(const struct vi_peers *p);

#endif
