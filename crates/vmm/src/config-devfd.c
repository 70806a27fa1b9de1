/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A local migration's device fds at the destination. The source passed the
 * host fds of what cannot be opened twice (its TAP queues, its vsock
 * listener); they are hostile like the rest of the stream: the count must
 * be exactly what this configuration's devices take, and each fd is looked
 * at itself (never trusted for what the message says it is) before any is
 * taken.
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cvmm/migration.h>
#include <cvmm/vmm/config.h>

#include "vm-internal.h"

static int find(const struct cvmm_vmm_devfd *fds, unsigned int n, uint32_t kind,
		const char *id, uint32_t index)
{
	for (unsigned int i = 0; i < n; i++)
		if (fds[i].kind == kind && fds[i].index == index && fds[i].fd >= 0 &&
		    !strncmp(fds[i].id, id, sizeof(fds[i].id)))
			return (int)i;
	return -1;
}

/* A TAP (not a TUN) of interface @name ("" when the card was given fds
 * and has no name: any TAP). */
static int check_tap(int fd, const char *name, const char *id, unsigned int pair, char *err,
		     size_t errlen)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the fd for %s queue pair %u "
				    "is not a TAP (TUNGETIFF: %s)", id, pair, strerror(errno));
	ifr.ifr_name[IFNAMSIZ - 1] = 0;
	if (!(ifr.ifr_flags & IFF_TAP))
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the fd for %s queue pair %u "
				    "is TUN '%s', not a TAP", id, pair, ifr.ifr_name);
	if (name[0] && strcmp(ifr.ifr_name, name))
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the fd for %s queue pair %u "
				    "is TAP '%s', not '%s'", id, pair, ifr.ifr_name, name);
	return 0;
}

static int check_listener(int fd, const char *path, const char *id, char *err, size_t errlen)
{
	struct sockaddr_un a;
	socklen_t len = sizeof(a);
	int v = 0, t = 0;
	socklen_t vl = sizeof(v), tl = sizeof(t);

	memset(&a, 0, sizeof(a));
	if (getsockname(fd, (struct sockaddr *)&a, &len) < 0 || a.sun_family != AF_UNIX ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &t, &tl) < 0 || t != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &vl) < 0 || !v)
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the fd for %s is not a "
				    "listening unix stream socket", id);
	a.sun_path[sizeof(a.sun_path) - 1] = 0;
	if (strcmp(a.sun_path, path))
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the fd for %s listens on "
				    "'%s', not '%s'", id, a.sun_path, path);
	return 0;
}

int cvmm_vm_devices_adopt_fds(struct cvmm_vm_devices *d, struct cvmm_vmm_devfd *fds,
			      unsigned int n, char *err, size_t errlen)
{
	int at[CVMM_VM_MAX_NETS][7];
	int vs = -1;
	unsigned int want = 0;
	int ret;

	if (!d || (n && !fds) || d->nnets > CVMM_VM_MAX_NETS)
		return -EINVAL;
	for (unsigned int i = 0; i < d->nnets; i++)
		want += d->net[i].queues ? d->net[i].queues : 1;
	want += d->vsock;
	if (n != want)
		return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the source passed %u device "
				    "fds, this VM's devices take %u (a TAP fd a queue pair, the "
				    "vsock listener)", n, want);
	/* Each device finds its own; with the count equal, none is left over. */
	for (unsigned int i = 0; i < d->nnets; i++) {
		const struct cvmm_vm_net *k = &d->net[i];

		for (unsigned int q = 0; q < (k->queues ? k->queues : 1); q++) {
			at[i][q] = find(fds, n, CVMM_MIG_DEVFD_TAP, k->id, q);
			if (at[i][q] < 0)
				return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the source "
						    "passed no TAP fd for %s queue pair %u",
						    k->id, q);
			ret = check_tap(fds[at[i][q]].fd, k->tap, k->id, q, err, errlen);
			if (ret)
				return ret;
		}
	}
	if (d->vsock) {
		vs = find(fds, n, CVMM_MIG_DEVFD_VSOCK, d->vsock_id, 0);
		if (vs < 0)
			return cvmm_vm_errf(err, errlen, -EINVAL, "migration: the source passed no "
					    "listener fd for %s", d->vsock_id);
		ret = check_listener(fds[vs].fd, d->vsock_path, d->vsock_id, err, errlen);
		if (ret)
			return ret;
	}
	/* All passed: take them. */
	for (unsigned int i = 0; i < d->nnets; i++) {
		struct cvmm_vm_net *k = &d->net[i];

		for (unsigned int q = 0; q < k->nfds; q++)
			close(k->fds[q]);
		k->nfds = k->queues ? k->queues : 1;
		for (unsigned int q = 0; q < k->nfds; q++) {
			k->fds[q] = fds[at[i][q]].fd;
			fds[at[i][q]].fd = -1;
		}
	}
	if (d->vsock) {
		if (d->vsock_has_fd)
			close(d->vsock_fd);
		d->vsock_fd = fds[vs].fd;
		d->vsock_has_fd = true;
		fds[vs].fd = -1;
	}
	return 0;
}
