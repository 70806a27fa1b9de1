/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-mem (virtio 1.2, 5.15): one request queue; a bitmap of plugged
 * blocks; unplugged blocks released in the host mapping. The checks that
 * keep a guest inside its region are in request() (the header,
 * include/cvmm/virtio-devices/mem.h, has the threat model).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cvmm/sys-util.h>
#include <cvmm/vm-memory.h>
#include <cvmm/virtio-devices/mem.h>

#include "internal.h"

#define REQ_LEN 24u
#define RESP_LEN 10u
#define STATE_MAGIC 0x4d454d56u /* "VMEM" */
#define STATE_HDR 84u

struct cvmm_virtio_mem {
	struct cvmm_virtio_device dev;
	struct cvmm_guest_mem *mem;
	struct cvmm_virtq *q;
	bool active;
	uint64_t addr, region_size, block_size;
	uint64_t nblocks;
	uint16_t node_id;
	pthread_mutex_t lock;     /* everything below */
	uint64_t requested, plugged; /* plugged: in blocks */
	uint64_t *bitmap;         /* bit set: block plugged */
	struct cvmm_virtio_mem_counters c;
};

static struct cvmm_virtio_mem *to_m(struct cvmm_virtio_device *dev)
{
	return CVMM_CONTAINER_OF(dev, struct cvmm_virtio_mem, dev);
}

static bool is_plugged(const struct cvmm_virtio_mem *m, uint64_t b)
{
	return m->bitmap[b / 64] >> (b % 64) & 1;
}

static void set_plugged(struct cvmm_virtio_mem *m, uint64_t b, bool on)
{
	if (on)
		m->bitmap[b / 64] |= 1ull << (b % 64);
	else
		m->bitmap[b / 64] &= ~(1ull << (b % 64));
}

static void mem_config_read(struct cvmm_virtio_device *dev, uint32_t off, void *data,
			    uint32_t len)
{
	struct cvmm_virtio_mem *m = to_m(dev);
	uint8_t cfg[CVMM_VIRTIO_MEM_CONFIG_SIZE] = { 0 };

	vd_put_le64(cfg, m->block_size);
	cfg[8] = (uint8_t)m->node_id;
	cfg[9] = (uint8_t)(m->node_id >> 8);
	vd_put_le64(cfg + 16, m->addr);
	vd_put_le64(cfg + 24, m->region_size);
	vd_put_le64(cfg + 32, m->region_size); /* usable_region_size: all of it */
	pthread_mutex_lock(&m->lock);
	vd_put_le64(cfg + 40, m->plugged * m->block_size);
	vd_put_le64(cfg + 48, m->requested);
	pthread_mutex_unlock(&m->lock);
	vd_config_copy(cfg, sizeof(cfg), off, data, len);
}

/* Every field is the device's (5.15.4): driver writes are ignored. */
static void mem_config_write(struct cvmm_virtio_device *dev, uint32_t off, const void *data,
			     uint32_t len)
{
	(void)dev;
	(void)off;
	(void)data;
	(void)len;
}

/*
 * The host mapping of @n blocks from block @first, or NULL when the map
 * no longer holds the whole region (it is then left alone).
 */
static uint8_t *blocks_host(struct cvmm_virtio_mem *m, uint64_t first, uint64_t n,
			    const struct cvmm_mem_region **out)
{
	uint64_t gpa = m->addr + first * m->block_size, len = n * m->block_size;
	const struct cvmm_mem_region *r = cvmm_guest_mem_find(m->mem, m->addr);

	if (!r || (r->flags & CVMM_MEM_F_READONLY) || r->gpa > m->addr ||
	    m->region_size > r->gpa + r->size - m->addr || gpa < m->addr ||
	    len > m->addr + m->region_size - gpa)
		return NULL;
	*out = r;
	return r->host + (gpa - r->gpa);
}

/* Give blocks [@first, @first + @n) back to the host; they read as zeros
 * afterwards (a migration must send them again: marked dirty). */
