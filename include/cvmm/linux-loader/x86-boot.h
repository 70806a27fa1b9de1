/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/linux-loader/x86-boot.h
 * @brief Boot-vCPU state for the two entry modes of cvmm/linux-loader.h:
 * long mode (64-bit boot protocol: flat segments __BOOT_CS 0x10 and
 * __BOOT_DS 0x18, identity-mapped page tables, PAE/LME/LMA, paging) and the
 * PVH 32-bit flat protected mode (paging off, EBX = start_info). Plus the
 * FPU, boot MSRs, a CPUID table filtered from KVM's supported list with
 * topology and hypervisor leaves, and LAPIC LINT0/LINT1 wiring.
 *
 * These fill the <linux/kvm.h> structures only; issuing the ioctls
 * (KVM_GET/SET_SREGS, KVM_SET_REGS, KVM_SET_FPU, KVM_SET_MSRS,
 * KVM_SET_CPUID2, KVM_GET/SET_LAPIC) is the caller's business.
 *
 * GDT (at CVMM_LOADER_GDT_GPA by default), 8 bytes a descriptor:
 *   0x00 null, 0x08 32-bit flat code, 0x10 64-bit code, 0x18 flat data,
 *   0x20 32-bit TSS (base 0; loaded into TR so VM entry sees a usable one).
 * Identity page tables (at CVMM_LOADER_PAGE_TABLES_GPA by default): a PML4,
 * one PDPT, and one page directory of 2 MiB pages per GiB mapped, all
 * contiguous: 2 + GiB pages (6 pages = 24 KiB for the default 4 GiB).
 *
 * Thread safety: no shared state; guest memory writes as in vm-memory.
 */
#ifndef CVMM_LINUX_LOADER_X86_BOOT_H
#define CVMM_LINUX_LOADER_X86_BOOT_H

#include <cvmm/linux-loader.h>

#include <linux/kvm.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_guest_mem;

#define CVMM_X86_BOOT_SEL_CODE32 0x08u
#define CVMM_X86_BOOT_SEL_CODE64 0x10u
#define CVMM_X86_BOOT_SEL_DATA 0x18u
#define CVMM_X86_BOOT_SEL_TSS 0x20u
#define CVMM_X86_BOOT_GDT_ENTRIES 5u

#define CVMM_X86_CR0_PE 0x1ull
#define CVMM_X86_CR0_ET 0x10ull
#define CVMM_X86_CR0_NE 0x20ull
#define CVMM_X86_CR0_PG 0x80000000ull
#define CVMM_X86_CR4_PAE 0x20ull
#define CVMM_X86_CR4_OSFXSR 0x200ull
#define CVMM_X86_CR4_OSXMMEXCPT 0x400ull
#define CVMM_X86_EFER_SCE 0x1ull
#define CVMM_X86_EFER_LME 0x100ull
#define CVMM_X86_EFER_LMA 0x400ull

/* Page-table entry bits. */
#define CVMM_X86_PTE_P 0x1ull
#define CVMM_X86_PTE_RW 0x2ull
#define CVMM_X86_PTE_US 0x4ull
#define CVMM_X86_PTE_PS 0x80ull

/* cvmm_x86_boot_opts.flags */
/* Test guests that run at CPL3 (see docs): page tables with the U bit,
 * DPL-3 code/data segments and selectors with RPL 3, RFLAGS.IOPL = 3. */
#define CVMM_X86_BOOT_F_USER 0x1u

struct cvmm_x86_boot_opts {
	size_t sz;                  /* sizeof(struct cvmm_x86_boot_opts) */
	uint64_t gdt_gpa;           /* 0 = CVMM_LOADER_GDT_GPA */
	uint64_t idt_gpa;           /* 0 = CVMM_LOADER_IDT_GPA */
	uint64_t page_tables_gpa;   /* 0 = CVMM_LOADER_PAGE_TABLES_GPA; page-aligned */
	uint64_t identity_map_size; /* bytes mapped from 0; 0 = 4 GiB; a multiple of
				     * 1 GiB up to 512 GiB */
	uint32_t flags;             /* CVMM_X86_BOOT_F_* */
};

