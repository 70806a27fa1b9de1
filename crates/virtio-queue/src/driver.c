/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's half of a virtqueue, for tests and benchmarks: lays out and
 * fills split or packed rings the way a virtio driver does, and checks
 * whatever the device writes back.
 */
#include "vq-internal.h"

#include <cvmm/virtio-queue/driver.h>

#include <stdlib.h>

struct drv_slot {
	uint64_t token;
	uint16_t ndesc;   /* split: descriptors in the chain; packed: ring slots */
	uint8_t busy;
};

struct cvmm_virtq_driver {
	struct cvmm_guest_mem *mem;
	uint16_t size;
	bool packed, event_idx;
	uint8_t *desc, *avail, *used, *ind;
	uint64_t desc_gpa, ind_gpa;
	uint16_t ind_max;
	unsigned int num_free;
	unsigned int in_flight;
	uint16_t added;          /* since the last kick decision */
	/* split */
	uint16_t *next_free;
	uint16_t free_head;
	uint16_t avail_idx;
	uint16_t kicked_idx;
	uint16_t last_used;
	/* packed */
	uint16_t *id_stack;
	unsigned int id_top;
	uint16_t next_avail, next_used;
	uint8_t avail_wrap, used_wrap;
	struct drv_slot *slots;
};

static void put_desc(uint8_t *p, uint64_t addr, uint32_t len, uint16_t a, uint16_t b)
{
	struct cvmm_virtq_raw_desc rd = { .addr = addr, .len = len, .a = a, .b = b };

	memcpy(p, &rd, sizeof(rd));
}

int cvmm_virtq_driver_create(const struct cvmm_virtq_driver_opts *o,
			     struct cvmm_virtq_driver **out)
{
	struct cvmm_virtq_driver *d;
	uint64_t dlen, alen, ulen;
	bool packed;

	*out = NULL;
	if (!o || o->sz < sizeof(*o) || !o->mem || o->size == 0 ||
	    o->size > CVMM_VIRTQ_MAX_SIZE)
		return -EINVAL;
	packed = (o->features & CVMM_VIRTIO_F_RING_PACKED) != 0;
	if (!packed && !CVMM_IS_POW2(o->size))
		return -EINVAL;
	if ((o->desc_gpa & 15) || (o->avail_gpa & (packed ? 3 : 1)) || (o->used_gpa & 3))
		return -EINVAL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->slots = calloc(o->size, sizeof(*d->slots));
	d->next_free = calloc(o->size, sizeof(*d->next_free));
	d->id_stack = calloc(o->size, sizeof(*d->id_stack));
	if (!d->slots || !d->next_free || !d->id_stack) {
		cvmm_virtq_driver_destroy(d);
		return -ENOMEM;
	}
	cvmm_virtq_ring_bytes(o->size, o->features, &dlen, &alen, &ulen);
	d->desc = cvmm_guest_mem_ptr(o->mem, o->desc_gpa, dlen);
	d->avail = cvmm_guest_mem_ptr(o->mem, o->avail_gpa, alen);
	d->used = cvmm_guest_mem_ptr(o->mem, o->used_gpa, ulen);
	if (o->indirect_max) {
		d->ind = cvmm_guest_mem_ptr(o->mem, o->indirect_gpa,
					    (uint64_t)o->size * o->indirect_max * CVMM_VQ_DESC_SIZE);
		if (!d->ind)
			d->desc = NULL;
	}
	if (!d->desc || !d->avail || !d->used) {
		cvmm_virtq_driver_destroy(d);
		return -EFAULT;
	}
	d->mem = o->mem;
	d->size = o->size;
	d->packed = packed;
	d->event_idx = (o->features & CVMM_VIRTIO_F_EVENT_IDX) != 0;
	d->desc_gpa = o->desc_gpa;
	d->ind_gpa = o->indirect_gpa;
	d->ind_max = o->indirect_max;
	d->num_free = o->size;
	memset(d->desc, 0, dlen);
	memset(d->avail, 0, alen);
	memset(d->used, 0, ulen);
	for (unsigned int i = 0; i < o->size; i++) {
		d->next_free[i] = (uint16_t)(i + 1);
		d->id_stack[i] = (uint16_t)(o->size - 1 - i);
	}
	d->id_top = o->size;
	d->avail_wrap = d->used_wrap = 1;
	*out = d;
	return 0;
}

