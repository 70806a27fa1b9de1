/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MSI-X: the capability (enable, function mask), the table and the PBA.
 * A signal on a vector that cannot be delivered (vector or function
 * masked) sets its pending bit; whatever unmasks it (a table write, the
 * function mask cleared) delivers it then, so nothing is lost. The owner
 * hears about every change of a vector's (message, usable) pair once, to
 * keep a KVM GSI route and irqfd in step.
 *
 * One mutex per object: vCPU threads (table, PBA, message control through
 * the config hook) and the device thread (signal) meet here. The ops run
 * under it, which keeps a deliver from racing the mask that forbids it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct vec_seen {
	struct cvmm_pci_msi_msg msg;
	bool usable;
	bool valid;          /* the owner has been told (msg, usable) */
};

struct cvmm_pci_msix {
	pthread_mutex_t lock;
	struct cvmm_pci_config *cfg;
	uint32_t cap;
	unsigned int n;
	unsigned int table_bar, pba_bar;
	uint32_t table_off, pba_off;
	struct cvmm_pci_msix_entry_state e[CVMM_PCI_MSIX_MAX_VECTORS];
	uint64_t pba;
	bool enable, maskall;
	struct vec_seen seen[CVMM_PCI_MSIX_MAX_VECTORS];
	const struct cvmm_pci_msix_ops *ops;
	void *opaque;
};

static struct cvmm_pci_msi_msg entry_msg(const struct cvmm_pci_msix_entry_state *e)
{
	return (struct cvmm_pci_msi_msg){ .addr = e->addr_lo | (uint64_t)e->addr_hi << 32,
					  .data = e->data };
}

static bool vec_usable(const struct cvmm_pci_msix *m, unsigned int v)
{
	return m->enable && !m->maskall && !(m->e[v].ctrl & CVMM_PCI_MSIX_VECTOR_MASKED);
}

/* Tell the owner what changed for @v and deliver a pending interrupt the
 * vector may now take. Under the lock. */
static void sync_vector(struct cvmm_pci_msix *m, unsigned int v)
{
	struct cvmm_pci_msi_msg msg = entry_msg(&m->e[v]);
	bool usable = vec_usable(m, v);
	struct vec_seen *s = &m->seen[v];

	/* A message rewritten while the vector cannot fire (drivers mask
	 * before they write) is told when it becomes usable. */
	if (!s->valid || s->usable != usable ||
	    (usable && (s->msg.addr != msg.addr || s->msg.data != msg.data))) {
		s->msg = msg;
		s->usable = usable;
		s->valid = true;
		if (m->ops->update)
			m->ops->update(m->opaque, v, &msg, usable);
	}
	if (usable && (m->pba & (1ull << v))) {
		m->pba &= ~(1ull << v);
		m->ops->deliver(m->opaque, v, &msg);
	}
}

static void sync_all(struct cvmm_pci_msix *m)
{
	unsigned int v;

	for (v = 0; v < m->n; v++)
		sync_vector(m, v);
}

/* Message control was written (config hook, under the segment's lock). */
static void ctrl_written(struct cvmm_pci_config *c, uint32_t off, unsigned int len, void *opaque)
{
	struct cvmm_pci_msix *m = opaque;
	uint16_t ctrl = cvmm_pci_config_get16(c, m->cap + 2);

	(void)off;
	(void)len;
	pthread_mutex_lock(&m->lock);
	m->enable = ctrl & CVMM_PCI_MSIX_CTRL_ENABLE;
	m->maskall = ctrl & CVMM_PCI_MSIX_CTRL_MASKALL;
	sync_all(m);
	pthread_mutex_unlock(&m->lock);
}

static bool mem_bar(struct cvmm_pci_config *c, unsigned int bar, uint64_t *size)
{
	struct cvmm_pci_bar_info bi;

	if (cvmm_pci_config_bar(c, bar, &bi) < 0 ||
	    (bi.type != CVMM_PCI_BAR_MEM32 && bi.type != CVMM_PCI_BAR_MEM64))
		return false;
	*size = bi.size;
	return true;
}