/**
 * Write the GDT, an empty IDT and the identity page tables into @m, and
 * set @sregs for 64-bit long mode: CS = 0x10 (L=1), DS/ES/FS/GS/SS = 0x18,
 * TR = 0x20, CR0 = PE|ET|NE|PG, CR3 = page tables, CR4 = PAE|OSFXSR|
 * OSXMMEXCPT, EFER = LME|LMA|SCE. Fields @sregs already holds that this
 * does not name (apic_base, interrupt_bitmap, cr8) are kept: start from
 * KVM_GET_SREGS. @o may be NULL for defaults.
 * @return 0; -EINVAL (bad o->sz or flags, map size not a GiB multiple or
 * over 512 GiB, unaligned page_tables_gpa, areas overlapping); -EFAULT (an
 * area outside guest RAM; nothing is written).
 */
int cvmm_x86_boot_setup_long_mode(struct cvmm_guest_mem *m, const struct cvmm_x86_boot_opts *o,
				  struct kvm_sregs *sregs);

/**
 * The PVH entry state: GDT (and empty IDT) written, CS = 0x08 (32-bit flat
 * code), data segments 0x18, TR = 0x20, CR0 = PE|ET, paging off, CR4 = 0,
 * EFER = 0. Page tables are neither written nor used.
 * @return 0; -EINVAL; -EFAULT.
 */
int cvmm_x86_boot_setup_protected_mode(struct cvmm_guest_mem *m,
				       const struct cvmm_x86_boot_opts *o,
				       struct kvm_sregs *sregs);

/**
 * Pick the mode of @res (LINUX64 -> long mode, PVH32 -> protected mode).
 * @return as above; -EINVAL for an unknown mode.
 */
int cvmm_x86_boot_setup_sregs(struct cvmm_guest_mem *m, const struct cvmm_loader_result *res,
			      const struct cvmm_x86_boot_opts *o, struct kvm_sregs *sregs);

/**
 * General registers for entry: RIP = res->entry, RFLAGS = 0x2 (IOPL 3 with
 * CVMM_X86_BOOT_F_USER in @flags), and RSI = boot_params (LINUX64) or
 * RBX = start_info (PVH32). RSP = RBP = @stack_gpa (0 =
 * CVMM_LOADER_STACK_GPA). Everything else is zero.
 */
void cvmm_x86_boot_setup_regs(const struct cvmm_loader_result *res, uint64_t stack_gpa,
			      uint32_t flags, struct kvm_regs *regs);

/** Reset FPU state: FCW 0x37f (all exceptions masked), MXCSR 0x1f80. */
void cvmm_x86_boot_setup_fpu(struct kvm_fpu *fpu);

/**
 * The boot MSR values (SYSENTER_CS/ESP/EIP, STAR, LSTAR, CSTAR,
 * SYSCALL_MASK, KERNEL_GS_BASE, TSC = 0; MISC_ENABLE = fast strings;
 * MTRRdefType = MTRRs enabled, write-back default) written to @e.
 * @return the number of entries (CVMM_X86_BOOT_NR_MSRS); -ENOSPC when
 * @max is smaller.
 */
int cvmm_x86_boot_msrs(struct kvm_msr_entry *e, unsigned int max);
#define CVMM_X86_BOOT_NR_MSRS 11u

/* cvmm_x86_cpuid_opts.flags */
#define CVMM_X86_CPUID_F_HV_LEAVES 0x1u /* write leaves 0x40000000/1 from the opts */
#define CVMM_X86_CPUID_F_NO_PMU 0x2u    /* zero leaf 0xA (no PMU offered) */
/* hv_features is a wish: keep only the bits KVM's own 0x40000001 offers */
#define CVMM_X86_CPUID_F_KVM_FEATURES 0x4u

/* KVM paravirtual features (leaf 0x40000001 EAX, <asm/kvm_para.h>). */
#define CVMM_KVM_FEATURE_CLOCKSOURCE (1u << 0)
#define CVMM_KVM_FEATURE_NOP_IO_DELAY (1u << 1)
#define CVMM_KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define CVMM_KVM_FEATURE_STEAL_TIME (1u << 5)
#define CVMM_KVM_FEATURE_PV_EOI (1u << 6)
#define CVMM_KVM_FEATURE_PV_TLB_FLUSH (1u << 9)
#define CVMM_KVM_FEATURE_MSI_EXT_DEST_ID (1u << 15)
#define CVMM_KVM_FEATURE_CLOCKSOURCE_STABLE_BIT (1u << 24)
/*
 * The features a VMM can offer with no work of its own and no hypercall:
 * kvmclock (both MSR sets, stable bit), no port-0x80 delays, steal time,
 * PV EOI, PV TLB flush, extended MSI destination IDs. Left out are those
 * whose guest side is a hypercall (PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD,
 * HC_MAP_GPA_RANGE) or async page faults: a caller that wants them adds
 * them.
 */