void cvmm_virtq_driver_destroy(struct cvmm_virtq_driver *d)
{
	if (!d)
		return;
	free(d->slots);
	free(d->next_free);
	free(d->id_stack);
	free(d);
}

static const struct cvmm_virtq_buf *part(const struct cvmm_virtq_buf *out, unsigned int n_out,
					 const struct cvmm_virtq_buf *in, unsigned int k,
					 uint16_t *flags)
{
	*flags = k < n_out ? 0 : CVMM_VIRTQ_DESC_F_WRITE;
	return k < n_out ? &out[k] : &in[k - n_out];
}

/* Fill indirect table @tbl with the parts; split tables chain with NEXT. */
static void fill_indirect(struct cvmm_virtq_driver *d, uint8_t *tbl,
			  const struct cvmm_virtq_buf *out, unsigned int n_out,
			  const struct cvmm_virtq_buf *in, unsigned int total)
{
	for (unsigned int k = 0; k < total; k++) {
		uint16_t f;
		const struct cvmm_virtq_buf *b = part(out, n_out, in, k, &f);

		if (d->packed) {
			put_desc(tbl + CVMM_VQ_DESC_SIZE * k, b->gpa, b->len, 0, f);
		} else {
			if (k + 1 < total)
				f |= CVMM_VIRTQ_DESC_F_NEXT;
			put_desc(tbl + CVMM_VQ_DESC_SIZE * k, b->gpa, b->len, f,
				 (uint16_t)(k + 1 < total ? k + 1 : 0));
		}
	}
}

static int split_add(struct cvmm_virtq_driver *d, const struct cvmm_virtq_buf *out,
		     unsigned int n_out, const struct cvmm_virtq_buf *in,
		     unsigned int total, bool indirect, uint64_t token)
{
	unsigned int need = indirect ? 1 : total;
	uint16_t head = d->free_head, i = head;

	if (d->num_free < need)
		return -ENOSPC;
	if (indirect) {
		uint64_t off = (uint64_t)head * d->ind_max * CVMM_VQ_DESC_SIZE;

		fill_indirect(d, d->ind + off, out, n_out, in, total);
		put_desc(d->desc + CVMM_VQ_DESC_SIZE * head, d->ind_gpa + off,
			 total * CVMM_VQ_DESC_SIZE, CVMM_VIRTQ_DESC_F_INDIRECT, 0);
		i = d->next_free[head];
	} else {
		for (unsigned int k = 0; k < total; k++) {
			uint16_t f;
			const struct cvmm_virtq_buf *b = part(out, n_out, in, k, &f);

			if (k + 1 < total)
				f |= CVMM_VIRTQ_DESC_F_NEXT;
			put_desc(d->desc + CVMM_VQ_DESC_SIZE * i, b->gpa, b->len, f,
				 k + 1 < total ? d->next_free[i] : 0);
			i = d->next_free[i];
		}
	}
	d->free_head = i;
	d->num_free -= need;
	d->slots[head] = (struct drv_slot){ .token = token, .ndesc = (uint16_t)need, .busy = 1 };
	cvmm_store_relaxed_u16(d->avail + CVMM_VQ_AVAIL_RING + 2u * (d->avail_idx & (d->size - 1u)),
			       head);
	d->avail_idx++;
	/* Release: ring entry and descriptors before the index. */
	cvmm_store_release_u16(d->avail + CVMM_VQ_AVAIL_IDX, d->avail_idx);
	return 0;
}

