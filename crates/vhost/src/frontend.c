/* SPDX-License-Identifier: Apache-2.0 */
/* Frontend side: one call per request; replies are checked as strictly as
 * requests are on the backend side (the backend is not trusted either). */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct cvmm_vhost_frontend {
	int sock;
	uint64_t pfeatures; /* as sent with SET_PROTOCOL_FEATURES */
	int chan_fd;        /* our end of the backend request channel */
	uint64_t features;  /* as sent with SET_FEATURES: the vring base encoding */
	uint16_t vring_num[CVMM_VHOST_MAX_QUEUES]; /* as sent; 0 unknown */
};

static bool fe_packed(const struct cvmm_vhost_frontend *fe)
{
	return fe->features & CVMM_VHOST_VIRTIO_F_RING_PACKED;
}

/* Whether @base fits the ring's encoding (split: 16 bits; packed: both
 * slots inside the ring, when its size is known). */
static bool base_fits(const struct cvmm_vhost_frontend *fe, unsigned int idx, uint32_t base)
{
	struct cvmm_vhost_packed_base pb;

	if (!fe_packed(fe))
		return base <= UINT16_MAX;
	return cvmm_vhost_packed_base_decode(
		       base, idx < CVMM_VHOST_MAX_QUEUES ? fe->vring_num[idx] : 0, &pb) == 0;
}

enum fe_reply {
	FE_ACK,    /* REPLY_ACK when negotiated, else nothing */
	FE_DATA,   /* a payload of the expected size */
	FE_STATUS, /* a u64 status */
};

int cvmm_vhost_frontend_create(int sock, struct cvmm_vhost_frontend **out)
{
	struct cvmm_vhost_frontend *fe;

	if (!out || sock < 0) {
		cvmm_close(sock);
		return -EINVAL;
	}
	fe = calloc(1, sizeof(*fe));
	if (!fe) {
		cvmm_close(sock);
		return -ENOMEM;
	}
	fe->sock = sock;
	fe->chan_fd = -1;
	*out = fe;
	return 0;
}

void cvmm_vhost_frontend_destroy(struct cvmm_vhost_frontend *fe)
{
	if (!fe)
		return;
	cvmm_close(fe->sock);
	cvmm_close(fe->chan_fd);
	free(fe);
}

static bool fe_pf(const struct cvmm_vhost_frontend *fe, int bit)
{
	return (fe->pfeatures >> bit) & 1;
}

/*
 * Send @m and collect what the protocol returns for it into @rep (which may
 * be @m). @rep_size: the exact payload size a FE_DATA reply must have.
 * Reply fds beyond @max_fds are closed.
 */
static int fe_call(struct cvmm_vhost_frontend *fe, struct cvmm_vhost_msg *m,
		   enum fe_reply kind, struct cvmm_vhost_msg *rep, uint32_t rep_size,
		   unsigned int max_fds)
{
	const struct vhost_req_rule *rule = cvmm_vhost_req_rule(m->hdr.request);
	uint32_t req = m->hdr.request;
	int r;

	if (rule && rule->pfeature >= 0 && !fe_pf(fe, rule->pfeature))
		return -EOPNOTSUPP;
	if (kind == FE_ACK && fe_pf(fe, CVMM_VHOST_PF_REPLY_ACK))
		m->hdr.flags |= CVMM_VHOST_FLAG_NEED_REPLY;
	r = cvmm_vhost_msg_send(fe->sock, m);
	if (r < 0)
		return r;
	if (kind == FE_ACK && !(m->hdr.flags & CVMM_VHOST_FLAG_NEED_REPLY))
		return 0;
	r = cvmm_vhost_msg_recv_reply(fe->sock, req, rep, max_fds);
	if (r < 0)
		return r;
	if (kind == FE_DATA) {
		if (rep->hdr.size == rep_size)
			return 0;
		cvmm_vhost_msg_close_fds(rep);
		return rep->hdr.size == 0 ? -EIO : -EPROTO;
	}
	if (rep->hdr.size != sizeof(uint64_t)) {
		cvmm_vhost_msg_close_fds(rep);
		return -EPROTO;
	}
	if (kind == FE_ACK)
		return vhost_ack_to_errno(rep->payload.u64);
	return 0; /* FE_STATUS: the caller reads the value */
}

