/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/vm-fdt.h>
#include <cvmm/vm-memory.h>
#include "cvmm-test.h"

#include <errno.h>
#include <libfdt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CVMM_DTC
#define CVMM_DTC ""
#endif

static struct cvmm_fdt *new_builder(size_t initial, size_t max)
{
	struct cvmm_fdt_opts o = { .sz = sizeof(o), .initial_size = initial, .max_size = max };
	struct cvmm_fdt *f = NULL;

	ck_assert_int_eq(cvmm_fdt_create(&o, &f), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* Decompile @blob with dtc; returns malloc'ed text or NULL when dtc is absent. */
static char *dtc_decompile(const void *blob, size_t len)
{
	char in[PATH_MAX], out[PATH_MAX], cmd[3 * PATH_MAX];
	char *text;
	FILE *fp;
	long n;
	int fd;

	if (!CVMM_DTC[0] || access(CVMM_DTC, X_OK) != 0)
		return NULL;
	fd = cvmm_test_tmpfile(in, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, blob, len), (ssize_t)len);
	close(fd);
	fd = cvmm_test_tmpfile(out, 0);
	ck_assert_int_ge(fd, 0);
	close(fd);
	snprintf(cmd, sizeof(cmd), "%s -q -I dtb -O dts -o %s %s", CVMM_DTC, out, in);
	ck_assert_int_eq(system(cmd), 0);
	fp = fopen(out, "r");
	ck_assert_ptr_nonnull(fp);
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	text = calloc(1, (size_t)n + 1);
	ck_assert_int_eq(fread(text, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	unlink(in);
	unlink(out);
	return text;
}

/* A tree with every property type, phandles, reservations and the helpers. */
static void build_full(struct cvmm_fdt *f, struct cvmm_guest_mem *m)
{
	static const char *const compat[] = { "acme,board-v2", "acme,board" };
	static const uint32_t cells[] = { 1, 2, 0xdeadbeef };
	static const uint64_t quads[] = { 0x1122334455667788ull, 5 };
	static const uint8_t bytes[] = { 0x01, 0xfe, 0x00, 0x7f, 0x80 };
	static const uint32_t gic_irq[] = { 0, 16, 4 };
	struct cvmm_fdt_chosen ch = {
		.sz = sizeof(ch), .bootargs = "console=ttyS0 root=/dev/vda",
		.stdout_path = "/uart@3f8", .initrd_start = 0x4000000, .initrd_end = 0x4100000,
	};
	struct cvmm_fdt_virtio_mmio vm = {
		.sz = sizeof(vm), .base = 0xd0000000, .size = 0x200,
		.interrupts = gic_irq, .n_interrupt_cells = 3, .dma_coherent = 1,
	};
	uint32_t gic;

	ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, 0x8000000, 0x100000), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "#address-cells", 2), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "#size-cells", 2), 0);
	ck_assert_int_eq(cvmm_fdt_prop_string_list(f, "compatible", compat, 2), 0);
	ck_assert_int_eq(cvmm_fdt_phandle_alloc(f, &gic), 0);
	ck_assert_int_eq(gic, 1);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "interrupt-parent", gic), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "intc@8000000"), 0);
	ck_assert_int_eq(cvmm_fdt_depth(f), 2);
	ck_assert_int_eq(cvmm_fdt_prop_empty(f, "interrupt-controller"), 0);
	ck_assert_int_eq(cvmm_fdt_prop_phandle(f, gic), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "test"), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32_array(f, "cells", cells, 3), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u64(f, "quad", 0x0102030405060708ull), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u64_array(f, "quads", quads, 2), 0);
	ck_assert_int_eq(cvmm_fdt_prop_bytes(f, "blob", bytes, sizeof(bytes)), 0);
	ck_assert_int_eq(cvmm_fdt_prop_string(f, "label", "hello world"), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_add_memory_node(f, m), 0);
	ck_assert_int_eq(cvmm_fdt_add_chosen(f, &ch), 0);
	ck_assert_int_eq(cvmm_fdt_add_virtio_mmio(f, &vm), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_depth(f), 0);
}

