/* SPDX-License-Identifier: Apache-2.0 */
/* System and VM wrappers: capabilities, CPUID/MSR lists, memory slots, irqchip, PIT, clock, MSI, routing, devices. */
#include "kvm-test-util.h"
#include "cvmm-test.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static struct cvmm_kvm *kvm;
static struct cvmm_kvm_vm *vm;
static uint8_t *mem;
#define MEM_SIZE (16u << 20)

static void vm_up(void)
{
	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create(kvm, NULL, &vm), 0);
	mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(mem, MAP_FAILED);
}

static void vm_down(void)
{
	cvmm_kvm_vm_destroy(vm);
	cvmm_kvm_destroy(kvm);
	munmap(mem, MEM_SIZE);
	vm = NULL;
	kvm = NULL;
}

static struct kvm_userspace_memory_region region(uint32_t slot, uint64_t gpa,
						 uint64_t size, uint64_t off)
{
	return (struct kvm_userspace_memory_region){
		.slot = slot, .guest_phys_addr = gpa, .memory_size = size,
		.userspace_addr = (uintptr_t)mem + off,
	};
}

/* --- system ---------------------------------------------------------------- */

START_TEST(system_basics)
{
	struct cvmm_kvm_opts o = { .sz = sizeof(o), .path = "/dev/kvm" };
	struct cvmm_kvm *k;

	ck_assert_int_eq(cvmm_kvm_create(&o, &k), 0);
	ck_assert_int_ge(cvmm_kvm_fd(k), 0);
	ck_assert_int_eq(cvmm_kvm_api_version(k), 12);
	ck_assert_int_gt(cvmm_kvm_check_extension(k, KVM_CAP_USER_MEMORY), 0);
	ck_assert_int_gt(cvmm_kvm_check_extension(k, KVM_CAP_NR_MEMSLOTS), 0);
	ck_assert_int_eq(cvmm_kvm_check_extension(k, 0x7fffffff), 0);
	ck_assert_int_ge(cvmm_kvm_vcpu_mmap_size(k), (int)sizeof(struct kvm_run));
	cvmm_kvm_destroy(k);
	cvmm_kvm_destroy(NULL);
}
END_TEST

START_TEST(system_create_errors)
{
	struct cvmm_kvm_opts o = { .sz = sizeof(o), .path = "/nonexistent/kvm" };
	struct cvmm_kvm *k = (void *)1;

	ck_assert_int_eq(cvmm_kvm_create(&o, &k), -ENOENT);
	ck_assert_ptr_null(k);
	o.path = "/dev/null"; /* not KVM: the API-version ioctl fails */
	ck_assert_int_eq(cvmm_kvm_create(&o, &k), -ENOTTY);
	o.sz = 4;
	ck_assert_int_eq(cvmm_kvm_create(&o, &k), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_create(NULL, NULL), -EINVAL);
}
END_TEST

START_TEST(system_cpuid)
{
	struct kvm_cpuid2 *c, *e;
	int n;
	bool leaf0 = false, leaf_ext = false;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	n = cvmm_kvm_get_supported_cpuid(kvm, &c);
	ck_assert_int_gt(n, 1);
	ck_assert_uint_eq(c->nent, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		leaf0 |= c->entries[i].function == 0;
		leaf_ext |= c->entries[i].function == 0x80000001;
	}
	ck_assert(leaf0 && leaf_ext);
	/* Leaf 0 says how many basic leaves there are: a real table. */
	ck_assert_uint_ge(c->entries[0].eax, 1);
	free(c);
	n = cvmm_kvm_get_emulated_cpuid(kvm, &e);
	ck_assert_int_ge(n, 0);
	free(e);
	cvmm_kvm_destroy(kvm);
}
END_TEST

START_TEST(system_msr_lists)
{
	struct kvm_msr_list *l, *f;
	struct kvm_msrs *m;
	bool tsc = false;
	int n;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	n = cvmm_kvm_get_msr_index_list(kvm, &l);
	ck_assert_int_gt(n, 10);
	for (int i = 0; i < n; i++)
		tsc |= l->indices[i] == 0x10; /* IA32_TSC */
	ck_assert(tsc);
	free(l);
	n = cvmm_kvm_get_msr_feature_index_list(kvm, &f);
	if (n == -EOPNOTSUPP) {
		cvmm_kvm_destroy(kvm);
		return;
	}
	ck_assert_int_gt(n, 0);
	m = cvmm_kvm_msrs_alloc((uint32_t)n);
	for (int i = 0; i < n; i++)
		m->entries[i].index = f->indices[i];
	ck_assert_int_ge(cvmm_kvm_get_feature_msrs(kvm, m), 1);
	/* An MSR number no CPU has: nothing read. */
	m->nmsrs = 1;
	m->entries[0].index = 0x4b564dff;
	ck_assert_int_eq(cvmm_kvm_get_feature_msrs(kvm, m), 0);
	free(m);
	free(f);
	ck_assert_ptr_null(cvmm_kvm_msrs_alloc(1u << 30));
	ck_assert_ptr_null(cvmm_kvm_cpuid2_alloc(1u << 30));
	cvmm_kvm_destroy(kvm);
}
END_TEST

