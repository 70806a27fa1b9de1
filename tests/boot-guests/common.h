/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every boot-protocol test guest shares: COM1 output and input by
 * polling, number printing, command-line lookup, the echo loop and the
 * debug-exit port. Header-only so each guest stays one C file.
 */
#ifndef BOOT_GUEST_COMMON_H
#define BOOT_GUEST_COMMON_H

#include <stdint.h>

#define COM1 0x3f8
#define EXIT_PORT 0xf4

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

static inline void putc_(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

static inline void puts_(const char *s)
{
	while (*s)
		putc_(*s++);
}

static inline void puthex(uint64_t v)
{
	puts_("0x");
	for (int i = 60; i >= 0; i -= 4)
		putc_("0123456789abcdef"[(v >> i) & 15]);
}

static inline void putdec(uint64_t v)
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

static inline char getc_(void)
{
	while (!(inb(COM1 + 5) & 0x01))
		;
	return (char)inb(COM1);
}

/* Value of "key=" on the command line, or NULL. */
static inline const char *cmdline_find(const char *cl, const char *key)
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

static inline uint64_t parse_dec(const char *s)
{
	uint64_t v = 0;

	while (s && *s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	return v;
}

static inline void echo_loop(void)
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

static inline void guest_exit(const char *cmdline)
{
	puts_("boot-test: done\n");
	outl(EXIT_PORT, (uint32_t)parse_dec(cmdline_find(cmdline, "exit")));
}

#endif