/* RAM below the hole and above 4 GiB, as in the x86 layout, plus a
 * separate region touching the first (merged in the memory node). */
static struct cvmm_guest_mem *make_mem(void)
{
	struct cvmm_mem_region_opts r = { .sz = sizeof(r), .backing = CVMM_MEM_ANON,
					   .flags = CVMM_MEM_F_NORESERVE, .fd = -1 };
	struct cvmm_guest_mem *m = NULL;

	ck_assert_int_eq(cvmm_guest_mem_create(&m), 0);
	r.gpa = 0x80000000;
	r.size = 0x100000;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &r), 0);
	r.gpa = 0x80100000;
	r.size = 0x300000;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &r), 0);
	r.gpa = 0x100000000ull;
	r.size = 0x200000;
	ck_assert_int_eq(cvmm_guest_mem_add_region(m, &r), 0);
	return m;
}

static const char expected_dts[] =
	"/dts-v1/;\n"
	"\n"
	"/memreserve/\t0x0000000008000000 0x0000000000100000;\n"
	"/ {\n"
	"\t#address-cells = <0x02>;\n"
	"\t#size-cells = <0x02>;\n"
	"\tcompatible = \"acme,board-v2\\0acme,board\";\n"
	"\tinterrupt-parent = <0x01>;\n"
	"\n"
	"\tintc@8000000 {\n"
	"\t\tinterrupt-controller;\n"
	"\t\tphandle = <0x01>;\n"
	"\t};\n"
	"\n"
	"\ttest {\n"
	"\t\tcells = <0x01 0x02 0xdeadbeef>;\n"
	"\t\tquad = <0x1020304 0x5060708>;\n"
	"\t\tquads = <0x11223344 0x55667788 0x00 0x05>;\n"
	"\t\tblob = [01 fe 00 7f 80];\n"
	"\t\tlabel = \"hello world\";\n"
	"\t};\n"
	"\n"
	"\tmemory@80000000 {\n"
	"\t\tdevice_type = \"memory\";\n"
	"\t\treg = <0x00 0x80000000 0x00 0x400000 0x01 0x00 0x00 0x200000>;\n"
	"\t};\n"
	"\n"
	"\tchosen {\n"
	"\t\tbootargs = \"console=ttyS0 root=/dev/vda\";\n"
	"\t\tstdout-path = \"/uart@3f8\";\n"
	"\t\tlinux,initrd-start = <0x00 0x4000000>;\n"
	"\t\tlinux,initrd-end = <0x00 0x4100000>;\n"
	"\t};\n"
	"\n"
	"\tvirtio_mmio@d0000000 {\n"
	"\t\tcompatible = \"virtio,mmio\";\n"
	"\t\treg = <0x00 0xd0000000 0x00 0x200>;\n"
	"\t\tinterrupts = <0x00 0x10 0x04>;\n"
	"\t\tdma-coherent;\n"
	"\t};\n"
	"};\n";

START_TEST(roundtrip_dtc)
{
	struct cvmm_guest_mem *m = make_mem();
	struct cvmm_fdt *f = new_builder(0, 0);
	const void *blob;
	size_t len;
	char *text;

	build_full(f, m);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), 0);
	text = dtc_decompile(blob, len);
	if (!text) {
		printf("# SKIP dtc not found (install device-tree-compiler)\n");
	} else {
		ck_assert_str_eq(text, expected_dts);
		free(text);
	}
	cvmm_fdt_destroy(f);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Independent of dtc: libfdt's full check and a read-back of every value. */
