/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bzImage: the real-mode setup sectors carry the setup header at 0x1f1;
 * the protected-mode kernel follows them. Checked against boot.rst.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Image bytes [0x1f1, 0x26c): the whole header of protocol 2.15. */
#define HDR_OFF CVMM_BOOT_SETUP_HEADER_OFFSET
#define HDR_END (HDR_OFF + sizeof(struct cvmm_setup_header))

int cvmm_ll_bzimage_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img)
{
	struct cvmm_setup_header h;
	struct cvmm_kernel_info *info = &img->info;
	uint8_t jump_len;
	uint64_t setup_sects, payload, hdr_end;
	int r;

	if (f->size < HDR_END)
		return -EBADMSG;
	r = cvmm_ll_file_read(f, &h, sizeof(h), HDR_OFF);
	if (r)
		return r;
	if (h.header != CVMM_BOOT_HDRS_MAGIC || h.boot_flag != CVMM_BOOT_FLAG_MAGIC)
		return -ENOEXEC;
	if (h.version < CVMM_BOOT_PROTOCOL_MIN || !(h.loadflags & CVMM_BOOT_LOADED_HIGH) ||
	    !(h.xloadflags & CVMM_BOOT_XLF_KERNEL_64))
		return -EOPNOTSUPP;

	/* 0 means 4 for historical reasons; the boot sector adds one. */
	setup_sects = h.setup_sects ? h.setup_sects : 4;
	info->setup_size = (setup_sects + 1) * CVMM_BOOT_SECTOR_SIZE;
	if (info->setup_size >= f->size)
		return -EBADMSG;
	payload = f->size - info->setup_size;
	/* syssize counts 16-byte paragraphs of the protected-mode part. */
	if ((uint64_t)h.syssize * 16 > payload + 15 || h.syssize == 0)
		return -EBADMSG;
	if (h.relocatable_kernel &&
	    (h.kernel_alignment < 4096 || (h.kernel_alignment & (h.kernel_alignment - 1))))
		return -EBADMSG;

	/* The header's length is given by the short jump at 0x200. */
	r = cvmm_ll_file_read(f, &jump_len, 1, 0x201);
	if (r)
		return r;
	hdr_end = 0x202ull + jump_len;
	if (hdr_end > HDR_END)
		hdr_end = HDR_END;
	img->hdr_len = hdr_end - HDR_OFF;
	memcpy(img->hdr, &h, img->hdr_len);

	info->format = CVMM_KERNEL_BZIMAGE;
	info->file_size = f->size;
	info->protocol = h.version;
	info->loadflags = h.loadflags;
	info->xloadflags = h.xloadflags;
	info->relocatable = h.relocatable_kernel;
	info->kernel_alignment = h.kernel_alignment;
	info->pref_address = h.pref_address;
	info->init_size = h.init_size;
	info->cmdline_size = h.cmdline_size;
	info->initrd_addr_max = h.initrd_addr_max;
	info->payload_size = payload;

	img->nsegs = 1;
	img->segs[0].file_off = info->setup_size;
	img->segs[0].filesz = payload;
	/* The decompressor needs init_size bytes from its load address. */
	img->segs[0].memsz = h.init_size > payload ? h.init_size : payload;
	img->segs[0].zero_tail = false;
	return 0;
}

int cvmm_ll_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img)
{
	uint8_t magic[4];
	uint32_t hdrs;
	int r;

	memset(img, 0, sizeof(*img));
	if (f->size >= sizeof(magic)) {
		r = cvmm_ll_file_read(f, magic, sizeof(magic), 0);
		if (r)
			return r;
		if (memcmp(magic, "\177ELF", 4) == 0)
			return cvmm_ll_elf_parse(f, img);
	}
	if (f->size >= 0x206) {
		r = cvmm_ll_file_read(f, &hdrs, sizeof(hdrs), 0x202);
		if (r)
			return r;
		if (hdrs == CVMM_BOOT_HDRS_MAGIC)
			return cvmm_ll_bzimage_parse(f, img);
	}
	return -ENOEXEC;
}

int cvmm_linux_loader_probe(int fd, struct cvmm_kernel_info *info)
{
	struct cvmm_ll_image *img;
	struct cvmm_ll_file f;
	int r;

	if (!info)
		return -EINVAL;
	r = cvmm_ll_file_open(fd, &f);
	if (r)
		return r;
	img = malloc(sizeof(*img));
	if (!img)
		return -ENOMEM;
	r = cvmm_ll_parse(&f, img);
	if (!r)
		*info = img->info;
	free(img);
	return r;
}
