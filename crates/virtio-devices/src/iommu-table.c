/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The virtio-iommu's tables: endpoints, domains and their mappings, and the
 * translation devices behind it use on every ring and buffer. A domain's
 * mappings are a sorted array: lookup is a binary search under a shared
 * lock (the data path), changes take the lock exclusive (the request
 * queue), so a device thread never races a MAP or UNMAP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "iommu-internal.h"

#define PAGE_MASK (CVMM_IOMMU_PAGE_SIZE - 1)

static void bump(struct cvmm_iommu *io)
{
	__atomic_add_fetch(&io->generation, 1, __ATOMIC_RELEASE);
}

/* Endpoints (bit i: io->ep[i]) whose translations in [iova, last] were
 * withdrawn: tell their watchers. Called after the lock is dropped, before
 * the operation returns. */
static void notify(struct cvmm_iommu *io, uint32_t eps, uint64_t iova, uint64_t last)
{
	if (!eps)
		return;
	pthread_mutex_lock(&io->watch_lock);
	for (unsigned int i = 0; i < CVMM_IOMMU_MAX_ENDPOINTS; i++)
		if ((eps >> i) & 1 && io->ep[i].watch_fn)
			io->ep[i].watch_fn(io->ep[i].watch_arg, iova, last);
	pthread_mutex_unlock(&io->watch_lock);
}

/* Endpoints attached to @d (or to anything, @d NULL), as notify() wants. */
static uint32_t eps_of(const struct cvmm_iommu *io, const struct vd_iommu_domain *d)
{
	uint32_t eps = 0;

	for (unsigned int i = 0; i < io->nep; i++)
		if (io->ep[i].dom && (!d || io->ep[i].dom == d))
			eps |= 1u << i;
	return eps;
}

static int ep_watch(void *opaque, void (*fn)(void *arg, uint64_t iova, uint64_t last),
		    void *arg)
{
	struct vd_iommu_ep *ep = opaque;
	int r = 0;

	pthread_mutex_lock(&ep->io->watch_lock);
	if (fn && ep->watch_fn && (ep->watch_fn != fn || ep->watch_arg != arg))
		r = -EBUSY;
	else {
		ep->watch_fn = fn;
		ep->watch_arg = fn ? arg : NULL;
	}
	pthread_mutex_unlock(&ep->io->watch_lock);
	return r;
}

static struct vd_iommu_ep *find_ep(struct cvmm_iommu *io, uint32_t id)
{
	for (unsigned int i = 0; i < io->nep; i++)
		if (io->ep[i].id == id)
			return &io->ep[i];
	return NULL;
}

static struct vd_iommu_domain *find_dom(struct cvmm_iommu *io, uint32_t id)
{
	for (unsigned int i = 0; i < io->ndom; i++)
		if (io->dom[i]->id == id)
			return io->dom[i];
	return NULL;
}

static void dom_free(struct cvmm_iommu *io, struct vd_iommu_domain *d)
{
	for (unsigned int i = 0; i < io->ndom; i++)
		if (io->dom[i] == d) {
			io->dom[i] = io->dom[--io->ndom];
			break;
		}
	io->nmaps -= d->nmaps;
	free(d->maps);
	free(d);
}

