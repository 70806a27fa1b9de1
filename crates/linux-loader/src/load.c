/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm_linux_loader_load(): plan every write (kernel pieces, initrd, boot
 * information, command line, setup_data), check the plan against guest RAM
 * and for overlaps, and only then write.
 */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096ull
/* Start info page: the structure, one module entry, then the memory map. */
#define SI_MODLIST_OFF 0x40ull
#define SI_MEMMAP_OFF 0x80ull
#define SI_AREA 4096ull

/* The loader's own areas, checked against each other and the kernel. */
enum { AREA_BOOT, AREA_CMDLINE, AREA_SETUP_DATA, AREA_INITRD, AREA_MAX };

struct plan {
	struct cvmm_ll_image img;
	struct cvmm_ll_file kf, rf;
	bool have_initrd;
	enum cvmm_boot_mode mode;
	uint64_t entry;
	uint64_t kernel_start, kernel_end;
	uint64_t area_gpa[AREA_MAX], area_len[AREA_MAX];
	size_t cmdline_len;
	uint64_t initrd_limit; /* highest address the initrd's last byte may have */
	struct cvmm_mem_range memmap[CVMM_E820_MAX_ENTRIES_ZEROPAGE];
	unsigned int n_memmap;
};

static uint64_t or_default(uint64_t v, uint64_t def)
{
	return v ? v : def;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

/* Does [gpa, gpa+len) collide with a loader area other than @skip? */
static bool overlaps_area(const struct plan *p, uint64_t gpa, uint64_t len, int skip)
{
	for (int i = 0; i < AREA_MAX; i++)
		if (i != skip && cvmm_ll_overlap(gpa, len, p->area_gpa[i], p->area_len[i]))
			return true;
	return false;
}

/* Ranges the caller reserved (ACPI tables, firmware) are not ours to fill. */
static bool overlaps_reserved(const struct cvmm_loader_opts *o, uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < o->n_reserved; i++)
		if (cvmm_ll_overlap(gpa, len, o->reserved[i].addr, o->reserved[i].size))
			return true;
	return false;
}

static int check_opts(const struct cvmm_loader_opts *o)
{
	if (!o || o->sz < offsetof(struct cvmm_loader_opts, rsdp_gpa) + sizeof(o->rsdp_gpa) ||
	    o->sz > sizeof(*o))
		return -EINVAL;
	if ((o->n_setup_data && !o->setup_data) || (o->n_reserved && !o->reserved))
		return -EINVAL;
	if (o->flags & ~CVMM_LOADER_F_NO_PVH)
		return -EINVAL;
	for (unsigned int i = 0; i < o->n_setup_data; i++)
		if (o->setup_data[i].len && !o->setup_data[i].data)
			return -EINVAL;
	return 0;
}

/* The boot information page, command line and setup_data areas. */
static int plan_areas(struct plan *p, const struct cvmm_loader_opts *o)
{
	const char *cmdline = o->cmdline ? o->cmdline : "";
	uint64_t limit, sd_total = 0;

	if (p->mode == CVMM_BOOT_PVH32) {
		p->area_gpa[AREA_BOOT] = or_default(o->start_info_gpa, CVMM_LOADER_START_INFO_GPA);
		p->area_len[AREA_BOOT] = SI_MEMMAP_OFF +
			(uint64_t)p->n_memmap * sizeof(struct cvmm_hvm_memmap_table_entry);
		_Static_assert(SI_MEMMAP_OFF + CVMM_E820_MAX_ENTRIES_ZEROPAGE *
			       sizeof(struct cvmm_hvm_memmap_table_entry) <= SI_AREA,
			       "memory map fits the start info page");
	} else {
		p->area_gpa[AREA_BOOT] = or_default(o->zero_page_gpa, CVMM_LOADER_ZERO_PAGE_GPA);
		p->area_len[AREA_BOOT] = sizeof(struct cvmm_boot_params);
	}

	/* Command line: the kernel's limit, NUL excluded, then the caller's. */
	if (p->img.info.format == CVMM_KERNEL_BZIMAGE)
		limit = p->img.info.cmdline_size;
	else
		limit = CVMM_LOADER_ELF_CMDLINE_MAX - 1;
	if (o->cmdline_max && o->cmdline_max < limit)
		limit = o->cmdline_max;
	p->cmdline_len = strnlen(cmdline, limit + 1);
	if (p->cmdline_len > limit)
		return -E2BIG;
	p->area_gpa[AREA_CMDLINE] = or_default(o->cmdline_gpa, CVMM_LOADER_CMDLINE_GPA);
	p->area_len[AREA_CMDLINE] = p->cmdline_len + 1;

	if (o->n_setup_data) {
		if (p->mode != CVMM_BOOT_LINUX64)
			return -EINVAL;
		for (unsigned int i = 0; i < o->n_setup_data; i++) {
			uint64_t node = align_up(sizeof(struct cvmm_setup_data) +
						 (uint64_t)o->setup_data[i].len, 8);

			if (__builtin_add_overflow(sd_total, node, &sd_total) ||
			    sd_total > or_default(o->setup_data_max, CVMM_LOADER_SETUP_DATA_MAX))
				return -E2BIG;
		}
		p->area_gpa[AREA_SETUP_DATA] = align_up(or_default(o->setup_data_gpa,
								   CVMM_LOADER_SETUP_DATA_GPA), 8);
		p->area_len[AREA_SETUP_DATA] = sd_total;
	}

	return 0;
}

