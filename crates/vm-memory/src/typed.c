/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Typed little-endian access. A naturally aligned value never straddles a
 * page, hence never a region, so it is one relaxed atomic load or store:
 * the guest sees it whole, as it would a device register write. Unaligned
 * values fall back to the bytewise, region-crossing path.
 */
#include "gm-internal.h"

#include <endian.h>
#include <errno.h>

#define le8toh(x) (x)
#define htole8(x) (x)

#define CVMM_GM_TYPED(bits)                                                        \
int cvmm_guest_mem_read_u##bits(const struct cvmm_guest_mem *m, uint64_t gpa,      \
				uint##bits##_t *v)                                 \
{                                                                                  \
	const struct cvmm_gm_slot *s;                                              \
	uint##bits##_t x;                                                          \
	int r;                                                                     \
                                                                                   \
	if (CVMM_UNLIKELY(!m || !v))                                               \
		return -EINVAL;                                                    \
	if (CVMM_LIKELY(CVMM_IS_ALIGNED(gpa, sizeof(x)))) {                        \
		s = cvmm_gm_lookup(m, gpa);                                        \
		if (CVMM_UNLIKELY(!s))                                             \
			return -EFAULT;                                            \
		x = __atomic_load_n((const uint##bits##_t *)(s->host + (gpa - s->gpa)), \
				    __ATOMIC_RELAXED);                             \
	} else {                                                                   \
		r = cvmm_guest_mem_read(m, gpa, &x, sizeof(x));                    \
		if (r)                                                             \
			return r == -EINVAL ? -EFAULT : r;                         \
	}                                                                          \
	*v = le##bits##toh(x);                                                     \
	return 0;                                                                  \
}                                                                                  \
                                                                                   \
int cvmm_guest_mem_write_u##bits(struct cvmm_guest_mem *m, uint64_t gpa,           \
				 uint##bits##_t v)                                 \
{                                                                                  \
	const struct cvmm_gm_slot *s;                                              \
	uint##bits##_t x = htole##bits(v);                                         \
	int r;                                                                     \
                                                                                   \
	if (CVMM_UNLIKELY(!m))                                                     \
		return -EINVAL;                                                    \
	if (CVMM_LIKELY(CVMM_IS_ALIGNED(gpa, sizeof(x)))) {                        \
		s = cvmm_gm_lookup(m, gpa);                                        \
		if (CVMM_UNLIKELY(!s || (s->flags & CVMM_MEM_F_READONLY)))         \
			return -EFAULT;                                            \
		__atomic_store_n((uint##bits##_t *)(s->host + (gpa - s->gpa)), x,  \
				 __ATOMIC_RELAXED);                                \
		cvmm_gm_note_write(s, gpa, sizeof(x));                             \
		return 0;                                                          \
	}                                                                          \
	r = cvmm_guest_mem_write(m, gpa, &x, sizeof(x));                           \
	return r == -EINVAL ? -EFAULT : r;                                         \
}

CVMM_GM_TYPED(8)
CVMM_GM_TYPED(16)
CVMM_GM_TYPED(32)
CVMM_GM_TYPED(64)
