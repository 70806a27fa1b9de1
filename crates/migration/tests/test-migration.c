/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The migration wire protocol: every message round-trips through a socket;
 * hostile messages (pages outside RAM, overflowing lengths and addresses,
 * truncated streams, bad order, an fd where none belongs) are refused with
 * a line naming message and field.
 */
#include <cvmm/migration.h>
#include <cvmm/sys-util.h>
#include "cvmm-test.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct cvmm_mig_range ranges[2] = {
	{ 0, 1 << 20 },
	{ 4ull << 30, 1 << 20 },
};
static const struct cvmm_mig_map map = { ranges, 2 };

static void pair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
}

/* Receive one message into a fresh buffer. */
static int recv1(int fd, struct cvmm_mig_msg *m, void **buf, char *err)
{
	size_t cap = 0;

	*buf = NULL;
	return cvmm_mig_recv(fd, buf, &cap, &map, m, NULL, err, 256);
}

START_TEST(round_trip)
{
	int sv[2];
	static struct cvmm_mig_msg m;
	struct cvmm_mig_rx rx = { 0 };
	uint8_t *page = aligned_alloc(4096, 2 * 4096);
	void *buf;
	char err[256] = "";

	pair(sv);
	memset(page, 0xa5, 2 * 4096);
	ck_assert_int_eq(cvmm_mig_send_start(sv[0], 0, 2, ranges, 2, "{\"x\":1}", 7), 0);
	ck_assert_int_eq(cvmm_mig_send_pass(sv[0], 0, 512), 0);
	ck_assert_int_eq(cvmm_mig_send_pages(sv[0], 0x1000, 2, page), 16 + 16 + 8192);
	ck_assert_int_eq(cvmm_mig_send_pages(sv[0], (4ull << 30) + 0x2000, 3, NULL), 32);
	ck_assert_int_eq(cvmm_mig_send_state(sv[0], "STATE", 5), 0);
	ck_assert_int_eq(cvmm_mig_send_complete(sv[0], 5), 0);

	ck_assert_msg(recv1(sv[1], &m, &buf, err) == 0, "%s", err);
	ck_assert_int_eq(m.type, CVMM_MIG_START);
	ck_assert_int_eq(m.u.start.hdr.ncpus, 2);
	ck_assert_int_eq(m.u.start.hdr.nranges, 2);
	ck_assert_uint_eq(m.u.start.hdr.mem_size, 2 << 20);
	ck_assert_uint_eq(m.u.start.ranges[1].gpa, 4ull << 30);
	ck_assert_int_eq(memcmp(m.u.start.config, "{\"x\":1}", 7), 0);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	free(buf);

	ck_assert_int_eq(recv1(sv[1], &m, &buf, err), 0);
	ck_assert_int_eq(m.type, CVMM_MIG_PASS);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	free(buf);

	ck_assert_int_eq(recv1(sv[1], &m, &buf, err), 0);
	ck_assert_int_eq(m.type, CVMM_MIG_PAGES);
	ck_assert_uint_eq(m.u.pages.hdr.gpa, 0x1000);
	ck_assert_int_eq(m.u.pages.hdr.count, 2);
	ck_assert_int_eq(memcmp(m.u.pages.data, page, 8192), 0);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	free(buf);

	ck_assert_int_eq(recv1(sv[1], &m, &buf, err), 0);
	ck_assert_int_eq(m.u.pages.hdr.flags, CVMM_MIG_PAGES_ZERO);
	ck_assert_ptr_null(m.u.pages.data);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	ck_assert_uint_eq(rx.pages, 5);
	free(buf);

	/* COMPLETE before STATE is out of order. */
	{
		struct cvmm_mig_msg c = { .type = CVMM_MIG_COMPLETE };

		ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &c, err, sizeof(err)), -EPROTO);
		ck_assert_ptr_nonnull(strstr(err, "before the device state"));
	}
	ck_assert_int_eq(recv1(sv[1], &m, &buf, err), 0);
	ck_assert_int_eq(m.type, CVMM_MIG_STATE);
	ck_assert_uint_eq(m.u.state.len, 5);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	free(buf);
	ck_assert_int_eq(recv1(sv[1], &m, &buf, err), 0);
	ck_assert_int_eq(m.type, CVMM_MIG_COMPLETE);
	ck_assert_uint_eq(m.u.complete_pages, 5);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	free(buf);
	/* Nothing after COMPLETE. */
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);

	/* The other way: the destination's verdict. */
	ck_assert_int_eq(cvmm_mig_send_result(sv[1], -EIO, "restore failed\n"), 0);
	ck_assert_int_eq(recv1(sv[0], &m, &buf, err), 0);
	ck_assert_int_eq(m.u.text.error, -EIO);
	ck_assert_str_eq(m.u.text.reason, "restore failed?");
	free(buf);
	/* A clean close before a header. */
	close(sv[1]);
	ck_assert_int_eq(recv1(sv[0], &m, &buf, err), -ECONNRESET);
	free(buf);
	close(sv[0]);
	free(page);
}
END_TEST

