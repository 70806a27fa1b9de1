/* SPDX-License-Identifier: Apache-2.0 */
#include "vd-fixture.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

static uint64_t ring_base(unsigned int q)
{
	return 0x10000ull + q * 0x10000ull;
}

static void init_mem(struct vdf *f, uint64_t mem_size, enum cvmm_mem_backing backing)
{
	struct cvmm_mem_region_opts ro = {
		.sz = sizeof(ro),
		.gpa = 0,
		.size = mem_size ? mem_size : 16ull << 20,
		.backing = backing,
		.fd = -1,
		.flags = CVMM_MEM_F_NORESERVE,
	};

	memset(f, 0, sizeof(*f));
	f->mem_size = ro.size;
	ck_assert_int_eq(cvmm_guest_mem_create(&f->mem), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &ro), 0);
	ck_assert_int_eq(cvmm_event_manager_create(NULL, &f->em), 0);
	f->next_buf = VDF_BUF_BASE;
}

void vdf_init(struct vdf *f, uint64_t mem_size)
{
	init_mem(f, mem_size, CVMM_MEM_ANON);
}

void vdf_init_shared(struct vdf *f, uint64_t mem_size)
{
	init_mem(f, mem_size, CVMM_MEM_MEMFD);
}

void vdf_attach(struct vdf *f, struct cvmm_virtio_device *dev)
{
	vdf_attach_opts(f, dev, false);
}

void vdf_attach_opts(struct vdf *f, struct cvmm_virtio_device *dev, bool used_irq_direct)
{
	struct cvmm_virtio_mmio_opts o = {
		.sz = sizeof(o), .dev = dev, .mem = f->mem, .em = f->em,
		.used_irq_direct = used_irq_direct,
	};

	f->dev = dev;
	ck_assert_int_eq(cvmm_virtio_mmio_create(&o, &f->t), 0);
}

void vdf_detach(struct vdf *f)
{
	vdf_stop(f);
	cvmm_virtio_mmio_destroy(f->t);
	f->t = NULL;
}

void vdf_fini(struct vdf *f)
{
	if (f->t)
		vdf_detach(f);
	for (unsigned int i = 0; i < VDF_MAX_Q; i++)
		cvmm_virtq_driver_destroy(f->drv[i]);
	cvmm_event_manager_destroy(f->em);
	cvmm_guest_mem_destroy(f->mem);
}

static void *loop_main(void *arg)
{
	struct vdf *f = arg;

	(void)cvmm_event_manager_run(f->em);
	return NULL;
}

void vdf_start(struct vdf *f)
{
	if (f->running)
		return;
	ck_assert_int_eq(pthread_create(&f->thr, NULL, loop_main, f), 0);
	f->running = true;
}

void vdf_stop(struct vdf *f)
{
	if (!f->running)
		return;
	ck_assert_int_eq(cvmm_event_manager_stop(f->em), 0);
	pthread_join(f->thr, NULL);
	f->running = false;
}

uint32_t vdf_rd(struct vdf *f, uint32_t off)
{
	uint32_t v = 0xdeadbeef;

	ck_assert_int_eq(cvmm_virtio_mmio_access(f->t, off, &v, 4, false), 0);
	return v;
}

void vdf_wr(struct vdf *f, uint32_t off, uint32_t val)
{
	ck_assert_int_eq(cvmm_virtio_mmio_access(f->t, off, &val, 4, true), 0);
}

void vdf_wait_settled(struct vdf *f)
{
	uint64_t end = cvmm_now_ns() + 5000000000ull;

	while (!cvmm_virtio_mmio_settled(f->t)) {
		if (!f->running)
			ck_assert_int_ge(cvmm_event_manager_run_once(f->em, 10), 0);
		else
			usleep(200);
		ck_assert_msg(cvmm_now_ns() < end, "device thread never settled");
	}
}

