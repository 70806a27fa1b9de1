/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Boot-vCPU segments, descriptor tables, identity page tables, control
 * registers, general registers, FPU, MSRs and LAPIC for the two entry modes.
 */
#include "internal.h"

#include <cvmm/linux-loader/x86-boot.h>
#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1ull << 30)
#define PAGE 4096ull
#define IDT_BYTES 8ull

struct layout {
	uint64_t gdt, idt, pt, map_size;
	uint32_t flags;
};

static int get_layout(const struct cvmm_x86_boot_opts *o, struct layout *l)
{
	l->gdt = CVMM_LOADER_GDT_GPA;
	l->idt = CVMM_LOADER_IDT_GPA;
	l->pt = CVMM_LOADER_PAGE_TABLES_GPA;
	l->map_size = 4 * GIB;
	l->flags = 0;
	if (!o)
		return 0;
	if (o->sz < offsetof(struct cvmm_x86_boot_opts, flags) + sizeof(o->flags) || o->sz > sizeof(*o))
		return -EINVAL;
	if (o->flags & ~CVMM_X86_BOOT_F_USER)
		return -EINVAL;
	if (o->gdt_gpa)
		l->gdt = o->gdt_gpa;
	if (o->idt_gpa)
		l->idt = o->idt_gpa;
	if (o->page_tables_gpa)
		l->pt = o->page_tables_gpa;
	if (o->identity_map_size)
		l->map_size = o->identity_map_size;
	l->flags = o->flags;
	if (l->pt & (PAGE - 1) || l->map_size % GIB || l->map_size > 512 * GIB)
		return -EINVAL;
	return 0;
}

/* Bytes of page tables: PML4, PDPT, one PD per GiB. */
static uint64_t pt_bytes(const struct layout *l)
{
	return (2 + l->map_size / GIB) * PAGE;
}

static uint64_t descriptor(uint8_t access, uint8_t flags, uint32_t limit)
{
	return (uint64_t)(limit & 0xffff) | ((uint64_t)((limit >> 16) & 0xf) << 48) |
	       ((uint64_t)access << 40) | ((uint64_t)(flags & 0xf) << 52);
}

/* The KVM view of a flat descriptor (base 0). */
static void segment(struct kvm_segment *s, uint64_t desc, uint16_t sel)
{
	uint32_t limit = (uint32_t)((desc & 0xffff) | (((desc >> 48) & 0xf) << 16));
	uint8_t access = (uint8_t)(desc >> 40), flags = (uint8_t)((desc >> 52) & 0xf);

	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->g = (flags >> 3) & 1;
	s->limit = s->g ? (limit << 12) | 0xfff : limit;
	s->selector = sel;
	s->type = access & 0xf;
	s->s = (access >> 4) & 1;
	s->dpl = (access >> 5) & 3;
	s->present = (access >> 7) & 1;
	s->l = (flags >> 1) & 1;
	s->db = (flags >> 2) & 1;
	s->avl = flags & 1;
}

static void build_gdt(uint64_t gdt[CVMM_X86_BOOT_GDT_ENTRIES], bool user)
{
	uint8_t dpl = user ? 0x60 : 0;

	gdt[0] = 0;
	gdt[1] = descriptor(0x9b | dpl, 0xc, 0xfffff); /* 32-bit code, 4 GiB */
	gdt[2] = descriptor(0x9b | dpl, 0xa, 0xfffff); /* 64-bit code */
	gdt[3] = descriptor(0x93 | dpl, 0xc, 0xfffff); /* data, 4 GiB */
	gdt[4] = descriptor(0x8b, 0x0, 0x67);          /* busy 32-bit TSS */
}

