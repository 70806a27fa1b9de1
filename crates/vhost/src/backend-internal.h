/* SPDX-License-Identifier: Apache-2.0 */
/* The backend object, shared by backend.c (dispatch) and backend-req.c. */
#ifndef CVMM_VHOST_BACKEND_INTERNAL_H
#define CVMM_VHOST_BACKEND_INTERNAL_H

#include "internal.h"

#include <pthread.h>

struct cvmm_vhost_backend {
	int sock;
	bool dead;
	struct cvmm_vhost_backend_ops ops; /* zero beyond the caller's sz */
	void *opaque;
	unsigned int num_queues;
	unsigned int max_mem_slots;
	uint64_t features;          /* acked by SET_FEATURES */
	uint64_t pfeatures;         /* acked by SET_PROTOCOL_FEATURES */
	unsigned int vring_num[CVMM_VHOST_MAX_QUEUES]; /* 0: not set */
	/* The region table in force and the fds behind it (owned). */
	struct cvmm_vhost_mem_region *regions;
	int *region_fds;
	unsigned int nregions;
	/* ADD_MEM_REG of a region identical to one in the table (QEMU sends
	 * one per vhost device sharing the connection, e.g. per queue pair)
	 * counts here instead of failing as an overlap; REM_MEM_REG undoes
	 * one before the region goes. Indexed like regions[]. */
	unsigned int region_extra_refs[CVMM_VHOST_MAX_MEM_SLOTS];
	/* Backend-to-frontend channel. req_lock serialises senders (held over
	 * their I/O); fd_lock only guards req_fd/req_gen, so process_one()
	 * replacing the channel never waits for a sender stuck on an ack. */
	pthread_mutex_t req_lock;
	pthread_mutex_t fd_lock;
	int req_fd;
	unsigned int req_gen; /* bumped whenever req_fd changes */
	/* acks a timed-out IOTLB miss left on req_fd: the next sender skips
	 * them (req_lock; zeroed when the channel changes) */
	unsigned int req_owed;
	/* Post-copy (PAGEFAULT): LISTEN accepted and END not yet; a
	 * SET_MEM_TABLE answered with our mapping bases awaits the frontend's
	 * acknowledgement (the next message). */
	bool pc_listening;
	bool pc_ack_pending;
};

static inline bool vhost_pf_acked(const struct cvmm_vhost_backend *b, int bit)
{
	return (__atomic_load_n(&b->pfeatures, __ATOMIC_ACQUIRE) >> bit) & 1;
}

/* VIRTIO_F_RING_PACKED acked: ring sizes, layout and base encoding differ. */
static inline bool vhost_packed(const struct cvmm_vhost_backend *b)
{
	return b->features & CVMM_VHOST_VIRTIO_F_RING_PACKED;
}

/* Replace the channel (fd -1: drop it). Takes ownership of @fd. */
void cvmm_vhost_backend_set_req_fd(struct cvmm_vhost_backend *b, int fd);

#endif