static int simple(struct cvmm_vhost_frontend *fe, uint32_t req)
{
	struct cvmm_vhost_msg m;

	vhost_msg_init(&m, req, 0, 0);
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

static int set_u64(struct cvmm_vhost_frontend *fe, uint32_t req, uint64_t v)
{
	struct cvmm_vhost_msg m;

	vhost_msg_init(&m, req, 0, sizeof(uint64_t));
	m.payload.u64 = v;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

static int get_u64(struct cvmm_vhost_frontend *fe, uint32_t req, uint64_t *v)
{
	struct cvmm_vhost_msg m;
	int r;

	if (!v)
		return -EINVAL;
	vhost_msg_init(&m, req, 0, 0);
	r = fe_call(fe, &m, FE_DATA, &m, sizeof(uint64_t), 0);
	if (r == 0)
		*v = m.payload.u64;
	return r;
}

/* A request whose answer is a u64 status (0 or an errno). */
static int status_call(struct cvmm_vhost_frontend *fe, struct cvmm_vhost_msg *m)
{
	int r = fe_call(fe, m, FE_STATUS, m, 0, 0);

	return r < 0 ? r : vhost_ack_to_errno(m->payload.u64);
}

int cvmm_vhost_frontend_iotlb_msg(struct cvmm_vhost_frontend *fe,
				  const struct cvmm_vhost_iotlb_msg *t)
{
	struct cvmm_vhost_msg m;

	if (!fe || !t || t->size == 0 || t->iova + (t->size - 1) < t->iova)
		return -EINVAL;
	if (t->type == CVMM_VHOST_IOTLB_UPDATE) {
		if (t->perm == 0 || (t->perm & ~CVMM_VHOST_ACCESS_RW) ||
		    t->uaddr + (t->size - 1) < t->uaddr)
			return -EINVAL;
	} else if (t->type != CVMM_VHOST_IOTLB_INVALIDATE) {
		return -EINVAL;
	}
	if (!(fe->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM))
		return -EOPNOTSUPP;
	memset(&m, 0, sizeof(m));
	/* Always answered (vhost-user.rst); NEED_REPLY as QEMU sends it. */
	vhost_msg_init(&m, CVMM_VHOST_IOTLB_MSG, CVMM_VHOST_FLAG_NEED_REPLY,
		       CVMM_VHOST_IOTLB_MSG_SIZE);
	m.payload.iotlb = *t;
	memset(m.payload.iotlb.padding, 0, sizeof(m.payload.iotlb.padding));
	return status_call(fe, &m);
}

int cvmm_vhost_frontend_get_features(struct cvmm_vhost_frontend *fe, uint64_t *f)
{
	return get_u64(fe, CVMM_VHOST_GET_FEATURES, f);
}

int cvmm_vhost_frontend_set_features(struct cvmm_vhost_frontend *fe, uint64_t f)
{
	int r = set_u64(fe, CVMM_VHOST_SET_FEATURES, f);

	if (r == 0)
		fe->features = f;
	return r;
}

int cvmm_vhost_frontend_get_protocol_features(struct cvmm_vhost_frontend *fe, uint64_t *f)
{
	return get_u64(fe, CVMM_VHOST_GET_PROTOCOL_FEATURES, f);
}

int cvmm_vhost_frontend_set_protocol_features(struct cvmm_vhost_frontend *fe, uint64_t f)
{
	/* Not acked: the new set takes effect with this very message. */
	int r = set_u64(fe, CVMM_VHOST_SET_PROTOCOL_FEATURES, f);

	if (r == 0)
		fe->pfeatures = f;
	return r;
}

int cvmm_vhost_frontend_set_owner(struct cvmm_vhost_frontend *fe)
{
	return simple(fe, CVMM_VHOST_SET_OWNER);
}

int cvmm_vhost_frontend_reset_owner(struct cvmm_vhost_frontend *fe)
{
	return simple(fe, CVMM_VHOST_RESET_OWNER);
}

int cvmm_vhost_frontend_set_mem_table_raw(struct cvmm_vhost_frontend *fe,
					  const struct cvmm_vhost_mem_region *r,
					  const int *fds, unsigned int n)
{
	struct cvmm_vhost_msg m;

	if (n > CVMM_VHOST_BASELINE_NREGIONS)
		return -E2BIG;
	if (n == 0 || !r || !fds)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_MEM_TABLE, 0,
		       8 + n * (uint32_t)sizeof(struct cvmm_vhost_mem_region));
	m.payload.memory.nregions = n;
	m.payload.memory.padding = 0;
	for (unsigned int i = 0; i < n; i++) {
		if (fds[i] < 0)
			return -EINVAL;
		m.payload.memory.regions[i] = r[i];
		m.fds[i] = fds[i];
	}
	m.nfds = n;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

static int region_of(const struct cvmm_mem_region *g, struct cvmm_vhost_mem_region *r)
{
	if (g->fd < 0)
		return -EINVAL;
	r->guest_phys_addr = g->gpa;
	r->memory_size = g->size;
	r->userspace_addr = (uint64_t)(uintptr_t)g->host;
	r->mmap_offset = g->fd_offset;
	return g->fd;
}

int cvmm_vhost_frontend_set_mem_table(struct cvmm_vhost_frontend *fe,
				      const struct cvmm_guest_mem *gmem)
{
	struct cvmm_vhost_mem_region r[CVMM_VHOST_BASELINE_NREGIONS];
	int fds[CVMM_VHOST_BASELINE_NREGIONS];
	unsigned int n;

	if (!gmem)
		return -EINVAL;
	n = cvmm_guest_mem_num_regions(gmem);
	if (n > CVMM_VHOST_BASELINE_NREGIONS)
		return -E2BIG;
	for (unsigned int i = 0; i < n; i++) {
		fds[i] = region_of(cvmm_guest_mem_region(gmem, i), &r[i]);
		if (fds[i] < 0)
			return -EINVAL;
	}
	return cvmm_vhost_frontend_set_mem_table_raw(fe, r, fds, n);
}

int cvmm_vhost_frontend_set_mem_table_postcopy(struct cvmm_vhost_frontend *fe,
					       const struct cvmm_guest_mem *gmem,
					       uint64_t *bases)
{
	const uint32_t size_n = (uint32_t)sizeof(struct cvmm_vhost_mem_region);
	struct cvmm_vhost_mem_region r[CVMM_VHOST_BASELINE_NREGIONS];
	struct cvmm_vhost_msg m;
	unsigned int n;
	int ret;

	if (!gmem || !bases)
		return -EINVAL;
	n = cvmm_guest_mem_num_regions(gmem);
	if (n > CVMM_VHOST_BASELINE_NREGIONS)
		return -E2BIG;
	if (n == 0)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_MEM_TABLE, 0, 8 + n * size_n);
	m.payload.memory.nregions = n;
	m.payload.memory.padding = 0;
	for (unsigned int i = 0; i < n; i++) {
		int fd = region_of(cvmm_guest_mem_region(gmem, i), &r[i]);

		if (fd < 0)
			return -EINVAL;
		m.payload.memory.regions[i] = r[i];
		m.fds[i] = fd;
	}
	m.nfds = n;
	/* Not REPLY_ACK: the answer is the table with the backend's bases. */
	ret = fe_call(fe, &m, FE_DATA, &m, 8 + n * size_n, 0);
	if (ret < 0)
		return ret;
	if (m.payload.memory.nregions != n)
		return -EPROTO;
	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_vhost_mem_region *a = &m.payload.memory.regions[i];

		if (a->guest_phys_addr != r[i].guest_phys_addr ||
		    a->memory_size != r[i].memory_size || a->mmap_offset != r[i].mmap_offset ||
		    !CVMM_IS_ALIGNED(a->userspace_addr, CVMM_GUEST_PAGE_SIZE) ||
		    a->userspace_addr + a->memory_size < a->userspace_addr)
			return -EPROTO;
		bases[i] = a->userspace_addr;
	}
	return 0;
}

