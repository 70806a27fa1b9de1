/* SPDX-License-Identifier: Apache-2.0 */
/* Boot-vCPU helpers: table contents, and a real vCPU entered both ways. */
#include <cvmm/linux-loader.h>
#include <cvmm/linux-loader/x86-boot.h>
#include <cvmm/vm-memory.h>
#include "cvmm-test.h"
#include "images.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static struct cvmm_guest_mem *new_mem(uint64_t size)
{
	struct cvmm_x86_ram_opts o = { .sz = sizeof(o), .size = size, .backing = CVMM_MEM_ANON,
				       .flags = CVMM_MEM_F_NORESERVE };
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), 0);
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	return m;
}

static long dirty_pages(struct cvmm_guest_mem *m)
{
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(m, 0);
	uint64_t *bm = calloc((r->size / 4096 + 63) / 64, 8);
	long n = cvmm_guest_mem_dirty_get_and_clear(m, r->gpa, r->size, bm);

	free(bm);
	return n;
}

static uint64_t rd64(struct cvmm_guest_mem *m, uint64_t gpa)
{
	uint64_t v;

	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, gpa, &v), 0);
	return v;
}

/* Walk 4-level tables with 2 MiB leaves; UINT64_MAX when not present. */
static uint64_t walk(struct cvmm_guest_mem *m, uint64_t cr3, uint64_t va, uint64_t *flags)
{
	uint64_t e = rd64(m, cr3 + ((va >> 39) & 511) * 8), all = e;

	if (!(e & 1))
		return UINT64_MAX;
	e = rd64(m, (e & ~0xfffull) + ((va >> 30) & 511) * 8);
	all &= e;
	if (!(e & 1))
		return UINT64_MAX;
	e = rd64(m, (e & ~0xfffull) + ((va >> 21) & 511) * 8);
	all &= e;
	if (!(e & 1) || !(e & CVMM_X86_PTE_PS))
		return UINT64_MAX;
	*flags = all;
	return (e & ~0x1fffffull & ((1ull << 52) - 1)) | (va & 0x1fffff);
}

