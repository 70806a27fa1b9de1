/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: whole vhost-user message streams against the backend side.
 *
 * Input: a sequence of records, each
 *   1 byte  fd spec: bits 0-3 number of fds (0..15), bits 4-5 their kind
 *           (0: 64 KiB memfd, 1: eventfd, 2: 1 MiB memfd, 3: 4 KiB memfd)
 *   12 bytes header {request, flags, size}
 *   min(size, what is left) payload bytes
 * The records are written to one end of a socketpair (fds as SCM_RIGHTS on
 * the header), the write side is shut, and the backend processes messages
 * until it declares the connection dead. A stub device accepts everything,
 * maps real memory tables through cvmm_vhost_mem_map() and closes the fds it
 * is given; the harness counts its fds around every run, so leaks, wild
 * mappings and crashes all show.
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

#define FUZZ_MAX_INPUT (32 << 10)
#define MAX_FDS_TOTAL 128
#define NQ 4

struct stub {
	struct cvmm_guest_mem *gmem;
	uint64_t features;
	uint8_t config[CVMM_VHOST_MAX_CONFIG_SIZE];
	uint8_t status;
};

static int s_get_features(void *o, uint64_t *f)
{
	(void)o;
	/* bit 34: RING_PACKED, so packed vring bases and sizes are reachable;
	 * bit 33: ACCESS_PLATFORM, so IOVA rings and IOTLB messages are */
	*f = CVMM_VHOST_F_PROTOCOL_FEATURES | (1ull << 32) | (1ull << 33) | (1ull << 34) | 0xff;
	return 0;
}
static int s_set_u64(void *o, uint64_t f)
{
	(void)o;
	(void)f;
	return 0;
}
static int s_get_pf(void *o, uint64_t *f)
{
	(void)o;
	*f = CVMM_VHOST_PF_SUPPORTED;
	return 0;
}
static int s_none(void *o)
{
	(void)o;
	return 0;
}
static int s_set_features(void *o, uint64_t f)
{
	((struct stub *)o)->features = f;
	return 0;
}
/* What reaches the device was checked: UPDATE or INVALIDATE, a range that
 * does not wrap, an UPDATE's permissions and guest memory it maps. */
