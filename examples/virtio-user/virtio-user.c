/* SPDX-License-Identifier: Apache-2.0 */
/* virtio-user: a vhost-user frontend and a virtio-blk driver in one host
 * process (see virtio-user.h). */
#include "virtio-user.h"

#include "vu-core.h"

#include <cvmm/sys-util.h>
#include <cvmm/vhost.h>
#include <cvmm/virtio-devices/blk.h>
#include <cvmm/virtio-queue.h>
#include <cvmm/virtio-queue/driver.h>
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define VIRTIO_BLK_F_MQ (1ull << 12)
#define SLOT_HDR 32u /* 16-byte header, status byte at +16 */
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/* Each queue's area (vu-core.h): indirect tables (3 descriptors a slot),
 * then the slots' headers, then their data buffers. */
struct vu_queue {
	uint64_t hdrs, data;
};

struct cvmm_virtio_user {
	struct cvmm_virtio_user_opts o;
	struct cvmm_vu_core c;
	uint64_t capacity;
	int inflight_fd;
	uint64_t inflight_size, inflight_off;
	bool indirect;
	struct vu_queue *q;
};

static void *host(struct cvmm_virtio_user *vu, uint64_t gpa, uint64_t len)
{
	return cvmm_vu_core_host(&vu->c, gpa, len);
}

/* One connection's worth of set-up; the memory and rings survive it. */
static int setup(struct cvmm_virtio_user *vu, bool first, int timeout_ms)
{
	struct cvmm_vu_core_want w = {
		.features = CVMM_VIRTIO_F_INDIRECT_DESC | CVMM_VIRTIO_BLK_F_FLUSH |
			    CVMM_VIRTIO_BLK_F_BLK_SIZE | CVMM_VIRTIO_BLK_F_SEG_MAX |
			    CVMM_VIRTIO_BLK_F_RO | CVMM_VIRTIO_BLK_F_DISCARD |
			    CVMM_VIRTIO_BLK_F_WRITE_ZEROES | VIRTIO_BLK_F_MQ |
			    (vu->o.no_event_idx ? 0 : CVMM_VIRTIO_F_EVENT_IDX),
		.pfeatures = PF(MQ) | PF(REPLY_ACK) | PF(CONFIG) |
			     (vu->o.no_inflight ? 0 : PF(INFLIGHT_SHMFD)),
		.need_config = true,
		.min_nq = vu->o.num_queues > 1 ? vu->o.num_queues : 0,
	};
	int ret;

	ret = cvmm_vu_core_negotiate(&vu->c, first, timeout_ms, &w);
	if (ret < 0)
		return ret;
	if ((ret = cvmm_vhost_frontend_get_config(vu->c.fe, 0, &vu->capacity, 8)) < 0)
		return ret;
	vu->indirect = vu->c.features & CVMM_VIRTIO_F_INDIRECT_DESC;
	if (vu->c.pfeatures & PF(INFLIGHT_SHMFD)) {
		if (vu->inflight_fd < 0 &&
		    (ret = cvmm_vhost_frontend_get_inflight_fd(vu->c.fe, (uint16_t)vu->o.num_queues,
							       vu->o.queue_size, &vu->inflight_fd,
							       &vu->inflight_size,
							       &vu->inflight_off)) < 0)
			return ret;
		ret = cvmm_vhost_frontend_set_inflight_fd(vu->c.fe, vu->inflight_fd,
							  vu->inflight_size, vu->inflight_off,
							  (uint16_t)vu->o.num_queues,
							  vu->o.queue_size);
		if (ret < 0)
			return ret;
	}
	return cvmm_vu_core_start(&vu->c, first, vu->indirect ? 3 : 0);
}

