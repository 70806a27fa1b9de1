/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-vhost-user-blk: a vhost-user-blk device daemon. The framework
 * (vhost-user-backend) does the protocol and the vrings; the block logic is
 * virtio-devices' own (config space, request parser, io_uring/sync
 * executor and the drain loop: a cvmm_blk_queue per vring), the same code
 * the in-VMM virtio-blk runs. What is left here is argument parsing and
 * wiring.
 *
 * Test hook: with CVMM_VHOST_USER_BLK_TEST_STALL=1 in the environment the
 * daemon pops requests and never executes them (simulated hung I/O), so a
 * test can kill it with requests certainly in flight; with =writes only
 * writes hang (a guest can still boot and read).
 * CVMM_VHOST_USER_BLK_LOG=debug|info|warn|error sets the log level (warn).
 */
#include <cvmm/event-manager.h>
#include <cvmm/sys-util.h>
#include <cvmm/vhost-user-backend.h>
#include <cvmm/virtio-devices/blk.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "vub-daemon.h"

struct blkd {
	int img_fd;
	bool read_only, direct, stall, stall_writes;
	unsigned int queues;
	/* One per vring, opened at start-up: opening reopens the image
	 * through /proc, which no thread may do once it is filtered. */
	struct cvmm_blk_backend *be[256];
	uint64_t capacity;
	uint64_t features;   /* acked */
};

/* Per vring: virtio-devices' blk queue worker over the vring (the same
 * drain loop the in-VMM device runs), on the vring's own io_uring. */
struct blkq {
	struct blkd *bd;
	struct cvmm_vub_vring *vr;
	struct cvmm_blk_queue *w;
	int cfd;
};

/* The same config space the in-VMM device shows for these features. */
static int get_config(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct blkd *bd = opaque;
	uint8_t cfg[CVMM_VIRTIO_BLK_CFG_SIZE];

	cvmm_blk_config_build(cfg, bd->capacity, bd->features, (uint16_t)bd->queues);
	return cvmm_vubd_config_read(cfg, sizeof(cfg), off, buf, len);
}

static int set_features(void *opaque, uint64_t f)
{
	((struct blkd *)opaque)->features = f;
	return 0;
}

/* The worker's view of the vring. */
static int vq_pop(void *ctx, struct cvmm_virtq_chain *c)
{
	return cvmm_vub_vring_pop(((struct blkq *)ctx)->vr, c);
}

static void vq_disable(void *ctx)
{
	cvmm_vub_vring_disable_notification(((struct blkq *)ctx)->vr);
}

static int vq_enable(void *ctx)
{
	return cvmm_vub_vring_enable_notification(((struct blkq *)ctx)->vr);
}

static void vq_push_begin(void *ctx, uint16_t id)
{
	cvmm_vub_vring_push_begin(((struct blkq *)ctx)->vr, id);
}

static void vq_push_end(void *ctx, uint16_t id)
{
	cvmm_vub_vring_push_end(((struct blkq *)ctx)->vr, id);
}

static const struct cvmm_blk_queue_ops vring_ops = {
	.sz = sizeof(vring_ops),
	.pop = vq_pop,
	.disable_notification = vq_disable,
	.enable_notification = vq_enable,
	.push_begin = vq_push_begin,
	.push_end = vq_push_end,
};

static void vq_notify(void *ctx)
{
	(void)cvmm_vub_vring_signal(((struct blkq *)ctx)->vr);
}

/* An unanswerable chain went back empty: serve on (there is no
 * NEEDS_RESET to raise from here). A broken ring stops. */
static bool vq_error(void *ctx, int err, bool queue_broken)
{
	struct blkq *q = ctx;

	if (!queue_broken)
		return false;
	fprintf(stderr, "cvmm-vhost-user-blk: queue %u broken: %s\n",
		cvmm_vub_vring_index(q->vr), strerror(-err));
	return true;
}