static int check_areas(const struct plan *p, const struct cvmm_guest_mem *m,
		       const struct cvmm_loader_opts *o)
{
	for (int i = 0; i < AREA_INITRD; i++) {
		if (!p->area_len[i])
			continue;
		if (!cvmm_ll_ram_writable(m, p->area_gpa[i], p->area_len[i]))
			return -EFAULT;
		if (overlaps_area(p, p->area_gpa[i], p->area_len[i], i) ||
		    overlaps_reserved(o, p->area_gpa[i], p->area_len[i]))
			return -EEXIST;
	}
	return 0;
}

/* Choose where a bzImage's protected-mode part goes. */
static int place_bzimage(struct plan *p, const struct cvmm_guest_mem *m,
			 const struct cvmm_loader_opts *o)
{
	struct cvmm_ll_seg *s = &p->img.segs[0];
	const struct cvmm_kernel_info *ki = &p->img.info;
	uint64_t align = ki->relocatable ? ki->kernel_alignment : PAGE;
	uint64_t want = o->kernel_gpa, end;

	if (want) {
		if (ki->relocatable ? (want & (align - 1)) : want != ki->pref_address)
			return -EINVAL;
		s->gpa = want;
	} else if (!ki->relocatable) {
		s->gpa = ki->pref_address;
	} else {
		/* pref_address when it fits, else the first aligned fit above 1 MiB. */
		s->gpa = 0;
		if (!(ki->pref_address & (align - 1)) && ki->pref_address >= CVMM_LOADER_HIGH_MEMORY &&
		    !__builtin_add_overflow(ki->pref_address, s->memsz, &end) &&
		    cvmm_ll_ram_writable(m, ki->pref_address, s->memsz) &&
		    !overlaps_area(p, ki->pref_address, s->memsz, -1) &&
		    !overlaps_reserved(o, ki->pref_address, s->memsz))
			s->gpa = ki->pref_address;
		for (unsigned int i = 0; !s->gpa && i < p->n_memmap; i++) {
			const struct cvmm_mem_range *e = &p->memmap[i];
			uint64_t a, e_end = e->addr + e->size;

			if (e->type != CVMM_E820_RAM)
				continue;
			a = align_up(e->addr > CVMM_LOADER_HIGH_MEMORY ? e->addr : CVMM_LOADER_HIGH_MEMORY, align);
			while (a >= e->addr && !__builtin_add_overflow(a, s->memsz, &end) && end <= e_end) {
				if (!overlaps_area(p, a, s->memsz, -1)) {
					s->gpa = a;
					break;
				}
				a = align_up(a + align, align);
			}
		}
		if (!s->gpa)
			return -EFAULT;
	}
	if (__builtin_add_overflow(s->gpa, s->memsz, &end))
		return -EFAULT;
	p->entry = s->gpa + CVMM_BOOT_STARTUP_64_OFFSET;
	return 0;
}