/* Send raw bytes, expect a refusal with @ret whose line contains @what. */
static void refused(const void *raw, size_t len, int ret, const char *what)
{
	int sv[2];
	static struct cvmm_mig_msg m;
	void *buf;
	char err[256] = "";
	int r;

	pair(sv);
	ck_assert_int_eq(cvmm_write_full(sv[0], raw, len), 0);
	close(sv[0]);
	r = recv1(sv[1], &m, &buf, err);
	ck_assert_msg(r == ret, "got %d (%s), expected %d", r, err, ret);
	ck_assert_msg(strstr(err, what), "'%s' lacks '%s'", err, what);
	ck_assert_ptr_null(strchr(err, '\n'));
	free(buf);
	close(sv[1]);
}

static size_t pages_msg(uint8_t *b, uint64_t len, uint64_t gpa, uint32_t count, uint32_t flags)
{
	cvmm_mig_encode_header(b, CVMM_MIG_PAGES, len);
	memcpy(b + 16, &gpa, 8);
	memcpy(b + 24, &count, 4);
	memcpy(b + 28, &flags, 4);
	return 32;
}

START_TEST(hostile)
{
	static uint8_t b[64 + 8192];
	size_t n;

	/* Unknown type, reserved bits, a length no type allows. */
	cvmm_mig_encode_header(b, 77, 0);
	refused(b, 16, -EPROTO, "unknown message type 77");
	cvmm_mig_encode_header(b, CVMM_MIG_PASS, 16);
	b[5] = 1;
	refused(b, 32, -EPROTO, "field 'reserved'");
	cvmm_mig_encode_header(b, CVMM_MIG_PAGES, UINT64_MAX);
	refused(b, 16, -EMSGSIZE, "'PAGES' field 'length': 18446744073709551615 exceeds");
	cvmm_mig_encode_header(b, CVMM_MIG_STATE, 1ull << 40);
	refused(b, 16, -EMSGSIZE, "'STATE' field 'length'");
	/* Pages outside RAM, straddling its end, in the hole, wrapping. */
	n = pages_msg(b, 16, 1 << 20, 1, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -ERANGE, "is not inside guest RAM");
	n = pages_msg(b, 16, (1 << 20) - 4096, 2, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -ERANGE, "is not inside guest RAM");
	n = pages_msg(b, 16, UINT64_MAX - 4095, 2, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -ERANGE, "wraps");
	n = pages_msg(b, 16, 0x123, 1, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -EPROTO, "not page-aligned");
	n = pages_msg(b, 16, 0, 0, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -EPROTO, "field 'count'");
	n = pages_msg(b, 16, 0, 0xffffffff, CVMM_MIG_PAGES_ZERO);
	refused(b, n, -EPROTO, "field 'count'");
	n = pages_msg(b, 16, 0, 1, 0x80);
	refused(b, n, -EPROTO, "field 'flags'");
	/* Data promised but the length says otherwise. */
	n = pages_msg(b, 16 + 4096, 0, 2, 0);
	refused(b, n + 4096, -EPROTO, "8208 expected");
	/* A zero run that carries data anyway. */
	n = pages_msg(b, 16 + 4096, 0, 1, CVMM_MIG_PAGES_ZERO);
	refused(b, n + 4096, -EPROTO, "16 expected");
	/* Truncated: inside the header, inside the payload. */
	n = pages_msg(b, 16 + 4096, 0, 1, 0);
	refused(b, 7, -EPIPE, "truncated inside a message header");
	refused(b, n + 100, -EPIPE, "truncated inside the payload");
	/* START: bad magic, newer version, overflowing range sizes, overlap. */
	{
		uint8_t s[16 + 56 + 32];
		uint32_t v;
		uint64_t q;

		memset(s, 0, sizeof(s));
		cvmm_mig_encode_header(s, CVMM_MIG_START, 56 + 32);
		memcpy(s + 16, "CVMMMIGX", 8);
		refused(s, sizeof(s), -EPROTO, "field 'magic'");
		memcpy(s + 16, CVMM_MIG_MAGIC, 8);
		v = 9;
		memcpy(s + 24, &v, 4);
		refused(s, sizeof(s), -EPROTONOSUPPORT, "field 'version'");
		v = 1;
		memcpy(s + 24, &v, 4);
		memcpy(s + 32, &v, 4);          /* ncpus */
		v = 2;
		memcpy(s + 36, &v, 4);          /* nranges */
		q = UINT64_MAX - 4095;
		memcpy(s + 72 + 8, &q, 8);      /* range 0 size huge */
		memcpy(s + 72 + 24, &q, 8);     /* range 1 size huge */
		q = 8192;
		memcpy(s + 72 + 16, &q, 8);     /* range 1 gpa inside range 0 */
		refused(s, sizeof(s), -EPROTO, "field 'ranges'");
		q = 1ull << 40;
		memcpy(s + 48, &q, 8);          /* config_len too large */
		refused(s, sizeof(s), -EPROTO, "field 'config_len'");
	}
}
END_TEST

