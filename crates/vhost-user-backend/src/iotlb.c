/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device IOTLB (VIRTIO_F_ACCESS_PLATFORM): what the frontend told us of
 * the guest's IOMMU mappings, as IOVA -> guest physical windows, and the
 * struct cvmm_dma_xlate every vring translates its rings and buffers
 * through. A miss asks the frontend (BACKEND_IOTLB_MSG) and looks again
 * once it answered; what is still unmapped fails that access.
 *
 * The table is a sorted array of disjoint windows: lookups are binary
 * searches under a read lock (any worker), changes take it exclusive (the
 * serve() thread, from IOTLB_MSG). The frontend's uaddr is turned into a
 * guest physical address when the UPDATE arrives (the vhost crate checked
 * it lies in one region), so a lookup needs no region table; a new memory
 * table flushes everything (the frontend answers the misses again).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Frontend answers to a miss: a frontend that does not answer (or is busy
 * waiting on us) costs the request, not the backend. */
#define IOTLB_MISS_TIMEOUT_MS 3000
/* Misses one translation may send: a range over several windows needs one
 * per window, and frontends answer a page at a time (QEMU: the IOMMU's
 * page), so a 64 KiB descriptor takes 16. Beyond this the access fails. */
#define IOTLB_MISSES_PER_XLATE 4u
#define IOTLB_MISSES_MAX 1024u

_Static_assert(CVMM_DMA_READ == CVMM_VHOST_ACCESS_RO &&
		       CVMM_DMA_WRITE == CVMM_VHOST_ACCESS_WO,
	       "DMA access bits are vhost-user permission bits");