START_TEST(long_mode_tables)
{
	struct cvmm_guest_mem *m = new_mem(16 * MIB);
	struct kvm_sregs s;
	uint64_t fl;

	memset(&s, 0, sizeof(s));
	s.apic_base = 0xfee00900; /* kept */
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, NULL, &s), 0);
	ck_assert_uint_eq(s.apic_base, 0xfee00900);
	ck_assert_uint_eq(s.cs.selector, 0x10);
	ck_assert_uint_eq(s.cs.l, 1);
	ck_assert_uint_eq(s.cs.db, 0);
	ck_assert_uint_eq(s.cs.type, 0xb);
	ck_assert_uint_eq(s.cs.present, 1);
	ck_assert_uint_eq(s.cs.s, 1);
	ck_assert_uint_eq(s.cs.dpl, 0);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.ss.selector, 0x18);
	ck_assert_uint_eq(s.ds.type, 0x3);
	ck_assert_uint_eq(s.ds.limit, 0xffffffff);
	ck_assert_uint_eq(s.ds.g, 1);
	ck_assert_uint_eq(s.tr.selector, 0x20);
	ck_assert_uint_eq(s.tr.type, 0xb);
	ck_assert_uint_eq(s.gdt.base, 0x500);
	ck_assert_uint_eq(s.gdt.limit, 39);
	ck_assert_uint_eq(s.idt.base, 0x540);
	ck_assert_uint_eq(s.cr0, 0x80000031);
	ck_assert_uint_eq(s.cr3, 0x9000);
	ck_assert_uint_eq(s.cr4, 0x620);
	ck_assert_uint_eq(s.efer, 0x501);

	/* Descriptors as the SDM encodes them. */
	ck_assert_uint_eq(rd64(m, 0x500), 0);
	ck_assert_uint_eq(rd64(m, 0x508), 0x00cf9b000000ffffull);
	ck_assert_uint_eq(rd64(m, 0x510), 0x00af9b000000ffffull);
	ck_assert_uint_eq(rd64(m, 0x518), 0x00cf93000000ffffull);
	ck_assert_uint_eq(rd64(m, 0x520), 0x00008b0000000067ull);
	ck_assert_uint_eq(rd64(m, 0x540), 0);

	/* Identity map of the first 4 GiB, nothing above. */
	ck_assert_uint_eq(walk(m, s.cr3, 0, &fl), 0);
	ck_assert_uint_eq(walk(m, s.cr3, 0x1234567, &fl), 0x1234567);
	ck_assert_uint_eq(fl & (CVMM_X86_PTE_P | CVMM_X86_PTE_RW | CVMM_X86_PTE_US), 3);
	ck_assert_uint_eq(walk(m, s.cr3, 0xbfffffff, &fl), 0xbfffffff);
	ck_assert_uint_eq(walk(m, s.cr3, 0xffffffff, &fl), 0xffffffff);
	ck_assert_uint_eq(walk(m, s.cr3, 4 * GIB, &fl), UINT64_MAX);
	/* PML4 + PDPT + 4 PDs, GDT page, IDT (same page). */
	ck_assert_int_eq(dirty_pages(m), 7);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(long_mode_opts)
{
	struct cvmm_guest_mem *m = new_mem(16 * MIB);
	struct cvmm_x86_boot_opts o = { .sz = sizeof(o), .identity_map_size = 8 * GIB,
					.page_tables_gpa = 0x100000, .flags = CVMM_X86_BOOT_F_USER };
	struct kvm_sregs s;
	uint64_t fl;

	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), 0);
	ck_assert_uint_eq(s.cr3, 0x100000);
	ck_assert_uint_eq(walk(m, s.cr3, 7 * GIB + 0x2345, &fl), 7 * GIB + 0x2345);
	ck_assert_uint_eq(fl & CVMM_X86_PTE_US, CVMM_X86_PTE_US);
	ck_assert_uint_eq(walk(m, s.cr3, 8 * GIB, &fl), UINT64_MAX);
	/* CPL3 flavour: DPL-3 segments, RPL-3 selectors. */
	ck_assert_uint_eq(s.cs.dpl, 3);
	ck_assert_uint_eq(s.cs.selector, 0x13);
	ck_assert_uint_eq(s.ss.dpl, 3);
	ck_assert_uint_eq(s.ss.selector, 0x1b);
	ck_assert_uint_eq(rd64(m, 0x510), 0x00affb000000ffffull);
	dirty_pages(m);

	o.identity_map_size = 3 * GIB + GIB / 2;
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	o.identity_map_size = 513 * GIB;
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	o.identity_map_size = 0;
	o.page_tables_gpa = 0x9800;
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	o.flags = 0x10;
	o.page_tables_gpa = 0;
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	o.flags = 0;
	o.gdt_gpa = 0x9010; /* inside the page tables */
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	o.gdt_gpa = 0;
	o.page_tables_gpa = 16 * MIB - 0x2000; /* 6 pages do not fit */
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EFAULT);
	o.sz = 4;
	ck_assert_int_eq(cvmm_x86_boot_setup_long_mode(m, &o, &s), -EINVAL);
	ck_assert_int_eq(dirty_pages(m), 0);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(protected_mode_and_regs)
{
	struct cvmm_guest_mem *m = new_mem(16 * MIB);
	struct cvmm_loader_result res = { .mode = CVMM_BOOT_PVH32, .entry = 0x1000850,
					  .boot_info_gpa = 0x6000 };
	struct kvm_sregs s;
	struct kvm_regs r;

	memset(&s, 0xff, sizeof(s));
	ck_assert_int_eq(cvmm_x86_boot_setup_sregs(m, &res, NULL, &s), 0);
	ck_assert_uint_eq(s.cs.selector, 0x08);
	ck_assert_uint_eq(s.cs.db, 1);
	ck_assert_uint_eq(s.cs.l, 0);
	ck_assert_uint_eq(s.cs.limit, 0xffffffff);
	ck_assert_uint_eq(s.cs.base, 0);
	ck_assert_uint_eq(s.ds.selector, 0x18);
	ck_assert_uint_eq(s.cr0, 0x11);
	ck_assert_uint_eq(s.cr4, 0);
	ck_assert_uint_eq(s.efer, 0);
	/* No page tables for PVH: only the GDT/IDT page. */
	ck_assert_int_eq(dirty_pages(m), 1);

	cvmm_x86_boot_setup_regs(&res, 0, 0, &r);
	ck_assert_uint_eq(r.rip, 0x1000850);
	ck_assert_uint_eq(r.rbx, 0x6000);
	ck_assert_uint_eq(r.rsi, 0);
	ck_assert_uint_eq(r.rflags, 2);
	ck_assert_uint_eq(r.rsp, CVMM_LOADER_STACK_GPA);
	res.mode = CVMM_BOOT_LINUX64;
	res.boot_info_gpa = 0x7000;
	cvmm_x86_boot_setup_regs(&res, 0x80000, CVMM_X86_BOOT_F_USER, &r);
	ck_assert_uint_eq(r.rsi, 0x7000);
	ck_assert_uint_eq(r.rbx, 0);
	ck_assert_uint_eq(r.rsp, 0x80000);
	ck_assert_uint_eq(r.rflags, 0x3002);
	res.mode = 0;
	ck_assert_int_eq(cvmm_x86_boot_setup_sregs(m, &res, NULL, &s), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(fpu_msrs_lapic)
{
	struct kvm_msr_entry e[16];
	struct kvm_lapic_state l;
	struct kvm_fpu f;
	uint32_t v;

	memset(&f, 0xee, sizeof(f));
	cvmm_x86_boot_setup_fpu(&f);
	ck_assert_uint_eq(f.fcw, 0x37f);
	ck_assert_uint_eq(f.mxcsr, 0x1f80);
	ck_assert_uint_eq(f.fsw, 0);

	ck_assert_int_eq(cvmm_x86_boot_msrs(e, 3), -ENOSPC);
	ck_assert_int_eq(cvmm_x86_boot_msrs(e, 16), (int)CVMM_X86_BOOT_NR_MSRS);
	for (unsigned int i = 0; i < CVMM_X86_BOOT_NR_MSRS; i++) {
		if (e[i].index == 0x1a0)
			ck_assert_uint_eq(e[i].data, 1);
		else if (e[i].index == 0x2ff)
			ck_assert_uint_eq(e[i].data, 0x806);
		else
			ck_assert_uint_eq(e[i].data, 0);
	}

	memset(&l, 0, sizeof(l));
	v = 0x00010700 | 0x20; /* masked, some other bits */
	memcpy(l.regs + 0x350, &v, 4);
	memcpy(l.regs + 0x360, &v, 4);
	cvmm_x86_boot_setup_lapic(&l);
	memcpy(&v, l.regs + 0x350, 4);
	ck_assert_uint_eq(v, 0x00010720);
	memcpy(&v, l.regs + 0x360, 4);
	ck_assert_uint_eq(v, 0x00010420);
}
END_TEST

static struct kvm_cpuid2 *cpuid_alloc(uint32_t cap)
{
	return calloc(1, sizeof(struct kvm_cpuid2) + cap * sizeof(struct kvm_cpuid_entry2));
}

static struct kvm_cpuid_entry2 *leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static void synth(struct kvm_cpuid2 *c)
{
	static const struct kvm_cpuid_entry2 base[] = {
		{ .function = 0, .eax = 0x1f },
		{ .function = 1, .eax = 0x806f8, .ebx = 0x12340800, .ecx = 0x7ffafbff, .edx = 0xbfebfbff },
		{ .function = 4, .index = 0, .flags = 1, .eax = 0x1c004121 }, /* L1d */
		{ .function = 4, .index = 1, .flags = 1, .eax = 0x1c004143 }, /* L2 */
		{ .function = 4, .index = 2, .flags = 1, .eax = 0x1c03c163 }, /* L3 */
		{ .function = 4, .index = 3, .flags = 1, .eax = 0 },
		{ .function = 0xa, .eax = 0x07300805 },
		{ .function = 0xb, .index = 0, .flags = 1, .eax = 1, .ebx = 2, .ecx = 0x100 },
		{ .function = 0xb, .index = 1, .flags = 1, .eax = 4, .ebx = 8, .ecx = 0x201 },
		{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b },
	};

	memcpy(c->entries, base, sizeof(base));
	c->nent = sizeof(base) / sizeof(base[0]);
}

START_TEST(cpuid_filter)
{
	struct cvmm_x86_cpuid_opts o = { .sz = sizeof(o), .apic_id = 5, .nr_vcpus = 6,
					 .threads_per_core = 2,
					 .flags = CVMM_X86_CPUID_F_HV_LEAVES | CVMM_X86_CPUID_F_NO_PMU,
					 .hv_signature = "KVMKVMKVM\0\0\0", .hv_features = 0x1234 };
	struct kvm_cpuid2 *c = cpuid_alloc(32), *copy = cpuid_alloc(32);
	struct kvm_cpuid_entry2 *e;
	uint32_t sig[3];

	synth(c);
	/* 10 entries, 2 of 0xB become 3, 0x40000001 is added: 12 needed. */
	memcpy(copy, c, sizeof(*c) + 32 * sizeof(c->entries[0]));
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 11, &o), -ENOSPC);
	ck_assert_int_eq(memcmp(copy, c, sizeof(*c) + 32 * sizeof(c->entries[0])), 0);
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 12, &o), 0);
	ck_assert_uint_eq(c->nent, 12);

	e = leaf(c, 1, 0);
	ck_assert_uint_eq(e->ebx >> 24, 5);            /* APIC ID */
	ck_assert_uint_eq((e->ebx >> 16) & 0xff, 8);   /* 2 threads x 4 (3 rounded) cores */
	ck_assert_uint_eq(e->ebx & 0xffff, 0x0800);    /* CLFLUSH size, brand kept */
	ck_assert_uint_eq(e->ecx >> 31, 1);            /* hypervisor */
	ck_assert_uint_eq((e->edx >> 28) & 1, 1);      /* HTT */

	e = leaf(c, 0xb, 0);
	ck_assert_uint_eq(e->eax, 1);
	ck_assert_uint_eq(e->ebx, 2);
	ck_assert_uint_eq(e->ecx, 0x100);
	ck_assert_uint_eq(e->edx, 5);
	e = leaf(c, 0xb, 1);
	ck_assert_uint_eq(e->eax, 3);
	ck_assert_uint_eq(e->ebx, 6);
	ck_assert_uint_eq(e->ecx, 0x201);
	ck_assert_uint_eq(e->edx, 5);
	e = leaf(c, 0xb, 2);
	ck_assert_uint_eq(e->ecx & 0xff00, 0);
	ck_assert_uint_eq(e->edx, 5);
	ck_assert_ptr_null(leaf(c, 0x1f, 0)); /* not in KVM's list: not invented */

	e = leaf(c, 4, 0);
	ck_assert_uint_eq((e->eax >> 14) & 0xfff, 1);  /* L1 shared by 2 threads */
	ck_assert_uint_eq(e->eax >> 26, 3);            /* 4 cores */
	ck_assert_uint_eq(e->eax & 0x3fff, 0x0121);
	e = leaf(c, 4, 2);
	ck_assert_uint_eq((e->eax >> 14) & 0xfff, 7);  /* L3 shared by the package */
	ck_assert_uint_eq(leaf(c, 4, 3)->eax, 0);

	e = leaf(c, 0xa, 0);
	ck_assert_uint_eq(e->eax | e->ebx | e->ecx | e->edx, 0);
	e = leaf(c, 0x40000000, 0);
	ck_assert_uint_eq(e->eax, 0x40000001);
	sig[0] = e->ebx;
	sig[1] = e->ecx;
	sig[2] = e->edx;
	ck_assert_int_eq(memcmp(sig, "KVMKVMKVM\0\0\0", 12), 0);
	ck_assert_uint_eq(leaf(c, 0x40000001, 0)->eax, 0x1234);

	/* Bad topology. */
	o.apic_id = 6;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), -EINVAL);
	o.apic_id = 0;
	o.threads_per_core = 3;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), -EINVAL);
	o.threads_per_core = 1;
	o.nr_vcpus = 0;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), -EINVAL);
	o.nr_vcpus = 1;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, c->nent - 1, &o), -EINVAL);
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), 0);
	ck_assert_uint_eq((leaf(c, 1, 0)->edx >> 28) & 1, 0); /* single CPU: no HTT */
	free(c);
	free(copy);
}
END_TEST