int cvmm_vhost_frontend_postcopy_mem_ack(struct cvmm_vhost_frontend *fe, uint64_t status)
{
	struct cvmm_vhost_msg m;

	/* From now on the backend may fault (status 0). */
	vhost_msg_init(&m, CVMM_VHOST_SET_MEM_TABLE, 0, sizeof(uint64_t));
	m.payload.u64 = status;
	return cvmm_vhost_msg_send(fe->sock, &m);
}

int cvmm_vhost_frontend_get_max_mem_slots(struct cvmm_vhost_frontend *fe, uint64_t *slots)
{
	return get_u64(fe, CVMM_VHOST_GET_MAX_MEM_SLOTS, slots);
}

static int mem_reg(struct cvmm_vhost_frontend *fe, uint32_t req,
		   const struct cvmm_vhost_mem_region *r, int fd)
{
	struct cvmm_vhost_msg m;

	if (!r)
		return -EINVAL;
	vhost_msg_init(&m, req, 0, sizeof(m.payload.mem_reg));
	m.payload.mem_reg.padding = 0;
	m.payload.mem_reg.region = *r;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_add_mem_reg(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_mem_region *r, int fd)
{
	if (fd < 0)
		return -EINVAL;
	return mem_reg(fe, CVMM_VHOST_ADD_MEM_REG, r, fd);
}

int cvmm_vhost_frontend_rem_mem_reg(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_mem_region *r)
{
	return mem_reg(fe, CVMM_VHOST_REM_MEM_REG, r, -1);
}

static int set_state(struct cvmm_vhost_frontend *fe, uint32_t req, unsigned int idx,
		     unsigned int num)
{
	struct cvmm_vhost_msg m;

	vhost_msg_init(&m, req, 0, sizeof(m.payload.state));
	m.payload.state.index = idx;
	m.payload.state.num = num;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_set_vring_num(struct cvmm_vhost_frontend *fe, unsigned int idx,
				      unsigned int num)
{
	int r = set_state(fe, CVMM_VHOST_SET_VRING_NUM, idx, num);

	if (r == 0 && idx < CVMM_VHOST_MAX_QUEUES && num <= CVMM_VHOST_MAX_QUEUE_SIZE)
		fe->vring_num[idx] = (uint16_t)num;
	return r;
}

int cvmm_vhost_frontend_set_vring_addr(struct cvmm_vhost_frontend *fe,
				       const struct cvmm_vhost_vring_addr_wire *a)
{
	struct cvmm_vhost_msg m;

	if (!a)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_VRING_ADDR, 0, sizeof(m.payload.addr));
	m.payload.addr = *a;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_set_vring_base(struct cvmm_vhost_frontend *fe, unsigned int idx,
				       unsigned int base)
{
	if (!base_fits(fe, idx, base))
		return -EINVAL;
	return set_state(fe, CVMM_VHOST_SET_VRING_BASE, idx, base);
}

int cvmm_vhost_frontend_get_vring_base(struct cvmm_vhost_frontend *fe, unsigned int idx,
				       unsigned int *base)
{
	struct cvmm_vhost_msg m;
	int r;

	if (!base)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_GET_VRING_BASE, 0, sizeof(m.payload.state));
	m.payload.state.index = idx;
	m.payload.state.num = 0;
	r = fe_call(fe, &m, FE_DATA, &m, sizeof(m.payload.state), 0);
	if (r < 0)
		return r;
	if (m.payload.state.index != idx || !base_fits(fe, idx, m.payload.state.num))
		return -EPROTO;
	*base = m.payload.state.num;
	return 0;
}

static int vring_fd(struct cvmm_vhost_frontend *fe, uint32_t req, unsigned int idx, int fd)
{
	struct cvmm_vhost_msg m;

	if (idx >= CVMM_VHOST_MAX_QUEUES)
		return -EINVAL;
	vhost_msg_init(&m, req, 0, sizeof(uint64_t));
	m.payload.u64 = idx;
	if (fd < 0) {
		m.payload.u64 |= CVMM_VHOST_VRING_NOFD_MASK;
	} else {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_set_vring_kick(struct cvmm_vhost_frontend *fe, unsigned int idx, int fd)
{
	return vring_fd(fe, CVMM_VHOST_SET_VRING_KICK, idx, fd);
}

int cvmm_vhost_frontend_set_vring_call(struct cvmm_vhost_frontend *fe, unsigned int idx, int fd)
{
	return vring_fd(fe, CVMM_VHOST_SET_VRING_CALL, idx, fd);
}

int cvmm_vhost_frontend_set_vring_err(struct cvmm_vhost_frontend *fe, unsigned int idx, int fd)
{
	return vring_fd(fe, CVMM_VHOST_SET_VRING_ERR, idx, fd);
}

int cvmm_vhost_frontend_set_vring_enable(struct cvmm_vhost_frontend *fe, unsigned int idx,
					 bool enable)
{
	return set_state(fe, CVMM_VHOST_SET_VRING_ENABLE, idx, enable ? 1 : 0);
}

int cvmm_vhost_frontend_start_vring(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_vring_addr_wire *a,
				    unsigned int num, unsigned int base, int kick_fd,
				    int call_fd, bool enable)
{
	unsigned int i;
	int ret;

	if (!a)
		return -EINVAL;
	i = a->index;
	if ((ret = cvmm_vhost_frontend_set_vring_num(fe, i, num)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_vring_addr(fe, a)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_vring_base(fe, i, base)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_vring_call(fe, i, call_fd)) < 0 ||
	    (ret = cvmm_vhost_frontend_set_vring_kick(fe, i, kick_fd)) < 0)
		return ret;
	return enable ? cvmm_vhost_frontend_set_vring_enable(fe, i, true) : 0;
}

int cvmm_vhost_frontend_get_queue_num(struct cvmm_vhost_frontend *fe, uint64_t *num)
{
	return get_u64(fe, CVMM_VHOST_GET_QUEUE_NUM, num);
}

int cvmm_vhost_frontend_get_config(struct cvmm_vhost_frontend *fe, uint32_t offset,
				   void *buf, uint32_t len)
{
	struct cvmm_vhost_msg m;
	int r;

	if (!buf || len == 0 || !cvmm_range_ok(offset, len, CVMM_VHOST_MAX_CONFIG_SIZE))
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_GET_CONFIG, 0, CVMM_VHOST_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	m.payload.config.flags = 0;
	memset(m.payload.config.region, 0, len);
	r = fe_call(fe, &m, FE_DATA, &m, CVMM_VHOST_CONFIG_HDR_SIZE + len, 0);
	if (r < 0)
		return r;
	if (m.payload.config.size != len || m.payload.config.offset != offset)
		return -EPROTO;
	memcpy(buf, m.payload.config.region, len);
	return 0;
}

int cvmm_vhost_frontend_set_config(struct cvmm_vhost_frontend *fe, uint32_t offset,
				   const void *buf, uint32_t len, uint32_t flags)
{
	struct cvmm_vhost_msg m;

	if (!buf || len == 0 || !cvmm_range_ok(offset, len, CVMM_VHOST_MAX_CONFIG_SIZE))
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_CONFIG, 0, CVMM_VHOST_CONFIG_HDR_SIZE + len);
	m.payload.config.offset = offset;
	m.payload.config.size = len;
	m.payload.config.flags = flags;
	memcpy(m.payload.config.region, buf, len);
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_set_status(struct cvmm_vhost_frontend *fe, uint8_t status)
{
	return set_u64(fe, CVMM_VHOST_SET_STATUS, status);
}

int cvmm_vhost_frontend_get_status(struct cvmm_vhost_frontend *fe, uint8_t *status)
{
	uint64_t v;
	int r;

	if (!status)
		return -EINVAL;
	r = get_u64(fe, CVMM_VHOST_GET_STATUS, &v);
	if (r < 0)
		return r;
	if (v > 0xff)
		return -EPROTO;
	*status = (uint8_t)v;
	return 0;
}

int cvmm_vhost_frontend_reset_device(struct cvmm_vhost_frontend *fe)
{
	int r = simple(fe, CVMM_VHOST_RESET_DEVICE);

	if (r == 0) {
		fe->features = 0;
		memset(fe->vring_num, 0, sizeof(fe->vring_num));
	}
	return r;
}

int cvmm_vhost_frontend_set_log_base(struct cvmm_vhost_frontend *fe, int fd,
				     uint64_t mmap_size, uint64_t mmap_offset)
{
	bool shm = fe_pf(fe, CVMM_VHOST_PF_LOG_SHMFD);
	struct cvmm_vhost_msg m;

	if (shm != (fd >= 0))
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_LOG_BASE, 0, sizeof(m.payload.log));
	m.payload.log.mmap_size = mmap_size;
	m.payload.log.mmap_offset = mmap_offset;
	if (fd >= 0) {
		m.fds[0] = fd;
		m.nfds = 1;
	}
	/* With LOG_SHMFD the backend answers when it has mapped the log. */
	if (shm)
		return status_call(fe, &m);
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_set_log_fd(struct cvmm_vhost_frontend *fe, int fd)
{
	struct cvmm_vhost_msg m;

	if (fd < 0)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_LOG_FD, 0, 0);
	m.fds[0] = fd;
	m.nfds = 1;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_get_inflight_fd(struct cvmm_vhost_frontend *fe,
					uint16_t num_queues, uint16_t queue_size,
					int *fd, uint64_t *mmap_size,
					uint64_t *mmap_offset)
{
	struct cvmm_vhost_msg m;
	int r;

	if (!fd || !mmap_size || !mmap_offset)
		return -EINVAL;
	*fd = -1;
	vhost_msg_init(&m, CVMM_VHOST_GET_INFLIGHT_FD, 0, sizeof(m.payload.inflight));
	m.payload.inflight = (struct cvmm_vhost_inflight){ .num_queues = num_queues,
							   .queue_size = queue_size };
	r = fe_call(fe, &m, FE_DATA, &m, sizeof(m.payload.inflight), 1);
	if (r < 0)
		return r;
	if (m.nfds != 1)
		return -EPROTO;
	/* The caller maps this area: a size the fd does not back (or a fd
	 * that is not a file) would SIGBUS the VMM on first touch. */
	if (m.payload.inflight.mmap_size == 0 ||
	    cvmm_vhost_fd_covers(m.fds[0], m.payload.inflight.mmap_offset,
				 m.payload.inflight.mmap_size) < 0) {
		cvmm_vhost_msg_close_fds(&m);
		return -EPROTO;
	}
	*fd = m.fds[0];
	*mmap_size = m.payload.inflight.mmap_size;
	*mmap_offset = m.payload.inflight.mmap_offset;
	return 0;
}

int cvmm_vhost_frontend_set_inflight_fd(struct cvmm_vhost_frontend *fe, int fd,
					uint64_t mmap_size, uint64_t mmap_offset,
					uint16_t num_queues, uint16_t queue_size)
{
	struct cvmm_vhost_msg m;

	if (fd < 0)
		return -EINVAL;
	vhost_msg_init(&m, CVMM_VHOST_SET_INFLIGHT_FD, 0, sizeof(m.payload.inflight));
	m.payload.inflight = (struct cvmm_vhost_inflight){
		.mmap_size = mmap_size, .mmap_offset = mmap_offset,
		.num_queues = num_queues, .queue_size = queue_size };
	m.fds[0] = fd;
	m.nfds = 1;
	return fe_call(fe, &m, FE_ACK, &m, 0, 0);
}

int cvmm_vhost_frontend_postcopy_advise(struct cvmm_vhost_frontend *fe, int *ufd)
{
	struct cvmm_vhost_msg m;
	int r;

	if (!ufd)
		return -EINVAL;
	*ufd = -1;
	vhost_msg_init(&m, CVMM_VHOST_POSTCOPY_ADVISE, 0, 0);
	r = fe_call(fe, &m, FE_DATA, &m, 0, 1);
	if (r < 0)
		return r;
	if (m.nfds != 1)
		return -EIO; /* a refusal comes without the fd */
	*ufd = m.fds[0];
	return 0;
}

int cvmm_vhost_frontend_postcopy_listen(struct cvmm_vhost_frontend *fe)
{
	return simple(fe, CVMM_VHOST_POSTCOPY_LISTEN);
}

int cvmm_vhost_frontend_postcopy_end(struct cvmm_vhost_frontend *fe)
{
	struct cvmm_vhost_msg m;

	vhost_msg_init(&m, CVMM_VHOST_POSTCOPY_END, CVMM_VHOST_FLAG_NEED_REPLY, 0);
	return status_call(fe, &m);
}

int cvmm_vhost_frontend_set_device_state_fd(struct cvmm_vhost_frontend *fe,
					    uint32_t direction, uint32_t phase,
					    int fd, int *reply_fd)
{
	struct cvmm_vhost_msg m;
	uint64_t v;
	int r;

	if (fd < 0 || !reply_fd)
		return -EINVAL;
	*reply_fd = -1;
	vhost_msg_init(&m, CVMM_VHOST_SET_DEVICE_STATE_FD, 0, sizeof(m.payload.device_state));
	m.payload.device_state.transfer_direction = direction;
	m.payload.device_state.migration_phase = phase;
	m.fds[0] = fd;
	m.nfds = 1;
	r = fe_call(fe, &m, FE_STATUS, &m, 0, 1);
	if (r < 0)
		return r;
	v = m.payload.u64;
	/* Bit 8 says "no fd"; the fd count must agree with it. */
	if ((v & ~(CVMM_VHOST_VRING_IDX_MASK | CVMM_VHOST_VRING_NOFD_MASK)) ||
	    !(v & CVMM_VHOST_VRING_NOFD_MASK) != (m.nfds == 1)) {
		cvmm_vhost_msg_close_fds(&m);
		return -EPROTO;
	}
	if (v & CVMM_VHOST_VRING_IDX_MASK) {
		cvmm_vhost_msg_close_fds(&m);
		return vhost_ack_to_errno(v & CVMM_VHOST_VRING_IDX_MASK);
	}
	if (m.nfds)
		*reply_fd = m.fds[0];
	return 0;
}

int cvmm_vhost_frontend_check_device_state(struct cvmm_vhost_frontend *fe)
{
	struct cvmm_vhost_msg m;

	vhost_msg_init(&m, CVMM_VHOST_CHECK_DEVICE_STATE, 0, 0);
	return status_call(fe, &m);
}

/* ---- backend request channel ------------------------------------------- */

int cvmm_vhost_frontend_open_backend_channel(struct cvmm_vhost_frontend *fe)
{
	struct cvmm_vhost_msg m;
	int sv[2], r;

	if (!fe_pf(fe, CVMM_VHOST_PF_BACKEND_REQ))
		return -EOPNOTSUPP;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	vhost_msg_init(&m, CVMM_VHOST_SET_BACKEND_REQ_FD, 0, 0);
	m.fds[0] = sv[1];
	m.nfds = 1;
	r = fe_call(fe, &m, FE_ACK, &m, 0, 0);
	cvmm_close(sv[1]);
	if (r < 0) {
		cvmm_close(sv[0]);
		return r;
	}
	cvmm_close(fe->chan_fd);
	fe->chan_fd = sv[0];
	return 0;
}

int cvmm_vhost_frontend_backend_channel_fd(const struct cvmm_vhost_frontend *fe)
{
	return fe->chan_fd;
}

int cvmm_vhost_frontend_backend_req_ack(struct cvmm_vhost_frontend *fe, uint32_t request,
					int err)
{
	struct cvmm_vhost_msg rep;

	if (!fe)
		return -EINVAL;
	if (fe->chan_fd < 0)
		return -ENOTCONN;
	vhost_msg_init(&rep, request, CVMM_VHOST_FLAG_REPLY, sizeof(uint64_t));
	rep.payload.u64 = err < 0 ? (uint64_t)-err : 0;
	if (cvmm_vhost_msg_send(fe->chan_fd, &rep) < 0) {
		cvmm_close(fe->chan_fd);
		fe->chan_fd = -1;
		return -EPIPE;
	}
	return 0;
}

int cvmm_vhost_frontend_recv_backend_req(struct cvmm_vhost_frontend *fe,
					 struct cvmm_vhost_backend_event *ev)
{
	struct cvmm_vhost_msg m, rep;
	int r;

	if (!ev)
		return -EINVAL;
	if (fe->chan_fd < 0)
		return -ENOTCONN;
	r = cvmm_vhost_msg_recv(fe->chan_fd, &m);
	if (r == -EAGAIN || r == -EINTR)
		return r;
	if (r < 0 && r != -E2BIG) {
		cvmm_close(fe->chan_fd);
		fe->chan_fd = -1;
		return r == -EPROTO ? -EPROTO : -EPIPE;
	}
	if (r == 0) {
		r = m.nfds ? -EINVAL : 0;
		cvmm_vhost_msg_close_fds(&m);
	} else {
		r = -EINVAL;
	}
	memset(ev, 0, sizeof(*ev));
	ev->request = m.hdr.request;
	if (r == 0) {
		switch (m.hdr.request) {
		case CVMM_VHOST_BACKEND_IOTLB_MSG: {
			const struct cvmm_vhost_iotlb_msg *t = &m.payload.iotlb;

			if (m.hdr.size != CVMM_VHOST_IOTLB_MSG_SIZE ||
			    (t->type != CVMM_VHOST_IOTLB_MISS &&
			     t->type != CVMM_VHOST_IOTLB_ACCESS_FAIL) ||
			    t->perm == 0 || (t->perm & ~CVMM_VHOST_ACCESS_RW))
				r = -EINVAL;
			else if (!(fe->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM))
				r = -EOPNOTSUPP;
			else
				ev->iotlb = *t;
			/* Acked by the caller once it answered (the UPDATE
			 * must be in before the backend looks again). */
			if (r == 0 && (m.hdr.flags & CVMM_VHOST_FLAG_NEED_REPLY)) {
				ev->ack_due = true;
				return 0;
			}
			break;
		}
		case CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG:
			if (m.hdr.size != 0)
				r = -EINVAL;
			break;
		case CVMM_VHOST_BACKEND_VRING_CALL:
		case CVMM_VHOST_BACKEND_VRING_ERR:
			if (m.hdr.size != sizeof(m.payload.state) ||
			    m.payload.state.index >= CVMM_VHOST_MAX_QUEUES)
				r = -EINVAL;
			else
				ev->index = m.payload.state.index;
			break;
		default:
			r = -EOPNOTSUPP;
		}
	}
	if (m.hdr.flags & CVMM_VHOST_FLAG_NEED_REPLY) {
		vhost_msg_init(&rep, m.hdr.request, CVMM_VHOST_FLAG_REPLY, sizeof(uint64_t));
		rep.payload.u64 = r < 0 ? (uint64_t)-r : 0;
		if (cvmm_vhost_msg_send(fe->chan_fd, &rep) < 0) {
			cvmm_close(fe->chan_fd);
			fe->chan_fd = -1;
			return -EPIPE;
		}
	}
	return r;
}
