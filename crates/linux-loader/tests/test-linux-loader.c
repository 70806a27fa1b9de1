/* SPDX-License-Identifier: Apache-2.0 */
/* Loading synthetic ELF and bzImage kernels into real guest memory. */
#include <cvmm/linux-loader.h>
#include <cvmm/vm-memory.h>
#include "cvmm-test.h"
#include "images.h"

#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define MEM_SIZE (64 * MIB)

static struct cvmm_guest_mem *new_mem(uint64_t size)
{
	struct cvmm_x86_ram_opts o = { .sz = sizeof(o), .size = size, .backing = CVMM_MEM_ANON,
				       .flags = CVMM_MEM_F_NORESERVE };
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), 0);
	/* Every VMM write is recorded: "untouched" is checked exactly. */
	ck_assert_int_eq(cvmm_guest_mem_dirty_log_enable(m, true), 0);
	return m;
}

/* Pages written since the last call (and clear them). */
static long dirty_pages(struct cvmm_guest_mem *m)
{
	long total = 0;

	for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(m); i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(m, i);
		uint64_t *bm;
		long n;

		/* A ROM is never written (the mapping is read-only). */
		if (r->flags & CVMM_MEM_F_READONLY)
			continue;
		bm = calloc((r->size / 4096 + 63) / 64, 8);
		n = cvmm_guest_mem_dirty_get_and_clear(m, r->gpa, r->size, bm);

		ck_assert_int_ge(n, 0);
		total += n;
		free(bm);
	}
	return total;
}

static int fd_with(const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd = cvmm_test_tmpfile(path, 0);

	ck_assert_int_ge(fd, 0);
	unlink(path);
	if (len)
		ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

static void opts_init(struct cvmm_loader_opts *o, int kfd)
{
	memset(o, 0, sizeof(*o));
	o->sz = sizeof(*o);
	o->kernel_fd = kfd;
	o->initrd_fd = -1;
}

static void default_elf(struct test_elf *e)
{
	memset(e, 0, sizeof(*e));
	e->entry = 0x200100;
	e->nsegs = 2;
	e->segs[0] = (struct test_seg){ .paddr = 0x200000, .filesz = 0x3000, .memsz = 0x5000, .fill = 0x11 };
	e->segs[1] = (struct test_seg){ .paddr = 0x400000, .filesz = 0x1800, .memsz = 0x1800, .fill = 0x80 };
}

static void check_bytes(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len, uint8_t fill)
{
	uint8_t *buf = malloc(len);

	ck_assert_int_eq(cvmm_guest_mem_read(m, gpa, buf, len), 0);
	for (uint64_t i = 0; i < len; i++)
		ck_assert_msg(buf[i] == (uint8_t)(fill + i), "gpa 0x%llx", (unsigned long long)(gpa + i));
	free(buf);
}

static bool all_zero(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint8_t *buf = malloc(len);
	bool z = true;

	ck_assert_int_eq(cvmm_guest_mem_read(m, gpa, buf, len), 0);
	for (uint64_t i = 0; i < len; i++)
		z &= buf[i] == 0;
	free(buf);
	return z;
}

static const struct cvmm_mem_range low_reserved[] = {
	{ 0xa0000, 0x60000, CVMM_E820_RESERVED },           /* VGA / BIOS */
	{ 0xfec00000, 0x1400000, CVMM_E820_RESERVED },      /* IOAPIC .. LAPIC, in the hole */
};

/* ------------------------------------------------------------------------ */

START_TEST(elf_linux64)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct cvmm_boot_params bp;
	struct test_elf e;
	uint8_t initrd[10000], *img, *back;
	char cmd[64];
	size_t len;
	int kfd, rfd;

	default_elf(&e);
	img = test_build_elf(&e, &len);
	kfd = fd_with(img, len);
	for (size_t i = 0; i < sizeof(initrd); i++)
		initrd[i] = (uint8_t)(i ^ 0x5a);
	rfd = fd_with(initrd, sizeof(initrd));
	/* Junk where the bss goes: the loader must clear it. */
	ck_assert_int_eq(cvmm_guest_mem_fill(m, 0x203000, 0xcc, 0x2000), 0);

	opts_init(&o, kfd);
	o.initrd_fd = rfd;
	o.cmdline = "console=ttyS0 panic=-1";
	o.reserved = low_reserved;
	o.n_reserved = 2;
	o.rsdp_gpa = 0xe0000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.format, CVMM_KERNEL_ELF);
	ck_assert_int_eq(res.mode, CVMM_BOOT_LINUX64);
	ck_assert_uint_eq(res.entry, 0x200100);
	ck_assert_uint_eq(res.boot_info_gpa, CVMM_LOADER_ZERO_PAGE_GPA);
	ck_assert_uint_eq(res.kernel_start, 0x200000);
	ck_assert_uint_eq(res.kernel_end, 0x401800);

	check_bytes(m, 0x200000, 0x3000, 0x11);
	check_bytes(m, 0x400000, 0x1800, 0x80);
	ck_assert(all_zero(m, 0x203000, 0x2000));

	ck_assert_int_eq(cvmm_guest_mem_read(m, res.boot_info_gpa, &bp, sizeof(bp)), 0);
	ck_assert_uint_eq(bp.hdr.boot_flag, 0xaa55);
	ck_assert_uint_eq(bp.hdr.header, 0x53726448);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, CVMM_LOADER_CMDLINE_GPA);
	ck_assert_uint_eq(bp.ext_cmd_line_ptr, 0);
	ck_assert_uint_eq(bp.acpi_rsdp_addr, 0xe0000);
	ck_assert_int_eq(cvmm_guest_mem_read(m, bp.hdr.cmd_line_ptr, cmd, sizeof(cmd)), 0);
	ck_assert_str_eq(cmd, "console=ttyS0 panic=-1");
	ck_assert_uint_eq(res.cmdline_size, strlen(cmd) + 1);

	/* e820: RAM with the BIOS hole carved out, and the reserved ranges. */
	ck_assert_uint_eq(bp.e820_entries, 4);
	ck_assert_uint_eq(res.memmap_entries, 4);
	ck_assert_uint_eq(bp.e820_table[0].addr, 0);
	ck_assert_uint_eq(bp.e820_table[0].size, 0xa0000);
	ck_assert_uint_eq(bp.e820_table[0].type, CVMM_E820_RAM);
	ck_assert_uint_eq(bp.e820_table[1].addr, 0xa0000);
	ck_assert_uint_eq(bp.e820_table[1].type, CVMM_E820_RESERVED);
	ck_assert_uint_eq(bp.e820_table[2].addr, 0x100000);
	ck_assert_uint_eq(bp.e820_table[2].size, MEM_SIZE - 0x100000);
	ck_assert_uint_eq(bp.e820_table[2].type, CVMM_E820_RAM);
	ck_assert_uint_eq(bp.e820_table[3].addr, 0xfec00000);

	/* initrd: page-aligned, as high as RAM allows. */
	ck_assert_uint_eq(res.initrd_size, sizeof(initrd));
	ck_assert_uint_eq(res.initrd_gpa, (MEM_SIZE - sizeof(initrd)) & ~4095ull);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, res.initrd_gpa);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, sizeof(initrd));
	ck_assert_uint_eq(bp.ext_ramdisk_image, 0);
	back = malloc(sizeof(initrd));
	ck_assert_int_eq(cvmm_guest_mem_read(m, res.initrd_gpa, back, sizeof(initrd)), 0);
	ck_assert_int_eq(memcmp(back, initrd, sizeof(initrd)), 0);
	free(back);

	close(kfd);
	close(rfd);
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

