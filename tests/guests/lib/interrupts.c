/* SPDX-License-Identifier: Apache-2.0 */
/*
 * IDT, exception reporting and the local/I/O APIC helpers. The IDT is
 * loaded by the CPL0 prologue in start.S and filled here at CPL3 (it is
 * ordinary user-accessible memory), so the emulated ring-0 part stays a
 * handful of instructions.
 */
#include "guest.h"

struct idt_gate {
	uint16_t off0;
	uint16_t sel;
	uint8_t ist;
	uint8_t type; /* P | DPL | type */
	uint16_t off1;
	uint32_t off2;
	uint32_t zero;
} __attribute__((packed));

struct idtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

/* 16-byte stubs in start.S, one per vector. */
extern const char cvmm_guest_isr_stubs[];

static struct idt_gate idt[256] __attribute__((aligned(4096)));
const struct idtr cvmm_guest_idtr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };

static volatile guest_irq_handler irq_handler;

struct isr_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

void cvmm_guest_idt_fill(void);
void cvmm_guest_isr(struct isr_frame *f);

void cvmm_guest_idt_fill(void)
{
	for (unsigned int v = 0; v < 256; v++) {
		uint64_t a = (uint64_t)(uintptr_t)(cvmm_guest_isr_stubs + 16 * v);

		idt[v] = (struct idt_gate){
			.off0 = (uint16_t)a,
			.sel = CVMM_GUEST_SEL_KCODE,
			.type = 0x8e, /* present, DPL0, 64-bit interrupt gate */
			.off1 = (uint16_t)(a >> 16),
			.off2 = (uint32_t)(a >> 32),
		};
	}
}

void guest_set_irq_handler(guest_irq_handler h)
{
	irq_handler = h;
}

/* At CPL0, emulated: as little as possible. */
void cvmm_guest_isr(struct isr_frame *f)
{
	if (f->vector < 32) {
		guest_printf("exception %u error %lx at rip %lx cs %lx\n",
			     (unsigned int)f->vector, f->error, f->rip, f->cs);
		guest_exit(0xe00 + (uint32_t)f->vector);
	}
	if (irq_handler)
		irq_handler((unsigned int)f->vector);
	lapic_eoi();
}

void lapic_enable(void)
{
	/* Software-enable with spurious vector 0xff. */
	mmio_write32(LAPIC_BASE + LAPIC_SVR, 0x1ff);
}

void legacy_pic_mask(void)
{
	outb(0x21, 0xff);
	outb(0xa1, 0xff);
}

uint32_t lapic_id(void)
{
	return mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;
}

void lapic_eoi(void)
{
	mmio_write32(LAPIC_BASE + LAPIC_EOI, 0);
}

bool lapic_irr_pending(unsigned int vector)
{
	uint32_t w = mmio_read32(LAPIC_BASE + LAPIC_IRR + 0x10 * (vector / 32));

	return (w >> (vector % 32)) & 1;
}

static void route(unsigned int pin, unsigned int vector, unsigned int apic_id, bool level)
{
	/* Redirection entry: fixed delivery, physical destination, active
	 * high, unmasked. High dword first so it is never live half-set. */
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * pin + 1);
	mmio_write32(IOAPIC_BASE + 0x10, apic_id << 24);
	mmio_write32(IOAPIC_BASE, 0x10 + 2 * pin);
	mmio_write32(IOAPIC_BASE + 0x10, (vector & 0xff) | (level ? 1u << 15 : 0));
}

void ioapic_route(unsigned int pin, unsigned int vector, unsigned int apic_id)
{
	route(pin, vector, apic_id, false);
}

void ioapic_route_level(unsigned int pin, unsigned int vector, unsigned int apic_id)
{
	route(pin, vector, apic_id, true);
}