#define CVMM_KVM_FEATURES_DEFAULT                                                   \
	(CVMM_KVM_FEATURE_CLOCKSOURCE | CVMM_KVM_FEATURE_NOP_IO_DELAY |             \
	 CVMM_KVM_FEATURE_CLOCKSOURCE2 | CVMM_KVM_FEATURE_STEAL_TIME |              \
	 CVMM_KVM_FEATURE_PV_EOI | CVMM_KVM_FEATURE_PV_TLB_FLUSH |                  \
	 CVMM_KVM_FEATURE_MSI_EXT_DEST_ID | CVMM_KVM_FEATURE_CLOCKSOURCE_STABLE_BIT)

struct cvmm_x86_cpuid_opts {
	size_t sz;                 /* sizeof(struct cvmm_x86_cpuid_opts) */
	uint32_t apic_id;          /* this vCPU's APIC ID (= its index) */
	uint32_t nr_vcpus;         /* vCPUs in the (single-socket) VM, >= 1 */
	uint32_t threads_per_core; /* 1, 2, 4 or 8; 0 = 1 */
	uint32_t flags;            /* CVMM_X86_CPUID_F_* */
	char hv_signature[12];     /* leaf 0x40000000 EBX,ECX,EDX, e.g. "KVMKVMKVM\0\0\0" */
	uint32_t hv_features;      /* leaf 0x40000001 EAX (KVM_FEATURE_* bits) */
	/*
	 * Leaf 0x40000010 (the timing leaf QEMU and VMware offer): EAX the
	 * TSC frequency in kHz (KVM_GET_TSC_KHZ), EBX the APIC timer's bus in
	 * kHz (1000000: KVM's LAPIC timer counts nanoseconds). 0: no leaf.
	 * Needs CVMM_X86_CPUID_F_HV_LEAVES; absent from opts of older callers.
	 */
	uint32_t tsc_khz;
};

/**
 * Turn KVM_GET_SUPPORTED_CPUID's list (in @c, @capacity entries of room)
 * into this vCPU's table: leaf 1 gets the APIC ID, logical count, HTT and
 * the hypervisor bit; leaves 0xB and 0x1F (when listed) are rebuilt with
 * SMT and core levels and the x2APIC ID; leaf 4 gets the cache sharing and
 * core counts; with CVMM_X86_CPUID_F_HV_LEAVES leaves 0x40000000 (max leaf
 * 0x40000001, the signature) and 0x40000001 (features; with
 * CVMM_X86_CPUID_F_KVM_FEATURES only those the list's own 0x40000001
 * offers, none when it has no such leaf) are set, added if missing; with a
 * tsc_khz too, leaf 0x40000010 and a max leaf of 0x40000010.
 * @return 0; -EINVAL (bad opts, apic_id >= nr_vcpus, nent > capacity);
 * -ENOSPC (@capacity too small for the added entries; @c is unchanged).
 */
int cvmm_x86_boot_cpuid(struct kvm_cpuid2 *c, uint32_t capacity,
			const struct cvmm_x86_cpuid_opts *o);

/* LAPIC register offsets and LVT delivery modes. */
#define CVMM_APIC_LVT_LINT0 0x350u
#define CVMM_APIC_LVT_LINT1 0x360u
#define CVMM_APIC_DM_NMI 0x4u
#define CVMM_APIC_DM_EXTINT 0x7u

/**
 * Wire LINT0 as ExtINT (the legacy PIC's output) and LINT1 as NMI in a
 * state read with KVM_GET_LAPIC, leaving the other LVT bits as they are.
 */
void cvmm_x86_boot_setup_lapic(struct kvm_lapic_state *s);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_LINUX_LOADER_X86_BOOT_H */
