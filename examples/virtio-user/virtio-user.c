/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-user: a vhost-user frontend and a virtio-blk driver in one host
 * process (see virtio-user.h). */
#include "virtio-user.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define VIRTIO_BLK_F_MQ (1ull << 12)
#define SLOT_HDR 32u /* 16-byte header, status byte at +16 */
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

struct vu_queue {
	struct cvmm_virtq_driver *drv;
	uint64_t desc, avail, used, indirect, hdrs, data;
	int kick_fd, call_fd;
	uint8_t *busy;
};

struct cvmm_virtio_user {
	struct cvmm_virtio_user_opts o;
	char *path;
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *mem;
	uint64_t features, pfeatures, capacity;
	int inflight_fd;
	uint64_t inflight_size, inflight_off;
	bool indirect;
	struct vu_queue *q;
};

static int connect_sock(const char *path, int timeout_ms)
{
	uint64_t end = cvmm_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;

	for (;;) {
		int fd = cvmm_unix_connect(path);

		if (fd >= 0 || cvmm_now_ns() >= end)
			return fd;
		usleep(10000);
	}
}

static void *host(struct cvmm_virtio_user *vu, uint64_t gpa, uint64_t len)
{
	return cvmm_guest_mem_ptr(vu->mem, gpa, len);
}

/* One connection's worth of set-up; the memory and rings survive it. */
static int setup(struct cvmm_virtio_user *vu, bool first, int timeout_ms)
{
	uint64_t offered, want, pf, qn;
	int sock, ret;

	sock = connect_sock(vu->path, timeout_ms);
	if (sock < 0)
		return sock;
	ret = cvmm_vhost_frontend_create(sock, &vu->fe);
	if (ret < 0)
		return ret;
	if ((ret = cvmm_vhost_frontend_set_owner(vu->fe)) < 0 ||
	    (ret = cvmm_vhost_frontend_get_features(vu->fe, &offered)) < 0)
		return ret;
	want = CVMM_VIRTIO_F_VERSION_1 | CVMM_VHOST_F_PROTOCOL_FEATURES |
	       CVMM_VIRTIO_F_INDIRECT_DESC | CVMM_VIRTIO_BLK_F_FLUSH |
	       CVMM_VIRTIO_BLK_F_BLK_SIZE | CVMM_VIRTIO_BLK_F_SEG_MAX | CVMM_VIRTIO_BLK_F_RO |
	       CVMM_VIRTIO_BLK_F_DISCARD | CVMM_VIRTIO_BLK_F_WRITE_ZEROES | VIRTIO_BLK_F_MQ;
	if (!vu->o.no_event_idx)
		want |= CVMM_VIRTIO_F_EVENT_IDX;
	if (!(offered & CVMM_VIRTIO_F_VERSION_1) || !(offered & CVMM_VHOST_F_PROTOCOL_FEATURES))
		return -ENOTSUP;
	if (!first && (offered & vu->features) != vu->features)
		return -ENOTSUP; /* the rings were laid out for these */
	vu->features = first ? offered & want : vu->features;
	if ((ret = cvmm_vhost_frontend_get_protocol_features(vu->fe, &pf)) < 0)
		return ret;
	pf &= PF(MQ) | PF(REPLY_ACK) | PF(CONFIG) | (vu->o.no_inflight ? 0 : PF(INFLIGHT_SHMFD));
	vu->pfeatures = pf;
	if ((ret = cvmm_vhost_frontend_set_protocol_features(vu->fe, pf)) < 0)
		return ret;
	if (!(pf & PF(CONFIG)))
		return -ENOTSUP;
	if (vu->o.num_queues > 1) {
		if (!(pf & PF(MQ)))
			return -ENOTSUP;
		if ((ret = cvmm_vhost_frontend_get_queue_num(vu->fe, &qn)) < 0)
			return ret;
		if (qn < vu->o.num_queues)
			return -ENOTSUP;
	}
	if ((ret = cvmm_vhost_frontend_set_features(vu->fe, vu->features)) < 0 ||
	    (ret = cvmm_vhost_frontend_get_config(vu->fe, 0, &vu->capacity, 8)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_mem_table(vu->fe, vu->mem)) < 0)
		return ret;
	vu->indirect = vu->features & CVMM_VIRTIO_F_INDIRECT_DESC;
	if (pf & PF(INFLIGHT_SHMFD)) {
		if (vu->inflight_fd < 0 &&
		    (ret = cvmm_vhost_frontend_get_inflight_fd(vu->fe, (uint16_t)vu->o.num_queues,
							       vu->o.queue_size, &vu->inflight_fd,
							       &vu->inflight_size,
							       &vu->inflight_off)) < 0)
			return ret;
		ret = cvmm_vhost_frontend_set_inflight_fd(vu->fe, vu->inflight_fd,
							  vu->inflight_size, vu->inflight_off,
							  (uint16_t)vu->o.num_queues,
							  vu->o.queue_size);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < vu->o.num_queues; i++) {
		struct vu_queue *q = &vu->q[i];
		uint16_t used_idx = 0;
		struct cvmm_vhost_vring_addr_wire a = {
			.index = i,
			.desc_user_addr = (uint64_t)(uintptr_t)host(vu, q->desc, 1),
			.avail_user_addr = (uint64_t)(uintptr_t)host(vu, q->avail, 1),
			.used_user_addr = (uint64_t)(uintptr_t)host(vu, q->used, 1),
		};

		if (first) {
			struct cvmm_virtq_driver_opts d = {
				.sz = sizeof(d), .mem = vu->mem, .size = vu->o.queue_size,
				.features = vu->features, .desc_gpa = q->desc,
				.avail_gpa = q->avail, .used_gpa = q->used,
				.indirect_gpa = vu->indirect ? q->indirect : 0,
				.indirect_max = vu->indirect ? 3 : 0,
			};

			ret = cvmm_virtq_driver_create(&d, &q->drv);
			if (ret < 0)
				return ret;
		}
		/* As QEMU after a backend crash: resume at the used index. */
		(void)cvmm_guest_mem_read_u16(vu->mem, q->used + 2, &used_idx);
		ret = cvmm_vhost_frontend_start_vring(vu->fe, &a, vu->o.queue_size, used_idx,
						      q->kick_fd, q->call_fd, true);
		if (ret < 0)
			return ret;
		/* Requests queued while the backend was away need a kick. */
		(void)cvmm_eventfd_write(q->kick_fd, 1);
	}
	return 0;
}

