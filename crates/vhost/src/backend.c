/* SPDX-License-Identifier: Apache-2.0 */
/* Backend side: read one frontend message, hold it to the rules, hand it to
 * the device's callbacks and answer. Everything read is untrusted. */
#include "backend-internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* A callback's positive return counts as success (fd ownership included). */
static inline int vhost_norm(int r)
{
	return r > 0 ? 0 : r;
}
#define CALL(b, name, ...) vhost_norm((b)->ops.name((b)->opaque, ##__VA_ARGS__))
#define HAVE(b, name) ((b)->ops.name != NULL)

/* What the reply to a request looks like. */
enum reply_kind {
	REPLY_NONE,   /* REPLY_ACK only, when asked for */
	REPLY_DATA,   /* a payload; refused: size 0 */
	REPLY_STATUS, /* a u64 status, also when refused */
};

static enum reply_kind reply_kind(const struct cvmm_vhost_backend *b, uint32_t req)
{
	switch (req) {
	case CVMM_VHOST_POSTCOPY_END:
	case CVMM_VHOST_CHECK_DEVICE_STATE:
	case CVMM_VHOST_SET_DEVICE_STATE_FD:
	case CVMM_VHOST_IOTLB_MSG:
		return REPLY_STATUS;
	case CVMM_VHOST_SET_LOG_BASE:
		return vhost_pf_acked(b, CVMM_VHOST_PF_LOG_SHMFD) ? REPLY_STATUS : REPLY_NONE;
	case CVMM_VHOST_SET_MEM_TABLE:
		/* vhost-user.rst: answered with the mapping bases in post-copy */
		return b->pc_listening ? REPLY_DATA : REPLY_NONE;
	default: {
		const struct vhost_req_rule *rule = cvmm_vhost_req_rule(req);

		return rule && rule->data_reply ? REPLY_DATA : REPLY_NONE;
	}
	}
}

int cvmm_vhost_backend_create(const struct cvmm_vhost_backend_opts *o,
			      struct cvmm_vhost_backend **out)
{
	struct cvmm_vhost_backend *b;
	int sock = o ? o->sock : -1;

	if (!out) {
		cvmm_close(sock);
		return -EINVAL;
	}
	*out = NULL;
	if (!o || o->sz < sizeof(*o) || o->sock < 0 || o->num_queues == 0 ||
	    o->num_queues > CVMM_VHOST_MAX_QUEUES ||
	    o->max_mem_slots > CVMM_VHOST_MAX_MEM_SLOTS || !o->ops ||
	    o->ops->sz < sizeof(size_t) || o->ops->sz > sizeof(struct cvmm_vhost_backend_ops)) {
		cvmm_close(sock);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		cvmm_close(sock);
		return -ENOMEM;
	}
	memcpy(&b->ops, o->ops, o->ops->sz);
	b->sock = o->sock;
	b->opaque = o->opaque;
	b->num_queues = o->num_queues;
	b->max_mem_slots = o->max_mem_slots ? o->max_mem_slots : 32;
	b->req_fd = -1;
	pthread_mutex_init(&b->req_lock, NULL);
	pthread_mutex_init(&b->fd_lock, NULL);
	*out = b;
	return 0;
}

static void table_free(struct cvmm_vhost_mem_region *r, int *fds, unsigned int n)
{
	for (unsigned int i = 0; fds && i < n; i++)
		cvmm_close(fds[i]);
	free(r);
	free(fds);
}

void cvmm_vhost_backend_destroy(struct cvmm_vhost_backend *b)
{
	if (!b)
		return;
	cvmm_close(b->sock);
	cvmm_close(b->req_fd);
	table_free(b->regions, b->region_fds, b->nregions);
	pthread_mutex_destroy(&b->req_lock);
	pthread_mutex_destroy(&b->fd_lock);
	free(b);
}

int cvmm_vhost_backend_fd(const struct cvmm_vhost_backend *b)
{
	return b->sock;
}

bool cvmm_vhost_backend_connected(const struct cvmm_vhost_backend *b)
{
	return !b->dead;
}

uint64_t cvmm_vhost_backend_features(const struct cvmm_vhost_backend *b)
{
	return b->features;
}

