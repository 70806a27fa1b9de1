/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest's vsock end for tests/linux-guest (busybox has none), built
 * static into the initramfs:
 *   vsock-tool cid               print this guest's CID
 *   vsock-tool connect CID PORT  stdin to the peer, then its answer to stdout
 *   vsock-tool listen PORT       say "vsock-tool: listening on port PORT" once it
 *                                listens, accept one connection, echo its
 *                                first line back prefixed with "echo: "
 * Exit 0, or 1 with a line on stderr naming what failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
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
	fprintf(stderr, "usage: vsock-tool cid | connect CID PORT | listen PORT\n");
	return 1;
}