static int release(struct cvmm_virtio_mem *m, uint64_t first, uint64_t n)
{
	const struct cvmm_mem_region *r;
	uint8_t *host = blocks_host(m, first, n, &r);
	bool shared;

	if (!host)
		return -EFAULT;
	shared = (r->flags & CVMM_MEM_F_SHARED) || r->backing == CVMM_MEM_MEMFD ||
		 r->backing == CVMM_MEM_HUGETLBFS;
	if (madvise(host, n * m->block_size, shared ? MADV_REMOVE : MADV_DONTNEED))
		return -errno;
	cvmm_guest_mem_mark_dirty(m->mem, m->addr + first * m->block_size, n * m->block_size);
	return 0;
}

/* How many of blocks [@first, @first + @n) are plugged. */
static uint64_t count_plugged(const struct cvmm_virtio_mem *m, uint64_t first, uint64_t n)
{
	uint64_t k = 0;

	for (uint64_t b = first; b < first + n; b++)
		k += is_plugged(m, b);
	return k;
}

/*
 * One request (m->lock held): @resp gets the response type (and state).
 * Every range check happens before any block changes.
 */
static void request(struct cvmm_virtio_mem *m, const uint8_t *req, uint8_t *resp)
{
	uint16_t type = (uint16_t)(req[0] | req[1] << 8);
	uint64_t addr = vd_get_le64(req + 8);
	uint64_t n = (uint64_t)(req[16] | req[17] << 8), first, k;
	uint16_t answer = CVMM_VIRTIO_MEM_RESP_ERROR;

	if (type == CVMM_VIRTIO_MEM_REQ_UNPLUG_ALL) {
		/* Runs of plugged blocks, one release each. */
		for (uint64_t b = 0; b < m->nblocks;) {
			uint64_t e = b;

			while (e < m->nblocks && is_plugged(m, e))
				e++;
			if (e > b && release(m, b, e - b))
				goto out; /* the runs before stay unplugged */
			m->plugged -= e - b;
			m->c.unplugs += e - b;
			for (; b < e; b++)
				set_plugged(m, b, false);
			while (b < m->nblocks && !is_plugged(m, b))
				b++;
		}
		m->c.unplug_alls++;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		goto out;
	}
	if (type > CVMM_VIRTIO_MEM_REQ_STATE || !n || addr < m->addr ||
	    (addr - m->addr) % m->block_size || (addr - m->addr) / m->block_size >= m->nblocks ||
	    n > m->nblocks - (addr - m->addr) / m->block_size)
		goto out;
	first = (addr - m->addr) / m->block_size;
	k = count_plugged(m, first, n);
	switch (type) {
	case CVMM_VIRTIO_MEM_REQ_PLUG:
		if (k)
			break;
		if ((m->plugged + n) * m->block_size > m->requested) {
			answer = CVMM_VIRTIO_MEM_RESP_NACK;
			m->c.nacks++;
			goto nack;
		}
		for (uint64_t b = first; b < first + n; b++)
			set_plugged(m, b, true);
		m->plugged += n;
		m->c.plugs += n;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	case CVMM_VIRTIO_MEM_REQ_UNPLUG:
		if (k != n || release(m, first, n))
			break;
		for (uint64_t b = first; b < first + n; b++)
			set_plugged(m, b, false);
		m->plugged -= n;
		m->c.unplugs += n;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	default: /* STATE */
		k = !k ? CVMM_VIRTIO_MEM_STATE_UNPLUGGED :
		    k == n ? CVMM_VIRTIO_MEM_STATE_PLUGGED : CVMM_VIRTIO_MEM_STATE_MIXED;
		resp[8] = (uint8_t)k;
		answer = CVMM_VIRTIO_MEM_RESP_ACK;
		break;
	}
out:
	if (answer == CVMM_VIRTIO_MEM_RESP_ERROR)
		m->c.errors++;
nack:
	resp[0] = (uint8_t)answer;
	resp[1] = (uint8_t)(answer >> 8);
}