uint64_t cvmm_vhost_backend_protocol_features(const struct cvmm_vhost_backend *b)
{
	return __atomic_load_n(&b->pfeatures, __ATOMIC_ACQUIRE);
}

unsigned int cvmm_vhost_backend_regions(const struct cvmm_vhost_backend *b,
					const struct cvmm_vhost_mem_region **r)
{
	if (r)
		*r = b->regions;
	return b->nregions;
}

/* ---- memory table ------------------------------------------------------ */

/* Offer @r/@fds (n entries, fds owned by the caller until success) to the
 * device; on success the backend owns them and drops the old table. */
static int table_commit(struct cvmm_vhost_backend *b, struct cvmm_vhost_mem_region *r,
			int *fds, unsigned int n, unsigned int max)
{
	int ret;

	if (n) {
		ret = cvmm_vhost_mem_regions_check(r, fds, n, max);
		if (ret < 0)
			return ret;
	}
	ret = CALL(b, set_mem_table, r, fds, n);
	if (ret < 0)
		return ret;
	/* Only the fds this table still uses may be closed with the old one. */
	for (unsigned int i = 0; i < b->nregions; i++) {
		bool kept = false;

		for (unsigned int j = 0; j < n && !kept; j++)
			kept = fds[j] == b->region_fds[i];
		if (!kept)
			cvmm_close(b->region_fds[i]);
	}
	free(b->regions);
	free(b->region_fds);
	b->regions = r;
	b->region_fds = fds;
	b->nregions = n;
	return 0;
}

static int table_alloc(unsigned int n, struct cvmm_vhost_mem_region **r, int **fds)
{
	*r = calloc(n ? n : 1, sizeof(**r));
	*fds = calloc(n ? n : 1, sizeof(**fds));
	if (!*r || !*fds) {
		free(*r);
		free(*fds);
		return -ENOMEM;
	}
	return 0;
}

/* Post-copy listens: answer with the same table, each region's user
 * address replaced by the device's own mapping of it, so the frontend can
 * translate the faults our userfaultfd reports. */
static int postcopy_bases_reply(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *rep)
{
	uint64_t bases[CVMM_VHOST_BASELINE_NREGIONS];
	unsigned int n = b->nregions;
	int ret = CALL(b, postcopy_mem_bases, b->regions, n, bases);

	if (ret < 0)
		return ret;
	rep->payload.memory.nregions = n;
	rep->payload.memory.padding = 0;
	for (unsigned int i = 0; i < n; i++) {
		rep->payload.memory.regions[i] = b->regions[i];
		rep->payload.memory.regions[i].userspace_addr = bases[i];
	}
	rep->hdr.size = 8 + n * (uint32_t)sizeof(struct cvmm_vhost_mem_region);
	b->pc_ack_pending = true;
	return 0;
}

static int do_set_mem_table(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m,
			    struct cvmm_vhost_msg *rep)
{
	unsigned int n = m->payload.memory.nregions; /* 1..8, checked */
	struct cvmm_vhost_mem_region *r;
	int *fds, ret;

	if (!HAVE(b, set_mem_table))
		return -EOPNOTSUPP;
	if (b->pc_listening && !HAVE(b, postcopy_mem_bases))
		return -EOPNOTSUPP;
	ret = cvmm_vhost_mem_regions_check(m->payload.memory.regions, m->fds, n,
					   CVMM_VHOST_BASELINE_NREGIONS);
	if (ret < 0)
		return ret;
	ret = table_alloc(n, &r, &fds);
	if (ret < 0)
		return ret;
	memcpy(r, m->payload.memory.regions, n * sizeof(*r));
	memcpy(fds, m->fds, n * sizeof(*fds));
	ret = table_commit(b, r, fds, n, CVMM_VHOST_BASELINE_NREGIONS);
	if (ret < 0) {
		free(r);
		free(fds);
		return ret;
	}
	memset(b->region_extra_refs, 0, sizeof(b->region_extra_refs));
	for (unsigned int i = 0; i < n; i++)
		m->fds[i] = -1;
	return b->pc_listening ? postcopy_bases_reply(b, rep) : 0;
}

/* The index of a region identical to @x (same guest and user address,
 * size and file offset), or @n when there is none. */
