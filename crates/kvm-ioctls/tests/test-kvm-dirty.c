/* SPDX-License-Identifier: Apache-2.0 */
/* Dirty tracking against real guest writes: bitmap log, manual protect, dirty ring. */
#include "kvm-test-util.h"
#include "cvmm-test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define LOG_SLOT 1u
#define LOG_GPA 0x400000u       /* right after slot 0 */
#define LOG_SIZE (1u << 20)     /* 256 pages */
#define LOG_PAGES (LOG_SIZE >> 12)

/*
 * loop: mov [rbx], al; add rbx, rdx; dec rcx; jnz loop; out 0x10, al; jmp $
 * Writes rcx pages starting at rbx with stride rdx, at CPL3 (native speed).
 */
static const uint8_t write_loop[] = {
	0x88, 0x03, 0x48, 0x01, 0xd3, 0x48, 0xff, 0xc9, 0x75, 0xf6,
	0xe6, 0x10, 0xeb, 0xfe,
};

struct dvm {
	struct tvm t;
	uint8_t *log_mem;
};

static void dvm_setup(struct dvm *d, uint32_t ring_bytes, uint64_t manual_flags)
{
	struct tvm_opts o = { .mode = TVM_LONG_CPL3, .ring_bytes = ring_bytes };
	struct kvm_userspace_memory_region r;

	tvm_setup(&d->t, &o);
	if (manual_flags)
		ck_assert_int_eq(cvmm_kvm_vm_enable_manual_dirty_protect(d->t.vm, manual_flags), 0);
	d->log_mem = mmap(NULL, LOG_SIZE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(d->log_mem, MAP_FAILED);
	r = (struct kvm_userspace_memory_region){
		.slot = LOG_SLOT, .flags = KVM_MEM_LOG_DIRTY_PAGES,
		.guest_phys_addr = LOG_GPA, .memory_size = LOG_SIZE,
		.userspace_addr = (uintptr_t)d->log_mem,
	};
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(d->t.vm, &r), 0);
}

static void dvm_teardown(struct dvm *d)
{
	tvm_teardown(&d->t);
	munmap(d->log_mem, LOG_SIZE);
}

/* Guest writes @n pages from page @first of the log slot, @stride pages apart. */
static void guest_write(struct dvm *d, uint64_t first, uint64_t n, uint64_t stride)
{
	struct cvmm_kvm_exit x;

	tvm_load(&d->t, write_loop, sizeof(write_loop));
	TVM_SET(d->t.vcpu, rbx, LOG_GPA + (first << 12));
	TVM_SET(d->t.vcpu, rcx, n);
	TVM_SET(d->t.vcpu, rdx, stride << 12);
	x = tvm_run(&d->t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO);
	ck_assert_uint_eq(x.io.port, 0x10);
}

static void expect_bits(const uint64_t *bm, const uint32_t *pages, size_t n)
{
	uint64_t want[LOG_PAGES / 64] = { 0 };

	for (size_t i = 0; i < n; i++)
		want[pages[i] / 64] |= 1ull << (pages[i] % 64);
	for (size_t w = 0; w < LOG_PAGES / 64; w++)
		ck_assert_msg(bm[w] == want[w], "word %zu: got %#llx want %#llx", w,
			      (unsigned long long)bm[w], (unsigned long long)want[w]);
}

static void get_log(struct dvm *d, uint64_t *bm)
{
	memset(bm, 0xa5, LOG_PAGES / 8);
	ck_assert_int_eq(cvmm_kvm_vm_get_dirty_log(d->t.vm, LOG_SLOT, bm, LOG_PAGES / 8), 0);
}

START_TEST(dirty_log_reports_exactly_written_pages)
{
	static const uint32_t even[] = { 0, 2, 4, 6, 8 };
	static const uint32_t odd[] = { 101, 104, 107 };
	uint64_t bm[LOG_PAGES / 64];
	struct dvm d;

	dvm_setup(&d, 0, 0);
	ck_assert_uint_eq(cvmm_kvm_dirty_bitmap_bytes(LOG_SIZE), LOG_PAGES / 8);
	guest_write(&d, 0, 5, 2);
	get_log(&d, bm);
	expect_bits(bm, even, 5);
	/* Without manual protect the log was cleared and pages re-protected. */
	get_log(&d, bm);
	expect_bits(bm, NULL, 0);
	guest_write(&d, 101, 3, 3);
	get_log(&d, bm);
	expect_bits(bm, odd, 3);
	/* The same pages again: they were write-protected, so they show again. */
	guest_write(&d, 0, 5, 2);
	get_log(&d, bm);
	expect_bits(bm, even, 5);
	dvm_teardown(&d);
}
END_TEST