/* Index of the first mapping whose end is >= @addr (nmaps when none). */
static uint32_t lower(const struct vd_iommu_domain *d, uint64_t addr)
{
	uint32_t lo = 0, hi = d->nmaps;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (d->maps[mid].end < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The lookup itself, under the shared lock; @span (or NULL) gets the
 * mapping when the range lies in one. */
static int xlate_locked(const struct vd_iommu_domain *d, uint64_t iova, uint64_t len,
			unsigned int access, uint64_t *gpa, struct cvmm_dma_span *span)
{
	uint64_t last, pos = iova, want_phys = 0;
	uint32_t i;

	if (!d || len == 0 || __builtin_add_overflow(iova, len - 1, &last))
		return -EFAULT;
	i = lower(d, iova);
	for (; i < d->nmaps; i++) {
		const struct vd_iommu_map *m = &d->maps[i];
		uint64_t phys;

		if (m->start > pos)
			return -EFAULT;
		if ((m->perm & access) != access)
			return -EACCES;
		phys = m->phys + (pos - m->start);
		if (pos == iova)
			*gpa = phys;
		else if (phys != want_phys)
			return -ERANGE;
		if (m->end >= last) {
			if (span)
				*span = pos == iova ? (struct cvmm_dma_span){
					.iova = m->start, .last = m->end, .gpa = m->phys,
					.perm = m->perm } : (struct cvmm_dma_span){ 0 };
			return 0;
		}
		pos = m->end + 1;
		/* the next byte's guest physical address, if contiguous */
		want_phys = m->phys + (m->end - m->start) + 1;
	}
	return -EFAULT;
}

static int ep_translate(void *opaque, uint64_t iova, uint64_t len, unsigned int access,
			uint64_t *gpa, struct cvmm_dma_span *span)
{
	struct vd_iommu_ep *ep = opaque;
	int r;

	pthread_rwlock_rdlock(&ep->io->lock);
	r = xlate_locked(ep->dom, iova, len, access, gpa, span);
	pthread_rwlock_unlock(&ep->io->lock);
	return r;
}

int cvmm_iommu_translate(struct cvmm_iommu *io, uint32_t endpoint, uint64_t iova,
			 uint64_t len, unsigned int access, uint64_t *gpa)
{
	struct vd_iommu_ep *ep;
	int r;

	if (!io || !gpa)
		return -EINVAL;
	pthread_rwlock_rdlock(&io->lock);
	ep = find_ep(io, endpoint);
	r = ep ? xlate_locked(ep->dom, iova, len, access, gpa, NULL) : -ENOENT;
	pthread_rwlock_unlock(&io->lock);
	return r;
}

int cvmm_iommu_endpoint_add(struct cvmm_iommu *io, uint32_t endpoint,
			    const struct cvmm_dma_xlate **out)
{
	struct vd_iommu_ep *ep;
	int r = 0;

	if (!io || !out)
		return -EINVAL;
	pthread_rwlock_wrlock(&io->lock);
	if (find_ep(io, endpoint))
		r = -EEXIST;
	else if (io->nep == CVMM_IOMMU_MAX_ENDPOINTS)
		r = -ENOSPC;
	if (!r) {
		ep = &io->ep[io->nep++];
		ep->id = endpoint;
		ep->dom = NULL;
		ep->io = io;
		ep->xlate.translate = ep_translate;
		ep->xlate.opaque = ep;
		ep->xlate.generation = &io->generation;
		ep->xlate.watch = ep_watch;
		ep->watch_fn = NULL;
		*out = &ep->xlate;
	}
	pthread_rwlock_unlock(&io->lock);
	return r;
}

static void detach_locked(struct cvmm_iommu *io, struct vd_iommu_ep *ep)
{
	struct vd_iommu_domain *d = ep->dom;

	if (!d)
		return;
	ep->dom = NULL;
	if (--d->refs == 0)
		dom_free(io, d);
	bump(io);
}

int cvmm_iommu_attach(struct cvmm_iommu *io, uint32_t domain, uint32_t endpoint)
{
	struct vd_iommu_domain *d;
	struct vd_iommu_ep *ep;
	uint32_t eps = 0;
	int r = 0;

	if (!io)
		return -EINVAL;
	if (domain > CVMM_IOMMU_MAX_DOMAIN_ID)
		return -ERANGE;
	pthread_rwlock_wrlock(&io->lock);
	ep = find_ep(io, endpoint);
	if (!ep) {
		r = -ENOENT;
		goto out;
	}
	if (ep->dom && ep->dom->id == domain)
		goto out;
	if (ep->dom)
		eps = 1u << (ep - io->ep);
	/* Leave the old domain first: with at most one domain per attached
	 * endpoint, the array then has room for a new one. */
	detach_locked(io, ep);
	d = find_dom(io, domain);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			r = -ENOMEM;
			goto out;
		}
		d->id = domain;
		io->dom[io->ndom++] = d;
	}
	d->refs++;
	ep->dom = d;
	bump(io);
out:
	pthread_rwlock_unlock(&io->lock);
	notify(io, eps, 0, UINT64_MAX);
	return r;
}