static void check_pvh(struct cvmm_guest_mem *m, unsigned int desc)
{
	struct cvmm_hvm_memmap_table_entry mm[8];
	struct cvmm_mem_range expect[8];
	struct cvmm_hvm_modlist_entry mod;
	struct cvmm_hvm_start_info si;
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct test_elf e;
	uint8_t initrd[5000], *img;
	char cmd[32];
	size_t len;
	int kfd, rfd, n;

	default_elf(&e);
	e.pvh_desc = desc;
	e.pvh_entry = 0x400040;
	img = test_build_elf(&e, &len);
	kfd = fd_with(img, len);
	memset(initrd, 0x77, sizeof(initrd));
	rfd = fd_with(initrd, sizeof(initrd));
	opts_init(&o, kfd);
	o.initrd_fd = rfd;
	o.cmdline = "quiet";
	o.reserved = low_reserved;
	o.n_reserved = 2;
	o.rsdp_gpa = 0xe0000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.mode, CVMM_BOOT_PVH32);
	ck_assert_uint_eq(res.entry, 0x400040);
	ck_assert_uint_eq(res.boot_info_gpa, CVMM_LOADER_START_INFO_GPA);
	check_bytes(m, 0x200000, 0x3000, 0x11);

	ck_assert_int_eq(cvmm_guest_mem_read(m, res.boot_info_gpa, &si, sizeof(si)), 0);
	ck_assert_uint_eq(si.magic, 0x336ec578);
	ck_assert_uint_eq(si.version, 1);
	ck_assert_uint_eq(si.cmdline_paddr, CVMM_LOADER_CMDLINE_GPA);
	ck_assert_uint_eq(si.rsdp_paddr, 0xe0000);
	ck_assert_int_eq(cvmm_guest_mem_read(m, si.cmdline_paddr, cmd, 6), 0);
	ck_assert_str_eq(cmd, "quiet");
	ck_assert_uint_eq(si.nr_modules, 1);
	ck_assert_int_eq(cvmm_guest_mem_read(m, si.modlist_paddr, &mod, sizeof(mod)), 0);
	ck_assert_uint_eq(mod.paddr, res.initrd_gpa);
	ck_assert_uint_eq(mod.size, sizeof(initrd));
	ck_assert_uint_eq(mod.paddr % 4096, 0);
	ck_assert(mod.paddr + mod.size <= MEM_SIZE);

	n = cvmm_linux_loader_memmap(m, low_reserved, 2, expect, 8);
	ck_assert_int_eq(n, 4);
	ck_assert_uint_eq(si.memmap_entries, (unsigned int)n);
	ck_assert_int_eq(cvmm_guest_mem_read(m, si.memmap_paddr, mm, n * sizeof(mm[0])), 0);
	for (int i = 0; i < n; i++) {
		ck_assert_uint_eq(mm[i].addr, expect[i].addr);
		ck_assert_uint_eq(mm[i].size, expect[i].size);
		ck_assert_uint_eq(mm[i].type, expect[i].type);
	}
	close(kfd);
	close(rfd);
	free(img);
}

