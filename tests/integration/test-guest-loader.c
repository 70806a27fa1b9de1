/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The test-guest loader (examples/hello-kvm/guest-loader.c) on its own, no
 * KVM needed: hostile headers are refused with the documented errors, and
 * a real image lands with a consistent GDT, TSS, boot info and identity map.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#include "cvmm-guest-image.h"
#include "cvmm-test.h"
#include "guest-loader.h"

#define MIB (1ull << 20)

/* A minimal valid image: header + a few bytes of "code" + bss. */
struct img {
	struct cvmm_guest_image_hdr h;
	unsigned char code[64];
};

static struct img good(void)
{
	struct img i;

	memset(&i, 0, sizeof(i));
	memcpy(i.h.magic, CVMM_GUEST_MAGIC, CVMM_GUEST_MAGIC_LEN);
	i.h.version = CVMM_GUEST_VERSION;
	i.h.hdr_size = sizeof(i.h);
	i.h.load_gpa = 2 * MIB;
	i.h.entry = 2 * MIB + sizeof(i.h);
	i.h.file_size = sizeof(i);
	i.h.mem_size = 3 * 4096;
	i.h.stack_size = 4 * 4096;
	memset(i.code, 0xf4, sizeof(i.code));
	return i;
}

static int parse(const struct img *i, size_t len)
{
	struct cvmm_guest_image out;

	return cvmm_guest_image_parse(i, len, &out);
}

static struct cvmm_guest_mem *ram(uint64_t size)
{
	struct cvmm_x86_ram_opts o = {
		.sz = sizeof(o), .size = size, .flags = CVMM_MEM_F_NORESERVE,
	};
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), 0);
	return m;
}

START_TEST(parse_good)
{
	struct img i = good();
	struct cvmm_guest_image out;

	ck_assert_int_eq(cvmm_guest_image_parse(&i, sizeof(i), &out), 0);
	ck_assert_uint_eq(out.load_gpa, 2 * MIB);
	ck_assert_uint_eq(out.entry, 2 * MIB + 64);
	ck_assert_uint_eq(out.mem_size, 3 * 4096);
	ck_assert_uint_eq(out.stack_size, 4 * 4096);
}
END_TEST

START_TEST(parse_truncated)
{
	struct img i = good();

	ck_assert_int_eq(cvmm_guest_image_parse(NULL, 0, NULL), -ENOEXEC);
	for (size_t len = 0; len < sizeof(i.h); len++)
		ck_assert_int_eq(parse(&i, len), -ENOEXEC);
	/* A whole header but the file is shorter than it says. */
	ck_assert_int_eq(parse(&i, sizeof(i) - 1), -EINVAL);
	ck_assert_int_eq(parse(&i, sizeof(i.h)), -EINVAL);
}
END_TEST

START_TEST(parse_bad_magic_version_flags)
{
	struct img i = good();

	i.h.magic[7] = '2';
	ck_assert_int_eq(parse(&i, sizeof(i)), -ENOEXEC);
	i = good();
	i.h.version = 2;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EOPNOTSUPP);
	i = good();
	i.h.hdr_size = 72;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EOPNOTSUPP);
	i = good();
	i.h.flags = 0x80;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EOPNOTSUPP);
	i = good();
	i.h.reserved = 1;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
}
END_TEST

START_TEST(parse_bad_fields)
{
	struct img i;

	i = good();
	i.h.mem_size = sizeof(i) - 1;           /* smaller than the file */
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.load_gpa += 1;                      /* unaligned */
	i.h.entry += 1;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.entry = i.h.load_gpa + 8;           /* inside the header */
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.entry = i.h.load_gpa + sizeof(i);   /* one past the file */
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.entry = 0;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.stack_size = 0;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.stack_size = 4096 + 1;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.stack_size = CVMM_GUEST_MAX_STACK + 4096;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
}
END_TEST

START_TEST(parse_overflow)
{
	struct img i = good();

	/* load_gpa + mem_size wraps around 2^64. */
	i.h.load_gpa = 0xfffffffffffff000ull;
	i.h.entry = i.h.load_gpa + 64;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.mem_size = UINT64_MAX - 4096;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
	i = good();
	i.h.file_size = UINT64_MAX;
	ck_assert_int_eq(parse(&i, sizeof(i)), -EINVAL);
}
END_TEST

START_TEST(load_outside_ram)
{
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = 1 };
	struct cvmm_guest_mem *m = ram(16 * MIB);
	struct cvmm_guest_layout l;
	struct img i;

	i = good();
	i.h.load_gpa = 16 * MIB;                /* just past the end */
	i.h.entry = i.h.load_gpa + 64;
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EFAULT);
	i = good();
	i.h.load_gpa = 0xc0000000;              /* in the MMIO hole */
	i.h.entry = i.h.load_gpa + 64;
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EFAULT);
	i = good();
	i.h.mem_size = 14 * MIB;                /* image fits, stacks and tables do not */
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EFAULT);
	i = good();
	i.h.load_gpa = 0x7ffffffffffff000ull;   /* huge but no wrap */
	i.h.entry = i.h.load_gpa + 64;
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EFAULT);
	cvmm_guest_mem_destroy(m);
}
END_TEST

