/* SPDX-License-Identifier: Apache-2.0 */
#include "virtq-drain.h"

__attribute__((noinline)) uint64_t bench_device_drain(struct cvmm_virtq *q)
{
	struct cvmm_virtq_chain c;
	struct cvmm_virtq_desc d;
	uint64_t sum = 0;

	while (cvmm_virtq_pop(q, &c) == 1) {
		uint32_t n = 0;

		while (cvmm_virtq_chain_next(&c, &d) == 1)
			n += d.len;
		cvmm_virtq_push(q, &c, n);
		sum += n;
	}
	if (cvmm_virtq_needs_notification(q))
		sum++;
	return sum;
}