int cvmm_virtio_user_create(const struct cvmm_virtio_user_opts *o,
			    struct cvmm_virtio_user **out)
{
	struct cvmm_virtio_user *vu;
	uint64_t db, ab, ub, per_q, total;
	int ret;

	if (!o || !out || o->sz < sizeof(*o) || !o->socket)
		return -EINVAL;
	vu = calloc(1, sizeof(*vu));
	if (!vu)
		return -ENOMEM;
	vu->o = *o;
	vu->inflight_fd = -1;
	if (!vu->o.num_queues)
		vu->o.num_queues = 1;
	if (!vu->o.queue_size)
		vu->o.queue_size = 128;
	if (!vu->o.max_io)
		vu->o.max_io = 128u << 10;
	ret = -EINVAL;
	if (vu->o.num_queues > 64 || (vu->o.queue_size & (vu->o.queue_size - 1)) ||
	    vu->o.queue_size > 1024 || vu->o.max_io % 512 || vu->o.max_io > (4u << 20))
		goto fail;
	ret = -ENOMEM;
	vu->path = strdup(o->socket);
	vu->q = calloc(vu->o.num_queues, sizeof(*vu->q));
	if (!vu->path || !vu->q)
		goto fail;
	/* Layout per queue: rings, indirect tables, headers, data buffers. */
	cvmm_virtq_ring_bytes(vu->o.queue_size, CVMM_VIRTIO_F_EVENT_IDX, &db, &ab, &ub);
	per_q = ALIGN_UP(db, 4096) + ALIGN_UP(ab, 4096) + ALIGN_UP(ub, 4096) +
		ALIGN_UP(48ull * vu->o.queue_size, 4096) +
		ALIGN_UP((uint64_t)SLOT_HDR * vu->o.queue_size, 4096) +
		(uint64_t)vu->o.max_io * vu->o.queue_size;
	per_q = ALIGN_UP(per_q, 4096);
	total = ALIGN_UP(per_q * vu->o.num_queues, 2ull << 20);
	if ((ret = cvmm_guest_mem_create(&vu->mem)) < 0)
		goto fail;
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0, .size = total,
					   .backing = CVMM_MEM_MEMFD,
					   .flags = CVMM_MEM_F_SHARED, .fd = -1 };
	if ((ret = cvmm_guest_mem_add_region(vu->mem, &ro)) < 0)
		goto fail;
	for (unsigned int i = 0; i < vu->o.num_queues; i++) {
		struct vu_queue *q = &vu->q[i];
		uint64_t g = per_q * i;

		q->kick_fd = q->call_fd = -1;
		q->desc = g;
		g += ALIGN_UP(db, 4096);
		q->avail = g;
		g += ALIGN_UP(ab, 4096);
		q->used = g;
		g += ALIGN_UP(ub, 4096);
		q->indirect = g;
		g += ALIGN_UP(48ull * vu->o.queue_size, 4096);
		q->hdrs = g;
		g += ALIGN_UP((uint64_t)SLOT_HDR * vu->o.queue_size, 4096);
		q->data = g;
		q->busy = calloc(vu->o.queue_size, 1);
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		ret = -ENOMEM;
		if (!q->busy || q->kick_fd < 0 || q->call_fd < 0)
			goto fail;
	}
	ret = setup(vu, true, o->connect_timeout_ms);
	if (ret < 0)
		goto fail;
	*out = vu;
	return 0;
fail:
	cvmm_virtio_user_destroy(vu);
	return ret;
}