int cvmm_iommu_detach(struct cvmm_iommu *io, uint32_t domain, uint32_t endpoint)
{
	struct vd_iommu_ep *ep;
	uint32_t eps = 0;
	int r = 0;

	if (!io)
		return -EINVAL;
	pthread_rwlock_wrlock(&io->lock);
	ep = find_ep(io, endpoint);
	if (!ep) {
		r = -ENOENT;
	} else if (!ep->dom || ep->dom->id != domain) {
		r = -EINVAL;
	} else {
		eps = 1u << (ep - io->ep);
		detach_locked(io, ep);
	}
	pthread_rwlock_unlock(&io->lock);
	notify(io, eps, 0, UINT64_MAX);
	return r;
}

int cvmm_iommu_map(struct cvmm_iommu *io, uint32_t domain, uint64_t virt_start,
		   uint64_t virt_end, uint64_t phys_start, uint32_t flags)
{
	struct vd_iommu_domain *d;
	uint64_t phys_end;
	uint32_t i;
	int r = 0;

	if (!io)
		return -EINVAL;
	if (virt_end < virt_start || (virt_start & PAGE_MASK) || (phys_start & PAGE_MASK) ||
	    ((virt_end + 1) & PAGE_MASK) ||
	    __builtin_add_overflow(phys_start, virt_end - virt_start, &phys_end) ||
	    (flags & ~(CVMM_VIRTIO_IOMMU_MAP_F_READ | CVMM_VIRTIO_IOMMU_MAP_F_WRITE)))
		return -EINVAL;
	pthread_rwlock_wrlock(&io->lock);
	d = find_dom(io, domain);
	if (!d) {
		r = -ENOENT;
		goto out;
	}
	i = lower(d, virt_start);
	/* maps[i] is the first ending at or after start: it overlaps unless
	 * it begins after our end. */
	if (i < d->nmaps && d->maps[i].start <= virt_end) {
		r = -EINVAL;
		goto out;
	}
	if (io->nmaps >= CVMM_IOMMU_MAX_MAPPINGS) {
		r = -ENOMEM;
		goto out;
	}
	if (d->nmaps == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 16;
		struct vd_iommu_map *m = realloc(d->maps, (size_t)cap * sizeof(*m));

		if (!m) {
			r = -ENOMEM;
			goto out;
		}
		d->maps = m;
		d->cap = cap;
	}
	memmove(&d->maps[i + 1], &d->maps[i], (size_t)(d->nmaps - i) * sizeof(d->maps[0]));
	d->maps[i] = (struct vd_iommu_map){
		.start = virt_start, .end = virt_end, .phys = phys_start,
		.perm = (flags & CVMM_VIRTIO_IOMMU_MAP_F_READ ? CVMM_DMA_READ : 0) |
			(flags & CVMM_VIRTIO_IOMMU_MAP_F_WRITE ? CVMM_DMA_WRITE : 0),
	};
	d->nmaps++;
	io->nmaps++;
out:
	pthread_rwlock_unlock(&io->lock);
	return r;
}

int cvmm_iommu_unmap(struct cvmm_iommu *io, uint32_t domain, uint64_t virt_start,
		     uint64_t virt_end)
{
	struct vd_iommu_domain *d;
	uint32_t i, j, eps = 0;
	int r = 0;

	if (!io)
		return -EINVAL;
	if (virt_end < virt_start)
		return -EINVAL;
	pthread_rwlock_wrlock(&io->lock);
	d = find_dom(io, domain);
	if (!d) {
		r = -ENOENT;
		goto out;
	}
	i = lower(d, virt_start);
	for (j = i; j < d->nmaps && d->maps[j].start <= virt_end; j++)
		if (d->maps[j].start < virt_start || d->maps[j].end > virt_end) {
			r = -ERANGE; /* would split a mapping: remove nothing */
			goto out;
		}
	if (j > i) {
		memmove(&d->maps[i], &d->maps[j], (size_t)(d->nmaps - j) * sizeof(d->maps[0]));
		d->nmaps -= j - i;
		io->nmaps -= j - i;
		bump(io);
		eps = eps_of(io, d);
	}
out:
	pthread_rwlock_unlock(&io->lock);
	notify(io, eps, virt_start, virt_end);
	return r;
}

