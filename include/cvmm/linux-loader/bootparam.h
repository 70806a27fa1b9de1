/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/linux-loader/bootparam.h
 * @brief The x86 Linux boot protocol structures (zero page, setup header,
 * e820, setup_data), written from Documentation/arch/x86/boot.rst and
 * zero-page.rst. All fields are little-endian, as on the wire.
 *
 * Thread safety: plain data.
 */
#ifndef CVMM_LINUX_LOADER_BOOTPARAM_H
#define CVMM_LINUX_LOADER_BOOTPARAM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_BOOT_FLAG_MAGIC 0xAA55u
#define CVMM_BOOT_HDRS_MAGIC 0x53726448u /* "HdrS" */
/* Oldest protocol we accept: 2.12 introduced xloadflags (XLF_KERNEL_64). */
#define CVMM_BOOT_PROTOCOL_MIN 0x020Cu

/* loadflags */
#define CVMM_BOOT_LOADED_HIGH 0x01u
#define CVMM_BOOT_KASLR_FLAG 0x02u
#define CVMM_BOOT_QUIET_FLAG 0x20u
#define CVMM_BOOT_KEEP_SEGMENTS 0x40u
#define CVMM_BOOT_CAN_USE_HEAP 0x80u

/* xloadflags */
#define CVMM_BOOT_XLF_KERNEL_64 0x01u
#define CVMM_BOOT_XLF_CAN_BE_LOADED_ABOVE_4G 0x02u
#define CVMM_BOOT_XLF_EFI_HANDOVER_32 0x04u
#define CVMM_BOOT_XLF_EFI_HANDOVER_64 0x08u
#define CVMM_BOOT_XLF_EFI_KEXEC 0x10u

/* The 64-bit entry point lies this far into the protected-mode kernel. */
#define CVMM_BOOT_STARTUP_64_OFFSET 0x200u
/* The setup header starts at this offset in the image and in boot_params. */
#define CVMM_BOOT_SETUP_HEADER_OFFSET 0x1F1u
#define CVMM_BOOT_SECTOR_SIZE 512u

/* e820 types (also used by the PVH memory map, which shares the values). */
#define CVMM_E820_RAM 1u
#define CVMM_E820_RESERVED 2u
#define CVMM_E820_ACPI 3u
#define CVMM_E820_NVS 4u
#define CVMM_E820_UNUSABLE 5u
#define CVMM_E820_PMEM 7u
#define CVMM_E820_MAX_ENTRIES_ZEROPAGE 128u

/* setup_data types */
#define CVMM_SETUP_NONE 0u
#define CVMM_SETUP_E820_EXT 1u
#define CVMM_SETUP_DTB 2u
#define CVMM_SETUP_PCI 3u
#define CVMM_SETUP_EFI 4u
#define CVMM_SETUP_RNG_SEED 9u

struct cvmm_setup_header {
	uint8_t setup_sects;
	uint16_t root_flags;
	uint32_t syssize;
	uint16_t ram_size;
	uint16_t vid_mode;
	uint16_t root_dev;
	uint16_t boot_flag;
	uint16_t jump;
	uint32_t header;
	uint16_t version;
	uint32_t realmode_swtch;
	uint16_t start_sys_seg;
	uint16_t kernel_version;
	uint8_t type_of_loader;
	uint8_t loadflags;
	uint16_t setup_move_size;
	uint32_t code32_start;
	uint32_t ramdisk_image;
	uint32_t ramdisk_size;
	uint32_t bootsect_kludge;
	uint16_t heap_end_ptr;
	uint8_t ext_loader_ver;
	uint8_t ext_loader_type;
	uint32_t cmd_line_ptr;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable_kernel;
	uint8_t min_alignment;
	uint16_t xloadflags;
	uint32_t cmdline_size;
	uint32_t hardware_subarch;
	uint64_t hardware_subarch_data;
	uint32_t payload_offset;
	uint32_t payload_length;
	uint64_t setup_data;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t handover_offset;
	uint32_t kernel_info_offset;
} __attribute__((packed));

