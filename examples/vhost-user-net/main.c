/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-vhost-user-net: a vhost-user-net device daemon on a TAP device.
 * The framework (vhost-user-backend) does the protocol and the vrings;
 * virtio-devices supplies the TAP opening and the transmit header check the
 * in-VMM virtio-net uses. Queue pair i: receiveq 2i, transmitq 2i + 1, each
 * pair with its own TAP fd (IFF_MULTI_QUEUE when there are several).
 *
 * RX: the TAP fd of a pair is polled on the receiveq's worker loop only
 * while the guest has buffers; with none, the fd leaves the loop and a
 * receiveq kick brings it back (no busy loop). A frame read from the TAP
 * waits in a bounce buffer for enough buffers (several with MRG_RXBUF).
 * TX: chains go to the TAP with writev straight from guest memory after the
 * header is copied out and checked.
 * A hostile chain (header cut short, frame too long, receive buffer without
 * room for the header, ring errors) breaks only its queue until the next
 * connection. CVMM_VHOST_USER_NET_LOG=debug|info|warn|error (warn).
 */
#include <cvmm/event-manager.h>
#include <cvmm/sys-util.h>
#include <cvmm/vhost-user-backend.h>
#include <cvmm/virtio-devices/net.h>

#include <errno.h>
#include <getopt.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "vub-daemon.h"

#define PROG "cvmm-vhost-user-net"
#define CFG_SIZE 12u
#define CFG_MAX_PAIRS 8u
#define MAX_IOV 64u

struct netd {
	unsigned int pairs;
	int fds[CVMM_NET_MAX_PAIRS];
	char ifname[IFNAMSIZ];
	bool has_mac;
	uint8_t mac[6];
	uint64_t features; /* acked */
	uint8_t config[CFG_SIZE];
};

struct netq {
	struct netd *nd;
	struct cvmm_vub_vring *vr;
	int fd;
	bool rx, broken, polling;
	uint32_t hdr_len;
	uint64_t features; /* as acked when the vring started (SET_FEATURES may
			    * arrive later, e.g. LOG_ALL, on the protocol thread) */
	/* RX: the frame waiting for buffers (header included), and the chains
	 * popped for it so far. */
	uint8_t *buf;
	size_t len;
	struct cvmm_virtq_chain *held;
	uint32_t *held_room;
	unsigned int nheld;
	uint64_t room;
	uint64_t frames, dropped;
};

static int get_config(void *opaque, uint32_t off, void *buf, uint32_t len)
{
	struct netd *nd = opaque;

	return cvmm_vubd_config_read(nd->config, sizeof(nd->config), off, buf, len);
}

/* The in-VMM device's mapping of the guest's receive offloads to the TAP
 * (cvmm_net_tap_set_offload is internal to virtio-devices). */
