/* SPDX-License-Identifier: Apache-2.0 */
#include <cvmm/vm-superio.h>
#include "cvmm-test.h"
#include "superio-tests.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NS 1000000000ll

struct cmos {
	struct cvmm_rtc *r;
	int64_t now_ns;
	unsigned int irqs;
};

static int64_t fake_clock(void *o)
{
	return ((struct cmos *)o)->now_ns;
}

static void on_irq(void *o)
{
	((struct cmos *)o)->irqs++;
}

/* 2024-02-29 13:45:56 UTC, a Thursday, computed rather than hard-coded. */
static int64_t leap_day(void)
{
	struct tm tm = { .tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 13,
			 .tm_min = 45, .tm_sec = 56 };

	return (int64_t)timegm(&tm);
}

static void cmos_init(struct cmos *c, int64_t now_ns)
{
	struct cvmm_rtc_opts o = {
		.sz = sizeof(o), .clock = fake_clock, .trigger = on_irq, .opaque = c,
	};

	memset(c, 0, sizeof(*c));
	c->now_ns = now_ns;
	ck_assert_int_eq(cvmm_rtc_create(&o, &c->r), 0);
}

static uint8_t get(struct cmos *c, uint8_t reg)
{
	uint8_t v;

	ck_assert_int_eq(cvmm_rtc_write(c->r, CVMM_RTC_INDEX, reg), 0);
	ck_assert_int_eq(cvmm_rtc_read(c->r, CVMM_RTC_DATA, &v), 0);
	return v;
}

static void set(struct cmos *c, uint8_t reg, uint8_t v)
{
	ck_assert_int_eq(cvmm_rtc_write(c->r, CVMM_RTC_INDEX, reg), 0);
	ck_assert_int_eq(cvmm_rtc_write(c->r, CVMM_RTC_DATA, v), 0);
}

START_TEST(rtc_bcd_binary_12h)
{
	struct cmos c;

	cmos_init(&c, leap_day() * NS + NS / 2);
	/* Default: BCD, 24 hours. */
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_B), CVMM_RTC_B_24H);
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x56);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MINUTES), 0x45);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x13);
	ck_assert_uint_eq(get(&c, CVMM_RTC_DAY_OF_WEEK), 5);
	ck_assert_uint_eq(get(&c, CVMM_RTC_DAY_OF_MONTH), 0x29);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MONTH), 0x02);
	ck_assert_uint_eq(get(&c, CVMM_RTC_YEAR), 0x24);
	ck_assert_uint_eq(get(&c, CVMM_RTC_CENTURY), 0x20);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_D), CVMM_RTC_D_VRT);
	/* Binary, 24 hours. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_DM_BINARY);
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 56);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 13);
	ck_assert_uint_eq(get(&c, CVMM_RTC_YEAR), 24);
	ck_assert_uint_eq(get(&c, CVMM_RTC_CENTURY), 20);
	/* 12 hours: bit 7 is PM. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_DM_BINARY);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x80 | 1);
	set(&c, CVMM_RTC_REG_B, 0);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x80 | 0x01);
	/* Midnight is 12 AM, noon is 12 PM. */
	c.now_ns = (leap_day() - 13 * 3600) * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x12);
	c.now_ns = (leap_day() - 3600) * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x80 | 0x12);
	c.now_ns = (leap_day() - 3 * 3600) * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x10);
	/* The time follows the clock across the leap day. */
	c.now_ns = (leap_day() + 11 * 3600) * NS;
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H);
	ck_assert_uint_eq(get(&c, CVMM_RTC_DAY_OF_MONTH), 0x01);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MONTH), 0x03);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x00);
	cvmm_rtc_destroy(c.r);
	cvmm_rtc_destroy(NULL);
}
END_TEST