/* --- VM and memory slots ---------------------------------------------------- */

START_TEST(vm_create_errors)
{
	struct cvmm_kvm_vm_opts o = { .sz = sizeof(o), .type = 0xff };
	struct cvmm_kvm_vm *v = (void *)1;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create(kvm, &o, &v), -EINVAL);
	ck_assert_ptr_null(v);
	o.sz = 2;
	ck_assert_int_eq(cvmm_kvm_vm_create(kvm, &o, &v), -EINVAL);
	o = (struct cvmm_kvm_vm_opts){ .sz = sizeof(o), .type = 0 };
	ck_assert_int_eq(cvmm_kvm_vm_create(kvm, &o, &v), 0);
	ck_assert_ptr_eq(cvmm_kvm_vm_kvm(v), kvm);
	ck_assert_int_ge(cvmm_kvm_vm_fd(v), 0);
	ck_assert_int_gt(cvmm_kvm_vm_check_extension(v, KVM_CAP_IRQCHIP), 0);
	cvmm_kvm_vm_destroy(v);
	cvmm_kvm_vm_destroy(NULL);
	cvmm_kvm_destroy(kvm);
}
END_TEST

START_TEST(slots_bookkeeping)
{
	struct kvm_userspace_memory_region r, out[8];

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 0), 0);
	r = region(0, 0, 1 << 20, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	r = region(1, 1 << 20, 1 << 20, 1 << 20);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	r = region(3, 8 << 20, 1 << 20, 2 << 20);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 0), 2);
	ck_assert_int_eq(cvmm_kvm_vm_get_slots(vm, out, 8), 3);
	ck_assert_uint_eq(out[0].slot, 0);
	ck_assert_uint_eq(out[1].slot, 1);
	ck_assert_uint_eq(out[2].slot, 3);
	ck_assert_uint_eq(out[2].guest_phys_addr, 8 << 20);
	ck_assert_uint_eq(out[2].userspace_addr, (uintptr_t)mem + (2 << 20));
	/* Fewer than there are: count says how many exist. */
	ck_assert_int_eq(cvmm_kvm_vm_get_slots(vm, out, 1), 3);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, (8 << 20) + 4095, &out[0]), 0);
	ck_assert_uint_eq(out[0].slot, 3);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 4 << 20, &out[0]), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 9 << 20, &out[0]), -ENOENT);
	/* Delete, then the id is free again and the GPA is gone. */
	r = region(1, 0, 0, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 0), 1);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 1 << 20, &out[0]), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -ENOENT);
	/* Flag change on a live slot is allowed: dirty logging on. */
	r = region(0, 0, 1 << 20, 0);
	r.flags = KVM_MEM_LOG_DIRTY_PAGES;
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 0, &out[0]), 0);
	ck_assert_uint_eq(out[0].flags, KVM_MEM_LOG_DIRTY_PAGES);
	/* Resizing a live slot: the kernel refuses, the bookkeeping stays. */
	r = region(0, 0, 2 << 20, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 0, &out[0]), 0);
	ck_assert_uint_eq(out[0].memory_size, 1 << 20);
	r = region(1u << 16, 0, 1 << 20, 4 << 20);
	if (cvmm_kvm_vm_check_extension(vm, KVM_CAP_MULTI_ADDRESS_SPACE) > 1) {
		/* The SMM address space is separate: the same GPA is no overlap. */
		ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
		ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 1), 1);
		ck_assert_int_eq(cvmm_kvm_vm_get_slots(vm, out, 8), 3);
		ck_assert_uint_eq(out[2].slot, 1u << 16);
	} else {
		/* No SMM here: address space 1 does not exist. */
		ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
		ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 1), -EINVAL);
		ck_assert_int_eq(cvmm_kvm_vm_get_slots(vm, out, 8), 2);
	}
	ck_assert_int_eq(cvmm_kvm_vm_find_free_slot(vm, 2), -EINVAL);
	vm_down();
}
END_TEST

