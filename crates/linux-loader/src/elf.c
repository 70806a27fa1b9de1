/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ELF vmlinux: program headers and the PVH entry note. Only the file is
 * checked here; guest memory is checked when the load is planned.
 */
#include "internal.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A vmlinux note segment is a few hundred bytes; anything huge is hostile. */
#define MAX_NOTE_SEGMENT (1u << 20)

/* Walk one PT_NOTE segment for Xen's PHYS32_ENTRY. */
static int scan_notes(const uint8_t *buf, uint64_t len, struct cvmm_kernel_info *info)
{
	uint64_t pos = 0;

	while (len - pos >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, buf + pos, sizeof(nh));
		name_off = pos + sizeof(nh);
		/* namesz and descsz are 32-bit: the 4-aligned sums cannot wrap a u64. */
		desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ull);
		next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ull);
		if (desc_off > len || desc_off + nh.n_descsz > len)
			return -EBADMSG;
		if (nh.n_namesz == 4 && memcmp(buf + name_off, "Xen", 4) == 0 &&
		    nh.n_type == CVMM_XEN_ELFNOTE_PHYS32_ENTRY) {
			uint64_t entry;

			if (nh.n_descsz == 4) {
				uint32_t e32;

				memcpy(&e32, buf + desc_off, 4);
				entry = e32;
			} else if (nh.n_descsz == 8) {
				memcpy(&entry, buf + desc_off, 8);
			} else {
				return -EBADMSG;
			}
			/* PVH starts in 32-bit mode: the entry must be below 4 GiB. */
			if (entry > UINT32_MAX)
				return -EBADMSG;
			info->has_pvh = true;
			info->pvh_entry = entry;
		}
		if (next >= len)
			break;
		pos = next;
	}
	return 0;
}

/* Does @addr fall inside a loadable segment? */
static bool in_segment(const struct cvmm_ll_image *img, uint64_t addr)
{
	for (unsigned int i = 0; i < img->nsegs; i++)
		if (addr >= img->segs[i].gpa && addr - img->segs[i].gpa < img->segs[i].memsz)
			return true;
	return false;
}

int cvmm_ll_elf_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img)
{
	Elf64_Phdr *ph = NULL;
	Elf64_Ehdr eh;
	uint64_t ph_bytes, ph_end;
	int r;

	if (f->size < sizeof(eh))
		return -EBADMSG;
	r = cvmm_ll_file_read(f, &eh, sizeof(eh), 0);
	if (r)
		return r;
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return -ENOEXEC;
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh.e_machine != EM_X86_64 || eh.e_type != ET_EXEC)
		return -EOPNOTSUPP;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > CVMM_LOADER_MAX_PHDRS)
		return -EBADMSG;
	ph_bytes = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (__builtin_add_overflow(eh.e_phoff, ph_bytes, &ph_end) || ph_end > f->size)
		return -EBADMSG;
	ph = malloc(ph_bytes);
	if (!ph)
		return -ENOMEM;
	r = cvmm_ll_file_read(f, ph, ph_bytes, eh.e_phoff);
	if (r)
		goto out;

	img->info.format = CVMM_KERNEL_ELF;
	img->info.file_size = f->size;
	img->info.elf_entry = eh.e_entry;
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		const Elf64_Phdr *p = &ph[i];
		struct cvmm_ll_seg *s;
		uint64_t end;

		if (p->p_type == PT_NOTE) {
			uint8_t *notes;

			if (__builtin_add_overflow(p->p_offset, p->p_filesz, &end) || end > f->size ||
			    p->p_filesz > MAX_NOTE_SEGMENT) {
				r = -EBADMSG;
				goto out;
			}
			notes = malloc(p->p_filesz ? p->p_filesz : 1);
			if (!notes) {
				r = -ENOMEM;
				goto out;
			}
			r = cvmm_ll_file_read(f, notes, p->p_filesz, p->p_offset);
			if (!r)
				r = scan_notes(notes, p->p_filesz, &img->info);
			free(notes);
			if (r)
				goto out;
			continue;
		}
		if (p->p_type != PT_LOAD || p->p_memsz == 0)
			continue;
		if (p->p_filesz > p->p_memsz ||
		    __builtin_add_overflow(p->p_offset, p->p_filesz, &end) || end > f->size ||
		    __builtin_add_overflow(p->p_paddr, p->p_memsz, &end)) {
			r = -EBADMSG;
			goto out;
		}
		for (unsigned int j = 0; j < img->nsegs; j++) {
			if (cvmm_ll_overlap(p->p_paddr, p->p_memsz, img->segs[j].gpa,
					    img->segs[j].memsz)) {
				r = -EEXIST;
				goto out;
			}
		}
		s = &img->segs[img->nsegs++];
		s->file_off = p->p_offset;
		s->filesz = p->p_filesz;
		s->gpa = p->p_paddr;
		s->memsz = p->p_memsz;
		s->zero_tail = true;
	}
	if (img->nsegs == 0) {
		r = -EBADMSG;
		goto out;
	}
	/* An entry point outside the loaded image would run whatever is there. */
	if (!in_segment(img, eh.e_entry) ||
	    (img->info.has_pvh && !in_segment(img, img->info.pvh_entry)))
		r = -EBADMSG;
out:
	free(ph);
	return r;
}