START_TEST(elf_pvh)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);

	check_pvh(m, 8);
	cvmm_guest_mem_destroy(m);
	m = new_mem(MEM_SIZE);
	check_pvh(m, 4);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(elf_pvh_forced_64)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct cvmm_kernel_info ki;
	struct test_elf e;
	uint8_t *img;
	size_t len;
	int kfd;

	default_elf(&e);
	e.pvh_desc = 8;
	e.pvh_entry = 0x200200;
	img = test_build_elf(&e, &len);
	kfd = fd_with(img, len);
	ck_assert_int_eq(cvmm_linux_loader_probe(kfd, &ki), 0);
	ck_assert_int_eq(ki.format, CVMM_KERNEL_ELF);
	ck_assert(ki.has_pvh);
	ck_assert_uint_eq(ki.pvh_entry, 0x200200);
	ck_assert_uint_eq(ki.elf_entry, 0x200100);
	opts_init(&o, kfd);
	o.flags = CVMM_LOADER_F_NO_PVH;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.mode, CVMM_BOOT_LINUX64);
	ck_assert_uint_eq(res.entry, 0x200100);
	ck_assert_uint_eq(res.boot_info_gpa, CVMM_LOADER_ZERO_PAGE_GPA);
	ck_assert_uint_eq(res.initrd_gpa, 0);
	/* An ELF goes where its headers say. */
	o.kernel_gpa = 0x800000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	close(kfd);
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(bzimage_load)
{
	static const uint8_t dtb[] = { 0xd0, 0x0d, 0xfe, 0xed, 1, 2, 3 };
	struct cvmm_loader_setup_data sd[2] = {
		{ .type = CVMM_SETUP_DTB, .data = dtb, .len = sizeof(dtb) },
		{ .type = CVMM_SETUP_RNG_SEED, .data = "0123456789abcdef", .len = 16 },
	};
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct cvmm_setup_data node;
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct cvmm_kernel_info ki;
	struct cvmm_boot_params bp;
	struct test_bz b;
	uint8_t initrd[70000], *img, *payload, got[sizeof(dtb)];
	size_t len;
	int kfd, rfd;

	test_bz_defaults(&b);
	b.initrd_addr_max = 0x2ffffff; /* 48 MiB - 1 */
	img = test_build_bzimage(&b, &len);
	kfd = fd_with(img, len);
	memset(initrd, 0x3c, sizeof(initrd));
	rfd = fd_with(initrd, sizeof(initrd));

	ck_assert_int_eq(cvmm_linux_loader_probe(kfd, &ki), 0);
	ck_assert_int_eq(ki.format, CVMM_KERNEL_BZIMAGE);
	ck_assert_uint_eq(ki.protocol, 0x020f);
	ck_assert_uint_eq(ki.setup_size, 5 * 512);
	ck_assert_uint_eq(ki.payload_size, b.payload_len);
	ck_assert_uint_eq(ki.cmdline_size, 255);

	opts_init(&o, kfd);
	o.initrd_fd = rfd;
	o.cmdline = "root=/dev/vda";
	o.setup_data = sd;
	o.n_setup_data = 2;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.format, CVMM_KERNEL_BZIMAGE);
	ck_assert_int_eq(res.mode, CVMM_BOOT_LINUX64);
	ck_assert_uint_eq(res.kernel_start, 0x1000000);        /* pref_address */
	ck_assert_uint_eq(res.entry, 0x1000000 + 0x200);       /* startup_64 */
	ck_assert_uint_eq(res.kernel_end, 0x1000000 + 0x400000); /* init_size */
	ck_assert_uint_eq(res.protocol, 0x020f);

	payload = malloc(b.payload_len);
	ck_assert_int_eq(cvmm_guest_mem_read(m, res.kernel_start, payload, b.payload_len), 0);
	for (size_t i = 0; i < b.payload_len; i++)
		ck_assert_uint_eq(payload[i], test_bz_payload_byte(i));
	free(payload);

	ck_assert_int_eq(cvmm_guest_mem_read(m, res.boot_info_gpa, &bp, sizeof(bp)), 0);
	/* The image's header is copied, then the loader's fields set. */
	ck_assert_uint_eq(bp.hdr.setup_sects, 4);
	ck_assert_uint_eq(bp.hdr.version, 0x020f);
	ck_assert_uint_eq(bp.hdr.header, CVMM_BOOT_HDRS_MAGIC);
	ck_assert_uint_eq(bp.hdr.init_size, 0x400000);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.code32_start, 0x1000000);
	ck_assert_uint_eq(bp.hdr.cmd_line_ptr, CVMM_LOADER_CMDLINE_GPA);
	ck_assert_uint_eq(bp.e820_entries, 1);
	ck_assert_uint_eq(bp.e820_table[0].size, MEM_SIZE);

	/* initrd below initrd_addr_max, aligned, clear of the kernel. */
	ck_assert_uint_eq(bp.hdr.ramdisk_image, res.initrd_gpa);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, sizeof(initrd));
	ck_assert_uint_eq(res.initrd_gpa % 4096, 0);
	ck_assert(res.initrd_gpa + sizeof(initrd) - 1 <= 0x2ffffff);
	ck_assert_uint_eq(res.initrd_gpa, (0x3000000 - sizeof(initrd)) & ~4095ull);

	/* setup_data chain. */
	ck_assert_uint_eq(bp.hdr.setup_data, CVMM_LOADER_SETUP_DATA_GPA);
	ck_assert_uint_eq(res.setup_data_gpa, CVMM_LOADER_SETUP_DATA_GPA);
	ck_assert_int_eq(cvmm_guest_mem_read(m, bp.hdr.setup_data, &node, sizeof(node)), 0);
	ck_assert_uint_eq(node.type, CVMM_SETUP_DTB);
	ck_assert_uint_eq(node.len, sizeof(dtb));
	ck_assert_uint_eq(node.next, CVMM_LOADER_SETUP_DATA_GPA + 24);
	ck_assert_int_eq(cvmm_guest_mem_read(m, bp.hdr.setup_data + sizeof(node), got, sizeof(got)), 0);
	ck_assert_int_eq(memcmp(got, dtb, sizeof(dtb)), 0);
	ck_assert_int_eq(cvmm_guest_mem_read(m, node.next, &node, sizeof(node)), 0);
	ck_assert_uint_eq(node.type, CVMM_SETUP_RNG_SEED);
	ck_assert_uint_eq(node.next, 0);

	close(kfd);
	close(rfd);
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(bzimage_placement)
{
	struct cvmm_guest_mem *m;
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct test_bz b;
	uint8_t *img;
	size_t len;
	int kfd;

	test_bz_defaults(&b);
	img = test_build_bzimage(&b, &len);
	kfd = fd_with(img, len);
	free(img);

	/* pref_address (16 MiB) + init_size does not fit in 16 MiB of RAM:
	 * the first 2 MiB-aligned address above 1 MiB is used. */
	m = new_mem(16 * MIB);
	opts_init(&o, kfd);
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_uint_eq(res.kernel_start, 0x200000);
	ck_assert_uint_eq(res.entry, 0x200200);
	cvmm_guest_mem_destroy(m);

	/* An explicit aligned address is honoured; a misaligned one is not. */
	m = new_mem(MEM_SIZE);
	o.kernel_gpa = 0x2000000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_uint_eq(res.kernel_start, 0x2000000);
	dirty_pages(m);
	o.kernel_gpa = 0x2001000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	ck_assert_int_eq(dirty_pages(m), 0);
	cvmm_guest_mem_destroy(m);
	close(kfd);

	/* Not relocatable: pref_address only. */
	b.relocatable = 0;
	b.pref_address = 0x1000000;
	img = test_build_bzimage(&b, &len);
	kfd = fd_with(img, len);
	free(img);
	m = new_mem(MEM_SIZE);
	opts_init(&o, kfd);
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_uint_eq(res.kernel_start, 0x1000000);
	o.kernel_gpa = 0x2000000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	cvmm_guest_mem_destroy(m);
	/* ... and it must fit there. */
	m = new_mem(16 * MIB);
	o.kernel_gpa = 0;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EFAULT);
	ck_assert_int_eq(dirty_pages(m), 0);
	cvmm_guest_mem_destroy(m);
	close(kfd);
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Hostile images: a specific error and not one guest page written.          */