START_TEST(rtc_index_uip_ports)
{
	struct cmos c;
	uint8_t v;

	cmos_init(&c, leap_day() * NS + NS - 100000);
	/* The NMI-mask bit is not part of the index. */
	ck_assert_int_eq(cvmm_rtc_write(c.r, CVMM_RTC_INDEX, 0x80 | CVMM_RTC_REG_A), 0);
	ck_assert_int_eq(cvmm_rtc_read(c.r, CVMM_RTC_DATA, &v), 0);
	ck_assert_uint_eq(v, CVMM_RTC_A_UIP | 0x26);
	c.now_ns = leap_day() * NS + NS - CVMM_RTC_UIP_NS - 1;
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_A), 0x26);
	c.now_ns = leap_day() * NS + NS - CVMM_RTC_UIP_NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_A), 0xa6);
	/* UIP and D are read-only; A's divider stops updates (and UIP). */
	set(&c, CVMM_RTC_REG_A, 0xff);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_A), 0x7f);
	set(&c, CVMM_RTC_REG_A, 0x26);
	set(&c, CVMM_RTC_REG_D, 0);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_D), CVMM_RTC_D_VRT);
	ck_assert_int_eq(cvmm_rtc_read(c.r, CVMM_RTC_INDEX, &v), 0);
	ck_assert_uint_eq(v, 0xff);
	ck_assert_int_eq(cvmm_rtc_read(c.r, 2, &v), -EINVAL);
	ck_assert_int_eq(cvmm_rtc_write(c.r, 2, 0), -EINVAL);
	/* Plain CMOS RAM. */
	set(&c, 0x40, 0xab);
	set(&c, 0x7f, 0xcd);
	ck_assert_uint_eq(get(&c, 0x40), 0xab);
	ck_assert_uint_eq(get(&c, 0xff), 0xcd); /* 0xff & 0x7f */
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_guest_sets_time)
{
	struct cmos c;
	struct tm tm = { .tm_year = 199, .tm_mon = 11, .tm_mday = 31, .tm_hour = 23,
			 .tm_min = 59, .tm_sec = 58 };

	cmos_init(&c, leap_day() * NS);
	/* Set 2099-12-31 11:59:58 PM in 12-hour BCD. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_SET);
	set(&c, CVMM_RTC_SECONDS, 0x58);
	set(&c, CVMM_RTC_MINUTES, 0x59);
	set(&c, CVMM_RTC_HOURS, 0x80 | 0x11);
	set(&c, CVMM_RTC_DAY_OF_MONTH, 0x31);
	set(&c, CVMM_RTC_MONTH, 0x12);
	set(&c, CVMM_RTC_YEAR, 0x99);
	set(&c, CVMM_RTC_CENTURY, 0x20);
	/* Frozen while SET: the clock moving changes nothing. */
	c.now_ns += 5 * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x58);
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x23);
	c.now_ns += 3 * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x01);
	ck_assert_uint_eq(get(&c, CVMM_RTC_YEAR), 0x00);
	ck_assert_uint_eq(get(&c, CVMM_RTC_CENTURY), 0x21);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MONTH), 0x01);
	/* A snapshot carries the offset: a new RTC on the same clock agrees. */
	{
		struct cvmm_rtc_state st;
		struct cmos d;

		ck_assert_int_eq(cvmm_rtc_save(c.r, &st), 0);
		ck_assert_int_eq(st.offset_sec, (int64_t)timegm(&tm) - leap_day() - 5);
		cmos_init(&d, c.now_ns);
		ck_assert_int_eq(cvmm_rtc_restore(d.r, &st), 0);
		for (uint8_t reg = 0; reg < 10; reg++)
			ck_assert_uint_eq(get(&d, reg), get(&c, reg));
		cvmm_rtc_destroy(d.r);
	}
	/* Writing one field while running keeps the others. */
	set(&c, CVMM_RTC_MINUTES, 0x30);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MINUTES), 0x30);
	ck_assert_uint_eq(get(&c, CVMM_RTC_HOURS), 0x00);
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x01);
	ck_assert_uint_eq(get(&c, CVMM_RTC_YEAR), 0x00);
	/* Holding the divider in reset (A = 0x70) freezes the time too. */
	set(&c, CVMM_RTC_REG_A, 0x70);
	c.now_ns += 10 * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x01);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MINUTES), 0x30);
	set(&c, CVMM_RTC_REG_A, 0x26);
	c.now_ns += 2 * NS;
	ck_assert_uint_eq(get(&c, CVMM_RTC_SECONDS), 0x03);
	ck_assert_uint_eq(get(&c, CVMM_RTC_MINUTES), 0x30);
	/* Garbage BCD does not break anything; the time stays readable. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_SET);
	for (uint8_t reg = 0; reg < 10; reg++)
		set(&c, reg, 0xff);
	set(&c, CVMM_RTC_CENTURY, 0xff);
	set(&c, CVMM_RTC_REG_B, 0);
	for (uint8_t reg = 0; reg < 10; reg++)
		get(&c, reg);
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_memory_registers)
{
	struct cmos c;
	const uint64_t mib = 1ull << 20;

	cmos_init(&c, 0);
	cvmm_rtc_set_memory(c.r, 3072 * mib, 5120 * mib);
#define W(lo) ((unsigned int)get(&c, lo) | (unsigned int)get(&c, (lo) + 1) << 8)
	ck_assert_uint_eq(W(0x15), 640);
	ck_assert_uint_eq(W(0x17), 0xffff); /* capped */
	ck_assert_uint_eq(W(0x30), 0xffff);
	ck_assert_uint_eq(W(0x34), (3072 - 16) * mib / 65536);
	ck_assert_uint_eq(get(&c, 0x5b) | get(&c, 0x5c) << 8 | get(&c, 0x5d) << 16,
			  5120 * mib / 65536);
	cvmm_rtc_set_memory(c.r, 8 * mib, 0);
	ck_assert_uint_eq(W(0x17), 7 * 1024);
	ck_assert_uint_eq(W(0x30), 7 * 1024);
	ck_assert_uint_eq(W(0x34), 0);
	ck_assert_uint_eq(get(&c, 0x5b) | get(&c, 0x5c) << 8 | get(&c, 0x5d) << 16, 0);
	cvmm_rtc_set_memory(c.r, 64 * mib + 65535, 1ull << 50);
	ck_assert_uint_eq(W(0x34), 48 * 16);
	ck_assert_uint_eq(get(&c, 0x5b) | get(&c, 0x5c) << 8 | get(&c, 0x5d) << 16, 0xffffff);
	cvmm_rtc_set_memory(c.r, 512 * 1024, 0);
	ck_assert_uint_eq(W(0x17), 0);