struct cvmm_boot_e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* The "zero page": 4 KiB handed to the kernel in RSI. Areas the loader
 * never fills are kept as opaque padding. */
struct cvmm_boot_params {
	uint8_t screen_info[0x40];
	uint8_t apm_bios_info[0x14];
	uint8_t _pad2[4];
	uint64_t tboot_addr;
	uint8_t ist_info[0x10];
	uint64_t acpi_rsdp_addr;
	uint8_t _pad3[8];
	uint8_t hd0_info[16];
	uint8_t hd1_info[16];
	uint8_t sys_desc_table[0x10];
	uint8_t olpc_ofw_header[0x10];
	uint32_t ext_ramdisk_image;
	uint32_t ext_ramdisk_size;
	uint32_t ext_cmd_line_ptr;
	uint8_t _pad4[112];
	uint32_t cc_blob_address;
	uint8_t edid_info[0x80];
	uint8_t efi_info[0x20];
	uint32_t alt_mem_k;
	uint32_t scratch;
	uint8_t e820_entries;
	uint8_t eddbuf_entries;
	uint8_t edd_mbr_sig_buf_entries;
	uint8_t kbd_status;
	uint8_t secure_boot;
	uint8_t _pad5[2];
	uint8_t sentinel;
	uint8_t _pad6[1];
	struct cvmm_setup_header hdr;
	uint8_t _pad7[0x290 - 0x1f1 - sizeof(struct cvmm_setup_header)];
	uint32_t edd_mbr_sig_buffer[16];
	struct cvmm_boot_e820_entry e820_table[CVMM_E820_MAX_ENTRIES_ZEROPAGE];
	uint8_t _pad8[48];
	uint8_t eddbuf[6 * 82];
	uint8_t _pad9[276];
} __attribute__((packed));

/* A setup_data node as it lies in guest memory (payload follows). */
struct cvmm_setup_data {
	uint64_t next;
	uint32_t type;
	uint32_t len;
} __attribute__((packed));

_Static_assert(sizeof(struct cvmm_setup_header) == 0x26c - 0x1f1, "setup_header size");
_Static_assert(offsetof(struct cvmm_boot_params, acpi_rsdp_addr) == 0x070, "acpi_rsdp_addr");
_Static_assert(offsetof(struct cvmm_boot_params, ext_ramdisk_image) == 0x0c0, "ext_ramdisk_image");
_Static_assert(offsetof(struct cvmm_boot_params, cc_blob_address) == 0x13c, "cc_blob_address");
_Static_assert(offsetof(struct cvmm_boot_params, e820_entries) == 0x1e8, "e820_entries");
_Static_assert(offsetof(struct cvmm_boot_params, sentinel) == 0x1ef, "sentinel");
_Static_assert(offsetof(struct cvmm_boot_params, hdr) == 0x1f1, "hdr");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.boot_flag) == 0x1fe, "boot_flag");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.header) == 0x202, "header");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.type_of_loader) == 0x210, "type_of_loader");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.cmd_line_ptr) == 0x228, "cmd_line_ptr");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.xloadflags) == 0x236, "xloadflags");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.setup_data) == 0x250, "setup_data");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.pref_address) == 0x258, "pref_address");
_Static_assert(offsetof(struct cvmm_boot_params, hdr.init_size) == 0x260, "init_size");
_Static_assert(offsetof(struct cvmm_boot_params, edd_mbr_sig_buffer) == 0x290, "edd_mbr_sig_buffer");
_Static_assert(offsetof(struct cvmm_boot_params, e820_table) == 0x2d0, "e820_table");
_Static_assert(offsetof(struct cvmm_boot_params, eddbuf) == 0xd00, "eddbuf");
_Static_assert(sizeof(struct cvmm_boot_params) == 4096, "zero page size");
_Static_assert(sizeof(struct cvmm_boot_e820_entry) == 20, "e820 entry size");

#ifdef __cplusplus
}
#endif

#endif /* CVMM_LINUX_LOADER_BOOTPARAM_H */