/* CVMM_VHOST_USER_BLK_TEST_STALL: requests popped and never done. */
static bool vq_hold(void *ctx, const struct cvmm_blk_request *req)
{
	struct blkd *bd = ((struct blkq *)ctx)->bd;

	return bd->stall ||
	       (bd->stall_writes && req->executable && req->type == CVMM_VIRTIO_BLK_T_OUT);
}

static void on_completion(struct cvmm_event_manager *em, int fd, uint32_t ev, void *opaque)
{
	(void)em;
	(void)fd;
	(void)ev;
	cvmm_blk_queue_complete(((struct blkq *)opaque)->w);
}

static int queue_start(void *opaque, struct cvmm_vub_vring *vr)
{
	struct blkd *bd = opaque;
	struct blkq *q = calloc(1, sizeof(*q));
	struct cvmm_blk_queue_opts o = {
		.sz = sizeof(o), .backend = bd->be[cvmm_vub_vring_index(vr)],
		.mem = cvmm_vub_vring_mem(vr), .ops = &vring_ops,
		.slots = cvmm_vub_vring_size(vr), .features = bd->features,
		.read_only = bd->read_only, .ctx = q, .notify = vq_notify,
		.error = vq_error,
		/* only under the test hook: a call per request otherwise */
		.hold = bd->stall || bd->stall_writes ? vq_hold : NULL,
	};
	int ret;

	if (!q)
		return -ENOMEM;
	q->bd = bd;
	q->vr = vr;
	q->cfd = -1;
	ret = cvmm_blk_queue_create(&o, &q->w);
	if (ret < 0)
		goto fail;
	q->cfd = cvmm_blk_backend_completion_fd(o.backend);
	if (q->cfd >= 0) {
		ret = cvmm_event_manager_add(cvmm_vub_vring_em(vr), q->cfd, EPOLLIN,
					     on_completion, q);
		if (ret < 0)
			goto fail;
	}
	cvmm_vub_vring_set_priv(vr, q);
	return 0;
fail:
	cvmm_blk_queue_destroy(q->w, false);
	free(q);
	return ret;
}

static void queue_stop(void *opaque, struct cvmm_vub_vring *vr)
{
	struct blkq *q = cvmm_vub_vring_priv(vr);

	(void)opaque;
	if (!q)
		return;
	/* Every popped request finishes and is pushed before the ring stops. */
	cvmm_blk_queue_destroy(q->w, true);
	if (q->cfd >= 0)
		(void)cvmm_event_manager_remove(cvmm_vub_vring_em(vr), q->cfd);
	free(q);
	cvmm_vub_vring_set_priv(vr, NULL);
}

static void queue_kick(void *opaque, struct cvmm_vub_vring *vr)
{
	struct blkq *q = cvmm_vub_vring_priv(vr);

	(void)opaque;
	if (q)
		cvmm_blk_queue_process(q->w);
}

static const struct cvmm_vub_device_ops blk_ops = {
	.sz = sizeof(struct cvmm_vub_device_ops),
	.get_config = get_config,
	.set_features = set_features,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_kick = queue_kick,
};

