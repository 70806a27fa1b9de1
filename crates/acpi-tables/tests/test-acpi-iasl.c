/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Independent check of the generated tables: ACPICA's disassembler (iasl -d,
 * Debian's acpica-tools) must parse every table, and its output must show
 * each device with its address and interrupt. Skips when iasl is missing.
 */
#include <cvmm/acpi-tables.h>
#include "cvmm-test.h"
#include "acpi-test-util.h"
#include <cvmm/sys-util.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char iasl[PATH_MAX];

/* snprintf into an array, failing the test rather than truncating. */
#define FMT(buf, ...) ck_assert_int_lt(snprintf(buf, sizeof(buf), __VA_ARGS__), (int)sizeof(buf))

static bool find_iasl(void)
{
	const char *env = getenv("IASL");
	char *path, *dir, *save = NULL;
	bool found = false;

	if (env && *env) {
		snprintf(iasl, sizeof(iasl), "%s", env);
		return access(iasl, X_OK) == 0;
	}
	path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	if (!path)
		return false;
	for (dir = strtok_r(path, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
		snprintf(iasl, sizeof(iasl), "%s/iasl", dir);
		found = access(iasl, X_OK) == 0;
	}
	free(path);
	return found;
}

/* A fresh directory under $TMPDIR (default /tmp) for iasl's files. */
static void make_tmpdir(char dir[PATH_MAX])
{
	const char *t = getenv("TMPDIR");

	ck_assert_int_lt(snprintf(dir, PATH_MAX, "%s/cvmm-iasl-XXXXXX", t && *t ? t : "/tmp"),
			 PATH_MAX);
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

/* Write @len bytes to <dir>/<name>.dat, disassemble, return the .dsl text. */
static char *disassemble(const char *name, const void *data, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX], cmd[3 * PATH_MAX];
	FILE *f;
	char *text;
	long n;

	make_tmpdir(dir);
	FMT(path, "%s/%s.dat", dir, name);
	f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	FMT(cmd, "cd '%s' && '%s' -d '%s.dat' >iasl.log 2>&1", dir, iasl, name);
	ck_assert_msg(system(cmd) == 0, "iasl -d %s failed (see %s/iasl.log)", name, dir);
	FMT(path, "%s/%s.dsl", dir, name);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	text = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(fread(text, 1, (size_t)n, f), (size_t)n);
	text[n] = 0;
	fclose(f);
	FMT(cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	return text;
}

/*
 * Compile @dsl back with iasl and compare the AML after the header (whose
 * compiler ID and checksum differ) with @aml: the strongest check that
 * every byte we emit means what the disassembly says.
 */
static void recompile_matches(const char *dsl, const uint8_t *aml, size_t len)
{
	char dir[PATH_MAX], path[PATH_MAX], cmd[3 * PATH_MAX];
	uint8_t *out;
	FILE *f;
	long n;

	make_tmpdir(dir);
	FMT(path, "%s/re.dsl", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(dsl, f);
	fclose(f);
	FMT(cmd, "cd '%s' && '%s' -p re re.dsl >iasl.log 2>&1", dir, iasl);
	ck_assert_msg(system(cmd) == 0, "iasl could not compile the disassembly (%s)", dir);
	FMT(path, "%s/re.aml", dir);
	f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	out = malloc((size_t)n);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(fread(out, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	ck_assert_uint_eq((size_t)n, len);
	ck_assert_msg(memcmp(out + 36, aml + 36, len - 36) == 0, "recompiled AML differs");
	free(out);
	FMT(cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* The text of Device(@name) up to the next Device or the end. */
static char *device_block(const char *dsl, const char *name)
{
	char needle[32];
	const char *start, *end;
	char *out;

	snprintf(needle, sizeof(needle), "Device (%s)", name);
	start = strstr(dsl, needle);
	if (!start)
		return NULL;
	end = strstr(start + 1, "Device (");
	if (!end)
		end = start + strlen(start);
	out = strndup(start, (size_t)(end - start));
	ck_assert_ptr_nonnull(out);
	return out;
}

static void expect(const char *text, const char *needle)
{
	size_t len = strlen(text);

	ck_assert_msg(strstr(text, needle), "'%s' not in disassembly:\n%.1500s\n[...]\n%s",
		      needle, text, text + (len > 3000 ? len - 1500 : CVMM_MIN(len, 1500)));
}

START_TEST(iasl_full_table_set)
{
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	char *dsl, *blk, want[96];
	const uint8_t *fadt, *madt, *xsdt;

	test_config(&cfg);
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);

	dsl = disassemble("dsdt", t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	recompile_matches(dsl, t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	expect(dsl, "DefinitionBlock");
	expect(dsl, "Scope (_SB)");
	expect(dsl, "Name (_S5, Package (0x04)");
	blk = device_block(dsl, "COM1");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0501\")");
	expect(blk, "0x03F8,             // Range Minimum");
	expect(blk, "0x08,               // Length");
	expect(blk, "IRQNoFlags ()");
	expect(blk, "{4}");
	expect(blk, "Return (0x0F)");
	free(blk);
	blk = device_block(dsl, "PS2K");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0303\")");
	expect(blk, "0x0064,             // Range Minimum");
	expect(blk, "{1}");
	free(blk);
	blk = device_block(dsl, "RTC");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0B00\")");
	expect(blk, "{8}");
	free(blk);
	for (unsigned int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "V%03X", i);
		blk = device_block(dsl, name);
		ck_assert_msg(blk != NULL, "no device %s", name);
		expect(blk, "Name (_HID, \"LNRO0005\")");
		if (test_virtio[i].base < (1ull << 32)) {
			expect(blk, "Memory32Fixed (ReadWrite,");
			snprintf(want, sizeof(want), "0x%08llX,         // Address Base",
				 (unsigned long long)test_virtio[i].base);
			expect(blk, want);
			snprintf(want, sizeof(want), "0x%08llX,         // Address Length",
				 (unsigned long long)test_virtio[i].size);
			expect(blk, want);
		} else {
			expect(blk, "QWordMemory (ResourceConsumer");
			snprintf(want, sizeof(want), "0x%016llX, // Range Minimum",
				 (unsigned long long)test_virtio[i].base);
			expect(blk, want);
			snprintf(want, sizeof(want), "0x%016llX, // Length",
				 (unsigned long long)test_virtio[i].size);
			expect(blk, want);
		}
		snprintf(want, sizeof(want), "Interrupt (ResourceConsumer, %s, ActiveHigh, Exclusive",
			 test_virtio[i].level ? "Level" : "Edge");
		expect(blk, want);
		snprintf(want, sizeof(want), "0x%08X,", test_virtio[i].gsi);
		expect(blk, want);
		free(blk);
	}
	free(dsl);

	fadt = t.data + (t.fadt_gpa - t.gpa);
	dsl = disassemble("facp", fadt, test_le(fadt + 4, 4));
	expect(dsl, "Signature : \"FACP\"");
	expect(dsl, "Hardware Reduced (V5) : 1");
	expect(dsl, "Sleep Control Register");
	expect(dsl, "Address : 0000000000000600");
	expect(dsl, "Address : 0000000000000601");
	snprintf(want, sizeof(want), "DSDT Address : %016llX", (unsigned long long)t.dsdt_gpa);
	expect(dsl, want);
	ck_assert_msg(!strstr(dsl, "Incorrect checksum"), "%s", dsl);
	free(dsl);

	madt = t.data + (t.madt_gpa - t.gpa);
	dsl = disassemble("apic", madt, test_le(madt + 4, 4));
	expect(dsl, "Signature : \"APIC\"");
	{
		unsigned int n = 0;

		for (const char *p = dsl; (p = strstr(p, "[Processor Local APIC]")); p++)
			n++;
		ck_assert_uint_eq(n, cfg.num_cpus);
	}
	expect(dsl, "[I/O APIC]");
	expect(dsl, "Address : FEC00000");
	expect(dsl, "[Interrupt Source Override]");
	ck_assert_msg(!strstr(dsl, "Incorrect checksum"), "%s", dsl);
	free(dsl);

	xsdt = t.data + (t.xsdt_gpa - t.gpa);
	dsl = disassemble("xsdt", xsdt, test_le(xsdt + 4, 4));
	snprintf(want, sizeof(want), "ACPI Table Address   0 : %016llX", (unsigned long long)t.fadt_gpa);
	expect(dsl, want);
	free(dsl);
	cvmm_acpi_tables_fini(&t);
}
END_TEST

/* A PCI segment: MCFG and the XSDT entry for it, PCI0 with its bus range,
 * config ports, windows and _PRT, MBRD reserving ECAM; the DSDT still
 * recompiles to the same bytes. */
START_TEST(iasl_pci)
{
	static const struct cvmm_acpi_pci_irq irqs[] = { { 1, 5 }, { 2, 6 }, { 31, 23 } };
	struct cvmm_acpi_pci pci = {
		.segment = 0, .bus_start = 0, .bus_end = 0, .ecam_base = 0xd0000000,
		.mmio32_base = 0xd4000000, .mmio32_size = 64 << 20,
		.mmio64_base = 0x8000000000ull, .mmio64_size = 1ull << 30,
		.irqs = irqs, .num_irqs = 3,
	};
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	const uint8_t *mcfg, *xsdt;
	char *dsl, *blk, want[96];

	test_config(&cfg);
	cfg.pci = &pci;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	ck_assert_uint_ne(t.mcfg_gpa, 0);

	dsl = disassemble("dsdt", t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	recompile_matches(dsl, t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	blk = device_block(dsl, "PCI0");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0A08\")");
	expect(blk, "EisaId (\"PNP0A03\")");
	expect(blk, "Name (_SEG, Zero)");
	expect(blk, "Name (_BBN, Zero)");
	expect(blk, "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,");
	expect(blk, "0x0CF8,             // Range Minimum");
	expect(blk, "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,");
	expect(blk, "0xD4000000,         // Range Minimum");
	expect(blk, "0xD7FFFFFF,         // Range Maximum");
	expect(blk, "QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,");
	expect(blk, "0x0000008000000000, // Range Minimum");
	expect(blk, "Name (_PRT, Package (0x03)");
	expect(blk, "0x0001FFFF,");
	expect(blk, "0x001FFFFF,");
	expect(blk, "0x17");
	free(blk);
	blk = device_block(dsl, "MBRD");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0C02\")");
	expect(blk, "0xD0000000,         // Address Base");
	expect(blk, "0x00100000,         // Address Length");
	free(blk);
	free(dsl);

	mcfg = t.data + (t.mcfg_gpa - t.gpa);
	dsl = disassemble("mcfg", mcfg, test_le(mcfg + 4, 4));
	expect(dsl, "Signature : \"MCFG\"");
	expect(dsl, "Base Address : 00000000D0000000");
	expect(dsl, "Segment Group Number : 0000");
	expect(dsl, "Start Bus Number : 00");
	expect(dsl, "End Bus Number : 00");
	ck_assert_msg(!strstr(dsl, "Incorrect checksum"), "%s", dsl);
	free(dsl);

	xsdt = t.data + (t.xsdt_gpa - t.gpa);
	dsl = disassemble("xsdt", xsdt, test_le(xsdt + 4, 4));
	snprintf(want, sizeof(want), "ACPI Table Address   2 : %016llX",
		 (unsigned long long)t.mcfg_gpa);
	expect(dsl, want);
	ck_assert_msg(!strstr(dsl, "Incorrect checksum"), "%s", dsl);
	free(dsl);
	cvmm_acpi_tables_fini(&t);

	/* Refused: ECAM misaligned, buses reversed, a 32-bit window past 4 GiB,
	 * a slot above 31. */
	pci.ecam_base = 0xd0001000;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	pci.ecam_base = 0xd0000000;
	pci.bus_start = 1;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	pci.bus_start = 0;
	pci.mmio32_base = 0xfff00000;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	pci.mmio32_base = 0xd4000000;
	pci.irqs = (const struct cvmm_acpi_pci_irq[]){ { 32, 5 } };
	pci.num_irqs = 1;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
}
END_TEST

/* Devices whose bodies straddle each PkgLength width boundary: a wrong
 * length would desynchronise the parser and lose the following devices.
 * Returns the body size reached: the first one at or above @body (a few
 * sizes cannot be hit exactly, where the inner buffer's PkgLength widens). */
static size_t boundary_device(struct cvmm_acpi_buf *b, const char *name, size_t body)
{
	static uint8_t zeros[0x100000];
	size_t mark = cvmm_aml_device_begin(b, name), fixed;

	/* Body = name(4) + NameOp(1) + "BUFF"(4) + buffer; size the buffer so
	 * the device body is exactly @body. */
	cvmm_aml_name(b, "BUFF");
	fixed = b->len - mark;
	for (size_t n = body > fixed + 8 ? body - fixed - 8 : 0; ; n++) {
		struct cvmm_acpi_buf probe;

		cvmm_acpi_buf_init(&probe, 0);
		cvmm_aml_buffer(&probe, zeros, n);
		if (probe.len + fixed >= body) {
			ck_assert_uint_le(probe.len + fixed, body + 1);
			body = probe.len + fixed;
			cvmm_acpi_buf_fini(&probe);
			cvmm_aml_buffer(b, zeros, n);
			break;
		}
		cvmm_acpi_buf_fini(&probe);
	}
	ck_assert_int_eq(cvmm_aml_end(b, mark), 0);
	return body;
}

/* A DSDT of devices with the given body sizes and a sentinel after them;
 * returns the body sizes reached through @got. */
static void boundary_dsdt(struct cvmm_acpi_buf *b, const size_t *bodies, size_t n, size_t *got)
{
	size_t start, sb;

	cvmm_acpi_buf_init(b, 0);
	start = cvmm_acpi_table_begin(b, "DSDT", 2, NULL, NULL);
	sb = cvmm_aml_scope_begin(b, "_SB");
	for (size_t i = 0; i < n; i++) {
		char name[8];

		snprintf(name, sizeof(name), "D%03zu", i);
		got[i] = boundary_device(b, name, bodies[i]);
	}
	cvmm_aml_name(b, "LAST");
	cvmm_aml_integer(b, 0x1234);
	ck_assert_int_eq(cvmm_aml_end(b, sb), 0);
	ck_assert_int_eq(cvmm_acpi_table_end(b, start), 0);
}

static void expect_devices(const char *dsl, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "Device (D%03zu)", i);
		expect(dsl, name);
	}
	expect(dsl, "Name (LAST, 0x1234)");
}

/* The GED with the power button and PCI hotplug: iasl parses the methods
 * (control flow, fields, notifies) and recompiles them to the same bytes. */
START_TEST(iasl_ged_hotplug)
{
	static const struct cvmm_acpi_pci_irq irqs[] = { { 1, 5 } };
	struct cvmm_acpi_pci pci = {
		.ecam_base = 0xd0000000, .mmio32_base = 0xd4000000, .mmio32_size = 64 << 20,
		.irqs = irqs, .num_irqs = 1,
	};
	struct cvmm_acpi_ged ged = { .base = 0xd8000000, .gsi = 9, .pcihp_base = 0xd8000010 };
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	char *dsl, *blk;

	test_config(&cfg);
	cfg.pci = &pci;
	cfg.ged = &ged;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	dsl = disassemble("dsdt", t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	recompile_matches(dsl, t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	blk = device_block(dsl, "GED");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "Name (_HID, \"ACPI0013\"");
	/* Interrupts only: Linux's acpi-ged refuses anything else there. */
	ck_assert_ptr_null(strstr(blk, "Memory32Fixed"));
	expect(blk, "Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive");
	expect(blk, "0x00000009,");
	expect(blk, "OperationRegion (GDST, SystemMemory, 0xD8000000, 0x04)");
	expect(blk, "GDAT,   32");
	expect(blk, "Method (_EVT, 1, Serialized)");
	expect(blk, "Local0 = GDAT");
	expect(blk, "If ((Local0 & 0x02))");
	expect(blk, "PCI0.PCNT ()");
	expect(blk, "If ((Local0 & 0x08))");
	expect(blk, "Notify (PWRB, 0x80)");
	free(blk);
	blk = device_block(dsl, "GEC");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0A06\")");
	expect(blk, "0xD8000000,         // Address Base");
	expect(blk, "0xD8000010,         // Address Base");
	free(blk);
	blk = device_block(dsl, "PWRB");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "EisaId (\"PNP0C0C\")");
	free(blk);
	expect(dsl, "OperationRegion (PCST, SystemMemory, 0xD8000010, 0x0C)");
	expect(dsl, "B0EJ,   32");
	blk = device_block(dsl, "S1F");
	ck_assert_ptr_nonnull(blk);
	expect(blk, "Name (_ADR, 0x001F0000)");
	expect(blk, "Name (_SUN, 0x1F)");
	expect(blk, "Method (_EJ0, 1, NotSerialized)");
	expect(blk, "B0EJ = 0x80000000");
	expect(blk, "Method (PCNT, 0, Serialized)");
	expect(blk, "Local0 = PCIU");
	expect(blk, "Local1 = PCID");
	expect(blk, "Notify (S01, One)");
	expect(blk, "Notify (S1F, 0x03)");
	free(blk);
	free(dsl);
	cvmm_acpi_tables_fini(&t);

	/* Hotplug needs PCI; the registers must sit below 4 GiB. */
	cfg.pci = NULL;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
	cfg.pci = &pci;
	ged.base = 1ull << 32;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), -EINVAL);
}
END_TEST

