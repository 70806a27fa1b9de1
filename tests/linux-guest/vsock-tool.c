/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's vsock end for tests/linux-guest (busybox has none), built
 * static into the initramfs:
 *   vsock-tool cid               print this guest's CID
 *   vsock-tool connect CID PORT  stdin to the peer, then its answer to stdout
 *   vsock-tool listen PORT       say "vsock-tool: listening on port PORT" once it
 *                                listens, accept one connection, echo its
 *                                first line back prefixed with "echo: "
 *   vsock-tool tcp-send IP PORT BYTES
 *                                TCP (not vsock: the network figures of
 *                                bench/linux-guest/net.sh) BYTES of zeros to
 *                                IP:PORT by sendfile() from a sparse memfd,
 *                                so the guest copies nothing (holes splice as
 *                                the zero page); half-close, wait for the
 *                                peer's EOF; print "tcp-send N bytes S s"
 *   vsock-tool tcp-recv IP PORT  read IP:PORT's stream to EOF with MSG_TRUNC
 *                                (discarded in the kernel, no copy); print
 *                                "tcp-recv N bytes S s"
 * The guest's own ring 0 is emulated instruction by instruction on the
 * project's PVM host, where busybox nc's copies (pipe, 1 KiB reads,
 * socket) cost more than the network path being measured.
 * Exit 0, or 1 with a line on stderr naming what failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what)
{
	fprintf(stderr, "vsock-tool: %s: %s\n", what, strerror(errno));
	return 1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int copy(int from, int to)
{
	char buf[4096];
	ssize_t r;

	while ((r = read(from, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || write_all(to, buf, (size_t)r))
			return -1;
	}
	return 0;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int tcp_connect(const char *ip, const char *port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int s;

	in.sin_port = htons((unsigned short)strtoul(port, NULL, 0));
	if (inet_pton(AF_INET, ip, &in.sin_addr) != 1) {
		errno = EINVAL;
		return -1;
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&in, sizeof(in)))
		return -1;
	return s;
}

/* Read @s to EOF, discarding in the kernel; the byte count. */
static long long drain(int s)
{
	long long n = 0;
	ssize_t r;

	while ((r = recv(s, NULL, 1 << 20, MSG_TRUNC)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		n += r;
	}
	return n;
}

static int tcp_send(const char *ip, const char *port, const char *bytes)
{
	long long want = strtoll(bytes, NULL, 0), left;
	int f = memfd_create("zeros", 0), s;
	off_t off = 0;
	double t0;

	if (f < 0 || want <= 0 || ftruncate(f, want))
		return die("memfd");
	s = tcp_connect(ip, port);
	if (s < 0)
		return die("connect");
	t0 = now();
	for (left = want; left > 0;) {
		ssize_t w = sendfile(s, f, &off, left > (1 << 30) ? (1 << 30) : (size_t)left);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return die("sendfile");
		left -= w;
	}
	/* Done when the peer has it all: it closes after our EOF. */
	if (shutdown(s, SHUT_WR) || drain(s) < 0)
		return die("shutdown");
	printf("tcp-send %lld bytes %.3f s\n", want, now() - t0);
	return 0;
}

static int tcp_recv(const char *ip, const char *port)
{
	long long n;
	double t0;
	int s = tcp_connect(ip, port);

	if (s < 0)
		return die("connect");
	t0 = now();
	n = drain(s);
	if (n < 0)
		return die("recv");
	printf("tcp-recv %lld bytes %.3f s\n", n, now() - t0);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK };
	int s, c;

	if (argc == 2 && !strcmp(argv[1], "cid")) {
		unsigned int cid;
		int fd = open("/dev/vsock", O_RDONLY);

		if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid))
			return die("/dev/vsock");
		printf("%u\n", cid);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "connect")) {
		a.svm_cid = (unsigned int)strtoul(argv[2], NULL, 0);
		a.svm_port = (unsigned int)strtoul(argv[3], NULL, 0);
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof(a)))
			return die("connect");
		if (copy(0, s) || shutdown(s, SHUT_WR) || copy(s, 1))
			return die("transfer");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "listen")) {
		char line[512];
		size_t n = 0;

		a.svm_cid = VMADDR_CID_ANY;
		a.svm_port = (unsigned int)strtoul(argv[2], NULL, 0);
		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1))
			return die("listen");
		/* The host connects once it has read this, not after a guess. */
		printf("vsock-tool: listening on port %u\n", a.svm_port);
		fflush(stdout);
		c = accept(s, NULL, NULL);
		if (c < 0)
			return die("accept");
		while (n < sizeof(line) - 1) {
			ssize_t r = read(c, line + n, 1);

			if (r <= 0 || line[n] == '\n')
				break;
			n++;
		}
		line[n] = '\0';
		if (write_all(c, "echo: ", 6) || write_all(c, line, n) || write_all(c, "\n", 1))
			return die("write");
		close(c);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "tcp-send"))
		return tcp_send(argv[2], argv[3], argv[4]);
	if (argc == 4 && !strcmp(argv[1], "tcp-recv"))
		return tcp_recv(argv[2], argv[3]);
	fprintf(stderr, "usage: vsock-tool cid | connect CID PORT | listen PORT |\n"
		"       tcp-send IP PORT BYTES | tcp-recv IP PORT\n");
	return 1;
}