static void close_backends(struct blkd *bd)
{
	for (unsigned int i = 0; i < bd->queues; i++)
		cvmm_blk_backend_close(bd->be[i]);
	close(bd->img_fd);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: cvmm-vhost-user-blk --socket PATH --disk FILE [--readonly] "
		   "[--queues N] [--direct]\n"
		   "                           [--locking on|off] [--seccomp on|log|off] "
		   "[--seccomp-filter FILE.json]\n"
		   "  --locking off          no advisory lock on the image (QEMU's locking=off):\n"
		   "                         another daemon may serve it at once, e.g. the\n"
		   "                         destination's during a migration on one host\n"
		   "  --seccomp MODE         on (default: a forbidden syscall ends the daemon with a\n"
		   "                         message naming it, exit 159), log or off\n"
		   "  --seccomp-filter FILE  per-thread filters (main, worker, signals) from a\n"
		   "                         Firecracker-format JSON file instead of the built-in ones\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "disk", required_argument, NULL, 'd' },
		{ "readonly", no_argument, NULL, 'r' },
		{ "queues", required_argument, NULL, 'q' },
		{ "direct", no_argument, NULL, 'D' },
		{ "locking", required_argument, NULL, 'L' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "seccomp-filter", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct blkd bd = { .img_fd = -1, .queues = 1 };
	const char *sock = NULL, *disk = NULL, *stall = getenv("CVMM_VHOST_USER_BLK_TEST_STALL");
	const char *filter = NULL;
	enum cvmm_sandbox_mode seccomp = CVMM_SANDBOX_ON;
	bool locking = true;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 's': sock = optarg; break;
		case 'd': disk = optarg; break;
		case 'r': bd.read_only = true; break;
		case 'D': bd.direct = true; break;
		case 'L':
			if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
				fprintf(stderr, "cvmm-vhost-user-blk: --locking: '%s' is not on or off\n",
					optarg);
				return 2;
			}
			locking = !strcmp(optarg, "on");
			break;
		case 'S':
			if (cvmm_sandbox_parse_mode(optarg, &seccomp)) {
				fprintf(stderr, "cvmm-vhost-user-blk: --seccomp: '%s' is not on, log or off\n",
					optarg);
				return 1;
			}
			break;
		case 'F': filter = optarg; break;
		case 'q':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || v == 0 || v > 256) {
				fprintf(stderr, "cvmm-vhost-user-blk: --queues: expected 1..256, got '%s'\n",
					optarg);
				return 2;
			}
			bd.queues = (unsigned int)v;
			break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, "cvmm-vhost-user-blk: bad option '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "cvmm-vhost-user-blk: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!sock || !disk) {
		fprintf(stderr, "cvmm-vhost-user-blk: --socket and --disk are required\n");
		return 2;
	}
	bd.stall = stall && strcmp(stall, "1") == 0;
	bd.stall_writes = stall && strcmp(stall, "writes") == 0;
	bd.img_fd = open(disk, (bd.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (bd.img_fd < 0) {
		fprintf(stderr, "cvmm-vhost-user-blk: %s: %s\n", disk, strerror(errno));
		return 1;
	}
	/* Each queue's own view of the image (O_DIRECT, access mode) and
	 * io_uring (128 entries; a longer ring waits for completions). */
	struct cvmm_blk_backend_opts bo = { .sz = sizeof(bo), .fd = bd.img_fd,
					    .read_only = bd.read_only, .direct = bd.direct,
					    .lock_later = !locking /* and never taken */ };
	for (unsigned int i = 0; i < bd.queues; i++) {
		ret = cvmm_blk_backend_open(&bo, &bd.be[i]);
		if (ret < 0) {
			fprintf(stderr, "cvmm-vhost-user-blk: %s: %s\n", disk,
				ret == -EBUSY ? "in use by another process (locked)" :
				ret == -EINVAL && !bd.direct ? "not a regular file or block device" :
				strerror(-ret));
			close_backends(&bd);
			return 1;
		}
	}
	bd.capacity = cvmm_blk_backend_capacity(bd.be[0]);

	cvmm_log_stderr_from_env("CVMM_VHOST_USER_BLK_LOG", CVMM_LOG_WARN);
	uint64_t features = CVMM_VIRTIO_BLK_F_SEG_MAX | CVMM_VIRTIO_BLK_F_BLK_SIZE |
			    CVMM_VIRTIO_BLK_F_FLUSH | CVMM_VIRTIO_BLK_F_DISCARD |
			    CVMM_VIRTIO_BLK_F_WRITE_ZEROES;
	if (bd.read_only)
		features |= CVMM_VIRTIO_BLK_F_RO;
	if (bd.queues > 1)
		features |= CVMM_VIRTIO_BLK_F_MQ;
	struct cvmm_vub_opts o = {
		.sz = sizeof(o), .socket_path = sock, .listen_fd = -1,
		.flags = CVMM_VUB_F_SIGNALS, .num_queues = bd.queues,
		.features = features, .ops = &blk_ops, .opaque = &bd,
	};
	ret = cvmm_vubd_run("cvmm-vhost-user-blk", "vhost-user-blk", &o, seccomp, filter);
	close_backends(&bd);
	return ret;
}
