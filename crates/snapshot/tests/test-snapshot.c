/* SPDX-License-Identifier: Apache-2.0 */
/* The state format: round trips, lookups, ids, CRC, error lines, fd streaming. */
#include <cvmm/snapshot.h>
#include <cvmm/sys-util.h>
#include "cvmm-test.h"
#include "snapshot-tests.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void payload(uint8_t *p, size_t len, unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

void snap_test_stream(unsigned int n, uint8_t **buf, size_t *len)
{
	struct cvmm_snap_writer *w;
	const void *p;
	uint8_t data[512];
	char id[CVMM_SNAP_ID_SIZE];

	ck_assert_int_eq(cvmm_snap_writer_create(NULL, &w), 0);
	for (unsigned int i = 0; i < n; i++) {
		ck_assert_int_eq(cvmm_snap_id_fmt(id, "sec/%u", i), 0);
		payload(data, i * 7, i);
		ck_assert_int_eq(cvmm_snap_write(w, id, i + 1, data, i * 7), 0);
	}
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &p, len), 0);
	*buf = malloc(*len);
	memcpy(*buf, p, *len);
	cvmm_snap_writer_destroy(w);
}

START_TEST(crc32c_vectors)
{
	static const uint8_t zeros32[32], ones32[32] = {
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	};
	uint8_t big[1000];
	uint32_t c;

	/* The check value of CRC-32C and two of RFC 3720's (iSCSI) test vectors. */
	ck_assert_uint_eq(cvmm_snap_crc32c(0, "123456789", 9), 0xe3069283);
	ck_assert_uint_eq(cvmm_snap_crc32c(0, zeros32, 32), 0x8a9136aa);
	ck_assert_uint_eq(cvmm_snap_crc32c(0, ones32, 32), 0x62a8ab43);
	ck_assert_uint_eq(cvmm_snap_crc32c(0, NULL, 0), 0);
	/* Chained pieces at every split and misalignment equal one pass. */
	payload(big, sizeof(big), 3);
	c = cvmm_snap_crc32c(0, big, sizeof(big));
	for (size_t start = 0; start < 9; start++)
		for (size_t cut = start; cut < 40; cut++) {
			uint32_t x = cvmm_snap_crc32c(0, big, start);

			x = cvmm_snap_crc32c(x, big + start, cut - start);
			x = cvmm_snap_crc32c(x, big + cut, sizeof(big) - cut);
			ck_assert_uint_eq(x, c);
		}
}
END_TEST

START_TEST(id_fmt_and_check)
{
	char id[CVMM_SNAP_ID_SIZE];
	char long47[48], long48[49];

	ck_assert_int_eq(cvmm_snap_id_fmt(id, "dev/%s/queue/%u", "_disk0", 1u), 0);
	ck_assert_str_eq(id, "dev/_disk0/queue/1");
	memset(long47, 'a', 47);
	long47[47] = '\0';
	memset(long48, 'b', 48);
	long48[48] = '\0';
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "%s", long47), 0);
	ck_assert_uint_eq(strlen(id), 47);
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "%s", long48), -ENAMETOOLONG);
	ck_assert_str_eq(id, "");
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "dev/%s", long47), -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "%s", ""), -EINVAL);
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "a b"), -EINVAL);
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "it's"), -EINVAL);
	ck_assert_int_eq(cvmm_snap_id_fmt(id, "tab\t"), -EINVAL);
	ck_assert_int_eq(cvmm_snap_id_check("irqchip/ioapic"), 0);
	ck_assert_int_eq(cvmm_snap_id_check(long48), -ENAMETOOLONG);
	ck_assert_int_eq(cvmm_snap_id_check("\xff" "CVMMEND"), -EINVAL);
	ck_assert_int_eq(cvmm_snap_id_check(NULL), -EINVAL);
}
END_TEST