/*
 * The timing leaf and KVM's features: what a stock kernel needs to find
 * its TSC frequency (0x40000010) and kvmclock (0x40000001) without
 * command-line hints.
 */
START_TEST(cpuid_timing_and_kvm_features)
{
	struct cvmm_x86_cpuid_opts o = {
		.sz = sizeof(o), .apic_id = 0, .nr_vcpus = 1,
		.flags = CVMM_X86_CPUID_F_HV_LEAVES | CVMM_X86_CPUID_F_KVM_FEATURES,
		.hv_signature = "KVMKVMKVM\0\0\0", .hv_features = CVMM_KVM_FEATURES_DEFAULT,
		.tsc_khz = 2496000,
	};
	struct kvm_cpuid2 *c = cpuid_alloc(32);
	struct kvm_cpuid_entry2 *e;
	uint32_t n;

	synth(c);
	/* KVM offers kvmclock, steal time and PV_UNHALT (bit 7), not PV_EOI. */
	e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = 0x40000001;
	e->eax = CVMM_KVM_FEATURE_CLOCKSOURCE | CVMM_KVM_FEATURE_CLOCKSOURCE2 |
		 CVMM_KVM_FEATURE_STEAL_TIME | (1u << 7) | CVMM_KVM_FEATURE_CLOCKSOURCE_STABLE_BIT;
	n = c->nent;
	/* 11 entries, 0xB grows by one, 0x40000010 added: 13. */
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 12, &o), -ENOSPC);
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 13, &o), 0);
	ck_assert_uint_eq(c->nent, n + 2);
	ck_assert_uint_eq(leaf(c, 0x40000000, 0)->eax, 0x40000010);
	ck_assert_uint_eq(leaf(c, 0x40000001, 0)->eax,
			  CVMM_KVM_FEATURE_CLOCKSOURCE | CVMM_KVM_FEATURE_CLOCKSOURCE2 |
			  CVMM_KVM_FEATURE_STEAL_TIME | CVMM_KVM_FEATURE_CLOCKSOURCE_STABLE_BIT);
	e = leaf(c, 0x40000010, 0);
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->eax, 2496000);
	ck_assert_uint_eq(e->ebx, 1000000);
	ck_assert_uint_eq(e->ecx | e->edx, 0);
	/* Idempotent: a second pass replaces rather than duplicates. */
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), 0);
	ck_assert_uint_eq(c->nent, n + 2);

	/* Without KVM's leaf in the list, the filtered wish is empty. */
	synth(c);
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), 0);
	ck_assert_uint_eq(leaf(c, 0x40000001, 0)->eax, 0);
	/* An older caller's opts (no tsc_khz field): no timing leaf. */
	synth(c);
	o.sz = offsetof(struct cvmm_x86_cpuid_opts, tsc_khz);
	o.flags = CVMM_X86_CPUID_F_HV_LEAVES;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), 0);
	ck_assert_uint_eq(leaf(c, 0x40000000, 0)->eax, 0x40000001);
	ck_assert_ptr_null(leaf(c, 0x40000010, 0));
	ck_assert_uint_eq(leaf(c, 0x40000001, 0)->eax, CVMM_KVM_FEATURES_DEFAULT);
	/* Unknown flags are refused. */
	o.flags = 0x8;
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 32, &o), -EINVAL);
	free(c);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* A real vCPU: the helpers' state must be accepted by KVM and run guest     */
