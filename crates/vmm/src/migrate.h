/* SPDX-License-Identifier: Apache-2.0 */
/* Live migration inside the VM core: shared between migrate*.c. */
#ifndef CVMM_VMM_MIGRATE_H
#define CVMM_VMM_MIGRATE_H

#include <pthread.h>
#include <stdatomic.h>

#include <cvmm/migration.h>

#include "internal.h"

struct receiver;

/* One per VM, made at its first migration, freed with the VM. */
struct migration {
	pthread_mutex_t lock;         /* p */
	struct cvmm_vmm_mig_progress p;
	bool have;                    /* p describes a migration */
	_Atomic bool sending;
	_Atomic bool cancel;
	uint64_t t0;                  /* start, ns */
	pthread_mutex_t ring_lock;    /* harvests of the dirty rings, and active */
	struct mig_dirty *active;     /* the send's tracking while it runs */
	/* This VM's post-copy receive (migrate-recv.c): kept, its threads
	 * ended, once it completed, until the VM goes. */
	struct receiver *post;
};

/* Post-copy recovery on the destination (cvmm_vmm_migrate_receive() of a
 * START with CVMM_MIG_F_RESUME): the VM's paused post-copy goes on over
 * @in's connection and @o->request_fd. @return 0; -EBUSY (none paused);
 * -EINVAL (another layout, no request connection); -errno of the wire.
 * Any failure leaves it paused, the source told when the link allows. */
int cvmm_vi_mig_resume_receive(struct cvmm_vmm *vmm, struct cvmm_vmm_incoming *in,
			       const struct cvmm_vmm_receive_opts *o, char *err, size_t errlen);

/* This VM is the destination of a post-copy that lost its link (paused,
 * waiting for a resume). A VM that came by a post-copy that completed
 * and then moved on is not: it may be the source of a paused one. */
bool cvmm_vi_mig_receiving_paused(struct cvmm_vmm *vmm);

/* Post-copy's vhost-user backends stop faulting to us (POSTCOPY_END):
 * before the devices go. */
void cvmm_vi_mig_postcopy_peers_end(struct cvmm_vmm *vmm);
/* Stop a post-copy receive's threads and userfaultfd (VM destroy). */
void cvmm_vi_mig_postcopy_fini(struct cvmm_vmm *vmm);

struct migration *cvmm_vi_mig_get(struct cvmm_vmm *vmm);
/* First thing on a thread of the migration: the program's hook (its
 * seccomp filter) as type "migration". @return the hook's result: the
 * thread ends if it failed. */
int cvmm_vi_mig_thread_start(struct cvmm_vmm *vmm, unsigned int index);
/* Publish @p (under the lock) and call the user's callback with it. */
void cvmm_vi_mig_publish(struct cvmm_vmm *vmm, const struct cvmm_vmm_mig_progress *p,
			 cvmm_vmm_mig_progress_fn fn, void *opaque);

/* The VM's RAM regions as the wire's ranges; @return the count. */
unsigned int cvmm_vi_mig_ranges(struct cvmm_vmm *vmm,
				struct cvmm_mig_range out[CVMM_MIG_MAX_RANGES]);

/* Dirty tracking over one migration: KVM's log (manual clear when offered)
 * plus the VMM's bitmap of device writes and the devices' hooks. */
struct mig_dirty_slot {
	uint32_t slot;
	uint32_t flags;               /* before logging */
	uint64_t gpa, size, userspace_addr;
	uint64_t *bm;                 /* one bit per page */
	size_t bm_bytes;
};

struct mig_dirty {
	struct mig_dirty_slot *s;
	unsigned int n;
	bool manual;                  /* KVM_CLEAR_DIRTY_LOG re-protects */
	bool ring;                    /* the per-vCPU dirty rings, not the bitmap */
	struct migration *m;
	bool vmm_log;                 /* the VMM bitmap is on */
	uint64_t *tmp;                /* one slot's bitmap as fetched */
};

/* Turn logging on (the VM paused: the VMM bitmap needs quiet writers). */
int cvmm_vi_mig_dirty_start(struct cvmm_vmm *vmm, struct mig_dirty *d, char *err, size_t errlen);
/* Fetch and clear what was dirtied since the last call and add it to each
 * slot's bm (the sender clears bm as it sends). @return the pages set in
 * bm; negative errno. */
long cvmm_vi_mig_dirty_collect(struct cvmm_vmm *vmm, struct mig_dirty *d);
/* Logging off, slots back as they were; frees @d's buffers. */
void cvmm_vi_mig_dirty_stop(struct cvmm_vmm *vmm, struct mig_dirty *d);

#endif