/* Index of the first window whose last byte is >= @iova (n when none). */
static unsigned int first_at_or_after(const struct vub_iotlb *t, uint64_t iova)
{
	unsigned int lo = 0, hi = t->n;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;

		if (t->e[mid].last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int cvmm_vub_iotlb_init(struct vub_iotlb *t, unsigned int cap)
{
	memset(t, 0, sizeof(*t));
	if (cap == 0)
		cap = VUB_IOTLB_MAX;
	t->e = calloc(cap, sizeof(*t->e));
	if (!t->e)
		return -ENOMEM;
	t->cap = cap;
	pthread_rwlock_init(&t->lock, NULL);
	return 0;
}

void cvmm_vub_iotlb_fini(struct vub_iotlb *t)
{
	if (!t->e)
		return;
	pthread_rwlock_destroy(&t->lock);
	free(t->e);
	t->e = NULL;
}

/* Cut [iova, last] out of the table. Needs the lock exclusive and room for
 * one more window (a cut in the middle of one splits it). */
static void cut(struct vub_iotlb *t, uint64_t iova, uint64_t last)
{
	unsigned int i = first_at_or_after(t, iova);

	while (i < t->n && t->e[i].iova <= last) {
		struct vub_iotlb_entry *e = &t->e[i];

		if (e->iova < iova && e->last > last) {
			/* split: keep both ends */
			struct vub_iotlb_entry tail = *e;

			tail.gpa += last + 1 - e->iova;
			tail.iova = last + 1;
			e->last = iova - 1;
			memmove(&t->e[i + 2], &t->e[i + 1], (t->n - i - 1) * sizeof(*e));
			t->e[i + 1] = tail;
			t->n++;
			return;
		}
		if (e->iova < iova) {
			e->last = iova - 1;
			i++;
		} else if (e->last > last) {
			e->gpa += last + 1 - e->iova;
			e->iova = last + 1;
			return;
		} else {
			memmove(e, e + 1, (t->n - i - 1) * sizeof(*e));
			t->n--;
		}
	}
}

static void withdrawn(struct vub_iotlb *t)
{
	__atomic_add_fetch(&t->gen, 1, __ATOMIC_RELEASE);
}

int cvmm_vub_iotlb_update(struct vub_iotlb *t, uint64_t iova, uint64_t size, uint64_t gpa,
			  uint8_t perm)
{
	uint64_t last = iova + size - 1;
	unsigned int i;

	if (size == 0 || last < iova || gpa + (size - 1) < gpa || perm == 0 ||
	    (perm & ~CVMM_VHOST_ACCESS_RW))
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	/* Room for a split and the new window; a full cache starts over
	 * (everything in it can be asked for again). */
	if (t->n + 2 > t->cap) {
		t->n = 0;
		t->flushes++;
		withdrawn(t);
	}
	/* An UPDATE over an older window replaces that part of it; its
	 * permissions may be narrower, so it counts as a withdrawal. */
	i = first_at_or_after(t, iova);
	if (i < t->n && t->e[i].iova <= last) {
		cut(t, iova, last);
		withdrawn(t);
	}
	i = first_at_or_after(t, iova);
	memmove(&t->e[i + 1], &t->e[i], (t->n - i) * sizeof(t->e[0]));
	t->e[i] = (struct vub_iotlb_entry){ iova, last, gpa, perm };
	t->n++;
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

int cvmm_vub_iotlb_invalidate(struct vub_iotlb *t, uint64_t iova, uint64_t size)
{
	uint64_t last = iova + size - 1;

	if (size == 0 || last < iova)
		return -EINVAL;
	pthread_rwlock_wrlock(&t->lock);
	if (t->n + 1 > t->cap)
		t->n = 0; /* no room to split: drop all (correct for a cache) */
	else
		cut(t, iova, last);
	withdrawn(t);
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

void cvmm_vub_iotlb_flush(struct vub_iotlb *t)
{
	pthread_rwlock_wrlock(&t->lock);
	t->n = 0;
	withdrawn(t);
	pthread_rwlock_unlock(&t->lock);
}

unsigned int cvmm_vub_iotlb_count(struct vub_iotlb *t)
{
	unsigned int n;

	pthread_rwlock_rdlock(&t->lock);
	n = t->n;
	pthread_rwlock_unlock(&t->lock);
	return n;
}

/*
 * The cvmm_dma_xlate contract, from the table alone. *@hole gets the first
 * IOVA of the range no window covers (on -EFAULT).
 */
int cvmm_vub_iotlb_lookup(struct vub_iotlb *t, uint64_t iova, uint64_t len,
			  unsigned int access, uint64_t *gpa, struct cvmm_dma_span *span,
			  uint64_t *hole)
{
	uint64_t last = iova + len - 1, at = iova, next_gpa = 0;
	unsigned int i;
	int ret = 0;

	*hole = iova;
	if (span)
		span->perm = 0;
	if (len == 0 || last < iova || access == 0 || (access & ~(CVMM_DMA_READ | CVMM_DMA_WRITE)))
		return -EFAULT;
	pthread_rwlock_rdlock(&t->lock);
	i = first_at_or_after(t, iova);
	for (;;) {
		const struct vub_iotlb_entry *e = i < t->n ? &t->e[i] : NULL;

		if (!e || e->iova > at) {
			*hole = at;
			ret = -EFAULT;
			break;
		}
		if ((e->perm & access) != access) {
			ret = -EACCES;
			break;
		}
		if (at == iova) {
			*gpa = e->gpa + (iova - e->iova);
			if (span)
				*span = (struct cvmm_dma_span){ e->iova, e->last, e->gpa, e->perm };
		} else if (e->gpa + (at - e->iova) != next_gpa) {
			ret = -ERANGE;
			break;
		}
		if (e->last >= last)
			break;
		next_gpa = e->gpa + (e->last - e->iova) + 1;
		at = e->last + 1;
		i++;
	}
	pthread_rwlock_unlock(&t->lock);
	if (ret && span)
		span->perm = 0;
	return ret;
}

static int xlate(void *opaque, uint64_t iova, uint64_t len, unsigned int access,
		 uint64_t *gpa, struct cvmm_dma_span *span)
{
	struct cvmm_vub *d = opaque;
	struct vub_iotlb *t = &d->iotlb;
	uint64_t hole, asked = 0;
	unsigned int tries = 0, most = IOTLB_MISSES_PER_XLATE;
	int ret, r;

	if (len / 4096 + IOTLB_MISSES_PER_XLATE < IOTLB_MISSES_MAX)
		most = (unsigned int)(len / 4096) + IOTLB_MISSES_PER_XLATE;
	else
		most = IOTLB_MISSES_MAX;
	for (;;) {
		ret = cvmm_vub_iotlb_lookup(t, iova, len, access, gpa, span, &hole);
		if (ret != -EFAULT || len == 0 || iova + len - 1 < iova)
			break;
		/* Asked for this very address already: the frontend has no
		 * mapping for it (a range over several windows moves on). */
		if ((tries && hole == asked) || tries == most || !d->be)
			break;
		tries++;
		asked = hole;
		__atomic_add_fetch(&t->misses, 1, __ATOMIC_RELAXED);
		r = cvmm_vhost_backend_send_iotlb_msg(d->be, CVMM_VHOST_IOTLB_MISS, hole,
						      (uint8_t)access, IOTLB_MISS_TIMEOUT_MS);
		VUB_LOG(CVMM_LOG_DEBUG, "IOTLB miss at 0x%llx (access %u): %d",
			(unsigned long long)hole, access, r);
	}
	if (ret)
		__atomic_add_fetch(&t->faults, 1, __ATOMIC_RELAXED);
	return ret;
}

void cvmm_vub_iotlb_xlate(struct cvmm_vub *d, struct cvmm_dma_xlate *x)
{
	*x = (struct cvmm_dma_xlate){ .translate = xlate, .opaque = d, .generation = &d->iotlb.gen };
}