START_TEST(load_bad_opts)
{
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = 0 };
	struct cvmm_guest_mem *m = ram(16 * MIB);
	struct cvmm_guest_layout l;
	struct img i = good();

	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EINVAL);
	o.ncpus = CVMM_GUEST_MAX_CPUS + 1;
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EINVAL);
	o.ncpus = 1;
	o.sz = 4;
	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), -EINVAL);
	ck_assert_int_eq(cvmm_guest_load_file(m, "/nonexistent/guest.img", &o, &l), -EINVAL);
	o.sz = sizeof(o);
	ck_assert_int_eq(cvmm_guest_load_file(m, "/nonexistent/guest.img", &o, &l), -ENOENT);
	ck_assert_int_eq(cvmm_guest_load_file(m, "/", &o, &l), -EINVAL);
	cvmm_guest_mem_destroy(m);
}
END_TEST

static uint64_t rd(struct cvmm_guest_mem *m, uint64_t gpa)
{
	uint64_t v = 0;

	ck_assert_int_eq(cvmm_guest_mem_read_u64(m, gpa, &v), 0);
	return v;
}

/* Walk the loader's page tables like the CPU: identity, user, writable. */
static uint64_t walk(struct cvmm_guest_mem *m, uint64_t cr3, uint64_t va)
{
	uint64_t e = rd(m, cr3 + ((va >> 39) & 511) * 8);

	ck_assert_uint_eq(e & 7, 7);
	e = rd(m, (e & ~0xfffull) + ((va >> 30) & 511) * 8);
	ck_assert_uint_eq(e & 7, 7);
	e = rd(m, (e & ~0xfffull) + ((va >> 21) & 511) * 8);
	ck_assert_uint_eq(e & 0x87, 0x87);
	return (e & ~0x1fffffull) | (va & 0x1fffff);
}

static void check_layout(uint64_t mem_size, uint32_t ncpus)
{
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = ncpus,
					  .args = { 11, 22, 33, 44 } };
	struct cvmm_guest_mem *m = ram(mem_size);
	struct cvmm_guest_boot_info bi;
	struct cvmm_guest_layout l;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct img i = good();
	uint64_t end = cvmm_guest_mem_end(m);

	ck_assert_int_eq(cvmm_guest_load(m, &i, sizeof(i), &o, &l), 0);
	/* The image is there, the bss and stacks are zero. */
	ck_assert_uint_eq(rd(m, i.h.load_gpa), rd(m, i.h.load_gpa));
	ck_assert_int_eq(memcmp(cvmm_guest_mem_ptr(m, i.h.load_gpa, sizeof(i)), &i, sizeof(i)), 0);
	ck_assert_uint_eq(rd(m, i.h.load_gpa + sizeof(i)), 0);
	ck_assert_uint_ge(l.stacks_gpa, i.h.load_gpa + i.h.mem_size);
	ck_assert_uint_gt(l.free_gpa, l.pml4_gpa);
	ck_assert(cvmm_guest_mem_range_valid(m, i.h.load_gpa, l.free_gpa - i.h.load_gpa));

	ck_assert_int_eq(cvmm_guest_mem_read(m, l.boot_info_gpa, &bi, sizeof(bi)), 0);
	ck_assert_uint_eq(bi.magic, CVMM_GUEST_BOOT_MAGIC);
	ck_assert_uint_eq(bi.ncpus, ncpus);
	ck_assert_uint_eq(bi.ram_end, end);
	ck_assert_uint_eq(bi.free_gpa, l.free_gpa);
	ck_assert_uint_eq(bi.args[3], 44);
	ck_assert_uint_eq(bi.nr_ram, mem_size > 0xc0000000ull ? 2 : 1);

	/* Identity map: low RAM, the APIC page in the hole, the top of RAM. */
	ck_assert_uint_eq(walk(m, l.pml4_gpa, 0x1234), 0x1234);
	ck_assert_uint_eq(walk(m, l.pml4_gpa, 0xfee00000), 0xfee00000);
	ck_assert_uint_eq(walk(m, l.pml4_gpa, end - 8), end - 8);

	for (uint32_t c = 0; c < ncpus; c++) {
		uint64_t tss, desc;

		memset(&sregs, 0, sizeof(sregs));
		ck_assert_int_eq(cvmm_guest_vcpu_regs(&l, c, &regs, &sregs), 0);
		ck_assert_uint_eq(regs.rip, i.h.entry);
		ck_assert_uint_eq(regs.rdi, c);
		ck_assert_uint_eq(regs.rsi, l.boot_info_gpa);
		ck_assert_uint_eq(regs.rsp % 16, 0);
		ck_assert_uint_eq(sregs.cs.dpl, 3);
		ck_assert_uint_eq(sregs.cs.selector, CVMM_GUEST_SEL_UCODE);
		ck_assert_uint_eq(sregs.cr3, l.pml4_gpa);
		/* Stacks do not overlap: each vCPU's below the next one's ring-0 stack. */
		ck_assert_uint_ge(regs.rsp, l.stacks_gpa + c * l.stack_block + 4096);
		ck_assert_uint_le(regs.rsp, l.stacks_gpa + (c + 1) * l.stack_block - 4096);
		/* TSS: RSP0 at the top of the vCPU's block; I/O bitmap allows all ports. */
		tss = sregs.tr.base;
		ck_assert_uint_eq(rd(m, tss + 4), l.stacks_gpa + (c + 1) * l.stack_block);
		ck_assert_uint_eq(rd(m, tss + 96) >> 48, 104);
		ck_assert_uint_eq(rd(m, tss + 104 + 0x3f8 / 8) & 0xff, 0);
		ck_assert_uint_eq(sregs.tr.limit, 104 + 8192);
		ck_assert_uint_eq(rd(m, tss + 104 + 8192) & 0xff, 0xff);
		/* The GDT descriptor of this TSS names the same base. */
		desc = rd(m, l.gdt_gpa + sregs.tr.selector);
		ck_assert_uint_eq(((desc >> 16) & 0xffffff) | ((desc >> 56) << 24), tss & 0xffffffff);
		ck_assert_uint_eq(rd(m, l.gdt_gpa + sregs.tr.selector + 8), tss >> 32);
	}
	ck_assert_int_eq(cvmm_guest_vcpu_regs(&l, ncpus, &regs, &sregs), -EINVAL);
	cvmm_guest_mem_destroy(m);
}