int cvmm_virtio_user_create(const struct cvmm_virtio_user_opts *o,
			    struct cvmm_virtio_user **out)
{
	struct cvmm_virtio_user *vu;
	uint64_t ind, hdrs;
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
	vu->q = calloc(vu->o.num_queues, sizeof(*vu->q));
	if (!vu->q)
		goto fail;
	ind = ALIGN_UP(48ull * vu->o.queue_size, 4096);
	hdrs = ALIGN_UP((uint64_t)SLOT_HDR * vu->o.queue_size, 4096);
	ret = cvmm_vu_core_init(&vu->c, o->socket, vu->o.num_queues, vu->o.queue_size,
				ind + hdrs + (uint64_t)vu->o.max_io * vu->o.queue_size);
	if (ret < 0)
		goto fail;
	for (unsigned int i = 0; i < vu->o.num_queues; i++) {
		vu->q[i].hdrs = vu->c.q[i].area + ind;
		vu->q[i].data = vu->q[i].hdrs + hdrs;
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
	cvmm_vu_core_fini(&vu->c);
	cvmm_close(vu->inflight_fd);
	free(vu->q);
	free(vu);
}

int cvmm_virtio_user_reconnect(struct cvmm_virtio_user *vu, int timeout_ms)
{
	cvmm_vu_core_disconnect(&vu->c);
	return setup(vu, false, timeout_ms);
}

uint64_t cvmm_virtio_user_capacity(const struct cvmm_virtio_user *vu)
{
	return vu->capacity;
}

uint64_t cvmm_virtio_user_features(const struct cvmm_virtio_user *vu)
{
	return vu->c.features;
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
	struct cvmm_vu_queue *cq;
	struct vu_queue *q;
	struct cvmm_virtq_buf out[2], in[2];
	unsigned int nout = 1, nin = 0;
	uint8_t hdr[16];
	int ret;

	if (qi >= vu->o.num_queues || slot >= vu->o.queue_size || len > vu->o.max_io)
		return -EINVAL;
	q = &vu->q[qi];
	cq = &vu->c.q[qi];
	if (cq->busy[slot])
		return -EBUSY;
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, &type, 4);
	memcpy(hdr + 8, &sector, 8);
	uint64_t h = q->hdrs + (uint64_t)slot * SLOT_HDR;
	if (cvmm_guest_mem_write(vu->c.mem, h, hdr, sizeof(hdr)) < 0 ||
	    cvmm_guest_mem_write_u8(vu->c.mem, h + 16, 0xff) < 0)
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
	ret = cvmm_virtq_driver_add(cq->drv, out, nout, in, nin, vu->indirect, slot);
	if (ret == 0)
		cq->busy[slot] = 1;
	return ret;
}

int cvmm_virtio_user_kick(struct cvmm_virtio_user *vu, unsigned int qi)
{
	if (qi >= vu->o.num_queues)
		return -EINVAL;
	return cvmm_vu_core_kick(&vu->c.q[qi]);
}

int cvmm_virtio_user_reap(struct cvmm_virtio_user *vu, unsigned int qi, unsigned int *slots,
			  uint8_t *status, unsigned int max, int timeout_ms)
{
	struct cvmm_vu_queue *cq;
	unsigned int n = 0;

	if (qi >= vu->o.num_queues)
		return -EINVAL;
	cq = &vu->c.q[qi];
	while (n < max) {
		uint64_t tok;
		uint32_t len;
		int r = cvmm_virtq_driver_get_used(cq->drv, &tok, &len);

		if (r < 0)
			return r;
		if (r == 1) {
			if (tok >= vu->o.queue_size || !cq->busy[tok])
				return -EIO;
			cq->busy[tok] = 0;
			slots[n] = (unsigned int)tok;
			if (status &&
			    cvmm_guest_mem_read_u8(vu->c.mem, vu->q[qi].hdrs + tok * SLOT_HDR + 16,
						   &status[n]) < 0)
				return -EFAULT;
			n++;
			continue;
		}
		if (n || timeout_ms == 0)
			break;
		r = cvmm_vu_core_wait_call(cq, timeout_ms);
		if (r < 0)
			return r;
		if (r == 0)
			break;
	}
	return (int)n;
}

unsigned int cvmm_virtio_user_in_flight(const struct cvmm_virtio_user *vu, unsigned int q)
{
	return q < vu->o.num_queues ? cvmm_virtq_driver_in_flight(vu->c.q[q].drv) : 0;
}