#undef W
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_poll_interrupts)
{
	struct cmos c;
	uint64_t t0 = (uint64_t)leap_day();

	cmos_init(&c, (int64_t)t0 * NS);
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 0);
	c.now_ns += NS;
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 0); /* UF set but not enabled */
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), CVMM_RTC_C_UF);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), 0);
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_UIE);
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 0); /* same second */
	c.now_ns += NS;
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 1);
	ck_assert(cvmm_rtc_irq_pending(c.r));
	c.now_ns += NS;
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 1); /* IRQF still set: no new edge */
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), CVMM_RTC_C_IRQF | CVMM_RTC_C_UF);
	ck_assert(!cvmm_rtc_irq_pending(c.r));
	/* Alarm at hh:mm:05 with don't-care hours, 10 s later. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_AIE);
	set(&c, CVMM_RTC_SECONDS_ALARM, 0x05);
	set(&c, CVMM_RTC_MINUTES_ALARM, 0x46);
	set(&c, CVMM_RTC_HOURS_ALARM, 0xc0);
	c.now_ns = (int64_t)(t0 + 4 + 4) * NS; /* 13:46:00 */
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 1);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), CVMM_RTC_C_UF);
	c.now_ns += 7 * NS; /* skips over :05 between polls */
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 2);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), CVMM_RTC_C_IRQF | CVMM_RTC_C_AF | CVMM_RTC_C_UF);
	/* Periodic: every poll with PIE and a rate. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_PIE);
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 3);
	ck_assert_uint_eq(get(&c, CVMM_RTC_REG_C), CVMM_RTC_C_IRQF | CVMM_RTC_C_PF);
	/* The host clock jumping by decades stays cheap and fires the alarm once. */
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_AIE);
	get(&c, CVMM_RTC_REG_C);
	c.now_ns += 86400ll * 365 * 50 * NS;
	cvmm_rtc_poll(c.r);
	ck_assert_uint_eq(c.irqs, 4);
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_restore_rejects)
{
	struct cmos c;
	struct cvmm_rtc_state st, bad, after;

	cmos_init(&c, leap_day() * NS);
	ck_assert_int_eq(cvmm_rtc_save(c.r, &st), 0);
#define REJECT(stmt)                                                    \
	do {                                                            \
		bad = st;                                               \
		stmt;                                                   \
		ck_assert_int_eq(cvmm_rtc_restore(c.r, &bad), -EINVAL); \
		ck_assert_int_eq(cvmm_rtc_save(c.r, &after), 0);        \
		ck_assert_mem_eq(&after, &st, sizeof(st));              \
	} while (0)
	REJECT(bad.version = 0);
	REJECT(bad.index = 128);
	REJECT(bad.nmi_disabled = 2);
	REJECT(bad.reserved = 1);
	REJECT(bad.offset_sec = INT64_MAX);
	REJECT(bad.offset_sec = INT64_MIN);
	REJECT(bad.last_poll_sec = INT64_MIN);
	REJECT(bad.cmos[CVMM_RTC_REG_A] |= CVMM_RTC_A_UIP);
	REJECT(bad.cmos[CVMM_RTC_REG_C] = 0x01);
	REJECT(bad.cmos[CVMM_RTC_REG_D] = 0);
#undef REJECT
	ck_assert_int_eq(cvmm_rtc_restore(c.r, NULL), -EINVAL);
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_hostile_exhaustive)
{
	struct cmos c;
	static unsigned int perm[128 * 256];
	uint64_t seed = 0xc0ffee + (uint64_t)_i;
	struct cvmm_rtc_opts o = { .sz = sizeof(o) };
	struct cvmm_rtc *fresh;
	struct cvmm_rtc_state st;

	cmos_init(&c, leap_day() * NS);
	test_shuffle(perm, 128 * 256, &seed);
	ck_assert_int_eq(cvmm_rtc_create(&o, &fresh), 0);
	for (unsigned int i = 0; i < 128 * 256; i++) {
		uint8_t v;

		set(&c, (uint8_t)(perm[i] / 256), (uint8_t)perm[i]);
		ck_assert_int_eq(cvmm_rtc_read(c.r, CVMM_RTC_DATA, &v), 0);
		c.now_ns += (int64_t)(test_rand(&seed) % (2 * NS));
		if (i % 64 == 0)
			cvmm_rtc_poll(c.r);
		ck_assert_uint_eq(get(&c, CVMM_RTC_REG_D), CVMM_RTC_D_VRT);
		ck_assert_int_eq(cvmm_rtc_save(c.r, &st), 0);
		ck_assert_int_eq(cvmm_rtc_restore(fresh, &st), 0);
	}
	cvmm_rtc_destroy(fresh);
	cvmm_rtc_destroy(c.r);
}
END_TEST