START_TEST(memfd_passing)
{
	int sv[2], fd = memfd_create("ram", MFD_CLOEXEC), got;
	static struct cvmm_mig_msg m;
	void *buf = NULL;
	size_t cap = 0;
	char err[256];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 1 << 20), 0);
	pair(sv);
	ck_assert_int_eq(cvmm_mig_send_memfd(sv[0], fd, 0, 1 << 20, 0), 0);
	ck_assert_msg(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_int_eq(m.type, CVMM_MIG_MEMFD);
	ck_assert_int_ge(got, 0);
	ck_assert_int_eq(lseek(got, 0, SEEK_END), 1 << 20);
	close(got);
	/* A MEMFD naming half a range is refused and its fd closed. */
	ck_assert_int_eq(cvmm_mig_send_memfd(sv[0], fd, 0, 1 << 19, 0), 0);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)),
			 -ERANGE);
	ck_assert_int_eq(got, -1);
	ck_assert_ptr_nonnull(strstr(err, "not one range"));
	free(buf);
	close(fd);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* A local migration's device fds: DEVFD carries one (the fd comes
 * through), only right after a local START, exactly as many as it
 * announced; a hostile DEVFD (unknown kind, an index out of range, an id
 * not NUL-terminated) is refused with its fd closed. */
START_TEST(devfd_passing)
{
	struct cvmm_mig_range r = { 0, 1 << 20 };
	int sv[2], p[2], got;
	static struct cvmm_mig_msg m;
	struct cvmm_mig_rx rx;
	void *buf = NULL;
	size_t cap = 0;
	char err[256];

	pair(sv);
	ck_assert_int_eq(pipe(p), 0);
	/* START announces two; DEVFD round-trips with its fd */
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], CVMM_MIG_F_LOCAL, 1, 2, &r, 1, "{}", 2),
			 0);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], CVMM_MIG_DEVFD_TAP, 0, "net0"), 0);
	ck_assert_int_eq(cvmm_mig_send_memfd(sv[0], p[1], 0, 1 << 20, 0), 0);
	memset(&rx, 0, sizeof(rx));
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)), 0);
	ck_assert_int_eq(m.u.start.hdr.devfds, 2);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)), 0);
	ck_assert_int_eq(m.type, CVMM_MIG_DEVFD);
	ck_assert_int_eq(m.u.devfd.kind, CVMM_MIG_DEVFD_TAP);
	ck_assert_str_eq(m.u.devfd.id, "net0");
	ck_assert_int_ge(got, 0);
	close(got);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	/* fewer than announced: the next message is refused */
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)), 0);
	close(got);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "only 1 of the 2 device fds"), "%s", err);

	/* one more than announced; one after another message */
	memset(&rx, 0, sizeof(rx));
	rx.started = true;
	rx.flags = CVMM_MIG_F_LOCAL;
	rx.devfds_max = 1;
	m.type = CVMM_MIG_DEVFD;
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "one more than the 1 START announced"), "%s", err);
	m.type = CVMM_MIG_MEMFD;
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	m.type = CVMM_MIG_DEVFD;
	rx.devfds_max = 5;
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "not right after START"), "%s", err);
	/* DEVFD in a migration that is not local */
	memset(&rx, 0, sizeof(rx));
	rx.started = true;
	rx.devfds_max = 1;
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_msg(strstr(err, "not local"), "%s", err);

	/* the encoder refuses what the decoder would */
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], 0, 1, 1, &r, 1, "{}", 2), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_start_devfds(sv[0], CVMM_MIG_F_LOCAL, 1,
						    CVMM_MIG_MAX_DEVFDS + 1, &r, 1, "{}", 2), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], 3, 0, "net0"), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], CVMM_MIG_DEVFD_VSOCK, 1, "v"), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], p[0], CVMM_MIG_DEVFD_TAP, 0, ""), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_devfd(sv[0], -1, CVMM_MIG_DEVFD_TAP, 0, "n"), -EINVAL);

	/* hostile DEVFDs by hand: the fd that came with one is closed */
	{
		uint8_t msg[CVMM_MIG_HDR_SIZE + sizeof(struct cvmm_mig_devfd)];
		struct {
			uint32_t kind, index;
			const char *id;
			const char *why;
		} bad[] = {
			{ 7, 0, "net0", "field 'kind'" },
			{ CVMM_MIG_DEVFD_TAP, 16, "net0", "field 'index'" },
			{ CVMM_MIG_DEVFD_TAP, 0, "", "field 'id'" },
			{ CVMM_MIG_DEVFD_TAP, 0, "net\x01", "not printable" },
		};

		for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(msg, 0, sizeof(msg));
			cvmm_mig_encode_header(msg, CVMM_MIG_DEVFD, sizeof(struct cvmm_mig_devfd));
			memcpy(msg + 16, &bad[i].kind, 4);
			memcpy(msg + 20, &bad[i].index, 4);
			memcpy(msg + 24, bad[i].id, strlen(bad[i].id));
			ck_assert_int_eq(cvmm_sock_send_fds(sv[0], msg, sizeof(msg), &p[0], 1),
					 (ssize_t)sizeof(msg));
			ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err,
						       sizeof(err)), -EPROTO);
			ck_assert_int_eq(got, -1);
			ck_assert_msg(strstr(err, bad[i].why), "%u: %s", i, err);
		}
		/* an id that fills its field, no NUL */
		memset(msg, 0, sizeof(msg));
		cvmm_mig_encode_header(msg, CVMM_MIG_DEVFD, sizeof(struct cvmm_mig_devfd));
		msg[16] = CVMM_MIG_DEVFD_TAP;
		memset(msg + 24, 'a', CVMM_MIG_DEVFD_ID_MAX);
		ck_assert_int_eq(cvmm_write_full(sv[0], msg, sizeof(msg)), 0);
		ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, &got, err, sizeof(err)),
				 -EPROTO);
		ck_assert_msg(strstr(err, "not NUL-terminated"), "%s", err);
	}
	{
		/* START with devfds but no LOCAL, crafted */
		uint8_t s[16 + 56 + 16] = { 0 };
		uint32_t v;
		uint64_t q = 4096;

		cvmm_mig_encode_header(s, CVMM_MIG_START, 56 + 16);
		memcpy(s + 16, CVMM_MIG_MAGIC, 8);
		v = 1;
		memcpy(s + 24, &v, 4);          /* version */
		memcpy(s + 32, &v, 4);          /* ncpus */
		memcpy(s + 36, &v, 4);          /* nranges */
		memcpy(s + 40, &q, 8);          /* mem_size */
		memcpy(s + 72 + 8, &q, 8);      /* range 0: [0, 4096) */
		memcpy(s + 60, &v, 4);          /* devfds */
		ck_assert_int_eq(cvmm_write_full(sv[0], s, sizeof(s)), 0);
		ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, NULL, err, sizeof(err)),
				 -EPROTO);
		ck_assert_msg(strstr(err, "field 'devfds'"), "%s", err);
		v = CVMM_MIG_MAX_DEVFDS + 1;
		memcpy(s + 60, &v, 4);
		v = CVMM_MIG_F_LOCAL;
		memcpy(s + 28, &v, 4);
		ck_assert_int_eq(cvmm_write_full(sv[0], s, sizeof(s)), 0);
		ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, NULL, err, sizeof(err)),
				 -EPROTO);
		ck_assert_msg(strstr(err, "exceeds"), "%s", err);
	}
	free(buf);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