/* code that reports the boot-info pointer it was handed.                    */

struct vm {
	int kvm, vm, vcpu;
	struct kvm_run *run;
	size_t run_size;
};

static void vm_open(struct vm *v, struct cvmm_guest_mem *m)
{
	const struct cvmm_mem_region *r = cvmm_guest_mem_region(m, 0);
	struct kvm_userspace_memory_region slot = {
		.slot = 0, .guest_phys_addr = r->gpa, .memory_size = r->size,
		.userspace_addr = (uintptr_t)r->host,
	};
	int n;

	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(v->kvm, 0);
	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	ck_assert_int_ge(v->vm, 0);
	ck_assert_int_eq(ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &slot), 0);
	ck_assert_int_eq(ioctl(v->vm, KVM_CREATE_IRQCHIP, 0), 0);
	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	ck_assert_int_ge(v->vcpu, 0);
	n = ioctl(v->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	ck_assert_int_gt(n, 0);
	v->run_size = (size_t)n;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	ck_assert_ptr_ne(v->run, MAP_FAILED);
}

static void vm_close(struct vm *v)
{
	munmap(v->run, v->run_size);
	close(v->vcpu);
	close(v->vm);
	close(v->kvm);
}

/* Every setter the helpers fill, then one run to the first exit. */
static void vm_boot(struct vm *v, struct cvmm_guest_mem *m, const struct cvmm_loader_result *res,
		    uint32_t flags)
{
	struct cvmm_x86_boot_opts bo = { .sz = sizeof(bo), .flags = flags };
	struct cvmm_x86_cpuid_opts co = { .sz = sizeof(co), .apic_id = 0, .nr_vcpus = 1,
					  .flags = CVMM_X86_CPUID_F_HV_LEAVES,
					  .hv_signature = "KVMKVMKVM\0\0\0" };
	struct kvm_msrs *msrs = calloc(1, sizeof(*msrs) +
					 CVMM_X86_BOOT_NR_MSRS * sizeof(struct kvm_msr_entry));
	struct kvm_cpuid2 *c = cpuid_alloc(256);
	struct kvm_lapic_state lapic;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	int n;

	c->nent = 256;
	ck_assert_int_eq(ioctl(v->kvm, KVM_GET_SUPPORTED_CPUID, c), 0);
	ck_assert_int_eq(cvmm_x86_boot_cpuid(c, 256, &co), 0);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_SET_CPUID2, c), 0);
	free(c);

	ck_assert_int_eq(ioctl(v->vcpu, KVM_GET_SREGS, &sregs), 0);
	ck_assert_int_eq(cvmm_x86_boot_setup_sregs(m, res, &bo, &sregs), 0);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_SET_SREGS, &sregs), 0);
	cvmm_x86_boot_setup_regs(res, 0, flags, &regs);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_SET_REGS, &regs), 0);
	cvmm_x86_boot_setup_fpu(&fpu);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_SET_FPU, &fpu), 0);
	n = cvmm_x86_boot_msrs(msrs->entries, CVMM_X86_BOOT_NR_MSRS);
	ck_assert_int_eq(n, (int)CVMM_X86_BOOT_NR_MSRS);
	msrs->nmsrs = (uint32_t)n;
	n = ioctl(v->vcpu, KVM_SET_MSRS, msrs);
	free(msrs);
	ck_assert_msg(n == (int)CVMM_X86_BOOT_NR_MSRS, "KVM took %d of the boot MSRs", n);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_GET_LAPIC, &lapic), 0);
	cvmm_x86_boot_setup_lapic(&lapic);
	ck_assert_int_eq(ioctl(v->vcpu, KVM_SET_LAPIC, &lapic), 0);

	ck_assert_int_eq(ioctl(v->vcpu, KVM_RUN, 0), 0);
}

