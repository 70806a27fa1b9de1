/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: a hostile backend against the frontend side.
 *
 * Input: u64 protocol features the frontend believes negotiated, u16 length
 * L, then L bytes of "replies" and the rest as the backend request channel
 * stream; both are records as in fuzz-vhost-backend (fd spec byte, header,
 * payload). The replies are queued on the frontend's socket (write side
 * shut), every frontend call is made once in a fixed order, then the
 * channel stream is fed to cvmm_vhost_frontend_recv_backend_req() until the
 * channel dies. Whatever comes back, the harness closes what it was given
 * and checks that the process holds no more fds than before.
 */
#include <cvmm/vhost.h>
#include <cvmm/vm-memory.h>
#include <cvmm/sys-util.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define FUZZ_MAX_INPUT (16 << 10)

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static int make_fd(unsigned int kind)
{
	int fd;

	if (kind == 1)
		return cvmm_eventfd_create(0);
	fd = memfd_create("fuzz-fe", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, 4096) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Queue records from @data on @sock. */
static void feed(int sock, const uint8_t *data, size_t size)
{
	size_t pos = 0;

	while (pos + 1 + CVMM_VHOST_HDR_SIZE <= size) {
		uint8_t spec = data[pos++];
		unsigned int nfds = spec & 0x7, kind = (spec >> 4) & 1;
		struct cvmm_vhost_hdr h;
		int fds[8];
		size_t len;

		memcpy(&h, data + pos, sizeof(h));
		len = CVMM_VHOST_HDR_SIZE + CVMM_MIN((size_t)h.size, size - pos - CVMM_VHOST_HDR_SIZE);
		for (unsigned int i = 0; i < nfds; i++) {
			fds[i] = make_fd(kind);
			if (fds[i] < 0)
				nfds = i;
		}
		cvmm_sock_send_fds(sock, data + pos, len, fds, nfds);
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
		pos += len;
	}
}

/* Read what the frontend sent; keep the backend channel's fd if it came. */
static void drain(int sock, int *chan)
{
	struct cvmm_vhost_msg m;

	while (cvmm_vhost_msg_recv(sock, &m) == 0 || m.nfds) {
		if (m.hdr.request == CVMM_VHOST_SET_BACKEND_REQ_FD && m.nfds == 1 && *chan < 0) {
			*chan = m.fds[0];
			m.nfds = 0;
		}
		cvmm_vhost_msg_close_fds(&m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_vhost_frontend *fe;
	struct cvmm_guest_mem *g = NULL;
	struct cvmm_vhost_backend_event ev;
	uint64_t pf, v, sz, off;
	uint16_t len;
	uint8_t cfg[16];
	unsigned int base;
	int sv[2], fds_before, efd, fd, chan = -1;
	uint8_t st;

	if (size < 10 || size > FUZZ_MAX_INPUT)
		return 0;
	memcpy(&pf, data, 8);
	memcpy(&len, data + 8, 2);
	data += 10;
	size -= 10;
	if (len > size)
		len = (uint16_t)size;

	fds_before = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	feed(sv[0], data, len);
	shutdown(sv[0], SHUT_WR);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	if (cvmm_vhost_frontend_create(sv[1], &fe) < 0) {
		close(sv[0]);
		return 0;
	}
	efd = cvmm_eventfd_create(0);
	if (cvmm_guest_mem_create(&g) == 0) {
		struct cvmm_mem_region_opts o = { .sz = sizeof(o), .size = 1 << 16,
						  .backing = CVMM_MEM_MEMFD,
						  .flags = CVMM_MEM_F_SHARED, .fd = -1 };
		cvmm_guest_mem_add_region(g, &o);
	}
	struct cvmm_vhost_mem_region r = { 0, 1 << 16, 0x7f0000000000ull, 0 };
	struct cvmm_vhost_vring_addr_wire a = { 0, 0, 0x7f0000000000ull, 0x7f0000002000ull,
						0x7f0000001000ull, 0 };

	cvmm_vhost_frontend_get_features(fe, &v);
	cvmm_vhost_frontend_get_protocol_features(fe, &v);
	cvmm_vhost_frontend_set_protocol_features(fe, pf);
	cvmm_vhost_frontend_set_owner(fe);
	cvmm_vhost_frontend_set_features(fe, v);
	if (g)
		cvmm_vhost_frontend_set_mem_table(fe, g);
	cvmm_vhost_frontend_get_max_mem_slots(fe, &v);
	cvmm_vhost_frontend_add_mem_reg(fe, &r, efd);
	cvmm_vhost_frontend_rem_mem_reg(fe, &r);
	cvmm_vhost_frontend_set_vring_num(fe, 0, 256);
	cvmm_vhost_frontend_set_vring_addr(fe, &a);
	cvmm_vhost_frontend_set_vring_base(fe, 0, 0);
	cvmm_vhost_frontend_get_vring_base(fe, 0, &base);
	cvmm_vhost_frontend_set_vring_kick(fe, 0, efd);
	cvmm_vhost_frontend_set_vring_call(fe, 0, -1);
	cvmm_vhost_frontend_set_vring_err(fe, 0, efd);
	cvmm_vhost_frontend_set_vring_enable(fe, 0, true);
	cvmm_vhost_frontend_get_queue_num(fe, &v);
	cvmm_vhost_frontend_get_config(fe, 0, cfg, sizeof(cfg));
	cvmm_vhost_frontend_set_config(fe, 0, cfg, sizeof(cfg), 0);
	cvmm_vhost_frontend_set_status(fe, 7);
	cvmm_vhost_frontend_get_status(fe, &st);
	cvmm_vhost_frontend_reset_device(fe);
	cvmm_vhost_frontend_set_log_base(fe, (pf >> CVMM_VHOST_PF_LOG_SHMFD) & 1 ? efd : -1,
					 4096, 0);
	cvmm_vhost_frontend_set_log_fd(fe, efd);
	if (cvmm_vhost_frontend_get_inflight_fd(fe, 1, 64, &fd, &sz, &off) == 0)
		close(fd);
	cvmm_vhost_frontend_set_inflight_fd(fe, efd, 4096, 0, 1, 64);
	if (cvmm_vhost_frontend_postcopy_advise(fe, &fd) == 0)
		close(fd);
	cvmm_vhost_frontend_postcopy_listen(fe);
	cvmm_vhost_frontend_postcopy_end(fe);
	if (cvmm_vhost_frontend_set_device_state_fd(fe, 0, 0, efd, &fd) == 0 && fd >= 0)
		close(fd);
	cvmm_vhost_frontend_check_device_state(fe);
	cvmm_vhost_frontend_open_backend_channel(fe);

	drain(sv[0], &chan);
	if (chan >= 0) {
		feed(chan, data + len, size - len);
		shutdown(chan, SHUT_WR);
		for (int i = 0; i < 4096; i++) {
			int rr = cvmm_vhost_frontend_recv_backend_req(fe, &ev);

			if (rr == -EPIPE || rr == -EPROTO || rr == -ENOTCONN)
				break;
			if (rr == 0 && ev.index >= CVMM_VHOST_MAX_QUEUES)
				abort();
		}
		close(chan);
	}
	cvmm_vhost_frontend_destroy(fe);
	drain(sv[0], &chan);
	close(sv[0]);
	cvmm_close(efd);
	cvmm_guest_mem_destroy(g);
	if (count_fds() != fds_before)
		abort();
	return 0;
}