/* Highest page-aligned spot for the initrd in one RAM range, below the limit,
 * clear of the kernel and the loader areas. */
static int place_initrd(struct plan *p, uint64_t size)
{
	uint64_t limit_end = p->initrd_limit + 1;

	for (unsigned int i = p->n_memmap; i-- > 0;) {
		const struct cvmm_mem_range *e = &p->memmap[i];
		uint64_t top, a;

		if (e->type != CVMM_E820_RAM || e->addr >= limit_end)
			continue;
		top = e->addr + e->size < limit_end ? e->addr + e->size : limit_end;
		/* Each collision lowers the ceiling below the blocking range; the
		 * number of such ranges bounds the loop. */
		for (unsigned int tries = 0; tries < CVMM_LOADER_MAX_PHDRS + AREA_MAX + 1; tries++) {
			uint64_t blocker = UINT64_MAX;

			if (top < size || top - size < e->addr)
				break;
			a = (top - size) & ~(PAGE - 1);
			if (a < e->addr)
				break;
			for (unsigned int k = 0; k < p->img.nsegs; k++)
				if (cvmm_ll_overlap(a, size, p->img.segs[k].gpa, p->img.segs[k].memsz) &&
				    p->img.segs[k].gpa < blocker)
					blocker = p->img.segs[k].gpa;
			for (int k = 0; k < AREA_INITRD; k++)
				if (cvmm_ll_overlap(a, size, p->area_gpa[k], p->area_len[k]) &&
				    p->area_gpa[k] < blocker)
					blocker = p->area_gpa[k];
			if (blocker == UINT64_MAX) {
				p->area_gpa[AREA_INITRD] = a;
				p->area_len[AREA_INITRD] = size;
				return 0;
			}
			top = blocker;
		}
	}
	return -ENOSPC;
}

static int plan_load(struct plan *p, struct cvmm_guest_mem *m, const struct cvmm_loader_opts *o)
{
	struct cvmm_kernel_info *ki = &p->img.info;
	int r;

	r = cvmm_ll_file_open(o->kernel_fd, &p->kf);
	if (r)
		return r;
	r = cvmm_ll_parse(&p->kf, &p->img);
	if (r)
		return r;
	if (ki->format == CVMM_KERNEL_ELF && ki->has_pvh && !(o->flags & CVMM_LOADER_F_NO_PVH)) {
		p->mode = CVMM_BOOT_PVH32;
		p->entry = ki->pvh_entry;
	} else {
		p->mode = CVMM_BOOT_LINUX64;
		p->entry = ki->elf_entry;
	}
	r = cvmm_linux_loader_memmap(m, o->reserved, o->n_reserved, p->memmap,
				     CVMM_E820_MAX_ENTRIES_ZEROPAGE);
	if (r < 0)
		return r;
	p->n_memmap = (unsigned int)r;

	r = plan_areas(p, o);
	if (!r)
		r = check_areas(p, m, o);
	if (r)
		return r;

	if (ki->format == CVMM_KERNEL_BZIMAGE) {
		r = place_bzimage(p, m, o);
		if (r)
			return r;
	} else if (o->kernel_gpa) {
		return -EINVAL; /* an ELF goes where its headers say */
	}
	p->kernel_start = UINT64_MAX;
	p->kernel_end = 0;
	for (unsigned int i = 0; i < p->img.nsegs; i++) {
		const struct cvmm_ll_seg *s = &p->img.segs[i];

		if (!cvmm_ll_ram_writable(m, s->gpa, s->memsz))
			return -EFAULT;
		if (overlaps_area(p, s->gpa, s->memsz, -1) || overlaps_reserved(o, s->gpa, s->memsz))
			return -EEXIST;
		if (s->gpa < p->kernel_start)
			p->kernel_start = s->gpa;
		if (s->gpa + s->memsz > p->kernel_end)
			p->kernel_end = s->gpa + s->memsz;
	}

	if (o->initrd_fd >= 0) {
		r = cvmm_ll_file_open(o->initrd_fd, &p->rf);
		if (r)
			return r;
		if (p->rf.size == 0)
			return -EINVAL;
		/* bzImage: the header's limit; otherwise stay below 4 GiB. */
		p->initrd_limit = ki->format == CVMM_KERNEL_BZIMAGE ? ki->initrd_addr_max : UINT32_MAX;
		if (o->initrd_max && o->initrd_max < p->initrd_limit)
			p->initrd_limit = o->initrd_max;
		r = place_initrd(p, p->rf.size);
		if (r)
			return r;
		p->have_initrd = true;
	}
	return 0;
}