void vdf_bring_up(struct vdf *f, uint64_t want, unsigned int nq, uint16_t size)
{
	uint64_t offered, feat;

	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE);
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = vdf_rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)vdf_rd(f, CVMM_VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	feat = (offered & want) | CVMM_VIRTIO_F_VERSION_1;
	f->features = feat;
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)feat);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	vdf_wr(f, CVMM_VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(feat >> 32));
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE |
	       CVMM_VIRTIO_S_DRIVER | CVMM_VIRTIO_S_FEATURES_OK);
	ck_assert_uint_eq(vdf_rd(f, CVMM_VIRTIO_MMIO_STATUS) & CVMM_VIRTIO_S_FEATURES_OK,
			  CVMM_VIRTIO_S_FEATURES_OK);
	f->nq = nq;
	for (unsigned int q = 0; q < nq; q++) {
		uint64_t base = ring_base(q);
		struct cvmm_virtq_driver_opts d = {
			.sz = sizeof(d), .mem = f->mem, .size = size, .features = feat,
			.desc_gpa = base, .avail_gpa = base + 0x4000,
			.used_gpa = base + 0x8000,
			.indirect_gpa = 0x100000ull + q * 0x100000ull,
			.indirect_max = VDF_IND_MAX,
		};
		uint64_t need = (uint64_t)size * VDF_IND_MAX * 16;

		if (need > 0x100000ull) /* big queues: no indirect tables */
			d.indirect_gpa = 0, d.indirect_max = 0;
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_SEL, q);
		ck_assert_uint_ge(vdf_rd(f, CVMM_VIRTIO_MMIO_QUEUE_NUM_MAX), size);
		ck_assert_uint_eq(vdf_rd(f, CVMM_VIRTIO_MMIO_QUEUE_READY), 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_NUM, size);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)d.desc_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)d.avail_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DRIVER_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)d.used_gpa);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_DEVICE_HIGH, 0);
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_READY, 1);
		ck_assert_uint_eq(vdf_rd(f, CVMM_VIRTIO_MMIO_QUEUE_READY), 1);
		cvmm_virtq_driver_destroy(f->drv[q]);
		f->drv[q] = NULL;
		ck_assert_int_eq(cvmm_virtq_driver_create(&d, &f->drv[q]), 0);
	}
	vdf_wr(f, CVMM_VIRTIO_MMIO_STATUS, CVMM_VIRTIO_S_ACKNOWLEDGE |
	       CVMM_VIRTIO_S_DRIVER | CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK);
	vdf_wait_settled(f);
	ck_assert_uint_eq(vdf_rd(f, CVMM_VIRTIO_MMIO_STATUS),
			  CVMM_VIRTIO_S_ACKNOWLEDGE | CVMM_VIRTIO_S_DRIVER |
				  CVMM_VIRTIO_S_FEATURES_OK | CVMM_VIRTIO_S_DRIVER_OK);
}

void vdf_kick(struct vdf *f, unsigned int q)
{
	if (cvmm_virtq_driver_kick_needed(f->drv[q]))
		vdf_wr(f, CVMM_VIRTIO_MMIO_QUEUE_NOTIFY, q);
}

int vdf_wait_used(struct vdf *f, unsigned int q, uint64_t *token, uint32_t *len,
		  int ms)
{
	uint64_t end = cvmm_now_ns() + (uint64_t)ms * 1000000ull;
	struct pollfd p = { .fd = cvmm_virtio_mmio_irq_fd(f->t), .events = POLLIN };
	uint64_t v;
	int r;

	for (;;) {
		r = cvmm_virtq_driver_get_used(f->drv[q], token, len);
		ck_assert_int_ge(r, 0);
		if (r == 1)
			return 1;
		if (cvmm_now_ns() >= end)
			return 0;
		if (!f->running)
			ck_assert_int_ge(cvmm_event_manager_run_once(f->em, 5), 0);
		else if (poll(&p, 1, 5) == 1)
			(void)cvmm_eventfd_read(p.fd, &v);
		v = vdf_rd(f, CVMM_VIRTIO_MMIO_INTERRUPT_STATUS);
		if (v)
			vdf_wr(f, CVMM_VIRTIO_MMIO_INTERRUPT_ACK, (uint32_t)v);
	}
}

uint64_t vdf_alloc(struct vdf *f, uint64_t len, uint64_t align)
{
	uint64_t g = CVMM_ALIGN_UP(f->next_buf, align ? align : 1);

	ck_assert_uint_le(g + len, f->mem_size);
	f->next_buf = g + len;
	return g;
}

uint8_t *vdf_host(struct vdf *f, uint64_t gpa)
{
	uint8_t *p = cvmm_guest_mem_ptr(f->mem, gpa, 1);

	ck_assert_ptr_nonnull(p);
	return p;
}
