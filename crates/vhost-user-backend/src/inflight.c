/* SPDX-License-Identifier: Apache-2.0 */
/* The inflight region (INFLIGHT_SHMFD, split rings): which heads a daemon
 * has popped and not yet completed, kept in shared memory the frontend
 * holds on to, so a restarted daemon can resubmit them in order. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t cvmm_vub_inflight_queue_bytes(uint16_t qsize)
{
	return (16ull + 16ull * qsize + 63) & ~63ull;
}

static int check_geometry(const struct cvmm_vub *d, uint16_t nq, uint16_t qsize)
{
	if (nq == 0 || nq > d->o.num_queues || qsize == 0 || (qsize & (qsize - 1)))
		return -EINVAL;
	return 0;
}

void cvmm_vub_inflight_unmap(struct cvmm_vub *d)
{
	if (d->inflight)
		munmap(d->inflight, d->inflight_len);
	d->inflight = NULL;
	d->inflight_len = 0;
	d->inflight_nq = 0;
	d->inflight_stride = d->inflight_cap = 0;
}

/* The per-queue stride is size / nq: the frontend's queue_size need not be
 * the ring size (QEMU's virtio-mmio offers 1024 entries whatever its
 * queue-size property says), so a region's capacity is what counts. */
static void adopt(struct cvmm_vub *d, void *p, uint64_t len, uint16_t nq)
{
	cvmm_vub_inflight_unmap(d);
	d->inflight = p;
	d->inflight_len = len;
	d->inflight_nq = nq;
	d->inflight_stride = (len / nq) & ~63ull;
	d->inflight_cap = d->inflight_stride < 16 ? 0 : (d->inflight_stride - 16) / 16;
}