static int try_load(struct cvmm_guest_mem *m, const uint8_t *img, size_t len,
		    const struct cvmm_loader_opts *tmpl)
{
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	int kfd = fd_with(img, len), r;

	if (tmpl)
		o = *tmpl;
	else
		opts_init(&o, -1);
	o.kernel_fd = kfd;
	r = cvmm_linux_loader_load(m, &o, &res);
	close(kfd);
	if (r)
		ck_assert_msg(dirty_pages(m) == 0, "a failed load (%d) wrote guest memory", r);
	else
		dirty_pages(m);
	return r;
}

static Elf64_Phdr *phdr(uint8_t *img, unsigned int i)
{
	return (Elf64_Phdr *)(img + TEST_ELF_PHOFF + i * TEST_ELF_PHDR_SIZE);
}

/* Build the default ELF, let @poke damage it, expect @err. */
static void elf_case(struct cvmm_guest_mem *m, void (*poke)(struct test_elf *), void (*patch)(uint8_t *),
		     int err, const char *what)
{
	struct test_elf e;
	uint8_t *img;
	size_t len;
	int r;

	default_elf(&e);
	if (poke)
		poke(&e);
	img = test_build_elf(&e, &len);
	if (patch)
		patch(img);
	r = try_load(m, img, len, NULL);
	ck_assert_msg(r == err, "%s: got %d, want %d", what, r, err);
	free(img);
}

static void p_overlap(struct test_elf *e) { e->segs[1].paddr = 0x204000; }
static void p_beyond(struct test_elf *e) { e->segs[1].paddr = 1ull << 30; }
static void p_hole(struct test_elf *e) { e->segs[1].paddr = 0xd0000000; }
static void p_huge(struct test_elf *e) { e->segs[1].memsz = 1ull << 40; }
static void p_zero_page(struct test_elf *e) { e->segs[1].paddr = 0x7000; e->segs[1].filesz = e->segs[1].memsz = 0x100; }
static void p_cmdline(struct test_elf *e) { e->segs[1].paddr = 0x1f000; }
static void p_entry(struct test_elf *e) { e->entry = 0x900000; }
static void p_pvh_bad(struct test_elf *e) { e->pvh_desc = 2; }
static void p_pvh_high(struct test_elf *e) { e->pvh_desc = 8; e->pvh_entry = 0x100200000ull; }
static void p_pvh_out(struct test_elf *e) { e->pvh_desc = 4; e->pvh_entry = 0x300000; }
static void x_class(uint8_t *i) { i[EI_CLASS] = ELFCLASS32; }
static void x_machine(uint8_t *i) { ((Elf64_Ehdr *)i)->e_machine = EM_AARCH64; }
static void x_type(uint8_t *i) { ((Elf64_Ehdr *)i)->e_type = ET_REL; }
static void x_phnum(uint8_t *i) { ((Elf64_Ehdr *)i)->e_phnum = 1000; }
static void x_phnum0(uint8_t *i) { ((Elf64_Ehdr *)i)->e_phnum = 0; }
static void x_phentsize(uint8_t *i) { ((Elf64_Ehdr *)i)->e_phentsize = 32; }
static void x_phoff(uint8_t *i) { ((Elf64_Ehdr *)i)->e_phoff = 1ull << 40; }
static void x_phoff_wrap(uint8_t *i) { ((Elf64_Ehdr *)i)->e_phoff = UINT64_MAX - 8; }
static void x_seg_off(uint8_t *i) { phdr(i, 1)->p_offset = 1ull << 32; }
static void x_seg_off_wrap(uint8_t *i) { phdr(i, 1)->p_offset = UINT64_MAX - 0x10; }
static void x_filesz(uint8_t *i) { phdr(i, 2)->p_filesz = phdr(i, 2)->p_memsz + 1; }
static void x_paddr_wrap(uint8_t *i) { phdr(i, 2)->p_paddr = UINT64_MAX - 0x100; }
static void x_note_huge(uint8_t *i) { phdr(i, 0)->p_filesz = 1ull << 33; }
static void x_note_namesz(uint8_t *i)
{
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(i + phdr(i, 0)->p_offset);

	nh->n_namesz = 0xfffffff0u;
}
static void x_note_descsz(uint8_t *i)
{
	Elf64_Nhdr *nh = (Elf64_Nhdr *)(i + phdr(i, 0)->p_offset);

	nh->n_descsz = 0x7fffffffu;
}

