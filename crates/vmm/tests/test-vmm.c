/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM core's pieces on their own: buses (including changes while other
 * threads dispatch), the allocator (exhaustion, alignment, fixed claims),
 * the device table (ids, clashes, ownership) and the lifecycle's refusals.
 * Guest-driven pause/resume lives in tests/integration/test-vmm-pause.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/linux-loader.h>
#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>

#include "cvmm-test.h"
#include "internal.h"

/* ---- buses ---------------------------------------------------------------- */

struct hits {
	_Atomic unsigned int n;
	uint64_t last_off;
	uint32_t last_len;
};

static void count_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct hits *h = opaque;

	if (!is_write)
		memset(data, 0x5a, len);
	h->last_off = off;
	h->last_len = len;
	atomic_fetch_add(&h->n, 1);
}

static struct bus_domain dom;
static struct bus bus;

static void bus_setup(void)
{
	ck_assert_int_eq(cvmm_vi_bus_domain_init(&dom), 0);
	ck_assert_int_eq(cvmm_vi_bus_init(&bus, &dom), 0);
}

static void bus_teardown(void)
{
	cvmm_vi_bus_fini(&bus);
	cvmm_vi_bus_domain_fini(&dom);
}

START_TEST(bus_basic)
{
	struct hits a = { 0 }, b = { 0 };
	uint8_t d[8];

	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x100, 0x10, count_io, &a, "a"), 0);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x20, 0x10, count_io, &b, "b"), 0);
	/* Overlaps at either end, inside, around. */
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0xf8, 0x10, count_io, &b, "x"), -EEXIST);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x10f, 1, count_io, &b, "x"), -EEXIST);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x104, 2, count_io, &b, "x"), -EEXIST);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x0, 0x1000, count_io, &b, "x"), -EEXIST);
	/* Empty, wrapping, no handler. */
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x300, 0, count_io, &b, "x"), -EINVAL);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, UINT64_MAX, 2, count_io, &b, "x"), -EINVAL);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x300, 1, NULL, &b, "x"), -EINVAL);

	ck_assert(cvmm_vi_bus_dispatch(&bus, 0, 0x104, d, 4, false));
	ck_assert_uint_eq(a.n, 1);
	ck_assert_uint_eq(a.last_off, 4);
	ck_assert_uint_eq(d[0], 0x5a);
	/* Straddling the end: the device sees the part inside, the rest reads ones. */
	ck_assert(cvmm_vi_bus_dispatch(&bus, 0, 0x10e, d, 8, false));
	ck_assert_uint_eq(a.last_len, 2);
	ck_assert_uint_eq(d[1], 0x5a);
	ck_assert_uint_eq(d[2], 0xff);
	/* Unclaimed: all ones, nobody called. */
	memset(d, 0, sizeof(d));
	ck_assert(!cvmm_vi_bus_dispatch(&bus, 0, 0x50, d, 4, false));
	ck_assert_uint_eq(d[3], 0xff);
	ck_assert(cvmm_vi_bus_dispatch(&bus, BUS_READERS - 1, 0x2f, d, 1, true));
	ck_assert_uint_eq(b.n, 1);

	ck_assert_int_eq(cvmm_vi_bus_remove(&bus, 0x104), -ENOENT);
	ck_assert_int_eq(cvmm_vi_bus_remove(&bus, 0x100), 0);
	ck_assert(!cvmm_vi_bus_dispatch(&bus, 0, 0x104, d, 4, false));
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x100, 0x10, count_io, &a, "a"), 0);
}
END_TEST

START_TEST(bus_full)
{
	struct hits a = { 0 };

	for (unsigned int i = 0; i < CVMM_VMM_BUS_MAX; i++)
		ck_assert_int_eq(cvmm_vi_bus_add(&bus, i * 16ull, 16, count_io, &a, "a"), 0);
	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x100000, 16, count_io, &a, "a"), -ENOSPC);
	for (unsigned int i = 0; i < CVMM_VMM_BUS_MAX; i++) {
		uint8_t d = 0;

		ck_assert(cvmm_vi_bus_dispatch(&bus, 1, i * 16ull + 15, &d, 1, false));
	}
	ck_assert_uint_eq(a.n, CVMM_VMM_BUS_MAX);
}
END_TEST