int cvmm_pci_msix_create(const struct cvmm_pci_msix_opts *o, struct cvmm_pci_msix **out)
{
	uint64_t tsize, psize, tbar_size, pbar_size;
	struct cvmm_pci_config_hook h = { 0 };
	uint8_t body[12] = { 0 };
	uint8_t rw[2] = { 0x00, 0xc0 };
	struct cvmm_pci_msix *m;
	uint32_t v;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || !o->cfg || !o->ops || !o->ops->deliver ||
	    !o->num_vectors || o->num_vectors > CVMM_PCI_MSIX_MAX_VECTORS ||
	    (o->table_offset & 7) || (o->pba_offset & 7))
		return -EINVAL;
	tsize = (uint64_t)o->num_vectors * CVMM_PCI_MSIX_ENTRY_SIZE;
	psize = ((o->num_vectors + 63) / 64) * 8;
	if (!mem_bar(o->cfg, o->table_bar, &tbar_size) || !mem_bar(o->cfg, o->pba_bar, &pbar_size) ||
	    o->table_offset + tsize > tbar_size || o->pba_offset + psize > pbar_size ||
	    (o->table_bar == o->pba_bar && o->table_offset < o->pba_offset + psize &&
	     o->pba_offset < o->table_offset + tsize))
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	m->cfg = o->cfg;
	m->n = o->num_vectors;
	m->table_bar = o->table_bar;
	m->pba_bar = o->pba_bar;
	m->table_off = o->table_offset;
	m->pba_off = o->pba_offset;
	m->ops = o->ops;
	m->opaque = o->opaque;
	for (v = 0; v < m->n; v++) {
		m->e[v].ctrl = CVMM_PCI_MSIX_VECTOR_MASKED;
		m->seen[v].valid = true;    /* masked, message 0: nothing to tell */
	}
	v = o->num_vectors - 1;
	body[2] = (uint8_t)v;
	body[3] = (uint8_t)(v >> 8);
	v = o->table_offset | o->table_bar;
	memcpy(body + 4, &v, 4);
	v = o->pba_offset | o->pba_bar;
	memcpy(body + 8, &v, 4);
	r = cvmm_pci_config_add_cap(o->cfg, CVMM_PCI_CAP_ID_MSIX, body, sizeof(body));
	if (r < 0)
		goto fail;
	m->cap = (uint32_t)r;
	r = cvmm_pci_config_set_masks(o->cfg, m->cap + 2, rw, NULL, 2);
	if (r < 0)
		goto fail;
	h.off = m->cap + 2;
	h.len = 2;
	h.write = ctrl_written;
	h.opaque = m;
	r = cvmm_pci_config_add_hook(o->cfg, &h);
	if (r < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	pthread_mutex_destroy(&m->lock);
	free(m);
	return r;
}