START_TEST(error_lines_and_checks)
{
	struct cvmm_snap_error e;
	char line[CVMM_SNAP_ERROR_LINE];
	uint8_t res[8] = { 0 };

	memset(&e, 0x55, sizeof(e));
	ck_assert_int_eq(cvmm_snap_expect_len(&e, "vcpu/1", "lapic", 1020, 1024), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'vcpu/1' field 'lapic': length 1020, expected 1024");
	ck_assert_int_eq(cvmm_snap_expect_len(&e, "pit", NULL, 4, 8), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'pit' field 'length': length 4, expected 8");
	ck_assert_int_eq(cvmm_snap_expect_len(&e, "pit", NULL, 8, 8), 0);

	ck_assert_int_eq(cvmm_snap_check_version(&e, "x", 3, 2), -EPROTONOSUPPORT);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'x' field 'version': version 3 is newer than this cvmm (2)");
	ck_assert_int_eq(cvmm_snap_check_version(&e, "x", 2, 2), 0);

	ck_assert_int_eq(cvmm_snap_check_range(&e, "irqchip/ioapic", "ioregsel", 9, 0, 7), -ERANGE);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'irqchip/ioapic' field 'ioregsel': value 9 out of range [0, 7]");
	ck_assert_int_eq(cvmm_snap_check_range(&e, "a", "b", 7, 0, 7), 0);

	ck_assert_int_eq(cvmm_snap_check_flags(&e, "a", "flags", 0x81, 0x1), -EINVAL);
	ck_assert_str_eq(e.msg, "unknown bits 0x80 in 0x81");
	ck_assert_int_eq(cvmm_snap_check_flags(&e, "a", "flags", 0x1, 0x1), 0);

	ck_assert_int_eq(cvmm_snap_check_zero(&e, "a", "pad", res, sizeof(res)), 0);
	res[3] = 1;
	ck_assert_int_eq(cvmm_snap_check_zero(&e, "a", "pad", res, sizeof(res)), -EINVAL);
	ck_assert_str_eq(e.msg, "byte 3 of 8 reserved bytes is 0x01, expected 0");

	ck_assert_int_eq(cvmm_snap_fail(&e, "serial", "lcr", "value %#x", 0x80u), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state section 'serial' field 'lcr': value 0x80");
	ck_assert_int_eq(cvmm_snap_fail(&e, "serial", NULL, "gone"), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)), "state section 'serial': gone");
	ck_assert_int_eq(cvmm_snap_fail(&e, NULL, "header.magic", "bad"), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)),
			 "state stream field 'header.magic': bad");
	ck_assert_int_eq(cvmm_snap_fail(&e, NULL, NULL, "plain"), -EINVAL);
	ck_assert_str_eq(cvmm_snap_error_format(&e, line, sizeof(line)), "state stream: plain");
	/* NULL error structs are allowed everywhere; the return value stays. */
	ck_assert_int_eq(cvmm_snap_fail(NULL, "a", "b", "c"), -EINVAL);
	ck_assert_int_eq(cvmm_snap_check_version(NULL, "a", 9, 1), -EPROTONOSUPPORT);
	/* Over-long strings are cut, the line stays bounded. */
	char big[400];

	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	cvmm_snap_fail(&e, big, big, "%s", big);
	cvmm_snap_error_format(&e, line, sizeof(line));
	ck_assert_uint_lt(strlen(line), sizeof(line));
	cvmm_snap_error_format(&e, line, 10);
	ck_assert_uint_eq(strlen(line), 9);
}
END_TEST