START_TEST(slots_errors)
{
	struct kvm_userspace_memory_region r;
	int nr;

	vm_up();
	r = region(0, 1 << 20, 2 << 20, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	/* Overlaps, caught here; the kernel agrees (same errno from the raw ioctl). */
	r = region(1, 2 << 20, 1 << 20, 4 << 20);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EEXIST);
	ck_assert_int_eq(ioctl(cvmm_kvm_vm_fd(vm), KVM_SET_USER_MEMORY_REGION, &r), -1);
	ck_assert_int_eq(errno, EEXIST);
	r = region(1, 0, 1 << 20 | 4096, 4 << 20); /* tail overlaps the head */
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EEXIST);
	r = region(1, 0, 8 << 20, 4 << 20);        /* covers it whole */
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EEXIST);
	r = region(1, 0, 1 << 20, 4 << 20);        /* adjacent: fine */
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), 0);
	/* Bad slot ids. */
	nr = cvmm_kvm_vm_check_extension(vm, KVM_CAP_NR_MEMSLOTS);
	r = region((uint32_t)nr, 16 << 20, 4096, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	r = region(5u << 16, 16 << 20, 4096, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	/* Misaligned address, size or host pointer; unknown flags; wraparound. */
	r = region(2, (16 << 20) + 1, 4096, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	r = region(2, 16 << 20, 4095, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	r = region(2, 16 << 20, 4096, 8);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	r = region(2, 16 << 20, 4096, 0);
	r.flags = 0x80;
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	r = region(2, UINT64_MAX - 4095, 8192, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -EINVAL);
	/* Deleting what does not exist. */
	r = region(9, 0, 0, 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(vm, &r), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_get_slots(vm, NULL, 0), 2);
	vm_down();
}
END_TEST

START_TEST(slots_region2)
{
	struct kvm_userspace_memory_region2 r2 = {
		.slot = 4, .guest_phys_addr = 32 << 20, .memory_size = 1 << 20,
	};
	struct kvm_userspace_memory_region out;

	vm_up();
	r2.userspace_addr = (uintptr_t)mem;
	if (cvmm_kvm_vm_check_extension(vm, KVM_CAP_USER_MEMORY2) <= 0) {
		ck_assert_int_eq(cvmm_kvm_vm_set_memory2(vm, &r2), -EOPNOTSUPP);
		vm_down();
		return;
	}
	ck_assert_int_eq(cvmm_kvm_vm_set_memory2(vm, &r2), 0);
	ck_assert_int_eq(cvmm_kvm_vm_find_slot(vm, 32 << 20, &out), 0);
	ck_assert_uint_eq(out.slot, 4);
	r2.slot = 5;
	ck_assert_int_eq(cvmm_kvm_vm_set_memory2(vm, &r2), -EEXIST);
	r2.flags = 0x100;
	ck_assert_int_eq(cvmm_kvm_vm_set_memory2(vm, &r2), -EINVAL);
	vm_down();
}
END_TEST

/* --- irqchip, PIT, clock, addresses ----------------------------------------- */

START_TEST(irqchip_and_irq_line)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	struct kvm_irqchip io = { .chip_id = KVM_IRQCHIP_IOAPIC };

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_irq_line(vm, 3, true), -ENXIO);
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &chip), -ENXIO);
	ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(vm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(vm), -EEXIST);
	ck_assert_int_eq(cvmm_kvm_vm_irq_line(vm, 3, true), 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &chip), 0);
	ck_assert_uint_eq(chip.chip.pic.irr & 0x8, 0x8);
	ck_assert_int_eq(cvmm_kvm_vm_irq_line(vm, 3, false), 0);
	/* Round trip with a change: mask everything. */
	chip.chip.pic.imr = 0xff;
	ck_assert_int_eq(cvmm_kvm_vm_set_irqchip(vm, &chip), 0);
	memset(&chip.chip, 0, sizeof(chip.chip));
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &chip), 0);
	ck_assert_uint_eq(chip.chip.pic.imr, 0xff);
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &io), 0);
	ck_assert_uint_eq(io.chip.ioapic.base_address, 0xfec00000);
	chip.chip_id = 7;
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(vm, &chip), -EINVAL);
	vm_down();
}
END_TEST

START_TEST(split_irqchip)
{
	struct cvmm_kvm_vcpu *v;
	struct kvm_lapic_state l;

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_enable_split_irqchip(vm, 24), 0);
	ck_assert_int_lt(cvmm_kvm_vm_create_irqchip(vm), 0);
	ck_assert_int_lt(cvmm_kvm_vm_enable_split_irqchip(vm, 24), 0);
	/* The LAPIC is in the kernel, the PIC is not. */
	ck_assert_int_eq(cvmm_kvm_vcpu_create(vm, 0, &v), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_lapic(v, &l), 0);
	{
		struct kvm_irqchip pic = { .chip_id = KVM_IRQCHIP_PIC_MASTER };

		ck_assert_int_lt(cvmm_kvm_vm_get_irqchip(vm, &pic), 0);
	}
	cvmm_kvm_vcpu_destroy(v);
	vm_down();
	/* Too late once a vCPU exists. */
	vm_up();
	ck_assert_int_eq(cvmm_kvm_vcpu_create(vm, 0, &v), 0);
	{
		int r = cvmm_kvm_vm_enable_split_irqchip(vm, 24);

		ck_assert(r == -EEXIST || r == -EINVAL); /* newer kernels: EEXIST */
	}
	cvmm_kvm_vcpu_destroy(v);
	vm_down();
}
END_TEST