void cvmm_pci_msix_destroy(struct cvmm_pci_msix *m)
{
	if (!m)
		return;
	cvmm_pci_config_remove_hooks(m->cfg, m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

uint32_t cvmm_pci_msix_cap_offset(const struct cvmm_pci_msix *m)
{
	return m ? m->cap : 0;
}

unsigned int cvmm_pci_msix_num_vectors(const struct cvmm_pci_msix *m)
{
	return m ? m->n : 0;
}

/* ------------------------------------------------------------------------ */
/* Table and PBA                                                             */
/* ------------------------------------------------------------------------ */

static uint32_t *entry_word(struct cvmm_pci_msix *m, unsigned int v, unsigned int w)
{
	switch (w) {
	case 0: return &m->e[v].addr_lo;
	case 1: return &m->e[v].addr_hi;
	case 2: return &m->e[v].data;
	default: return &m->e[v].ctrl;
	}
}

static void table_write_word(struct cvmm_pci_msix *m, unsigned int v, unsigned int w,
			     uint32_t val)
{
	/* Address bits 1:0 are zero (dword aligned); of vector control only
	 * the mask bit exists. */
	if (w == 0)
		val &= ~3u;
	else if (w == 3)
		val &= CVMM_PCI_MSIX_VECTOR_MASKED;
	*entry_word(m, v, w) = val;
}

int cvmm_pci_msix_bar_access(struct cvmm_pci_msix *m, unsigned int bar, uint64_t offset,
			     void *data, unsigned int len, bool is_write)
{
	uint64_t tsize, psize, rel, val = 0;
	unsigned int v, w, i;

	if (!m || !data || !len || len > 8)
		return -EINVAL;
	tsize = (uint64_t)m->n * CVMM_PCI_MSIX_ENTRY_SIZE;
	psize = ((m->n + 63) / 64) * 8;
	if (bar == m->table_bar && offset >= m->table_off && offset - m->table_off < tsize) {
		rel = offset - m->table_off;
		if ((len != 4 && len != 8) || (rel & (len - 1)) || rel + len > tsize)
			goto refused;
		v = (unsigned int)(rel / CVMM_PCI_MSIX_ENTRY_SIZE);
		w = (unsigned int)(rel % CVMM_PCI_MSIX_ENTRY_SIZE) / 4;
		pthread_mutex_lock(&m->lock);
		if (is_write) {
			memcpy(&val, data, len);
			for (i = 0; i < len / 4; i++)
				table_write_word(m, v, w + i, (uint32_t)(val >> (32 * i)));
			sync_vector(m, v);
		} else {
			for (i = 0; i < len / 4; i++)
				val |= (uint64_t)*entry_word(m, v, w + i) << (32 * i);
			memcpy(data, &val, len);
		}
		pthread_mutex_unlock(&m->lock);
		return 1;
	}
	if (bar == m->pba_bar && offset >= m->pba_off && offset - m->pba_off < psize) {
		rel = offset - m->pba_off;
		if ((len != 4 && len != 8) || (rel & (len - 1)))
			goto refused;
		if (is_write)
			return 1;   /* read-only */
		pthread_mutex_lock(&m->lock);
		val = m->pba >> (8 * (rel & 7));   /* one qword: 64 vectors */
		pthread_mutex_unlock(&m->lock);
		memcpy(data, &val, len);
		return 1;
	}
	return 0;
refused:
	if (!is_write)
		memset(data, 0, len);
	return 1;
}

int cvmm_pci_msix_signal(struct cvmm_pci_msix *m, unsigned int vector)
{
	int r;

	if (!m || vector >= m->n)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (!m->enable) {
		r = -ENOENT;
	} else if (vec_usable(m, vector)) {
		struct cvmm_pci_msi_msg msg = entry_msg(&m->e[vector]);

		m->ops->deliver(m->opaque, vector, &msg);
		r = 1;
	} else {
		m->pba |= 1ull << vector;
		r = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool cvmm_pci_msix_enabled(struct cvmm_pci_msix *m)
{
	bool r;

	if (!m)
		return false;
	pthread_mutex_lock(&m->lock);
	r = m->enable && !m->maskall;
	pthread_mutex_unlock(&m->lock);
	return r;
}

bool cvmm_pci_msix_enable_bit(struct cvmm_pci_msix *m)
{
	bool r;

	if (!m)
		return false;
	pthread_mutex_lock(&m->lock);
	r = m->enable;
	pthread_mutex_unlock(&m->lock);
	return r;
}

int cvmm_pci_msix_vector(struct cvmm_pci_msix *m, unsigned int vector,
			 struct cvmm_pci_msi_msg *msg, bool *masked, bool *pending)
{
	if (!m || vector >= m->n)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	if (msg)
		*msg = entry_msg(&m->e[vector]);
	if (masked)
		*masked = m->e[vector].ctrl & CVMM_PCI_MSIX_VECTOR_MASKED;
	if (pending)
		*pending = m->pba & (1ull << vector);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* State                                                                     */
/* ------------------------------------------------------------------------ */

int cvmm_pci_msix_save(struct cvmm_pci_msix *m, struct cvmm_pci_msix_state *s)
{
	if (!m || !s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->version = CVMM_PCI_MSIX_STATE_VERSION;
	s->num_vectors = m->n;
	pthread_mutex_lock(&m->lock);
	s->pba = m->pba;
	memcpy(s->entries, m->e, sizeof(m->e[0]) * m->n);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int cvmm_pci_msix_restore(struct cvmm_pci_msix *m, const struct cvmm_pci_msix_state *s,
			  char *err, size_t errlen)
{
	static const struct cvmm_pci_msix_entry_state zero;
	uint16_t ctrl;
	unsigned int v;

	if (!m || !s) {
		cvmm_pci_refuse(err, errlen, "msix state: NULL");
		return -EINVAL;
	}
	if (s->version != CVMM_PCI_MSIX_STATE_VERSION) {
		cvmm_pci_refuse(err, errlen, "msix version: %u, this build reads %u", s->version,
			   CVMM_PCI_MSIX_STATE_VERSION);
		return -EINVAL;
	}
	if (s->num_vectors != m->n) {
		cvmm_pci_refuse(err, errlen, "msix num_vectors: %u in the state, %u here",
			   s->num_vectors, m->n);
		return -EINVAL;
	}
	if (m->n < 64 && (s->pba >> m->n)) {
		cvmm_pci_refuse(err, errlen, "msix pba: 0x%llx has bits past vector %u",
			   (unsigned long long)s->pba, m->n - 1);
		return -EINVAL;
	}
	for (v = 0; v < CVMM_PCI_MSIX_MAX_VECTORS; v++) {
		const struct cvmm_pci_msix_entry_state *e = &s->entries[v];

		if (v >= m->n) {
			if (memcmp(e, &zero, sizeof(zero))) {
				cvmm_pci_refuse(err, errlen, "msix entries[%u]: set, the table has %u",
					   v, m->n);
				return -EINVAL;
			}
			continue;
		}
		if (e->ctrl & ~CVMM_PCI_MSIX_VECTOR_MASKED) {
			cvmm_pci_refuse(err, errlen, "msix entries[%u].ctrl: reserved bits 0x%x", v,
				   e->ctrl & ~CVMM_PCI_MSIX_VECTOR_MASKED);
			return -EINVAL;
		}
		if (e->addr_lo & 3) {
			cvmm_pci_refuse(err, errlen, "msix entries[%u].addr_lo: 0x%x not dword aligned",
				   v, e->addr_lo);
			return -EINVAL;
		}
	}
	ctrl = cvmm_pci_config_get16(m->cfg, m->cap + 2);
	pthread_mutex_lock(&m->lock);
	memcpy(m->e, s->entries, sizeof(m->e[0]) * m->n);
	m->pba = s->pba;
	m->enable = ctrl & CVMM_PCI_MSIX_CTRL_ENABLE;
	m->maskall = ctrl & CVMM_PCI_MSIX_CTRL_MASKALL;
	for (v = 0; v < m->n; v++)
		m->seen[v].valid = false;
	sync_all(m);
	pthread_mutex_unlock(&m->lock);
	return 0;
}