/* Many sections of every size class, through the memory writer, found again. */
START_TEST(round_trip_memory)
{
	enum { N = 300 };
	struct cvmm_snap_writer *w;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_section s;
	struct cvmm_snap_error e;
	static uint8_t data[5000];
	const void *buf;
	size_t len, pos;
	char id[CVMM_SNAP_ID_SIZE];

	ck_assert_int_eq(cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){ .sz = sizeof(struct cvmm_snap_writer_opts), .fd = -1 }, &w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &buf, &len), -EBUSY);
	for (unsigned int i = 0; i < N; i++) {
		size_t n = (i * 37) % sizeof(data);

		payload(data, n, i);
		if (i % 3 == 0)
			ck_assert_int_eq(cvmm_snap_id_fmt(id, "vcpu/%u", i), 0);
		else
			ck_assert_int_eq(cvmm_snap_id_fmt(id, "dev/_disk%u/queue/%u", i / 3, i % 3), 0);
		if (i % 2) {
			ck_assert_int_eq(cvmm_snap_write(w, id, i, data, n), 0);
		} else {
			/* The same payload in uneven pieces. */
			ck_assert_int_eq(cvmm_snap_write_begin(w, id, i), 0);
			ck_assert_int_eq(cvmm_snap_write(w, "x", 1, data, 1), -EBUSY);
			for (size_t off = 0; off < n; off += 13 + i % 5)
				ck_assert_int_eq(cvmm_snap_write_append(w, data + off,
									CVMM_MIN(n - off, 13 + i % 5)), 0);
			ck_assert_int_eq(cvmm_snap_write_end(w), 0);
		}
		ck_assert_int_eq(cvmm_snap_write(w, id, 1, NULL, 0), -EEXIST);
	}
	ck_assert_int_eq(cvmm_snap_write_end(w), -EBUSY);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), -EBUSY);
	ck_assert_int_eq(cvmm_snap_write(w, "late", 1, NULL, 0), -EBUSY);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &buf, &len), 0);
	ck_assert_uint_eq(len, cvmm_snap_writer_bytes(w));
	ck_assert_uint_eq(len % 8, 0);

	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &r, &e), 0);
	ck_assert_uint_eq(cvmm_snap_reader_count(r), N);
	for (unsigned int i = 0; i < N; i++) {
		size_t n = (i * 37) % sizeof(data);

		ck_assert_int_eq(cvmm_snap_reader_at(r, i, &s), 0);
		ck_assert_uint_eq(s.index, i);
		ck_assert_uint_eq(s.version, i);
		ck_assert_uint_eq(s.len, n);
		ck_assert_uint_eq((uintptr_t)s.data % 8, (uintptr_t)buf % 8);
		payload(data, n, i);
		ck_assert(memcmp(s.data, data, n) == 0);
		ck_assert(!cvmm_snap_reader_claimed(r, i));
	}
	ck_assert_int_eq(cvmm_snap_reader_at(r, N, &s), -ENOENT);
	/* Prefix iteration: every vCPU in stream order, claimed as it goes. */
	pos = 0;
	for (unsigned int i = 0; i < N; i += 3) {
		ck_assert_int_eq(cvmm_snap_reader_next(r, "vcpu/", &pos, &s), 0);
		ck_assert_uint_eq(s.index, i);
		ck_assert(cvmm_snap_reader_claimed(r, i));
	}
	ck_assert_int_eq(cvmm_snap_reader_next(r, "vcpu/", &pos, &s), -ENOENT);
	ck_assert_int_eq(cvmm_snap_reader_unclaimed(r, &e), -EPROTONOSUPPORT);
	ck_assert_str_eq(e.section, "dev/_disk0/queue/1");
	ck_assert(strstr(e.msg, "unknown section") != NULL);
	/* Exact lookups. */
	ck_assert_int_eq(cvmm_snap_reader_find(r, "dev/_disk7/queue/2", &s), 0);
	ck_assert_uint_eq(s.index, 23);
	ck_assert_int_eq(cvmm_snap_reader_find(r, "dev/_disk7/queue/", &s), -ENOENT);
	ck_assert_int_eq(cvmm_snap_reader_find(r, "vcpu/299", &s), -ENOENT);
	ck_assert_int_eq(cvmm_snap_reader_require(r, "irqchip/pic", 1, &s, &e), -ENOENT);
	ck_assert_str_eq(e.section, "irqchip/pic");
	ck_assert_str_eq(e.msg, "missing from the stream");
	ck_assert_int_eq(cvmm_snap_reader_require(r, "dev/_disk9/queue/2", 28, &s, &e), -EPROTONOSUPPORT);
	ck_assert_str_eq(e.field, "version");
	ck_assert_int_eq(cvmm_snap_reader_require(r, "dev/_disk9/queue/2", 29, &s, &e), 0);
	pos = 0;
	while (!cvmm_snap_reader_next(r, "", &pos, &s))
		;
	ck_assert_int_eq(cvmm_snap_reader_unclaimed(r, &e), 0);
	cvmm_snap_reader_destroy(r);
	cvmm_snap_writer_destroy(w);
	cvmm_snap_reader_destroy(NULL);
	cvmm_snap_writer_destroy(NULL);
}
END_TEST

struct pipe_reader {
	int fd;
	uint8_t *buf;
	size_t len, cap;
};

static void *drain(void *arg)
{
	struct pipe_reader *p = arg;
	ssize_t n;

	for (;;) {
		if (p->len == p->cap) {
			p->cap = p->cap ? p->cap * 2 : 4096;
			p->buf = realloc(p->buf, p->cap);
		}
		n = read(p->fd, p->buf + p->len, p->cap - p->len);
		if (n <= 0)
			break;
		p->len += (size_t)n;
	}
	return NULL;
}