START_TEST(pit2)
{
	struct kvm_pit_config cfg = { .flags = 0 };
	struct kvm_pit_state2 st;

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_create_pit2(vm, &cfg), -ENOENT);
	ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(vm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_pit2(vm, &st), -ENXIO);
	ck_assert_int_eq(cvmm_kvm_vm_create_pit2(vm, &cfg), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create_pit2(vm, &cfg), -EEXIST);
	ck_assert_int_eq(cvmm_kvm_vm_get_pit2(vm, &st), 0);
	st.channels[2].count = 0x1234;
	st.channels[2].mode = 2;
	ck_assert_int_eq(cvmm_kvm_vm_set_pit2(vm, &st), 0);
	memset(&st, 0, sizeof(st));
	ck_assert_int_eq(cvmm_kvm_vm_get_pit2(vm, &st), 0);
	ck_assert_uint_eq(st.channels[2].count, 0x1234);
	ck_assert_uint_eq(st.channels[2].mode, 2);
	vm_down();
}
END_TEST

START_TEST(kvmclock)
{
	struct kvm_clock_data c = { 0 }, d = { 0 };

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_get_clock(vm, &c), 0);
	c.clock += 1000000000ull; /* one second ahead */
	c.flags = 0;
	ck_assert_int_eq(cvmm_kvm_vm_set_clock(vm, &c), 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_clock(vm, &d), 0);
	ck_assert_uint_ge(d.clock, c.clock);
	ck_assert_uint_lt(d.clock, c.clock + 10000000000ull);
	c.flags = 0x80000000u;
	ck_assert_int_eq(cvmm_kvm_vm_set_clock(vm, &c), -EINVAL);
	vm_down();
}
END_TEST

START_TEST(tss_and_identity_map)
{
	struct cvmm_kvm_vcpu *v;

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_set_tss_addr(vm, 0xfffbd000), 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_tss_addr(vm, 1ull << 32), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_set_identity_map_addr(vm, 0xfffbc000), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(vm, 0, &v), 0);
	ck_assert_int_eq(cvmm_kvm_vm_set_identity_map_addr(vm, 0xfffbc000), -EINVAL);
	cvmm_kvm_vcpu_destroy(v);
	vm_down();
}
END_TEST

START_TEST(enable_cap_errors)
{
	struct kvm_enable_cap c = { .cap = 0x7ffffff0 };

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_enable_cap(vm, &c), -EINVAL);
	c = (struct kvm_enable_cap){ .cap = KVM_CAP_DIRTY_LOG_RING, .args = { 1ull << 40 } };
	ck_assert_int_eq(cvmm_kvm_vm_enable_cap(vm, &c), -EINVAL);
	ck_assert_uint_eq(cvmm_kvm_vm_dirty_ring_bytes(vm), 0);
	vm_down();
}
END_TEST

/* --- MSI, routing, coalesced MMIO, devices ----------------------------------- */

START_TEST(msi_and_routing)
{
	struct kvm_msi msi = { .address_lo = 0xfee00000, .data = 0x30 };
	struct kvm_irq_routing_entry e[2] = {
		{ .gsi = 5, .type = KVM_IRQ_ROUTING_IRQCHIP,
		  .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = 5 } },
		{ .gsi = 40, .type = KVM_IRQ_ROUTING_MSI,
		  .u.msi = { .address_lo = 0xfee00000, .data = 0x31 } },
	};
	struct cvmm_kvm_vcpu *v;
	struct kvm_irq_routing_entry *many;

	vm_up();
	ck_assert_int_lt(cvmm_kvm_vm_signal_msi(vm, &msi), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(vm), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(vm, 0, &v), 0);
	/* Delivered to APIC 0 (1) or blocked (0): both are answers. */
	ck_assert_int_ge(cvmm_kvm_vm_signal_msi(vm, &msi), 0);
	msi.flags = 0x80;
	ck_assert_int_eq(cvmm_kvm_vm_signal_msi(vm, &msi), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, e, 2), 0);
	e[1].type = 0x99;
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, e, 2), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, NULL, 1), -EINVAL);
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, e, 100000), -EINVAL);
	many = calloc(5000, sizeof(*many));
	for (int i = 0; i < 5000; i++) {
		many[i].gsi = (uint32_t)i;
		many[i].type = KVM_IRQ_ROUTING_MSI;
		many[i].u.msi.address_lo = 0xfee00000;
	}
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, many, 5000), -EINVAL);
	free(many);
	/* Empty table: allowed. */
	ck_assert_int_eq(cvmm_kvm_vm_set_gsi_routing(vm, NULL, 0), 0);
	cvmm_kvm_vcpu_destroy(v);
	vm_down();
}
END_TEST

