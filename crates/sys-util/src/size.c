/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Size strings from command lines and config files. Deliberately strict:
 * decimal digits only (no sign, no blanks, no "0x", no fractions), then an
 * optional binary unit K/M/G/T/P/E, then an optional "B" or, after a unit,
 * "iB". strtoull is not used because it accepts "-1" (as 2^64-1), leading
 * blanks and hex, all of which turn typos into huge sizes.
 */
#include <cvmm/sys-util.h>

#include <ctype.h>
#include <errno.h>
#include <string.h>

static int unit_shift(char c)
{
	static const char units[] = "KMGTPE";
	const char *u;

	if (!c)
		return -1;
	u = strchr(units, toupper((unsigned char)c));
	return u ? 10 * (int)(u - units + 1) : -1;
}

int cvmm_parse_size(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	bool range = false;
	int shift = 0;
	const char *p;

	if (!s || !out || !isdigit((unsigned char)*s))
		return -EINVAL;
	for (p = s; isdigit((unsigned char)*p); p++) {
		/* Keep scanning after an overflow so that a malformed tail
		 * still reports -EINVAL rather than -ERANGE. */
		if (cvmm_mul_overflow(v, 10, &v) || cvmm_add_overflow(v, (uint64_t)(*p - '0'), &v))
			range = true;
	}
	if (*p && unit_shift(*p) > 0) {
		shift = unit_shift(*p);
		p++;
		if (*p == 'i' || *p == 'I') {
			p++;
			if (*p != 'b' && *p != 'B')
				return -EINVAL;
		}
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return -EINVAL;
	if (range || (shift && v > (UINT64_MAX >> shift)))
		return -ERANGE;
	*out = v << shift;
	return 0;
}