/* Check every area against RAM and each other, then write GDT and IDT. */
static int write_tables(struct cvmm_guest_mem *m, const struct layout *l, bool with_pt,
			uint64_t gdt[CVMM_X86_BOOT_GDT_ENTRIES])
{
	uint64_t gdt_len = CVMM_X86_BOOT_GDT_ENTRIES * 8, ptl = with_pt ? pt_bytes(l) : 0;
	uint64_t zero = 0;
	int r;

	if (!cvmm_ll_ram_writable(m, l->gdt, gdt_len) ||
	    !cvmm_ll_ram_writable(m, l->idt, IDT_BYTES) ||
	    (with_pt && !cvmm_ll_ram_writable(m, l->pt, ptl)))
		return -EFAULT;
	if (cvmm_ll_overlap(l->gdt, gdt_len, l->idt, IDT_BYTES) ||
	    cvmm_ll_overlap(l->gdt, gdt_len, l->pt, ptl) ||
	    cvmm_ll_overlap(l->idt, IDT_BYTES, l->pt, ptl))
		return -EINVAL;
	build_gdt(gdt, l->flags & CVMM_X86_BOOT_F_USER);
	r = cvmm_guest_mem_write(m, l->gdt, gdt, gdt_len);
	if (!r)
		r = cvmm_guest_mem_write(m, l->idt, &zero, IDT_BYTES);
	return r;
}

static int write_page_tables(struct cvmm_guest_mem *m, const struct layout *l)
{
	uint64_t len = pt_bytes(l), n_pd = l->map_size / GIB;
	uint64_t user = l->flags & CVMM_X86_BOOT_F_USER ? CVMM_X86_PTE_US : 0;
	uint64_t base = CVMM_X86_PTE_P | CVMM_X86_PTE_RW | user;
	uint64_t *t = calloc(1, len);
	int r;

	if (!t)
		return -ENOMEM;
	/* t[0..511] PML4, t[512..1023] PDPT, then the page directories. */
	t[0] = (l->pt + PAGE) | base;
	for (uint64_t i = 0; i < n_pd; i++) {
		t[512 + i] = (l->pt + (2 + i) * PAGE) | base;
		for (uint64_t j = 0; j < 512; j++)
			t[1024 + i * 512 + j] = ((i * 512 + j) << 21) | base | CVMM_X86_PTE_PS;
	}
	r = cvmm_guest_mem_write(m, l->pt, t, len);
	free(t);
	return r;
}

static void set_segments(struct kvm_sregs *s, const struct layout *l, const uint64_t *gdt,
			 unsigned int code_idx)
{
	uint16_t rpl = l->flags & CVMM_X86_BOOT_F_USER ? 3 : 0;

	segment(&s->cs, gdt[code_idx], (uint16_t)(code_idx * 8) | rpl);
	segment(&s->ds, gdt[3], CVMM_X86_BOOT_SEL_DATA | rpl);
	s->es = s->fs = s->gs = s->ss = s->ds;
	segment(&s->tr, gdt[4], CVMM_X86_BOOT_SEL_TSS);
	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.unusable = 1;
	s->ldt.type = 2;
	s->ldt.present = 1;
	s->gdt.base = l->gdt;
	s->gdt.limit = CVMM_X86_BOOT_GDT_ENTRIES * 8 - 1;
	s->idt.base = l->idt;
	s->idt.limit = 0;
}

int cvmm_x86_boot_setup_long_mode(struct cvmm_guest_mem *m, const struct cvmm_x86_boot_opts *o,
				  struct kvm_sregs *sregs)
{
	uint64_t gdt[CVMM_X86_BOOT_GDT_ENTRIES];
	struct layout l;
	int r;

	if (!m || !sregs)
		return -EINVAL;
	r = get_layout(o, &l);
	if (!r)
		r = write_tables(m, &l, true, gdt);
	if (!r)
		r = write_page_tables(m, &l);
	if (r)
		return r;
	set_segments(sregs, &l, gdt, 2);
	sregs->cr0 = CVMM_X86_CR0_PE | CVMM_X86_CR0_ET | CVMM_X86_CR0_NE | CVMM_X86_CR0_PG;
	sregs->cr3 = l.pt;
	sregs->cr4 = CVMM_X86_CR4_PAE | CVMM_X86_CR4_OSFXSR | CVMM_X86_CR4_OSXMMEXCPT;
	sregs->efer = CVMM_X86_EFER_LME | CVMM_X86_EFER_LMA | CVMM_X86_EFER_SCE;
	return 0;
}

int cvmm_x86_boot_setup_protected_mode(struct cvmm_guest_mem *m,
				       const struct cvmm_x86_boot_opts *o,
				       struct kvm_sregs *sregs)
{
	uint64_t gdt[CVMM_X86_BOOT_GDT_ENTRIES];
	struct layout l;
	int r;

