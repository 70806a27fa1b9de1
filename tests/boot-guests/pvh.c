/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test guest entered through PVH: the VMM starts it in 32-bit protected
 * mode with paging off and EBX pointing at hvm_start_info. A short 32-bit
 * stub builds identity page tables for the first 4 GiB, enters long mode and
 * calls pvh_main(), which reports the command line, the memory map, the
 * initrd module (a byte sum) and the RSDP, then ends like the linux64 guest.
 * With dirty=MIB it rewrites and checks MIB of its memory for ever instead:
 * the guest both QEMU and cvmm-microvm boot for the live migration figures.
 */
#include <stdint.h>

#include <cvmm/linux-loader/start-info.h>

#include "common.h"

__asm__(
	/* The note a PVH loader looks for: name "Xen", type PHYS32_ENTRY. */
	".pushsection .note.Xen, \"a\", @note\n"
	".balign 4\n"
	".long 4, 4, 18\n"
	".asciz \"Xen\"\n"
	".balign 4\n"
	".long pvh_start32\n"
	".popsection\n"

	".section .text.entry, \"ax\"\n"
	".code32\n"
	".globl pvh_start32\n"
	"pvh_start32:\n"
	/* POST code 1 at the first instruction: a boot timer's mark. */
	"	mov $1, %al\n"
	"	out %al, $0x80\n"
	"	cli\n"
	"	mov %ebx, %esi\n"
	/* A first line at once, before the slow part (page tables at CPL0). */
	"	mov $pvh_hello, %edi\n"
	"	mov $0x3f8, %dx\n"
	"0:	movb (%edi), %al\n"
	"	test %al, %al\n"
	"	jz 4f\n"
	"	out %al, %dx\n"
	"	inc %edi\n"
	"	jmp 0b\n"
	"4:\n"
	/* PML4[0] -> PDPT, PDPT[0..3] -> the four PDs, 2 MiB pages. */
	"	movl $pvh_pdpt + 3, pvh_pml4\n"
	"	mov $pvh_pd + 3, %eax\n"
	"	xor %ecx, %ecx\n"
	"1:	mov %eax, pvh_pdpt(,%ecx,8)\n"
	"	add $0x1000, %eax\n"
	"	inc %ecx\n"
	"	cmp $4, %ecx\n"
	"	jb 1b\n"
	"	xor %ecx, %ecx\n"
	"2:	mov %ecx, %eax\n"
	"	shl $21, %eax\n"
	"	or $0x83, %eax\n"
	"	mov %eax, pvh_pd(,%ecx,8)\n"
	"	inc %ecx\n"
	"	cmp $2048, %ecx\n"
	"	jb 2b\n"
	"	mov %cr4, %eax\n"
	"	or $0x20, %eax\n"           /* PAE */
	"	mov %eax, %cr4\n"
	"	mov $pvh_pml4, %eax\n"
	"	mov %eax, %cr3\n"
	"	mov $0xc0000080, %ecx\n"    /* EFER.LME */
	"	rdmsr\n"
	"	or $0x100, %eax\n"
	"	wrmsr\n"
	"	mov %cr0, %eax\n"
	"	or $0x80000001, %eax\n"     /* PG | PE */
	"	mov %eax, %cr0\n"
	"	lgdt pvh_gdt_desc\n"
	"	ljmp $0x08, $pvh_start64\n"
	".code64\n"
	".globl pvh_start64\n"
	"pvh_start64:\n"
	"	mov $0x10, %eax\n"
	"	mov %eax, %ds\n"
	"	mov %eax, %es\n"
	"	mov %eax, %ss\n"
	"	lea pvh_stack_top(%rip), %rsp\n"
	"	mov %esi, %edi\n"
	"	call pvh_main\n"
	"3:	hlt\n"
	"	jmp 3b\n"
	".balign 8\n"
	"pvh_gdt:\n"
	"	.quad 0\n"
	"	.quad 0x00af9a000000ffff\n"     /* 64-bit code */
	"	.quad 0x00cf92000000ffff\n"     /* data */
	"pvh_hello: .asciz \"boot-test: pvh 32-bit entry\\n\"\n"
	"pvh_gdt_desc:\n"
	"	.word 23\n"
	"	.long pvh_gdt\n"
	".previous\n");

