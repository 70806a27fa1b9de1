/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reads the CMOS clock the way Linux's mach_get_cmos_time() does (wait for
 * UIP to clear, then the time registers, in BCD or binary as register B
 * says) and prints it as "rtc: YYYY-MM-DD HH:MM:SS". Exit 0; 0x30 when UIP
 * never clears. The reading itself is the test: the VMM must answer it
 * inside its vCPU thread's seccomp filter (no file opened for a time zone).
 */
#include "guest.h"

static uint8_t cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

static unsigned int field(uint8_t v, bool bcd)
{
	return bcd ? (v >> 4) * 10 + (v & 0x0f) : v;
}

int guest_main(unsigned int cpu)
{
	unsigned int sec, min, hour, mday, mon, year, cent;
	uint8_t b;
	bool bcd;
	long i;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	for (i = 0; i < 100000000 && (cmos(0x0a) & 0x80); i++)
		cpu_relax();
	if (cmos(0x0a) & 0x80) {
		guest_printf("rtc: FAIL update in progress never ends\n");
		return 0x30;
	}
	b = cmos(0x0b);
	bcd = !(b & 0x04);
	sec = field(cmos(0x00), bcd);
	min = field(cmos(0x02), bcd);
	hour = cmos(0x04);
	/* 12-hour mode: bit 7 is PM, 12 o'clock reads 12. */
	if (!(b & 0x02))
		hour = field(hour & 0x7f, bcd) % 12 + ((hour & 0x80) ? 12 : 0);
	else
		hour = field(hour, bcd);
	mday = field(cmos(0x07), bcd);
	mon = field(cmos(0x08), bcd);
	year = field(cmos(0x09), bcd);
	cent = field(cmos(0x32), bcd);
	guest_printf("rtc: %04u-%02u-%02u %02u:%02u:%02u\n", cent * 100 + year, mon,
		     mday, hour, min, sec);
	return 0;
}