static int packed_add(struct cvmm_virtq_driver *d, const struct cvmm_virtq_buf *out,
		      unsigned int n_out, const struct cvmm_virtq_buf *in,
		      unsigned int total, bool indirect, uint64_t token)
{
	unsigned int need = indirect ? 1 : total;
	uint16_t pos = d->next_avail, head_flags = 0, id;
	uint8_t wrap = d->avail_wrap;

	if (d->num_free < need || d->id_top == 0)
		return -ENOSPC;
	id = d->id_stack[--d->id_top];
	for (unsigned int k = 0; k < need; k++) {
		uint8_t *p = d->desc + (size_t)CVMM_VQ_DESC_SIZE * pos;
		uint16_t f = wrap ? CVMM_VIRTQ_DESC_F_AVAIL : CVMM_VIRTQ_DESC_F_USED;
		uint16_t pf;
		uint64_t addr;
		uint32_t len;

		if (indirect) {
			uint64_t off = (uint64_t)id * d->ind_max * CVMM_VQ_DESC_SIZE;

			fill_indirect(d, d->ind + off, out, n_out, in, total);
			addr = d->ind_gpa + off;
			len = total * CVMM_VQ_DESC_SIZE;
			f |= CVMM_VIRTQ_DESC_F_INDIRECT;
		} else {
			const struct cvmm_virtq_buf *b = part(out, n_out, in, k, &pf);

			addr = b->gpa;
			len = b->len;
			f |= pf;
		}
		if (k + 1 < need)
			f |= CVMM_VIRTQ_DESC_F_NEXT;
		__atomic_store_n((uint64_t *)p, addr, __ATOMIC_RELAXED);
		__atomic_store_n((uint32_t *)(p + 8), len, __ATOMIC_RELAXED);
		__atomic_store_n((uint16_t *)(p + 12), id, __ATOMIC_RELAXED);
		if (k == 0)
			head_flags = f;
		else
			__atomic_store_n((uint16_t *)(p + 14), f, __ATOMIC_RELAXED);
		if (++pos == d->size) {
			pos = 0;
			wrap ^= 1;
		}
	}
	d->slots[id] = (struct drv_slot){ .token = token, .ndesc = (uint16_t)need, .busy = 1 };
	/* Release: the head's flags last, so the device never sees half a list. */
	cvmm_store_release_u16(d->desc + (size_t)CVMM_VQ_DESC_SIZE * d->next_avail + 14, head_flags);
	d->next_avail = pos;
	d->avail_wrap = wrap;
	d->num_free -= need;
	return 0;
}

int cvmm_virtq_driver_add(struct cvmm_virtq_driver *d,
			  const struct cvmm_virtq_buf *out, unsigned int n_out,
			  const struct cvmm_virtq_buf *in, unsigned int n_in,
			  bool indirect, uint64_t token)
{
	unsigned int total = n_out + n_in;
	int ret;

	if (total == 0 || total < n_out || total > CVMM_VIRTQ_MAX_INDIRECT)
		return -EINVAL;
	if (indirect && (!d->ind || total > d->ind_max))
		return -EINVAL;
	ret = d->packed ? packed_add(d, out, n_out, in, total, indirect, token)
			: split_add(d, out, n_out, in, total, indirect, token);
	if (ret == 0) {
		d->in_flight++;
		d->added = (uint16_t)(d->added + (indirect ? 1 : total));
	}
	return ret;
}

bool cvmm_virtq_driver_kick_needed(struct cvmm_virtq_driver *d)
{
	uint16_t n = d->added;

	d->added = 0;
	cvmm_vq_mb();	/* our index/flags before the device's suppression field */
	if (!d->packed) {
		uint16_t old = d->kicked_idx;

		d->kicked_idx = d->avail_idx;
		if (old == d->avail_idx)
			return false;
		if (d->event_idx)
			return cvmm_vq_need_event(
				cvmm_load_relaxed_u16(d->used + CVMM_VQ_USED_RING + 8u * d->size),
				d->avail_idx, old);
		return !(cvmm_load_relaxed_u16(d->used) & CVMM_VIRTQ_USED_F_NO_NOTIFY);
	}
	if (n == 0)
		return false;
	uint32_t evt = __atomic_load_n((const uint32_t *)d->used, __ATOMIC_RELAXED);
	uint16_t off_wrap = (uint16_t)evt, flags = (uint16_t)((evt >> 16) & 3u);
	uint16_t off;

	if (flags == CVMM_VIRTQ_EVENT_F_DISABLE)
		return false;
	if (flags != CVMM_VIRTQ_EVENT_F_DESC || !d->event_idx || n >= d->size)
		return true;
	off = off_wrap & 0x7fffu;
	if ((off_wrap >> 15) != d->avail_wrap)
		off = (uint16_t)(off - d->size);
	return cvmm_vq_need_event(off, d->next_avail, (uint16_t)(d->next_avail - n));
}