static struct kvm_coalesced_mmio seen_mmio[8];
static int nseen;
static void on_mmio(const struct kvm_coalesced_mmio *e, void *opaque)
{
	(void)opaque;
	if (nseen < 8)
		seen_mmio[nseen++] = *e;
}

START_TEST(coalesced_mmio_ring)
{
	/* mov [rbx], al; mov [rbx+4], eax; out 0x10, al */
	static const uint8_t code[] = { 0x88, 0x03, 0x89, 0x43, 0x04, 0xe6, 0x10, 0xeb, 0xfe };
	struct tvm_opts o = { .mode = TVM_LONG_CPL3 };
	struct kvm_coalesced_mmio_zone z = { .addr = TVM_MMIO, .size = 4096 };
	struct cvmm_kvm_exit x;
	struct tvm t;

	tvm_setup(&t, &o);
	ck_assert_int_eq(cvmm_kvm_vm_register_coalesced_mmio(t.vm, &z), 0);
	tvm_load(&t, code, sizeof(code));
	TVM_SET(t.vcpu, rbx, TVM_MMIO + 0x10);
	TVM_SET(t.vcpu, rax, 0xcafe77);
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_IO); /* no MMIO exits */
	nseen = 0;
	ck_assert_int_eq(cvmm_kvm_vcpu_coalesced_mmio_drain(t.vcpu, on_mmio, NULL), 2);
	ck_assert_int_eq(nseen, 2);
	ck_assert_uint_eq(seen_mmio[0].phys_addr, TVM_MMIO + 0x10);
	ck_assert_uint_eq(seen_mmio[0].len, 1);
	ck_assert_uint_eq(seen_mmio[0].data[0], 0x77);
	ck_assert_uint_eq(seen_mmio[1].phys_addr, TVM_MMIO + 0x14);
	ck_assert_uint_eq(seen_mmio[1].len, 4);
	ck_assert_int_eq(memcmp(seen_mmio[1].data, "\x77\xfe\xca\x00", 4), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_coalesced_mmio_drain(t.vcpu, on_mmio, NULL), 0);
	/* Unregistered: the write exits again. */
	ck_assert_int_eq(cvmm_kvm_vm_unregister_coalesced_mmio(t.vm, &z), 0);
	tvm_load(&t, code, sizeof(code));
	x = tvm_run(&t);
	ck_assert_int_eq(x.reason, CVMM_KVM_EXIT_MMIO);
	tvm_teardown(&t);
}
END_TEST

START_TEST(device_fds)
{
	struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO, .flags = KVM_CREATE_DEVICE_TEST };
	struct kvm_device_attr a = { .group = KVM_DEV_VFIO_GROUP, .attr = KVM_DEV_VFIO_GROUP_ADD };
	struct kvm_device_attr bad = { .group = 0x7777, .attr = 1 };
	uint64_t val = 0;

	vm_up();
	ck_assert_int_eq(cvmm_kvm_vm_create_device(vm, &cd), 0);
	cd.flags = 0;
	ck_assert_int_eq(cvmm_kvm_vm_create_device(vm, &cd), 0);
	ck_assert_int_ge((int)cd.fd, 0);
	ck_assert_int_eq(cvmm_kvm_device_has_attr((int)cd.fd, &a), 1);
	ck_assert_int_eq(cvmm_kvm_device_has_attr((int)cd.fd, &bad), 0);
	bad.addr = (uintptr_t)&val;
	ck_assert_int_eq(cvmm_kvm_device_set_attr((int)cd.fd, &bad), -ENXIO);
	/* VFIO has no get accessor at all. */
	ck_assert_int_eq(cvmm_kvm_device_get_attr((int)cd.fd, &bad), -EPERM);
	/* Adding a "group" that is not one: the device refuses. */
	a.addr = (uintptr_t)&val;
	ck_assert_int_lt(cvmm_kvm_device_set_attr((int)cd.fd, &a), 0);
	close((int)cd.fd);
	cd = (struct kvm_create_device){ .type = 0xffff };
	ck_assert_int_eq(cvmm_kvm_vm_create_device(vm, &cd), -ENODEV);
	vm_down();
}
END_TEST

START_TEST(xsave_size)
{
	vm_up();
	ck_assert_uint_ge(cvmm_kvm_vm_xsave_size(vm), sizeof(struct kvm_xsave));
	ck_assert_uint_eq(cvmm_kvm_vm_xsave_size(vm) % 64, 0);
	vm_down();
}
END_TEST