START_TEST(iasl_pkglen_boundaries)
{
	/* Around 63/64 and 4095/4096: disassembled and recompiled to the
	 * same bytes. */
	static const size_t small[] = { 61, 62, 63, 64, 4092, 4093, 4094, 4095 };
	/* Around 2^20: disassembled only (recompiling megabytes of buffer
	 * text takes iasl minutes). */
	static const size_t large[] = { 0xffffb, 0xffffc, 0xffffd };
	size_t got[8];
	struct cvmm_acpi_buf b;
	char *dsl;
	bool hit[3] = { false };

	boundary_dsdt(&b, small, 8, got);
	for (size_t i = 0; i < 8; i++) {
		/* The last body of each width, and the first of the next. */
		hit[0] |= got[i] == 62;
		hit[1] |= got[i] == 4093;
	}
	dsl = disassemble("small", b.data, b.len);
	recompile_matches(dsl, b.data, b.len);
	expect_devices(dsl, 8);
	free(dsl);
	cvmm_acpi_buf_fini(&b);

	boundary_dsdt(&b, large, 3, got);
	for (size_t i = 0; i < 3; i++)
		hit[2] |= got[i] == 0xffffc;
	ck_assert(hit[0] && hit[1] && hit[2]);
	dsl = disassemble("large", b.data, b.len);
	expect_devices(dsl, 3);
	free(dsl);
	cvmm_acpi_buf_fini(&b);
}
END_TEST