static int s_iotlb(void *o, const struct cvmm_vhost_iotlb_msg *m, uint64_t gpa)
{
	struct stub *s = o;

	if (!(s->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM) || m->size == 0 ||
	    m->iova + (m->size - 1) < m->iova)
		abort();
	if (m->type == CVMM_VHOST_IOTLB_INVALIDATE)
		return 0;
	if (m->type != CVMM_VHOST_IOTLB_UPDATE || m->perm == 0 ||
	    (m->perm & ~CVMM_VHOST_ACCESS_RW) || !s->gmem ||
	    !cvmm_guest_mem_range_valid(s->gmem, gpa, m->size))
		abort();
	return 0;
}
static int s_set_mem_table(void *o, const struct cvmm_vhost_mem_region *r, const int *fds,
			   unsigned int n)
{
	struct stub *s = o;
	struct cvmm_guest_mem *m = NULL;
	int ret;

	if (n) {
		ret = cvmm_vhost_mem_map(r, fds, n, &m);
		if (ret < 0)
			return ret;
		/* Touch every region through the checked path. */
		for (unsigned int i = 0; i < n; i++) {
			uint64_t v = 0;

			if (cvmm_guest_mem_read_u64(m, r[i].guest_phys_addr, &v) < 0 ||
			    cvmm_guest_mem_write_u64(m, r[i].guest_phys_addr + r[i].memory_size - 8,
						     v + 1) < 0)
				abort(); /* a checked table must be fully mapped */
		}
	}
	cvmm_guest_mem_destroy(s->gmem);
	s->gmem = m;
	return 0;
}
static int s_idx_num(void *o, unsigned int i, unsigned int n)
{
	(void)o;
	if (i >= NQ)
		abort(); /* the library promised an index below num_queues */
	(void)n;
	return 0;
}
static int s_vring_addr(void *o, const struct cvmm_vhost_vring_addr *a)
{
	struct stub *s = o;

	if (a->index >= NQ)
		abort();
	/* Translated ring addresses must be guest RAM of the mapped table
	 * (when the device maps it, which this stub always does); behind an
	 * IOMMU they are IOVAs, whatever the guest chose. */
	if (s->gmem && !(s->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM) && (!cvmm_guest_mem_range_valid(s->gmem, a->desc_gpa, 16) ||
			!cvmm_guest_mem_range_valid(s->gmem, a->avail_gpa, 6) ||
			!cvmm_guest_mem_range_valid(s->gmem, a->used_gpa, 6)))
		abort();
	return 0;
}
static int s_get_base(void *o, unsigned int i, unsigned int *b)
{
	(void)o;
	if (i >= NQ)
		abort();
	*b = i;
	return 0;
}
static int s_vring_fd(void *o, unsigned int i, int fd)
{
	(void)o;
	if (i >= NQ)
		abort();
	cvmm_close(fd);
	return 0;
}
static int s_enable(void *o, unsigned int i, bool e)
{
	(void)o;
	(void)e;
	if (i >= NQ)
		abort();
	return 0;
}
static int s_get_config(void *o, uint32_t off, void *buf, uint32_t len)
{
	struct stub *s = o;

	memcpy(buf, s->config + off, len);
	return 0;
}
static int s_set_config(void *o, uint32_t off, const void *buf, uint32_t len, uint32_t fl)
{
	struct stub *s = o;

	(void)fl;
	memcpy(s->config + off, buf, len);
	return 0;
}
static int s_set_status(void *o, uint8_t st)
{
	((struct stub *)o)->status = st;
	return 0;
}
static int s_get_status(void *o, uint8_t *st)
{
	*st = ((struct stub *)o)->status;
	return 0;
}
static int s_log_base(void *o, int fd, uint64_t size, uint64_t off)
{
	(void)o;
	(void)size;
	(void)off;
	cvmm_close(fd);
	return 0;
}
static int s_take_fd(void *o, int fd)
{
	(void)o;
	cvmm_close(fd);
	return 0;
}
static int s_get_inflight(void *o, uint16_t nq, uint16_t qs, int *fd, uint64_t *size,
			  uint64_t *off)
{
	(void)o;
	*fd = memfd_create("fuzz-inflight", MFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	*size = (uint64_t)nq * qs;
	*off = 0;
	return 0;
}
static int s_set_inflight(void *o, int fd, uint64_t size, uint64_t off, uint16_t nq,
			  uint16_t qs)
{
	(void)o;
	(void)size;
	(void)off;
	(void)nq;
	(void)qs;
	cvmm_close(fd);
	return 0;
}
static int s_advise(void *o, int *ufd)
{
	(void)o;
	*ufd = cvmm_eventfd_create(0);
	return *ufd < 0 ? *ufd : 0;
}
static int s_state_fd(void *o, uint32_t dir, uint32_t ph, int fd, int *rfd)
{
	(void)o;
	(void)ph;
	cvmm_close(fd);
	if (dir == CVMM_VHOST_TRANSFER_STATE_LOAD)
		*rfd = cvmm_eventfd_create(0);
	return 0;
}

static const struct cvmm_vhost_backend_ops ops = {
	.sz = sizeof(ops),
	.get_features = s_get_features,
	.set_features = s_set_features,
	.iotlb_msg = s_iotlb,
	.get_protocol_features = s_get_pf,
	.set_protocol_features = s_set_u64,
	.set_owner = s_none,
	.reset_owner = s_none,
	.set_mem_table = s_set_mem_table,
	.set_vring_num = s_idx_num,
	.set_vring_addr = s_vring_addr,
	.set_vring_base = s_idx_num,
	.get_vring_base = s_get_base,
	.set_vring_kick = s_vring_fd,
	.set_vring_call = s_vring_fd,
	.set_vring_err = s_vring_fd,
	.set_vring_enable = s_enable,
	.get_config = s_get_config,
	.set_config = s_set_config,
	.set_status = s_set_status,
	.get_status = s_get_status,
	.reset_device = s_none,
	.set_log_base = s_log_base,
	.set_log_fd = s_take_fd,
	.get_inflight_fd = s_get_inflight,
	.set_inflight_fd = s_set_inflight,
	.postcopy_advise = s_advise,
	.postcopy_listen = s_none,
	.postcopy_end = s_none,
	.set_device_state_fd = s_state_fd,
	.check_device_state = s_none,
};

static int make_fd(unsigned int kind)
{
	static const uint64_t sizes[4] = { 64 << 10, 0, 1 << 20, 4 << 10 };
	int fd;

	if (kind == 1)
		return cvmm_eventfd_create(0);
	fd = memfd_create("fuzz-mem", MFD_CLOEXEC);
	if (fd >= 0 && ftruncate(fd, (off_t)sizes[kind]) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Read and drop whatever the backend answered, closing passed fds. */
static void drain(int sock)
{
	uint8_t buf[4096];
	int fds[CVMM_MAX_FDS];
	size_t n;

	for (;;) {
		ssize_t r = cvmm_sock_recv_fds(sock, buf, sizeof(buf), fds, CVMM_MAX_FDS, &n);

		if (r <= 0 && r != -EMSGSIZE)
			return;
		for (size_t i = 0; r > 0 && i < n; i++)
			close(fds[i]);
	}
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n++;
	closedir(d);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_vhost_backend *be;
	struct stub st = { 0 };
	size_t pos = 0, total_fds = 0;
	int sv[2], fds_before;

	if (size > FUZZ_MAX_INPUT)
		return 0;
	fds_before = count_fds();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	struct cvmm_vhost_backend_opts o = {
		.sz = sizeof(o), .sock = sv[1], .num_queues = NQ, .max_mem_slots = 16,
		.ops = &ops, .opaque = &st,
	};
	if (cvmm_vhost_backend_create(&o, &be) < 0) {
		close(sv[0]);
		return 0;
	}

	while (pos + 1 + CVMM_VHOST_HDR_SIZE <= size) {
		uint8_t spec = data[pos++];
		unsigned int nfds = spec & 0xf, kind = (spec >> 4) & 3;
		struct cvmm_vhost_hdr h;
		int fds[16];
		size_t len;

		memcpy(&h, data + pos, sizeof(h));
		len = CVMM_MIN((size_t)h.size, size - pos - CVMM_VHOST_HDR_SIZE);
		len += CVMM_VHOST_HDR_SIZE;
		if (total_fds + nfds > MAX_FDS_TOTAL || nfds > CVMM_MAX_FDS)
			nfds = 0;
		for (unsigned int i = 0; i < nfds; i++) {
			fds[i] = make_fd(kind);
			if (fds[i] < 0)
				nfds = i;
		}
		total_fds += nfds;
		cvmm_sock_send_fds(sv[0], data + pos, len, fds, nfds);
		for (unsigned int i = 0; i < nfds; i++)
			close(fds[i]);
		pos += len;
	}
	shutdown(sv[0], SHUT_WR);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);

	while (cvmm_vhost_backend_connected(be)) {
		int r = cvmm_vhost_backend_process_one(be);

		drain(sv[0]);
		if (r == -ENOTCONN)
			break;
	}
	/* A dead connection says so forever. */
	if (cvmm_vhost_backend_process_one(be) != -ENOTCONN)
		abort();
	cvmm_vhost_backend_destroy(be);
	cvmm_guest_mem_destroy(st.gmem);
	drain(sv[0]);
	close(sv[0]);
	/* Every fd the peer sent was either closed or handed to (and closed
	 * by) the stub: nothing may be left over. */
	if (count_fds() != fds_before)
		abort();
	return 0;
}
