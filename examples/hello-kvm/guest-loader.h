/* SPDX-License-Identifier: Apache-2.0 */
/*
 * VMM side of the cvmm test-guest format (tests/guests/include/
 * cvmm-guest-image.h, docs/test-guests.md): validate an image, copy it into
 * guest memory, build what 64-bit entry needs (GDT, one TSS per vCPU,
 * identity page tables with the U bit, the boot info) and compute each
 * vCPU's registers. Reused by the integration tests and benchmarks; links
 * only vm-memory and kvm-ioctls.
 *
 * The image file is hostile input: every header field is checked for
 * consistency, overflow and fit in guest RAM before anything is written.
 */
#ifndef CVMM_GUEST_LOADER_H
#define CVMM_GUEST_LOADER_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/kvm-ioctls.h>
#include <cvmm/vm-memory.h>

#include "cvmm-guest-image.h"

/* Files larger than this are refused before reading them. */
#define CVMM_GUEST_MAX_FILE (64ull << 20)
/* vCPUs the loader lays out (TSS descriptors in one GDT page). */
#define CVMM_GUEST_MAX_CPUS 254

/** A validated header. */
struct cvmm_guest_image {
	uint64_t load_gpa;
	uint64_t entry;
	uint64_t file_size;
	uint64_t mem_size;
	uint64_t stack_size;
	uint32_t flags;
};

/**
 * Validate the image in @data (@len bytes, the whole file) on its own.
 * @return 0 with *@out filled; -ENOEXEC (shorter than a header or bad
 * magic); -EOPNOTSUPP (other version or header size, unknown flags);
 * -EINVAL (file_size != @len, mem_size < file_size, unaligned load_gpa,
 * stack size out of [4 KiB, 16 MiB] or unaligned, entry outside the file's
 * code, reserved field set, or any range that wraps around 2^64).
 * Thread safety: reentrant.
 */
int cvmm_guest_image_parse(const void *data, size_t len, struct cvmm_guest_image *out);

struct cvmm_guest_load_opts {
	size_t sz;            /* sizeof(struct cvmm_guest_load_opts) */
	uint32_t ncpus;       /* 1 .. CVMM_GUEST_MAX_CPUS */
	uint64_t args[CVMM_GUEST_NUM_ARGS]; /* boot info args[] */
};

/** Where the loader put things; input to cvmm_guest_vcpu_regs(). */
struct cvmm_guest_layout {
	struct cvmm_guest_image img;
	uint32_t ncpus;
	uint64_t stacks_gpa;     /* vCPU i: [stacks_gpa + i * stack_block, +stack_block) */
	uint64_t stack_block;    /* stack_size + the 4 KiB ring-0 stack above it */
	uint64_t gdt_gpa;
	uint16_t gdt_limit;
	uint64_t tss_gpa;        /* vCPU i's TSS (and I/O bitmap) at tss_gpa + 12 KiB * i */
	uint64_t boot_info_gpa;
	uint64_t pml4_gpa;
	uint64_t map_end;        /* identity map covers [0, map_end) */
	uint64_t free_gpa;       /* first byte after everything the loader wrote */
};

/**
 * Validate @data and load it into @mem: the image at its load GPA with the
 * bss zeroed, then (page aligned, after the image) the stacks, GDT, TSSs,
 * boot info and page tables. All of it must lie in one RAM region.
 * @return 0 with *@out filled; the errors of cvmm_guest_image_parse();
 * -EINVAL (bad @o: sz, ncpus); -EFAULT (some part does not fit in guest RAM);
 * -ENOMEM.
 * Thread safety: not against other users of @mem; call before vCPUs run.
 */
int cvmm_guest_load(struct cvmm_guest_mem *mem, const void *data, size_t len,
		    const struct cvmm_guest_load_opts *o, struct cvmm_guest_layout *out);

/**
 * Read @path (at most CVMM_GUEST_MAX_FILE bytes) and cvmm_guest_load() it.
 * @return as cvmm_guest_load(); -EFBIG (file too large); -errno from open/read.
 */
int cvmm_guest_load_file(struct cvmm_guest_mem *mem, const char *path,
			 const struct cvmm_guest_load_opts *o,
			 struct cvmm_guest_layout *out);

/**
 * The entry state of vCPU @cpu: fills @regs completely and the segment,
 * descriptor-table and control-register fields of @sregs (call with the
 * vCPU's current sregs so the rest, e.g. apic_base, is kept).
 * @return 0; -EINVAL (@cpu >= ncpus).
 * Thread safety: reentrant.
 */
int cvmm_guest_vcpu_regs(const struct cvmm_guest_layout *l, uint32_t cpu,
			 struct kvm_regs *regs, struct kvm_sregs *sregs);

/**
 * Set up vCPU @cpu for entry: CPUID (the supported set, with this vCPU's
 * APIC ID), then sregs and regs from cvmm_guest_vcpu_regs().
 * @return 0 or a negative errno from kvm-ioctls.
 * Thread safety: the vCPU's thread, before its first run.
 */
int cvmm_guest_vcpu_setup(const struct cvmm_guest_layout *l, struct cvmm_kvm_vcpu *vcpu,
			  uint32_t cpu);

#endif /* CVMM_GUEST_LOADER_H */