START_TEST(roundtrip_libfdt)
{
	struct cvmm_guest_mem *m = make_mem();
	struct cvmm_fdt *f = new_builder(256, 0);
	const void *blob, *blob2;
	const fdt32_t *c32;
	const fdt64_t *c64;
	const char *s;
	uint64_t addr, size;
	size_t len, len2;
	int node, plen;

	build_full(f, m);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), 0);
	ck_assert_int_eq(fdt_check_full(blob, len), 0);
	ck_assert_uint_eq(fdt_totalsize(blob), len);
	/* finish() is idempotent; the builder refuses further changes. */
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob2, &len2), 0);
	ck_assert_ptr_eq(blob, blob2);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "late"), -EINVAL);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob2, &len2), 0);

	ck_assert_int_eq(fdt_num_mem_rsv(blob), 1);
	ck_assert_int_eq(fdt_get_mem_rsv(blob, 0, &addr, &size), 0);
	ck_assert_uint_eq(addr, 0x8000000);
	ck_assert_uint_eq(size, 0x100000);

	node = fdt_path_offset(blob, "/test");
	ck_assert_int_ge(node, 0);
	c32 = fdt_getprop(blob, node, "cells", &plen);
	ck_assert_int_eq(plen, 12);
	ck_assert_uint_eq(fdt32_ld(&c32[2]), 0xdeadbeef);
	c64 = fdt_getprop(blob, node, "quad", &plen);
	ck_assert_int_eq(plen, 8);
	ck_assert_uint_eq(fdt64_ld(c64), 0x0102030405060708ull);
	s = fdt_getprop(blob, node, "label", &plen);
	ck_assert_int_eq(plen, (int)sizeof("hello world"));
	ck_assert_str_eq(s, "hello world");
	ck_assert_int_eq(fdt_stringlist_count(blob, 0, "compatible"), 2);
	ck_assert_int_eq(fdt_node_check_compatible(blob, 0, "acme,board"), 0);
	ck_assert_int_eq(fdt_node_offset_by_phandle(blob, 1),
			 fdt_path_offset(blob, "/intc@8000000"));
	node = fdt_path_offset(blob, "/chosen");
	ck_assert_int_ge(node, 0);
	ck_assert_str_eq(fdt_getprop(blob, node, "bootargs", NULL), "console=ttyS0 root=/dev/vda");
	node = fdt_node_offset_by_compatible(blob, -1, "virtio,mmio");
	ck_assert_int_ge(node, 0);
	ck_assert_ptr_nonnull(fdt_getprop(blob, node, "dma-coherent", &plen));
	ck_assert_int_eq(plen, 0);
	cvmm_fdt_destroy(f);
	cvmm_guest_mem_destroy(m);
}
END_TEST

/* Start tiny so that every kind of call crosses a growth step. */
START_TEST(growth)
{
	struct cvmm_fdt *f = new_builder(256, 1 << 20);
	uint8_t payload[1000];
	const void *blob;
	size_t len;
	char name[32];

	memset(payload, 0xa5, sizeof(payload));
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "node@%x", i);
		ck_assert_int_eq(cvmm_fdt_begin_node(f, name), 0);
		snprintf(name, sizeof(name), "p%d", i);
		ck_assert_int_eq(cvmm_fdt_prop_bytes(f, name, payload, (size_t)i * 5), 0);
		ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	}
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, (uint64_t)i << 20, 4096), 0);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), 0);
	ck_assert_int_eq(fdt_check_full(blob, len), 0);
	ck_assert_int_eq(fdt_num_mem_rsv(blob), 40);
	for (int i = 0; i < 200; i += 37) {
		const uint8_t *v;
		int node, plen;

		snprintf(name, sizeof(name), "/node@%x", i);
		node = fdt_path_offset(blob, name);
		ck_assert_int_ge(node, 0);
		snprintf(name, sizeof(name), "p%d", i);
		v = fdt_getprop(blob, node, name, &plen);
		ck_assert_int_eq(plen, i * 5);
		if (i)
			ck_assert_int_eq(memcmp(v, payload, (size_t)plen), 0);
	}
	cvmm_fdt_destroy(f);
}
END_TEST