START_TEST(rtc_default_clock)
{
	struct cvmm_rtc_opts o = { .sz = sizeof(o) };
	struct cvmm_rtc *r;
	time_t now = time(NULL);
	struct tm tm;
	uint8_t v, yr;

	ck_assert_int_eq(cvmm_rtc_create(&o, &r), 0);
	gmtime_r(&now, &tm);
	ck_assert_int_eq(cvmm_rtc_write(r, CVMM_RTC_INDEX, CVMM_RTC_REG_B), 0);
	ck_assert_int_eq(cvmm_rtc_write(r, CVMM_RTC_DATA, CVMM_RTC_B_24H | CVMM_RTC_B_DM_BINARY), 0);
	ck_assert_int_eq(cvmm_rtc_write(r, CVMM_RTC_INDEX, CVMM_RTC_YEAR), 0);
	ck_assert_int_eq(cvmm_rtc_read(r, CVMM_RTC_DATA, &yr), 0);
	ck_assert_int_eq(cvmm_rtc_write(r, CVMM_RTC_INDEX, CVMM_RTC_CENTURY), 0);
	ck_assert_int_eq(cvmm_rtc_read(r, CVMM_RTC_DATA, &v), 0);
	/* Only the year: it cannot change during the test except at New Year. */
	ck_assert_int_le(abs(v * 100 + yr - (tm.tm_year + 1900)), 1);
	cvmm_rtc_destroy(r);
}
END_TEST

/*
 * The model's own calendar arithmetic agrees with glibc's gmtime_r() and
 * timegm() from 1900 to 2199 (what century + year registers can say), in
 * steps that hit every month end, leap day and weekday: the clock reads
 * what gmtime_r() says, and a time the guest writes back comes out as the
 * offset timegm() gives.
 */