/* Streaming through a pipe (never seekable) gives a stream the reader takes whole. */
START_TEST(round_trip_pipe)
{
	enum { N = 40 };
	int fds[2];
	struct pipe_reader pr = { 0 };
	struct cvmm_snap_writer *w;
	struct cvmm_snap_reader *r;
	struct cvmm_snap_section s;
	struct cvmm_snap_error e;
	static uint8_t data[200000];
	const void *b;
	size_t l;
	pthread_t t;
	char id[CVMM_SNAP_ID_SIZE];

	ck_assert_int_eq(pipe(fds), 0);
	pr.fd = fds[0];
	ck_assert_int_eq(pthread_create(&t, NULL, drain, &pr), 0);
	ck_assert_int_eq(cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){ .sz = sizeof(struct cvmm_snap_writer_opts), .fd = fds[1] }, &w), 0);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), -ENODATA);
	for (unsigned int i = 0; i < N; i++) {
		size_t n = (i * 4999) % sizeof(data); /* up to ~200 KB: bigger than the pipe */

		payload(data, n, i);
		ck_assert_int_eq(cvmm_snap_id_fmt(id, "mem/%u", i), 0);
		if (i % 2) {
			ck_assert_int_eq(cvmm_snap_write(w, id, 7, data, n), 0);
		} else {
			ck_assert_int_eq(cvmm_snap_write_begin(w, id, 7), 0);
			ck_assert_int_eq(cvmm_snap_write_append(w, data, n / 2), 0);
			ck_assert_int_eq(cvmm_snap_write_append(w, data + n / 2, n - n / 2), 0);
			ck_assert_int_eq(cvmm_snap_write_end(w), 0);
		}
	}
	ck_assert_int_eq(cvmm_snap_writer_finish(w), 0);
	ck_assert_int_eq(cvmm_snap_writer_buffer(w, &b, &l), -EINVAL);
	close(fds[1]);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	close(fds[0]);
	ck_assert_uint_eq(pr.len, cvmm_snap_writer_bytes(w));
	cvmm_snap_writer_destroy(w);

	ck_assert_int_eq(cvmm_snap_reader_open(pr.buf, pr.len, &r, &e), 0);
	ck_assert_uint_eq(cvmm_snap_reader_count(r), N);
	for (unsigned int i = 0; i < N; i++) {
		size_t n = (i * 4999) % sizeof(data);

		ck_assert_int_eq(cvmm_snap_id_fmt(id, "mem/%u", i), 0);
		ck_assert_int_eq(cvmm_snap_reader_find(r, id, &s), 0);
		ck_assert_uint_eq(s.len, n);
		payload(data, n, i);
		ck_assert(memcmp(s.data, data, n) == 0);
	}
	ck_assert_int_eq(cvmm_snap_reader_unclaimed(r, &e), 0);
	cvmm_snap_reader_destroy(r);
	free(pr.buf);
}
END_TEST

/* A peer that goes away breaks the writer for good, with the write error. */
START_TEST(pipe_peer_gone)
{
	int fds[2];
	struct cvmm_snap_writer *w;
	uint8_t data[64] = { 0 };

	signal(SIGPIPE, SIG_IGN);
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){ .sz = sizeof(struct cvmm_snap_writer_opts), .fd = fds[1] }, &w), 0);
	close(fds[0]);
	ck_assert_int_eq(cvmm_snap_write(w, "a", 1, data, sizeof(data)), -EPIPE);
	ck_assert_int_eq(cvmm_snap_write(w, "b", 1, data, sizeof(data)), -EPIPE);
	ck_assert_int_eq(cvmm_snap_writer_finish(w), -EPIPE);
	cvmm_snap_writer_destroy(w);
	close(fds[1]);
	ck_assert_int_eq(cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){ .sz = 2, .fd = -1 }, &w), -EINVAL);
	ck_assert_int_eq(cvmm_snap_writer_create(&(struct cvmm_snap_writer_opts){ .sz = sizeof(struct cvmm_snap_writer_opts), .fd = -2 }, &w), -EINVAL);
}
END_TEST

/* Several threads claim their own sections of one reader at once. */
struct claimer {
	struct cvmm_snap_reader *r;
	unsigned int first, step, n;
	int bad;
};

static void *claim_some(void *arg)
{
	struct claimer *c = arg;
	struct cvmm_snap_section s;
	char id[CVMM_SNAP_ID_SIZE];

	for (unsigned int i = c->first; i < c->n; i += c->step) {
		cvmm_snap_id_fmt(id, "sec/%u", i);
		if (cvmm_snap_reader_find(c->r, id, &s) || s.index != i)
			c->bad++;
	}
	return NULL;
}

START_TEST(concurrent_lookups)
{
	uint8_t *buf;
	size_t len;
	struct cvmm_snap_reader *r;
	struct claimer c[4];
	pthread_t t[4];

	snap_test_stream(64, &buf, &len);
	ck_assert_int_eq(cvmm_snap_reader_open(buf, len, &r, NULL), 0);
	for (unsigned int i = 0; i < 4; i++) {
		c[i] = (struct claimer){ .r = r, .first = i, .step = 4, .n = 64 };
		ck_assert_int_eq(pthread_create(&t[i], NULL, claim_some, &c[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++) {
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(c[i].bad, 0);
	}
	ck_assert_int_eq(cvmm_snap_reader_unclaimed(r, NULL), 0);
	cvmm_snap_reader_destroy(r);
	free(buf);
}
END_TEST

Suite *snapshot_suite(void)
{
	Suite *s = suite_create("snapshot");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, crc32c_vectors);
	tcase_add_test(tc, id_fmt_and_check);
	tcase_add_test(tc, error_lines_and_checks);
	tcase_add_test(tc, round_trip_memory);
	tcase_add_test(tc, round_trip_pipe);
	tcase_add_test(tc, pipe_peer_gone);
	tcase_add_test(tc, concurrent_lookups);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return cvmm_test_run((Suite *[]){ snapshot_suite(), snapshot_hostile_suite(), NULL });
}