START_TEST(huge_property)
{
	struct cvmm_fdt *f = new_builder(0, 64 * 1024);
	const void *blob;
	size_t len;
	uint8_t *big = calloc(1, 65 * 1024);

	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	/* Larger than the whole limit: refused before touching libfdt. */
	ck_assert_int_eq(cvmm_fdt_prop_bytes(f, "big", big, 65 * 1024), -E2BIG);
	/* Sticky: everything after fails the same way. */
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "ok", 1), -E2BIG);
	ck_assert_int_eq(cvmm_fdt_end_node(f), -E2BIG);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), -E2BIG);
	cvmm_fdt_destroy(f);

	/* Just under the limit in one property, then the rest no longer fits. */
	f = new_builder(0, 64 * 1024);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_bytes(f, "a", big, 60 * 1024), 0);
	ck_assert_int_eq(cvmm_fdt_prop_bytes(f, "b", big, 8 * 1024), -E2BIG);
	cvmm_fdt_destroy(f);

	/* Element counts whose byte size overflows. */
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u64_array(f, "x", (const uint64_t *)big, SIZE_MAX / 4), -E2BIG);
	cvmm_fdt_destroy(f);
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32_array(f, "x", (const uint32_t *)big, SIZE_MAX / 2), -E2BIG);
	cvmm_fdt_destroy(f);
	free(big);
}
END_TEST

START_TEST(bad_names)
{
	static const char *const bad_nodes[] = {
		"1abc", "-x", "a b", "a/b", "node@", "a@b@c", "@10", "a\tb",
		"abcdefghijklmnopqrstuvwxyz0123456", "\xc3\xa9", "ok@1 2",
	};
	static const char *const good_nodes[] = {
		"a", "cpu@0", "virtio_mmio@d0000000", "pci@1,0", "A-b+c.d_e,f",
		"abcdefghijklmnopqrstuvwxyz01234",
	};
	static const char *const bad_props[] = {
		"", "a b", "a=b", "a/b", "abcdefghijklmnopqrstuvwxyz012345", "x@1", "\x01",
	};
	static const char *const good_props[] = {
		"#address-cells", "linux,initrd-start", "a?", "A_B.c+d", "1",
	};
	struct cvmm_fdt *f;

	for (size_t i = 0; i < sizeof(bad_nodes) / sizeof(bad_nodes[0]); i++) {
		f = new_builder(0, 0);
		ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
		ck_assert_msg(cvmm_fdt_begin_node(f, bad_nodes[i]) == -EINVAL, "node %s", bad_nodes[i]);
		cvmm_fdt_destroy(f);
	}
	for (size_t i = 0; i < sizeof(bad_props) / sizeof(bad_props[0]); i++) {
		f = new_builder(0, 0);
		ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
		ck_assert_msg(cvmm_fdt_prop_u32(f, bad_props[i], 1) == -EINVAL, "prop %s", bad_props[i]);
		cvmm_fdt_destroy(f);
	}
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	for (size_t i = 0; i < sizeof(good_nodes) / sizeof(good_nodes[0]); i++) {
		ck_assert_msg(cvmm_fdt_begin_node(f, good_nodes[i]) == 0, "node %s", good_nodes[i]);
		ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	}
	for (size_t i = 0; i < sizeof(good_props) / sizeof(good_props[0]); i++)
		ck_assert_msg(cvmm_fdt_prop_empty(f, good_props[i]) == 0, "prop %s", good_props[i]);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	cvmm_fdt_destroy(f);

	/* The root must be named "" and children may not be. */
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "root"), -EINVAL);
	cvmm_fdt_destroy(f);
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), -EINVAL);
	cvmm_fdt_destroy(f);
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_string(f, "s", NULL), -EINVAL);
	cvmm_fdt_destroy(f);
}
END_TEST

START_TEST(unbalanced)
{
	struct cvmm_fdt *f;
	const void *blob;
	size_t len;
	char name[16];

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), -EINVAL);
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "x", 1), -EINVAL); /* no node open */
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), -EINVAL); /* no root */
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "a"), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_finish(f, &blob, &len), -EINVAL); /* root still open */
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), -EINVAL);
	cvmm_fdt_destroy(f);

	/* A second root after the first closed. */
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), -EINVAL);
	cvmm_fdt_destroy(f);

	/* Depth limit. */
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	for (int i = 1; i < CVMM_FDT_MAX_DEPTH; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		ck_assert_int_eq(cvmm_fdt_begin_node(f, name), 0);
	}
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "deep"), -EINVAL);
	cvmm_fdt_destroy(f);
}
END_TEST

