/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of tests/microvm-virtio/vsock.sh: listen on the unix socket
 * PATH (where cvmm-microvm's hybrid vsock connects for a guest connection
 * to the host's port N, PATH = SOCKET_N), accept one connection, read one
 * line, print it on stdout and answer "echo: LINE". Gives up after 30 s.
 * Exit 0 when a line was echoed; 1 otherwise.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[1024], reply[1100];
	size_t got = 0;
	int l, c, n;

	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: vsock-peer PATH\n");
		return 1;
	}
	alarm(30);
	strcpy(a.sun_path, argv[1]);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1)) {
		perror("vsock-peer: listen");
		return 1;
	}
	c = accept(l, NULL, NULL);
	if (c < 0) {
		perror("vsock-peer: accept");
		return 1;
	}
	while (got < sizeof(line) - 1 && (got == 0 || line[got - 1] != '\n')) {
		ssize_t r = read(c, line + got, sizeof(line) - 1 - got);

		if (r <= 0) {
			fprintf(stderr, "vsock-peer: connection closed after %zu bytes\n", got);
			return 1;
		}
		got += (size_t)r;
	}
	line[got] = '\0';
	fputs(line, stdout);
	fflush(stdout);
	n = snprintf(reply, sizeof(reply), "echo: %s", line);
	if (write(c, reply, (size_t)n) != n) {
		perror("vsock-peer: write");
		return 1;
	}
	/* Let the guest read before the connection goes. */
	shutdown(c, SHUT_WR);
	while (read(c, line, sizeof(line)) > 0)
		;
	close(c);
	close(l);
	unlink(argv[1]);
	return 0;
}