START_TEST(layout_small) { check_layout(32 * MIB, 1); }
END_TEST
START_TEST(layout_smp) { check_layout(64 * MIB, 16); }
END_TEST
START_TEST(layout_above_4g) { check_layout(5ull << 30, 2); }
END_TEST

START_TEST(real_images_parse)
{
	static const char *names[] = { "hello", "smp", "dirty", "fault", "fault-cpl0",
				       "ioevent", "irq", "startup" };
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = 2 };

	for (size_t n = 0; n < CVMM_ARRAY_SIZE(names); n++) {
		char path[512];
		struct cvmm_guest_mem *m = ram(32 * MIB);
		struct cvmm_guest_layout l;

		snprintf(path, sizeof(path), "%s/%s.img", CVMM_GUESTS_DIR, names[n]);
		ck_assert_msg(cvmm_guest_load_file(m, path, &o, &l) == 0, "%s", path);
		ck_assert_uint_eq(l.img.load_gpa, 2 * MIB);
		ck_assert_uint_eq(l.img.flags & ~CVMM_GUEST_F_KNOWN, 0);
		cvmm_guest_mem_destroy(m);
	}
}
END_TEST

START_TEST(real_image_truncated_file)
{
	struct cvmm_guest_load_opts o = { .sz = sizeof(o), .ncpus = 1 };
	struct cvmm_guest_mem *m = ram(32 * MIB);
	struct cvmm_guest_layout l;
	char path[512], tmp[4096];
	unsigned char *buf;
	FILE *f;
	long len;
	int fd;

	snprintf(path, sizeof(path), "%s/hello.img", CVMM_GUESTS_DIR);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len);
	ck_assert_uint_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	/* Every prefix of a real image is refused; nothing is half-loaded. */
	for (long cut = 0; cut < len; cut += (cut < 128 ? 1 : 509))
		ck_assert_int_lt(cvmm_guest_load(m, buf, (size_t)cut, &o, &l), 0);
	ck_assert_int_eq(cvmm_guest_load(m, buf, (size_t)len, &o, &l), 0);
	/* A trailing byte is refused too. */
	fd = cvmm_test_tmpfile(tmp, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_write_full(fd, buf, (size_t)len), 0);
	ck_assert_int_eq(cvmm_write_full(fd, "x", 1), 0);
	close(fd);
	ck_assert_int_eq(cvmm_guest_load_file(m, tmp, &o, &l), -EINVAL);
	unlink(tmp);
	free(buf);
	cvmm_guest_mem_destroy(m);
}
END_TEST

static Suite *loader_suite(void)
{
	Suite *s = suite_create("guest-loader");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, parse_good);
	tcase_add_test(tc, parse_truncated);
	tcase_add_test(tc, parse_bad_magic_version_flags);
	tcase_add_test(tc, parse_bad_fields);
	tcase_add_test(tc, parse_overflow);
	suite_add_tcase(s, tc);
	tc = tcase_create("load");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, load_outside_ram);
	tcase_add_test(tc, load_bad_opts);
	tcase_add_test(tc, layout_small);
	tcase_add_test(tc, layout_smp);
	tcase_add_test(tc, layout_above_4g);
	tcase_add_test(tc, real_images_parse);
	tcase_add_test(tc, real_image_truncated_file);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	Suite *suites[] = { loader_suite(), NULL };

	return cvmm_test_run(suites);
}