START_TEST(dirty_log_errors)
{
	uint64_t bm[LOG_PAGES / 64];
	struct dvm d;

	dvm_setup(&d, 0, 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_dirty_log(d.t.vm, 7, bm, sizeof(bm)), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_get_dirty_log(d.t.vm, LOG_SLOT, bm, sizeof(bm) - 8), -ENOSPC);
	ck_assert_int_eq(cvmm_kvm_vm_get_dirty_log(d.t.vm, LOG_SLOT, NULL, sizeof(bm)), -ENOSPC);
	/* Slot 0 does not log. */
	ck_assert_int_eq(cvmm_kvm_vm_get_dirty_log(d.t.vm, 0, bm, sizeof(bm)), -EINVAL);
	/* Clearing needs manual protect: the kernel refuses. */
	bm[0] = 1;
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, 0, 64, bm), -EINVAL);
	/* Flags the kernel does not offer, or without the enable bit. */
	ck_assert_int_eq(cvmm_kvm_vm_enable_manual_dirty_protect(d.t.vm, 1ull << 40), -EOPNOTSUPP);
	ck_assert_int_eq(cvmm_kvm_vm_enable_manual_dirty_protect(d.t.vm, KVM_DIRTY_LOG_INITIALLY_SET), -EINVAL);
	dvm_teardown(&d);
}
END_TEST

START_TEST(manual_protect_and_clear)
{
	static const uint32_t even[] = { 0, 2, 4, 6, 8 };
	static const uint32_t rest[] = { 4, 6, 8 };
	static const uint32_t rest0[] = { 0, 4, 6, 8 };
	static const uint32_t far[] = { 0, 130 };
	uint64_t bm[LOG_PAGES / 64], clr[LOG_PAGES / 64] = { 0 };
	struct dvm d;

	if (cvmm_test_have_kvm()) {
		struct cvmm_kvm *k;

		ck_assert_int_eq(cvmm_kvm_create(NULL, &k), 0);
		if (cvmm_kvm_check_extension(k, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) <= 0) {
			printf("# SKIP manual dirty-log protect: KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 not offered\n");
			cvmm_kvm_destroy(k);
			return;
		}
		cvmm_kvm_destroy(k);
	}
	dvm_setup(&d, 0, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE);
	guest_write(&d, 0, 5, 2);
	get_log(&d, bm);
	expect_bits(bm, even, 5);
	/* Manual mode: reading does not clear. */
	get_log(&d, bm);
	expect_bits(bm, even, 5);
	/* Clear pages 0 and 2 only. */
	clr[0] = 0x5;
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, 0, 64, clr), 0);
	get_log(&d, bm);
	expect_bits(bm, rest, 3);
	/* Page 0 is protected again: a new write shows; page 4 was never cleared. */
	guest_write(&d, 0, 1, 1);
	get_log(&d, bm);
	expect_bits(bm, rest0, 4);
	/* Alignment and range rules. */
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, 1, 64, clr), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, 0, 63, clr), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, 192, 128, clr), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, LOG_SLOT, LOG_PAGES, 64, clr), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log(d.t.vm, 9, 0, 64, clr), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log_chunked(d.t.vm, LOG_SLOT, bm, sizeof(bm), 100), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log_chunked(d.t.vm, LOG_SLOT, bm, 8, 64), -ENOSPC);
	/* Clear everything in 64-page chunks: only the one chunk with bits is sent. */
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log_chunked(d.t.vm, LOG_SLOT, bm, sizeof(bm), 64), 1);
	get_log(&d, bm);
	expect_bits(bm, NULL, 0);
	/* Two chunks dirty, two calls; and every cleared page is protected again. */
	guest_write(&d, 0, 2, 130);
	get_log(&d, bm);
	expect_bits(bm, far, 2);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log_chunked(d.t.vm, LOG_SLOT, bm, sizeof(bm), 64), 2);
	get_log(&d, bm);
	expect_bits(bm, NULL, 0);
	guest_write(&d, 0, 5, 2);
	get_log(&d, bm);
	expect_bits(bm, even, 5);
	dvm_teardown(&d);
}
END_TEST

