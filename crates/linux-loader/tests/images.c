/* SPDX-License-Identifier: Apache-2.0 */
#include "images.h"

#include <cvmm/linux-loader.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

static size_t note(uint8_t *p, const char *name, uint32_t type, const void *desc, uint32_t dlen)
{
	Elf64_Nhdr nh = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = dlen, .n_type = type };
	size_t off = sizeof(nh);

	memcpy(p, &nh, sizeof(nh));
	memcpy(p + off, name, nh.n_namesz);
	off += (nh.n_namesz + 3) & ~3u;
	memcpy(p + off, desc, dlen);
	off += (dlen + 3) & ~3u;
	return off;
}

uint8_t *test_build_elf(const struct test_elf *s, size_t *len)
{
	unsigned int nph = s->nsegs + 1;
	size_t notes_off = TEST_ELF_PHOFF + nph * sizeof(Elf64_Phdr), notes_len = 0;
	size_t data_off = (notes_off + 256 + 4095) & ~(size_t)4095, total = data_off;
	uint8_t notes[256];
	uint8_t *img;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	memset(notes, 0, sizeof(notes));
	notes_len += note(notes, "GNU", 3, "0123456789abcdef0123", 20);
	if (s->pvh_desc)
		notes_len += note(notes + notes_len, "Xen", CVMM_XEN_ELFNOTE_PHYS32_ENTRY,
				  &s->pvh_entry, s->pvh_desc);
	/* The file ends with the last segment's last byte: any truncation bites. */
	for (unsigned int i = 0; i < s->nsegs; i++)
		total += i + 1 < s->nsegs ? (s->segs[i].filesz + 4095) & ~(uint64_t)4095 : s->segs[i].filesz;
	img = calloc(1, total);
	if (!img)
		return NULL;
	memset(&eh, 0, sizeof(eh));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = s->entry;
	eh.e_phoff = TEST_ELF_PHOFF;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)nph;
	memcpy(img, &eh, sizeof(eh));

	memset(&ph, 0, sizeof(ph));
	ph.p_type = PT_NOTE;
	ph.p_offset = notes_off;
	ph.p_filesz = ph.p_memsz = notes_len;
	ph.p_align = 4;
	memcpy(img + TEST_ELF_PHOFF, &ph, sizeof(ph));
	memcpy(img + notes_off, notes, notes_len);

	for (unsigned int i = 0; i < s->nsegs; i++) {
		const struct test_seg *g = &s->segs[i];

		memset(&ph, 0, sizeof(ph));
		ph.p_type = PT_LOAD;
		ph.p_flags = PF_R | PF_W | PF_X;
		ph.p_offset = data_off;
		ph.p_vaddr = 0xffffffff80000000ull + g->paddr;
		ph.p_paddr = g->paddr;
		ph.p_filesz = g->filesz;
		ph.p_memsz = g->memsz;
		ph.p_align = 4096;
		memcpy(img + TEST_ELF_PHOFF + (i + 1) * sizeof(ph), &ph, sizeof(ph));
		for (uint64_t b = 0; b < g->filesz; b++)
			img[data_off + b] = (uint8_t)(g->fill + b);
		if (i == 0 && s->code)
			memcpy(img + data_off, s->code, s->code_len);
		data_off += (g->filesz + 4095) & ~(uint64_t)4095;
	}
	*len = total;
	return img;
}

void test_bz_defaults(struct test_bz *s)
{
	memset(s, 0, sizeof(*s));
	s->version = 0x020f;
	s->setup_sects = 4;
	s->loadflags = CVMM_BOOT_LOADED_HIGH;
	s->xloadflags = CVMM_BOOT_XLF_KERNEL_64 | CVMM_BOOT_XLF_CAN_BE_LOADED_ABOVE_4G;
	s->relocatable = 1;
	s->kernel_alignment = 0x200000;
	s->pref_address = 0x1000000;
	s->init_size = 0x400000;
	s->cmdline_size = 255;
	s->initrd_addr_max = 0x7fffffff;
	s->payload_len = 0x10000;
}

uint8_t *test_build_bzimage(const struct test_bz *s, size_t *len)
{
	size_t setup = ((size_t)(s->setup_sects ? s->setup_sects : 4) + 1) * 512;
	struct cvmm_setup_header h;
	uint8_t *img = calloc(1, setup + s->payload_len);

	if (!img)
		return NULL;
	memset(&h, 0, sizeof(h));
	h.setup_sects = s->setup_sects;
	h.syssize = (uint32_t)((s->payload_len + 15) / 16);
	h.boot_flag = CVMM_BOOT_FLAG_MAGIC;
	/* "jmp short" over the header to 0x26c. */
	h.jump = (uint16_t)(0xeb | ((0x26c - 0x202) << 8));
	h.header = CVMM_BOOT_HDRS_MAGIC;
	h.version = s->version;
	h.loadflags = s->loadflags;
	h.code32_start = 0x100000;
	h.initrd_addr_max = s->initrd_addr_max;
	h.kernel_alignment = s->kernel_alignment;
	h.relocatable_kernel = s->relocatable;
	h.min_alignment = 21;
	h.xloadflags = s->xloadflags;
	h.cmdline_size = s->cmdline_size;
	h.pref_address = s->pref_address;
	h.init_size = s->init_size;
	memcpy(img + CVMM_BOOT_SETUP_HEADER_OFFSET, &h, sizeof(h));
	for (size_t i = 0; i < s->payload_len; i++)
		img[setup + i] = test_bz_payload_byte(i);
	*len = setup + s->payload_len;
	return img;
}