START_TEST(rtc_calendar_matches_libc)
{
	const int64_t first = -2208988800ll;  /* 1900-01-01 */
	const int64_t last = 7258118399ll;    /* 2199-12-31 23:59:59 */
	struct cmos c;

	cmos_init(&c, 0);
	set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_DM_BINARY);
	/* Compare quietly and assert once: a Check assertion per field (36,000
	 * instants x 8) costs a pipe write each, seconds on a loaded machine. */
	for (int64_t t = first; t <= last; t += 86400 * 9 + 3671) {
		time_t tt = (time_t)t;
		struct tm tm;
		unsigned int want[8], got[8];

		c.now_ns = t * NS;
		ck_assert_ptr_nonnull(gmtime_r(&tt, &tm));
		want[0] = (unsigned)tm.tm_sec;
		want[1] = (unsigned)tm.tm_min;
		want[2] = (unsigned)tm.tm_hour;
		want[3] = (unsigned)tm.tm_wday + 1;
		want[4] = (unsigned)tm.tm_mday;
		want[5] = (unsigned)tm.tm_mon + 1;
		want[6] = (unsigned)(tm.tm_year + 1900) % 100;
		want[7] = (unsigned)(tm.tm_year + 1900) / 100;
		got[0] = get(&c, CVMM_RTC_SECONDS);
		got[1] = get(&c, CVMM_RTC_MINUTES);
		got[2] = get(&c, CVMM_RTC_HOURS);
		got[3] = get(&c, CVMM_RTC_DAY_OF_WEEK);
		got[4] = get(&c, CVMM_RTC_DAY_OF_MONTH);
		got[5] = get(&c, CVMM_RTC_MONTH);
		got[6] = get(&c, CVMM_RTC_YEAR);
		got[7] = get(&c, CVMM_RTC_CENTURY);
		if (memcmp(want, got, sizeof(want)))
			ck_abort_msg("t=%lld: got %u-%u-%u %u:%u:%u wday %u, want %u-%u-%u %u:%u:%u wday %u",
				     (long long)t, got[7] * 100 + got[6], got[5], got[4], got[2], got[1],
				     got[0], got[3], want[7] * 100 + want[6], want[5], want[4], want[2],
				     want[1], want[0], want[3]);
	}
	/* Writes, including out-of-range fields timegm() normalises. */
	for (int i = 0; i < 2000; i++) {
		struct tm tm = { .tm_year = i % 300, .tm_mon = (i * 7) % 12,
				 .tm_mday = 1 + (i * 13) % 40, .tm_hour = (i * 5) % 30,
				 .tm_min = (i * 11) % 70, .tm_sec = (i * 17) % 70 };
		struct cvmm_rtc_state st;
		int year = tm.tm_year + 1900;

		c.now_ns = 0;
		set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_SET | CVMM_RTC_B_24H | CVMM_RTC_B_DM_BINARY);
		set(&c, CVMM_RTC_SECONDS, (uint8_t)tm.tm_sec);
		set(&c, CVMM_RTC_MINUTES, (uint8_t)tm.tm_min);
		set(&c, CVMM_RTC_HOURS, (uint8_t)tm.tm_hour);
		set(&c, CVMM_RTC_DAY_OF_MONTH, (uint8_t)tm.tm_mday);
		set(&c, CVMM_RTC_MONTH, (uint8_t)(tm.tm_mon + 1));
		set(&c, CVMM_RTC_YEAR, (uint8_t)(year % 100));
		set(&c, CVMM_RTC_CENTURY, (uint8_t)(year / 100));
		set(&c, CVMM_RTC_REG_B, CVMM_RTC_B_24H | CVMM_RTC_B_DM_BINARY);
		ck_assert_int_eq(cvmm_rtc_save(c.r, &st), 0);
		ck_assert_int_eq(st.offset_sec, (int64_t)timegm(&tm));
	}
	cvmm_rtc_destroy(c.r);
}
END_TEST

Suite *rtc_suite(void)
{
	Suite *s = suite_create("rtc");
	TCase *tc = tcase_create("cmos");

	/* The calendar walk is ~12,000 instants: seconds under ASan on a busy host. */
	tcase_set_timeout(tc, 60);

	tcase_add_test(tc, rtc_bcd_binary_12h);
	tcase_add_test(tc, rtc_index_uip_ports);
	tcase_add_test(tc, rtc_guest_sets_time);
	tcase_add_test(tc, rtc_memory_registers);
	tcase_add_test(tc, rtc_poll_interrupts);
	tcase_add_test(tc, rtc_restore_rejects);
	tcase_add_test(tc, rtc_default_clock);
	tcase_add_test(tc, rtc_calendar_matches_libc);
	suite_add_tcase(s, tc);
	tc = tcase_create("hostile");
	tcase_set_timeout(tc, 60);
	tcase_add_loop_test(tc, rtc_hostile_exhaustive, 0, 2);
	suite_add_tcase(s, tc);
	return s;
}
