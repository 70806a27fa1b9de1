/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/vhost-user.h
 * @brief A virtio device whose queues a vhost-user backend serves.
 *
 * The transport (virtio-mmio) keeps the registers and the config space
 * copy; a backend daemon on a unix socket does the queue work through the
 * vhost crate's frontend side. The guest's QueueNotify writes reach the
 * backend directly (the transport's notify eventfd, a KVM ioeventfd, is the
 * backend's kick fd), and the backend's used-buffer signals reach the guest
 * directly (queue i's call fd is the transport interrupt's notifier fd for
 * queue i, a KVM irqfd; on virtio-mmio one irq eventfd for all): no
 * VMM thread wakes per request. virtio-mmio has one interrupt line and an
 * InterruptStatus register nobody sets when the backend signals, so the
 * transport must be created with used_irq_direct (see cvmm/virtio-devices.h);
 * the device thread only raises config-change interrupts
 * (DEVICE_NEEDS_RESET when the backend hangs up without reconnect).
 *
 * Beyond serving the guest:
 * - pause/resume: GET_VRING_BASE stops every ring in the backend (which
 *   finishes and pushes what it had in flight) and records where it
 *   stopped; resume starts the rings there again.
 * - save/restore (the device ops, through cvmm_virtio_mmio_save/restore):
 *   the ring positions from the pause, the acked features, the protocol
 *   features and the config space, so a VM restored in a new process (over
 *   a new connection to the same or a restarted backend) resumes its rings
 *   where the old one stopped rather than where the VMM's stale copy of
 *   the queue says.
 * - dirty logging (LOG_SHMFD): a shared bitmap, one bit per 4 KiB guest
 *   page, in which the backend records what it writes; harvest merges it
 *   into guest memory's VMM-side dirty bitmap, which live migration reads
 *   with cvmm_guest_mem_dirty_get_and_clear().
 *
 * The backend is another process and is not trusted with the VMM's memory
 * beyond guest RAM: every reply is checked by the vhost crate, the config
 * space is bounded, and a backend that hangs up or breaks the protocol
 * costs the guest that device only.
 *
 * Thread safety: everything but config access runs on the device thread
 * (the event manager's loop), which alone uses the socket; the config
 * space copy is read by vCPU threads under a lock.
 */
#ifndef CVMM_VIRTIO_DEVICES_VHOST_USER_H
#define CVMM_VIRTIO_DEVICES_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_event_manager;
struct cvmm_vhost_user_dev;

/** Virtio device id of virtio-fs (its config is made here when the
 * backend does not serve one, as virtiofsd does not). */
#define CVMM_VIRTIO_ID_FS 26u

struct cvmm_vhost_user_dev_opts {
	size_t sz;                  /* sizeof(struct cvmm_vhost_user_dev_opts) */
	const char *socket;         /* the backend's unix socket (it listens) */
	uint32_t device_id;         /* CVMM_VIRTIO_ID_BLOCK, _NET, _FS ... */
	unsigned int queues;        /* 0: net and fs 2, others the backend's
				     * count (PROTOCOL_F_MQ) or 1 */
	unsigned int queue_size;    /* QueueNumMax of every queue, 0: 256 */
	unsigned int reconnect;     /* seconds between reconnect attempts after
				     * a hang-up; 0: DEVICE_NEEDS_RESET */
	const char *fs_tag;         /* virtio-fs mount tag (at most 36 bytes),
				     * for backends without PROTOCOL_F_CONFIG */
	struct cvmm_event_manager *em; /* the device thread's loop */
	/* Behind a virtio-iommu (the transport's queues translate through a
	 * struct cvmm_dma_xlate): the backend must offer ACCESS_PLATFORM,
	 * BACKEND_REQ and REPLY_ACK (else create fails, -EOPNOTSUPP). Ring
	 * addresses go to it as IOVAs; its IOTLB misses (backend channel)
	 * are answered with UPDATEs from the IOMMU's mappings, and every
	 * unmap, detach or reset of the endpoint reaches it as an
	 * INVALIDATE, acked before the IOMMU's operation completes. */
	bool iommu;
};

/**
 * Connect to @o->socket, take ownership, read the features, protocol
 * features, the queue count and (with PROTOCOL_F_CONFIG) the config space,
 * get the inflight region (INFLIGHT_SHMFD) and watch the socket for a
 * hang-up on @o->em.
 * On failure nothing is left behind (*@out is NULL, the connection closed,
 * nothing registered on @o->em) and @err holds one line naming what
 * failed: "socket: 'PATH': WHAT: REASON" or "queues: N, but the backend on
 * 'PATH' has M".
 * @return 0; -ECONNREFUSED/-ENOENT (no backend); -EPROTO (a backend that
 * breaks the protocol); -EOPNOTSUPP (a blk/net backend without
 * PROTOCOL_F_CONFIG); -EINVAL (bad opts, more queues than the backend has);
 * -E2BIG (more than CVMM_VIRTIO_MAX_QUEUES); -ENOMEM.
 * Thread safety: set-up (before the device thread runs, or on it).
 */
int cvmm_vhost_user_dev_create(const struct cvmm_vhost_user_dev_opts *o,
			       struct cvmm_vhost_user_dev **out, char *err, size_t errlen);

/** The virtio device the transport drives. Thread-safe. */
struct cvmm_virtio_device *cvmm_vhost_user_dev_device(struct cvmm_vhost_user_dev *d);

/** Protocol features negotiated with the current backend (0 while it is
 * away). Thread safety: the device thread (racy reads are harmless). */
uint64_t cvmm_vhost_user_dev_protocol_features(const struct cvmm_vhost_user_dev *d);

/**
 * Close the connection without a word to the backend (it sees a hang-up
 * and stops the rings): at teardown, so the transport's final reset sends
 * nothing from a thread whose seccomp filter has no socket calls.
 * Thread safety: after the device thread stopped. NULL is a no-op.
 */
void cvmm_vhost_user_dev_detach(struct cvmm_vhost_user_dev *d);

/** Free (after the transport and the device thread stopped, before the
 * event manager is destroyed: that frees the reconnect timer). NULL is a
 * no-op. */
void cvmm_vhost_user_dev_destroy(struct cvmm_vhost_user_dev *d);

/**
 * Stop every running ring in the backend (GET_VRING_BASE: the backend
 * finishes and pushes the requests it took) and record where each
 * stopped. Guest kicks meanwhile stay in the ioeventfds until resume.
 * Nothing to do (0) when the device is not active or already paused.
 * @return 0; -ENOTCONN (the backend is away); the frontend's errors (a
 * ring that could not be stopped: the connection is dropped as on a
 * hang-up).
 * Thread safety: the device thread.
 */
int cvmm_vhost_user_dev_pause(struct cvmm_vhost_user_dev *d);

/**
 * Start the rings again where pause() (or a restored state) left them.
 * @return 0 (also when not paused); -ENOTCONN; the frontend's errors.
 * Thread safety: the device thread.
 */
int cvmm_vhost_user_dev_resume(struct cvmm_vhost_user_dev *d);

/**
 * Start dirty logging: a shared bitmap (memfd, one bit per 4 KiB page up to
 * the end of the highest guest RAM region) sent with SET_LOG_BASE, and
 * VHOST_F_LOG_ALL in the features, so the backend records every guest
 * page it writes (buffers and used rings). Rings started from now on are
 * also given the LOG flag with their used ring's address. Survives a
 * reconnect (sent again). On a device the driver has not activated yet
 * (no guest memory, no rings) the log is mapped and sent when it activates,
 * so rings started during a migration log from their first write; until
 * then harvest finds nothing.
 * @return 0; -EALREADY (already logging); -EOPNOTSUPP (the backend lacks
 * VHOST_F_LOG_ALL or PROTOCOL_F_LOG_SHMFD); -ENOTCONN; memfd/mmap and
 * frontend errors.
 * Thread safety: the device thread.
 */
int cvmm_vhost_user_dev_log_start(struct cvmm_vhost_user_dev *d);

/**
 * Move what the backend logged since the last harvest into guest memory's
 * VMM-side dirty bitmap (cvmm_guest_mem_mark_dirty(): turn it on with
 * cvmm_guest_mem_dirty_log_enable() first) and clear the shared bits.
 * Call it after a pause for the final pass: the backend has finished.
 * @return pages marked (>= 0); -EINVAL (not logging).
 * Thread safety: any thread (the bits are exchanged atomically), but not
 * concurrently with log_start/log_stop/destroy.
 */
long cvmm_vhost_user_dev_log_harvest(struct cvmm_vhost_user_dev *d);

/**
 * Stop logging: VHOST_F_LOG_ALL off; the bitmap is unmapped here (the
 * backend keeps its own mapping until its next SET_LOG_BASE). Bits not yet
 * harvested are lost. @return 0; -EINVAL (not logging); frontend errors
 * (logging is off on this side anyway).
 * Thread safety: the device thread.
 */
int cvmm_vhost_user_dev_log_stop(struct cvmm_vhost_user_dev *d);

/*
 * Post-copy at the destination (vhost-user.rst, PAGEFAULT negotiated when
 * the backend offers it). The VM's RAM is registered with its own
 * userfaultfd; the backend's mapping of the same shared memory faults
 * into the userfaultfd it hands out here, and the VM serves those faults
 * too: the page placed through the VM's mapping, then UFFDIO_WAKE on the
 * backend's fd at the backend's address.
 */

/** One region as the backend maps it: guest [gpa, gpa + size) is at the
 * backend's address addr. */
struct cvmm_vhost_user_pc_region {
	uint64_t gpa, size, addr;
};

/**
 * POSTCOPY_ADVISE then POSTCOPY_LISTEN, before the device state is
 * restored: *@ufd gets the backend's userfaultfd (the caller owns it).
 * From now on the memory table goes in its post-copy form and the
 * backend's answer is kept (postcopy_regions()).
 * @return 0; -EOPNOTSUPP the backend does not offer PAGEFAULT; -EBUSY the
 * rings run already or post-copy began; -ENOTCONN no backend; frontend
 * errors. Thread safety: set-up (before the device thread runs).
 */
int cvmm_vhost_user_dev_postcopy_begin(struct cvmm_vhost_user_dev *d, int *ufd);

/** The backend's mapping as its last answer said (0 regions before the
 * rings started). Thread safety: any thread. */
unsigned int cvmm_vhost_user_dev_postcopy_regions(struct cvmm_vhost_user_dev *d,
						  struct cvmm_vhost_user_pc_region *out,
						  unsigned int max);

/** Every page is here: POSTCOPY_END (the backend unregisters). 0 when
 * post-copy did not begin. Thread safety: any thread (serialised with
 * the rings' start on the backend's socket). */
int cvmm_vhost_user_dev_postcopy_end(struct cvmm_vhost_user_dev *d);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_VHOST_USER_H */