START_TEST(duplicates_and_misc)
{
	struct cvmm_fdt *f;
	uint32_t ph;

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "x", 1), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u64(f, "x", 1), -EEXIST);
	cvmm_fdt_destroy(f);

	/* Same name as property and node is allowed; twice as node is not. */
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "x", 1), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "x"), 0);
	ck_assert_int_eq(cvmm_fdt_prop_u32(f, "x", 1), 0); /* new node, new names */
	ck_assert_int_eq(cvmm_fdt_end_node(f), 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, "x"), -EEXIST);
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_prop_phandle(f, 1), -EINVAL); /* never allocated */
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_phandle_alloc(f, &ph), 0);
	ck_assert_int_eq(ph, 1);
	ck_assert_int_eq(cvmm_fdt_phandle_alloc(f, &ph), 0);
	ck_assert_int_eq(ph, 2);
	ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, 0, 0), -EINVAL);
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	for (int i = 0; i < CVMM_FDT_MAX_RSV; i++)
		ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, (uint64_t)i << 12, 4096), 0);
	ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, 1ull << 40, 4096), -E2BIG);
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_add_mem_rsv(f, UINT64_MAX - 10, 4096), -EINVAL);
	cvmm_fdt_destroy(f);

	{
		struct cvmm_fdt_opts o = { .sz = 3 };
		struct cvmm_fdt_opts big = { .sz = sizeof(big), .max_size = (size_t)CVMM_FDT_HARD_MAX_SIZE + 1 };

		ck_assert_int_eq(cvmm_fdt_create(&o, &f), -EINVAL);
		ck_assert_int_eq(cvmm_fdt_create(&big, &f), -EINVAL);
		ck_assert_int_eq(cvmm_fdt_create(NULL, &f), 0);
		cvmm_fdt_destroy(f);
	}
	cvmm_fdt_destroy(NULL);
}
END_TEST

START_TEST(helper_args)
{
	static const uint32_t irq[] = { 5 };
	struct cvmm_fdt_virtio_mmio v = { .sz = sizeof(v), .base = UINT64_MAX - 0x100, .size = 0x200,
					  .interrupts = irq, .n_interrupt_cells = 1 };
	struct cvmm_fdt_chosen c = { .sz = sizeof(c), .initrd_start = 10, .initrd_end = 5 };
	struct cvmm_guest_mem *m;
	struct cvmm_fdt *f;

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_add_virtio_mmio(f, &v), -EINVAL); /* wraps */
	cvmm_fdt_destroy(f);

	v.base = 0x1000;
	v.n_interrupt_cells = 0;
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_add_virtio_mmio(f, &v), -EINVAL);
	cvmm_fdt_destroy(f);

	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_add_chosen(f, &c), -EINVAL);
	cvmm_fdt_destroy(f);

	/* An empty guest memory has nothing to describe. */
	ck_assert_int_eq(cvmm_guest_mem_create(&m), 0);
	f = new_builder(0, 0);
	ck_assert_int_eq(cvmm_fdt_begin_node(f, ""), 0);
	ck_assert_int_eq(cvmm_fdt_add_memory_node(f, m), -EINVAL);
	cvmm_fdt_destroy(f);
	cvmm_guest_mem_destroy(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vm-fdt");
	TCase *tc = tcase_create("builder");
	TCase *th = tcase_create("hostile");

	tcase_add_test(tc, roundtrip_dtc);
	tcase_add_test(tc, roundtrip_libfdt);
	tcase_add_test(tc, growth);
	tcase_add_test(th, huge_property);
	tcase_add_test(th, bad_names);
	tcase_add_test(th, unbalanced);
	tcase_add_test(th, duplicates_and_misc);
	tcase_add_test(th, helper_args);
	suite_add_tcase(s, tc);
	suite_add_tcase(s, th);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
