/* SPDX-License-Identifier: Apache-2.0 */
#include "vq-fixture.h"
#include "cvmm-test.h"

#include <string.h>

void fx_setup(struct fx *f, bool packed, uint16_t size, uint64_t extra)
{
	struct cvmm_mem_region_opts ra = {
		.sz = sizeof(ra), .gpa = 0, .size = FX_REGION_A, .backing = CVMM_MEM_ANON,
		.flags = CVMM_MEM_F_GUARD, .fd = -1,
	};
	struct cvmm_mem_region_opts rb = ra;
	struct cvmm_virtq_driver_opts o;

	memset(f, 0, sizeof(*f));
	rb.gpa = FX_REGION_A;
	rb.size = FX_REGION_B_SIZE;
	ck_assert_int_eq(cvmm_guest_mem_create(&f->mem), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &ra), 0);
	ck_assert_int_eq(cvmm_guest_mem_add_region(f->mem, &rb), 0);
	f->packed = packed;
	f->size = size;
	f->features = CVMM_VIRTIO_F_VERSION_1 | extra |
		      (packed ? CVMM_VIRTIO_F_RING_PACKED : 0);

	o = (struct cvmm_virtq_driver_opts){
		.sz = sizeof(o), .mem = f->mem, .size = size, .features = f->features,
		.desc_gpa = FX_DESC, .avail_gpa = FX_AVAIL, .used_gpa = FX_USED,
		.indirect_gpa = FX_IND, .indirect_max = FX_IND_MAX,
	};
	ck_assert_int_eq(cvmm_virtq_driver_create(&o, &f->drv), 0);

	ck_assert_int_eq(cvmm_virtq_init(&f->q, f->mem, 256), 0);
	cvmm_virtq_set_size(&f->q, size);
	cvmm_virtq_set_addrs(&f->q, FX_DESC, FX_AVAIL, FX_USED);
	cvmm_virtq_set_features(&f->q, f->features);
	ck_assert_int_eq(cvmm_virtq_activate(&f->q), 0);
	ck_assert(cvmm_virtq_active(&f->q));
	ck_assert(!cvmm_virtq_broken(&f->q));
}

void fx_teardown(struct fx *f)
{
	cvmm_virtq_fini(&f->q);
	cvmm_virtq_driver_destroy(f->drv);
	cvmm_guest_mem_destroy(f->mem);
}

uint8_t *fx_host(struct fx *f, uint64_t gpa)
{
	uint64_t len = 1;
	uint8_t *p = cvmm_guest_mem_translate(f->mem, gpa, &len);

	ck_assert_ptr_nonnull(p);
	return p;
}

void fx_split_desc(struct fx *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		   uint32_t len, uint16_t flags, uint16_t next)
{
	struct cvmm_virtq_raw_desc rd = { .addr = addr, .len = len, .a = flags, .b = next };

	ck_assert_int_eq(cvmm_guest_mem_write(f->mem, table_gpa + 16ull * i, &rd, sizeof(rd)), 0);
}

void fx_split_avail(struct fx *f, uint16_t idx, uint16_t head)
{
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f->mem,
		FX_AVAIL + 4 + 2ull * (idx & (f->size - 1)), head), 0);
	ck_assert_int_eq(cvmm_guest_mem_write_u16(f->mem, FX_AVAIL + 2, (uint16_t)(idx + 1)), 0);
}

void fx_packed_desc(struct fx *f, uint16_t slot, uint64_t addr, uint32_t len,
		    uint16_t id, uint16_t flags, int wrap)
{
	struct cvmm_virtq_raw_desc rd = { .addr = addr, .len = len, .a = id };

	rd.b = flags | (wrap ? CVMM_VIRTQ_DESC_F_AVAIL : CVMM_VIRTQ_DESC_F_USED);
	ck_assert_int_eq(cvmm_guest_mem_write(f->mem, FX_DESC + 16ull * slot, &rd, sizeof(rd)), 0);
}

void fx_packed_ind(struct fx *f, uint64_t table_gpa, uint16_t i, uint64_t addr,
		   uint32_t len, uint16_t flags)
{
	struct cvmm_virtq_raw_desc rd = { .addr = addr, .len = len, .a = 0, .b = flags };

	ck_assert_int_eq(cvmm_guest_mem_write(f->mem, table_gpa + 16ull * i, &rd, sizeof(rd)), 0);
}

void fx_add1(struct fx *f, uint64_t gpa, uint32_t len, bool writable, uint64_t token)
{
	struct cvmm_virtq_buf b = { .gpa = gpa, .len = len };
	int r = cvmm_virtq_driver_add(f->drv, writable ? NULL : &b, writable ? 0 : 1,
				      writable ? &b : NULL, writable ? 1 : 0, false, token);

	/* Not ck_assert: in fork mode every passing ck_assert costs a write to
	 * the parent, and hot loops call this tens of thousands of times. */
	if (r != 0)
		ck_abort_msg("driver_add(token %llu) = %d", (unsigned long long)token, r);
}

void fx_assert_broken(struct fx *f, int err)
{
	struct cvmm_virtq_chain c;

	ck_assert(cvmm_virtq_broken(&f->q));
	ck_assert_int_eq(cvmm_virtq_error(&f->q), err);
	ck_assert_int_eq(cvmm_virtq_pop(&f->q, &c), err);
	ck_assert_int_eq(cvmm_virtq_pop(&f->q, &c), err);
	ck_assert_int_eq(cvmm_virtq_push_id(&f->q, 0, 1, 0), err);
	ck_assert_int_eq(cvmm_virtq_enable_notification(&f->q), err);
	ck_assert(!cvmm_virtq_needs_notification(&f->q));
	/* reset brings the queue back (the driver re-initialises it) */
}