/* Readers on four "vCPU" slots dispatch without pause while the writer adds
 * and removes ranges: every access to the fixed range lands, none to a
 * range after its removal returned, and the sanitizer build sees no freed
 * table read. */
struct reader_arg {
	unsigned int slot;
	_Atomic bool *stop;
	unsigned long hits;
};

static void *reader(void *p)
{
	struct reader_arg *r = p;
	uint8_t d[4];

	while (!atomic_load(r->stop)) {
		if (cvmm_vi_bus_dispatch(&bus, r->slot, 0x10, d, 4, false))
			r->hits++;
		(void)cvmm_vi_bus_dispatch(&bus, r->slot, 0x1000, d, 4, true);
	}
	return NULL;
}

static _Atomic int removed_hits;
static _Atomic bool removed_gone;

static void removed_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)data, (void)len, (void)is_write;
	/* Called after bus_remove() returned: the grace period failed. */
	if (atomic_load(&removed_gone))
		atomic_fetch_add(&removed_hits, 1);
}

START_TEST(bus_swap_under_readers)
{
	struct hits fixed = { 0 };
	_Atomic bool stop = false;
	struct reader_arg ra[4];
	pthread_t th[4];

	ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x10, 4, count_io, &fixed, "fixed"), 0);
	for (unsigned int i = 0; i < 4; i++) {
		ra[i] = (struct reader_arg){ .slot = i, .stop = &stop };
		ck_assert_int_eq(pthread_create(&th[i], NULL, reader, &ra[i]), 0);
	}
	for (unsigned int round = 0; round < 2000; round++) {
		atomic_store(&removed_gone, false);
		ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x1000, 4, removed_io, NULL, "hot"), 0);
		ck_assert_int_eq(cvmm_vi_bus_add(&bus, 0x2000 + round * 4ull, 4, count_io, &fixed,
						 "grow"), 0);
		ck_assert_int_eq(cvmm_vi_bus_remove(&bus, 0x1000), 0);
		atomic_store(&removed_gone, true);
		ck_assert_int_eq(cvmm_vi_bus_remove(&bus, 0x2000 + round * 4ull), 0);
	}
	atomic_store(&stop, true);
	for (unsigned int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ck_assert_uint_gt(ra[i].hits, 0);
	}
	ck_assert_int_eq(atomic_load(&removed_hits), 0);
	ck_assert_uint_eq(atomic_load(&fixed.n), ra[0].hits + ra[1].hits + ra[2].hits + ra[3].hits);
}
END_TEST

/* ---- a VM for the allocator, device table and lifecycle ------------------ */

static struct cvmm_vmm *vm;
static unsigned int events[16];
static char last_id[CVMM_VMM_ID_MAX];

static void on_event(void *opaque, const struct cvmm_vmm_event *ev)
{
	(void)opaque;
	if ((unsigned int)ev->type < 16)
		events[ev->type]++;
	if (ev->id)
		snprintf(last_id, sizeof(last_id), "%s", ev->id);
}

static void vm_setup(void)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1,
				   .event = on_event };
	char err[256];

	memset(events, 0, sizeof(events));
	ck_assert_msg(cvmm_vmm_create(&o, &vm, err, sizeof(err)) == 0, "%s", err);
}

static void vm_teardown(void)
{
	cvmm_vmm_destroy(vm);
	vm = NULL;
}

