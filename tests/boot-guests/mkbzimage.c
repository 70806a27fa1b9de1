/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test tool: wrap a 64-bit test guest ELF in a minimal bzImage. The ELF is
 * linked so that its entry sits 0x200 bytes into the protected-mode part,
 * where a 64-bit boot loader jumps (startup_64). The setup part is only the
 * boot sector and the setup header (boot protocol 2.15, XLF_KERNEL_64, not
 * relocatable, pref_address 1 MiB); no real-mode code, as a 64-bit loader
 * never runs it.
 *
 * usage: mkbzimage GUEST.elf OUT.bzImage
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BASE 0x100000ull
#define SETUP_SECTS 1

static void die(const char *what)
{
	fprintf(stderr, "mkbzimage: %s\n", what);
	exit(1);
}

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

int main(int argc, char **argv)
{
	static uint8_t elf[1 << 20], payload[1 << 20];
	uint8_t setup[(SETUP_SECTS + 1) * 512] = { 0 };
	uint64_t file_end = 0, mem_end = 0;
	Elf64_Ehdr eh;
	size_t n;
	FILE *f;

	if (argc != 3)
		die("usage: mkbzimage GUEST.elf OUT.bzImage");
	f = fopen(argv[1], "rb");
	if (!f)
		die("cannot open the ELF");
	n = fread(elf, 1, sizeof(elf), f);
	fclose(f);
	if (n < sizeof(eh))
		die("ELF too short");
	memcpy(&eh, elf, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_entry != BASE + 0x200)
		die("not an ELF64 whose entry is 1 MiB + 0x200");
	for (unsigned int i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		if (eh.e_phoff + (i + 1) * sizeof(ph) > n)
			die("program headers outside the file");
		memcpy(&ph, elf + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD)
			continue;
		if (ph.p_paddr < BASE || ph.p_paddr + ph.p_memsz - BASE > sizeof(payload) ||
		    ph.p_offset + ph.p_filesz > n)
			die("segment outside the payload");
		memcpy(payload + (ph.p_paddr - BASE), elf + ph.p_offset, ph.p_filesz);
		if (ph.p_paddr - BASE + ph.p_filesz > file_end)
			file_end = ph.p_paddr - BASE + ph.p_filesz;
		if (ph.p_paddr - BASE + ph.p_memsz > mem_end)
			mem_end = ph.p_paddr - BASE + ph.p_memsz;
	}
	file_end = (file_end + 15) & ~15ull;

	setup[0x1f1] = SETUP_SECTS;                          /* setup_sects */
	put32(setup + 0x1f4, (uint32_t)(file_end / 16));     /* syssize */
	put16(setup + 0x1fe, 0xaa55);                        /* boot_flag */
	/* jump over the header: its target byte says where the header ends */
	setup[0x200] = 0xeb;
	setup[0x201] = 0x26c - 0x202;
	put32(setup + 0x202, 0x53726448);                    /* "HdrS" */
	put16(setup + 0x206, 0x020f);                        /* protocol 2.15 */
	setup[0x211] = 0x01;                                 /* loadflags: LOADED_HIGH */
	put32(setup + 0x214, (uint32_t)BASE);                /* code32_start */
	put32(setup + 0x22c, 0x7fffffff);                    /* initrd_addr_max */
	put32(setup + 0x230, 0x1000);                        /* kernel_alignment */
	setup[0x234] = 0;                                    /* relocatable_kernel */
	put16(setup + 0x236, 0x1);                           /* xloadflags: XLF_KERNEL_64 */
	put32(setup + 0x238, 2047);                          /* cmdline_size */
	put64(setup + 0x258, BASE);                          /* pref_address */
	put32(setup + 0x260, (uint32_t)((mem_end + 4095) & ~4095ull)); /* init_size */

	f = fopen(argv[2], "wb");
	if (!f || fwrite(setup, 1, sizeof(setup), f) != sizeof(setup) ||
	    fwrite(payload, 1, file_end, f) != file_end || fclose(f))
		die("cannot write the bzImage");
	return 0;
}
