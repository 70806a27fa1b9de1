/* SPDX-License-Identifier: Apache-2.0 */
/*
 * MC146818 RTC and CMOS RAM. The time is never stored while running: it is
 * computed from the caller's clock plus the offset the guest set, so the
 * model needs no timer. While B.SET is on, the time registers live in CMOS
 * RAM (the guest is writing them) and become the new offset when it clears.
 */
#include <cvmm/vm-superio.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ll
#define MAX_OFFSET_SEC 1000000000000ll
#define ALARM_DONT_CARE 0xc0
#define REG_A_DIVIDER_MASK 0x70
#define REG_A_DIVIDER_NORMAL 0x20
#define REG_A_RATE_MASK 0x0f

struct cvmm_rtc {
	cvmm_rtc_clock_fn clock;
	cvmm_superio_trigger_fn trigger;
	void *opaque;

	uint8_t index;
	bool nmi_disabled;
	int64_t offset_sec;
	int64_t last_poll_sec;
	uint8_t cmos[CVMM_RTC_NUM_REGS];
};

static int64_t realtime_ns(void *opaque)
{
	struct timespec ts;

	(void)opaque;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

/* Guest time as whole seconds and the nanoseconds into the current one. */
static int64_t guest_time(const struct cvmm_rtc *r, int64_t *nsec)
{
	int64_t ns = r->clock(r->opaque);
	int64_t sec = ns / NSEC_PER_SEC, rem = ns % NSEC_PER_SEC;

	if (rem < 0) {
		rem += NSEC_PER_SEC;
		sec--;
	}
	if (nsec)
		*nsec = rem;
	return sec + r->offset_sec;
}

static bool binary_mode(const struct cvmm_rtc *r)
{
	return r->cmos[CVMM_RTC_REG_B] & CVMM_RTC_B_DM_BINARY;
}

static uint8_t encode(const struct cvmm_rtc *r, int v)
{
	v %= 100;
	if (binary_mode(r))
		return (uint8_t)v;
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* Garbage in BCD registers (nibbles above 9) decodes to large values;
 * from_tm() then normalises them, as the part would roll over. */
static int decode(const struct cvmm_rtc *r, uint8_t v)
{
	if (binary_mode(r))
		return v;
	return (v >> 4) * 10 + (v & 0x0f);
}

static uint8_t encode_hours(const struct cvmm_rtc *r, int h)
{
	int h12;

	if (r->cmos[CVMM_RTC_REG_B] & CVMM_RTC_B_24H)
		return encode(r, h);
	h12 = h % 12 ? h % 12 : 12;
	return (uint8_t)(encode(r, h12) | (h >= 12 ? 0x80 : 0));
}

static int decode_hours(const struct cvmm_rtc *r, uint8_t v)
{
	if (r->cmos[CVMM_RTC_REG_B] & CVMM_RTC_B_24H)
		return decode(r, v);
	return decode(r, v & 0x7f) % 12 + ((v & 0x80) ? 12 : 0);
}

/*
 * Civil date <-> days since 1970-01-01 in the proleptic Gregorian calendar
 * (H. Hinnant's algorithms), so the model never calls gmtime_r()/timegm():
 * glibc loads the time-zone file (/etc/localtime) on their first call,
 * which a vCPU thread's seccomp filter rightly refuses.
 */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* Only the fields time_reg() reads: year, month, day, weekday, time. */
static void to_tm(int64_t sec, struct tm *tm)
{
	int64_t days = sec / 86400, rem = sec % 86400;
	int64_t z, era, doe, yoe, doy, mp, y;

	if (rem < 0) {
		rem += 86400;
		days--;
	}
	memset(tm, 0, sizeof(*tm));
	tm->tm_hour = (int)(rem / 3600);
	tm->tm_min = (int)(rem / 60 % 60);
	tm->tm_sec = (int)(rem % 60);
	/* 1970-01-01 was a Thursday. */
	tm->tm_wday = (int)(((days % 7) + 11) % 7);
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	tm->tm_mday = (int)(doy - (153 * mp + 2) / 5 + 1);
	tm->tm_mon = (int)(mp < 10 ? mp + 2 : mp - 10);
	y += tm->tm_mon <= 1;
	tm->tm_year = (int)(y - 1900);
}

/*
 * Seconds since the epoch of a broken-down UTC time whose fields may be out
 * of range (garbage BCD): months carry into years, everything else adds
 * linearly, as timegm() normalises them.
 */
static int64_t from_tm(const struct tm *tm)
{
	int64_t y = (int64_t)tm->tm_year + 1900, m = tm->tm_mon;

	y += m / 12;
	m %= 12;
	if (m < 0) {
		m += 12;
		y--;
	}
	return (days_from_civil(y, m + 1, 1) + tm->tm_mday - 1) * 86400 +
	       (int64_t)tm->tm_hour * 3600 + (int64_t)tm->tm_min * 60 + tm->tm_sec;
}

/* The value time register @reg has at guest second @sec. */
static uint8_t time_reg(const struct cvmm_rtc *r, uint8_t reg, int64_t sec)
{
	struct tm tm;
	int year;

	to_tm(sec, &tm);
	year = ((tm.tm_year + 1900) % 10000 + 10000) % 10000;
	switch (reg) {
	case CVMM_RTC_SECONDS:
		return encode(r, tm.tm_sec);
	case CVMM_RTC_MINUTES:
		return encode(r, tm.tm_min);
	case CVMM_RTC_HOURS:
		return encode_hours(r, tm.tm_hour);
	case CVMM_RTC_DAY_OF_WEEK:
		return encode(r, tm.tm_wday + 1);
	case CVMM_RTC_DAY_OF_MONTH:
		return encode(r, tm.tm_mday);
	case CVMM_RTC_MONTH:
		return encode(r, tm.tm_mon + 1);
	case CVMM_RTC_YEAR:
		return encode(r, year % 100);
	case CVMM_RTC_CENTURY:
		return encode(r, year / 100);
	}
	return 0;
}

static bool is_time_reg(uint8_t reg)
{
	switch (reg) {
	case CVMM_RTC_SECONDS: case CVMM_RTC_MINUTES: case CVMM_RTC_HOURS:
	case CVMM_RTC_DAY_OF_WEEK: case CVMM_RTC_DAY_OF_MONTH: case CVMM_RTC_MONTH:
	case CVMM_RTC_YEAR: case CVMM_RTC_CENTURY:
		return true;
	}
	return false;
}

static const uint8_t time_regs[] = {
	CVMM_RTC_SECONDS, CVMM_RTC_MINUTES, CVMM_RTC_HOURS, CVMM_RTC_DAY_OF_WEEK,
	CVMM_RTC_DAY_OF_MONTH, CVMM_RTC_MONTH, CVMM_RTC_YEAR, CVMM_RTC_CENTURY,
};

static void latch_time(struct cvmm_rtc *r)
{
	int64_t sec = guest_time(r, NULL);

	for (size_t i = 0; i < CVMM_ARRAY_SIZE(time_regs); i++)
		r->cmos[time_regs[i]] = time_reg(r, time_regs[i], sec);
}

/* Make the time held in the CMOS time registers the current guest time. */
static void apply_time(struct cvmm_rtc *r)
{
	struct tm tm = { 0 };
	int64_t now = guest_time(r, NULL) - r->offset_sec;
	int64_t t;

	tm.tm_sec = decode(r, r->cmos[CVMM_RTC_SECONDS]);
	tm.tm_min = decode(r, r->cmos[CVMM_RTC_MINUTES]);
	tm.tm_hour = decode_hours(r, r->cmos[CVMM_RTC_HOURS]);
	tm.tm_mday = decode(r, r->cmos[CVMM_RTC_DAY_OF_MONTH]);
	tm.tm_mon = decode(r, r->cmos[CVMM_RTC_MONTH]) - 1;
	tm.tm_year = decode(r, r->cmos[CVMM_RTC_CENTURY]) * 100 +
		     decode(r, r->cmos[CVMM_RTC_YEAR]) - 1900;
	t = from_tm(&tm);
	/* Decoded fields are at most 165 each, so t is always representable;
	 * the clamp only guards against a clock callback gone wild. */
	r->offset_sec = CVMM_MAX(-MAX_OFFSET_SEC, CVMM_MIN(MAX_OFFSET_SEC, t - now));
	r->last_poll_sec = guest_time(r, NULL);
}

int cvmm_rtc_create(const struct cvmm_rtc_opts *o, struct cvmm_rtc **out)
{
	struct cvmm_rtc *r;

	if (!o || !out || o->sz < sizeof(*o))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->clock = o->clock ? o->clock : realtime_ns;
	r->trigger = o->trigger;
	r->opaque = o->opaque;
	r->cmos[CVMM_RTC_REG_A] = 0x26; /* 32.768 kHz time base, 1024 Hz rate */
	r->cmos[CVMM_RTC_REG_B] = CVMM_RTC_B_24H;
	r->cmos[CVMM_RTC_REG_D] = CVMM_RTC_D_VRT;
	r->last_poll_sec = guest_time(r, NULL);
	*out = r;
	return 0;
}

void cvmm_rtc_destroy(struct cvmm_rtc *r)
{
	free(r);
}

static bool updating(const struct cvmm_rtc *r)
{
	return !(r->cmos[CVMM_RTC_REG_B] & CVMM_RTC_B_SET) &&
	       (r->cmos[CVMM_RTC_REG_A] & REG_A_DIVIDER_MASK) == REG_A_DIVIDER_NORMAL;
}

int cvmm_rtc_read(struct cvmm_rtc *r, uint64_t offset, uint8_t *val)
{
	uint8_t reg = r->index;
	int64_t nsec, sec;

	if (offset == CVMM_RTC_INDEX) {
		*val = 0xff;
		return 0;
	}
	if (offset != CVMM_RTC_DATA) {
		*val = 0xff;
		return -EINVAL;
	}
	if (is_time_reg(reg) && updating(r)) {
		*val = time_reg(r, reg, guest_time(r, NULL));
		return 0;
	}
	switch (reg) {
	case CVMM_RTC_REG_A:
		*val = r->cmos[reg];
		sec = guest_time(r, &nsec);
		(void)sec;
		if (updating(r) && nsec >= NSEC_PER_SEC - CVMM_RTC_UIP_NS)
			*val |= CVMM_RTC_A_UIP;
		break;
	case CVMM_RTC_REG_C:
		*val = r->cmos[reg];
		r->cmos[reg] = 0;
		break;
	default:
		*val = r->cmos[reg];
		break;
	}
	return 0;
}

/*
 * A or B write: the time freezes whenever updates stop (B.SET, or the
 * divider chain held in reset through A) and resumes from the registers
 * when they start again.
 */
static void write_control(struct cvmm_rtc *r, uint8_t reg, uint8_t val)
{
	bool was = updating(r), now;
	uint8_t a = r->cmos[CVMM_RTC_REG_A], b = r->cmos[CVMM_RTC_REG_B];

	if (reg == CVMM_RTC_REG_A) {
		a = val & (uint8_t)~CVMM_RTC_A_UIP;
	} else {
		b = val;
		/* Setting SET also clears UIE (MC146818). */
		if (b & CVMM_RTC_B_SET)
			b &= (uint8_t)~CVMM_RTC_B_UIE;
	}
	now = !(b & CVMM_RTC_B_SET) && (a & REG_A_DIVIDER_MASK) == REG_A_DIVIDER_NORMAL;
	/* The frozen registers were written in the format in force while
	 * frozen; a format change in the same write applies after. */
	if (!was && now)
		apply_time(r);
	r->cmos[CVMM_RTC_REG_A] = a;
	r->cmos[CVMM_RTC_REG_B] = b;
	/* Freeze in the format the guest is switching to. */
	if (was && !now)
		latch_time(r);
}

int cvmm_rtc_write(struct cvmm_rtc *r, uint64_t offset, uint8_t val)
{
	uint8_t reg = r->index;

	if (offset == CVMM_RTC_INDEX) {
		r->index = val & 0x7f;
		r->nmi_disabled = val & 0x80;
		return 0;
	}
	if (offset != CVMM_RTC_DATA)
		return -EINVAL;
	if (is_time_reg(reg)) {
		if (updating(r)) {
			/* Setting one field while running: the others keep
			 * their current values. */
			latch_time(r);
			r->cmos[reg] = val;
			apply_time(r);
		} else {
			r->cmos[reg] = val;
		}
		return 0;
	}
	switch (reg) {
	case CVMM_RTC_REG_A:
	case CVMM_RTC_REG_B:
		write_control(r, reg, val);
		break;
	case CVMM_RTC_REG_C:
	case CVMM_RTC_REG_D:
		break;
	default:
		r->cmos[reg] = val;
		break;
	}
	return 0;
}

static void put16(struct cvmm_rtc *r, uint8_t reg, uint64_t v)
{
	r->cmos[reg] = (uint8_t)v;
	r->cmos[reg + 1] = (uint8_t)(v >> 8);
}

void cvmm_rtc_set_memory(struct cvmm_rtc *r, uint64_t below_4g, uint64_t above_4g)
{
	const uint64_t mib = 1ull << 20;
	uint64_t ext_kib = below_4g > mib ? (below_4g - mib) >> 10 : 0;
	uint64_t above16 = below_4g > 16 * mib ? (below_4g - 16 * mib) >> 16 : 0;
	uint64_t high = above_4g >> 16;

	put16(r, 0x15, 640);
	put16(r, 0x17, CVMM_MIN(ext_kib, 0xffffull));
	put16(r, 0x30, CVMM_MIN(ext_kib, 0xffffull));
	put16(r, 0x34, CVMM_MIN(above16, 0xffffull));
	high = CVMM_MIN(high, 0xffffffull);
	r->cmos[0x5b] = (uint8_t)high;
	r->cmos[0x5c] = (uint8_t)(high >> 8);
	r->cmos[0x5d] = (uint8_t)(high >> 16);
}

static bool alarm_field_matches(uint8_t alarm, uint8_t now)
{
	return (alarm & ALARM_DONT_CARE) == ALARM_DONT_CARE || alarm == now;
}

/* True when the alarm matches some second in [@first, @last]. Steps the
 * broken-down time by hand: a guest that moves its clock by years must not
 * make each poll cost a day's worth of gmtime() calls. */
static bool alarm_in_range(const struct cvmm_rtc *r, int64_t first, int64_t last)
{
	uint8_t as = r->cmos[CVMM_RTC_SECONDS_ALARM];
	uint8_t am = r->cmos[CVMM_RTC_MINUTES_ALARM];
	uint8_t ah = r->cmos[CVMM_RTC_HOURS_ALARM];
	struct tm tm;

	to_tm(first, &tm);
	for (int64_t n = first; n <= last; n++) {
		if (alarm_field_matches(as, encode(r, tm.tm_sec)) &&
		    alarm_field_matches(am, encode(r, tm.tm_min)) &&
		    alarm_field_matches(ah, encode_hours(r, tm.tm_hour)))
			return true;
		if (++tm.tm_sec == 60) {
			tm.tm_sec = 0;
			if (++tm.tm_min == 60) {
				tm.tm_min = 0;
				if (++tm.tm_hour == 24)
					tm.tm_hour = 0;
			}
		}
	}
	return false;
}

int cvmm_rtc_poll(struct cvmm_rtc *r)
{
	uint8_t *c = &r->cmos[CVMM_RTC_REG_C];
	uint8_t b = r->cmos[CVMM_RTC_REG_B];
	bool had_irq = *c & CVMM_RTC_C_IRQF;

	if ((b & CVMM_RTC_B_PIE) && (r->cmos[CVMM_RTC_REG_A] & REG_A_RATE_MASK))
		*c |= CVMM_RTC_C_PF;
	if (updating(r)) {
		int64_t now = guest_time(r, NULL);

		if (now > r->last_poll_sec) {
			/* An alarm can match in any second since the last poll;
			 * a day covers every alarm pattern. */
			int64_t first = CVMM_MAX(r->last_poll_sec + 1, now - 86399);

			*c |= CVMM_RTC_C_UF;
			if (alarm_in_range(r, first, now))
				*c |= CVMM_RTC_C_AF;
		}
		r->last_poll_sec = now;
	}
	if (*c & b & (CVMM_RTC_C_PF | CVMM_RTC_C_AF | CVMM_RTC_C_UF))
		*c |= CVMM_RTC_C_IRQF;
	if (!had_irq && (*c & CVMM_RTC_C_IRQF) && r->trigger)
		r->trigger(r->opaque);
	return 0;
}

bool cvmm_rtc_irq_pending(const struct cvmm_rtc *r)
{
	return r->cmos[CVMM_RTC_REG_C] & CVMM_RTC_C_IRQF;
}

int cvmm_rtc_save(const struct cvmm_rtc *r, struct cvmm_rtc_state *st)
{
	memset(st, 0, sizeof(*st));
	st->version = CVMM_RTC_STATE_VERSION;
	st->index = r->index;
	st->nmi_disabled = r->nmi_disabled;
	st->offset_sec = r->offset_sec;
	st->last_poll_sec = r->last_poll_sec;
	memcpy(st->cmos, r->cmos, sizeof(st->cmos));
	return 0;
}

int cvmm_rtc_restore(struct cvmm_rtc *r, const struct cvmm_rtc_state *st)
{
	if (!st || st->version != CVMM_RTC_STATE_VERSION || st->reserved ||
	    st->index >= CVMM_RTC_NUM_REGS || st->nmi_disabled > 1)
		return -EINVAL;
	if (st->offset_sec > MAX_OFFSET_SEC || st->offset_sec < -MAX_OFFSET_SEC ||
	    st->last_poll_sec > 4 * MAX_OFFSET_SEC || st->last_poll_sec < -4 * MAX_OFFSET_SEC)
		return -EINVAL;
	if ((st->cmos[CVMM_RTC_REG_A] & CVMM_RTC_A_UIP) || (st->cmos[CVMM_RTC_REG_C] & 0x0f) ||
	    st->cmos[CVMM_RTC_REG_D] != CVMM_RTC_D_VRT)
		return -EINVAL;
	r->index = st->index;
	r->nmi_disabled = st->nmi_disabled;
	r->offset_sec = st->offset_sec;
	r->last_poll_sec = st->last_poll_sec;
	memcpy(r->cmos, st->cmos, sizeof(r->cmos));
	return 0;
}