START_TEST(create_refuses)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 0 };
	struct cvmm_vmm *v = NULL;
	char err[256];

	ck_assert_int_eq(cvmm_vmm_create(&o, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "cpus"));
	o.ncpus = CVMM_VMM_MAX_VCPUS + 1;
	ck_assert_int_eq(cvmm_vmm_create(&o, &v, err, sizeof(err)), -EINVAL);
	o.ncpus = 1;
	o.mem_size = 12345;
	ck_assert_int_eq(cvmm_vmm_create(&o, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "memory"));
	o.sz = 8;
	ck_assert_int_eq(cvmm_vmm_create(&o, &v, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(v);
}
END_TEST

START_TEST(alloc_gsi_exhaustion)
{
	uint64_t g, seen = 0;
	unsigned int n = 0;

	/* 5..23 minus the RTC's 8: 18 lines, then nothing. */
	while (cvmm_vmm_alloc(vm, CVMM_VMM_RES_GSI, 1, 0, "dev", &g) == 0) {
		ck_assert(g >= 5 && g < 24 && g != 8);
		ck_assert(!(seen & (1ull << g)));
		seen |= 1ull << g;
		n++;
	}
	ck_assert_uint_eq(n, 18);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_GSI, 1, 0, "dev", &g), -ENOSPC);
	ck_assert_int_eq(cvmm_vmm_alloc_free_owner(vm, "dev"), 18);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_GSI, 1, 0, "dev", &g), 0);
	ck_assert_uint_eq(g, 5);
}
END_TEST

START_TEST(alloc_mmio_align_and_claims)
{
	struct cvmm_vmm_resource r[8];
	uint64_t a, b, c;

	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 0x200, 0x1000, "_disk0", &a), 0);
	ck_assert_uint_eq(a, 0xd0000000ull);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 0x200, 0x1000, "_net1", &b), 0);
	ck_assert_uint_eq(b, 0xd0001000ull);
	/* Exact claims: taken, overlapping, outside the pool, then a fit. */
	ck_assert_int_eq(cvmm_vmm_alloc_at(vm, CVMM_VMM_RES_MMIO32, b + 0x100, 0x10, "x"), -EBUSY);
	ck_assert_int_eq(cvmm_vmm_alloc_at(vm, CVMM_VMM_RES_MMIO32, 0x1000, 0x10, "x"), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_alloc_at(vm, CVMM_VMM_RES_MMIO32, 0xfec00000ull, 1, "x"), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_alloc_at(vm, CVMM_VMM_RES_MMIO32, 0xfebff000ull, 0x1000, "x"), 0);
	ck_assert_int_eq(cvmm_vmm_alloc_at(vm, CVMM_VMM_RES_MMIO32, 0xfebff000ull, 0x1000, "y"),
			 -EBUSY);
	/* Bad alignment, zero size, too big. */
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 0x10, 3, "x", &c), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 0, 0, "x", &c), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 1ull << 33, 0, "x", &c), -ENOSPC);
	/* A hole left by a freed owner is reused. */
	ck_assert_int_eq(cvmm_vmm_alloc_free_owner(vm, "_disk0"), 1);
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO32, 0x1000, 0x1000, "_disk2", &c), 0);
	ck_assert_uint_eq(c, a);
	/* The 64-bit pool starts above RAM, GiB aligned. */
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_MMIO64, 1 << 20, 1 << 20, "p", &c), 0);
	ck_assert_uint_ge(c, 1ull << 30);
	ck_assert_int_eq(cvmm_vmm_alloc_list(vm, r, 8), 5);
	ck_assert_uint_eq(r[0].kind, CVMM_VMM_RES_MMIO32);
	ck_assert_str_eq(r[0].owner, "_disk2");
	ck_assert_int_eq(cvmm_vmm_alloc_list(vm, NULL, 1), -EINVAL);
}
END_TEST

/*
 * The 64-bit pool starts above RAM and never below 4 GiB: with 2.5 GiB of
 * RAM it began at 3 GiB, inside the 32-bit hole, and `--memory 2560M
 * --pci` failed ("pci: bus: File exists": its window met ECAM's).
 */