/* Pre-copy that switches to post-copy: SWITCH only when START allowed it,
 * once, before STATE; DISCARD only between SWITCH and STATE; pages may
 * follow STATE once switched. START's connections within the ceiling. */
START_TEST(switch_order)
{
	struct cvmm_mig_range r = { 0, 1 << 20 };
	static struct cvmm_mig_msg m;
	struct cvmm_mig_rx rx = { 0 };
	void *buf = NULL;
	size_t cap = 0;
	char err[256];
	int sv[2];

	pair(sv);
	ck_assert_int_eq(cvmm_mig_send_start_conns(sv[0], CVMM_MIG_F_SWITCH, 1, 3, &r, 1, NULL, 0), 0);
	ck_assert_int_eq(cvmm_mig_send_start_conns(sv[0], 0, 1, 16, &r, 1, NULL, 0), -EINVAL);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, NULL, &m, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(m.u.start.hdr.connections, 3);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	/* DISCARD before SWITCH. */
	ck_assert_int_eq(cvmm_mig_send_discard(sv[0], 4096, 2), 0);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(m.u.pages.hdr.count, 2);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "outside a switch"));
	ck_assert_int_eq(cvmm_mig_send_switch(sv[0], 2), 0);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, &map, &m, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(m.u.switch_pages, 2);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), 0);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO); /* twice */
	/* A SWITCH the START did not allow. */
	{
		struct cvmm_mig_rx plain = { .started = true };

		ck_assert_int_eq(cvmm_mig_rx_accept(&plain, &m, err, sizeof(err)), -EPROTO);
		ck_assert_ptr_nonnull(strstr(err, "did not allow"));
	}
	/* ACCEPT is the destination's, never on the source's stream. */
	ck_assert_int_eq(cvmm_mig_send_accept(sv[0], CVMM_MIG_F_SWITCH), 0);
	ck_assert_int_eq(cvmm_mig_recv(sv[1], &buf, &cap, NULL, &m, NULL, err, sizeof(err)), 0);
	ck_assert_int_eq(m.u.accept.flags, CVMM_MIG_F_SWITCH);
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	/* A DISCARD outside RAM, and one with flags. */
	{
		uint8_t b[32];
		uint64_t gpa = 1 << 20;
		uint32_t count = 1, flags = 0;

		cvmm_mig_encode_header(b, CVMM_MIG_DISCARD, 16);
		memcpy(b + 16, &gpa, 8), memcpy(b + 24, &count, 4), memcpy(b + 28, &flags, 4);
		refused(b, sizeof(b), -ERANGE, "'DISCARD' field 'gpa'");
		gpa = 0, flags = CVMM_MIG_PAGES_ZERO;
		memcpy(b + 16, &gpa, 8), memcpy(b + 28, &flags, 4);
		refused(b, sizeof(b), -EPROTO, "'DISCARD' field 'flags'");
	}
	free(buf);
	close(sv[0]);
	close(sv[1]);
}
END_TEST

