/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile migration stream: the decoder walks it message by message, as a
 * receiver does, against a fixed memory map. Every refusal must say
 * something in one line; every accepted page run must lie inside the map.
 */
#include <cvmm/migration.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct cvmm_mig_range ranges[2] = {
	{ 0, 64 << 20 },
	{ 4ull << 30, 1 << 20 },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cvmm_mig_map map = { ranges, 2 };
	static struct cvmm_mig_msg m;
	struct cvmm_mig_rx rx = { 0 };
	size_t pos = 0;
	char err[256];

	while (size - pos >= CVMM_MIG_HDR_SIZE) {
		struct cvmm_mig_hdr h;

		err[0] = 0;
		if (cvmm_mig_decode_header(data + pos, &h, err, sizeof(err))) {
			CHECK(err[0] && !strchr(err, '\n'));
			return 0;
		}
		pos += CVMM_MIG_HDR_SIZE;
		if (h.len > size - pos)
			return 0; /* truncated: the fd reader reports it */
		if (cvmm_mig_decode(&h, data + pos, &map, &m, err, sizeof(err)) ||
		    cvmm_mig_rx_accept(&rx, &m, err, sizeof(err))) {
			CHECK(err[0] && !strchr(err, '\n'));
			return 0;
		}
		if (m.type == CVMM_MIG_PAGES) {
			uint64_t end = m.u.pages.hdr.gpa + (uint64_t)m.u.pages.hdr.count * 4096;

			CHECK(end > m.u.pages.hdr.gpa);
			CHECK(end <= (64 << 20) ||
			      (m.u.pages.hdr.gpa >= (4ull << 30) && end <= (4ull << 30) + (1 << 20)));
			if (m.u.pages.data)
				CHECK((const uint8_t *)m.u.pages.data + m.u.pages.hdr.count * 4096ull <=
				      data + pos + h.len);
		}
		pos += h.len;
	}
	return 0;
}