uint64_t pvh_pml4[512] __attribute__((aligned(4096)));
uint64_t pvh_pdpt[512] __attribute__((aligned(4096)));
uint64_t pvh_pd[4 * 512] __attribute__((aligned(4096)));
static uint8_t pvh_stack[16384] __attribute__((aligned(16), used));
__asm__(".set pvh_stack_top, pvh_stack + 16384");

/*
 * dirty=MIB [dirtybase=MIB, default 16]: round r = 1, 2, ... writes r into
 * the first qword of every 4 KiB page of the hot area after checking that
 * it still holds r - 1, so a page a migration lost or sent stale shows up
 * as a MISMATCH. CPL0 instructions are emulated on a PVM host (~1 us
 * each), so the inner loop stays at five instructions a page.
 */
static void __attribute__((noreturn)) dirty_loop(uint64_t base_mib, uint64_t mib)
{
	volatile uint64_t *start = (volatile uint64_t *)(uintptr_t)(base_mib << 20);
	volatile uint64_t *end = start + (mib << 20) / 8;
	int told = 0;

	puts_("dirty: ");
	putdec(mib);
	puts_(" MiB at ");
	putdec(base_mib);
	puts_(" MiB\n");
	for (uint64_t r = 1;; r++) {
		for (volatile uint64_t *p = start; p < end; p += 512) {
			uint64_t got = *p;

			if (__builtin_expect(got != r - 1, 0) && !told) {
				puts_("dirty: MISMATCH page ");
				putdec((uint64_t)(p - start) / 512);
				puts_(" round ");
				putdec(r);
				puts_(" got ");
				putdec(got);
				putc_('\n');
				told = 1;
			}
			*p = r;
		}
		if (r == 1) {
			puts_("dirty: ready\n");
		} else if (r % 64 == 0) {
			puts_("dirty: round ");
			putdec(r);
			putc_('\n');
		}
	}
}

void pvh_main(uint32_t start_info);
void pvh_main(uint32_t start_info)
{
	const struct cvmm_hvm_start_info *si = (const void *)(uintptr_t)start_info;
	const char *cl = (const char *)(uintptr_t)si->cmdline_paddr;
	const struct cvmm_hvm_memmap_table_entry *mm =
		(const void *)(uintptr_t)si->memmap_paddr;
	uint64_t ram = 0;

	puts_("boot-test: pvh entry, start_info at ");
	puthex(start_info);
	puts_(si->magic == CVMM_HVM_START_MAGIC ? " magic ok\n" : " BAD MAGIC\n");
	puts_("cmdline: ");
	puts_(cl ? cl : "");
	puts_("\n");
	for (uint32_t i = 0; i < si->memmap_entries && i < 128; i++) {
		puts_("e820: ");
		puthex(mm[i].addr);
		putc_(' ');
		puthex(mm[i].size);
		putc_(' ');
		putdec(mm[i].type);
		putc_('\n');
		if (mm[i].type == CVMM_HVM_MEMMAP_RAM)
			ram += mm[i].size;
	}
	puts_("ram: ");
	putdec(ram >> 10);
	puts_(" KiB\n");
	if (si->nr_modules) {
		const struct cvmm_hvm_modlist_entry *mod = (const void *)(uintptr_t)si->modlist_paddr;
		const uint8_t *p = (const uint8_t *)(uintptr_t)mod->paddr;
		uint64_t sum = 0;

		for (uint64_t i = 0; i < mod->size; i++)
			sum += p[i];
		puts_("initrd: ");
		puthex(mod->paddr);
		putc_(' ');
		putdec(mod->size);
		puts_(" bytes, sum ");
		putdec(sum);
		putc_('\n');
	}
	puts_("rsdp: ");
	puthex(si->rsdp_paddr);
	putc_('\n');
	if (cmdline_find(cl, "echo"))
		echo_loop();
	if (cmdline_find(cl, "dirty")) {
		const char *b = cmdline_find(cl, "dirtybase");
		uint64_t base = b ? parse_dec(b) : 16, mib = parse_dec(cmdline_find(cl, "dirty"));

		/* Inside RAM and the identity map (4 GiB), above this image. */
		if (mib && base >= 2 && base + mib <= (ram >> 20) && base + mib <= 4096)
			dirty_loop(base, mib);
		puts_("dirty: the area is outside RAM\n");
	}
	guest_exit(cl);
}
