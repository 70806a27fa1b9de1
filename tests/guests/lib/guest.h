/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libguest: the freestanding runtime every test guest links with.
 *
 * A guest defines
 *     int guest_main(unsigned int cpu);
 * which runs on every vCPU at CPL3 (native speed under PVM) with its own
 * stack; its return value becomes the exit code (guest_exit()). Anything
 * that must happen once is done on cpu 0; the others may simply return or
 * spin (the first guest_exit() stops the whole VM).
 *
 * Nothing here may use floating point or SSE (-mgeneral-regs-only), and
 * nothing assumes a libc. Ring-0 code is emulated very slowly on this
 * machine's KVM: keep it to the interrupt stubs.
 */
#ifndef CVMM_GUEST_H
#define CVMM_GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cvmm-guest-image.h"

/* ---- what the guest provides -------------------------------------------- */
int guest_main(unsigned int cpu);

/* Optional: an image that wants to enter at CPL0 (to load an IDT before
 * dropping to CPL3) says so with this at file scope. The value lands in the
 * image header through the assembler: plain integer constants only. */
#define GUEST_STR_(x) #x
#define GUEST_STR(x) GUEST_STR_(x)
#define GUEST_IMAGE_FLAGS(f) \
	__asm__(".globl cvmm_guest_flags\n.set cvmm_guest_flags, " GUEST_STR(f))
/* Optional: a per-vCPU stack other than the default 16 KiB. */
#define GUEST_STACK_SIZE(n) \
	__asm__(".globl cvmm_guest_stack_size\n.set cvmm_guest_stack_size, " GUEST_STR(n))

/* ---- boot information ---------------------------------------------------- */
extern const struct cvmm_guest_boot_info *guest_boot;

static inline unsigned int guest_ncpus(void) { return guest_boot->ncpus; }
static inline uint64_t guest_arg(unsigned int i)
{
	return i < CVMM_GUEST_NUM_ARGS ? guest_boot->args[i] : 0;
}

/* ---- port I/O (IOPL 3 makes these legal at CPL3) ------------------------- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* ---- MMIO (identity mapped: a GPA is a pointer) -------------------------- */
static inline void mmio_write8(uint64_t gpa, uint8_t v) { *(volatile uint8_t *)gpa = v; }
static inline void mmio_write16(uint64_t gpa, uint16_t v) { *(volatile uint16_t *)gpa = v; }
static inline void mmio_write32(uint64_t gpa, uint32_t v) { *(volatile uint32_t *)gpa = v; }
static inline void mmio_write64(uint64_t gpa, uint64_t v) { *(volatile uint64_t *)gpa = v; }
static inline uint8_t mmio_read8(uint64_t gpa) { return *(volatile uint8_t *)gpa; }
static inline uint16_t mmio_read16(uint64_t gpa) { return *(volatile uint16_t *)gpa; }
static inline uint32_t mmio_read32(uint64_t gpa) { return *(volatile uint32_t *)gpa; }
static inline uint64_t mmio_read64(uint64_t gpa) { return *(volatile uint64_t *)gpa; }

/* ---- CPU helpers --------------------------------------------------------- */
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}
/* IOPL 3 allows both at CPL3. */
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline unsigned int current_cpl(void)
{
	uint16_t cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* ---- atomics and spinlocks (lock-prefixed: native at CPL3) --------------- */
struct spinlock {
	volatile uint32_t locked;
};
#define SPINLOCK_INIT { 0 }
static inline void spin_lock(struct spinlock *l)
{
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&l->locked, __ATOMIC_RELAXED))
			cpu_relax();
}
static inline void spin_unlock(struct spinlock *l)
{
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
}
#define atomic_inc(p) __atomic_add_fetch((p), 1, __ATOMIC_SEQ_CST)
#define atomic_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define atomic_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define atomic_or(p, v) __atomic_or_fetch((p), (v), __ATOMIC_SEQ_CST)

/* ---- results and output -------------------------------------------------- */
/* 32-bit OUT of @code to the debug-exit port; the VMM stops every vCPU.
 * Never returns (spins if a VMM ignored the port). */
__attribute__((noreturn)) void guest_exit(uint32_t code);
/* One 8-bit OUT to the marker port (start-up timing). */
static inline void guest_marker(uint8_t v) { outb(CVMM_GUEST_PORT_MARKER, v); }

/* Serial output on COM1. The VMM is not required to emulate a full 16550:
 * the runtime only writes THR (no LSR polling), one exit per byte. */
void serial_putc(char c);
void serial_puts(const char *s);
/* printf-lite: %c %s %d %i %u %x %X %p %%, length l/ll/z, width, 0 and - flags.
 * A whole message is written under one lock, so lines from vCPUs do not mix. */
int guest_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int guest_vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int guest_snprintf(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Exit with 0xee after printing where, for impossible situations. */
#define GUEST_ASSERT(c)                                                        \
	do {                                                                   \
		if (!(c)) {                                                    \
			guest_printf("assertion failed: %s (%s:%d)\n", #c,     \
				     __FILE__, __LINE__);                      \
			guest_exit(0xee);                                      \
		}                                                              \
	} while (0)

/* ---- tiny libc bits the compiler may call -------------------------------- */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* ---- interrupts (images entered at CPL0 only) ---------------------------- */
/*
 * With GUEST_IMAGE_FLAGS(CVMM_GUEST_F_ENTER_CPL0) and a call to nothing at
 * all: the runtime's CPL0 prologue loads its IDT (vectors 0-255) before the
 * drop to CPL3. Exceptions print the vector and RIP and exit with
 * 0xe00 + vector; interrupt vectors 32-255 call the handler set here (at
 * CPL0, emulated: keep it tiny) and then send the LAPIC an EOI.
 * The guest enables delivery with irq_enable() at CPL3.
 */
typedef void (*guest_irq_handler)(unsigned int vector);
void guest_set_irq_handler(guest_irq_handler h);

/* Local APIC and I/O APIC (default bases; KVM's in-kernel irqchip). */
#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_IRR 0x200
#define IOAPIC_BASE 0xfec00000ull
void lapic_enable(void);
/* Mask every line of the legacy 8259 PICs: KVM's in-kernel PIC comes out
 * of reset unmasked with vector base 0, and the BSP's LINT0 takes ExtINT,
 * so a GSI below 16 would also arrive as vector 0-15 (an "exception"). */
void legacy_pic_mask(void);
uint32_t lapic_id(void);
void lapic_eoi(void);
/* True when @vector is pending in this vCPU's LAPIC IRR. */
bool lapic_irr_pending(unsigned int vector);
/* Route I/O APIC @pin to @vector on the LAPIC with @apic_id, edge, unmasked. */
void ioapic_route(unsigned int pin, unsigned int vector, unsigned int apic_id);
/* The same, level-triggered (PCI INTx): the LAPIC's EOI goes back to the
 * I/O APIC, which delivers again while the line is still asserted. */
void ioapic_route_level(unsigned int pin, unsigned int vector, unsigned int apic_id);

#endif /* CVMM_GUEST_H */