/* --- whole-VM state --------------------------------------------------------- */

static struct cvmm_kvm_vm *vm_full(struct cvmm_kvm *k, bool irqchip, bool pit)
{
	struct cvmm_kvm_vm *v;
	struct kvm_pit_config cfg = { .flags = 0 };

	ck_assert_int_eq(cvmm_kvm_vm_create(k, NULL, &v), 0);
	if (irqchip)
		ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(v), 0);
	if (pit)
		ck_assert_int_eq(cvmm_kvm_vm_create_pit2(v, &cfg), 0);
	return v;
}

START_TEST(vm_state_round_trip)
{
	struct cvmm_kvm_vm *a, *b;
	struct cvmm_kvm_vm_state st, back;
	struct cvmm_kvm_state_error why = { { 0 } };
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
	struct kvm_irqchip io = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct kvm_pit_state2 pit;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	a = vm_full(kvm, true, true);
	/* Give every part something a fresh VM would not have. */
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(a, &chip), 0);
	chip.chip.pic.imr = 0xa5;
	chip.chip.pic.elcr = 0x08;
	ck_assert_int_eq(cvmm_kvm_vm_set_irqchip(a, &chip), 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_irqchip(a, &io), 0);
	io.chip.ioapic.redirtbl[5].bits = 0x0000000000010035ull; /* masked, vector 0x35 */
	io.chip.ioapic.ioregsel = 0x1a;
	ck_assert_int_eq(cvmm_kvm_vm_set_irqchip(a, &io), 0);
	ck_assert_int_eq(cvmm_kvm_vm_get_pit2(a, &pit), 0);
	pit.channels[0].count = 0x1234;
	pit.channels[0].mode = 2;
	pit.channels[0].rw_mode = 3;
	ck_assert_int_eq(cvmm_kvm_vm_set_pit2(a, &pit), 0);

	ck_assert_int_eq(cvmm_kvm_vm_state_save(a, &st), 0);
	ck_assert_uint_eq(st.version, CVMM_KVM_VM_STATE_VERSION);
	ck_assert_uint_eq(st.valid, CVMM_KVM_VM_STATE_ALL);
	ck_assert_msg(cvmm_kvm_vm_state_check(&st, &why) == 0, "%s: %s", why.field, why.msg);
	ck_assert_uint_eq(st.pic[0].imr, 0xa5);
	ck_assert_uint_eq(st.pic[1].elcr_mask, 0xde);
	ck_assert_uint_eq(st.ioapic.base_address, CVMM_KVM_IOAPIC_BASE);
	ck_assert_uint_eq(st.clock.flags & KVM_CLOCK_TSC_STABLE, 0);

	b = vm_full(kvm, true, true);
	ck_assert_msg(cvmm_kvm_vm_state_restore(b, &st, 0, &why) == 0, "%s: %s", why.field, why.msg);
	ck_assert_int_eq(cvmm_kvm_vm_state_save(b, &back), 0);
	ck_assert(memcmp(back.pic, st.pic, sizeof(st.pic)) == 0);
	ck_assert(memcmp(&back.ioapic, &st.ioapic, sizeof(st.ioapic)) == 0);
	for (int i = 0; i < 3; i++) {
		ck_assert_uint_eq(back.pit.channels[i].count, st.pit.channels[i].count);
		ck_assert_uint_eq(back.pit.channels[i].mode, st.pit.channels[i].mode);
		ck_assert_uint_eq(back.pit.channels[i].gate, st.pit.channels[i].gate);
	}
	ck_assert_uint_eq(back.pit.channels[0].count, 0x1234);
	/* Without CLOCK_REALTIME the clock continues from the saved value. */
	ck_assert_uint_ge(back.clock.clock, st.clock.clock);
	ck_assert_uint_lt(back.clock.clock, st.clock.clock + 10000000000ull);
	cvmm_kvm_vm_destroy(b);

	/* With it, KVM adds the wall time since the save (only when KVM reported it). */
	if (st.clock.flags & KVM_CLOCK_REALTIME) {
		struct cvmm_kvm_vm_state old = st;

		old.clock.realtime -= 5000000000ull; /* saved "5 s ago" */
		b = vm_full(kvm, true, true);
		ck_assert_int_eq(cvmm_kvm_vm_state_restore(b, &old, CVMM_KVM_VM_RESTORE_CLOCK_REALTIME, &why), 0);
		ck_assert_int_eq(cvmm_kvm_vm_state_save(b, &back), 0);
		ck_assert_uint_ge(back.clock.clock, st.clock.clock + 5000000000ull);
		cvmm_kvm_vm_destroy(b);
	}
	ck_assert_int_eq(cvmm_kvm_vm_state_restore(a, &st, 0x2, &why), -EINVAL);
	cvmm_kvm_vm_destroy(a);
	cvmm_kvm_destroy(kvm);
	kvm = NULL;
}
END_TEST

