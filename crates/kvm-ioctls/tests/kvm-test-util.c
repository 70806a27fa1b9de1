/* SPDX-License-Identifier: Apache-2.0 */
#include "kvm-test-util.h"
#include "cvmm-test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Page tables: PML4 at 0x1000, PDPT at 0x2000, PD at 0x3000 (2 MiB pages, 1 GiB). */
#define PT_P 0x1ull
#define PT_RW 0x2ull
#define PT_US 0x4ull
#define PT_PS 0x80ull

static void build_page_tables(uint8_t *mem)
{
	uint64_t *pml4 = (uint64_t *)(mem + 0x1000);
	uint64_t *pdpt = (uint64_t *)(mem + 0x2000);
	uint64_t *pd = (uint64_t *)(mem + 0x3000);

	pml4[0] = 0x2000 | PT_P | PT_RW | PT_US;
	pdpt[0] = 0x3000 | PT_P | PT_RW | PT_US;
	for (uint64_t i = 0; i < 512; i++)
		pd[i] = (i << 21) | PT_P | PT_RW | PT_US | PT_PS;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->s = 1;
	s->l = code64;
	s->db = !code64;
	s->g = 1;
}

void tvm_set_reg(struct cvmm_kvm_vcpu *vcpu, size_t off, uint64_t v)
{
	struct kvm_regs r;

	ck_assert_int_eq(cvmm_kvm_vcpu_get_regs(vcpu, &r), 0);
	memcpy((char *)&r + off, &v, sizeof(v));
	ck_assert_int_eq(cvmm_kvm_vcpu_set_regs(vcpu, &r), 0);
}

void tvm_vcpu_setup(struct tvm *t, struct cvmm_kvm_vcpu *vcpu, enum tvm_mode mode)
{
	struct kvm_sregs s;
	struct kvm_regs r = { .rip = TVM_CODE, .rflags = 0x2, .rsp = TVM_DATA };
	struct kvm_cpuid2 *cpuid;

	/* Long mode needs CPUID.LM in the guest's table before EFER.LME. */
	ck_assert_int_gt(cvmm_kvm_get_supported_cpuid(t->kvm, &cpuid), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_set_cpuid2(vcpu, cpuid), 0);
	free(cpuid);
	ck_assert_int_eq(cvmm_kvm_vcpu_get_sregs(vcpu, &s), 0);
	if (mode == TVM_REAL) {
		/* 16-bit IP: CS carries the load address. */
		s.cs.base = TVM_CODE;
		s.cs.selector = TVM_CODE >> 4;
		r.rip = 0;
	} else {
		uint8_t dpl = mode == TVM_LONG_CPL3 ? 3 : 0;

		build_page_tables(t->mem);
		seg(&s.cs, dpl ? 0x1b : 0x08, 11, dpl, true);
		seg(&s.ds, dpl ? 0x23 : 0x10, 3, dpl, false);
		s.es = s.fs = s.gs = s.ss = s.ds;
		memset(&s.tr, 0, sizeof(s.tr));
		s.tr.type = 11;
		s.tr.present = 1;
		s.tr.limit = 0x67;
		s.tr.selector = 0x28;
		s.gdt.base = 0x4000;
		s.gdt.limit = 0x2f;
		/* An empty IDT: any exception becomes a triple fault. */
		s.idt.base = 0;
		s.idt.limit = 0;
		s.cr3 = 0x1000;
		s.cr4 = 0x20 | 0x200 | 0x400;          /* PAE, OSFXSR, OSXMMEXCPT */
		s.cr0 = 0x80000000u | 0x10000 | 0x20 | 0x10 | 0x2 | 0x1; /* PG WP NE ET MP PE */
		s.efer = 0x500;                        /* LME | LMA */
		if (dpl)
			r.rflags |= 0x3000; /* IOPL 3: port I/O from user mode */
	}
	ck_assert_int_eq(cvmm_kvm_vcpu_set_sregs(vcpu, &s), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_set_regs(vcpu, &r), 0);
}

void tvm_setup(struct tvm *t, const struct tvm_opts *o)
{
	struct kvm_userspace_memory_region reg;

	memset(t, 0, sizeof(*t));
	t->mode = o->mode;
	ck_assert_int_eq(cvmm_kvm_create(NULL, &t->kvm), 0);
	ck_assert_int_eq(cvmm_kvm_vm_create(t->kvm, NULL, &t->vm), 0);
	t->mem = mmap(NULL, TVM_MEM_SIZE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(t->mem, MAP_FAILED);
	reg = (struct kvm_userspace_memory_region){
		.slot = 0, .flags = o->slot_flags, .guest_phys_addr = 0,
		.memory_size = TVM_MEM_SIZE, .userspace_addr = (uintptr_t)t->mem,
	};
	ck_assert_int_eq(cvmm_kvm_vm_set_memory(t->vm, &reg), 0);
	if (o->irqchip)
		ck_assert_int_eq(cvmm_kvm_vm_create_irqchip(t->vm), 0);
	if (o->ring_bytes)
		ck_assert_int_eq(cvmm_kvm_vm_enable_dirty_ring(t->vm, o->ring_bytes), 0);
	ck_assert_int_eq(cvmm_kvm_vcpu_create(t->vm, 0, &t->vcpu), 0);
	tvm_vcpu_setup(t, t->vcpu, o->mode);
}

void tvm_teardown(struct tvm *t)
{
	cvmm_kvm_vcpu_destroy(t->vcpu);
	cvmm_kvm_vm_destroy(t->vm);
	cvmm_kvm_destroy(t->kvm);
	if (t->mem)
		munmap(t->mem, TVM_MEM_SIZE);
	memset(t, 0, sizeof(*t));
}

void tvm_load(struct tvm *t, const void *code, size_t len)
{
	ck_assert_uint_le(len, 0x1000);
	memcpy(t->mem + TVM_CODE, code, len);
	TVM_SET(t->vcpu, rip, t->mode == TVM_REAL ? 0 : TVM_CODE);
}

struct cvmm_kvm_exit tvm_run(struct tvm *t)
{
	struct cvmm_kvm_exit x;

	for (int i = 0; i < 1000; i++) {
		ck_assert_int_eq(cvmm_kvm_vcpu_run(t->vcpu, &x), 0);
		if (x.reason != CVMM_KVM_EXIT_INTR)
			return x;
	}
	ck_abort_msg("vCPU kept returning INTR");
	return x;
}
