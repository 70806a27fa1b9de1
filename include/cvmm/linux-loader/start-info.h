/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/linux-loader/start-info.h
 * @brief The PVH boot ABI: the start-of-day structure a PVH kernel finds in
 * EBX, its module list and memory map (Xen's public
 * arch-x86/hvm/start_info.h, version 1), and the ELF note that marks a
 * PVH-capable kernel. Definitions written from that specification.
 *
 * Thread safety: plain data.
 */
#ifndef CVMM_LINUX_LOADER_START_INFO_H
#define CVMM_LINUX_LOADER_START_INFO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_HVM_START_MAGIC 0x336ec578u /* "xEn3" with the 0x80 bit of the "E" set */
#define CVMM_HVM_START_VERSION 1u
/* ELF note (owner "Xen") whose descriptor is the 32-bit PVH entry point. */
#define CVMM_XEN_ELFNOTE_PHYS32_ENTRY 18u

/* Memory map types: the e820 values. */
#define CVMM_HVM_MEMMAP_RAM 1u
#define CVMM_HVM_MEMMAP_RESERVED 2u
#define CVMM_HVM_MEMMAP_ACPI 3u
#define CVMM_HVM_MEMMAP_NVS 4u
#define CVMM_HVM_MEMMAP_UNUSABLE 5u
#define CVMM_HVM_MEMMAP_DISABLED 6u
#define CVMM_HVM_MEMMAP_PMEM 7u

struct cvmm_hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;    /* version >= 1 */
	uint32_t memmap_entries;  /* version >= 1 */
	uint32_t reserved;
};

struct cvmm_hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct cvmm_hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct cvmm_hvm_start_info) == 56, "hvm_start_info size");
_Static_assert(offsetof(struct cvmm_hvm_start_info, rsdp_paddr) == 32, "rsdp_paddr");
_Static_assert(offsetof(struct cvmm_hvm_start_info, memmap_paddr) == 40, "memmap_paddr");
_Static_assert(offsetof(struct cvmm_hvm_start_info, memmap_entries) == 48, "memmap_entries");
_Static_assert(sizeof(struct cvmm_hvm_modlist_entry) == 32, "modlist entry size");
_Static_assert(sizeof(struct cvmm_hvm_memmap_table_entry) == 24, "memmap entry size");

#ifdef __cplusplus
}
#endif

#endif /* CVMM_LINUX_LOADER_START_INFO_H */