int cvmm_virtq_driver_get_used(struct cvmm_virtq_driver *d, uint64_t *token,
			       uint32_t *len)
{
	uint32_t id;
	struct drv_slot *s;

	if (!d->packed) {
		uint16_t idx = cvmm_load_acquire_u16(d->used + CVMM_VQ_USED_IDX);
		const uint8_t *e;

		if (idx == d->last_used)
			return 0;
		if ((uint16_t)(idx - d->last_used) > d->size)
			return -EIO;
		e = d->used + CVMM_VQ_USED_RING + 8u * (d->last_used & (d->size - 1u));
		id = __atomic_load_n((const uint32_t *)e, __ATOMIC_RELAXED);
		*len = __atomic_load_n((const uint32_t *)(e + 4), __ATOMIC_RELAXED);
		if (id >= d->size || !d->slots[id].busy)
			return -EIO;
		s = &d->slots[id];
		/* Return the chain's descriptors to the free list; next_free
		 * still links them in chain order. */
		uint16_t last = (uint16_t)id;
		for (unsigned int k = 1; k < s->ndesc; k++)
			last = d->next_free[last];
		d->next_free[last] = d->free_head;
		d->free_head = (uint16_t)id;
		d->last_used++;
	} else {
		const uint8_t *p = d->desc + (size_t)CVMM_VQ_DESC_SIZE * d->next_used;
		uint16_t f = cvmm_load_acquire_u16(p + 14);
		bool a = (f & CVMM_VIRTQ_DESC_F_AVAIL) != 0, u = (f & CVMM_VIRTQ_DESC_F_USED) != 0;
		uint32_t next;

		if (a != u || u != (bool)d->used_wrap)
			return 0;
		id = __atomic_load_n((const uint16_t *)(p + 12), __ATOMIC_RELAXED);
		*len = __atomic_load_n((const uint32_t *)(p + 8), __ATOMIC_RELAXED);
		if (id >= d->size || !d->slots[id].busy)
			return -EIO;
		s = &d->slots[id];
		next = (uint32_t)d->next_used + s->ndesc;
		if (next >= d->size) {
			next -= d->size;
			d->used_wrap ^= 1;
		}
		d->next_used = (uint16_t)next;
		d->id_stack[d->id_top++] = (uint16_t)id;
	}
	d->num_free += s->ndesc;
	d->in_flight--;
	s->busy = 0;
	*token = s->token;
	return 1;
}

bool cvmm_virtq_driver_enable_cb(struct cvmm_virtq_driver *d)
{
	if (!d->packed) {
		if (d->event_idx)
			cvmm_store_relaxed_u16(d->avail + CVMM_VQ_AVAIL_RING + 2u * d->size,
					       d->last_used);
		cvmm_store_relaxed_u16(d->avail, 0);
		cvmm_vq_mb();
		return cvmm_load_acquire_u16(d->used + CVMM_VQ_USED_IDX) != d->last_used;
	}
	uint32_t v = d->event_idx ? ((uint32_t)CVMM_VIRTQ_EVENT_F_DESC << 16) | d->next_used |
				    ((uint32_t)d->used_wrap << 15)
				  : (uint32_t)CVMM_VIRTQ_EVENT_F_ENABLE << 16;
	__atomic_store_n((uint32_t *)d->avail, v, __ATOMIC_RELAXED);
	cvmm_vq_mb();
	uint16_t f = cvmm_load_acquire_u16(d->desc + (size_t)CVMM_VQ_DESC_SIZE * d->next_used + 14);
	bool a = (f & CVMM_VIRTQ_DESC_F_AVAIL) != 0, u = (f & CVMM_VIRTQ_DESC_F_USED) != 0;

	return a == u && u == (bool)d->used_wrap;
}

void cvmm_virtq_driver_disable_cb(struct cvmm_virtq_driver *d)
{
	if (!d->packed) {
		cvmm_store_relaxed_u16(d->avail, CVMM_VIRTQ_AVAIL_F_NO_INTERRUPT);
		/* With EVENT_IDX the flag is ignored: park used_event where
		 * the device will not reach it for 65535 completions. */
		if (d->event_idx)
			cvmm_store_relaxed_u16(d->avail + CVMM_VQ_AVAIL_RING + 2u * d->size,
					       (uint16_t)(d->last_used - 1));
	} else
		__atomic_store_n((uint32_t *)d->avail, (uint32_t)CVMM_VIRTQ_EVENT_F_DISABLE << 16,
				 __ATOMIC_RELAXED);
}

unsigned int cvmm_virtq_driver_num_free(const struct cvmm_virtq_driver *d)
{
	return d->num_free;
}

unsigned int cvmm_virtq_driver_in_flight(const struct cvmm_virtq_driver *d)
{
	return d->in_flight;
}