static int write_pvh(const struct plan *p, struct cvmm_guest_mem *m, const struct cvmm_loader_opts *o)
{
	uint64_t base = p->area_gpa[AREA_BOOT];
	struct cvmm_hvm_start_info si = {
		.magic = CVMM_HVM_START_MAGIC,
		.version = CVMM_HVM_START_VERSION,
		.cmdline_paddr = p->area_gpa[AREA_CMDLINE],
		.rsdp_paddr = o->rsdp_gpa,
		.memmap_paddr = base + SI_MEMMAP_OFF,
		.memmap_entries = p->n_memmap,
	};
	int r;

	r = cvmm_guest_mem_fill(m, base, 0, p->area_len[AREA_BOOT]);
	if (p->have_initrd) {
		struct cvmm_hvm_modlist_entry mod = {
			.paddr = p->area_gpa[AREA_INITRD],
			.size = p->area_len[AREA_INITRD],
		};

		si.nr_modules = 1;
		si.modlist_paddr = base + SI_MODLIST_OFF;
		if (!r)
			r = cvmm_guest_mem_write(m, si.modlist_paddr, &mod, sizeof(mod));
	}
	for (unsigned int i = 0; !r && i < p->n_memmap; i++) {
		struct cvmm_hvm_memmap_table_entry e = {
			.addr = p->memmap[i].addr,
			.size = p->memmap[i].size,
			.type = p->memmap[i].type,
		};

		r = cvmm_guest_mem_write(m, si.memmap_paddr + i * sizeof(e), &e, sizeof(e));
	}
	if (!r)
		r = cvmm_guest_mem_write(m, base, &si, sizeof(si));
	return r;
}

static int write_setup_data(const struct plan *p, struct cvmm_guest_mem *m,
			    const struct cvmm_loader_opts *o)
{
	uint64_t gpa = p->area_gpa[AREA_SETUP_DATA];
	int r = 0;

	for (unsigned int i = 0; !r && i < o->n_setup_data; i++) {
		uint64_t sz = align_up(sizeof(struct cvmm_setup_data) + (uint64_t)o->setup_data[i].len, 8);
		struct cvmm_setup_data sd = {
			.next = i + 1 < o->n_setup_data ? gpa + sz : 0,
			.type = o->setup_data[i].type,
			.len = o->setup_data[i].len,
		};

		r = cvmm_guest_mem_fill(m, gpa, 0, sz);
		if (!r)
			r = cvmm_guest_mem_write(m, gpa, &sd, sizeof(sd));
		if (!r && sd.len)
			r = cvmm_guest_mem_write(m, gpa + sizeof(sd), o->setup_data[i].data, sd.len);
		gpa += sz;
	}
	return r;
}

