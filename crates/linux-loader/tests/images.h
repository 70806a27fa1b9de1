/* SPDX-License-Identifier: Apache-2.0 */
/* Synthetic kernel images for the linux-loader tests and fuzz seeds. */
#ifndef CVMM_LINUX_LOADER_TEST_IMAGES_H
#define CVMM_LINUX_LOADER_TEST_IMAGES_H

#include <stddef.h>
#include <stdint.h>

struct test_seg {
	uint64_t paddr;
	uint64_t filesz;
	uint64_t memsz;
	uint8_t fill;      /* byte i of the segment is fill + i */
};

struct test_elf {
	uint64_t entry;
	unsigned int pvh_desc; /* 0: no PVH note; 4 or 8: descriptor size */
	uint64_t pvh_entry;
	unsigned int nsegs;
	struct test_seg segs[8];
	const uint8_t *code;   /* copied to the start of segment 0 when set */
	size_t code_len;
};

/* ELF64 x86-64 EXEC: header, program headers, a GNU and a Xen note, then
 * each segment's bytes at a page-aligned offset. malloc'ed, size in *len. */
uint8_t *test_build_elf(const struct test_elf *s, size_t *len);
/* File offsets of the fields the hostile tests poke. */
#define TEST_ELF_PHOFF 64u
#define TEST_ELF_PHDR_SIZE 56u

struct test_bz {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;
	uint32_t cmdline_size;
	uint32_t initrd_addr_max;
	size_t payload_len;    /* byte i of the payload is (i * 7 + 3) & 0xff */
};

/* A bzImage-shaped file: setup sectors with the header, then the payload. */
uint8_t *test_build_bzimage(const struct test_bz *s, size_t *len);
void test_bz_defaults(struct test_bz *s);
static inline uint8_t test_bz_payload_byte(size_t i)
{
	return (uint8_t)(i * 7 + 3);
}

#endif
