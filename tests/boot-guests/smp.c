/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A test guest that checks the platform the way a kernel discovers it:
 * it finds the RSDP in boot_params, walks XSDT -> MADT and counts the
 * enabled local APICs, then starts every application processor with
 * INIT-SIPI-SIPI through the local APIC into a real-mode trampoline that
 * counts itself in. Then, as the command line asks: "poweroff" writes S5 to
 * the FADT's sleep control register, "reset" pulses the i8042 reset line,
 * "triplefault" loads an empty IDT and faults, anything else ends through
 * the debug-exit port.
 */
#include <stdint.h>

#include <cvmm/linux-loader/bootparam.h>

#include "common.h"

__asm__(".section .text.entry, \"ax\"\n"
	".globl boot_guest_entry\n"
	"boot_guest_entry:\n"
	"	lea smp_stack_top(%rip), %rsp\n"
	"	mov %rsi, %rdi\n"
	"	call guest_main\n"
	"1:	hlt\n"
	"	jmp 1b\n"
	/* Real-mode AP trampoline, copied to TRAMPOLINE (CS = its segment, IP = 0). */
	".code16\n"
	"tramp_start:\n"
	"	cli\n"
	"	lock incw %cs:(tramp_count - tramp_start)\n"
	"2:	hlt\n"
	"	jmp 2b\n"
	".balign 2\n"
	"tramp_count: .word 0\n"
	"tramp_end:\n"
	".code64\n"
	".previous\n");

extern const uint8_t tramp_start[], tramp_count[], tramp_end[];

static uint8_t smp_stack[16384] __attribute__((aligned(16), used));
__asm__(".set smp_stack_top, smp_stack + 16384");

#define TRAMPOLINE 0x10000ull /* SIPI vector 0x10 */
#define LAPIC 0xfee00000ull
#define ICR_LO 0x300
#define ICR_HI 0x310

struct sdt {
	char sig[4];
	uint32_t len;
	uint8_t rev, sum;
	char oem[6], oem_table[8];
	uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static int sig_is(const void *p, const char *s)
{
	const char *a = p;

	return a[0] == s[0] && a[1] == s[1] && a[2] == s[2] && a[3] == s[3];
}

static uint8_t sum(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static void lapic_write(uint32_t reg, uint32_t v)
{
	*(volatile uint32_t *)(uintptr_t)(LAPIC + reg) = v;
}

static uint32_t lapic_read(uint32_t reg)
{
	return *(volatile uint32_t *)(uintptr_t)(LAPIC + reg);
}

static void ipi(uint32_t apic_id, uint32_t cmd)
{
	lapic_write(ICR_HI, apic_id << 24);
	lapic_write(ICR_LO, cmd);
	for (int i = 0; i < 100000 && (lapic_read(ICR_LO) & (1u << 12)); i++)
		__asm__ volatile("pause");
}

void guest_main(struct cvmm_boot_params *bp);
void guest_main(struct cvmm_boot_params *bp)
{
	const char *cl = (const char *)(uintptr_t)bp->hdr.cmd_line_ptr;
	const uint8_t *rsdp = (const uint8_t *)(uintptr_t)bp->acpi_rsdp_addr;
	const struct sdt *xsdt, *madt = 0, *fadt = 0;
	uint32_t cpus = 0, ids[64];
	volatile uint16_t *count = (volatile uint16_t *)(uintptr_t)(TRAMPOLINE + (tramp_count - tramp_start));

	if (!rsdp || rsdp[0] != 'R' || sum(rsdp, 20) || sum(rsdp, 36)) {
		puts_("acpi: no valid RSDP\n");
		outl(EXIT_PORT, 90);
		return;
	}
	xsdt = (const struct sdt *)(uintptr_t)*(const uint64_t *)(rsdp + 24);
	if (!sig_is(xsdt, "XSDT") || sum(xsdt, xsdt->len)) {
		puts_("acpi: bad XSDT\n");
		outl(EXIT_PORT, 91);
		return;
	}
	for (uint32_t off = sizeof(*xsdt); off + 8 <= xsdt->len; off += 8) {
		const struct sdt *t = (const void *)(uintptr_t)*(const uint64_t *)((const uint8_t *)xsdt + off);

		if (sum(t, t->len))
			continue;
		if (sig_is(t, "APIC"))
			madt = t;
		if (sig_is(t, "FACP"))
			fadt = t;
	}
	if (!madt || !fadt) {
		puts_("acpi: MADT or FADT missing\n");
		outl(EXIT_PORT, 92);
		return;
	}
	/* MADT: 8 bytes of local APIC address and flags, then entries. */
	for (uint32_t off = sizeof(*madt) + 8; off + 2 <= madt->len;) {
		const uint8_t *e = (const uint8_t *)madt + off;

		if (e[1] < 2)
			break;
		if (e[0] == 0 && (e[4] & 1) && cpus < 64)
			ids[cpus++] = e[3];
		off += e[1];
	}
	puts_("madt: ");
	putdec(cpus);
	puts_(" cpus, apic ids");
	for (uint32_t i = 0; i < cpus; i++) {
		putc_(' ');
		putdec(ids[i]);
	}
	putc_('\n');

	for (const uint8_t *s = tramp_start; s < tramp_end; s++)
		((uint8_t *)(uintptr_t)TRAMPOLINE)[s - tramp_start] = *s;
	for (uint32_t i = 1; i < cpus; i++) {
		ipi(ids[i], 0x4500);                              /* INIT */
		ipi(ids[i], 0x4600 | (uint32_t)(TRAMPOLINE >> 12)); /* SIPI */
		ipi(ids[i], 0x4600 | (uint32_t)(TRAMPOLINE >> 12));
	}
	for (long i = 0; i < 2000000 && *count < cpus - 1; i++)
		__asm__ volatile("pause");
	puts_("smp: ");
	putdec(*count);
	puts_(" of ");
	putdec(cpus - 1);
	puts_(" application processors started\n");

	if (cmdline_find(cl, "poweroff")) {
		/* FADT sleep control register (ACPI 5+, offset 244): a GAS. */
		const uint8_t *gas = (const uint8_t *)fadt + 244;
		uint64_t port = *(const uint64_t *)(gas + 4);

		puts_("acpi: poweroff\n");
		if (gas[0] == 1)
			outb((uint16_t)port, (5 << 2) | 0x20);
		outl(EXIT_PORT, 93); /* still here: the VMM ignored it */
		return;
	}
	if (cmdline_find(cl, "reset")) {
		puts_("i8042: reset\n");
		outb(0x64, 0xfe);
		outl(EXIT_PORT, 94);
		return;
	}
	if (cmdline_find(cl, "triplefault")) {
		static const struct { uint16_t limit; uint64_t base; } __attribute__((packed)) no_idt;

		/* No IDT: the #UD cannot be delivered, nor the #DF: a triple fault. */
		puts_("cpu: triple fault\n");
		__asm__ volatile("lidt %0; ud2" : : "m"(no_idt));
	}
	guest_exit(cl);
}