START_TEST(iasl_many_devices)
{
	static struct cvmm_acpi_virtio_mmio v[300];
	struct cvmm_acpi_config cfg;
	struct cvmm_acpi_tables t;
	char *dsl;

	test_config(&cfg);
	for (unsigned int i = 0; i < 300; i++)
		v[i] = (struct cvmm_acpi_virtio_mmio){ .base = 0xd0000000ull + i * 0x1000ull,
						       .size = 0x200, .gsi = 5 + i };
	cfg.virtio = v;
	cfg.num_virtio = 300;
	cfg.gpa = 0x100000;
	ck_assert_int_eq(cvmm_acpi_build(&cfg, &t), 0);
	dsl = disassemble("many", t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	recompile_matches(dsl, t.data + (t.dsdt_gpa - t.gpa), t.dsdt_len);
	for (unsigned int i = 0; i < 300; i++) {
		char name[8], want[64], *blk;

		snprintf(name, sizeof(name), "V%03X", i);
		blk = device_block(dsl, name);
		ck_assert_msg(blk != NULL, "no device %s", name);
		snprintf(want, sizeof(want), "0x%08llX,         // Address Base",
			 (unsigned long long)v[i].base);
		expect(blk, want);
		snprintf(want, sizeof(want), "0x%08X,", v[i].gsi);
		expect(blk, want);
		free(blk);
	}
	expect(dsl, "_S5");
	free(dsl);
	cvmm_acpi_tables_fini(&t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("acpi-iasl");
	TCase *tc = tcase_create("iasl");

	if (!find_iasl()) {
		printf("1..0 # SKIP iasl (acpica-tools) not found\n");
		return 0;
	}
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, iasl_full_table_set);
	tcase_add_test(tc, iasl_pci);
	tcase_add_test(tc, iasl_ged_hotplug);
	tcase_add_test(tc, iasl_pkglen_boundaries);
	tcase_add_test(tc, iasl_many_devices);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