static unsigned int find_same_region(const struct cvmm_vhost_backend *b,
				     const struct cvmm_vhost_mem_region *x)
{
	for (unsigned int i = 0; i < b->nregions; i++) {
		const struct cvmm_vhost_mem_region *r = &b->regions[i];

		if (r->guest_phys_addr == x->guest_phys_addr &&
		    r->userspace_addr == x->userspace_addr &&
		    r->memory_size == x->memory_size && r->mmap_offset == x->mmap_offset)
			return i;
	}
	return b->nregions;
}

static int do_add_mem_reg(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m)
{
	unsigned int n = b->nregions;
	struct cvmm_vhost_mem_region *r;
	int *fds, ret;

	unsigned int same;

	if (!HAVE(b, set_mem_table))
		return -EOPNOTSUPP;
	/* Post-copy learns our mapping from SET_MEM_TABLE's answer only. */
	if (b->pc_listening)
		return -EBUSY;
	/* A second copy of a region we map already: keep the mapping, count
	 * it, and let the message's fd be closed with the message. */
	same = find_same_region(b, &m->payload.mem_reg.region);
	if (same < n && m->nfds == 1) {
		b->region_extra_refs[same]++;
		return 0;
	}
	if (n >= b->max_mem_slots)
		return -E2BIG;
	ret = table_alloc(n + 1, &r, &fds);
	if (ret < 0)
		return ret;
	if (n) {
		memcpy(r, b->regions, n * sizeof(*r));
		memcpy(fds, b->region_fds, n * sizeof(*fds));
	}
	r[n] = m->payload.mem_reg.region;
	fds[n] = m->fds[0];
	ret = table_commit(b, r, fds, n + 1, b->max_mem_slots);
	if (ret < 0) {
		free(r);
		free(fds);
		return ret;
	}
	b->region_extra_refs[n] = 0;
	m->fds[0] = -1;
	return 0;
}

static int do_rem_mem_reg(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m)
{
	const struct cvmm_vhost_mem_region *x = &m->payload.mem_reg.region;
	struct cvmm_vhost_mem_region *r;
	unsigned int n = b->nregions, k = 0, victim = n;
	int *fds, ret;

	if (!HAVE(b, set_mem_table))
		return -EOPNOTSUPP;
	if (b->pc_listening)
		return -EBUSY;
	/* Identified by guest address, user address and size; the spec says
	 * the mmap offset is ignored. */
	for (unsigned int i = 0; i < n; i++) {
		if (b->regions[i].guest_phys_addr == x->guest_phys_addr &&
		    b->regions[i].userspace_addr == x->userspace_addr &&
		    b->regions[i].memory_size == x->memory_size) {
			victim = i;
			break;
		}
	}
	if (victim == n)
		return -EINVAL;
	if (b->region_extra_refs[victim]) {
		b->region_extra_refs[victim]--;
		return 0;
	}
	ret = table_alloc(n - 1, &r, &fds);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < n; i++) {
		if (i == victim)
			continue;
		r[k] = b->regions[i];
		fds[k++] = b->region_fds[i];
	}
	ret = table_commit(b, r, fds, n - 1, CVMM_VHOST_MAX_MEM_SLOTS); /* shrinking */
	if (ret < 0) {
		free(r);
		free(fds);
		return ret;
	}
	memmove(&b->region_extra_refs[victim], &b->region_extra_refs[victim + 1],
		(n - 1 - victim) * sizeof(b->region_extra_refs[0]));
	return ret;
}

/* ---- vrings ------------------------------------------------------------ */

static int vring_index(const struct cvmm_vhost_backend *b, uint64_t idx, unsigned int *out)
{
	if (idx >= b->num_queues)
		return -EINVAL;
	*out = (unsigned int)idx;
	return 0;
}