/* One chain: 24 request bytes, then room for the 10-byte response. */
static int chain(struct cvmm_virtio_mem *m, struct cvmm_virtq_chain *c, uint32_t *used)
{
	uint8_t req[REQ_LEN] = { 0 }, resp[RESP_LEN] = { 0 };
	struct cvmm_virtq_rw rd, wr;
	ssize_t got;
	int e;

	*used = 0;
	if ((e = cvmm_virtq_reader_init(&rd, c)) < 0)
		return e;
	got = cvmm_virtq_reader_read(&rd, req, sizeof(req));
	if (got < 0)
		return (int)got;
	if ((e = cvmm_virtq_writer_init(&wr, c)) < 0)
		return e;
	pthread_mutex_lock(&m->lock);
	if (cvmm_virtq_rw_remaining(&wr) < RESP_LEN) {
		m->c.errors++; /* nowhere to answer: nothing done */
		pthread_mutex_unlock(&m->lock);
		return 0;
	}
	if (got == REQ_LEN) {
		request(m, req, resp);
	} else {
		m->c.errors++;
		resp[0] = CVMM_VIRTIO_MEM_RESP_ERROR;
	}
	pthread_mutex_unlock(&m->lock);
	got = cvmm_virtq_writer_write(&wr, resp, sizeof(resp));
	if (got < 0)
		return (int)got;
	*used = (uint32_t)got;
	return 0;
}

static void mem_queue_event(struct cvmm_virtio_device *dev, unsigned int qi)
{
	struct cvmm_virtio_mem *m = to_m(dev);
	struct cvmm_virtq_chain c;
	bool pushed = false;
	uint32_t used;
	int e;

	if (!m->active || qi != 0 || !m->q)
		return;
	for (;;) {
		while ((e = cvmm_virtq_pop(m->q, &c)) > 0) {
			if ((e = chain(m, &c, &used)) < 0 || (e = cvmm_virtq_push(m->q, &c, used)) < 0)
				break;
			pushed = true;
		}
		if (e < 0)
			break;
		e = cvmm_virtq_enable_notification(m->q);
		if (e <= 0)
			break;
	}
	if (e < 0)
		cvmm_virtio_device_set_needs_reset(dev);
	if (pushed && cvmm_virtq_needs_notification(m->q))
		cvmm_virtio_device_signal_used(dev, 0);
}

static int mem_activate(struct cvmm_virtio_device *dev, struct cvmm_guest_mem *mem,
			struct cvmm_virtq *queues, unsigned int nq, uint64_t features)
{
	struct cvmm_virtio_mem *m = to_m(dev);

	(void)features;
	if (nq < 1 || !cvmm_virtq_active(&queues[0]))
		return -EINVAL;
	m->mem = mem;
	m->q = &queues[0];
	m->active = true;
	return 0;
}

/* A reset keeps the blocks as they are (the memory is the guest's; a new
 * driver finds plugged_size and unplugs what it does not know, as Linux
 * does with UNPLUG_ALL at probe). */
static void mem_reset(struct cvmm_virtio_device *dev)
{
	struct cvmm_virtio_mem *m = to_m(dev);

	m->active = false;
	m->q = NULL;
}

static size_t state_len(const struct cvmm_virtio_mem *m)
{
	return STATE_HDR + (size_t)((m->nblocks + 7) / 8);
}

/* Saved state (le): magic, block_size, region_size, addr, requested,
 * plugged blocks, the five counters, then the bitmap, one bit a block. */
static int mem_save(struct cvmm_virtio_device *dev, void *buf, size_t len)
{
	struct cvmm_virtio_mem *m = to_m(dev);
	size_t need = state_len(m);
	uint8_t *p = buf;
	const uint64_t v[] = { m->block_size, m->region_size, m->addr };

	if (need > INT32_MAX)
		return -EOVERFLOW;
	if (!buf)
		return (int)need;
	if (len < need)
		return -ENOSPC;
	pthread_mutex_lock(&m->lock);
	{
		const uint64_t w[] = { m->requested, m->plugged, m->c.plugs, m->c.unplugs,
				       m->c.unplug_alls, m->c.nacks, m->c.errors };

		vd_put_le32(p, STATE_MAGIC);
		for (unsigned int i = 0; i < 3; i++)
			vd_put_le64(p + 4 + 8 * i, v[i]);
		for (unsigned int i = 0; i < 7; i++)
			vd_put_le64(p + 28 + 8 * i, w[i]);
	}
	for (uint64_t b = 0; b < m->nblocks; b += 8) {
		uint8_t byte = 0;

		for (unsigned int i = 0; i < 8 && b + i < m->nblocks; i++)
			byte |= (uint8_t)(is_plugged(m, b + i) << i);
		p[STATE_HDR + b / 8] = byte;
	}
	pthread_mutex_unlock(&m->lock);
	return (int)need;
}

/* Only a state of this very region (same address, size and blocks) with a
 * bitmap that agrees with its plugged count is taken. */
