/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The cvmm test-guest image format and the boot ABI, shared by the guest
 * runtime (freestanding, built for the guest) and the VMM-side loader
 * (examples/hello-kvm/guest-loader.c). Only <stdint.h> types: this header
 * must compile in both worlds.
 *
 * An image is a flat binary: the bytes to copy to guest physical address
 * load_gpa, starting with struct cvmm_guest_image_hdr. The VMM enters it
 * directly in 64-bit mode (no firmware, no real-mode trampoline): it builds
 * the GDT, a TSS per vCPU and identity page tables, and sets the registers
 * described under "Boot ABI" below. See docs/test-guests.md.
 *
 * All fields are little-endian. A loader must treat the file as hostile.
 */
#ifndef CVMM_GUEST_IMAGE_H
#define CVMM_GUEST_IMAGE_H

#include <stdint.h>

#define CVMM_GUEST_MAGIC "CVMMGST1"   /* 8 bytes, no terminator in the file */
#define CVMM_GUEST_MAGIC_LEN 8
#define CVMM_GUEST_VERSION 1u

/* Header flags. Unknown flags make a loader reject the image. */
#define CVMM_GUEST_F_ENTER_CPL0 0x1   /* enter at CPL0 (the runtime drops to CPL3 itself) */
#define CVMM_GUEST_F_KNOWN (CVMM_GUEST_F_ENTER_CPL0)

struct cvmm_guest_image_hdr {
	char magic[CVMM_GUEST_MAGIC_LEN]; /* CVMM_GUEST_MAGIC */
	uint32_t version;                 /* CVMM_GUEST_VERSION */
	uint32_t hdr_size;                /* sizeof(struct cvmm_guest_image_hdr) */
	uint64_t load_gpa;                /* where byte 0 of the file goes; 4 KiB aligned */
	uint64_t entry;                   /* GPA of the first instruction, inside the file */
	uint64_t file_size;               /* bytes of the file (== its length) */
	uint64_t mem_size;                /* bytes occupied from load_gpa, >= file_size (the rest is bss, zeroed) */
	uint64_t stack_size;              /* per-vCPU stack wanted, 4 KiB multiple, >= 4 KiB */
	uint32_t flags;                   /* CVMM_GUEST_F_* */
	uint32_t reserved;                /* 0 */
};
/* 64 bytes: fixed by version 1. */

/* Limits a loader enforces (a hostile header cannot ask for more). */
#define CVMM_GUEST_MAX_STACK (16ull << 20)
#define CVMM_GUEST_MIN_STACK 4096ull

/* ---------------------------------------------------------------------- */
/* Boot ABI                                                                */
/* ---------------------------------------------------------------------- */
/*
 * At the entry point, on every vCPU:
 *   - long mode, paging on (CR0.PG|PE|WP... , CR4.PAE, EFER.LME|LMA|NXE),
 *     identity map of [0, 4 GiB) and of all RAM above, 2 MiB pages, every
 *     entry with the U bit (so CPL3 code reaches all of memory, MMIO too);
 *   - CS/SS are the user selectors below (CPL3) unless the image has
 *     CVMM_GUEST_F_ENTER_CPL0, then the kernel ones;
 *   - RFLAGS = 0x3002: IOPL 3 (port I/O, CLI/STI allowed at CPL3), IF = 0;
 *   - RDI = the vCPU index (0 .. ncpus-1), RSI = GPA of the boot info,
 *     RSP = top of this vCPU's stack (16-byte aligned), other GPRs 0;
 *   - TR = this vCPU's TSS, whose RSP0 is a private 4 KiB ring-0 stack (for
 *     interrupts taken at CPL3); IDTR = empty (limit 0) until the guest loads one.
 */
#define CVMM_GUEST_SEL_KCODE 0x08
#define CVMM_GUEST_SEL_KDATA 0x10
#define CVMM_GUEST_SEL_UCODE 0x1b /* GDT entry 3, RPL 3 */
#define CVMM_GUEST_SEL_UDATA 0x23 /* GDT entry 4, RPL 3 */
#define CVMM_GUEST_SEL_TSS0 0x28  /* vCPU i: 0x28 + 16 * i (16-byte descriptors) */
#define CVMM_GUEST_ENTRY_RFLAGS 0x3002ull

#define CVMM_GUEST_BOOT_MAGIC 0x544f4f42474d5643ull /* "CVMGBOOT" */
#define CVMM_GUEST_MAX_RAM_RANGES 4
#define CVMM_GUEST_NUM_ARGS 4

/* Written by the VMM before entry; read-only for the guest. */
struct cvmm_guest_boot_info {
	uint64_t magic;          /* CVMM_GUEST_BOOT_MAGIC */
	uint32_t size;           /* sizeof(struct cvmm_guest_boot_info) */
	uint32_t ncpus;          /* vCPUs started */
	uint64_t free_gpa;       /* first GPA nothing of the VMM's lives at or above */
	uint64_t ram_end;        /* one past the highest RAM GPA */
	uint32_t nr_ram;         /* valid entries in ram[] */
	uint32_t reserved;
	struct {
		uint64_t gpa;
		uint64_t size;
	} ram[CVMM_GUEST_MAX_RAM_RANGES];
	uint64_t args[CVMM_GUEST_NUM_ARGS]; /* test-specific values from the VMM */
};

/* ---------------------------------------------------------------------- */
/* Ports the guests talk to (the VMM implements them)                      */
/* ---------------------------------------------------------------------- */
#define CVMM_GUEST_PORT_EXIT 0xf4    /* 32-bit OUT: the guest's exit code; the VM stops */
#define CVMM_GUEST_PORT_MARKER 0xf8  /* 8-bit OUT: "reached this point" (benchmarks) */
#define CVMM_GUEST_PORT_SYNC 0xf9    /* 8-bit OUT: a test-defined handshake with the VMM */
#define CVMM_GUEST_PORT_COM1 0x3f8   /* 8-bit OUT: one character of serial output */

#endif /* CVMM_GUEST_IMAGE_H */