START_TEST(hostile_elf)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct test_elf e;
	uint8_t *img;
	size_t len;

	elf_case(m, p_overlap, NULL, -EEXIST, "segments overlap");
	elf_case(m, p_beyond, NULL, -EFAULT, "segment beyond RAM");
	elf_case(m, p_hole, NULL, -EFAULT, "segment in the MMIO hole");
	elf_case(m, p_huge, NULL, -EFAULT, "huge memsz");
	elf_case(m, p_zero_page, NULL, -EEXIST, "segment on the zero page");
	elf_case(m, p_cmdline, NULL, -EEXIST, "segment on the command line");
	elf_case(m, p_entry, NULL, -EBADMSG, "entry outside the image");
	elf_case(m, p_pvh_bad, NULL, -EBADMSG, "PVH note of 2 bytes");
	elf_case(m, p_pvh_high, NULL, -EBADMSG, "PVH entry above 4 GiB");
	elf_case(m, p_pvh_out, NULL, -EBADMSG, "PVH entry outside the image");
	elf_case(m, NULL, x_class, -EOPNOTSUPP, "ELFCLASS32");
	elf_case(m, NULL, x_machine, -EOPNOTSUPP, "aarch64");
	elf_case(m, NULL, x_type, -EOPNOTSUPP, "ET_REL");
	elf_case(m, NULL, x_phnum, -EBADMSG, "1000 program headers");
	elf_case(m, NULL, x_phnum0, -EBADMSG, "no program headers");
	elf_case(m, NULL, x_phentsize, -EBADMSG, "bad phentsize");
	elf_case(m, NULL, x_phoff, -EBADMSG, "phoff past the end");
	elf_case(m, NULL, x_phoff_wrap, -EBADMSG, "phoff wraps");
	elf_case(m, NULL, x_seg_off, -EBADMSG, "segment data past the end");
	elf_case(m, NULL, x_seg_off_wrap, -EBADMSG, "segment offset wraps");
	elf_case(m, NULL, x_filesz, -EBADMSG, "filesz > memsz");
	elf_case(m, NULL, x_paddr_wrap, -EBADMSG, "paddr + memsz wraps");
	elf_case(m, NULL, x_note_huge, -EBADMSG, "8 GiB note segment");
	elf_case(m, NULL, x_note_namesz, -EBADMSG, "note namesz past the segment");
	elf_case(m, NULL, x_note_descsz, -EBADMSG, "note descsz past the segment");

	/* Every truncation of a valid image fails cleanly. */
	default_elf(&e);
	img = test_build_elf(&e, &len);
	for (size_t l = 0; l < len; l += (l < 0x400 ? 1 : 509)) {
		int r = try_load(m, img, l, NULL);

		ck_assert_msg(r == -ENOEXEC || r == -EBADMSG, "truncated to %zu: %d", l, r);
	}
	ck_assert_int_eq(try_load(m, img, len, NULL), 0);
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

static void bz_case(struct cvmm_guest_mem *m, void (*poke)(struct test_bz *),
		    void (*patch)(uint8_t *), int err, const char *what)
{
	struct test_bz b;
	uint8_t *img;
	size_t len;
	int r;

	test_bz_defaults(&b);
	if (poke)
		poke(&b);
	img = test_build_bzimage(&b, &len);
	if (patch)
		patch(img);
	r = try_load(m, img, len, NULL);
	ck_assert_msg(r == err, "%s: got %d, want %d", what, r, err);
	free(img);
}

static struct cvmm_setup_header *hdr_of(uint8_t *img)
{
	return (struct cvmm_setup_header *)(img + CVMM_BOOT_SETUP_HEADER_OFFSET);
}
static void b_old(struct test_bz *b) { b->version = 0x020b; }
static void b_no64(struct test_bz *b) { b->xloadflags = 0; }
static void b_low(struct test_bz *b) { b->loadflags = 0; }
static void b_align(struct test_bz *b) { b->kernel_alignment = 0x300000; }
static void b_init_huge(struct test_bz *b) { b->init_size = 0xfffff000u; }
static void y_flag(uint8_t *i) { hdr_of(i)->boot_flag = 0x1234; }
static void y_magic(uint8_t *i) { hdr_of(i)->header = 0x53726449; }
static void y_sects(uint8_t *i) { hdr_of(i)->setup_sects = 255; hdr_of(i)->syssize = 1; }
static void y_syssize(uint8_t *i) { hdr_of(i)->syssize += 2; }
static void y_syssize0(uint8_t *i) { hdr_of(i)->syssize = 0; }
static void y_pref_odd(uint8_t *i) { hdr_of(i)->pref_address = 0xfffffffffff00000ull; }