static int write_boot_params(const struct plan *p, struct cvmm_guest_mem *m,
			     const struct cvmm_loader_opts *o)
{
	struct cvmm_boot_params *bp = calloc(1, sizeof(*bp));
	struct cvmm_setup_header *h;
	uint64_t cmd = p->area_gpa[AREA_CMDLINE];
	int r;

	if (!bp)
		return -ENOMEM;
	h = &bp->hdr;
	if (p->img.info.format == CVMM_KERNEL_BZIMAGE) {
		memcpy(h, p->img.hdr, p->img.hdr_len);
		h->code32_start = (uint32_t)p->img.segs[0].gpa;
	} else {
		/* A vmlinux has no header: give it the fields a loader owns. */
		h->boot_flag = CVMM_BOOT_FLAG_MAGIC;
		h->header = CVMM_BOOT_HDRS_MAGIC;
		h->version = CVMM_BOOT_PROTOCOL_MIN;
		h->loadflags = CVMM_BOOT_LOADED_HIGH;
		h->kernel_alignment = 0x1000000;
	}
	h->type_of_loader = 0xff; /* "undefined" loader ID */
	h->vid_mode = 0xffff;     /* "normal" */
	h->cmd_line_ptr = (uint32_t)cmd;
	bp->ext_cmd_line_ptr = (uint32_t)(cmd >> 32);
	if (p->have_initrd) {
		uint64_t a = p->area_gpa[AREA_INITRD], s = p->area_len[AREA_INITRD];

		h->ramdisk_image = (uint32_t)a;
		h->ramdisk_size = (uint32_t)s;
		bp->ext_ramdisk_image = (uint32_t)(a >> 32);
		bp->ext_ramdisk_size = (uint32_t)(s >> 32);
	}
	if (o->n_setup_data)
		h->setup_data = p->area_gpa[AREA_SETUP_DATA];
	bp->acpi_rsdp_addr = o->rsdp_gpa;
	bp->e820_entries = (uint8_t)p->n_memmap;
	for (unsigned int i = 0; i < p->n_memmap; i++) {
		bp->e820_table[i].addr = p->memmap[i].addr;
		bp->e820_table[i].size = p->memmap[i].size;
		bp->e820_table[i].type = p->memmap[i].type;
	}
	r = cvmm_guest_mem_write(m, p->area_gpa[AREA_BOOT], bp, sizeof(*bp));
	free(bp);
	if (!r)
		r = write_setup_data(p, m, o);
	return r;
}

static int write_all(const struct plan *p, struct cvmm_guest_mem *m, const struct cvmm_loader_opts *o)
{
	const char *cmdline = o->cmdline ? o->cmdline : "";
	int r = 0;

	for (unsigned int i = 0; !r && i < p->img.nsegs; i++) {
		const struct cvmm_ll_seg *s = &p->img.segs[i];

		r = cvmm_ll_file_to_guest(&p->kf, s->file_off, s->filesz, m, s->gpa);
		if (!r && s->zero_tail && s->memsz > s->filesz)
			r = cvmm_guest_mem_fill(m, s->gpa + s->filesz, 0, s->memsz - s->filesz);
	}
	if (!r && p->have_initrd)
		r = cvmm_ll_file_to_guest(&p->rf, 0, p->rf.size, m, p->area_gpa[AREA_INITRD]);
	if (!r) {
		r = cvmm_guest_mem_write(m, p->area_gpa[AREA_CMDLINE], cmdline, p->cmdline_len);
		if (!r)
			r = cvmm_guest_mem_write_u8(m, p->area_gpa[AREA_CMDLINE] + p->cmdline_len, 0);
	}
	if (!r)
		r = p->mode == CVMM_BOOT_PVH32 ? write_pvh(p, m, o) : write_boot_params(p, m, o);
	/* Every range was validated: a failure here is the file changing. */
	return r == -EFAULT ? -EIO : r;
}

int cvmm_linux_loader_load(struct cvmm_guest_mem *m, const struct cvmm_loader_opts *o,
			   struct cvmm_loader_result *res)
{
	struct plan *p;
	int r;

	if (!m || !res)
		return -EINVAL;
	r = check_opts(o);
	if (r)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rf.fd = -1;
	r = plan_load(p, m, o);
	if (!r)
		r = write_all(p, m, o);
	if (!r) {
		memset(res, 0, sizeof(*res));
		res->format = p->img.info.format;
		res->mode = p->mode;
		res->entry = p->entry;
		res->boot_info_gpa = p->area_gpa[AREA_BOOT];
		res->kernel_start = p->kernel_start;
		res->kernel_end = p->kernel_end;
		if (p->have_initrd) {
			res->initrd_gpa = p->area_gpa[AREA_INITRD];
			res->initrd_size = p->area_len[AREA_INITRD];
		}
		res->cmdline_gpa = p->area_gpa[AREA_CMDLINE];
		res->cmdline_size = p->cmdline_len + 1;
		res->setup_data_gpa = o->n_setup_data ? p->area_gpa[AREA_SETUP_DATA] : 0;
		res->memmap_entries = p->n_memmap;
		res->protocol = p->img.info.protocol;
	}
	free(p);
	return r;
}
