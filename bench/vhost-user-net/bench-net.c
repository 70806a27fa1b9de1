/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-virtio-user-net-bench: transmit frames as fast as a vhost-user-net
 * backend takes them, through virtio-user-net (frontend + guest driver in
 * this process), and print "frames=N seconds=S pps=P".
 *
 *   cvmm-virtio-user-net-bench --socket PATH --size BYTES [--seconds N]
 *                              [--batch N] [--queue-size N] [--rx]
 *
 * --rx measures the other direction: a child process floods UDP datagrams
 * (frames of --size bytes) from the host side to 192.0.2.2 (the TAP must
 * hold 192.0.2.1/24 and a neighbour entry for 192.0.2.2) and this process
 * counts the frames that reach its receive buffers.
 *
 * Frames are UDP/IPv4 to a unicast MAC nobody owns, so the kernel counts
 * them as received on the TAP and drops them right after (the cost measured
 * is the daemon's, not the host stack's).
 */
#include "../../examples/virtio-user/virtio-user-net.h"

#include <cvmm/sys-util.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long num(const char *s, unsigned long lo, unsigned long hi, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "cvmm-virtio-user-net-bench: %s: expected %lu..%lu, got '%s'\n",
			what, lo, hi, s);
		exit(2);
	}
	return v;
}

/* The host side: datagrams to 192.0.2.2:9 as fast as the socket takes them. */
static void flood(unsigned long size)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(9) };
	static uint8_t pl[2048];
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, "192.0.2.2", &a.sin_addr);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(1);
	for (;;)
		(void)send(fd, pl, size - 42, 0);
}

static int run_rx(struct cvmm_virtio_user_net *vu, unsigned long size, unsigned long secs)
{
	static uint8_t f[70000];
	uint64_t frames = 0, t0, end, now;
	pid_t pid;
	int ret, st;

	ret = cvmm_virtio_user_net_rx_fill(vu, 0);
	if (ret < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto fail;
	}
	if (pid == 0)
		flood(size);
	t0 = cvmm_now_ns();
	end = t0 + secs * 1000000000ull;
	do {
		ret = cvmm_virtio_user_net_recv(vu, 0, f, sizeof(f), NULL, NULL, 100);
		if (ret < 0)
			break;
		frames += (ret == (int)size);
		now = cvmm_now_ns();
	} while (now < end);
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	if (ret < 0)
		goto fail;
	printf("frames=%llu seconds=%.3f pps=%.0f\n", (unsigned long long)frames,
	       (double)(now - t0) / 1e9, (double)frames * 1e9 / (double)(now - t0));
	cvmm_virtio_user_net_destroy(vu);
	return 0;
fail:
	fprintf(stderr, "cvmm-virtio-user-net-bench: %s\n", strerror(-ret));
	cvmm_virtio_user_net_destroy(vu);
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "size", required_argument, NULL, 'z' },
		{ "seconds", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "queue-size", required_argument, NULL, 'q' },
		{ "rx", no_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	unsigned long size = 64, secs = 5, batch = 32, qsize = 256;
	struct cvmm_virtio_user_net *vu;
	static uint8_t f[2048];
	uint64_t frames = 0, t0, end, now;
	bool rx = false;
	int opt, ret;

	while ((opt = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (opt) {
		case 's': sock = optarg; break;
		case 'z': size = num(optarg, 60, 2000, "--size"); break;
		case 't': secs = num(optarg, 1, 3600, "--seconds"); break;
		case 'b': batch = num(optarg, 1, 1024, "--batch"); break;
		case 'q': qsize = num(optarg, 2, 1024, "--queue-size"); break;
		case 'r': rx = true; break;
		default:
			fprintf(stderr, "usage: cvmm-virtio-user-net-bench --socket PATH --size BYTES "
					"[--seconds N] [--batch N] [--queue-size N] [--rx]\n");
			return 2;
		}
	}
	if (!sock) {
		fprintf(stderr, "cvmm-virtio-user-net-bench: --socket is required\n");
		return 2;
	}
	struct cvmm_virtio_user_net_opts o = { .sz = sizeof(o), .socket = sock,
					       .queue_size = (uint16_t)qsize,
					       .connect_timeout_ms = 5000 };
	ret = cvmm_virtio_user_net_create(&o, &vu);
	if (ret < 0) {
		fprintf(stderr, "cvmm-virtio-user-net-bench: %s: %s\n", sock, strerror(-ret));
		return 1;
	}
	if (rx)
		return run_rx(vu, size, secs);
	/* Ethernet (to 02:00:00:00:00:99) + IPv4 + UDP; the rest is payload. */
	memset(f, 0, sizeof(f));
	f[0] = 0x02;
	f[5] = 0x99;
	f[6] = 0x52;
	f[7] = 0x54;
	f[11] = 0x02;
	f[12] = 0x08;
	f[14] = 0x45;
	f[22] = 64;
	f[23] = 17;
	t0 = cvmm_now_ns();
	end = t0 + secs * 1000000000ull;
	do {
		unsigned long n = 0;

		while (n < batch) {
			ret = cvmm_virtio_user_net_send(vu, 0, NULL, f, (uint32_t)size, true);
			if (ret == -ENOSPC)
				break;
			if (ret < 0)
				goto fail;
			n++;
		}
		if ((ret = cvmm_virtio_user_net_tx_kick(vu, 0)) < 0)
			goto fail;
		frames += n;
		/* Wait only when the ring is full. */
		ret = cvmm_virtio_user_net_tx_reap(vu, 0, n ? 0 : 1000);
		if (ret < 0)
			goto fail;
		now = cvmm_now_ns();
	} while (now < end);
	while (cvmm_virtio_user_net_tx_in_flight(vu, 0) &&
	       cvmm_virtio_user_net_tx_reap(vu, 0, 1000) > 0)
		;
	now = cvmm_now_ns();
	printf("frames=%llu seconds=%.3f pps=%.0f\n", (unsigned long long)frames,
	       (double)(now - t0) / 1e9, (double)frames * 1e9 / (double)(now - t0));
	cvmm_virtio_user_net_destroy(vu);
	return 0;
fail:
	fprintf(stderr, "cvmm-virtio-user-net-bench: %s\n", strerror(-ret));
	cvmm_virtio_user_net_destroy(vu);
	return 1;
}