START_TEST(hostile_bzimage)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct test_bz b;
	uint8_t *img;
	size_t len;

	bz_case(m, b_old, NULL, -EOPNOTSUPP, "protocol 2.11");
	bz_case(m, b_no64, NULL, -EOPNOTSUPP, "no XLF_KERNEL_64");
	bz_case(m, b_low, NULL, -EOPNOTSUPP, "not LOADED_HIGH");
	bz_case(m, b_align, NULL, -EBADMSG, "kernel_alignment not a power of two");
	bz_case(m, b_init_huge, NULL, -EFAULT, "init_size of 4 GiB");
	bz_case(m, NULL, y_flag, -ENOEXEC, "bad boot_flag");
	bz_case(m, NULL, y_magic, -ENOEXEC, "bad HdrS");
	bz_case(m, NULL, y_sects, -EBADMSG, "setup sectors past the end");
	bz_case(m, NULL, y_syssize, -EBADMSG, "syssize past the end");
	bz_case(m, NULL, y_syssize0, -EBADMSG, "syssize 0");
	/* A pref_address that does not fit is ignored for a relocatable kernel. */
	bz_case(m, NULL, y_pref_odd, 0, "pref_address in the sky");

	test_bz_defaults(&b);
	img = test_build_bzimage(&b, &len);
	for (size_t l = 0; l + 16 < len; l += (l < 0x300 ? 1 : 1021)) {
		int r = try_load(m, img, l, NULL);

		ck_assert_msg(r == -ENOEXEC || r == -EBADMSG, "truncated to %zu: %d", l, r);
	}
	free(img);

	/* Garbage of every small size is no kernel. */
	{
		uint8_t junk[600];

		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (uint8_t)(i * 31 + 7);
		for (size_t l = 0; l <= sizeof(junk); l += 37)
			ck_assert_int_eq(try_load(m, junk, l, NULL), -ENOEXEC);
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Flip header bytes one at a time: any result but a crash or a stray write. */
START_TEST(hostile_bitflips)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct test_elf e;
	struct test_bz b;
	uint8_t *img;
	size_t len;

	default_elf(&e);
	e.pvh_desc = 8;
	e.pvh_entry = 0x200000;
	img = test_build_elf(&e, &len);
	for (size_t i = 0; i < 0x200; i++) {
		uint8_t saved = img[i];

		img[i] ^= (uint8_t)(0x80 >> (i % 8)) | 0x01;
		try_load(m, img, len, NULL);
		img[i] = saved;
	}
	free(img);
	test_bz_defaults(&b);
	img = test_build_bzimage(&b, &len);
	for (size_t i = 0x1f1; i < 0x26c; i++) {
		uint8_t saved = img[i];

		for (unsigned int v = 0; v < 256; v += 51) {
			img[i] = (uint8_t)v;
			try_load(m, img, len, NULL);
		}
		img[i] = saved;
	}
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(hostile_opts)
{
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct cvmm_mem_range many[130];
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct test_bz b;
	uint8_t *img, big[4096];
	char longcmd[300];
	size_t len;
	int kfd, rfd, pfd[2];

	test_bz_defaults(&b);
	img = test_build_bzimage(&b, &len);
	kfd = fd_with(img, len);
	free(img);

	opts_init(&o, kfd);
	o.sz = 8;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	opts_init(&o, -1);
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	opts_init(&o, kfd);
	o.flags = 0x80;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);

	/* Command line longer than the header's cmdline_size (255). */
	memset(longcmd, 'a', sizeof(longcmd));
	longcmd[256] = '\0';
	opts_init(&o, kfd);
	o.cmdline = longcmd;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -E2BIG);
	longcmd[255] = '\0';
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	o.cmdline_max = 100; /* the caller's own cap */
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -E2BIG);
	dirty_pages(m);

	/* Loader areas outside RAM or on top of each other. */
	opts_init(&o, kfd);
	o.zero_page_gpa = 0xd0000000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EFAULT);
	opts_init(&o, kfd);
	o.cmdline_gpa = 0x7800;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EEXIST);
	opts_init(&o, kfd);
	o.zero_page_gpa = 0x1001000; /* inside the kernel */
	o.kernel_gpa = 0x1000000;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EEXIST);
	ck_assert_int_eq(dirty_pages(m), 0);

	/* Reserved ranges: overlapping, RAM-typed, empty; too many for e820. */
	{
		struct cvmm_mem_range bad[2] = { { 0x1000, 0x2000, 2 }, { 0x2000, 0x1000, 2 } };

		opts_init(&o, kfd);
		o.reserved = bad;
		o.n_reserved = 2;
		ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
		bad[1] = (struct cvmm_mem_range){ 0x9000, 0x1000, CVMM_E820_RAM };
		ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
		bad[1] = (struct cvmm_mem_range){ 0x9000, 0, 2 };
		ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	}
	for (unsigned int i = 0; i < 130; i++)
		many[i] = (struct cvmm_mem_range){ 0x3000000 + i * 0x2000ull, 0x1000, CVMM_E820_RESERVED };
	opts_init(&o, kfd);
	o.reserved = many;
	o.n_reserved = 130;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -E2BIG);
	ck_assert_int_eq(dirty_pages(m), 0);

	/* initrd: too big for the RAM below its limit, not a regular file. */
	memset(big, 1, sizeof(big));
	rfd = fd_with(big, sizeof(big));
	ck_assert_int_eq(ftruncate(rfd, 60 * MIB), 0);
	opts_init(&o, kfd);
	o.initrd_fd = rfd;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -ENOSPC);
	o.initrd_max = 0x1000; /* nothing fits below 4 KiB */
	ck_assert_int_eq(ftruncate(rfd, 8192), 0);
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -ENOSPC);
	close(rfd);
	ck_assert_int_eq(pipe(pfd), 0);
	opts_init(&o, kfd);
	o.initrd_fd = pfd[0];
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	rfd = fd_with(NULL, 0);
	o.initrd_fd = rfd;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	close(rfd);

	/* setup_data larger than its area; setup_data with PVH is refused. */
	{
		static uint8_t payload[0x1000];
		struct cvmm_loader_setup_data sd = { CVMM_SETUP_DTB, payload, sizeof(payload) };

		opts_init(&o, kfd);
		o.setup_data = &sd;
		o.n_setup_data = 1;
		o.setup_data_max = 0x800;
		ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -E2BIG);
		sd.data = NULL;
		ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), -EINVAL);
	}
	ck_assert_int_eq(dirty_pages(m), 0);
	close(kfd);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Guest RAM plus a read-only "firmware" region: no kernel byte may go there,
 * and the memory map calls it reserved. */
