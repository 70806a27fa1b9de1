/* SPDX-License-Identifier: Apache-2.0 */
/* The part of virtio-user that does not depend on the device type: guest
 * memory, rings, eventfds and the vhost-user session (see vu-core.h). */
#include "vu-core.h"

#include <cvmm/sys-util.h>
#include <cvmm/virtio-queue.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PF(b) CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_##b)
#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~((uint64_t)(a) - 1))

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

void *cvmm_vu_core_host(struct cvmm_vu_core *c, uint64_t gpa, uint64_t len)
{
	return cvmm_guest_mem_ptr(c->mem, gpa, len);
}

int cvmm_vu_core_init(struct cvmm_vu_core *c, const char *socket, unsigned int nq,
		      uint16_t queue_size, uint64_t area_bytes)
{
	uint64_t db, ab, ub, per_q;
	int ret;

	c->nq = nq;
	c->queue_size = queue_size;
	c->path = strdup(socket);
	c->q = calloc(nq, sizeof(*c->q));
	if (!c->path || !c->q)
		return -ENOMEM;
	for (unsigned int i = 0; i < nq; i++)
		c->q[i].kick_fd = c->q[i].call_fd = -1;
	/* Rings sized for EVENT_IDX whether or not it is acked: the layout
	 * must not depend on what a later backend offers. */
	cvmm_virtq_ring_bytes(queue_size, CVMM_VIRTIO_F_EVENT_IDX, &db, &ab, &ub);
	per_q = ALIGN_UP(db, 4096) + ALIGN_UP(ab, 4096) + ALIGN_UP(ub, 4096) +
		ALIGN_UP(area_bytes, 4096);
	c->mem_size = ALIGN_UP(per_q * nq, 2ull << 20);
	if ((ret = cvmm_guest_mem_create(&c->mem)) < 0)
		return ret;
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0, .size = c->mem_size,
					   .backing = CVMM_MEM_MEMFD,
					   .flags = CVMM_MEM_F_SHARED, .fd = -1 };
	if ((ret = cvmm_guest_mem_add_region(c->mem, &ro)) < 0)
		return ret;
	for (unsigned int i = 0; i < nq; i++) {
		struct cvmm_vu_queue *q = &c->q[i];
		uint64_t g = per_q * i;

		q->desc = g;
		g += ALIGN_UP(db, 4096);
		q->avail = g;
		g += ALIGN_UP(ab, 4096);
		q->used = g;
		g += ALIGN_UP(ub, 4096);
		q->area = g;
		q->busy = calloc(queue_size, 1);
		q->kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		q->call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (!q->busy || q->kick_fd < 0 || q->call_fd < 0)
			return -ENOMEM;
	}
	return 0;
}

void cvmm_vu_core_disconnect(struct cvmm_vu_core *c)
{
	cvmm_vhost_frontend_destroy(c->fe);
	c->fe = NULL;
}

void cvmm_vu_core_fini(struct cvmm_vu_core *c)
{
	cvmm_vu_core_disconnect(c);
	for (unsigned int i = 0; c->q && i < c->nq; i++) {
		cvmm_virtq_driver_destroy(c->q[i].drv);
		cvmm_close(c->q[i].kick_fd);
		cvmm_close(c->q[i].call_fd);
		free(c->q[i].busy);
	}
	cvmm_guest_mem_destroy(c->mem);
	free(c->q);
	free(c->path);
	c->q = NULL;
	c->path = NULL;
	c->mem = NULL;
}

