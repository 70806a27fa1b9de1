/* SPDX-License-Identifier: Apache-2.0 */
/* TAP ioctls shared by net.c and tap.c (not part of the public API). */
#ifndef CVMM_VIRTIO_DEVICES_NET_INTERNAL_H
#define CVMM_VIRTIO_DEVICES_NET_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

/* Check that @fd is a TAP opened with IFF_VNET_HDR, set it non-blocking and
 * its vnet header to @hdr_len bytes. @return 0; -EINVAL; ioctl errors. */
int cvmm_net_tap_prepare(int fd, int hdr_len);

/* TUNSETOFFLOAD with the TUN_F_* bits matching the guest's receive
 * features. @tun_flags receives the bits applied. @return 0; ioctl errors. */
int cvmm_net_tap_set_offload(int fd, uint64_t guest_features, uint32_t *tun_flags);

/* Attach (@on) or detach a multiqueue TAP fd from its device
 * (TUNSETQUEUE). @return 0; ioctl errors. */
int cvmm_net_tap_attach(int fd, bool on);

#endif