START_TEST(vm_state_parts_missing)
{
	struct cvmm_kvm_vm *a, *b;
	struct cvmm_kvm_vm_state st, full;
	struct cvmm_kvm_state_error why = { { 0 } };

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	/* No irqchip, no PIT: the clock alone. */
	a = vm_full(kvm, false, false);
	ck_assert_int_eq(cvmm_kvm_vm_state_save(a, &st), 0);
	ck_assert_uint_eq(st.valid, CVMM_KVM_VM_STATE_CLOCK);
	ck_assert_int_eq(cvmm_kvm_vm_state_restore(a, &st, 0, &why), 0);
	/* Irqchip without PIT. */
	b = vm_full(kvm, true, false);
	ck_assert_int_eq(cvmm_kvm_vm_state_save(b, &full), 0);
	ck_assert_uint_eq(full.valid, CVMM_KVM_VM_STATE_PIC | CVMM_KVM_VM_STATE_IOAPIC | CVMM_KVM_VM_STATE_CLOCK);
	/* A state naming parts the VM lacks: refused by part. */
	ck_assert_int_eq(cvmm_kvm_vm_state_restore(a, &full, 0, &why), -ENXIO);
	ck_assert_str_eq(why.field, "pic[0]");
	ck_assert(strstr(why.msg, "no in-kernel irqchip") != NULL);
	cvmm_kvm_vm_destroy(b);
	b = vm_full(kvm, true, true);
	ck_assert_int_eq(cvmm_kvm_vm_state_save(b, &full), 0);
	cvmm_kvm_vm_destroy(b);
	b = vm_full(kvm, true, false);
	ck_assert_int_eq(cvmm_kvm_vm_state_restore(b, &full, 0, &why), -ENXIO);
	ck_assert_str_eq(why.field, "pit");
	cvmm_kvm_vm_destroy(b);
	cvmm_kvm_vm_destroy(a);
	cvmm_kvm_destroy(kvm);
	kvm = NULL;
}
END_TEST