void cvmm_virtio_user_destroy(struct cvmm_virtio_user *vu)
{
	if (!vu)
		return;
	cvmm_vhost_frontend_destroy(vu->fe);
	for (unsigned int i = 0; vu->q && i < vu->o.num_queues; i++) {
		cvmm_virtq_driver_destroy(vu->q[i].drv);
		cvmm_close(vu->q[i].kick_fd);
		cvmm_close(vu->q[i].call_fd);
		free(vu->q[i].busy);
	}
	cvmm_close(vu->inflight_fd);
	cvmm_guest_mem_destroy(vu->mem);
	free(vu->q);
	free(vu->path);
	free(vu);
}

int cvmm_virtio_user_reconnect(struct cvmm_virtio_user *vu, int timeout_ms)
{
	cvmm_vhost_frontend_destroy(vu->fe);
	vu->fe = NULL;
	return setup(vu, false, timeout_ms);
}

uint64_t cvmm_virtio_user_capacity(const struct cvmm_virtio_user *vu)
{
	return vu->capacity;
}

uint64_t cvmm_virtio_user_features(const struct cvmm_virtio_user *vu)
{
	return vu->features;
}

uint16_t cvmm_virtio_user_queue_size(const struct cvmm_virtio_user *vu)
{
	return vu->o.queue_size;
}

uint32_t cvmm_virtio_user_max_io(const struct cvmm_virtio_user *vu)
{
	return vu->o.max_io;
}

void *cvmm_virtio_user_buf(struct cvmm_virtio_user *vu, unsigned int q, unsigned int slot)
{
	if (q >= vu->o.num_queues || slot >= vu->o.queue_size)
		return NULL;
	return host(vu, vu->q[q].data + (uint64_t)slot * vu->o.max_io, vu->o.max_io);
}

int cvmm_virtio_user_submit(struct cvmm_virtio_user *vu, unsigned int qi, unsigned int slot,
			    uint32_t type, uint64_t sector, uint32_t len)
{
	struct vu_queue *q;
	struct cvmm_virtq_buf out[2], in[2];
	unsigned int nout = 1, nin = 0;
	uint8_t hdr[16];
	int ret;

	if (qi >= vu->o.num_queues || slot >= vu->o.queue_size || len > vu->o.max_io)
		return -EINVAL;
	q = &vu->q[qi];
	if (q->busy[slot])
		return -EBUSY;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	uint64_t h = q->hdrs + (uint64_t)slot * SLOT_HDR;
	if (cvmm_guest_mem_write(vu->mem, h, hdr, sizeof(hdr)) < 0 ||
	    cvmm_guest_mem_write_u8(vu->mem, h + 16, 0xff) < 0)
		return -EFAULT;
	out[0] = (struct cvmm_virtq_buf){ h, 16 };
	if (len) {
		struct cvmm_virtq_buf b = { q->data + (uint64_t)slot * vu->o.max_io, len };

		if (type == CVMM_VIRTIO_BLK_T_IN || type == CVMM_VIRTIO_BLK_T_GET_ID)
			in[nin++] = b;
		else
			out[nout++] = b;
	}
	in[nin++] = (struct cvmm_virtq_buf){ h + 16, 1 };
	ret = cvmm_virtq_driver_add(q->drv, out, nout, in, nin, vu->indirect, slot);
	if (ret == 0)
		q->busy[slot] = 1;
	return ret;
}

int cvmm_virtio_user_kick(struct cvmm_virtio_user *vu, unsigned int qi)
{
	if (qi >= vu->o.num_queues)
		return -EINVAL;
	if (cvmm_virtq_driver_kick_needed(vu->q[qi].drv))
		return cvmm_eventfd_write(vu->q[qi].kick_fd, 1);
	return 0;
}

int cvmm_virtio_user_reap(struct cvmm_virtio_user *vu, unsigned int qi, unsigned int *slots,
			  uint8_t *status, unsigned int max, int timeout_ms)
{
	struct vu_queue *q;
	unsigned int n = 0;

	if (qi >= vu->o.num_queues)
		return -EINVAL;
	q = &vu->q[qi];
	while (n < max) {
		uint64_t tok;
		uint32_t len;
		int r = cvmm_virtq_driver_get_used(q->drv, &tok, &len);

		if (r < 0)
			return r;
		if (r == 1) {
			if (tok >= vu->o.queue_size || !q->busy[tok])
				return -EIO;
			q->busy[tok] = 0;
			slots[n] = (unsigned int)tok;
			if (status &&
			    cvmm_guest_mem_read_u8(vu->mem, q->hdrs + tok * SLOT_HDR + 16,
						   &status[n]) < 0)
				return -EFAULT;
			n++;
			continue;
		}
		if (n || timeout_ms == 0)
			break;
		if (cvmm_virtq_driver_enable_cb(q->drv))
			continue;
		struct pollfd p = { .fd = q->call_fd, .events = POLLIN };
		int pr = poll(&p, 1, timeout_ms);

		if (pr < 0 && errno != EINTR)
			return -errno;
		if (pr == 0)
			break;
		uint64_t v;
		(void)cvmm_eventfd_read(q->call_fd, &v);
	}
	return (int)n;
}

unsigned int cvmm_virtio_user_in_flight(const struct cvmm_virtio_user *vu, unsigned int q)
{
	return q < vu->o.num_queues ? cvmm_virtq_driver_in_flight(vu->q[q].drv) : 0;
}