static int do_set_vring_addr(struct cvmm_vhost_backend *b, const struct cvmm_vhost_msg *m)
{
	const struct cvmm_vhost_vring_addr_wire *w = &m->payload.addr;
	struct cvmm_vhost_vring_addr a = { 0 };
	uint64_t avail_len, used_len;
	unsigned int idx, num;
	int ret;

	ret = vring_index(b, w->index, &idx);
	if (ret < 0)
		return ret;
	num = b->vring_num[idx];
	/* Ring sizes follow from the ring size, so SET_VRING_NUM comes first. */
	if (num == 0 || (w->flags & ~CVMM_VHOST_VRING_F_LOG))
		return -EINVAL;
	/* Split: avail and used rings (with the event-idx word); packed: the
	 * two 4-byte event suppression areas. */
	if (vhost_packed(b)) {
		avail_len = 4;
		used_len = 4;
	} else {
		avail_len = 6ull + 2ull * num;
		used_len = 6ull + 8ull * num;
	}
	if (!CVMM_IS_ALIGNED(w->desc_user_addr, 16) ||
	    !CVMM_IS_ALIGNED(w->avail_user_addr, vhost_packed(b) ? 4 : 2) ||
	    !CVMM_IS_ALIGNED(w->used_user_addr, 4))
		return -EINVAL;
	a.index = idx;
	a.flags = w->flags;
	a.desc_user_addr = w->desc_user_addr;
	a.avail_user_addr = w->avail_user_addr;
	a.used_user_addr = w->used_user_addr;
	a.log_guest_addr = w->log_guest_addr;
	if (b->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM) {
		/* IOVAs: the device translates them through its IOTLB (they
		 * need not be mapped yet); only their ends may not wrap. */
		if (w->desc_user_addr + 16ull * num < w->desc_user_addr ||
		    w->avail_user_addr + avail_len < w->avail_user_addr ||
		    w->used_user_addr + used_len < w->used_user_addr)
			return -EINVAL;
		a.desc_gpa = w->desc_user_addr;
		a.avail_gpa = w->avail_user_addr;
		a.used_gpa = w->used_user_addr;
	} else if (cvmm_vhost_uva_to_gpa(b->regions, b->nregions, w->desc_user_addr,
				  16ull * num, &a.desc_gpa) < 0 ||
	    cvmm_vhost_uva_to_gpa(b->regions, b->nregions, w->avail_user_addr,
				  avail_len, &a.avail_gpa) < 0 ||
	    cvmm_vhost_uva_to_gpa(b->regions, b->nregions, w->used_user_addr,
				  used_len, &a.used_gpa) < 0)
		return -EINVAL;
	if (!HAVE(b, set_vring_addr))
		return -EOPNOTSUPP;
	return CALL(b, set_vring_addr, &a);
}

/* IOTLB_MSG from the frontend: UPDATE or INVALIDATE of an IOVA range. */
static int do_iotlb_msg(struct cvmm_vhost_backend *b, const struct cvmm_vhost_msg *m)
{
	const struct cvmm_vhost_iotlb_msg *t = &m->payload.iotlb;
	uint64_t gpa = 0;

	if (!(b->features & CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM) || !HAVE(b, iotlb_msg))
		return -EOPNOTSUPP;
	if (t->size == 0 || t->iova + (t->size - 1) < t->iova)
		return -EINVAL;
	switch (t->type) {
	case CVMM_VHOST_IOTLB_UPDATE:
		if (t->perm == 0 || (t->perm & ~CVMM_VHOST_ACCESS_RW))
			return -EINVAL;
		/* The frontend's address must be guest memory it shared. */
		if (cvmm_vhost_uva_to_gpa(b->regions, b->nregions, t->uaddr, t->size, &gpa) < 0)
			return -EFAULT;
		break;
	case CVMM_VHOST_IOTLB_INVALIDATE:
		break;
	default:
		return -EINVAL;
	}
	return CALL(b, iotlb_msg, t, gpa);
}

/* KICK / CALL / ERR: the fd belongs to the device once it said yes. */
static int do_vring_fd(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m,
		       int (*fn)(void *, unsigned int, int))
{
	unsigned int idx;
	int fd = m->nfds ? m->fds[0] : -1;
	int ret = vring_index(b, m->payload.u64 & CVMM_VHOST_VRING_IDX_MASK, &idx);

	if (ret < 0)
		return ret;
	if (!fn)
		return -EOPNOTSUPP;
	ret = vhost_norm(fn(b->opaque, idx, fd));
	if (ret == 0 && m->nfds)
		m->fds[0] = -1;
	return ret;
}

/* ---- dispatch ---------------------------------------------------------- */

static uint64_t offered_pfeatures(struct cvmm_vhost_backend *b)
{
	uint64_t pf = CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |
		      CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS);

	if (HAVE(b, get_protocol_features) && CALL(b, get_protocol_features, &pf) < 0)
		pf = 0;
	return (pf & CVMM_VHOST_PF_SUPPORTED) | CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK);
}