int cvmm_vub_inflight_get(struct cvmm_vub *d, uint16_t nq, uint16_t qsize, int *fd,
			  uint64_t *size, uint64_t *off)
{
	/* Room for rings up to 1024 entries (or the size asked, if larger). */
	uint64_t qb = cvmm_vub_inflight_queue_bytes(qsize > 1024 ? qsize : 1024), len = qb * nq;
	void *p;
	int mfd, ret = check_geometry(d, nq, qsize);

	if (ret < 0)
		return ret;
	mfd = memfd_create("vub-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	/*
	 * Sealed at its size, as libvhost-user does: the frontend maps this
	 * file too, and a file that could shrink under it would make its next
	 * touch of the area a SIGBUS.
	 */
	if (ftruncate(mfd, (off_t)len) < 0 ||
	    fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		ret = -errno;
		close(mfd);
		return ret;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	if (p == MAP_FAILED) {
		ret = -errno;
		close(mfd);
		return ret;
	}
	for (unsigned int i = 0; i < nq; i++) {
		struct vub_inflight_queue *iq = (void *)((uint8_t *)p + i * qb);

		/* desc_num is set when the ring's size is known (attach) */
		iq->version = VUB_INFLIGHT_VERSION;
	}
	adopt(d, p, len, nq);
	*fd = mfd;
	*size = len;
	*off = 0;
	return 0;
}

int cvmm_vub_inflight_set(struct cvmm_vub *d, int fd, uint64_t size, uint64_t off,
			  uint16_t nq, uint16_t qsize)
{
	uint64_t need = cvmm_vub_inflight_queue_bytes(qsize) * nq, end;
	struct stat st;
	void *p;
	int ret = check_geometry(d, nq, qsize);

	if (ret < 0)
		return ret;
	if (size < need || off % cvmm_page_size() || cvmm_add_overflow(off, size, &end) ||
	    size > (1ull << 32) || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size < end)
		return -EINVAL;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	close(fd);
	adopt(d, p, size, nq);
	return 0;
}

struct pending {
	uint64_t counter;
	uint16_t head;
};

static int by_counter(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;

	return x->counter < y->counter ? -1 : x->counter > y->counter;
}

/* Set up the replay queue: a private guest memory holding a second
 * mapping of the frontend region with the descriptor table, plus an
 * anonymous scratch region (above it) for the replay avail/used rings. It
 * is not part of the memory the device sees, so no descriptor can reach
 * the scratch rings. It lives until the vring stops (replayed chains keep
 * pointers into the descriptor table mapping). */
static int replay(struct cvmm_vub_vring *vr, const struct pending *p, unsigned int n)
{
	struct cvmm_vub *d = vr->d;
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(vr->mem, vr->desc_gpa);
	uint64_t avail, used, end;
	int ret;

	if (!r || r->fd < 0)
		return -EFAULT;
	end = r->gpa + r->size;
	avail = (end + (2ull << 20) - 1) & ~((2ull << 20) - 1);
	if (avail < end || !cvmm_range_ok(avail, VUB_SCRATCH_SIZE, UINT64_MAX))
		return -ERANGE;
	used = avail + (128ull << 10);
	ret = cvmm_guest_mem_create(&vr->rmem);
	if (ret < 0)
		return ret;
	struct cvmm_mem_region_opts dr = {
		.sz = sizeof(dr), .gpa = r->gpa, .size = r->size, .backing = CVMM_MEM_FILE,
		.flags = CVMM_MEM_F_SHARED, .fd = r->fd, .fd_offset = r->fd_offset,
	};
	struct cvmm_mem_region_opts sr = {
		.sz = sizeof(sr), .gpa = avail, .size = VUB_SCRATCH_SIZE,
		.backing = CVMM_MEM_ANON, .flags = CVMM_MEM_F_NORESERVE, .fd = -1,
	};
	ret = cvmm_guest_mem_add_region(vr->rmem, &dr);
	if (ret == 0)
		ret = cvmm_guest_mem_add_region(vr->rmem, &sr);
	for (unsigned int i = 0; i < n && ret == 0; i++)
		ret = cvmm_guest_mem_write_u16(vr->rmem, avail + 4 + 2ull * i, p[i].head);
	if (ret == 0)
		ret = cvmm_guest_mem_write_u16(vr->rmem, avail + 2, (uint16_t)n);
	if (ret == 0)
		ret = cvmm_virtq_init(&vr->rq, vr->rmem, vr->num);
	if (ret < 0)
		goto fail;
	cvmm_virtq_set_size(&vr->rq, vr->num);
	cvmm_virtq_set_addrs(&vr->rq, vr->desc_gpa, avail, used);
	cvmm_virtq_set_features(&vr->rq, d->features & ~CVMM_VIRTIO_F_EVENT_IDX);
	ret = cvmm_virtq_activate(&vr->rq);
	if (ret < 0)
		goto fail;
	vr->rq_active = true;
	return 0;
fail:
	cvmm_guest_mem_destroy(vr->rmem);
	vr->rmem = NULL;
	return ret;
}

/* At vring start: find this queue's record, repair a half-finished push,
 * collect what was in flight. @return the avail index to continue from. */
int cvmm_vub_inflight_attach(struct cvmm_vub_vring *vr, uint16_t ring_used)
{
	struct cvmm_vub *d = vr->d;
	struct vub_inflight_queue *iq;
	struct pending *p;
	unsigned int n = 0;
	uint64_t max = 0;

	vr->inflight = NULL;
	vr->rq_active = false;
	cvmm_guest_mem_destroy(vr->rmem);
	vr->rmem = NULL;
	vr->counter = 1;
	if (!d->inflight || vr->idx >= d->inflight_nq)
		return vr->base;
	if (d->inflight_cap < vr->num) {
		VUB_LOG(CVMM_LOG_WARN, "vring %u: inflight region holds %llu entries, ring has %u",
			vr->idx, (unsigned long long)d->inflight_cap, vr->num);
		return vr->base;
	}
	iq = (void *)(d->inflight + vr->idx * d->inflight_stride);
	if (iq->version != VUB_INFLIGHT_VERSION || iq->desc_num != vr->num) {
		/* fresh (zeroed) or foreign: start tracking from scratch */
		memset(iq, 0, cvmm_vub_inflight_queue_bytes(vr->num));
		iq->version = VUB_INFLIGHT_VERSION;
		iq->desc_num = vr->num;
		iq->used_idx = ring_used;
		vr->inflight = iq;
		return vr->base;
	}
	vr->inflight = iq;
	if (iq->used_idx != ring_used) {
		/* Died between publishing a used entry and clearing its flag. */
		if (iq->last_batch_head < vr->num)
			iq->desc[iq->last_batch_head].inflight = 0;
		iq->used_idx = ring_used;
	}
	p = malloc(sizeof(*p) * vr->num);
	if (!p)
		return -ENOMEM;
	for (unsigned int i = 0; i < vr->num; i++) {
		if (iq->desc[i].inflight != 1) {
			iq->desc[i].inflight = 0;
			continue;
		}
		p[n].counter = iq->desc[i].counter;
		p[n].head = (uint16_t)i;
		if (p[n].counter > max)
			max = p[n].counter;
		n++;
	}
	vr->counter = max + 1;
	if (n == 0) {
		free(p);
		return ring_used;
	}
	qsort(p, n, sizeof(*p), by_counter);
	if (replay(vr, p, n) < 0) {
		VUB_LOG(CVMM_LOG_WARN, "vring %u: %u requests in flight cannot be replayed",
			vr->idx, n);
		free(p);
		/* best effort: take them again from the available ring */
		return ring_used;
	}
	free(p);
	VUB_LOG(CVMM_LOG_INFO, "vring %u: resubmitting %u requests", vr->idx, n);
	return (uint16_t)(ring_used + n);
}

void cvmm_vub_inflight_mark(struct cvmm_vub_vring *vr, uint16_t head)
{
	struct vub_inflight_queue *iq = vr->inflight;

	if (!iq)
		return;
	iq->desc[head].counter = vr->counter++;
	__atomic_store_n(&iq->desc[head].inflight, 1, __ATOMIC_RELEASE);
}

void cvmm_vub_vring_push_begin(struct cvmm_vub_vring *vr, uint16_t id)
{
	if (vr->inflight)
		__atomic_store_n(&vr->inflight->last_batch_head, id, __ATOMIC_RELEASE);
}

void cvmm_vub_vring_push_end(struct cvmm_vub_vring *vr, uint16_t id)
{
	struct vub_inflight_queue *iq = vr->inflight;

	if (!iq || id >= vr->num)
		return;
	__atomic_store_n(&iq->desc[id].inflight, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&iq->used_idx, vr->q.next_used, __ATOMIC_RELEASE);
}
