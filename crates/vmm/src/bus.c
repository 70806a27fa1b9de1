/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Port-I/O and MMIO buses that can change while vCPUs run. A vCPU looks up
 * a range in an immutable sorted table with no lock; a change copies the
 * table, publishes the copy and frees the old one once no reader can still
 * hold it (read-copy-update with one sequence counter per reader).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

int cvmm_vi_bus_domain_init(struct bus_domain *d)
{
	memset(d->reader, 0, sizeof(d->reader));
	pthread_mutex_init(&d->other_lock, NULL);
	pthread_mutex_init(&d->write_lock, NULL);
	return 0;
}

void cvmm_vi_bus_domain_fini(struct bus_domain *d)
{
	pthread_mutex_destroy(&d->other_lock);
	pthread_mutex_destroy(&d->write_lock);
}

static struct bus_table *table_new(unsigned int n)
{
	struct bus_table *t = malloc(sizeof(*t) + (size_t)(n ? n : 1) * sizeof(t->r[0]));

	if (t)
		t->n = n;
	return t;
}

int cvmm_vi_bus_init(struct bus *b, struct bus_domain *d)
{
	struct bus_table *t = table_new(0);

	if (!t)
		return -ENOMEM;
	b->dom = d;
	atomic_store(&b->table, t);
	return 0;
}

void cvmm_vi_bus_fini(struct bus *b)
{
	free(atomic_exchange(&b->table, NULL));
}

/* Wait until no reader can still be using a table unpublished before this
 * call: every reader that was inside a dispatch has left it. */
static void wait_for_readers(struct bus_domain *d)
{
	for (unsigned int i = 0; i < BUS_READERS; i++) {
		uint64_t s = atomic_load(&d->reader[i].seq);
		unsigned int spins = 0;

		if (!(s & 1))
			continue;
		while (atomic_load(&d->reader[i].seq) == s) {
			/* A handler may block (a full serial pipe): back off. */
			if (++spins < 100) {
				sched_yield();
			} else {
				struct timespec ts = { 0, 100000 };

				nanosleep(&ts, NULL);
			}
		}
	}
}

static void publish(struct bus *b, struct bus_table *t)
{
	struct bus_table *old = atomic_exchange(&b->table, t);

	wait_for_readers(b->dom);
	free(old);
}

int cvmm_vi_bus_add(struct bus *b, uint64_t base, uint64_t len, cvmm_vmm_io_fn fn, void *opaque,
	    const char *name)
{
	struct bus_table *cur, *t;
	unsigned int i, j;
	int ret = 0;

	if (!len || base + len < base || !fn)
		return -EINVAL;
	pthread_mutex_lock(&b->dom->write_lock);
	cur = atomic_load(&b->table);
	if (cur->n == CVMM_VMM_BUS_MAX) {
		ret = -ENOSPC;
		goto out;
	}
	for (i = 0; i < cur->n; i++)
		if (base < cur->r[i].base + cur->r[i].len && cur->r[i].base < base + len) {
			ret = -EEXIST;
			goto out;
		}
	t = table_new(cur->n + 1);
	if (!t) {
		ret = -ENOMEM;
		goto out;
	}
	/* Sorted by base, so a dispatch can binary-search. */
	for (i = 0, j = 0; i < cur->n && cur->r[i].base < base; i++)
		t->r[j++] = cur->r[i];
	t->r[j++] = (struct bus_range){ base, len, fn, opaque, name };
	for (; i < cur->n; i++)
		t->r[j++] = cur->r[i];
	publish(b, t);
out:
	pthread_mutex_unlock(&b->dom->write_lock);
	return ret;
}

int cvmm_vi_bus_remove(struct bus *b, uint64_t base)
{
	struct bus_table *cur, *t;
	unsigned int i, j;
	int ret = -ENOENT;

	pthread_mutex_lock(&b->dom->write_lock);
	cur = atomic_load(&b->table);
	for (i = 0; i < cur->n; i++)
		if (cur->r[i].base == base)
			break;
	if (i < cur->n) {
		t = table_new(cur->n - 1);
		ret = -ENOMEM;
		if (t) {
			for (i = 0, j = 0; i < cur->n; i++)
				if (cur->r[i].base != base)
					t->r[j++] = cur->r[i];
			publish(b, t);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&b->dom->write_lock);
	return ret;
}

static bool lookup(const struct bus_table *t, uint64_t addr, uint8_t *data, uint32_t len,
		   bool is_write)
{
	unsigned int lo = 0, hi = t->n;

	if (!is_write)
		memset(data, 0xff, len);
	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;
		const struct bus_range *r = &t->r[mid];

		if (addr < r->base) {
			hi = mid;
		} else if (addr - r->base >= r->len) {
			lo = mid + 1;
		} else {
			/* An access straddling the end of a range is the guest's
			 * mistake; the device sees only what lies inside. */
			if (len > r->len - (addr - r->base))
				len = (uint32_t)(r->len - (addr - r->base));
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	return false;
}

bool cvmm_vi_bus_dispatch(struct bus *b, unsigned int reader, uint64_t addr, uint8_t *data,
		  uint32_t len, bool is_write)
{
	struct bus_domain *d = b->dom;
	bool other = reader >= BUS_READERS - 1;
	bool hit;

	if (other) {
		reader = BUS_READERS - 1;
		pthread_mutex_lock(&d->other_lock);
	}
	atomic_fetch_add(&d->reader[reader].seq, 1);
	hit = lookup(atomic_load(&b->table), addr, data, len, is_write);
	atomic_fetch_add_explicit(&d->reader[reader].seq, 1, memory_order_release);
	if (other)
		pthread_mutex_unlock(&d->other_lock);
	return hit;
}

int cvmm_vmm_bus_add(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t base,
		     uint64_t len, cvmm_vmm_io_fn fn, void *opaque, const char *name)
{
	if (!vmm || (kind != CVMM_VMM_PIO && kind != CVMM_VMM_MMIO))
		return -EINVAL;
	if (kind == CVMM_VMM_PIO && (base > 0xffff || len > 0x10000 - base))
		return -EINVAL;
	return cvmm_vi_bus_add(&vmm->bus[kind], base, len, fn, opaque, name);
}

int cvmm_vmm_bus_remove(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t base)
{
	if (!vmm || (kind != CVMM_VMM_PIO && kind != CVMM_VMM_MMIO))
		return -EINVAL;
	return cvmm_vi_bus_remove(&vmm->bus[kind], base);
}

bool cvmm_vmm_bus_access(struct cvmm_vmm *vmm, enum cvmm_vmm_bus_kind kind, uint64_t addr,
			 uint8_t *data, uint32_t len, bool is_write)
{
	if (!vmm || (kind != CVMM_VMM_PIO && kind != CVMM_VMM_MMIO) || !data || !len || len > 8)
		return false;
	return cvmm_vi_bus_dispatch(&vmm->bus[kind], BUS_READERS - 1, addr, data, len, is_write);
}
