/* SPDX-License-Identifier: Apache-2.0 */
/* libguest core: C entry, exit, and the few libc functions the compiler may call. */
#include "guest.h"

const struct cvmm_guest_boot_info *guest_boot;
extern const struct cvmm_guest_image_hdr cvmm_guest_header;

void cvmm_guest_cstart(uint64_t cpu, const struct cvmm_guest_boot_info *boot);
void cvmm_guest_idt_fill(void);

/* Runs at CPL3 on every vCPU. */
void cvmm_guest_cstart(uint64_t cpu, const struct cvmm_guest_boot_info *boot)
{
	/* Every vCPU stores the same pointer: no ordering needed. */
	guest_boot = boot;
	if (boot->magic != CVMM_GUEST_BOOT_MAGIC)
		guest_exit(0xbad0);
	if (cvmm_guest_header.flags & CVMM_GUEST_F_ENTER_CPL0)
		cvmm_guest_idt_fill();
	guest_exit((uint32_t)guest_main((unsigned int)cpu));
}

void guest_exit(uint32_t code)
{
	outl(CVMM_GUEST_PORT_EXIT, code);
	/* Not HLT: with the in-kernel irqchip it would block the vCPU for good
	 * if a VMM ignored the port; spinning stays kickable. */
	for (;;)
		cpu_relax();
}

void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

void *memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp < sp) {
		while (n--)
			*dp++ = *sp++;
	} else {
		while (n--)
			dp[n] = sp[n];
	}
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
