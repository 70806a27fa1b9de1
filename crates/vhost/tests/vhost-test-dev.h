/* SPDX-License-Identifier: Apache-2.0 */
/* A recording device for the vhost tests: every callback stores what it
 * got, so a test can check what crossed the socket. */
#ifndef VHOST_TEST_DEV_H
#define VHOST_TEST_DEV_H

#include <cvmm/vhost.h>
#include <cvmm/vm-memory.h>
#include <cvmm/sys-util.h>

#define TDEV_QUEUES 4
#define TDEV_F_RING_PACKED (1ull << 34)
#define TDEV_FEATURES (CVMM_VHOST_F_PROTOCOL_FEATURES | TDEV_F_RING_PACKED | (1ull << 32) | \
		       CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM | 0x5ull)
/* What the round-trip tests ack: split rings, no IOMMU. */
#define TDEV_SPLIT (TDEV_FEATURES & ~(TDEV_F_RING_PACKED | CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM))

struct tdev {
	uint64_t acked_features, acked_pf;
	int owner, reset_owner, resets;
	struct cvmm_guest_mem *gmem;
	unsigned int nregions, mem_table_calls;
	unsigned int num[TDEV_QUEUES], base[TDEV_QUEUES];
	int kick[TDEV_QUEUES], call[TDEV_QUEUES], err[TDEV_QUEUES];
	bool enabled[TDEV_QUEUES];
	struct cvmm_vhost_vring_addr addr[TDEV_QUEUES];
	uint8_t config[CVMM_VHOST_MAX_CONFIG_SIZE];
	uint32_t config_flags;
	uint8_t status;
	int log_fd;
	uint64_t log_size, log_off;
	int inflight_fd;
	uint64_t inflight_size;
	uint16_t inflight_nq, inflight_qs;
	int ufd_given; /* eventfd we hand out as the "userfaultfd" */
	int listened, ended;
	int state_fd;
	uint32_t state_dir;
	bool state_reply_own_fd;
	int checked;
	int req_changes;
	int fail_next; /* next callback returns this when non-zero */
	struct cvmm_vhost_iotlb_msg iotlb; /* the last IOTLB_MSG and its gpa */
	uint64_t iotlb_gpa;
	int iotlb_calls;
};

extern const struct cvmm_vhost_backend_ops tdev_ops;
void tdev_init(struct tdev *d);
void tdev_fini(struct tdev *d);

/* Number of open fds in this process. */
int tdev_count_fds(void);

/* A guest memory of @n memfd regions of @size bytes each, 1 MiB apart. */
struct cvmm_guest_mem *tdev_make_gmem(unsigned int n, uint64_t size);

#endif