static int tap_set_offload(int fd, uint64_t f)
{
	unsigned long t = 0;

	if (f & CVMM_VIRTIO_NET_F_GUEST_CSUM) {
		t |= TUN_F_CSUM;
		if (f & CVMM_VIRTIO_NET_F_GUEST_TSO4)
			t |= TUN_F_TSO4;
		if (f & CVMM_VIRTIO_NET_F_GUEST_TSO6)
			t |= TUN_F_TSO6;
		if ((f & CVMM_VIRTIO_NET_F_GUEST_ECN) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
			t |= TUN_F_TSO_ECN;
	}
	return ioctl(fd, TUNSETOFFLOAD, t) < 0 ? -errno : 0;
}

static int tap_set_hdr_len(int fd, int len)
{
	return ioctl(fd, TUNSETVNETHDRSZ, &len) < 0 ? -errno : 0;
}

static uint32_t hdr_len_of(uint64_t f)
{
	return (f & (CVMM_VIRTIO_F_VERSION_1 | CVMM_VIRTIO_NET_F_MRG_RXBUF)) ? 12u : 10u;
}

static int set_features(void *opaque, uint64_t f)
{
	struct netd *nd = opaque;
	int ret;

	nd->features = f;
	/* Offloads and header size are per device: every fd sees them. */
	for (unsigned int i = 0; i < nd->pairs; i++)
		if ((ret = tap_set_hdr_len(nd->fds[i], (int)hdr_len_of(f))) < 0)
			return ret;
	return tap_set_offload(nd->fds[0], f);
}

/* Several pairs: a TAP queue whose receiveq is not running is detached so
 * the kernel does not steer frames to it (queue 0 always stays, so a
 * frontend that uses fewer pairs still gets every frame on pair 0). */
static void tap_attach(struct netd *nd, int fd, bool on)
{
	struct ifreq ifr;

	if (nd->pairs < 2 || fd == nd->fds[0])
		return;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	(void)ioctl(fd, TUNSETQUEUE, &ifr); /* -EINVAL: already so */
}

static void set_polling(struct netq *q, bool on);

static void break_queue(struct netq *q, const char *why, int err)
{
	q->broken = true;
	if (q->rx)
		set_polling(q, false); /* a readable TAP must not spin the loop */
	fprintf(stderr, PROG ": queue %u broken: %s%s%s\n", cvmm_vub_vring_index(q->vr), why,
		err ? ": " : "", err ? strerror(-err) : "");
}

static void set_polling(struct netq *q, bool on)
{
	struct cvmm_event_manager *em = cvmm_vub_vring_em(q->vr);

	if (on == q->polling)
		return;
	q->polling = on;
	if (on)
		(void)cvmm_event_manager_modify(em, q->fd, EPOLLIN);
	else
		(void)cvmm_event_manager_modify(em, q->fd, 0);
}

/* Pop one more receive chain for the waiting frame. 1: got one; 0: none
 * (kicks armed); negative: queue broken. */
static int rx_take_chain(struct netq *q)
{
	struct cvmm_virtq_chain *c = &q->held[q->nheld];
	uint64_t rd, wr;
	int r;

	for (;;) {
		r = cvmm_vub_vring_pop(q->vr, c);
		if (r < 0)
			return r;
		if (r == 1)
			break;
		r = cvmm_vub_vring_enable_notification(q->vr);
		if (r <= 0)
			return r;
	}
	r = cvmm_virtq_chain_lengths(c, &rd, &wr);
	if (r < 0)
		return r;
	if (q->nheld == 0 && wr < q->hdr_len) {
		(void)cvmm_vub_vring_push(q->vr, c, 0);
		return -EMSGSIZE;
	}
	q->held_room[q->nheld++] = wr > UINT32_MAX ? UINT32_MAX : (uint32_t)wr;
	q->room += wr;
	return 1;
}

/* Deliver q->buf[0, len) into the first held chains that hold it; chains
 * left over (a larger frame was dropped before) stay held for the next. */
static int rx_deliver(struct netq *q)
{
	unsigned int used = 0;
	size_t off = 0;
	uint64_t room = 0;
	int ret;

	while (used < q->nheld && room < q->len)
		room += q->held_room[used++];
	if (q->hdr_len == 12) {
		q->buf[10] = (uint8_t)used;
		q->buf[11] = (uint8_t)(used >> 8);
	}
	for (unsigned int i = 0; i < used; i++) {
		struct cvmm_virtq_rw w;
		size_t n = q->len - off;
		ssize_t got;

		if (n > q->held_room[i])
			n = q->held_room[i];
		ret = cvmm_virtq_writer_init(&w, &q->held[i]);
		if (ret < 0)
			return ret;
		got = cvmm_virtq_writer_write(&w, q->buf + off, n);
		if (got < 0)
			return (int)got;
		off += (size_t)got;
		ret = cvmm_vub_vring_push(q->vr, &q->held[i], (uint32_t)got);
		if (ret < 0)
			return ret;
	}
	q->nheld -= used;
	memmove(q->held, q->held + used, q->nheld * sizeof(*q->held));
	memmove(q->held_room, q->held_room + used, q->nheld * sizeof(*q->held_room));
	q->room -= room;
	q->len = 0;
	q->frames++;
	return 0;
}

static void rx_process(struct netq *q)
{
	bool mrg = q->features & CVMM_VIRTIO_NET_F_MRG_RXBUF;
	uint16_t qsize = cvmm_vub_vring_size(q->vr);
	unsigned int pushed = 0;
	int r;

	while (!q->broken) {
		if (q->len == 0) {
			ssize_t n = read(q->fd, q->buf, q->hdr_len + CVMM_NET_MAX_FRAME);

			if (n < 0) {
				/* EAGAIN: drained; poll for the next frame. */
				set_polling(q, true);
				break;
			}
			if ((size_t)n <= q->hdr_len)
				continue;
			q->len = (size_t)n;
		}
		while (q->room < q->len && (mrg || q->nheld == 0) && q->nheld < qsize) {
			r = rx_take_chain(q);
			if (r == 0) {
				/* No buffers: leave the TAP alone until a kick. */
				set_polling(q, false);
				goto out;
			}
			if (r < 0) {
				break_queue(q, "receive chain", r);
				goto out;
			}
		}
		if (q->room < q->len) {
			/* Buffer too small (no MRG_RXBUF) or the whole ring is
			 * not enough: drop, keep the chains for the next frame. */
			q->dropped++;
			q->len = 0;
			continue;
		}
		r = rx_deliver(q);
		if (r < 0) {
			break_queue(q, "receive write", r);
			break;
		}
		/* Under a flood the TAP never drains: let the guest see frames
		 * every batch instead of only when its buffers run out. */
		if (++pushed % 32 == 0)
			(void)cvmm_vub_vring_signal(q->vr);
	}
out:
	if (pushed % 32)
		(void)cvmm_vub_vring_signal(q->vr);
}

static void on_tap(struct cvmm_event_manager *em, int fd, uint32_t ev, void *opaque)
{
	(void)em;
	(void)fd;
	(void)ev;
	rx_process(opaque);
}

/* One transmit chain to the TAP. 0: done (sent or dropped); <0: hostile. */
static int tx_one(struct netq *q, struct cvmm_virtq_chain *c)
{
	struct cvmm_virtio_net_hdr h;
	struct cvmm_virtq_rw rw;
	struct iovec iov[MAX_IOV + 1];
	uint64_t total;
	size_t frame;
	ssize_t got;
	int n, ret;

	ret = cvmm_virtq_reader_init(&rw, c);
	if (ret < 0)
		return ret;
	total = cvmm_virtq_rw_remaining(&rw);
	if (total <= q->hdr_len || total > q->hdr_len + (uint64_t)CVMM_NET_MAX_FRAME)
		return -EMSGSIZE;
	frame = (size_t)(total - q->hdr_len);
	memset(&h, 0, sizeof(h));
	/* Copied out: the guest cannot change it between check and write. */
	got = cvmm_virtq_reader_read(&rw, &h, q->hdr_len);
	if (got < 0)
		return (int)got;
	h.num_buffers = 0;
	if (cvmm_net_tx_hdr_check(&h, (uint32_t)frame, q->features) < 0) {
		q->dropped++;
		return 0;
	}
	iov[0].iov_base = &h;
	iov[0].iov_len = q->hdr_len;
	n = cvmm_virtq_rw_iovec(&rw, frame, iov + 1, MAX_IOV);
	if (n < 0)
		return n;
	size_t spans = 0;

	for (int i = 1; i <= n; i++)
		spans += iov[i].iov_len;
	if (spans == frame) {
		got = writev(q->fd, iov, n + 1);
	} else {
		/* Too fragmented for one writev: bounce. */
		memcpy(q->buf, &h, q->hdr_len);
		got = cvmm_virtq_reader_read(&rw, q->buf + q->hdr_len, frame);
		if (got < 0)
			return (int)got;
		got = write(q->fd, q->buf, q->hdr_len + frame);
	}
	if (got < 0)
		q->dropped++;
	else
		q->frames++;
	return 0;
}

static int tx_chain(void *opaque, struct cvmm_vub_vring *vr, struct cvmm_virtq_chain *c)
{
	int s = tx_one(opaque, c);
	/* Given back even when it could not be sent. */
	int r = cvmm_vub_vring_push(vr, c, 0);

	return s < 0 ? s : r;
}

static void tx_process(struct netq *q)
{
	int r = cvmm_vub_vring_drain(q->vr, tx_chain, q);

	if (r < 0)
		break_queue(q, "transmit chain", r);
}

static int queue_start(void *opaque, struct cvmm_vub_vring *vr)
{
	struct netd *nd = opaque;
	unsigned int idx = cvmm_vub_vring_index(vr);
	struct netq *q;
	int ret = -ENOMEM;

	if (idx / 2 >= nd->pairs)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->nd = nd;
	q->vr = vr;
	q->rx = idx % 2 == 0;
	q->fd = nd->fds[idx / 2];
	q->features = cvmm_vub_vring_features(vr);
	q->hdr_len = hdr_len_of(q->features);
	q->buf = malloc(12 + CVMM_NET_MAX_FRAME);
	if (!q->buf)
		goto fail;
	if (q->rx) {
		uint16_t n = cvmm_vub_vring_size(vr);

		q->held = calloc(n, sizeof(*q->held));
		q->held_room = calloc(n, sizeof(*q->held_room));
		if (!q->held || !q->held_room)
			goto fail;
		tap_attach(nd, q->fd, true);
		ret = cvmm_event_manager_add(cvmm_vub_vring_em(vr), q->fd, EPOLLIN, on_tap, q);
		if (ret < 0)
			goto fail;
		q->polling = true;
	}
	cvmm_vub_vring_set_priv(vr, q);
	return 0;
fail:
	free(q->held);
	free(q->held_room);
	free(q->buf);
	free(q);
	return ret;
}

static void queue_stop(void *opaque, struct cvmm_vub_vring *vr)
{
	struct netq *q = cvmm_vub_vring_priv(vr);

	(void)opaque;
	if (!q)
		return;
	/* Per-queue figures (info level), e.g. for a test to see that traffic
	 * spread over every queue pair. */
	CVMM_LOG(CVMM_LOG_INFO, PROG, "queue %u stopped: %llu frames, %llu dropped",
		 cvmm_vub_vring_index(vr), (unsigned long long)q->frames,
		 (unsigned long long)q->dropped);
	if (q->rx) {
		/* Chains held for a waiting frame go back unused. */
		for (unsigned int i = 0; i < q->nheld; i++)
			(void)cvmm_vub_vring_push(vr, &q->held[i], 0);
		(void)cvmm_vub_vring_signal(vr);
		(void)cvmm_event_manager_remove(cvmm_vub_vring_em(vr), q->fd);
		tap_attach(q->nd, q->fd, false);
	}
	free(q->held);
	free(q->held_room);
	free(q->buf);
	free(q);
	cvmm_vub_vring_set_priv(vr, NULL);
}

static void queue_kick(void *opaque, struct cvmm_vub_vring *vr)
{
	struct netq *q = cvmm_vub_vring_priv(vr);

	(void)opaque;
	if (!q || q->broken)
		return;
	if (q->rx)
		rx_process(q);
	else
		tx_process(q);
}

static const struct cvmm_vub_device_ops net_ops = {
	.sz = sizeof(struct cvmm_vub_device_ops),
	.get_config = get_config,
	.set_features = set_features,
	.queue_start = queue_start,
	.queue_stop = queue_stop,
	.queue_kick = queue_kick,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: " PROG " --socket PATH --tap NAME [--queues N] [--mac XX:XX:XX:XX:XX:XX]\n"
		   "                           [--seccomp on|log|off] [--seccomp-filter FILE.json]\n"
		   "  --seccomp MODE         on (default: a forbidden syscall ends the daemon with a\n"
		   "                         message naming it, exit 159), log or off\n"
		   "  --seccomp-filter FILE  per-thread filters (main, worker, signals) from a\n"
		   "                         Firecracker-format JSON file instead of the built-in ones\n");
}