	if (!m || !sregs)
		return -EINVAL;
	r = get_layout(o, &l);
	if (!r)
		r = write_tables(m, &l, false, gdt);
	if (r)
		return r;
	set_segments(sregs, &l, gdt, 1);
	sregs->cr0 = CVMM_X86_CR0_PE | CVMM_X86_CR0_ET;
	sregs->cr3 = 0;
	sregs->cr4 = 0;
	sregs->efer = 0;
	return 0;
}

int cvmm_x86_boot_setup_sregs(struct cvmm_guest_mem *m, const struct cvmm_loader_result *res,
			      const struct cvmm_x86_boot_opts *o, struct kvm_sregs *sregs)
{
	if (!res)
		return -EINVAL;
	switch (res->mode) {
	case CVMM_BOOT_LINUX64:
		return cvmm_x86_boot_setup_long_mode(m, o, sregs);
	case CVMM_BOOT_PVH32:
		return cvmm_x86_boot_setup_protected_mode(m, o, sregs);
	default:
		return -EINVAL;
	}
}

void cvmm_x86_boot_setup_regs(const struct cvmm_loader_result *res, uint64_t stack_gpa,
			      uint32_t flags, struct kvm_regs *regs)
{
	memset(regs, 0, sizeof(*regs));
	/* Bit 1 of RFLAGS is reserved and always set. */
	regs->rflags = 0x2 | (flags & CVMM_X86_BOOT_F_USER ? 0x3000 : 0);
	regs->rip = res->entry;
	regs->rsp = regs->rbp = stack_gpa ? stack_gpa : CVMM_LOADER_STACK_GPA;
	if (res->mode == CVMM_BOOT_PVH32)
		regs->rbx = res->boot_info_gpa;
	else
		regs->rsi = res->boot_info_gpa;
}

void cvmm_x86_boot_setup_fpu(struct kvm_fpu *fpu)
{
	memset(fpu, 0, sizeof(*fpu));
	fpu->fcw = 0x37f;
	fpu->mxcsr = 0x1f80;
}

int cvmm_x86_boot_msrs(struct kvm_msr_entry *e, unsigned int max)
{
	static const struct {
		uint32_t index;
		uint64_t data;
	} msrs[CVMM_X86_BOOT_NR_MSRS] = {
		{ 0x174, 0 },         /* IA32_SYSENTER_CS */
		{ 0x175, 0 },         /* IA32_SYSENTER_ESP */
		{ 0x176, 0 },         /* IA32_SYSENTER_EIP */
		{ 0xc0000081, 0 },    /* STAR */
		{ 0xc0000082, 0 },    /* LSTAR */
		{ 0xc0000083, 0 },    /* CSTAR */
		{ 0xc0000084, 0 },    /* SYSCALL_MASK */
		{ 0xc0000102, 0 },    /* KERNEL_GS_BASE */
		{ 0x10, 0 },          /* TSC */
		{ 0x1a0, 1 },         /* MISC_ENABLE: fast strings */
		{ 0x2ff, (1u << 11) | 6 }, /* MTRRdefType: enabled, write-back */
	};

	if (!e || max < CVMM_X86_BOOT_NR_MSRS)
		return -ENOSPC;
	for (unsigned int i = 0; i < CVMM_X86_BOOT_NR_MSRS; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].index = msrs[i].index;
		e[i].data = msrs[i].data;
	}
	return CVMM_X86_BOOT_NR_MSRS;
}

static void set_lvt_mode(struct kvm_lapic_state *s, unsigned int off, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, s->regs + off, sizeof(v));
	v = (v & ~0x700u) | (mode << 8);
	memcpy(s->regs + off, &v, sizeof(v));
}

void cvmm_x86_boot_setup_lapic(struct kvm_lapic_state *s)
{
	set_lvt_mode(s, CVMM_APIC_LVT_LINT0, CVMM_APIC_DM_EXTINT);
	set_lvt_mode(s, CVMM_APIC_LVT_LINT1, CVMM_APIC_DM_NMI);
}