static int mem_restore(struct cvmm_virtio_device *dev, const void *buf, size_t len)
{
	struct cvmm_virtio_mem *m = to_m(dev);
	const uint8_t *p = buf;
	uint64_t requested, plugged, k = 0;

	if (!buf || len != state_len(m) || vd_get_le32(p) != STATE_MAGIC ||
	    vd_get_le64(p + 4) != m->block_size || vd_get_le64(p + 12) != m->region_size ||
	    vd_get_le64(p + 20) != m->addr)
		return -EINVAL;
	requested = vd_get_le64(p + 28);
	plugged = vd_get_le64(p + 36);
	if (requested > m->region_size || requested % m->block_size)
		return -EINVAL;
	for (uint64_t b = 0; b < (m->nblocks + 7) / 8 * 8; b++) {
		bool bit = p[STATE_HDR + b / 8] >> (b % 8) & 1;

		if (bit && b >= m->nblocks)
			return -EINVAL;
		k += bit;
	}
	if (k != plugged)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->requested = requested;
	m->plugged = plugged;
	m->c.plugs = vd_get_le64(p + 44);
	m->c.unplugs = vd_get_le64(p + 52);
	m->c.unplug_alls = vd_get_le64(p + 60);
	m->c.nacks = vd_get_le64(p + 68);
	m->c.errors = vd_get_le64(p + 76);
	for (uint64_t b = 0; b < m->nblocks; b++)
		set_plugged(m, b, p[STATE_HDR + b / 8] >> (b % 8) & 1);
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static const struct cvmm_virtio_device_ops mem_ops = {
	.config_read = mem_config_read,
	.config_write = mem_config_write,
	.activate = mem_activate,
	.queue_event = mem_queue_event,
	.reset = mem_reset,
	.save = mem_save,
	.restore = mem_restore,
};

int cvmm_virtio_mem_create(const struct cvmm_virtio_mem_opts *o, struct cvmm_virtio_mem **out)
{
	struct cvmm_virtio_mem *m;
	uint64_t bs, qs;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	bs = o->block_size ? o->block_size : CVMM_VIRTIO_MEM_DEFAULT_BLOCK;
	qs = o->queue_size ? o->queue_size : 128;
	if (bs < 4096 || bs & (bs - 1) || qs & (qs - 1) || qs > 32768 || !o->region_size ||
	    o->region_size % bs || o->addr % bs || o->addr + o->region_size < o->addr ||
	    o->requested_size > o->region_size || o->requested_size % bs)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->nblocks = o->region_size / bs;
	m->bitmap = calloc((size_t)((m->nblocks + 63) / 64), sizeof(uint64_t));
	if (!m->bitmap) {
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->addr = o->addr;
	m->region_size = o->region_size;
	m->block_size = bs;
	m->node_id = o->node_id;
	m->requested = o->requested_size;
	m->dev.ops = &mem_ops;
	m->dev.device_id = CVMM_VIRTIO_ID_MEM;
	m->dev.config_size = CVMM_VIRTIO_MEM_CONFIG_SIZE;
	m->dev.features = 0;
	m->dev.num_queues = 1;
	m->dev.queue_max_size[0] = (uint16_t)qs;
	*out = m;
	return 0;
}

void cvmm_virtio_mem_destroy(struct cvmm_virtio_mem *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->bitmap);
	free(m);
}

struct cvmm_virtio_device *cvmm_virtio_mem_device(struct cvmm_virtio_mem *m)
{
	return &m->dev;
}

int cvmm_virtio_mem_set_requested(struct cvmm_virtio_mem *m, uint64_t bytes)
{
	if (!m || bytes > m->region_size || bytes % m->block_size)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	m->requested = bytes;
	pthread_mutex_unlock(&m->lock);
	cvmm_virtio_device_config_changed(&m->dev);
	return 0;
}

void cvmm_virtio_mem_get_counters(struct cvmm_virtio_mem *m, struct cvmm_virtio_mem_counters *out)
{
	pthread_mutex_lock(&m->lock);
	*out = m->c;
	out->block_size = m->block_size;
	out->region_size = m->region_size;
	out->requested_size = m->requested;
	out->plugged_size = m->plugged * m->block_size;
	pthread_mutex_unlock(&m->lock);
}
