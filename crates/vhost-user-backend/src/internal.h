/* SPDX-License-Identifier: Apache-2.0 */
#ifndef CVMM_VUB_INTERNAL_H
#define CVMM_VUB_INTERNAL_H

#include <cvmm/vhost-user-backend.h>
#include <cvmm/event-manager.h>
#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>

#include <pthread.h>

#define VUB_LOG(lvl, ...) cvmm_log(lvl, "vhost-user-backend", __VA_ARGS__)

/* Inflight region, split-ring format of vhost-user.rst ("Inflight I/O
 * tracking"): one of these per queue, at a stride of region size / queues
 * (a multiple of 64 bytes, at least ALIGN_UP(16 + 16 * ring size, 64)). */
struct vub_inflight_desc {
	uint8_t inflight;
	uint8_t padding[5];
	uint16_t next;
	uint64_t counter;
};

struct vub_inflight_queue {
	uint64_t features;
	uint16_t version;
	uint16_t desc_num;
	uint16_t last_batch_head;
	uint16_t used_idx;
	struct vub_inflight_desc desc[];
};

#define VUB_INFLIGHT_VERSION 1u
/* The replay rings (avail at 0, used at 128 KiB) for resubmission: room
 * for 32768-entry rings. */
#define VUB_SCRATCH_SIZE (512ull << 10)

struct vub_worker {
	struct cvmm_vub *d;
	unsigned int idx;
	struct cvmm_event_manager *em;
	pthread_t thread;
	bool thread_ok;
};

/* The device IOTLB (iotlb.c): disjoint IOVA windows sorted by iova. */
struct vub_iotlb_entry {
	uint64_t iova, last, gpa;
	uint8_t perm; /* CVMM_VHOST_ACCESS_* (= CVMM_DMA_READ/WRITE bits) */
};

/* Windows kept; a full table starts over (the frontend answers again). */
#define VUB_IOTLB_MAX 4096u

struct vub_iotlb {
	pthread_rwlock_t lock;
	struct vub_iotlb_entry *e;
	unsigned int n, cap;
	uint64_t gen;     /* moves when a translation is withdrawn (atomic) */
	uint64_t misses;  /* MISS messages sent (atomic) */
	uint64_t faults;  /* translations refused after asking (atomic) */
	uint64_t flushes; /* full table dropped to make room */
};

struct cvmm_vub_vring {
	struct cvmm_vub *d;
	struct vub_worker *w;
	unsigned int idx;
	struct cvmm_virtq q;
	/* replays the heads left in flight by a previous daemon */
	struct cvmm_virtq rq;
	struct cvmm_guest_mem *rmem; /* rq's memory: the desc region + scratch */
	bool rq_active;
	/* configuration from the frontend (control thread) */
	uint16_t num;
	bool addr_set;
	/* packed: descriptor ring, driver and device event suppression areas */
	uint64_t desc_gpa, avail_gpa, used_gpa;
	/* where the ring resumes, as SET/GET_VRING_BASE encode it (split:
	 * next avail index; packed: both slots and wrap counters) */
	uint32_t base;
	int kick_fd, call_fd, err_fd;
	bool enabled;
	/* parked by a post-copy SET_MEM_TABLE until the frontend's ack */
	bool pc_parked;
	/* worker state */
	bool started;
	/* ACCESS_PLATFORM: started, but the rings are translated (and the
	 * queue activated) by a call queued after the start, when serve()
	 * is free to take the frontend's answers to our misses */
	bool activating;
	struct cvmm_dma_xlate dma;
	struct cvmm_guest_mem *mem;
	struct vub_inflight_queue *inflight; /* NULL: not tracking */
	uint64_t counter;
	void *priv;
};

struct cvmm_vub {
	struct cvmm_vub_opts o;
	struct cvmm_vub_device_ops ops;
	char *path;
	int listen_fd;
	int exit_fd;   /* eventfd: stop() */
	int sig_fd;    /* signalfd, -1 without CVMM_VUB_F_SIGNALS */
	pthread_t sig_thread;
	bool sig_thread_ok;
	pthread_mutex_t lock; /* conn_sock */
	int conn_sock;        /* the frontend's socket while connected, else -1 */
	bool stopping;
	struct cvmm_vhost_backend *be;
	uint64_t features;   /* acked */
	uint64_t pfeatures;  /* acked protocol features */
	uint8_t status;      /* virtio device status (STATUS protocol feature) */
	struct cvmm_guest_mem *mem;
	struct vub_worker *workers;
	unsigned int nworkers;
	struct cvmm_vub_vring *vrings;
	/* inflight region */
	uint8_t *inflight;
	uint64_t inflight_len;
	uint16_t inflight_nq;
	uint64_t inflight_stride; /* bytes per queue */
	uint64_t inflight_cap;    /* entries per queue */
	/* shared dirty log */
	uint8_t *log_map;
	uint64_t log_map_len;
	uint8_t *log;       /* log_map + offset */
	uint64_t log_len;
	uint64_t log_pages; /* bits this daemon set, for its log (atomic) */
	uint64_t connections;
	uint64_t resubmitted;
	/* post-copy (postcopy.c) */
	enum { VUB_PC_NONE, VUB_PC_ADVISED, VUB_PC_LISTENING } pc_state;
	int pc_ufd;          /* our copy of the userfaultfd handed out, else -1 */
	uint64_t pc_advised; /* ADVISEs accepted, for tests */
	struct vub_iotlb iotlb;
};