static void expect_out(struct vm *v, uint8_t value)
{
	uint8_t got;

	ck_assert_msg(v->run->exit_reason == KVM_EXIT_IO, "exit reason %u", v->run->exit_reason);
	ck_assert_uint_eq(v->run->io.port, 0x80);
	ck_assert_uint_eq(v->run->io.direction, KVM_EXIT_IO_OUT);
	ck_assert_uint_eq(v->run->io.size, 1);
	memcpy(&got, (uint8_t *)v->run + v->run->io.data_offset, 1);
	ck_assert_uint_eq(got, value);
}

static void boot_image(const uint8_t *img, size_t len, enum cvmm_boot_mode mode, uint32_t flags,
		       uint8_t want)
{
	struct cvmm_guest_mem *m = new_mem(16 * MIB);
	struct cvmm_loader_opts o = { .sz = sizeof(o), .initrd_fd = -1, .cmdline = "x" };
	struct cvmm_loader_result res;
	char path[PATH_MAX];
	struct vm v;
	int fd;

	fd = cvmm_test_tmpfile(path, 0);
	ck_assert_int_ge(fd, 0);
	unlink(path);
	ck_assert_int_eq(write(fd, img, len), (ssize_t)len);
	o.kernel_fd = fd;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	close(fd);
	ck_assert_int_eq(res.mode, mode);
	vm_open(&v, m);
	vm_boot(&v, m, &res, flags);
	expect_out(&v, want);
	vm_close(&v);
	cvmm_guest_mem_destroy(m);
}