void cvmm_iommu_clear(struct cvmm_iommu *io)
{
	uint32_t eps;

	if (!io)
		return;
	pthread_rwlock_wrlock(&io->lock);
	eps = eps_of(io, NULL);
	for (unsigned int i = 0; i < io->nep; i++)
		io->ep[i].dom = NULL;
	while (io->ndom)
		dom_free(io, io->dom[0]);
	bump(io);
	pthread_rwlock_unlock(&io->lock);
	notify(io, eps, 0, UINT64_MAX);
}

void cvmm_iommu_get_stats(struct cvmm_iommu *io, struct cvmm_iommu_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_rwlock_rdlock(&io->lock);
	st->domains = io->ndom;
	st->mappings = io->nmaps;
	pthread_rwlock_unlock(&io->lock);
	st->requests = __atomic_load_n(&io->requests, __ATOMIC_RELAXED);
	st->requests_failed = __atomic_load_n(&io->requests_failed, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* State: "CVIO" v1, then per endpoint {id, domain or ~0}, per domain
 * {id, nmaps, maps[] {start, end, phys, perm}}, all little-endian.          */
/* ------------------------------------------------------------------------ */

#define STATE_MAGIC 0x4f495643u /* "CVIO" */
#define STATE_VERSION 1u
#define NO_DOMAIN 0xffffffffu

static size_t state_size(const struct cvmm_iommu *io)
{
	size_t n = 16 + (size_t)io->nep * 8;

	for (unsigned int i = 0; i < io->ndom; i++)
		n += 8 + (size_t)io->dom[i]->nmaps * 28;
	return n;
}

int cvmm_iommu_state_save(struct cvmm_iommu *io, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t need;

	if (!io)
		return -EINVAL;
	pthread_rwlock_rdlock(&io->lock);
	need = state_size(io);
	if (!buf || len < need) {
		pthread_rwlock_unlock(&io->lock);
		return buf ? -ENOSPC : (int)need;
	}
	vd_put_le32(p, STATE_MAGIC);
	vd_put_le32(p + 4, STATE_VERSION);
	vd_put_le32(p + 8, io->nep);
	vd_put_le32(p + 12, io->ndom);
	p += 16;
	for (unsigned int i = 0; i < io->nep; i++, p += 8) {
		vd_put_le32(p, io->ep[i].id);
		vd_put_le32(p + 4, io->ep[i].dom ? io->ep[i].dom->id : NO_DOMAIN);
	}
	for (unsigned int i = 0; i < io->ndom; i++) {
		const struct vd_iommu_domain *d = io->dom[i];

		vd_put_le32(p, d->id);
		vd_put_le32(p + 4, d->nmaps);
		p += 8;
		for (uint32_t k = 0; k < d->nmaps; k++, p += 28) {
			vd_put_le64(p, d->maps[k].start);
			vd_put_le64(p + 8, d->maps[k].end);
			vd_put_le64(p + 16, d->maps[k].phys);
			vd_put_le32(p + 24, d->maps[k].perm);
		}
	}
	pthread_rwlock_unlock(&io->lock);
	return (int)need;
}

static void free_doms(struct vd_iommu_domain **dom, unsigned int n)
{
	for (unsigned int i = 0; i < n && dom[i]; i++) {
		free(dom[i]->maps);
		free(dom[i]);
	}
}

int cvmm_iommu_state_restore(struct cvmm_iommu *io, const void *buf, size_t len)
{
	struct vd_iommu_domain *dom[CVMM_IOMMU_MAX_ENDPOINTS] = { 0 };
	uint32_t ep_dom[CVMM_IOMMU_MAX_ENDPOINTS];
	const uint8_t *p = buf, *end = p + len;
	uint32_t nep, ndom, total = 0, eps;
	unsigned int i;
	int r = -EINVAL;

	if (!io || !buf || len < 16 || vd_get_le32(p) != STATE_MAGIC ||
	    vd_get_le32(p + 4) != STATE_VERSION)
		return -EINVAL;
	nep = vd_get_le32(p + 8);
	ndom = vd_get_le32(p + 12);
	p += 16;
	pthread_rwlock_wrlock(&io->lock);
	if (nep != io->nep || ndom > io->nep || (size_t)(end - p) < (size_t)nep * 8)
		goto out;
	for (i = 0; i < nep; i++, p += 8) {
		if (vd_get_le32(p) != io->ep[i].id)
			goto out;
		ep_dom[i] = vd_get_le32(p + 4);
	}
	for (i = 0; i < ndom; i++) {
		struct vd_iommu_domain *d;
		uint32_t n;

		if (end - p < 8)
			goto out;
		d = dom[i] = calloc(1, sizeof(*d));
		if (!d) {
			r = -ENOMEM;
			goto out;
		}
		d->id = vd_get_le32(p);
		n = vd_get_le32(p + 4);
		p += 8;
		if (d->id > CVMM_IOMMU_MAX_DOMAIN_ID || n > CVMM_IOMMU_MAX_MAPPINGS - total ||
		    (size_t)(end - p) < (size_t)n * 28)
			goto out;
		for (unsigned int k = 0; k < i; k++)
			if (dom[k]->id == d->id)
				goto out;
		total += n;
		d->maps = n ? calloc(n, sizeof(*d->maps)) : NULL;
		if (n && !d->maps) {
			r = -ENOMEM;
			goto out;
		}
		d->cap = d->nmaps = n;
		for (uint32_t k = 0; k < n; k++, p += 28) {
			struct vd_iommu_map *m = &d->maps[k];
			uint64_t pe;

			m->start = vd_get_le64(p);
			m->end = vd_get_le64(p + 8);
			m->phys = vd_get_le64(p + 16);
			m->perm = vd_get_le32(p + 24);
			if (m->end < m->start || (m->start & PAGE_MASK) || ((m->end + 1) & PAGE_MASK) ||
			    (m->phys & PAGE_MASK) || (m->perm & ~(CVMM_DMA_READ | CVMM_DMA_WRITE)) ||
			    __builtin_add_overflow(m->phys, m->end - m->start, &pe) ||
			    (k && m->start <= d->maps[k - 1].end))
				goto out;
		}
	}
	if (p != end)
		goto out;
	/* every endpoint's domain exists; every domain has an endpoint */
	for (i = 0; i < nep; i++) {
		unsigned int k;

		if (ep_dom[i] == NO_DOMAIN)
			continue;
		for (k = 0; k < ndom && dom[k]->id != ep_dom[i]; k++)
			;
		if (k == ndom)
			goto out;
		dom[k]->refs++;
	}
	for (i = 0; i < ndom; i++)
		if (!dom[i]->refs)
			goto out;
	/* accepted: swap in (whatever was mapped before is withdrawn) */
	eps = eps_of(io, NULL);
	for (i = 0; i < io->nep; i++)
		io->ep[i].dom = NULL;
	while (io->ndom)
		dom_free(io, io->dom[0]);
	for (i = 0; i < ndom; i++)
		io->dom[i] = dom[i];
	io->ndom = ndom;
	io->nmaps = total;
	for (i = 0; i < nep; i++)
		if (ep_dom[i] != NO_DOMAIN)
			io->ep[i].dom = find_dom(io, ep_dom[i]);
	bump(io);
	pthread_rwlock_unlock(&io->lock);
	notify(io, eps, 0, UINT64_MAX);
	return 0;
out:
	pthread_rwlock_unlock(&io->lock);
	free_doms(dom, ndom);
	return r;
}
