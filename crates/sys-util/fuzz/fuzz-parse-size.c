/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm_parse_size on arbitrary strings, checked against a slow oracle built
 * differently: long-hand multiplication in 128-bit arithmetic over a string
 * whose shape is checked character class by character class.
 */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int oracle(const char *s, uint64_t *out)
{
	static const char units[] = "kmgtpe";
	unsigned __int128 v = 0;
	bool big = false;
	size_t i = 0, shift = 0;
	const char *u;

	while (s[i] >= '0' && s[i] <= '9') {
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > UINT64_MAX) {
			big = true;
			v = (unsigned __int128)UINT64_MAX + 1;	/* stays "too big" */
		}
		i++;
	}
	if (!i)
		return -EINVAL;
	if (s[i] && (u = strchr(units, s[i] | 0x20))) {
		shift = 10 * (size_t)(u - units + 1);
		i++;
		if ((s[i] | 0x20) == 'i') {
			i++;
			if ((s[i] | 0x20) != 'b')
				return -EINVAL;
		}
	}
	if ((s[i] | 0x20) == 'b' && s[i])
		i++;
	if (s[i])
		return -EINVAL;
	if (big || (v << shift) > UINT64_MAX)
		return -ERANGE;
	*out = (uint64_t)(v << shift);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	uint64_t a = 1, b = 2;
	int ra, rb;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	ra = cvmm_parse_size(s, &a);
	rb = oracle(s, &b);
	if (ra != rb || (ra == 0 && a != b))
		abort();
	free(s);
	return 0;
}