static int dispatch(struct cvmm_vhost_backend *b, struct cvmm_vhost_msg *m,
		    struct cvmm_vhost_msg *rep)
{
	union cvmm_vhost_payload *p = &m->payload;
	unsigned int idx;
	int ret;

	switch (m->hdr.request) {
	case CVMM_VHOST_GET_FEATURES:
		if (!HAVE(b, get_features))
			return -EOPNOTSUPP;
		rep->hdr.size = sizeof(uint64_t);
		return CALL(b, get_features, &rep->payload.u64);
	case CVMM_VHOST_SET_FEATURES: {
		uint64_t offered;

		if (!HAVE(b, get_features) || !HAVE(b, set_features))
			return -EOPNOTSUPP;
		ret = CALL(b, get_features, &offered);
		if (ret < 0)
			return ret;
		if (p->u64 & ~offered)
			return -EINVAL;
		ret = CALL(b, set_features, p->u64);
		if (ret == 0)
			b->features = p->u64;
		return ret;
	}
	case CVMM_VHOST_SET_OWNER:
		return HAVE(b, set_owner) ? CALL(b, set_owner) : 0;
	case CVMM_VHOST_RESET_OWNER:
		return HAVE(b, reset_owner) ? CALL(b, reset_owner) : 0;
	case CVMM_VHOST_SET_MEM_TABLE:
		return do_set_mem_table(b, m, rep);
	case CVMM_VHOST_ADD_MEM_REG:
		return do_add_mem_reg(b, m);
	case CVMM_VHOST_REM_MEM_REG:
		return do_rem_mem_reg(b, m);
	case CVMM_VHOST_GET_MAX_MEM_SLOTS:
		rep->hdr.size = sizeof(uint64_t);
		rep->payload.u64 = b->max_mem_slots;
		return 0;
	case CVMM_VHOST_SET_LOG_BASE: {
		bool shm = vhost_pf_acked(b, CVMM_VHOST_PF_LOG_SHMFD);
		int fd = m->nfds ? m->fds[0] : -1;

		if (shm != (m->nfds == 1))
			return -EINVAL;
		if (fd >= 0 && cvmm_vhost_fd_covers(fd, p->log.mmap_offset, p->log.mmap_size) < 0)
			return -EINVAL;
		if (!HAVE(b, set_log_base))
			return -EOPNOTSUPP;
		ret = CALL(b, set_log_base, fd, p->log.mmap_size, p->log.mmap_offset);
		if (ret == 0 && fd >= 0)
			m->fds[0] = -1;
		return ret;
	}
	case CVMM_VHOST_SET_LOG_FD:
		if (!HAVE(b, set_log_fd))
			return -EOPNOTSUPP;
		ret = CALL(b, set_log_fd, m->fds[0]);
		if (ret == 0)
			m->fds[0] = -1;
		return ret;
	case CVMM_VHOST_SET_VRING_NUM:
		ret = vring_index(b, p->state.index, &idx);
		if (ret < 0)
			return ret;
		/* Split rings index with a mask; packed rings may be any size. */
		if (p->state.num == 0 || p->state.num > CVMM_VHOST_MAX_QUEUE_SIZE ||
		    (!vhost_packed(b) && !CVMM_IS_POW2(p->state.num)))
			return -EINVAL;
		if (!HAVE(b, set_vring_num))
			return -EOPNOTSUPP;
		ret = CALL(b, set_vring_num, idx, p->state.num);
		if (ret == 0)
			b->vring_num[idx] = p->state.num;
		return ret;
	case CVMM_VHOST_SET_VRING_ADDR:
		return do_set_vring_addr(b, m);
	case CVMM_VHOST_IOTLB_MSG:
		return do_iotlb_msg(b, m);
	case CVMM_VHOST_SET_VRING_BASE:
		ret = vring_index(b, p->state.index, &idx);
		if (ret < 0)
			return ret;
		if (vhost_packed(b)) {
			struct cvmm_vhost_packed_base pb;

			/* Without a size yet the device checks at ring start. */
			if (cvmm_vhost_packed_base_decode(p->state.num, b->vring_num[idx], &pb) < 0)
				return -EINVAL;
		} else if (p->state.num > UINT16_MAX) {
			return -EINVAL;
		}
		if (!HAVE(b, set_vring_base))
			return -EOPNOTSUPP;
		return CALL(b, set_vring_base, idx, p->state.num);
	case CVMM_VHOST_GET_VRING_BASE: {
		unsigned int base = 0;

		ret = vring_index(b, p->state.index, &idx);
		if (ret < 0)
			return ret;
		if (!HAVE(b, get_vring_base))
			return -EOPNOTSUPP;
		ret = CALL(b, get_vring_base, idx, &base);
		rep->hdr.size = sizeof(rep->payload.state);
		rep->payload.state.index = idx;
		rep->payload.state.num = base;
		return ret;
	}
	case CVMM_VHOST_SET_VRING_KICK:
		return do_vring_fd(b, m, b->ops.set_vring_kick);
	case CVMM_VHOST_SET_VRING_CALL:
		return do_vring_fd(b, m, b->ops.set_vring_call);
	case CVMM_VHOST_SET_VRING_ERR:
		return do_vring_fd(b, m, b->ops.set_vring_err);
	case CVMM_VHOST_SET_VRING_ENABLE:
		ret = vring_index(b, p->state.index, &idx);
		if (ret < 0)
			return ret;
		if (p->state.num > 1)
			return -EINVAL;
		return HAVE(b, set_vring_enable) ? CALL(b, set_vring_enable, idx, p->state.num)
						 : 0;
	case CVMM_VHOST_GET_PROTOCOL_FEATURES: {
		uint64_t f;

		/* Only a backend that offered the bit has this request. */
		if (!HAVE(b, get_features) || CALL(b, get_features, &f) < 0 ||
		    !(f & CVMM_VHOST_F_PROTOCOL_FEATURES))
			return -EOPNOTSUPP;
		rep->hdr.size = sizeof(uint64_t);
		rep->payload.u64 = offered_pfeatures(b);
		return 0;
	}
	case CVMM_VHOST_SET_PROTOCOL_FEATURES:
		if (p->u64 & ~offered_pfeatures(b))
			return -EINVAL;
		ret = HAVE(b, set_protocol_features) ? CALL(b, set_protocol_features, p->u64) : 0;
		if (ret == 0) /* read by senders on other threads */
			__atomic_store_n(&b->pfeatures, p->u64, __ATOMIC_RELEASE);
		return ret;
	case CVMM_VHOST_GET_QUEUE_NUM:
		rep->hdr.size = sizeof(uint64_t);
		rep->payload.u64 = b->num_queues;
		return 0;
	case CVMM_VHOST_SET_BACKEND_REQ_FD:
		cvmm_vhost_backend_set_req_fd(b, m->fds[0]);
		m->fds[0] = -1;
		if (HAVE(b, backend_req_changed))
			b->ops.backend_req_changed(b->opaque, true);
		return 0;
	case CVMM_VHOST_GET_CONFIG: {
		const struct cvmm_vhost_config *c = &p->config;

		if (!HAVE(b, get_config))
			return -EOPNOTSUPP;
		rep->payload.config.offset = c->offset;
		rep->payload.config.size = c->size;
		rep->payload.config.flags = c->flags;
		memset(rep->payload.config.region, 0, c->size);
		ret = CALL(b, get_config, c->offset, rep->payload.config.region, c->size);
		rep->hdr.size = CVMM_VHOST_CONFIG_HDR_SIZE + c->size;
		return ret;
	}
	case CVMM_VHOST_SET_CONFIG:
		if (!HAVE(b, set_config))
			return -EOPNOTSUPP;
		return CALL(b, set_config, p->config.offset, p->config.region, p->config.size,
			    p->config.flags);
	case CVMM_VHOST_POSTCOPY_ADVISE: {
		int ufd = -1;

		if (!HAVE(b, postcopy_advise))
			return -EOPNOTSUPP;
		ret = CALL(b, postcopy_advise, &ufd);
		if (ret == 0 && ufd < 0)
			ret = -EIO;
		if (ret < 0) {
			cvmm_close(ufd);
			return ret;
		}
		rep->fds[0] = ufd;
		rep->nfds = 1;
		return 0;
	}
	case CVMM_VHOST_POSTCOPY_LISTEN:
		if (!HAVE(b, postcopy_listen))
			return -EOPNOTSUPP;
		ret = CALL(b, postcopy_listen);
		if (ret == 0)
			b->pc_listening = true;
		return ret;
	case CVMM_VHOST_POSTCOPY_END:
		if (!HAVE(b, postcopy_end))
			return -EOPNOTSUPP;
		ret = CALL(b, postcopy_end);
		if (ret == 0)
			b->pc_listening = false;
		return ret;
	case CVMM_VHOST_GET_INFLIGHT_FD: {
		const struct cvmm_vhost_inflight *in = &p->inflight;
		int fd = -1;

		if (in->num_queues == 0 || in->num_queues > b->num_queues ||
		    in->queue_size == 0 || in->queue_size > CVMM_VHOST_MAX_QUEUE_SIZE)
			return -EINVAL;
		if (!HAVE(b, get_inflight_fd))
			return -EOPNOTSUPP;
		rep->payload.inflight = (struct cvmm_vhost_inflight){
			.num_queues = in->num_queues, .queue_size = in->queue_size };
		ret = CALL(b, get_inflight_fd, in->num_queues, in->queue_size, &fd,
			   &rep->payload.inflight.mmap_size,
			   &rep->payload.inflight.mmap_offset);
		if (ret == 0 && fd < 0)
			ret = -EIO;
		if (ret < 0) {
			cvmm_close(fd);
			return ret;
		}
		rep->hdr.size = sizeof(rep->payload.inflight);
		rep->fds[0] = fd;
		rep->nfds = 1;
		return 0;
	}
	case CVMM_VHOST_SET_INFLIGHT_FD: {
		const struct cvmm_vhost_inflight *in = &p->inflight;

		if (in->num_queues == 0 || in->num_queues > b->num_queues ||
		    in->queue_size == 0 || in->queue_size > CVMM_VHOST_MAX_QUEUE_SIZE ||
		    cvmm_vhost_fd_covers(m->fds[0], in->mmap_offset, in->mmap_size) < 0)
			return -EINVAL;
		if (!HAVE(b, set_inflight_fd))
			return -EOPNOTSUPP;
		ret = CALL(b, set_inflight_fd, m->fds[0], in->mmap_size, in->mmap_offset,
			   in->num_queues, in->queue_size);
		if (ret == 0)
			m->fds[0] = -1;
		return ret;
	}
	case CVMM_VHOST_RESET_DEVICE:
		if (!HAVE(b, reset_device))
			return -EOPNOTSUPP;
		ret = CALL(b, reset_device);
		if (ret == 0) {
			/* Back to before negotiation: ring layout included. */
			memset(b->vring_num, 0, sizeof(b->vring_num));
			b->features = 0;
		}
		return ret;
	case CVMM_VHOST_SET_STATUS:
		if (p->u64 > 0xff)
			return -EINVAL;
		return HAVE(b, set_status) ? CALL(b, set_status, (uint8_t)p->u64) : -EOPNOTSUPP;
	case CVMM_VHOST_GET_STATUS: {
		uint8_t st = 0;

		if (!HAVE(b, get_status))
			return -EOPNOTSUPP;
		ret = CALL(b, get_status, &st);
		rep->hdr.size = sizeof(uint64_t);
		rep->payload.u64 = st;
		return ret;
	}
	case CVMM_VHOST_SET_DEVICE_STATE_FD: {
		int rfd = -1;

		if (p->device_state.transfer_direction > CVMM_VHOST_TRANSFER_STATE_LOAD ||
		    p->device_state.migration_phase != CVMM_VHOST_TRANSFER_STATE_PHASE_STOPPED)
			return -EINVAL;
		if (!HAVE(b, set_device_state_fd))
			return -EOPNOTSUPP;
		ret = CALL(b, set_device_state_fd, p->device_state.transfer_direction,
			   p->device_state.migration_phase, m->fds[0], &rfd);
		if (ret < 0) {
			cvmm_close(rfd);
			return ret;
		}
		m->fds[0] = -1;
		if (rfd >= 0) {
			rep->fds[0] = rfd;
			rep->nfds = 1;
		}
		return 0;
	}
	case CVMM_VHOST_CHECK_DEVICE_STATE:
		return HAVE(b, check_device_state) ? CALL(b, check_device_state) : -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

static int mark_dead(struct cvmm_vhost_backend *b, int err)
{
	b->dead = true;
	return err == -EPROTO ? -EPROTO : -EPIPE;
}

int cvmm_vhost_backend_process_one(struct cvmm_vhost_backend *b)
{
	struct cvmm_vhost_msg m, rep;
	const struct vhost_req_rule *rule;
	enum reply_kind kind;
	bool want_ack;
	int ret, sret;

	if (b->dead)
		return -ENOTCONN;
	ret = cvmm_vhost_msg_recv(b->sock, &m);
	if (ret == -EAGAIN || ret == -EINTR)
		return ret;
	if (ret < 0 && ret != -E2BIG)
		return mark_dead(b, ret);
	if (ret == 0 && b->pc_ack_pending) {
		/* The frontend acknowledges our post-copy SET_MEM_TABLE answer
		 * with a SET_MEM_TABLE carrying a u64 (0: it can serve our
		 * faults). Anything else is handled as the next request. */
		bool ack = m.hdr.request == CVMM_VHOST_SET_MEM_TABLE &&
			   m.hdr.size == sizeof(uint64_t) && m.nfds == 0 &&
			   !(m.hdr.flags & CVMM_VHOST_FLAG_REPLY);

		b->pc_ack_pending = false;
		if (ack && m.payload.u64)
			CVMM_LOG(CVMM_LOG_WARN, VHOST_LOG, "post-copy: the frontend cannot "
				 "serve our faults (%" PRIu64 ")", m.payload.u64);
		if (HAVE(b, postcopy_mem_acked))
			b->ops.postcopy_mem_acked(b->opaque, ack && !m.payload.u64);
		if (ack)
			return 0;
	}
	if (ret == -E2BIG) {
		ret = -EINVAL; /* whole message read, its fds already closed */
	} else {
		rule = cvmm_vhost_req_rule(m.hdr.request);
		ret = cvmm_vhost_msg_check_frontend(&m);
		if (ret == 0 && rule->pfeature >= 0 && !vhost_pf_acked(b, rule->pfeature))
			ret = -EOPNOTSUPP;
	}

	CVMM_LOG(CVMM_LOG_TRACE, VHOST_LOG, "%s (%u) flags 0x%x size %u fds %u",
		 cvmm_vhost_req_name(m.hdr.request), m.hdr.request, m.hdr.flags, m.hdr.size,
		 m.nfds);
	memset(&rep, 0, sizeof(rep));
	vhost_msg_init(&rep, m.hdr.request, CVMM_VHOST_FLAG_REPLY, 0);
	if (ret == 0)
		ret = dispatch(b, &m, &rep);
	cvmm_vhost_msg_close_fds(&m);
	if (ret < 0)
		CVMM_LOG(CVMM_LOG_DEBUG, VHOST_LOG, "refused %s (%u): %d",
			 cvmm_vhost_req_name(m.hdr.request), m.hdr.request, ret);

	kind = reply_kind(b, m.hdr.request);
	want_ack = vhost_pf_acked(b, CVMM_VHOST_PF_REPLY_ACK) &&
		   (m.hdr.flags & CVMM_VHOST_FLAG_NEED_REPLY);
	switch (kind) {
	case REPLY_DATA:
		if (ret < 0) {
			cvmm_vhost_msg_close_fds(&rep);
			rep.hdr.size = 0;
		}
		break;
	case REPLY_STATUS:
		rep.hdr.size = sizeof(uint64_t);
		rep.payload.u64 = ret < 0 ? (uint64_t)-ret : 0;
		if (m.hdr.request == CVMM_VHOST_SET_DEVICE_STATE_FD) {
			rep.payload.u64 &= CVMM_VHOST_VRING_IDX_MASK;
			if (!rep.nfds)
				rep.payload.u64 |= CVMM_VHOST_VRING_NOFD_MASK;
		}
		break;
	case REPLY_NONE:
		if (!want_ack)
			return ret;
		rep.hdr.size = sizeof(uint64_t);
		rep.payload.u64 = ret < 0 ? (uint64_t)-ret : 0;
		break;
	}
	sret = cvmm_vhost_msg_send(b->sock, &rep);
	cvmm_vhost_msg_close_fds(&rep);
	if (sret < 0)
		return mark_dead(b, -EPIPE);
	return ret;
}
