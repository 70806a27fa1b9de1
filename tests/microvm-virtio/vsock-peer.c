/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The host end of tests/microvm-virtio/vsock.sh: listen on the unix socket
 * PATH (where cvmm-microvm's hybrid vsock connects for a guest connection
 * to the host's port N, PATH = SOCKET_N), accept one connection, read one
 * line, print it on stdout and answer "echo: LINE". Gives up after 30 s,
 * or VSOCK_PEER_SECONDS from the environment (the real-Linux tests listen
 * before the VM starts, minutes before a slow guest connects).
 * Exit 0 when a line was echoed; 1 otherwise.
 *
 * vsock-peer --connect SOCKET PORT: connect to the VMM's socket, ask for
 * the guest's PORT ("CONNECT PORT\n", answer "OK H\n"), send
 * "hello from the host\n" and print the guest's answer line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* Read up to a newline (included) into @buf. @return length; -1 on EOF/error. */
static int read_line(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size - 1 && (got == 0 || buf[got - 1] != '\n')) {
		ssize_t r = read(fd, buf + got, 1);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	buf[got] = '\0';
	return (int)got;
}

static int connect_mode(const char *path, const char *port)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[1024];
	int s, n;

	if (strlen(path) >= sizeof(a.sun_path))
		return 1;
	strcpy(a.sun_path, path);
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* The VMM listens once its device is up: retry until the alarm. */
	for (;;) {
		if (s >= 0 && !connect(s, (struct sockaddr *)&a, sizeof(a)))
			break;
		usleep(100000);
	}
	n = snprintf(line, sizeof(line), "CONNECT %s\n", port);
	if (write(s, line, (size_t)n) != n || read_line(s, line, sizeof(line)) < 0 ||
	    strncmp(line, "OK ", 3)) {
		fprintf(stderr, "vsock-peer: no OK from the VMM\n");
		return 1;
	}
	printf("vsock-peer: %s", line);
	if (write(s, "hello from the host\n", 20) != 20 || read_line(s, line, sizeof(line)) < 0) {
		fprintf(stderr, "vsock-peer: no answer from the guest\n");
		return 1;
	}
	fputs(line, stdout);
	close(s);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char line[1024], reply[1100];
	size_t got = 0;
	int l, c, n;

	const char *secs = getenv("VSOCK_PEER_SECONDS");

	alarm(secs && atoi(secs) > 0 ? (unsigned int)atoi(secs) : 30);
	if (argc == 4 && !strcmp(argv[1], "--connect"))
		return connect_mode(argv[2], argv[3]);
	if (argc != 2 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: vsock-peer PATH | vsock-peer --connect SOCKET PORT\n");
		return 1;
	}
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