static int parse_mac(const char *s, uint8_t *mac)
{
	unsigned int v[6];
	char tail;

	if (strlen(s) != 17 ||
	    sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
		   &tail) != 6)
		return -EINVAL;
	for (unsigned int i = 0; i < 6; i++) {
		if (s[3 * i] == ' ' || s[3 * i] == '+' || s[3 * i] == '-')
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	if (mac[0] & 1)
		return -EINVAL; /* multicast */
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "tap", required_argument, NULL, 't' },
		{ "queues", required_argument, NULL, 'q' },
		{ "mac", required_argument, NULL, 'm' },
		{ "seccomp", required_argument, NULL, 'S' },
		{ "seccomp-filter", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct netd nd = { .pairs = 1 };
	const char *sock = NULL, *tap = NULL, *filter = NULL;
	enum cvmm_sandbox_mode seccomp = CVMM_SANDBOX_ON;
	int opt, ret;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (opt) {
		case 's': sock = optarg; break;
		case 't': tap = optarg; break;
		case 'q':
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || v == 0 ||
			    v > CVMM_NET_MAX_PAIRS) {
				fprintf(stderr, PROG ": --queues: expected 1..%u, got '%s'\n",
					CVMM_NET_MAX_PAIRS, optarg);
				return 2;
			}
			nd.pairs = (unsigned int)v;
			break;
		case 'm':
			if (parse_mac(optarg, nd.mac) < 0) {
				fprintf(stderr, PROG ": --mac: expected a unicast XX:XX:XX:XX:XX:XX, got '%s'\n",
					optarg);
				return 2;
			}
			nd.has_mac = true;
			break;
		case 'S':
			if (cvmm_sandbox_parse_mode(optarg, &seccomp)) {
				fprintf(stderr, PROG ": --seccomp: '%s' is not on, log or off\n", optarg);
				return 1;
			}
			break;
		case 'F': filter = optarg; break;
		case 'h': usage(stdout); return 0;
		default:
			fprintf(stderr, PROG ": bad option '%s'\n", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!sock || !tap) {
		fprintf(stderr, PROG ": --socket and --tap are required\n");
		return 2;
	}
	if (!*tap || strlen(tap) >= IFNAMSIZ) {
		fprintf(stderr, PROG ": --tap: a name of 1..%d characters expected\n", IFNAMSIZ - 1);
		return 2;
	}
	ret = cvmm_net_tap_open(tap, nd.pairs, nd.fds, nd.ifname);
	if (ret < 0) {
		fprintf(stderr, PROG ": TAP %s: %s\n", tap, strerror(-ret));
		return 1;
	}
	for (unsigned int i = 0; i < nd.pairs && ret == 0; i++)
		ret = tap_set_hdr_len(nd.fds[i], 12);
	if (ret == 0)
		ret = tap_set_offload(nd.fds[0], 0);
	if (ret < 0) {
		fprintf(stderr, PROG ": TAP %s: %s\n", tap, strerror(-ret));
		return 1;
	}
	for (unsigned int i = 1; i < nd.pairs; i++)
		tap_attach(&nd, nd.fds[i], false);
	memcpy(nd.config, nd.mac, 6);
	cvmm_vubd_put_le(nd.config + CFG_MAX_PAIRS, nd.pairs, 2);

	cvmm_log_stderr_from_env("CVMM_VHOST_USER_NET_LOG", CVMM_LOG_WARN);
	uint64_t features = CVMM_VIRTIO_NET_F_CSUM | CVMM_VIRTIO_NET_F_GUEST_CSUM |
			    CVMM_VIRTIO_NET_F_HOST_TSO4 | CVMM_VIRTIO_NET_F_HOST_TSO6 |
			    CVMM_VIRTIO_NET_F_GUEST_TSO4 | CVMM_VIRTIO_NET_F_GUEST_TSO6 |
			    CVMM_VIRTIO_NET_F_MRG_RXBUF;
	if (nd.has_mac)
		features |= CVMM_VIRTIO_NET_F_MAC;
	if (nd.pairs > 1)
		features |= CVMM_VIRTIO_NET_F_MQ;
	struct cvmm_vub_opts o = {
		.sz = sizeof(o), .socket_path = sock, .listen_fd = -1,
		.flags = CVMM_VUB_F_SIGNALS, .num_queues = 2 * nd.pairs,
		.features = features, .ops = &net_ops, .opaque = &nd,
	};
	ret = cvmm_vubd_run(PROG, "vhost-user-net", &o, seccomp, filter);
	for (unsigned int i = 0; i < nd.pairs; i++)
		close(nd.fds[i]);
	return ret;
}
