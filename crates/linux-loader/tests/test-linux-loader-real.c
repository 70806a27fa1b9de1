/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A real distribution kernel, when one is on the machine: the bzImage from
 * $CVMM_TEST_BZIMAGE, /boot/vmlinuz-* or $top_builddir/slow-cache/root/boot/
 * (where `make check-slow` unpacks Debian's cloud kernel); the vmlinux from
 * $CVMM_TEST_VMLINUX, $top_builddir/slow-cache/vmlinux, or decompressed from
 * the bzImage's payload with lz4/xz/zstd/gzip. Each test skips with a
 * message when its image is missing.
 */
#include <cvmm/linux-loader.h>
#include <cvmm/vm-memory.h>
#include "cvmm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ull << 20)

static bool first_match(const char *pattern, char *out)
{
	glob_t g;
	bool ok = false;

	if (glob(pattern, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		snprintf(out, PATH_MAX, "%s", g.gl_pathv[0]);
		ok = true;
	}
	globfree(&g);
	return ok;
}

static bool find_bzimage(char *path)
{
	const char *env = getenv("CVMM_TEST_BZIMAGE"), *b = getenv("top_builddir");
	char pat[PATH_MAX];

	if (env && *env) {
		snprintf(path, PATH_MAX, "%s", env);
		return access(path, R_OK) == 0;
	}
	if (first_match("/boot/vmlinuz-*", path) && access(path, R_OK) == 0)
		return true;
	snprintf(pat, sizeof(pat), "%s/slow-cache/root/boot/vmlinuz-*", b && *b ? b : ".");
	return first_match(pat, path) && access(path, R_OK) == 0;
}

static struct cvmm_guest_mem *new_mem(uint64_t size)
{
	struct cvmm_x86_ram_opts o = { .sz = sizeof(o), .size = size, .backing = CVMM_MEM_ANON,
				       .flags = CVMM_MEM_F_NORESERVE };
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create_x86(&o, &m), 0);
	return m;
}

static void compare_file(struct cvmm_guest_mem *m, int fd, uint64_t off, uint64_t gpa, size_t len)
{
	uint8_t *a = malloc(len), *b = malloc(len);

	ck_assert_int_eq(pread(fd, a, len, (off_t)off), (ssize_t)len);
	ck_assert_int_eq(cvmm_guest_mem_read(m, gpa, b, len), 0);
	ck_assert_int_eq(memcmp(a, b, len), 0);
	free(a);
	free(b);
}

START_TEST(real_bzimage)
{
	static const struct cvmm_mem_range reserved[] = { { 0x9fc00, 0x60400, CVMM_E820_RESERVED } };
	struct cvmm_loader_opts o = { .sz = sizeof(o), .initrd_fd = -1, .reserved = reserved,
				      .n_reserved = 1 };
	struct cvmm_loader_result res;
	struct cvmm_kernel_info ki;
	struct cvmm_boot_params bp;
	struct cvmm_setup_header fh;
	struct cvmm_guest_mem *m;
	struct cvmm_cmdline *c;
	char path[PATH_MAX];
	int fd;

	if (!find_bzimage(path)) {
		printf("# SKIP no bzImage (set CVMM_TEST_BZIMAGE, or extract linux-image-cloud-amd64)\n");
		return;
	}
	printf("# bzImage: %s\n", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(cvmm_linux_loader_probe(fd, &ki), 0);
	ck_assert_int_eq(ki.format, CVMM_KERNEL_BZIMAGE);
	printf("# protocol %x.%02x xloadflags 0x%x init_size 0x%x pref 0x%llx cmdline_size %u\n",
	       ki.protocol >> 8, ki.protocol & 0xff, ki.xloadflags, ki.init_size,
	       (unsigned long long)ki.pref_address, ki.cmdline_size);
	ck_assert_uint_ge(ki.protocol, 0x020c);
	ck_assert(ki.xloadflags & CVMM_BOOT_XLF_KERNEL_64);
	ck_assert(ki.loadflags & CVMM_BOOT_LOADED_HIGH);
	ck_assert_uint_ge(ki.cmdline_size, 255);
	ck_assert_uint_ge(ki.init_size, ki.payload_size);

	/* A command line built to the kernel's own limit. */
	ck_assert_int_eq(cvmm_cmdline_create(ki.cmdline_size, &c), 0);
	ck_assert_int_eq(cvmm_cmdline_add(c, "console", "ttyS0"), 0);
	ck_assert_int_eq(cvmm_cmdline_add_virtio_mmio(c, 0x1000, 0xd0000000, 5), 0);
	o.cmdline = cvmm_cmdline_str(c);

	m = new_mem(512 * MIB);
	o.kernel_fd = fd;
	{
		static const char rd[20000] = "070701";
		char rpath[PATH_MAX];

		o.initrd_fd = cvmm_test_tmpfile(rpath, 0);
		ck_assert_int_ge(o.initrd_fd, 0);
		unlink(rpath);
		ck_assert_int_eq(write(o.initrd_fd, rd, sizeof(rd)), (ssize_t)sizeof(rd));
	}
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	close(o.initrd_fd);
	ck_assert_int_eq(res.mode, CVMM_BOOT_LINUX64);
	/* The initrd obeys the real header's initrd_addr_max. */
	ck_assert_uint_eq(res.initrd_size, 20000);
	ck_assert_uint_eq(res.initrd_gpa % 4096, 0);
	ck_assert_uint_le(res.initrd_gpa + res.initrd_size - 1, ki.initrd_addr_max);
	ck_assert(res.initrd_gpa >= res.kernel_end || res.initrd_gpa + res.initrd_size <= res.kernel_start);
	ck_assert_uint_eq(res.entry, res.kernel_start + 0x200);
	if (ki.relocatable)
		ck_assert_uint_eq(res.kernel_start % ki.kernel_alignment, 0);
	ck_assert_uint_ge(res.kernel_end - res.kernel_start, ki.init_size);
	/* The protected-mode part landed byte for byte: head and tail. */
	compare_file(m, fd, ki.setup_size, res.kernel_start, 4096);
	compare_file(m, fd, ki.file_size - 4096, res.kernel_start + ki.payload_size - 4096, 4096);

	ck_assert_int_eq(cvmm_guest_mem_read(m, res.boot_info_gpa, &bp, sizeof(bp)), 0);
	ck_assert_int_eq(pread(fd, &fh, sizeof(fh), CVMM_BOOT_SETUP_HEADER_OFFSET), (ssize_t)sizeof(fh));
	ck_assert_uint_eq(bp.hdr.setup_sects, fh.setup_sects);
	ck_assert_uint_eq(bp.hdr.syssize, fh.syssize);
	ck_assert_uint_eq(bp.hdr.version, fh.version);
	ck_assert_uint_eq(bp.hdr.init_size, fh.init_size);
	ck_assert_uint_eq(bp.hdr.type_of_loader, 0xff);
	ck_assert_uint_eq(bp.hdr.ramdisk_image, res.initrd_gpa);
	ck_assert_uint_eq(bp.hdr.ramdisk_size, 20000);
	ck_assert_uint_eq(bp.e820_entries, 3);
	cvmm_guest_mem_destroy(m);
	cvmm_cmdline_destroy(c);
	close(fd);
}
END_TEST

/* Decompress the bzImage payload with whichever tool matches its magic. */
static bool extract_vmlinux(const char *bz, char *out)
{
	static const struct {
		const uint8_t magic[4];
		size_t len;
		const char *tool;
	} fmts[] = {
		{ { 0x02, 0x21, 0x4c, 0x18 }, 4, "lz4" },
		{ { 0xfd, '7', 'z', 'X' }, 4, "xz" },
		{ { 0x28, 0xb5, 0x2f, 0xfd }, 4, "zstd" },
		{ { 0x1f, 0x8b }, 2, "gzip" },
	};
	struct cvmm_setup_header h;
	char payload[PATH_MAX], cmd[4 * PATH_MAX];
	uint8_t magic[4];
	uint64_t off;
	uint8_t *buf;
	int fd, pfd, ofd;
	bool ok = false;

	fd = open(bz, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (pread(fd, &h, sizeof(h), CVMM_BOOT_SETUP_HEADER_OFFSET) != (ssize_t)sizeof(h) ||
	    h.payload_length == 0)
		goto out;
	off = ((uint64_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512 + h.payload_offset;
	if (pread(fd, magic, 4, (off_t)off) != 4)
		goto out;
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		if (memcmp(magic, fmts[i].magic, fmts[i].len) != 0)
			continue;
		snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null", fmts[i].tool);
		if (system(cmd) != 0)
			break;
		pfd = cvmm_test_tmpfile(payload, 0);
		ofd = cvmm_test_tmpfile(out, 0);
		buf = malloc(h.payload_length);
		if (pfd >= 0 && ofd >= 0 && buf &&
		    pread(fd, buf, h.payload_length, (off_t)off) == (ssize_t)h.payload_length &&
		    write(pfd, buf, h.payload_length) == (ssize_t)h.payload_length) {
			snprintf(cmd, sizeof(cmd), "%s -dc < %s > %s 2>/dev/null", fmts[i].tool, payload, out);
			/* lz4 and friends complain about the kernel's trailing size word. */
			(void)system(cmd);
			ok = true;
		}
		free(buf);
		if (pfd >= 0) {
			close(pfd);
			unlink(payload);
		}
		if (ofd >= 0)
			close(ofd);
		break;
	}
out:
	close(fd);
	return ok;
}

START_TEST(real_vmlinux)
{
	const char *env = getenv("CVMM_TEST_VMLINUX"), *b = getenv("top_builddir");
	struct cvmm_loader_opts o = { .sz = sizeof(o), .initrd_fd = -1, .cmdline = "console=ttyS0" };
	struct cvmm_hvm_start_info si;
	struct cvmm_loader_result res;
	struct cvmm_kernel_info ki;
	struct cvmm_guest_mem *m;
	char path[PATH_MAX], bz[PATH_MAX];
	bool tmp = false;
	int fd;

	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		snprintf(path, sizeof(path), "%s/slow-cache/vmlinux", b && *b ? b : ".");
		if (access(path, R_OK) != 0) {
			if (!find_bzimage(bz) || !extract_vmlinux(bz, path)) {
				printf("# SKIP no vmlinux (set CVMM_TEST_VMLINUX or CVMM_TEST_BZIMAGE)\n");
				return;
			}
			tmp = true;
		}
	}
	printf("# vmlinux: %s\n", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	if (tmp)
		unlink(path);
	ck_assert_int_eq(cvmm_linux_loader_probe(fd, &ki), 0);
	ck_assert_int_eq(ki.format, CVMM_KERNEL_ELF);
	ck_assert_msg(ki.has_pvh, "a distribution x86-64 vmlinux carries the PVH note");
	printf("# entry 0x%llx, PVH entry 0x%llx\n", (unsigned long long)ki.elf_entry,
	       (unsigned long long)ki.pvh_entry);

	m = new_mem(512 * MIB);
	o.kernel_fd = fd;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.mode, CVMM_BOOT_PVH32);
	ck_assert_uint_eq(res.entry, ki.pvh_entry);
	ck_assert(res.entry >= res.kernel_start && res.entry < res.kernel_end);
	ck_assert_int_eq(cvmm_guest_mem_read(m, res.boot_info_gpa, &si, sizeof(si)), 0);
	ck_assert_uint_eq(si.magic, CVMM_HVM_START_MAGIC);
	ck_assert_uint_eq(si.memmap_entries, 1);

	/* The same kernel through its 64-bit entry. */
	o.flags = CVMM_LOADER_F_NO_PVH;
	ck_assert_int_eq(cvmm_linux_loader_load(m, &o, &res), 0);
	ck_assert_int_eq(res.mode, CVMM_BOOT_LINUX64);
	ck_assert_uint_eq(res.entry, ki.elf_entry);
	cvmm_guest_mem_destroy(m);
	close(fd);
}
END_TEST

int main(void)
{
	const char *env = getenv("CVMM_TEST_VMLINUX");
	char path[PATH_MAX];
	Suite *s;
	TCase *tc;

	/* Without any image the whole program is a TAP skip, not a pass. */
	if (!find_bzimage(path) && !(env && *env)) {
		printf("1..0 # SKIP no kernel image: set CVMM_TEST_BZIMAGE (e.g. vmlinuz from "
		       "linux-image-cloud-amd64 unpacked with dpkg-deb -x) or CVMM_TEST_VMLINUX\n");
		return 0;
	}

	/* Created only now: an early return must not leak Check's objects. */
	s = suite_create("linux-loader-real");
	tc = tcase_create("debian");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, real_bzimage);
	tcase_add_test(tc, real_vmlinux);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
