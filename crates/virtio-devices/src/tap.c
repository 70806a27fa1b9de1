/* SPDX-License-Identifier: Apache-2.0 */
/* TAP device setup: open, vnet header size, offloads, queue attach. */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cvmm/virtio-devices/net.h>

#include "net-internal.h"

int cvmm_net_tap_open(const char *name, unsigned int nfds, int *fds, char *ifname)
{
	struct ifreq ifr;
	unsigned int feat = 0, i;
	int r = 0;

	if (!fds || nfds == 0 || nfds > CVMM_NET_MAX_PAIRS)
		return -EINVAL;
	if (name && strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	for (i = 0; i < nfds; i++)
		fds[i] = -1;
	for (i = 0; i < nfds; i++) {
		fds[i] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fds[i] < 0) {
			r = -errno;
			goto fail;
		}
		if (i == 0) {
			if (ioctl(fds[0], TUNGETFEATURES, &feat) < 0) {
				r = -errno;
				goto fail;
			}
			if (!(feat & IFF_VNET_HDR) || (nfds > 1 && !(feat & IFF_MULTI_QUEUE))) {
				r = -EOPNOTSUPP;
				goto fail;
			}
		}
		memset(&ifr, 0, sizeof(ifr));
		if (i == 0 && name)
			memcpy(ifr.ifr_name, name, strlen(name));
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
		if (nfds > 1)
			ifr.ifr_flags |= IFF_MULTI_QUEUE;
		/* Queues after the first join the device the first one created
		 * (a pattern name like "tap%d" would make a new device each). */
		if (i > 0) {
			struct ifreq first;

			memset(&first, 0, sizeof(first));
			if (ioctl(fds[0], TUNGETIFF, &first) < 0) {
				r = -errno;
				goto fail;
			}
			memcpy(ifr.ifr_name, first.ifr_name, IFNAMSIZ);
		}
		if (ioctl(fds[i], TUNSETIFF, &ifr) < 0) {
			r = -errno;
			goto fail;
		}
		if (i == 0 && ifname) {
			memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
			ifname[IFNAMSIZ - 1] = 0;
		}
	}
	return 0;
fail:
	for (i = 0; i < nfds; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
	return r;
}

int cvmm_net_tap_prepare(int fd, int hdr_len)
{
	struct ifreq ifr;
	int fl;

	memset(&ifr, 0, sizeof(ifr));
	if (ioctl(fd, TUNGETIFF, &ifr) < 0)
		return errno == EBADFD || errno == ENOTTY || errno == EBADF ? -EINVAL : -errno;
	if (!(ifr.ifr_flags & IFF_TAP) || !(ifr.ifr_flags & IFF_VNET_HDR) ||
	    !(ifr.ifr_flags & IFF_NO_PI))
		return -EINVAL;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0)
		return -errno;
	return 0;
}

int cvmm_net_tap_set_offload(int fd, uint64_t f, uint32_t *tun_flags)
{
	unsigned int t = 0;

	/* The TAP hands the guest what the guest said it can take: partial
	 * checksums only with GUEST_CSUM, and TSO (which implies partial
	 * checksums) only on top of it. */
	if (f & CVMM_VIRTIO_NET_F_GUEST_CSUM) {
		t |= TUN_F_CSUM;
		if (f & CVMM_VIRTIO_NET_F_GUEST_TSO4)
			t |= TUN_F_TSO4;
		if (f & CVMM_VIRTIO_NET_F_GUEST_TSO6)
			t |= TUN_F_TSO6;
		if ((f & CVMM_VIRTIO_NET_F_GUEST_ECN) && (t & (TUN_F_TSO4 | TUN_F_TSO6)))
			t |= TUN_F_TSO_ECN;
	}
	if (ioctl(fd, TUNSETOFFLOAD, (unsigned long)t) < 0)
		return -errno;
	if (tun_flags)
		*tun_flags = t;
	return 0;
}

int cvmm_net_tap_attach(int fd, bool on)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE;
	if (ioctl(fd, TUNSETQUEUE, &ifr) < 0)
		return -errno;
	return 0;
}
