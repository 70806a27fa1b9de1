/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk I/O over a raw image: io_uring for read/write/flush, plain
 * system calls for everything else and for the synchronous engine.
 * Requests reaching this file were range-checked by the parser; the
 * offsets are still re-checked against the capacity before each call so
 * that a parser bug cannot turn into a write outside the disk.
 *
 * The ring is locked down before its first submission (seccomp sees only
 * io_uring_enter, not the operations): it accepts readv, writev and fsync,
 * each on the image registered as fixed file 0, and no io_uring_register
 * call at all once enabled. A kernel without ring restrictions (before
 * 5.10) gets a plain ring and one warning.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cvmm/virtio-devices/blk.h>

#include "internal.h"

struct cvmm_blk_backend {
	int fd;
	int lock_fd;       /* holds the image's lock (path mode), or -1 */
	int lock_on;       /* the description the lock is on (lock_fd or the caller's) */
	short lock_type;   /* F_RDLCK or F_WRLCK */
	bool read_only;
	bool direct;
	enum cvmm_blk_engine engine;
	uint64_t capacity;
	uint8_t serial[CVMM_BLK_ID_BYTES];
	struct io_uring ring;
	bool restricted;   /* ring locked down, image is fixed file 0 */
	int efd;
	unsigned int depth;
	unsigned int in_flight;
	unsigned int unsubmitted;
};

/*
 * An advisory lock on the image, as QEMU takes one: shared for a read-only
 * disk, exclusive for a writable one, so that a second VMM or daemon
 * cannot open an image another one writes (two writers, or a reader
 * behind a writer's back, corrupt the guest's file system). OFD locks
 * belong to the open file description, not the process: backends opened
 * from one caller fd (a daemon's queues) share the lock on the caller's
 * description instead of conflicting with each other. Opened by path, the
 * lock is on a description of its own, never the one io_uring holds: a
 * ring's registered files are let go asynchronously after it is torn
 * down, which would keep the image locked for a moment after close. A
 * file system without locks gets a warning, not a refusal.
 */