/* Hostile states: each refused with its errno and field, the VM untouched. */
START_TEST(vm_state_hostile)
{
	static const struct {
		size_t off, width;
		uint64_t value;
		int err;
		const char *field;
	} cases[] = {
#define F(member) offsetof(struct cvmm_kvm_vm_state, member), \
		  sizeof(((struct cvmm_kvm_vm_state *)0)->member)
		{ F(version), 2, -EPROTONOSUPPORT, "version" },
		{ F(version), 0, -EINVAL, "version" },
		{ F(valid), 0x10 | CVMM_KVM_VM_STATE_ALL, -EINVAL, "valid" },
		{ F(pic[0].irq_base), 0x0c, -EINVAL, "pic[0].irq_base" },
		{ F(pic[1].elcr_mask), 0xff, -EINVAL, "pic[1].elcr_mask" },
		{ F(pic[0].elcr), 0x01, -EINVAL, "pic[0].elcr" },
		{ F(pic[1].priority_add), 8, -ERANGE, "pic[1].priority_add" },
		{ F(pic[0].init_state), 4, -ERANGE, "pic[0].init_state" },
		{ F(pic[0].poll), 2, -ERANGE, "pic[0].poll" },
		{ F(pic[1].init4), 0xff, -ERANGE, "pic[1].init4" },
		{ F(ioapic.base_address), 0xfee00000, -EINVAL, "ioapic.base_address" },
		{ F(ioapic.ioregsel), 0x100, -ERANGE, "ioapic.ioregsel" },
		{ F(ioapic.id), 16, -ERANGE, "ioapic.id" },
		{ F(ioapic.irr), 1u << 24, -EINVAL, "ioapic.irr" },
		{ F(pit.channels[1].count), 0x10001, -ERANGE, "pit.channels[1].count" },
		{ F(pit.channels[2].mode), 6, -ERANGE, "pit.channels[2].mode" },
		{ F(pit.channels[0].rw_mode), 4, -ERANGE, "pit.channels[0].rw_mode" },
		{ F(pit.channels[0].read_state), 5, -ERANGE, "pit.channels[0].read_state" },
		{ F(pit.channels[2].gate), 2, -ERANGE, "pit.channels[2].gate" },
		{ F(pit.flags), 0x80, -EINVAL, "pit.flags" },
		{ F(pit.reserved[8]), 1, -EINVAL, "pit.reserved[8]" },
		{ F(clock.flags), 0x100, -EINVAL, "clock.flags" },
		{ F(clock.pad[3]), 1, -EINVAL, "clock.pad[3]" },
#undef F
	};
	struct cvmm_kvm_vm *a;
	struct cvmm_kvm_vm_state good, bad, now;
	struct cvmm_kvm_state_error why;

	ck_assert_int_eq(cvmm_kvm_create(NULL, &kvm), 0);
	a = vm_full(kvm, true, true);
	ck_assert_int_eq(cvmm_kvm_vm_state_save(a, &good), 0);
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(cases); i++) {
		bad = good;
		switch (cases[i].width) {
		case 1: *((uint8_t *)&bad + cases[i].off) = (uint8_t)cases[i].value; break;
		case 4: { uint32_t v = (uint32_t)cases[i].value; memcpy((uint8_t *)&bad + cases[i].off, &v, 4); break; }
		case 8: { uint64_t v = cases[i].value; memcpy((uint8_t *)&bad + cases[i].off, &v, 8); break; }
		default: ck_abort_msg("width %zu", cases[i].width);
		}
		memset(&why, 0, sizeof(why));
		ck_assert_int_eq(cvmm_kvm_vm_state_check(&bad, &why), cases[i].err);
		ck_assert_str_eq(why.field, cases[i].field);
		ck_assert(why.msg[0]);
		/* Restore refuses before writing anything. */
		bad.pic[0].imr ^= 0xff;
		if (strcmp(cases[i].field, "pic[0].imr"))
			ck_assert_int_eq(cvmm_kvm_vm_state_restore(a, &bad, 0, &why), cases[i].err);
		ck_assert_int_eq(cvmm_kvm_vm_state_save(a, &now), 0);
		ck_assert_uint_eq(now.pic[0].imr, good.pic[0].imr);
	}
	/* The part checks say the same without the prefix. */
	bad = good;
	bad.pit.channels[2].mode = 7;
	ck_assert_int_eq(cvmm_kvm_pit_state_check(&bad.pit, &why), -ERANGE);
	ck_assert_str_eq(why.field, "channels[2].mode");
	bad.pic[1].elcr_mask = 0xf8; /* the master's mask on the slave */
	ck_assert_int_eq(cvmm_kvm_pic_state_check(&bad.pic[1], true, &why), -EINVAL);
	ck_assert_str_eq(why.field, "elcr_mask");
	ck_assert_int_eq(cvmm_kvm_pic_state_check(&good.pic[0], false, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_ioapic_state_check(&good.ioapic, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_clock_state_check(&good.clock, NULL), 0);
	ck_assert_int_eq(cvmm_kvm_vm_state_check(NULL, NULL), -EINVAL);
	/* A fresh PIT's channels have mode 0xff (never programmed): accepted. */
	ck_assert_uint_eq(good.pit.channels[1].mode, 0xff);
	cvmm_kvm_vm_destroy(a);
	cvmm_kvm_destroy(kvm);
	kvm = NULL;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kvm-vm");
	TCase *sys = tcase_create("system");
	TCase *slots = tcase_create("slots");
	TCase *chip = tcase_create("irqchip");
	TCase *misc = tcase_create("misc");
	TCase *state = tcase_create("vm-state");

	cvmm_test_require_kvm();
	tcase_add_test(sys, system_basics);
	tcase_add_test(sys, system_create_errors);
	tcase_add_test(sys, system_cpuid);
	tcase_add_test(sys, system_msr_lists);
	tcase_add_test(slots, vm_create_errors);
	tcase_add_test(slots, slots_bookkeeping);
	tcase_add_test(slots, slots_errors);
	tcase_add_test(slots, slots_region2);
	tcase_add_test(chip, irqchip_and_irq_line);
	tcase_add_test(chip, split_irqchip);
	tcase_add_test(chip, pit2);
	tcase_add_test(chip, kvmclock);
	tcase_add_test(chip, tss_and_identity_map);
	tcase_add_test(chip, enable_cap_errors);
	tcase_add_test(misc, msi_and_routing);
	tcase_add_test(misc, coalesced_mmio_ring);
	tcase_add_test(misc, device_fds);
	tcase_add_test(misc, xsave_size);
	tcase_set_timeout(sys, 60);
	tcase_set_timeout(slots, 60);
	tcase_set_timeout(chip, 60);
	tcase_set_timeout(misc, 60);
	tcase_add_test(state, vm_state_round_trip);
	tcase_add_test(state, vm_state_parts_missing);
	tcase_add_test(state, vm_state_hostile);
	tcase_set_timeout(state, 60);
	suite_add_tcase(s, sys);
	suite_add_tcase(s, slots);
	suite_add_tcase(s, chip);
	suite_add_tcase(s, misc);
	suite_add_tcase(s, state);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