START_TEST(alloc_mmio64_above_4g)
{
	const uint64_t ram_end[][2] = {
		{ 256ull << 20, 1ull << 32 }, { 0xa0000000ull, 1ull << 32 },
		{ 0xc0000000ull, 1ull << 32 }, { 0x140000000ull, 0x140000000ull },
		{ 0x140000001ull, 0x180000000ull },
	};

	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(ram_end); i++) {
		struct allocator al;

		cvmm_vi_alloc_init(&al, ram_end[i][0]);
		ck_assert_uint_eq(al.pool[CVMM_VMM_RES_MMIO64].start, ram_end[i][1]);
		cvmm_vi_alloc_fini(&al);
	}
}
END_TEST

/* A 2.5 GiB VM takes a PCI segment; its windows and ECAM do not meet. */
START_TEST(pci_with_2g5_ram)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 0xa0000000ull, .ncpus = 1 };
	struct cvmm_vmm_pci_info pi;
	struct cvmm_vmm *v;
	char err[256];

	ck_assert_msg(cvmm_vmm_create(&o, &v, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(cvmm_vmm_pci_add(v, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(v, &pi), 0);
	ck_assert_uint_ge(pi.mmio64_base, 1ull << 32);
	ck_assert_uint_lt(pi.mmio32_base + pi.mmio32_size, 1ull << 32);
	cvmm_vmm_destroy(v);
}
END_TEST

static bool overlaps(const struct cvmm_mem_range *r, uint64_t base, uint64_t len)
{
	return r->addr < base + len && base < r->addr + r->size;
}

/*
 * The memory map's reserved ranges: the BIOS area, ECAM (with PCI) and the
 * APIC pages, never a BAR window. Linux clips E820-reserved ranges out of
 * a host bridge's windows; with the whole 32-bit hole reserved it found no
 * room for a 32-bit BAR once the 64-bit window lay above 4 GiB.
 */
START_TEST(boot_reserved_ranges)
{
	struct cvmm_mem_range r[CVMM_VI_BOOT_RESERVED_MAX];
	struct cvmm_vmm_pci_info pi;
	char err[256];
	unsigned int n;
	bool ecam = false, apic = false;

	n = cvmm_vi_boot_reserved(vm, r);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(r[0].addr, 0x9fc00);
	ck_assert_msg(cvmm_vmm_pci_add(vm, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(cvmm_vmm_pci_info(vm, &pi), 0);
	n = cvmm_vi_boot_reserved(vm, r);
	ck_assert_uint_eq(n, 3);
	for (unsigned int i = 0; i < n; i++) {
		ck_assert_uint_eq(r[i].type, CVMM_E820_RESERVED);
		ck_assert_msg(!overlaps(&r[i], pi.mmio32_base, pi.mmio32_size),
			      "reserved [%#llx, +%#llx) covers the 32-bit BAR window",
			      (unsigned long long)r[i].addr, (unsigned long long)r[i].size);
		ck_assert(!overlaps(&r[i], pi.mmio64_base, pi.mmio64_size));
		if (r[i].addr <= pi.ecam_base && pi.ecam_base + (1 << 20) <= r[i].addr + r[i].size)
			ecam = true;
		if (r[i].addr <= CVMM_VMM_IOAPIC_ADDR &&
		    CVMM_VMM_LAPIC_ADDR + 0x1000 <= r[i].addr + r[i].size)
			apic = true;
	}
	ck_assert(ecam && apic);
}
END_TEST

static unsigned int destroyed, paused, resumed;
static void toy_destroy(void *d) { (void)d; destroyed++; }
static int toy_pause(void *d) { (void)d; paused++; return 0; }
static int toy_resume(void *d) { (void)d; resumed++; return 0; }
static const struct cvmm_vmm_device_ops toy_ops = {
	.pause = toy_pause, .resume = toy_resume, .destroy = toy_destroy,
};
static const struct cvmm_vmm_device_ops no_destroy_ops = { .pause = toy_pause };

START_TEST(device_table)
{
	struct cvmm_vmm_device_info info[8];
	char id[CVMM_VMM_ID_MAX];
	char longid[80];
	int toy[4];
	uint64_t g;

	destroyed = paused = resumed = 0;
	ck_assert_int_eq(cvmm_vmm_device_add(vm, NULL, "_disk", "virtio-blk", &toy_ops, &toy[0], id), 0);
	ck_assert_str_eq(id, "_disk0");
	ck_assert_str_eq(last_id, "_disk0");
	ck_assert_uint_eq(events[CVMM_VMM_EV_DEVICE_ADDED], 1);
	/* Joins paused: the VM is not running yet. */
	ck_assert_uint_eq(paused, 1);
	ck_assert_int_eq(cvmm_vmm_device_add(vm, "_net1", NULL, "virtio-net", &toy_ops, &toy[1], id), 0);
	/* The counter skips the id the user took. */
	ck_assert_int_eq(cvmm_vmm_device_add(vm, NULL, "_net", "virtio-net", &toy_ops, &toy[2], id), 0);
	ck_assert_str_eq(id, "_net2");
	ck_assert_int_eq(cvmm_vmm_device_add(vm, "_disk0", NULL, "virtio-blk", &toy_ops, &toy[3], id),
			 -EEXIST);
	ck_assert_int_eq(cvmm_vmm_device_add(vm, "bad id", NULL, "x", &toy_ops, &toy[3], id), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_device_add(vm, "", NULL, "x", &toy_ops, &toy[3], id), -EINVAL);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = 0;
	ck_assert_int_eq(cvmm_vmm_device_add(vm, longid, NULL, "x", &toy_ops, &toy[3], id), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_device_add(vm, NULL, longid, "x", &toy_ops, &toy[3], id),
			 -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_vmm_device_add(vm, "ok", NULL, "x", &no_destroy_ops, &toy[3], id),
			 -EINVAL);
	ck_assert_uint_eq(destroyed, 0);

	ck_assert_int_eq(cvmm_vmm_device_list(vm, info, 8), 3);
	ck_assert_str_eq(info[0].id, "_disk0");
	ck_assert_str_eq(info[2].id, "_net2");
	ck_assert_ptr_eq(cvmm_vmm_device_find(vm, "_net1"), &toy[1]);
	ck_assert_ptr_null(cvmm_vmm_device_find(vm, "_net9"));

	/* Removal frees the device's resources and destroys it. */
	ck_assert_int_eq(cvmm_vmm_alloc(vm, CVMM_VMM_RES_GSI, 1, 0, "_net1", &g), 0);
	ck_assert_int_eq(cvmm_vmm_device_remove(vm, "_net1"), 0);
	ck_assert_uint_eq(destroyed, 1);
	ck_assert_int_eq(cvmm_vmm_alloc_list(vm, NULL, 0), 1); /* __rtc */
	ck_assert_int_eq(cvmm_vmm_device_remove(vm, "_net1"), -ENOENT);
	ck_assert_uint_eq(events[CVMM_VMM_EV_DEVICE_REMOVED], 1);
	/* The rest go with the VM. */
	cvmm_vmm_destroy(vm);
	vm = NULL;
	ck_assert_uint_eq(destroyed, 3);
}
END_TEST

START_TEST(lifecycle_refusals)
{
	ck_assert_int_eq(cvmm_vmm_state(vm), CVMM_VMM_CREATED);
	ck_assert_str_eq(cvmm_vmm_state_name(cvmm_vmm_state(vm)), "Created");
	ck_assert_int_eq(cvmm_vmm_pause(vm), -EBUSY);
	ck_assert_int_eq(cvmm_vmm_resume(vm), -EBUSY);
	ck_assert_int_eq(cvmm_vmm_vcpu_call(vm, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(cvmm_vmm_stop_reason(vm, NULL), CVMM_VMM_STOP_NONE);
	/* A stop before the loop runs ends the loop at once. */
	cvmm_vmm_request_stop(vm, CVMM_VMM_STOP_REQUEST, 7);
	cvmm_vmm_request_stop(vm, CVMM_VMM_STOP_CRASH, 2); /* the first wins */
	ck_assert_int_eq(cvmm_vmm_run(vm), 0);
	{
		int code;

		ck_assert_int_eq(cvmm_vmm_stop_reason(vm, &code), CVMM_VMM_STOP_REQUEST);
		ck_assert_int_eq(code, 7);
	}
	ck_assert_int_eq(cvmm_vmm_state(vm), CVMM_VMM_SHUTDOWN);
	ck_assert_uint_eq(events[CVMM_VMM_EV_SHUTDOWN], 1);
	ck_assert_int_eq(cvmm_vmm_start(vm), -EBUSY);
}
END_TEST

/* Memory added and removed with the VM not running: map and KVM slot
 * change together; the boot RAM cannot be removed twice. */
START_TEST(memory_add_remove)
{
	struct cvmm_mem_region_opts o = { .sz = sizeof(o), .gpa = 0x200000000ull,
					  .size = 2 << 20, .backing = CVMM_MEM_ANON, .fd = -1 };
	struct kvm_userspace_memory_region kr;
	unsigned int n = cvmm_guest_mem_num_regions(cvmm_vmm_mem(vm));

	ck_assert_int_eq(cvmm_vmm_memory_add(vm, &o), 0);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(cvmm_vmm_mem(vm)), n + 1);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(cvmm_vmm_kvm_vm(vm), o.gpa + 4096, &kr), 0);
	ck_assert_uint_eq(kr.memory_size, o.size);
	ck_assert_int_eq(cvmm_vmm_memory_add(vm, &o), -EEXIST);
	ck_assert_int_eq(cvmm_vmm_memory_remove(vm, o.gpa + 4096), -ENOENT);
	ck_assert_int_eq(cvmm_vmm_memory_remove(vm, o.gpa), 0);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(cvmm_vmm_kvm_vm(vm), o.gpa + 4096, &kr), -ENOENT);
	ck_assert_uint_eq(cvmm_guest_mem_num_regions(cvmm_vmm_mem(vm)), n);
	ck_assert_int_eq(cvmm_vmm_memory_remove(vm, o.gpa), -ENOENT);
}
END_TEST

static unsigned int rngs_destroyed;
static void rng_destroy(void *p)
{
	cvmm_rng_destroy(p);
	rngs_destroyed++;
}

static int add_rng(const char *id, char out[CVMM_VMM_ID_MAX], char *err, size_t errlen)
{
	struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
	struct cvmm_vmm_virtio_opts o = { .sz = sizeof(o), .id = id, .prefix = "__rng",
					  .kind = "virtio-rng", .destroy = rng_destroy };
	struct cvmm_rng *rng;
	int ret;

	ck_assert_ptr_nonnull(cvmm_vmm_device_loop(vm));
	ck_assert_int_eq(cvmm_rng_create(&ro, &rng), 0);
	o.dev = cvmm_rng_device(rng);
	o.model = rng;
	ret = cvmm_vmm_virtio_mmio_add(vm, &o, out, err, errlen);
	if (ret)
		cvmm_rng_destroy(rng);
	return ret;
}

/* virtio-mmio devices come and go before boot: window, line, bus range
 * and KVM wiring are given back and taken again; clashing ids refused;
 * the interrupt lines run out with a message. */
START_TEST(virtio_add_remove)
{
	struct cvmm_acpi_virtio_mmio list[32];
	char id[CVMM_VMM_ID_MAX], err[256];
	uint8_t magic[4];
	int n = 0;

	int fds = -1;

	rngs_destroyed = 0;
	for (int round = 0; round < 20; round++) {
		/* No fd leaks across add/remove (the device loop's own are made
		 * in round 0). */
		if (round == 1)
			fds = cvmm_test_count_fds();
		if (round > 1)
			ck_assert_int_eq(cvmm_test_count_fds(), fds);
		ck_assert_msg(add_rng(NULL, id, err, sizeof(err)) == 0, "%s", err);
		ck_assert_int_eq(cvmm_vmm_virtio_mmio_list(vm, list, 32), 1);
		ck_assert_uint_eq(list[0].base, 0xd0000000ull);
		ck_assert_uint_eq(list[0].gsi, 5);
		ck_assert(cvmm_vmm_bus_access(vm, CVMM_VMM_MMIO, list[0].base, magic, 4, false));
		ck_assert_int_eq(memcmp(magic, "virt", 4), 0);
		ck_assert_int_eq(cvmm_vmm_device_remove(vm, id), 0);
		ck_assert(!cvmm_vmm_bus_access(vm, CVMM_VMM_MMIO, list[0].base, magic, 4, false));
		ck_assert_int_eq(cvmm_vmm_virtio_mmio_list(vm, list, 32), 0);
	}
	ck_assert_uint_eq(rngs_destroyed, 20);
	ck_assert_int_eq(add_rng("myrng", id, err, sizeof(err)), 0);
	ck_assert_int_eq(add_rng("myrng", id, err, sizeof(err)), -EEXIST);
	ck_assert_ptr_nonnull(strstr(err, "myrng"));
	/* 18 lines for devices (5-23 without the RTC's 8): the 19th fails. */
	while (add_rng(NULL, id, err, sizeof(err)) == 0)
		n++;
	ck_assert_int_eq(n, 17);
	ck_assert_ptr_nonnull(strstr(err, "no interrupt line or MMIO window left"));
	ck_assert_int_eq(cvmm_vmm_virtio_mmio_list(vm, list, 32), 18);
}
END_TEST

/* On a program's loop, the VM's stop is handled there and the loop goes on:
 * an API server keeps answering after the VM it served shut down. */
START_TEST(lifecycle_external_loop)
{
	struct cvmm_event_manager *em;
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = 16 << 20, .ncpus = 1,
				   .event = on_event };
	struct cvmm_vmm *v;
	char err[256];
	int n = 0;

	ck_assert_int_eq(cvmm_event_manager_create(NULL, &em), 0);
	o.em = em;
	ck_assert_msg(cvmm_vmm_create(&o, &v, err, sizeof(err)) == 0, "%s", err);
	ck_assert_ptr_eq(cvmm_vmm_event_manager(v), em);
	cvmm_vmm_request_stop(v, CVMM_VMM_STOP_REQUEST, 9);
	while (cvmm_vmm_state(v) != CVMM_VMM_SHUTDOWN && n++ < 100)
		ck_assert_int_ge(cvmm_event_manager_run_once(em, 100), 0);
	ck_assert_int_eq(cvmm_vmm_state(v), CVMM_VMM_SHUTDOWN);
	ck_assert_uint_eq(events[CVMM_VMM_EV_SHUTDOWN], 1);
	cvmm_vmm_destroy(v);
	/* The loop outlives the VM, with nothing of it left subscribed. */
	ck_assert_int_eq(cvmm_event_manager_run_once(em, 0), 0);
	cvmm_event_manager_destroy(em);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vmm");
	TCase *b = tcase_create("bus"), *v = tcase_create("vm");
	Suite *all[] = { s, NULL };

	cvmm_test_require_kvm();

	tcase_add_checked_fixture(b, bus_setup, bus_teardown);
	tcase_set_timeout(b, 60);
	tcase_add_test(b, bus_basic);
	tcase_add_test(b, bus_full);
	tcase_add_test(b, bus_swap_under_readers);
	suite_add_tcase(s, b);
	tcase_add_checked_fixture(v, vm_setup, vm_teardown);
	tcase_set_timeout(v, 60);
	tcase_add_test(v, create_refuses);
	tcase_add_test(v, alloc_gsi_exhaustion);
	tcase_add_test(v, alloc_mmio_align_and_claims);
	tcase_add_test(v, boot_reserved_ranges);
	tcase_add_test(v, alloc_mmio64_above_4g);
	tcase_add_test(v, pci_with_2g5_ram);
	tcase_add_test(v, device_table);
	tcase_add_test(v, lifecycle_refusals);
	tcase_add_test(v, lifecycle_external_loop);
	tcase_add_test(v, memory_add_remove);
	tcase_add_test(v, virtio_add_remove);
	suite_add_tcase(s, v);
	return cvmm_test_run(all);
}