static int lock_image(const struct cvmm_blk_backend_opts *o, struct cvmm_blk_backend *b,
		      const struct stat *st)
{
	struct flock lk = { .l_type = o->read_only ? F_RDLCK : F_WRLCK };
	struct stat ls;
	int lfd = o->fd;

	if (o->path) {
		lfd = open(o->path, (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
		if (lfd < 0)
			return -errno;
		b->lock_fd = lfd;
		/* The same file as the one opened for I/O, not a replacement. */
		if (fstat(lfd, &ls) || ls.st_dev != st->st_dev || ls.st_ino != st->st_ino)
			return -ESTALE;
	}
	b->lock_on = lfd;
	b->lock_type = lk.l_type;
	return o->lock_later ? 0 : cvmm_blk_backend_lock(b, true);
}

int cvmm_blk_backend_lock(struct cvmm_blk_backend *b, bool hold)
{
	struct flock lk = { .l_type = hold ? b->lock_type : F_UNLCK, .l_whence = SEEK_SET };

	if (b->lock_on < 0)
		return 0;
	if (fcntl(b->lock_on, F_OFD_SETLK, &lk) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EBUSY;
	CVMM_LOG(CVMM_LOG_WARN, VD_CRATE, "disk image not locked (%s): another VMM may open it too",
		 strerror(errno));
	return 0;
}

static int open_image(const struct cvmm_blk_backend_opts *o, struct cvmm_blk_backend *b)
{
	int flags = (o->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st;
	int fd, r;

	if (o->path) {
		fd = open(o->path, flags | (o->direct ? O_DIRECT : 0));
		if (fd < 0)
			return -errno;
	} else {
		char p[64];

		/* Reopen through /proc so that O_DIRECT and the access mode are
		 * our own, not the caller's. */
		snprintf(p, sizeof(p), "/proc/self/fd/%d", o->fd);
		fd = open(p, flags | (o->direct ? O_DIRECT : 0));
		if (fd < 0)
			return -errno;
	}
	if (fstat(fd, &st) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
	}
	r = lock_image(o, b, &st);
	if (r < 0) {
		close(fd);
		return r;
	}
	if (S_ISBLK(st.st_mode)) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end < 0) {
			close(fd);
			return -EINVAL;
		}
		b->capacity = (uint64_t)end / CVMM_BLK_SECTOR_SIZE;
	} else {
		b->capacity = (uint64_t)st.st_size / CVMM_BLK_SECTOR_SIZE;
	}
	b->fd = fd;
	return 0;
}

/* The registered image's index in the ring's file table. */
#define IMAGE_SLOT 0

/* Debian 12's liburing 2.3 declares io_uring_register_restrictions() and
 * io_uring_enable_rings() but leaves them out of its shared library's
 * symbol map, so the two calls go to the kernel directly. */
static int ring_register(struct io_uring *ring, unsigned int op, const void *arg,
			 unsigned int n)
{
	long r = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);

	return r < 0 ? -errno : 0;
}

/*
 * A ring that runs only what cvmm_blk_backend_submit() prepares: the
 * opcodes below, on the image's fixed-file slot (IOSQE_FIXED_FILE
 * required, every other SQE flag refused), and no register operation
 * after enabling. Anything else completes with -EACCES. Everything the
 * ring needs (image, eventfd) is registered while it is still disabled.
 */
static int uring_setup_restricted(struct cvmm_blk_backend *b)
{
	static const uint8_t ops[] = { IORING_OP_READV, IORING_OP_WRITEV,
				       IORING_OP_FSYNC };
	struct io_uring_restriction res[CVMM_ARRAY_SIZE(ops) + 1];
	unsigned int n = 0;
	int r;

	r = io_uring_queue_init(b->depth, &b->ring, IORING_SETUP_R_DISABLED);
	if (r < 0)
		return r;
	memset(res, 0, sizeof(res));
	for (unsigned int i = 0; i < CVMM_ARRAY_SIZE(ops); i++) {
		res[n].opcode = IORING_RESTRICTION_SQE_OP;
		res[n++].sqe_op = ops[i];
	}
	res[n].opcode = IORING_RESTRICTION_SQE_FLAGS_REQUIRED;
	res[n++].sqe_flags = IOSQE_FIXED_FILE;
	r = io_uring_register_files(&b->ring, &b->fd, 1);
	if (r == 0)
		r = io_uring_register_eventfd(&b->ring, b->efd);
	if (r == 0)
		r = ring_register(&b->ring, IORING_REGISTER_RESTRICTIONS, res, n);
	if (r == 0)
		r = ring_register(&b->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (r < 0) {
		io_uring_queue_exit(&b->ring);
		return r;
	}
	b->restricted = true;
	return 0;
}

static int uring_setup_plain(struct cvmm_blk_backend *b)
{
	int r;

	r = io_uring_queue_init(b->depth, &b->ring, 0);
	if (r < 0)
		return r;
	r = io_uring_register_eventfd(&b->ring, b->efd);
	if (r < 0)
		io_uring_queue_exit(&b->ring);
	return r;
}

static int uring_setup(struct cvmm_blk_backend *b)
{
	static bool warned;
	int r;

	b->efd = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (b->efd < 0)
		return b->efd;
	r = uring_setup_restricted(b);
	if (r < 0) {
		/* Kernels before 5.10 refuse R_DISABLED with -EINVAL. The
		 * device still works; only the ring is not locked down. */
		if (!__atomic_exchange_n(&warned, true, __ATOMIC_RELAXED))
			CVMM_LOG(CVMM_LOG_WARN, VD_CRATE,
				 "io_uring restrictions unavailable (%d): "
				 "ring operations not restricted", r);
		r = uring_setup_plain(b);
	}
	if (r < 0) {
		cvmm_close(b->efd);
		b->efd = -1;
	}
	return r;
}

struct io_uring *cvmm_vd_blk_backend_ring(struct cvmm_blk_backend *b)
{
	return b->engine == CVMM_BLK_ENGINE_URING ? &b->ring : NULL;
}

bool cvmm_vd_blk_backend_ring_restricted(const struct cvmm_blk_backend *b)
{
	return b->engine == CVMM_BLK_ENGINE_URING && b->restricted;
}

int cvmm_blk_backend_open(const struct cvmm_blk_backend_opts *o,
			  struct cvmm_blk_backend **out)
{
	struct cvmm_blk_backend *b;
	const char *serial;
	int r;

	if (!o || !out || o->sz < sizeof(*o) || (!o->path == (o->fd < 0)) ||
	    o->engine > CVMM_BLK_ENGINE_SYNC || o->queue_depth > 4096)
		return -EINVAL;
	serial = o->serial ? o->serial : "cvmm";
	if (strlen(serial) > CVMM_BLK_ID_BYTES)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->fd = b->efd = b->lock_fd = b->lock_on = -1;
	b->read_only = o->read_only;
	b->direct = o->direct;
	b->depth = o->queue_depth ? o->queue_depth : 128;
	memcpy(b->serial, serial, strlen(serial));
	r = open_image(o, b);
	if (r < 0)
		goto fail;
	b->engine = CVMM_BLK_ENGINE_SYNC;
	if (o->engine != CVMM_BLK_ENGINE_SYNC) {
		r = uring_setup(b);
		if (r == 0) {
			b->engine = CVMM_BLK_ENGINE_URING;
		} else if (o->engine == CVMM_BLK_ENGINE_URING) {
			goto fail;
		} else {
			CVMM_LOG(CVMM_LOG_INFO, VD_CRATE,
				 "io_uring unavailable (%d), synchronous I/O", r);
		}
	}
	*out = b;
	return 0;
fail:
	cvmm_close(b->fd);
	cvmm_close(b->lock_fd);
	free(b);
	return r;
}

void cvmm_blk_backend_close(struct cvmm_blk_backend *b)
{
	struct cvmm_blk_request *done[32];

	if (!b)
		return;
	if (b->engine == CVMM_BLK_ENGINE_URING) {
		(void)cvmm_blk_backend_kick(b);
		while (b->in_flight && cvmm_blk_backend_reap(b, done, 32, true) >= 0)
			;
		io_uring_queue_exit(&b->ring);
		cvmm_close(b->efd);
	}
	cvmm_close(b->fd);
	cvmm_close(b->lock_fd);
	free(b);
}

uint64_t cvmm_blk_backend_capacity(const struct cvmm_blk_backend *b)
{
	return b->capacity;
}

bool cvmm_blk_backend_read_only(const struct cvmm_blk_backend *b)
{
	return b->read_only;
}

enum cvmm_blk_engine cvmm_blk_backend_engine(const struct cvmm_blk_backend *b)
{
	return b->engine;
}

int cvmm_blk_backend_completion_fd(const struct cvmm_blk_backend *b)
{
	return b->engine == CVMM_BLK_ENGINE_URING ? b->efd : -1;
}

unsigned int cvmm_blk_backend_in_flight(const struct cvmm_blk_backend *b)
{
	return b->in_flight;
}

/* ------------------------------------------------------------------------ */
/* Synchronous execution                                                     */
/* ------------------------------------------------------------------------ */

static bool in_disk(const struct cvmm_blk_backend *b, uint64_t sector, uint64_t bytes)
{
	return bytes % CVMM_BLK_SECTOR_SIZE == 0 &&
	       cvmm_range_ok(sector, bytes / CVMM_BLK_SECTOR_SIZE, b->capacity);
}

/* preadv/pwritev of the request's data, starting @skip bytes in. */
static int rw_sync(struct cvmm_blk_backend *b, struct cvmm_blk_request *req,
		   uint64_t skip)
{
	struct iovec iov[CVMM_BLK_SEG_MAX + 2];
	unsigned int n = 0, first = 0;
	uint64_t off = req->sector * CVMM_BLK_SECTOR_SIZE + skip;
	uint64_t left = req->data_len - skip;
	bool wr = req->type == CVMM_VIRTIO_BLK_T_OUT;

	memcpy(iov, req->iov, req->niov * sizeof(iov[0]));
	n = req->niov;
	while (first < n && skip >= iov[first].iov_len)
		skip -= iov[first++].iov_len;
	if (first < n) {
		iov[first].iov_base = (uint8_t *)iov[first].iov_base + skip;
		iov[first].iov_len -= skip;
	}
	while (left > 0) {
		ssize_t got;

		if (first >= n)
			return -EIO;
		got = wr ? pwritev(b->fd, iov + first, (int)(n - first), (off_t)off)
			 : preadv(b->fd, iov + first, (int)(n - first), (off_t)off);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (got == 0)
			return -EIO; /* the image shrank under us */
		off += (uint64_t)got;
		left -= (uint64_t)got;
		while (got > 0 && first < n) {
			if ((size_t)got >= iov[first].iov_len) {
				got -= (ssize_t)iov[first].iov_len;
				first++;
			} else {
				iov[first].iov_base = (uint8_t *)iov[first].iov_base + got;
				iov[first].iov_len -= (size_t)got;
				got = 0;
			}
		}
	}
	return 0;
}

static int write_zeros(struct cvmm_blk_backend *b, uint64_t off, uint64_t len)
{
	static const uint8_t zero[65536] __attribute__((aligned(4096)));

	while (len) {
		size_t n = (size_t)CVMM_MIN(len, (uint64_t)sizeof(zero));
		ssize_t w = pwrite(b->fd, zero, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		off += (uint64_t)w;
		len -= (uint64_t)w;
	}
	return 0;
}

static int range_op(struct cvmm_blk_backend *b, uint32_t type,
		    const struct cvmm_blk_seg *s)
{
	uint64_t off = s->sector * CVMM_BLK_SECTOR_SIZE;
	uint64_t len = (uint64_t)s->num_sectors * CVMM_BLK_SECTOR_SIZE;
	int mode;

	if (!len)
		return 0;
	if (!in_disk(b, s->sector, len))
		return -EIO;
	if (type == CVMM_VIRTIO_BLK_T_DISCARD) {
		/* Discard is advisory: a file system without hole punching
		 * simply keeps the data. */
		if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      (off_t)off, (off_t)len) < 0 && errno != EOPNOTSUPP)
			return -errno;
		return 0;
	}
	mode = (s->flags & CVMM_VIRTIO_BLK_WZ_F_UNMAP) ? FALLOC_FL_PUNCH_HOLE
						       : FALLOC_FL_ZERO_RANGE;
	if (fallocate(b->fd, mode | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
		return 0;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return -errno;
	if (mode != FALLOC_FL_PUNCH_HOLE &&
	    fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off,
		      (off_t)len) == 0)
		return 0;
	return write_zeros(b, off, len);
}

static int exec_sync(struct cvmm_blk_backend *b, struct cvmm_blk_request *req)
{
	uint8_t id[CVMM_BLK_ID_BYTES];
	ssize_t w;

	switch (req->type) {
	case CVMM_VIRTIO_BLK_T_IN:
	case CVMM_VIRTIO_BLK_T_OUT:
		if (req->type == CVMM_VIRTIO_BLK_T_OUT && b->read_only)
			return -EROFS;
		if (!in_disk(b, req->sector, req->data_len))
			return -EIO;
		return rw_sync(b, req, 0);
	case CVMM_VIRTIO_BLK_T_FLUSH:
		return fdatasync(b->fd) < 0 ? -errno : 0;
	case CVMM_VIRTIO_BLK_T_GET_ID:
		memcpy(id, b->serial, sizeof(id));
		w = cvmm_virtq_writer_write(&req->data, id, (size_t)req->data_len);
		if (w < 0)
			return (int)w;
		req->done_len = (uint64_t)w;
		return 0;
	case CVMM_VIRTIO_BLK_T_DISCARD:
	case CVMM_VIRTIO_BLK_T_WRITE_ZEROES:
		if (b->read_only)
			return -EROFS;
		for (unsigned int i = 0; i < req->nsegs; i++) {
			int r = range_op(b, req->type, &req->segs[i]);

			if (r < 0)
				return r;
		}
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* ------------------------------------------------------------------------ */
/* Submission                                                                */
/* ------------------------------------------------------------------------ */

int cvmm_blk_backend_submit(struct cvmm_blk_backend *b, struct cvmm_blk_request *req)
{
	struct io_uring_sqe *sqe;
	uint64_t off;
	int fd, r;

	if (!b || !req || !req->executable)
		return -EINVAL;
	if (b->engine == CVMM_BLK_ENGINE_URING &&
	    (req->type == CVMM_VIRTIO_BLK_T_IN || req->type == CVMM_VIRTIO_BLK_T_OUT ||
	     req->type == CVMM_VIRTIO_BLK_T_FLUSH) &&
	    (req->type == CVMM_VIRTIO_BLK_T_FLUSH || req->niov > 0)) {
		if (req->type != CVMM_VIRTIO_BLK_T_FLUSH &&
		    (!in_disk(b, req->sector, req->data_len) ||
		     (req->type == CVMM_VIRTIO_BLK_T_OUT && b->read_only))) {
			req->status = CVMM_VIRTIO_BLK_S_IOERR;
			return 1;
		}
		if (b->in_flight >= b->depth)
			return -EAGAIN;
		sqe = io_uring_get_sqe(&b->ring);
		if (!sqe) {
			r = cvmm_blk_backend_kick(b);
			if (r < 0)
				return r;
			sqe = io_uring_get_sqe(&b->ring);
			if (!sqe)
				return -EAGAIN;
		}
		off = req->sector * CVMM_BLK_SECTOR_SIZE;
		fd = b->restricted ? IMAGE_SLOT : b->fd;
		if (req->type == CVMM_VIRTIO_BLK_T_IN)
			io_uring_prep_readv(sqe, fd, req->iov, req->niov, off);
		else if (req->type == CVMM_VIRTIO_BLK_T_OUT)
			io_uring_prep_writev(sqe, fd, req->iov, req->niov, off);
		else
			io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
		if (b->restricted)
			io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
		io_uring_sqe_set_data(sqe, req);
		b->in_flight++;
		b->unsubmitted++;
		return 0;
	}
	r = exec_sync(b, req);
	if (r < 0)
		CVMM_LOG(CVMM_LOG_DEBUG, VD_CRATE, "blk request type %u: %d", req->type, r);
	req->status = r < 0 ? CVMM_VIRTIO_BLK_S_IOERR : CVMM_VIRTIO_BLK_S_OK;
	return 1;
}

int cvmm_blk_backend_kick(struct cvmm_blk_backend *b)
{
	int r;

	if (b->engine != CVMM_BLK_ENGINE_URING || b->unsubmitted == 0)
		return 0;
	/* Completions posted inline by the submission (page-cache hits) are
	 * reaped by the caller right after; signalling the eventfd for each
	 * would only wake the loop for nothing. */
	(void)io_uring_cq_eventfd_toggle(&b->ring, false);
	do {
		r = io_uring_submit(&b->ring);
	} while (r == -EINTR);
	(void)io_uring_cq_eventfd_toggle(&b->ring, true);
	if (r < 0)
		return r;
	b->unsubmitted = 0;
	return 0;
}

static void finish(struct cvmm_blk_backend *b, struct cvmm_blk_request *req, int res)
{
	int r = 0;

	if (res < 0) {
		r = res;
	} else if (req->type != CVMM_VIRTIO_BLK_T_FLUSH &&
		   (uint64_t)res < req->data_len) {
		/* Short transfer: finish the rest here rather than requeue. */
		r = rw_sync(b, req, (uint64_t)res);
	}
	if (r < 0)
		CVMM_LOG(CVMM_LOG_DEBUG, VD_CRATE, "blk request type %u: %d", req->type, r);
	req->status = r < 0 ? CVMM_VIRTIO_BLK_S_IOERR : CVMM_VIRTIO_BLK_S_OK;
}

int cvmm_blk_backend_reap(struct cvmm_blk_backend *b, struct cvmm_blk_request **done,
			  unsigned int max, bool wait)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;
	int r;

	if (!b || !done)
		return -EINVAL;
	if (b->engine != CVMM_BLK_ENGINE_URING)
		return 0;
	while (n < max && b->in_flight > 0) {
		if (wait && n == 0) {
			r = cvmm_blk_backend_kick(b);
			if (r < 0)
				return r;
			do {
				r = io_uring_wait_cqe(&b->ring, &cqe);
			} while (r == -EINTR);
		} else {
			r = io_uring_peek_cqe(&b->ring, &cqe);
		}
		if (r == -EAGAIN)
			break;
		if (r < 0)
			return n ? (int)n : r;
		done[n] = io_uring_cqe_get_data(cqe);
		finish(b, done[n], cqe->res);
		io_uring_cqe_seen(&b->ring, cqe);
		b->in_flight--;
		n++;
	}
	return (int)n;
}