static void run_guest(const uint8_t *code, size_t code_len, unsigned int pvh, uint32_t flags,
		      uint8_t want)
{
	struct test_elf e = { .entry = 0x200000, .nsegs = 1,
			      .segs = { { .paddr = 0x200000, .filesz = 0x1000, .memsz = 0x1000 } },
			      .code = code, .code_len = code_len, .pvh_desc = pvh, .pvh_entry = 0x200000 };
	uint8_t *img;
	size_t len;

	img = test_build_elf(&e, &len);
	boot_image(img, len, pvh ? CVMM_BOOT_PVH32 : CVMM_BOOT_LINUX64, flags, want);
	free(img);
}

/* mov eax, esi; shr eax, 12; out 0x80, al; hlt  (64-bit) */
static const uint8_t code64[] = { 0x89, 0xf0, 0xc1, 0xe8, 0x0c, 0xe6, 0x80, 0xf4 };
/* mov eax, ebx; shr eax, 12; out 0x80, al; hlt  (32-bit) */
static const uint8_t code32[] = { 0x89, 0xd8, 0xc1, 0xe8, 0x0c, 0xe6, 0x80, 0xf4 };

START_TEST(kvm_long_mode)
{
	if (!cvmm_test_have_kvm()) {
		printf("# SKIP /dev/kvm is not available\n");
		return;
	}
	run_guest(code64, sizeof(code64), 0, 0, 0x07);                    /* RSI = 0x7000 */
	run_guest(code64, sizeof(code64), 0, CVMM_X86_BOOT_F_USER, 0x07); /* same at CPL3 */
}
END_TEST