START_TEST(manual_protect_initially_set)
{
	uint64_t bm[LOG_PAGES / 64];
	struct dvm d;
	struct cvmm_kvm *k;
	int offered;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &k), 0);
	offered = cvmm_kvm_check_extension(k, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
	cvmm_kvm_destroy(k);
	if (!(offered & KVM_DIRTY_LOG_INITIALLY_SET)) {
		printf("# SKIP KVM_DIRTY_LOG_INITIALLY_SET not offered\n");
		return;
	}
	dvm_setup(&d, 0, KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE | KVM_DIRTY_LOG_INITIALLY_SET);
	get_log(&d, bm);
	for (size_t w = 0; w < LOG_PAGES / 64; w++)
		ck_assert_uint_eq(bm[w], UINT64_MAX);
	ck_assert_int_eq(cvmm_kvm_vm_clear_dirty_log_chunked(d.t.vm, LOG_SLOT, bm, sizeof(bm), 0), 1);
	get_log(&d, bm);
	expect_bits(bm, NULL, 0);
	dvm_teardown(&d);
}
END_TEST

/* --- dirty ring ------------------------------------------------------------ */

static bool ring_supported(void)
{
	struct cvmm_kvm *k;
	bool ok;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &k), 0);
	ok = cvmm_kvm_check_extension(k, KVM_CAP_DIRTY_LOG_RING_ACQ_REL) > 0 ||
	     cvmm_kvm_check_extension(k, KVM_CAP_DIRTY_LOG_RING) > 0;
	cvmm_kvm_destroy(k);
	if (!ok)
		printf("# SKIP dirty ring: KVM_CAP_DIRTY_LOG_RING not offered\n");
	return ok;
}

static void expect_entries(const struct cvmm_kvm_dirty_entry *e, int n,
			   const uint32_t *pages, size_t want)
{
	bool seen[LOG_PAGES] = { false };

	ck_assert_int_eq(n, (int)want);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(e[i].slot, LOG_SLOT);
		ck_assert_uint_lt(e[i].offset, LOG_PAGES);
		ck_assert(!seen[e[i].offset]);
		seen[e[i].offset] = true;
	}
	for (size_t i = 0; i < want; i++)
		ck_assert(seen[pages[i]]);
}

START_TEST(dirty_ring_harvest_and_reset)
{
	static const uint32_t even[] = { 0, 2, 4, 6, 8 };
	struct cvmm_kvm_dirty_entry e[64];
	struct dvm d;
	int n;

	if (!ring_supported())
		return;
	dvm_setup(&d, 65536, 0);
	ck_assert_uint_eq(cvmm_kvm_vm_dirty_ring_bytes(d.t.vm), 65536);
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, 64), 0);
	guest_write(&d, 0, 5, 2);
	n = cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, 64);
	expect_entries(e, n, even, 5);
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, 64), 0);
	/* Harvested but not reset: the pages stay writable, nothing new. */
	guest_write(&d, 0, 5, 2);
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, 64), 0);
	/* Reset recycles the 5 harvested entries and re-protects their pages. */
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), 5);
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), 0);
	guest_write(&d, 0, 5, 2);
	/* Harvest in two bites: max is honoured and nothing is lost. */
	n = cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, 2);
	ck_assert_int_eq(n, 2);
	n += cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e + 2, 64);
	expect_entries(e, n, even, 5);
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), 5);
	dvm_teardown(&d);
}
END_TEST

struct cb_ctx {
	struct cvmm_kvm_dirty_entry e[64];
	int n, stop_at;
};

static int collect(uint32_t slot, uint64_t offset, void *opaque)
{
	struct cb_ctx *c = opaque;

	if (c->n == c->stop_at)
		return -ECANCELED;
	c->e[c->n].slot = slot;
	c->e[c->n].offset = offset;
	c->n++;
	return 0;
}

START_TEST(dirty_ring_callback_stops_without_losing)
{
	static const uint32_t even[] = { 0, 2, 4, 6, 8 };
	struct cb_ctx c = { .stop_at = 3 };
	struct dvm d;

	if (!ring_supported())
		return;
	dvm_setup(&d, 65536, 0);
	guest_write(&d, 0, 5, 2);
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest_cb(d.t.vcpu, collect, &c), -ECANCELED);
	ck_assert_int_eq(c.n, 3);
	/* Only the 3 consumed entries are reset. */
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), 3);
	c.stop_at = -1;
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest_cb(d.t.vcpu, collect, &c), 2);
	expect_entries(c.e, c.n, even, 5);
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), 2);
	dvm_teardown(&d);
}
END_TEST

