/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hostile state stream: open must either refuse it with an error that says
 * something, or index sections that lie inside the input and can be walked,
 * looked up and iterated as restore code does.
 */
#include <cvmm/snapshot.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_snap_reader *r = (void *)1;
	struct cvmm_snap_section s, t;
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];
	size_t pos = 0, n;
	uint32_t sum = 0;
	int ret;

	memset(&e, 0, sizeof(e));
	ret = cvmm_snap_reader_open(data, size, &r, &e);
	if (ret) {
		CHECK(ret < 0 && r == NULL && e.msg[0]);
		cvmm_snap_error_format(&e, line, sizeof(line));
		CHECK(strlen(line) < sizeof(line));
		return 0;
	}
	n = cvmm_snap_reader_count(r);
	CHECK(n >= 1);
	for (size_t i = 0; i < n; i++) {
		CHECK(cvmm_snap_reader_at(r, i, &s) == 0);
		CHECK(cvmm_snap_id_check(s.id) == 0);
		CHECK((const uint8_t *)s.data >= data &&
		      s.len <= size - (size_t)((const uint8_t *)s.data - data));
		/* Restore code reads the payload: touch every byte (ASan checks each). */
		sum += cvmm_snap_crc32c(0, s.data, (size_t)s.len);
		CHECK(cvmm_snap_reader_find(r, s.id, &t) == 0 && t.index == i);
		cvmm_snap_check_version(&e, s.id, s.version, 1);
	}
	CHECK(cvmm_snap_reader_at(r, n, &s) == -ENOENT);
	while (cvmm_snap_reader_next(r, "vcpu/", &pos, &s) == 0)
		CHECK(strncmp(s.id, "vcpu/", 5) == 0);
	CHECK(cvmm_snap_reader_unclaimed(r, &e) == 0);
	cvmm_snap_reader_destroy(r);
	return (int)(sum & 0);
}