START_TEST(zero_check)
{
	static uint8_t p[4096 + 3];

	ck_assert(cvmm_mig_is_zero(p, sizeof(p)));
	p[4096 + 2] = 1;
	ck_assert(!cvmm_mig_is_zero(p, sizeof(p)));
	ck_assert(cvmm_mig_is_zero(p, 4096));
	p[100] = 1;
	ck_assert(!cvmm_mig_is_zero(p, 4096));
	ck_assert_str_eq(cvmm_mig_type_name(CVMM_MIG_PAGE_REQUEST), "PAGE_REQUEST");
	ck_assert_str_eq(cvmm_mig_type_name(0), "unknown");
}
END_TEST

/* Post-copy recovery: START(RESUME), the destination's RECEIVED bitmaps. */
START_TEST(resume_messages)
{
	static struct cvmm_mig_msg m;
	struct cvmm_mig_rx rx = { .started = true, .state_seen = true };
	uint8_t bits[32] = { 0x05, 0x80 }, b[16 + 16 + 32];
	void *buf;
	char err[256] = "";
	int sv[2];

	pair(sv);
	ck_assert_int_eq(cvmm_mig_send_start(sv[0], CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_RESUME, 2,
					     ranges, 2, NULL, 0), 0);
	ck_assert_int_eq(cvmm_mig_send_received(sv[0], 0x2000, 16, bits), 0);
	ck_assert_int_eq(cvmm_mig_send_received(sv[0], 0x2000, 0, bits), -EINVAL);
	ck_assert_int_eq(cvmm_mig_send_received(sv[0], 0x2001, 1, bits), -EINVAL);
	ck_assert_msg(recv1(sv[1], &m, &buf, err) == 0, "%s", err);
	ck_assert_uint_eq(m.u.start.hdr.flags, CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_RESUME);
	free(buf);
	ck_assert_msg(recv1(sv[1], &m, &buf, err) == 0, "%s", err);
	ck_assert_int_eq(m.type, CVMM_MIG_RECEIVED);
	ck_assert_uint_eq(m.u.received.hdr.gpa, 0x2000);
	ck_assert_uint_eq(m.u.received.hdr.count, 16);
	ck_assert_uint_eq(m.u.received.bits[0], 0x05);
	ck_assert_uint_eq(m.u.received.bits[1], 0x80);
	ck_assert_str_eq(cvmm_mig_type_name(CVMM_MIG_RECEIVED), "RECEIVED");
	/* Never on the source's stream. */
	ck_assert_int_eq(cvmm_mig_rx_accept(&rx, &m, err, sizeof(err)), -EPROTO);
	ck_assert_ptr_nonnull(strstr(err, "not valid on the source's stream"));
	free(buf);
	close(sv[0]);
	close(sv[1]);

	/* Hostile bitmaps: outside RAM, straddling a range's end, no pages,
	 * a bitmap longer or shorter than its count, reserved bits. */
	memset(b, 0, sizeof(b));
	cvmm_mig_encode_header(b, CVMM_MIG_RECEIVED, 16 + 1);
	{
		uint64_t gpa = 1 << 20;
		uint32_t count = 1;

		memcpy(b + 16, &gpa, 8);
		memcpy(b + 24, &count, 4);
		refused(b, 16 + 17, -ERANGE, "not inside guest RAM");
		gpa = (1 << 20) - 4096;
		count = 2;
		memcpy(b + 16, &gpa, 8);
		memcpy(b + 24, &count, 4);
		refused(b, 16 + 17, -ERANGE, "not inside guest RAM");
		gpa = 0;
		count = 0;
		memcpy(b + 16, &gpa, 8);
		memcpy(b + 24, &count, 4);
		refused(b, 16 + 17, -EPROTO, "field 'count'");
		count = 9; /* two bytes of bitmap, one came */
		memcpy(b + 24, &count, 4);
		refused(b, 16 + 17, -EPROTO, "expected for a bitmap of 9 pages");
		count = 1;
		memcpy(b + 24, &count, 4);
		b[28] = 1;
		refused(b, 16 + 17, -EPROTO, "field 'reserved'");
		cvmm_mig_encode_header(b, CVMM_MIG_RECEIVED, 1ull << 30);
		refused(b, 16, -EMSGSIZE, "'RECEIVED' field 'length'");
	}
	/* A resume is post-copy on one connection. */
	{
		uint8_t s[16 + 56 + 16];
		uint32_t v;
		uint64_t q;

		memset(s, 0, sizeof(s));
		cvmm_mig_encode_header(s, CVMM_MIG_START, 56 + 16);
		memcpy(s + 16, CVMM_MIG_MAGIC, 8);
		v = 1;
		memcpy(s + 24, &v, 4);          /* version */
		memcpy(s + 32, &v, 4);          /* ncpus */
		memcpy(s + 36, &v, 4);          /* nranges */
		q = 4096;
		memcpy(s + 40, &q, 8);          /* mem_size */
		memcpy(s + 72 + 8, &q, 8);      /* range 0: [0, 4096) */
		v = CVMM_MIG_F_RESUME;
		memcpy(s + 28, &v, 4);
		refused(s, sizeof(s), -EPROTO, "field 'flags'");
		v = CVMM_MIG_F_RESUME | CVMM_MIG_F_POSTCOPY;
		memcpy(s + 28, &v, 4);
		v = 1;
		memcpy(s + 56, &v, 4);          /* connections */
		refused(s, sizeof(s), -EPROTO, "post-copy on one connection only");
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("migration");
	TCase *tc = tcase_create("wire");

	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, hostile);
	tcase_add_test(tc, memfd_passing);
	tcase_add_test(tc, devfd_passing);
	tcase_add_test(tc, switch_order);
	tcase_add_test(tc, zero_check);
	tcase_add_test(tc, resume_messages);
	suite_add_tcase(s, tc);
	return cvmm_test_run((Suite *[]){ s, NULL });
}