int cvmm_vu_core_negotiate(struct cvmm_vu_core *c, bool first, int timeout_ms,
			   const struct cvmm_vu_core_want *w)
{
	uint64_t offered, pf, qn;
	int sock, ret;

	sock = connect_sock(c->path, timeout_ms);
	if (sock < 0)
		return sock;
	ret = cvmm_vhost_frontend_create(sock, &c->fe);
	if (ret < 0)
		return ret;
	if ((ret = cvmm_vhost_frontend_set_owner(c->fe)) < 0 ||
	    (ret = cvmm_vhost_frontend_get_features(c->fe, &offered)) < 0)
		return ret;
	if (!(offered & CVMM_VIRTIO_F_VERSION_1) || !(offered & CVMM_VHOST_F_PROTOCOL_FEATURES))
		return -ENOTSUP;
	if (!first && (offered & c->features) != c->features)
		return -ENOTSUP; /* the rings were laid out for these */
	if (first)
		c->features = offered & (w->features | CVMM_VIRTIO_F_VERSION_1 |
					 CVMM_VHOST_F_PROTOCOL_FEATURES);
	if ((ret = cvmm_vhost_frontend_get_protocol_features(c->fe, &pf)) < 0)
		return ret;
	pf &= w->pfeatures;
	c->pfeatures = pf;
	if ((ret = cvmm_vhost_frontend_set_protocol_features(c->fe, pf)) < 0)
		return ret;
	if (w->need_config && !(pf & PF(CONFIG)))
		return -ENOTSUP;
	if (w->min_nq) {
		if (!(pf & PF(MQ)))
			return -ENOTSUP;
		if ((ret = cvmm_vhost_frontend_get_queue_num(c->fe, &qn)) < 0)
			return ret;
		if (qn < w->min_nq)
			return -ENOTSUP;
	}
	if ((ret = cvmm_vhost_frontend_set_features(c->fe, c->features)) < 0)
		return ret;
	return cvmm_vhost_frontend_set_mem_table(c->fe, c->mem);
}

int cvmm_vu_core_start(struct cvmm_vu_core *c, bool first, unsigned int indirect_max)
{
	int ret;

	for (unsigned int i = 0; i < c->nq; i++) {
		struct cvmm_vu_queue *q = &c->q[i];
		uint16_t used_idx = 0;
		struct cvmm_vhost_vring_addr_wire a = {
			.index = i,
			.desc_user_addr = (uint64_t)(uintptr_t)cvmm_vu_core_host(c, q->desc, 1),
			.avail_user_addr = (uint64_t)(uintptr_t)cvmm_vu_core_host(c, q->avail, 1),
			.used_user_addr = (uint64_t)(uintptr_t)cvmm_vu_core_host(c, q->used, 1),
		};

		if (first) {
			struct cvmm_virtq_driver_opts d = {
				.sz = sizeof(d), .mem = c->mem, .size = c->queue_size,
				.features = c->features, .desc_gpa = q->desc,
				.avail_gpa = q->avail, .used_gpa = q->used,
				.indirect_gpa = indirect_max ? q->area : 0,
				.indirect_max = indirect_max,
			};

			ret = cvmm_virtq_driver_create(&d, &q->drv);
			if (ret < 0)
				return ret;
		}
		/* As QEMU after a backend crash: resume at the used index. */
		(void)cvmm_guest_mem_read_u16(c->mem, q->used + 2, &used_idx);
		ret = cvmm_vhost_frontend_start_vring(c->fe, &a, c->queue_size, used_idx,
						      q->kick_fd, q->call_fd, true);
		if (ret < 0)
			return ret;
		/* Buffers queued while the backend was away need a kick. */
		(void)cvmm_eventfd_write(q->kick_fd, 1);
	}
	return 0;
}

int cvmm_vu_core_kick(struct cvmm_vu_queue *q)
{
	if (cvmm_virtq_driver_kick_needed(q->drv))
		return cvmm_eventfd_write(q->kick_fd, 1);
	return 0;
}

int cvmm_vu_core_wait_call(struct cvmm_vu_queue *q, int timeout_ms)
{
	struct pollfd p = { .fd = q->call_fd, .events = POLLIN };
	uint64_t v;
	int pr;

	if (cvmm_virtq_driver_enable_cb(q->drv))
		return 1;
	pr = poll(&p, 1, timeout_ms);
	if (pr < 0)
		return errno == EINTR ? 1 : -errno;
	if (pr == 0)
		return 0;
	(void)cvmm_eventfd_read(q->call_fd, &v);
	return 1;
}