/* proto.c */
extern const struct cvmm_vhost_backend_ops cvmm_vub_backend_ops;
void cvmm_vub_conn_reset(struct cvmm_vub *d);

/* Virtio device status bits the framework acts on. */
#define VUB_STATUS_DRIVER_OK 0x04u

static inline bool cvmm_vub_packed(const struct cvmm_vub *d)
{
	return d->features & CVMM_VIRTIO_F_RING_PACKED;
}

/* vring.c */
int cvmm_vub_vring_try_start(struct cvmm_vub_vring *vr);
void cvmm_vub_vring_stop(struct cvmm_vub_vring *vr);
/* Stop a started vring and keep its position in vr->base. */
void cvmm_vub_vring_park(struct cvmm_vub_vring *vr);

/* inflight.c */
uint64_t cvmm_vub_inflight_queue_bytes(uint16_t qsize);
int cvmm_vub_inflight_get(struct cvmm_vub *d, uint16_t nq, uint16_t qsize, int *fd,
			  uint64_t *size, uint64_t *off);
int cvmm_vub_inflight_set(struct cvmm_vub *d, int fd, uint64_t size, uint64_t off,
			  uint16_t nq, uint16_t qsize);
void cvmm_vub_inflight_unmap(struct cvmm_vub *d);
int cvmm_vub_inflight_attach(struct cvmm_vub_vring *vr, uint16_t ring_used);
void cvmm_vub_inflight_mark(struct cvmm_vub_vring *vr, uint16_t head);

/* postcopy.c: the POSTCOPY callbacks; register() covers @m with the
 * userfaultfd while post-copy listens (else a no-op); reset() lets any
 * post-copy go (connection end). */
int cvmm_vub_postcopy_advise(void *opaque, int *ufd);
int cvmm_vub_postcopy_listen(void *opaque);
int cvmm_vub_postcopy_end(void *opaque);
int cvmm_vub_postcopy_mem_bases(void *opaque, const struct cvmm_vhost_mem_region *r,
				unsigned int n, uint64_t *bases);
int cvmm_vub_postcopy_register(struct cvmm_vub *d, struct cvmm_guest_mem *m);
void cvmm_vub_postcopy_reset(struct cvmm_vub *d);

/* iotlb.c; @cap 0: VUB_IOTLB_MAX. Errors: -EINVAL (empty, wrapping, bad
 * perm), -ENOMEM. lookup() follows struct cvmm_dma_xlate's translate. */
int cvmm_vub_iotlb_init(struct vub_iotlb *t, unsigned int cap);
void cvmm_vub_iotlb_fini(struct vub_iotlb *t);
int cvmm_vub_iotlb_update(struct vub_iotlb *t, uint64_t iova, uint64_t size, uint64_t gpa,
			  uint8_t perm);
int cvmm_vub_iotlb_invalidate(struct vub_iotlb *t, uint64_t iova, uint64_t size);
void cvmm_vub_iotlb_flush(struct vub_iotlb *t);
unsigned int cvmm_vub_iotlb_count(struct vub_iotlb *t);
int cvmm_vub_iotlb_lookup(struct vub_iotlb *t, uint64_t iova, uint64_t len,
			  unsigned int access, uint64_t *gpa, struct cvmm_dma_span *span,
			  uint64_t *hole);
/* The translation a vring uses (misses go to d->be). */
void cvmm_vub_iotlb_xlate(struct cvmm_vub *d, struct cvmm_dma_xlate *x);

static inline bool cvmm_vub_iommu(const struct cvmm_vub *d)
{
	return d->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM;
}

/* log.c */
int cvmm_vub_log_set(struct cvmm_vub *d, int fd, uint64_t size, uint64_t off);
void cvmm_vub_log_unmap(struct cvmm_vub *d);
void cvmm_vub_log_sync(struct cvmm_vub *d, struct cvmm_guest_mem *mem);

#endif