/* A bzImage entered at load address + 0x200 (startup_64) with RSI = 0x7000. */
START_TEST(kvm_bzimage)
{
	struct test_bz b;
	uint8_t *img;
	size_t len;

	if (!cvmm_test_have_kvm()) {
		printf("# SKIP /dev/kvm is not available\n");
		return;
	}
	test_bz_defaults(&b);
	b.payload_len = 0x1000;
	b.init_size = 0x100000;
	b.pref_address = 0x400000;
	img = test_build_bzimage(&b, &len);
	memcpy(img + 5 * 512 + CVMM_BOOT_STARTUP_64_OFFSET, code64, sizeof(code64));
	boot_image(img, len, CVMM_BOOT_LINUX64, 0, 0x07);
	free(img);
}
END_TEST

START_TEST(kvm_pvh)
{
	if (!cvmm_test_have_kvm()) {
		printf("# SKIP /dev/kvm is not available\n");
		return;
	}
	run_guest(code32, sizeof(code32), 8, 0, 0x06); /* EBX = 0x6000 */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("linux-loader-x86");
	TCase *tc = tcase_create("state");
	TCase *tk = tcase_create("kvm");

	tcase_add_test(tc, long_mode_tables);
	tcase_add_test(tc, long_mode_opts);
	tcase_add_test(tc, protected_mode_and_regs);
	tcase_add_test(tc, fpu_msrs_lapic);
	tcase_add_test(tc, cpuid_filter);
	tcase_add_test(tc, cpuid_timing_and_kvm_features);
	tcase_set_timeout(tk, 30);
	tcase_add_test(tk, kvm_long_mode);
	tcase_add_test(tk, kvm_pvh);
	tcase_add_test(tk, kvm_bzimage);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, tk);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
