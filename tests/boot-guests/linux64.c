/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test guest that boots like a Linux kernel through the 64-bit boot
 * protocol and reports what it was given: the command line, the e820 map
 * and the initrd (a byte sum, so the host can check every byte arrived).
 * With "echo" on the command line it then echoes serial input lines back,
 * until a line "quit". It ends through the debug-exit port with the code
 * "exit=N" names (default 0).
 *
 * It runs at CPL0 like a kernel would; on a software KVM backend that is
 * emulated slowly, so it does little work and prints little.
 */
#include <stdint.h>

#include <cvmm/linux-loader/bootparam.h>

#include "common.h"

__asm__(".section .text.entry, \"ax\"\n"
	".globl boot_guest_entry\n"
	"boot_guest_entry:\n"
	"	lea stack_top(%rip), %rsp\n"
	"	mov %rsi, %rdi\n"
	"	call guest_main\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	".previous\n");

static uint8_t stack[16384] __attribute__((aligned(16), used));
__asm__(".set stack_top, stack + 16384");

void guest_main(struct cvmm_boot_params *bp);
void guest_main(struct cvmm_boot_params *bp)
{
	const char *cl = (const char *)(uintptr_t)(bp->hdr.cmd_line_ptr |
						   (uint64_t)bp->ext_cmd_line_ptr << 32);
	uint64_t ram = 0;

	puts_("boot-test: linux64 entry, boot_params at ");
	puthex((uintptr_t)bp);
	puts_("\nhdr: version ");
	puthex(bp->hdr.version);
	puts_(" loader ");
	puthex(bp->hdr.type_of_loader);
	puts_("\ncmdline: ");
	puts_(cl);
	puts_("\n");
	for (unsigned int i = 0; i < bp->e820_entries && i < 128; i++) {
		const struct cvmm_boot_e820_entry *e = &bp->e820_table[i];

		puts_("e820: ");
		puthex(e->addr);
		putc_(' ');
		puthex(e->size);
		putc_(' ');
		putdec(e->type);
		putc_('\n');
		if (e->type == 1)
			ram += e->size;
	}
	puts_("ram: ");
	putdec(ram >> 10);
	puts_(" KiB\n");
	if (bp->hdr.ramdisk_size) {
		const uint8_t *p = (const uint8_t *)(uintptr_t)bp->hdr.ramdisk_image;
		uint64_t sum = 0;

		for (uint32_t i = 0; i < bp->hdr.ramdisk_size; i++)
			sum += p[i];
		puts_("initrd: ");
		puthex(bp->hdr.ramdisk_image);
		putc_(' ');
		putdec(bp->hdr.ramdisk_size);
		puts_(" bytes, sum ");
		putdec(sum);
		putc_('\n');
	}
	puts_("rsdp: ");
	puthex(bp->acpi_rsdp_addr);
	putc_('\n');
	if (cmdline_find(cl, "echo"))
		echo_loop();
	guest_exit(cl);
}
