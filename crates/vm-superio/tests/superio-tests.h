/* SPDX-License-Identifier: Apache-2.0 */
#ifndef SUPERIO_TESTS_H
#define SUPERIO_TESTS_H

#include <check.h>
#include <stdint.h>

Suite *serial_suite(void);
Suite *i8042_suite(void);
Suite *rtc_suite(void);

/* Deterministic PRNG (xorshift64*) so failures reproduce. */
static inline uint64_t test_rand(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

/* Fisher-Yates over 0..n-1 into @perm. */
static inline void test_shuffle(unsigned int *perm, unsigned int n, uint64_t *seed)
{
	for (unsigned int i = 0; i < n; i++)
		perm[i] = i;
	for (unsigned int i = n - 1; i > 0; i--) {
		unsigned int j = (unsigned int)(test_rand(seed) % (i + 1));
		unsigned int t = perm[i];

		perm[i] = perm[j];
		perm[j] = t;
	}
}

#endif
