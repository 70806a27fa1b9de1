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

#define COM1 0x3f8
#define EXIT_PORT 0xf4

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

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static void putc_(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static void puthex(uint64_t v)
{
	puts_("0x");
	for (int i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

static void putdec(uint64_t v)
{
	char b[24];
	int n = 0;

	do {
		b[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		putc_(b[--n]);
}

static char getc_(void)
{
	while (!(inb(COM1 + 5) & 0x01))
		;
	return (char)inb(COM1);
}

/* Value of "key=" on the command line, or NULL. */
static const char *cmdline_find(const char *cl, const char *key)
{
	for (const char *p = cl; *p; p++) {
		const char *k = key, *q = p;

		if (p != cl && p[-1] != ' ')
			continue;
		while (*k && *q == *k)
			k++, q++;
		if (!*k && (*q == '=' || *q == ' ' || !*q))
			return *q == '=' ? q + 1 : q;
	}
	return 0;
}

static uint64_t parse_dec(const char *s)
{
	uint64_t v = 0;

	while (s && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

static void echo_loop(void)
{
	char line[128];

	puts_("echo: ready\n");
	for (;;) {
		unsigned int n = 0;
		char c;

		while ((c = getc_()) != '\n' && c != '\r')
			if (n < sizeof(line) - 1)
				line[n++] = c;
		line[n] = 0;
		if (n == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't')
			return;
		puts_("echo: ");
		puts_(line);
		putc_('\n');
	}
}

void guest_main(struct cvmm_boot_params *bp);
void guest_main(struct cvmm_boot_params *bp)
{
	const char *cl = (const char *)(uintptr_t)(bp->hdr.cmd_line_ptr |
						   (uint64_t)bp->ext_cmd_line_ptr << 32);
	uint64_t ram = 0;

	puts_("boot-test: linux64 entry, boot_params at ");
	puthex((uintptr_t)bp);
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
	puts_("boot-test: done\n");
	outl(EXIT_PORT, (uint32_t)parse_dec(cmdline_find(cl, "exit")));
}