START_TEST(dirty_ring_full_exit)
{
	struct cvmm_kvm_dirty_entry e[512];
	bool seen[LOG_PAGES] = { false };
	uint32_t ring = 4096, fulls = 0, distinct = 0;
	struct cvmm_kvm_exit x;
	struct dvm d;

	if (!ring_supported())
		return;
	/* The smallest ring the kernel takes (it reserves some entries). */
	for (;;) {
		struct tvm probe;
		struct tvm_opts o = { .mode = TVM_REAL };
		int r;

		memset(&probe, 0, sizeof(probe));
		ck_assert_int_eq(cvmm_kvm_create(NULL, &probe.kvm), 0);
		ck_assert_int_eq(cvmm_kvm_vm_create(probe.kvm, NULL, &probe.vm), 0);
		r = cvmm_kvm_vm_enable_dirty_ring(probe.vm, ring);
		cvmm_kvm_vm_destroy(probe.vm);
		cvmm_kvm_destroy(probe.kvm);
		(void)o;
		if (r == 0)
			break;
		ck_assert_int_eq(r, -EINVAL);
		ring *= 2;
		ck_assert_uint_le(ring, 65536);
	}
	ck_assert_uint_le(ring / 16, LOG_PAGES); /* else the ring never fills */
	dvm_setup(&d, ring, 0);
	tvm_load(&d.t, write_loop, sizeof(write_loop));
	TVM_SET(d.t.vcpu, rbx, LOG_GPA);
	TVM_SET(d.t.vcpu, rcx, LOG_PAGES);
	TVM_SET(d.t.vcpu, rdx, 4096);
	for (;;) {
		int n;

		x = tvm_run(&d.t);
		n = cvmm_kvm_vcpu_dirty_ring_harvest(d.t.vcpu, e, CVMM_ARRAY_SIZE(e));
		ck_assert_int_ge(n, 0);
		for (int i = 0; i < n; i++) {
			ck_assert_uint_eq(e[i].slot, LOG_SLOT);
			ck_assert_uint_lt(e[i].offset, LOG_PAGES);
			/* A page can repeat: the write that hit the full ring is
			 * retried after the reset re-protected its page. */
			if (!seen[e[i].offset])
				distinct++;
			seen[e[i].offset] = true;
		}
		ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(d.t.vm), n);
		if (x.reason == CVMM_KVM_EXIT_IO)
			break;
		ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_DIRTY_RING_FULL);
		ck_assert_int_gt(n, 0);
		fulls++;
		ck_assert_uint_lt(fulls, 100);
	}
	ck_assert_uint_ge(fulls, 1);
	ck_assert_uint_eq(distinct, LOG_PAGES);
	dvm_teardown(&d);
}
END_TEST

START_TEST(dirty_ring_errors)
{
	struct tvm t;
	struct tvm_opts o = { .mode = TVM_REAL };
	struct cvmm_kvm_dirty_entry e[4];

	if (!ring_supported())
		return;
	memset(&t, 0, sizeof(t));
	ck_assert_int_eq(cvmm_kvm_create(NULL, &t.kvm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create(t.kvm, NULL, &t.vm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_reset_dirty_rings(t.vm), -EOPNOTSUPP);
	ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t.vm, 3 * 4096), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t.vm, 2048), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t.vm, 0), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t.vm, 1u << 31), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t.vm, 0, &t.vcpu), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_dirty_ring_harvest(t.vcpu, e, 4), -EOPNOTSUPP);
	/* Too late: a vCPU exists. */
	ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t.vm, 65536), -EBUSY);
	(void)o;
	cvmm_kvm_vcpu_destroy(t.vcpu);
	cvmm_kvm_vm_destroy(t.vm);
	cvmm_kvm_destroy(t.kvm);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm-dirty");
	TCase *log = tcase_create("log");
	TCase *ring = tcase_create("ring");

	cvmm_test_require_kvm();
	tcase_set_timeout(log, 60);
	tcase_set_timeout(ring, 60);
	tcase_add_test(log, dirty_log_reports_exactly_written_pages);
	tcase_add_test(log, dirty_log_errors);
	tcase_add_test(log, manual_protect_and_clear);
	tcase_add_test(log, manual_protect_initially_set);
	tcase_add_test(ring, dirty_ring_harvest_and_reset);
	tcase_add_test(ring, dirty_ring_callback_stops_without_losing);
	tcase_add_test(ring, dirty_ring_full_exit);
	tcase_add_test(ring, dirty_ring_errors);
	suite_add_tcase(s, log);
	suite_add_tcase(s, ring);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
