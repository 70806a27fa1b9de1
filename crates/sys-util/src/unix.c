/* SPDX-License-Identifier: Apache-2.0 */
/* Listening and connecting on filesystem unix sockets. */
#include <cvmm/sys-util.h>

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static int make_addr(const char *path, struct sockaddr_un *sa)
{
	size_t len;

	if (!path || !*path)
		return -EINVAL;
	len = strlen(path);
	/* Keep the NUL: a name filling sun_path exactly is legal for the
	 * kernel but unportable and easy to misread. */
	if (len >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	memcpy(sa->sun_path, path, len + 1);
	return 0;
}

/* True when nobody listens behind the socket file at @sa. */
static bool socket_is_stale(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool stale;

	if (fd < 0)
		return false;
	stale = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 &&
		errno == ECONNREFUSED;
	cvmm_close(fd);
	return stale;
}

int cvmm_unix_listen(const char *path, int backlog)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	r = make_addr(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		if (r != -EADDRINUSE)
			goto fail;
		/* Only a socket file nobody answers on may be replaced; a
		 * regular file of the same name is someone's data. */
		if (lstat(path, &st) < 0) {
			r = -errno;
			goto fail;
		}
		if (!S_ISSOCK(st.st_mode)) {
			r = -EEXIST;
			goto fail;
		}
		if (!socket_is_stale(&sa)) {
			r = -EADDRINUSE;
			goto fail;
		}
		if (unlink(path) < 0 && errno != ENOENT) {
			r = -errno;
			goto fail;
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			r = -errno;
			goto fail;
		}
	}
	if (listen(fd, backlog) < 0) {
		r = -errno;
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	cvmm_close(fd);
	return r;
}

int cvmm_unix_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd, r;

	r = make_addr(path, &sa);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	/* An interrupted connect carries on in the kernel; asking again
	 * reports either its progress or that it completed. */
	while (r < 0 && (errno == EINTR || errno == EALREADY))
		r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (r < 0 && errno == EISCONN)
		r = 0;
	if (r < 0) {
		r = -errno;
		cvmm_close(fd);
		return r;
	}
	return fd;
}