START_TEST(rom_and_reserved)
{
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0x4000000, .size = 0x100000,
					   .backing = CVMM_MEM_ANON, .flags = CVMM_MEM_F_READONLY, .fd = -1 };
	static const struct cvmm_mem_range acpi[] = { { 0x3ff0000, 0x10000, CVMM_E820_ACPI } };
	struct cvmm_guest_mem *m = new_mem(MEM_SIZE);
	struct cvmm_mem_range mm[8];
	struct cvmm_loader_result res;
	struct cvmm_loader_opts o;
	struct test_elf e;
	uint8_t *img, initrd[0x8000];
	size_t len;
	int n, rfd;

	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &ro), 0);
	n = cvmm_linux_loader_memmap(m, acpi, 1, mm, 8);
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(mm[0].size, 0x3ff0000);
	ck_assert_uint_eq(mm[0].type, CVMM_E820_RAM);
	ck_assert_uint_eq(mm[1].type, CVMM_E820_ACPI);
	ck_assert_uint_eq(mm[2].addr, 0x4000000);
	ck_assert_uint_eq(mm[2].type, CVMM_E820_RESERVED);

	default_elf(&e);
	e.segs[1].paddr = 0x4000000; /* into the ROM */
	img = test_build_elf(&e, &len);
	ck_assert_int_eq(try_load(m, img, len, NULL), -EFAULT);
	free(img);

	default_elf(&e);
	e.segs[1].paddr = 0x3ff8000; /* into the caller's ACPI tables */
	img = test_build_elf(&e, &len);
	opts_init(&o, -1);
	o.reserved = acpi;
	o.n_reserved = 1;
	ck_assert_int_eq(try_load(m, img, len, &o), -EEXIST);
	free(img);

	/* The initrd goes below the ACPI tables, not into them or the ROM. */
	default_elf(&e);
	img = test_build_elf(&e, &len);
	memset(initrd, 9, sizeof(initrd));
	rfd = fd_with(initrd, sizeof(initrd));
	o.initrd_fd = rfd;
	o.kernel_fd = fd_with(img, len);
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_uint_eq(res.initrd_gpa, 0x3ff0000 - sizeof(initrd));
	close(o.kernel_fd);
	close(rfd);
	free(img);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(memmap)
{
	struct cvmm_x86_ram_opts xo = { .sz = sizeof(xo), .size = 0xd0000000ull, .flags = CVMM_MEM_F_NORESERVE };
	struct cvmm_mem_range out[8], res[3] = {
		{ 0xfe000000, 0x2000000, CVMM_E820_RESERVED },
		{ 0x9fc00, 0x60400, CVMM_E820_RESERVED },
		{ 0x7f000000, 0x100000, CVMM_E820_ACPI },
	};
	struct cvmm_guest_mem *m = NULL;
	int n;

	/* 3.25 GiB of RAM: [0, 3 GiB) and [4 GiB, 4.25 GiB). */
	ck_assert_int_eq(cvmm_guest_mem_create_x86(&xo, &m), 0);
	n = cvmm_linux_loader_memmap(m, NULL, 0, out, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(out[0].addr, 0);
	ck_assert_uint_eq(out[0].size, CVMM_X86_MMIO_HOLE_START);
	ck_assert_uint_eq(out[1].addr, CVMM_X86_MMIO_HOLE_END);
	ck_assert_uint_eq(out[1].size, 0xd0000000ull - CVMM_X86_MMIO_HOLE_START);

	n = cvmm_linux_loader_memmap(m, res, 3, out, 8);
	ck_assert_int_eq(n, 7);
	ck_assert_uint_eq(out[0].addr, 0);
	ck_assert_uint_eq(out[0].size, 0x9fc00);
	ck_assert_uint_eq(out[1].addr, 0x9fc00);
	ck_assert_uint_eq(out[1].type, CVMM_E820_RESERVED);
	ck_assert_uint_eq(out[2].addr, 0x100000);
	ck_assert_uint_eq(out[2].size, 0x7f000000 - 0x100000);
	ck_assert_uint_eq(out[3].addr, 0x7f000000);
	ck_assert_uint_eq(out[3].type, CVMM_E820_ACPI);
	ck_assert_uint_eq(out[4].addr, 0x7f100000);
	ck_assert_uint_eq(out[4].size, CVMM_X86_MMIO_HOLE_START - 0x7f100000);
	ck_assert_uint_eq(out[4].type, CVMM_E820_RAM);
	ck_assert_uint_eq(out[5].addr, 0xfe000000);
	ck_assert_uint_eq(out[6].addr, CVMM_X86_MMIO_HOLE_END);
	for (int i = 1; i < n; i++)
		ck_assert(out[i - 1].addr + out[i - 1].size <= out[i].addr);

	ck_assert_int_eq(cvmm_linux_loader_memmap(m, res, 3, out, 6), -E2BIG);
	/* A reserved range swallowing a whole RAM range removes it. */
	res[0] = (struct cvmm_mem_range){ 0x100000000ull, 0x10000000, CVMM_E820_UNUSABLE };
	n = cvmm_linux_loader_memmap(m, res, 1, out, 8);
	ck_assert_int_eq(n, 2);
	ck_assert_uint_eq(out[1].type, CVMM_E820_UNUSABLE);
	res[0].addr = UINT64_MAX - 5;
	ck_assert_int_eq(cvmm_linux_loader_memmap(m, res, 1, out, 8), -EINVAL);
	/* A hotplug (virtio-mem) region, even one touching RAM, is no RAM to
	 * the firmware map: its device announces it. */
	{
		struct cvmm_mem_region_opts ho = {
			.sz = sizeof(ho), .gpa = 0x110000000ull, .size = 1ull << 30, .fd = -1,
			.flags = CVMM_MEM_F_NORESERVE | CVMM_MEM_F_HOTPLUG,
		};

		ck_assert_int_eq(cvmm_guest_mem_add_region(m, &ho), 0);
		n = cvmm_linux_loader_memmap(m, NULL, 0, out, 8);
		ck_assert_int_eq(n, 2);
		ck_assert_uint_eq(out[1].addr + out[1].size, 0x110000000ull);
	}
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(cmdline_builder)
{
	struct cvmm_cmdline *c;

	ck_assert_int_eq(cvmm_cmdline_create(0, &c), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_create(64, &c), 0);
	ck_assert_str_eq(cvmm_cmdline_str(c), "");
	ck_assert_int_eq(cvmm_cmdline_add(c, "console", "ttyS0"), 0);
	ck_assert_int_eq(cvmm_cmdline_add(c, "quiet", NULL), 0);
	ck_assert_int_eq(cvmm_cmdline_add(c, "init", "/bin/sh -c true"), 0);
	ck_assert_str_eq(cvmm_cmdline_str(c), "console=ttyS0 quiet init=\"/bin/sh -c true\"");
	ck_assert_uint_eq(cvmm_cmdline_len(c), strlen(cvmm_cmdline_str(c)));

	/* Values the kernel cannot parse back are refused, and change nothing. */
	ck_assert_int_eq(cvmm_cmdline_add(c, "a", "say \"hi\""), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add(c, "a b", "x"), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add(c, "a=b", "x"), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add(c, "", "x"), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add(c, "k", "line\nbreak"), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add(c, "k", "nbsp\xa0"), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_append(c, "unbalanced \"quote"), -EINVAL);

	/* Exactly at the limit fits; one more byte does not, atomically. */
	{
		size_t room = 64 - cvmm_cmdline_len(c) - 1; /* minus the separator */
		char word[64];

		memset(word, 'x', room + 1);
		word[room + 1] = '\0';
		ck_assert_int_eq(cvmm_cmdline_append(c, word), -E2BIG);
		ck_assert_uint_eq(cvmm_cmdline_len(c), 42);
		word[room] = '\0';
		ck_assert_int_eq(cvmm_cmdline_append(c, word), 0);
		ck_assert_uint_eq(cvmm_cmdline_len(c), 64);
		ck_assert_int_eq(cvmm_cmdline_add(c, "k", NULL), -E2BIG);
	}
	cvmm_cmdline_destroy(c);

	ck_assert_int_eq(cvmm_cmdline_create(2047, &c), 0);
	ck_assert_int_eq(cvmm_cmdline_append(c, "  root=/dev/vda  rw "), 0);
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 0x1000, 0xd0000000, 5), 0);
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 0x200, 0xd0001000, 6), 0);
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 2ull << 20, 0x100000000ull, 7), 0);
	ck_assert_str_eq(cvmm_cmdline_str(c),
			 "root=/dev/vda  rw virtio_mmio.device=4K@0xd0000000:5 "
			 "virtio_mmio.device=512@0xd0001000:6 virtio_mmio.device=2M@0x100000000:7");
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 0, 0xd0000000, 5), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 0x1000, UINT64_MAX - 0x10, 5), -EINVAL);
	ck_assert_int_eq(cvmm_cmdline_append(c, "   "), 0);
	cvmm_cmdline_destroy(c);
	cvmm_cmdline_destroy(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("linux-loader");
	TCase *tl = tcase_create("load");
	TCase *th = tcase_create("hostile");
	TCase *tc = tcase_create("pieces");

	tcase_set_timeout(th, 120);
	tcase_add_test(tl, elf_linux64);
	tcase_add_test(tl, elf_pvh);
	tcase_add_test(tl, elf_pvh_forced_64);
	tcase_add_test(tl, bzimage_load);
	tcase_add_test(tl, bzimage_placement);
	tcase_add_test(th, hostile_elf);
	tcase_add_test(th, hostile_bzimage);
	tcase_add_test(th, hostile_bitflips);
	tcase_add_test(th, hostile_opts);
	tcase_add_test(th, rom_and_reserved);
	tcase_add_test(tc, memmap);
	tcase_add_test(tc, cmdline_builder);
	suite_add_tcase(s, tl);
	suite_add_tcase(s, th);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
