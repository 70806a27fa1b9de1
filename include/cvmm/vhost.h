/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vhost.h
 * @brief The vhost-user wire protocol: message layer, frontend and backend.
 *
 * vhost-user (QEMU docs/interop/vhost-user.rst) runs over a connected unix
 * stream socket. Each message is a 12-byte header {request, flags, size}
 * followed by exactly @size payload bytes; fds ride along as SCM_RIGHTS on
 * the header. The frontend (the VMM) drives the backend (a device daemon);
 * the backend may talk back on a second socket (SET_BACKEND_REQ_FD).
 *
 * One message layer is shared by both sides. Every received message is
 * untrusted: sizes are checked exactly per request before any field is read,
 * fd counts are checked per request (surplus fds are closed), memory regions
 * are checked for overlap, wrap-around and fit in their fd, and vring
 * addresses must lie inside the mapped regions. A bad message is refused
 * with an error (and an error reply when the peer waits for one); a broken
 * stream declares the connection dead. Nothing a peer sends crashes us.
 *
 * All numbers on the wire are in host (little-endian on x86) byte order, as
 * the protocol specifies.
 */
#ifndef CVMM_VHOST_H
#define CVMM_VHOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_guest_mem;

/* ------------------------------------------------------------------------ */
/* Wire constants                                                            */
/* ------------------------------------------------------------------------ */

/* Header flags. */
#define CVMM_VHOST_VERSION 0x1u
#define CVMM_VHOST_VERSION_MASK 0x3u
#define CVMM_VHOST_FLAG_REPLY 0x4u
#define CVMM_VHOST_FLAG_NEED_REPLY 0x8u

/* Frontend-to-backend requests. */
enum cvmm_vhost_req {
	CVMM_VHOST_GET_FEATURES = 1,
	CVMM_VHOST_SET_FEATURES = 2,
	CVMM_VHOST_SET_OWNER = 3,
	CVMM_VHOST_RESET_OWNER = 4,
	CVMM_VHOST_SET_MEM_TABLE = 5,
	CVMM_VHOST_SET_LOG_BASE = 6,
	CVMM_VHOST_SET_LOG_FD = 7,
	CVMM_VHOST_SET_VRING_NUM = 8,
	CVMM_VHOST_SET_VRING_ADDR = 9,
	CVMM_VHOST_SET_VRING_BASE = 10,
	CVMM_VHOST_GET_VRING_BASE = 11,
	CVMM_VHOST_SET_VRING_KICK = 12,
	CVMM_VHOST_SET_VRING_CALL = 13,
	CVMM_VHOST_SET_VRING_ERR = 14,
	CVMM_VHOST_GET_PROTOCOL_FEATURES = 15,
	CVMM_VHOST_SET_PROTOCOL_FEATURES = 16,
	CVMM_VHOST_GET_QUEUE_NUM = 17,
	CVMM_VHOST_SET_VRING_ENABLE = 18,
	CVMM_VHOST_SEND_RARP = 19,
	CVMM_VHOST_NET_SET_MTU = 20,
	CVMM_VHOST_SET_BACKEND_REQ_FD = 21,
	CVMM_VHOST_IOTLB_MSG = 22,
	CVMM_VHOST_SET_VRING_ENDIAN = 23,
	CVMM_VHOST_GET_CONFIG = 24,
	CVMM_VHOST_SET_CONFIG = 25,
	CVMM_VHOST_CREATE_CRYPTO_SESSION = 26,
	CVMM_VHOST_CLOSE_CRYPTO_SESSION = 27,
	CVMM_VHOST_POSTCOPY_ADVISE = 28,
	CVMM_VHOST_POSTCOPY_LISTEN = 29,
	CVMM_VHOST_POSTCOPY_END = 30,
	CVMM_VHOST_GET_INFLIGHT_FD = 31,
	CVMM_VHOST_SET_INFLIGHT_FD = 32,
	CVMM_VHOST_GPU_SET_SOCKET = 33,
	CVMM_VHOST_RESET_DEVICE = 34,
	CVMM_VHOST_VRING_KICK = 35,
	CVMM_VHOST_GET_MAX_MEM_SLOTS = 36,
	CVMM_VHOST_ADD_MEM_REG = 37,
	CVMM_VHOST_REM_MEM_REG = 38,
	CVMM_VHOST_SET_STATUS = 39,
	CVMM_VHOST_GET_STATUS = 40,
	CVMM_VHOST_GET_SHARED_OBJECT = 41,
	CVMM_VHOST_SET_DEVICE_STATE_FD = 42,
	CVMM_VHOST_CHECK_DEVICE_STATE = 43,
	CVMM_VHOST_REQ_MAX = 44, /* one past the last frontend request known */
};

/* Backend-to-frontend requests (on the SET_BACKEND_REQ_FD channel). */
enum cvmm_vhost_backend_req {
	CVMM_VHOST_BACKEND_IOTLB_MSG = 1,
	CVMM_VHOST_BACKEND_CONFIG_CHANGE_MSG = 2,
	CVMM_VHOST_BACKEND_VRING_HOST_NOTIFIER_MSG = 3,
	CVMM_VHOST_BACKEND_VRING_CALL = 4,
	CVMM_VHOST_BACKEND_VRING_ERR = 5,
};

/* The virtio feature bit that says GET/SET_PROTOCOL_FEATURES exist. */
#define CVMM_VHOST_F_PROTOCOL_FEATURES (1ull << 30)

/* Protocol feature bits. */
#define CVMM_VHOST_PF_MQ 0
#define CVMM_VHOST_PF_LOG_SHMFD 1
#define CVMM_VHOST_PF_RARP 2
#define CVMM_VHOST_PF_REPLY_ACK 3
#define CVMM_VHOST_PF_NET_MTU 4
#define CVMM_VHOST_PF_BACKEND_REQ 5
#define CVMM_VHOST_PF_CROSS_ENDIAN 6
#define CVMM_VHOST_PF_CRYPTO_SESSION 7
#define CVMM_VHOST_PF_PAGEFAULT 8
#define CVMM_VHOST_PF_CONFIG 9
#define CVMM_VHOST_PF_BACKEND_SEND_FD 10
#define CVMM_VHOST_PF_HOST_NOTIFIER 11
#define CVMM_VHOST_PF_INFLIGHT_SHMFD 12
#define CVMM_VHOST_PF_RESET_DEVICE 13
#define CVMM_VHOST_PF_INBAND_NOTIFICATIONS 14
#define CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS 15
#define CVMM_VHOST_PF_STATUS 16
#define CVMM_VHOST_PF_XEN_MMAP 17
#define CVMM_VHOST_PF_SHARED_OBJECT 18
#define CVMM_VHOST_PF_DEVICE_STATE 19
#define CVMM_VHOST_PF_BIT(b) (1ull << (b))

/* Protocol features this library can carry (the rest are never offered). */
#define CVMM_VHOST_PF_SUPPORTED                                         \
	(CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_MQ) |                          \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_LOG_SHMFD) |                   \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_REPLY_ACK) |                   \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_REQ) |                 \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_PAGEFAULT) |                   \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIG) |                      \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_BACKEND_SEND_FD) |             \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INFLIGHT_SHMFD) |              \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_RESET_DEVICE) |                \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_INBAND_NOTIFICATIONS) |        \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_CONFIGURE_MEM_SLOTS) |         \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_STATUS) |                      \
	 CVMM_VHOST_PF_BIT(CVMM_VHOST_PF_DEVICE_STATE))

/* Limits. */
#define CVMM_VHOST_MAX_FDS 8                /* fds on any one message */
#define CVMM_VHOST_BASELINE_NREGIONS 8      /* SET_MEM_TABLE regions */
#define CVMM_VHOST_MAX_MEM_SLOTS 509        /* upper bound for ADD_MEM_REG tables */
#define CVMM_VHOST_MAX_CONFIG_SIZE 256      /* device config space */
#define CVMM_VHOST_MAX_QUEUE_SIZE 32768
#define CVMM_VHOST_MAX_QUEUES 256           /* vring index is 8 bits in kick/call/err */

/* SET_VRING_KICK/CALL/ERR payload: bits 0-7 index, bit 8 "no fd". */
#define CVMM_VHOST_VRING_IDX_MASK 0xffull
#define CVMM_VHOST_VRING_NOFD_MASK 0x100ull

/*
 * SET_VRING_BASE / GET_VRING_BASE payload (vhost-user.rst, "Vring
 * descriptor indices"). Split rings: bits 0-15 the next avail index (free
 * running), bits 16-31 zero. Packed rings (VIRTIO_F_RING_PACKED acked):
 * bits 0-14 the next avail ring slot, bit 15 its wrap counter, bits 16-30
 * the next used ring slot, bit 31 its wrap counter. A packed ring that was
 * never used starts at slot 0 with both wrap counters 1.
 */
#define CVMM_VHOST_VIRTIO_F_RING_PACKED (1ull << 34)
#define CVMM_VHOST_PACKED_BASE_INIT 0x80008000u

/** A packed vring's position, decoded. */
struct cvmm_vhost_packed_base {
	uint16_t avail_idx; /* next descriptor ring slot the device reads */
	uint16_t used_idx;  /* next slot the device writes a used descriptor to */
	bool avail_wrap;
	bool used_wrap;
};

/** Encode @p (indexes below 32768) for SET_VRING_BASE. Thread-safe. */
uint32_t cvmm_vhost_packed_base_encode(const struct cvmm_vhost_packed_base *p);

/**
 * Decode a packed vring base and check both slots against the ring size
 * @num (1..CVMM_VHOST_MAX_QUEUE_SIZE; 0 skips the check).
 * @return 0 with *@p filled; -EINVAL when a slot is >= @num. Thread-safe.
 */
int cvmm_vhost_packed_base_decode(uint32_t base, unsigned int num,
				  struct cvmm_vhost_packed_base *p);

/*
 * IOMMU support (vhost-user.rst, "IOMMU support"). With
 * VIRTIO_F_ACCESS_PLATFORM acked, ring and buffer addresses are I/O virtual
 * addresses (IOVAs) the guest mapped through its IOMMU; the backend learns
 * their translations from IOTLB messages: UPDATE and INVALIDATE from the
 * frontend (IOTLB_MSG, always answered with a u64 status), MISS and
 * ACCESS_FAIL from the backend (BACKEND_IOTLB_MSG on the backend channel;
 * with REPLY_ACK the frontend acks a MISS once it sent the UPDATE, or
 * nothing when the IOVA is not mapped). There is no protocol feature bit of
 * its own: it needs BACKEND_REQ and REPLY_ACK, as QEMU requires.
 */
#define CVMM_VHOST_VIRTIO_F_ACCESS_PLATFORM (1ull << 33)
#define CVMM_VHOST_IOTLB_MISS 1u
#define CVMM_VHOST_IOTLB_UPDATE 2u
#define CVMM_VHOST_IOTLB_INVALIDATE 3u
#define CVMM_VHOST_IOTLB_ACCESS_FAIL 4u
#define CVMM_VHOST_ACCESS_RO 0x1u /* the device may read */
#define CVMM_VHOST_ACCESS_WO 0x2u /* the device may write */
#define CVMM_VHOST_ACCESS_RW 0x3u

/* SET_VRING_ADDR flags: log writes to the used ring at log_guest_addr. */
#define CVMM_VHOST_VRING_F_LOG 0x1u

/* SET_DEVICE_STATE_FD directions and phases. */
#define CVMM_VHOST_TRANSFER_STATE_SAVE 0u
#define CVMM_VHOST_TRANSFER_STATE_LOAD 1u
#define CVMM_VHOST_TRANSFER_STATE_PHASE_STOPPED 0u

/* ------------------------------------------------------------------------ */
/* Wire structures                                                           */
/* ------------------------------------------------------------------------ */

struct cvmm_vhost_hdr {
	uint32_t request;
	uint32_t flags;
	uint32_t size; /* payload bytes that follow */
};

struct cvmm_vhost_vring_state {
	uint32_t index;
	uint32_t num;
};

/* Ring addresses are frontend virtual addresses (QEMU's), except log. */
struct cvmm_vhost_vring_addr_wire {
	uint32_t index;
	uint32_t flags;
	uint64_t desc_user_addr;
	uint64_t used_user_addr;
	uint64_t avail_user_addr;
	uint64_t log_guest_addr;
};

struct cvmm_vhost_mem_region {
	uint64_t guest_phys_addr;
	uint64_t memory_size;
	uint64_t userspace_addr; /* where the frontend has it mapped */
	uint64_t mmap_offset;    /* offset of guest_phys_addr's byte in the fd */
};

struct cvmm_vhost_memory {
	uint32_t nregions;
	uint32_t padding;
	struct cvmm_vhost_mem_region regions[CVMM_VHOST_BASELINE_NREGIONS];
};

struct cvmm_vhost_single_mem_region {
	uint64_t padding;
	struct cvmm_vhost_mem_region region;
};

struct cvmm_vhost_log {
	uint64_t mmap_size;
	uint64_t mmap_offset;
};

struct cvmm_vhost_config {
	uint32_t offset;
	uint32_t size;
	uint32_t flags;
	uint8_t region[CVMM_VHOST_MAX_CONFIG_SIZE];
};
#define CVMM_VHOST_CONFIG_HDR_SIZE 12u

struct cvmm_vhost_inflight {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint32_t padding; /* QEMU sends sizeof() of the unpacked struct: 24 */
};

struct cvmm_vhost_device_state {
	uint32_t transfer_direction;
	uint32_t migration_phase;
};

/* Linux's struct vhost_iotlb_msg: 32 bytes on the wire (6 of padding).
 * uaddr is in the frontend's address space (as the region table's
 * userspace_addr); size counts bytes from iova (not an end address). */
struct cvmm_vhost_iotlb_msg {
	uint64_t iova;
	uint64_t size;
	uint64_t uaddr;
	uint8_t perm; /* CVMM_VHOST_ACCESS_* */
	uint8_t type; /* CVMM_VHOST_IOTLB_* */
	uint8_t padding[6];
};
#define CVMM_VHOST_IOTLB_MSG_SIZE 32u

union cvmm_vhost_payload {
	uint64_t u64;
	struct cvmm_vhost_vring_state state;
	struct cvmm_vhost_vring_addr_wire addr;
	struct cvmm_vhost_memory memory;
	struct cvmm_vhost_single_mem_region mem_reg;
	struct cvmm_vhost_log log;
	struct cvmm_vhost_config config;
	struct cvmm_vhost_inflight inflight;
	struct cvmm_vhost_device_state device_state;
	struct cvmm_vhost_iotlb_msg iotlb;
};

#define CVMM_VHOST_HDR_SIZE 12u
/* No message of any known request is longer; a header announcing more is
 * a broken stream. */
#define CVMM_VHOST_MAX_PAYLOAD ((uint32_t)sizeof(union cvmm_vhost_payload))

/* ------------------------------------------------------------------------ */
/* Message layer                                                             */
/* ------------------------------------------------------------------------ */

/** One message with its fds (owned by the holder: close them or pass them on). */
struct cvmm_vhost_msg {
	struct cvmm_vhost_hdr hdr;
	union cvmm_vhost_payload payload;
	int fds[CVMM_VHOST_MAX_FDS];
	unsigned int nfds;
};

/**
 * Send @msg (header, hdr.size payload bytes, msg->nfds fds).
 * @return 0; -EINVAL (hdr.size > CVMM_VHOST_MAX_PAYLOAD, nfds > MAX_FDS);
 * -EPIPE when the peer is gone; other negative errno from sendmsg.
 * The fds stay owned by the caller.
 * Thread safety: one sender per socket at a time.
 */
int cvmm_vhost_msg_send(int sock, const struct cvmm_vhost_msg *msg);

/**
 * Receive one message: the header (with any fds), then exactly hdr.size
 * payload bytes. Framing only, no per-request checks (see
 * cvmm_vhost_msg_check_frontend()). On success the caller owns msg->fds.
 * @return 0; -EPIPE (EOF, also in the middle of a message); -EPROTO (bad
 * version bits, size above CVMM_VHOST_MAX_PAYLOAD, more than
 * CVMM_VHOST_MAX_FDS fds: any fds received are closed; any failure once
 * the first byte was read). After -EPROTO or -EPIPE the stream is out of
 * step and must be dropped. -E2BIG: a whole message came with more than
 * CVMM_VHOST_MAX_FDS (up to CVMM_MAX_FDS) fds; they are closed and the
 * stream is intact. Other negative errno from recvmsg before any byte was
 * read (-EAGAIN on a nonblocking socket with nothing queued; a message
 * already begun is waited for, never left half-read).
 * Thread safety: one receiver per socket at a time.
 */
int cvmm_vhost_msg_recv(int sock, struct cvmm_vhost_msg *msg);

/** Close every fd in @msg and set nfds to 0. */
void cvmm_vhost_msg_close_fds(struct cvmm_vhost_msg *msg);

/**
 * Check a frontend request's payload size and fd count exactly (the
 * per-request rules of docs/crates/vhost.md). Does not look at values.
 * @return 0; -EOPNOTSUPP (unknown request or one this library does not
 * carry); -EINVAL (size or fd count wrong for the request). Thread-safe.
 */
int cvmm_vhost_msg_check_frontend(const struct cvmm_vhost_msg *msg);

/** Name of a frontend request ("SET_MEM_TABLE"), "UNKNOWN" otherwise. */
const char *cvmm_vhost_req_name(uint32_t request);

/* ------------------------------------------------------------------------ */
/* Memory table helpers (backend side)                                       */
/* ------------------------------------------------------------------------ */

/**
 * Check a region table as a peer sent it: count in [1, @max], every region
 * non-empty, page-aligned (gpa, size, mmap_offset), no wrap of
 * gpa + size, userspace_addr + size or mmap_offset + size, no two regions
 * overlapping in guest physical or in frontend virtual space, and, when
 * @fds is not NULL, each fd a regular file (memfd, hugetlbfs, tmpfs)
 * holding mmap_offset + size bytes.
 * @return 0; -EINVAL (malformed, overlapping, an fd too small or not a
 * file); -E2BIG (@n > @max). Thread-safe.
 */
int cvmm_vhost_mem_regions_check(const struct cvmm_vhost_mem_region *r,
				 const int *fds, unsigned int n, unsigned int max);

/**
 * Map each region's fd (MAP_SHARED) and build guest memory with the regions
 * at their guest physical addresses. The fds are dup'ed; the caller keeps
 * its own. @return 0; the errors of cvmm_vhost_mem_regions_check();
 * -ENOMEM or mmap's errno. Thread safety: reentrant.
 */
int cvmm_vhost_mem_map(const struct cvmm_vhost_mem_region *r, const int *fds,
		       unsigned int n, struct cvmm_guest_mem **out);

/**
 * Translate [@uva, @uva + @len) in the frontend's virtual address space to
 * a guest physical address through the region table. The whole range must
 * lie in one region. @return 0 with *@gpa set; -EFAULT when it does not
 * (or wraps). Thread-safe.
 */
int cvmm_vhost_uva_to_gpa(const struct cvmm_vhost_mem_region *r, unsigned int n,
			  uint64_t uva, uint64_t len, uint64_t *gpa);

/* ------------------------------------------------------------------------ */
/* Backend side (a device daemon)                                            */
/* ------------------------------------------------------------------------ */

/** SET_VRING_ADDR as handed to the device: both address spaces. With
 * VIRTIO_F_ACCESS_PLATFORM acked the ring addresses are IOVAs: the *_gpa
 * fields then repeat the IOVAs untranslated (the device translates them
 * through its IOTLB, see iotlb_msg). */
struct cvmm_vhost_vring_addr {
	uint32_t index;
	uint32_t flags;              /* CVMM_VHOST_VRING_F_LOG */
	uint64_t desc_user_addr, avail_user_addr, used_user_addr;
	uint64_t desc_gpa, avail_gpa, used_gpa; /* translated and checked */
	uint64_t log_guest_addr;
};

/**
 * What the device implements. Every callback is optional: a request whose
 * callback is NULL is refused with -EOPNOTSUPP (except SET_OWNER,
 * RESET_OWNER and SET_VRING_ENABLE, which are accepted). Callbacks return 0
 * or a negative errno, which goes back to the frontend as the REPLY_ACK
 * value when one is due (a positive return counts as 0). Fd ownership: an fd handed to a callback belongs
 * to the callback when it returns 0 (kick, call, err, log, inflight, device
 * state); on an error return the library closes it. The memory-table fds
 * stay owned by the library (dup them to keep them). A vring index handed
 * to a callback is always below opts.num_queues.
 */
struct cvmm_vhost_backend_ops {
	size_t sz; /* sizeof(struct cvmm_vhost_backend_ops) */
	int (*get_features)(void *opaque, uint64_t *features);
	int (*set_features)(void *opaque, uint64_t features);
	/* The library masks the answer with CVMM_VHOST_PF_SUPPORTED and adds
	 * REPLY_ACK itself (it implements it). */
	int (*get_protocol_features)(void *opaque, uint64_t *features);
	int (*set_protocol_features)(void *opaque, uint64_t features);
	int (*set_owner)(void *opaque);
	int (*reset_owner)(void *opaque);
	/* The complete table after SET_MEM_TABLE, ADD_MEM_REG or REM_MEM_REG
	 * (already checked by cvmm_vhost_mem_regions_check(); @n may be 0
	 * after the last REM_MEM_REG). */
	int (*set_mem_table)(void *opaque, const struct cvmm_vhost_mem_region *r,
			     const int *fds, unsigned int n);
	int (*set_vring_num)(void *opaque, unsigned int idx, unsigned int num);
	int (*set_vring_addr)(void *opaque, const struct cvmm_vhost_vring_addr *a);
	/* Checked first: a split base fits 16 bits; a packed base's slots are
	 * below the ring size when SET_VRING_NUM came before it. */
	int (*set_vring_base)(void *opaque, unsigned int idx, unsigned int base);
	/* Also stops the ring, as the protocol says. */
	int (*get_vring_base)(void *opaque, unsigned int idx, unsigned int *base);
	/* @fd is -1 for "no fd" (polling / in-band notifications). */
	int (*set_vring_kick)(void *opaque, unsigned int idx, int fd);
	int (*set_vring_call)(void *opaque, unsigned int idx, int fd);
	int (*set_vring_err)(void *opaque, unsigned int idx, int fd);
	int (*set_vring_enable)(void *opaque, unsigned int idx, bool enable);
	/* [offset, offset + len) is inside CVMM_VHOST_MAX_CONFIG_SIZE. */
	int (*get_config)(void *opaque, uint32_t offset, void *buf, uint32_t len);
	int (*set_config)(void *opaque, uint32_t offset, const void *buf,
			  uint32_t len, uint32_t flags);
	int (*set_status)(void *opaque, uint8_t status);
	int (*get_status)(void *opaque, uint8_t *status);
	/* On success the library forgets the acked features and ring sizes
	 * too (the frontend negotiates again). */
	int (*reset_device)(void *opaque);
	/* @fd may be -1 when LOG_SHMFD was not negotiated. */
	int (*set_log_base)(void *opaque, int fd, uint64_t mmap_size, uint64_t mmap_offset);
	int (*set_log_fd)(void *opaque, int fd);
	/* Fill *@fd (ownership passes to the library, which closes it after
	 * sending), *@mmap_size and *@mmap_offset. */
	int (*get_inflight_fd)(void *opaque, uint16_t num_queues, uint16_t queue_size,
			       int *fd, uint64_t *mmap_size, uint64_t *mmap_offset);
	int (*set_inflight_fd)(void *opaque, int fd, uint64_t mmap_size,
			       uint64_t mmap_offset, uint16_t num_queues,
			       uint16_t queue_size);
	/* Informational: the library keeps the channel (cvmm_vhost_backend_send_*). */
	void (*backend_req_changed)(void *opaque, bool connected);
	/* Return a userfaultfd in *@ufd (the library closes it after sending). */
	int (*postcopy_advise)(void *opaque, int *ufd);
	int (*postcopy_listen)(void *opaque);
	int (*postcopy_end)(void *opaque);
	/* *@reply_fd: -1 (use @fd) or an fd the library sends back and closes. */
	int (*set_device_state_fd)(void *opaque, uint32_t direction, uint32_t phase,
				   int fd, int *reply_fd);
	int (*check_device_state)(void *opaque);
	/* While post-copy listens (LISTEN accepted, END not yet), a
	 * SET_MEM_TABLE is answered with the device's mapping of each region
	 * (vhost-user.rst): fill @bases[i], the address where region @r[i] of
	 * the table just set starts in this process. Without this callback
	 * such a SET_MEM_TABLE is refused, and ADD/REM_MEM_REG are refused
	 * (-EBUSY) while listening. The frontend's acknowledgement (a
	 * SET_MEM_TABLE with a u64) is consumed by the library. */
	int (*postcopy_mem_bases)(void *opaque, const struct cvmm_vhost_mem_region *r,
				  unsigned int n, uint64_t *bases);
	/*
	 * IOTLB_MSG (only with VIRTIO_F_ACCESS_PLATFORM acked, else refused
	 * -EOPNOTSUPP), checked first: type UPDATE or INVALIDATE (-EINVAL
	 * otherwise); size >= 1 and iova + size - 1 not wrapping; UPDATE:
	 * perm RO, WO or RW, and [uaddr, uaddr + size) inside one region of
	 * the table, whose guest physical address is @gpa (0 for INVALIDATE).
	 * The reply (a u64 status) is sent after the callback returns: an
	 * INVALIDATE must be in force by then.
	 */
	int (*iotlb_msg)(void *opaque, const struct cvmm_vhost_iotlb_msg *m, uint64_t gpa);
	/* The message after such an answer came: @ok when it was the
	 * acknowledgement with 0 (the frontend serves our faults from now
	 * on), false for anything else (which is then handled as a request). */
	void (*postcopy_mem_acked)(void *opaque, bool ok);
};

struct cvmm_vhost_backend_opts {
	size_t sz;                 /* sizeof(struct cvmm_vhost_backend_opts) */
	int sock;                  /* connected stream socket; the backend owns it */
	unsigned int num_queues;   /* vrings the device has, 1..CVMM_VHOST_MAX_QUEUES */
	unsigned int max_mem_slots; /* ADD_MEM_REG table size; 0 = 32 */
	const struct cvmm_vhost_backend_ops *ops;
	void *opaque;
};

struct cvmm_vhost_backend;

/**
 * A backend on a connected socket. The socket is owned from now on (closed
 * by destroy, also when create fails).
 * @return 0; -EINVAL (bad sz, sock < 0, num_queues 0 or above
 * CVMM_VHOST_MAX_QUEUES, max_mem_slots above CVMM_VHOST_MAX_MEM_SLOTS,
 * ops NULL or ops->sz too large); -ENOMEM.
 * Thread safety: the object is not shared until it is returned.
 */
int cvmm_vhost_backend_create(const struct cvmm_vhost_backend_opts *o,
			      struct cvmm_vhost_backend **out);

/** Close the sockets and mapped-table fds and free. NULL is a no-op. */
void cvmm_vhost_backend_destroy(struct cvmm_vhost_backend *b);

/** The socket to poll for input (POLLIN: call process_one). */
int cvmm_vhost_backend_fd(const struct cvmm_vhost_backend *b);

/**
 * Read one message (blocking until a whole one is there), check it, run the
 * callback and send the reply: the data reply of a GET_* request, or the
 * REPLY_ACK u64 (0 or a positive errno) when REPLY_ACK was negotiated and
 * the frontend set NEED_REPLY. A refused GET_* request with a data reply
 * is answered with a zero-size payload (QEMU treats that as an error).
 * @return 0 handled; a negative errno for a refused message while the
 * connection stays usable: -EINVAL (bad size, fd count, value, index,
 * region table, vring address), -EOPNOTSUPP (unknown request, no callback,
 * protocol feature not negotiated), -E2BIG (too many regions), or the
 * callback's error. A dead connection returns -EPIPE (peer closed, or a
 * reply could not be sent) or -EPROTO (framing broken: bad version, size
 * above the maximum payload, more than CVMM_MAX_FDS (32) fds; 9 to 32 fds
 * are a refusal, -EINVAL, with the fds closed); from then
 * on every call returns -ENOTCONN. On a nonblocking socket: -EAGAIN when no
 * message has begun (the connection stays up); a begun message is waited
 * for. A peer that stops in the middle of a message therefore blocks this
 * call: give the backend its own thread, or close it on a timeout.
 * Thread safety: one thread at a time per backend.
 */
int cvmm_vhost_backend_process_one(struct cvmm_vhost_backend *b);

/** False once the connection was declared dead. */
bool cvmm_vhost_backend_connected(const struct cvmm_vhost_backend *b);

/** Features as acked by SET_FEATURES / SET_PROTOCOL_FEATURES. */
uint64_t cvmm_vhost_backend_features(const struct cvmm_vhost_backend *b);
uint64_t cvmm_vhost_backend_protocol_features(const struct cvmm_vhost_backend *b);

/**
 * The current region table (valid until the next process_one()).
 * @return number of regions; *@r points at them.
 */
unsigned int cvmm_vhost_backend_regions(const struct cvmm_vhost_backend *b,
					const struct cvmm_vhost_mem_region **r);

/**
 * Backend-to-frontend messages on the SET_BACKEND_REQ_FD channel. With
 * REPLY_ACK negotiated the message carries NEED_REPLY and the call waits for
 * the frontend's ack. VRING_CALL/ERR need INBAND_NOTIFICATIONS.
 * @return 0; -ENOTCONN (no channel); -EOPNOTSUPP (feature not negotiated);
 * -EINVAL (@idx >= num_queues); -EIO (negative ack, or a malformed one);
 * -EPIPE (channel gone: it is dropped; or replaced by a new
 * SET_BACKEND_REQ_FD while this call waited on the old one).
 * Thread safety: callable from any thread (senders are serialised) while
 * another runs process_one(), which never waits for a sender.
 */
int cvmm_vhost_backend_send_config_change(struct cvmm_vhost_backend *b);
int cvmm_vhost_backend_send_vring_call(struct cvmm_vhost_backend *b, unsigned int idx);
int cvmm_vhost_backend_send_vring_err(struct cvmm_vhost_backend *b, unsigned int idx);
/**
 * BACKEND_IOTLB_MSG: a MISS for @iova (@perm CVMM_VHOST_ACCESS_*) or an
 * ACCESS_FAIL (@type). Needs VIRTIO_F_ACCESS_PLATFORM acked and the
 * channel; with REPLY_ACK a MISS waits for the frontend's ack, by which
 * time its UPDATE (if the IOVA is mapped) was handled by process_one() on
 * another thread. That wait is bounded by @timeout_ms (a frontend busy
 * waiting on us, e.g. for GET_VRING_BASE while this ring's worker waits
 * here, must not deadlock us): -ETIMEDOUT then, and the late ack is
 * skipped by the next sender.
 * @return as the other senders; -EINVAL (bad @type or @perm);
 * -ETIMEDOUT. Thread safety: as the other senders.
 */
int cvmm_vhost_backend_send_iotlb_msg(struct cvmm_vhost_backend *b, uint8_t type,
				      uint64_t iova, uint8_t perm, int timeout_ms);

/* ------------------------------------------------------------------------ */
/* Frontend side (a VMM)                                                     */
/* ------------------------------------------------------------------------ */

struct cvmm_vhost_frontend;

/**
 * A frontend on a connected socket, which it owns from now on (closed by
 * destroy, also when create fails). @return 0; -EINVAL (sock < 0); -ENOMEM.
 * Thread safety: the object is not shared until it is returned.
 */
int cvmm_vhost_frontend_create(int sock, struct cvmm_vhost_frontend **out);
/** Close the sockets and free. NULL is a no-op. */
void cvmm_vhost_frontend_destroy(struct cvmm_vhost_frontend *fe);

/*
 * One call per request. Each sends the request and, when the protocol has
 * a reply (GET_*), or REPLY_ACK was negotiated (then NEED_REPLY is set on
 * every request without a data reply), waits for it and checks that it
 * answers this request with the right size.
 * Common @return: 0; -EPIPE (backend gone); -EPROTO (reply for another
 * request, wrong size, bad flags: the connection should be dropped);
 * -EIO (the backend's ack was a non-errno failure, or a GET reply of size
 * 0, which a backend uses to refuse); -errno (a backend's ack carrying an
 * errno value); -EINVAL (bad arguments, checked before sending);
 * -EOPNOTSUPP (protocol feature the request needs was not negotiated).
 * Thread safety: one thread at a time per frontend.
 */
int cvmm_vhost_frontend_get_features(struct cvmm_vhost_frontend *fe, uint64_t *features);
int cvmm_vhost_frontend_set_features(struct cvmm_vhost_frontend *fe, uint64_t features);
int cvmm_vhost_frontend_get_protocol_features(struct cvmm_vhost_frontend *fe,
					      uint64_t *features);
/** Also enables REPLY_ACK handling when the bit is in @features. */
int cvmm_vhost_frontend_set_protocol_features(struct cvmm_vhost_frontend *fe,
					      uint64_t features);
int cvmm_vhost_frontend_set_owner(struct cvmm_vhost_frontend *fe);
int cvmm_vhost_frontend_reset_owner(struct cvmm_vhost_frontend *fe);

/**
 * SET_MEM_TABLE from guest memory: each region's gpa, size, host address
 * (as userspace_addr) and fd_offset, with its fd.
 * @return as above; -EINVAL when a region has no fd (anonymous memory
 * cannot be shared); -E2BIG with more than CVMM_VHOST_BASELINE_NREGIONS.
 */
int cvmm_vhost_frontend_set_mem_table(struct cvmm_vhost_frontend *fe,
				      const struct cvmm_guest_mem *gmem);
/** Raw form: @n regions with their fds. */
int cvmm_vhost_frontend_set_mem_table_raw(struct cvmm_vhost_frontend *fe,
					  const struct cvmm_vhost_mem_region *r,
					  const int *fds, unsigned int n);
/**
 * Post-copy form of SET_MEM_TABLE (after POSTCOPY_LISTEN; vhost-user.rst):
 * the backend answers with its own mapping of each region, stored in
 * @bases[i] (the backend's address of region i's first byte), so a fault
 * its userfaultfd reports at backend address X is guest physical address
 * gpa_i + (X - bases[i]). The backend waits for
 * cvmm_vhost_frontend_postcopy_mem_ack() next: send it once this process
 * can serve the backend's faults at those addresses.
 * @return 0; -EIO the backend refused (a zero-size answer); -EPROTO an
 * answer that does not describe the regions sent (other count, guest
 * address, size or offset, an unaligned base); the errors of
 * cvmm_vhost_frontend_set_mem_table().
 */
int cvmm_vhost_frontend_set_mem_table_postcopy(struct cvmm_vhost_frontend *fe,
					       const struct cvmm_guest_mem *gmem,
					       uint64_t *bases);
/** The acknowledgement of that answer (QEMU's: a SET_MEM_TABLE with a u64,
 * 0 = the faults are served). Sent with nothing to wait for. */
int cvmm_vhost_frontend_postcopy_mem_ack(struct cvmm_vhost_frontend *fe, uint64_t status);
/** Needs CONFIGURE_MEM_SLOTS. */
int cvmm_vhost_frontend_get_max_mem_slots(struct cvmm_vhost_frontend *fe, uint64_t *slots);
int cvmm_vhost_frontend_add_mem_reg(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_mem_region *r, int fd);
int cvmm_vhost_frontend_rem_mem_reg(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_mem_region *r);

int cvmm_vhost_frontend_set_vring_num(struct cvmm_vhost_frontend *fe,
				      unsigned int idx, unsigned int num);
/** Addresses are the frontend's virtual addresses of the rings. */
int cvmm_vhost_frontend_set_vring_addr(struct cvmm_vhost_frontend *fe,
				       const struct cvmm_vhost_vring_addr_wire *a);
/**
 * @base as the wire carries it (see CVMM_VHOST_PACKED_BASE_INIT): after
 * SET_FEATURES with VIRTIO_F_RING_PACKED, the packed encoding, whose two
 * slots must be below the size sent with SET_VRING_NUM (-EINVAL before
 * sending); otherwise a split index, at most 0xffff (-EINVAL).
 */
int cvmm_vhost_frontend_set_vring_base(struct cvmm_vhost_frontend *fe,
				       unsigned int idx, unsigned int base);
/**
 * Stops the ring; *@base in the same encoding. A reply that does not fit
 * (a split index above 0xffff, a packed slot at or above the ring size)
 * is -EPROTO. Decode a packed one with cvmm_vhost_packed_base_decode().
 */
int cvmm_vhost_frontend_get_vring_base(struct cvmm_vhost_frontend *fe,
				       unsigned int idx, unsigned int *base);
/** @fd -1 sends the "no fd" flag. @idx < CVMM_VHOST_MAX_QUEUES. */
int cvmm_vhost_frontend_set_vring_kick(struct cvmm_vhost_frontend *fe,
				       unsigned int idx, int fd);
int cvmm_vhost_frontend_set_vring_call(struct cvmm_vhost_frontend *fe,
				       unsigned int idx, int fd);
int cvmm_vhost_frontend_set_vring_err(struct cvmm_vhost_frontend *fe,
				      unsigned int idx, int fd);
int cvmm_vhost_frontend_set_vring_enable(struct cvmm_vhost_frontend *fe,
					 unsigned int idx, bool enable);

/**
 * Start vring @a->index in the order backends expect: NUM, ADDR, BASE,
 * CALL (before KICK: a backend that starts the ring on KICK, like
 * libvhost-user, must already have somewhere to signal), KICK, then ENABLE
 * when @enable (only with VHOST_USER_F_PROTOCOL_FEATURES negotiated).
 * @base is encoded as for set_vring_base(): a fresh packed ring is
 * CVMM_VHOST_PACKED_BASE_INIT, not 0.
 * @return 0 or the first failing request's error.
 * Thread safety: as the other frontend calls.
 */
int cvmm_vhost_frontend_start_vring(struct cvmm_vhost_frontend *fe,
				    const struct cvmm_vhost_vring_addr_wire *a,
				    unsigned int num, unsigned int base, int kick_fd,
				    int call_fd, bool enable);
/** Needs MQ. */
int cvmm_vhost_frontend_get_queue_num(struct cvmm_vhost_frontend *fe, uint64_t *num);
/** Needs CONFIG; @offset + @len <= CVMM_VHOST_MAX_CONFIG_SIZE, @len > 0. */
int cvmm_vhost_frontend_get_config(struct cvmm_vhost_frontend *fe, uint32_t offset,
				   void *buf, uint32_t len);
int cvmm_vhost_frontend_set_config(struct cvmm_vhost_frontend *fe, uint32_t offset,
				   const void *buf, uint32_t len, uint32_t flags);
/** Needs STATUS. */
int cvmm_vhost_frontend_set_status(struct cvmm_vhost_frontend *fe, uint8_t status);
int cvmm_vhost_frontend_get_status(struct cvmm_vhost_frontend *fe, uint8_t *status);
/** Needs RESET_DEVICE. The backend forgets the features and every vring's
 * set-up: send SET_FEATURES and the vrings again. */
int cvmm_vhost_frontend_reset_device(struct cvmm_vhost_frontend *fe);
/** With LOG_SHMFD: @fd and the area; the backend's reply is awaited. */
int cvmm_vhost_frontend_set_log_base(struct cvmm_vhost_frontend *fe, int fd,
				     uint64_t mmap_size, uint64_t mmap_offset);
int cvmm_vhost_frontend_set_log_fd(struct cvmm_vhost_frontend *fe, int fd);
/** Needs INFLIGHT_SHMFD. *@fd receives the backend's fd (caller closes).
 * -EPROTO when the reply has no fd, or the fd is not a regular file backing
 * a non-empty [mmap_offset, mmap_offset + mmap_size) (mapping it could
 * SIGBUS the caller); the fd is closed then. */
int cvmm_vhost_frontend_get_inflight_fd(struct cvmm_vhost_frontend *fe,
					uint16_t num_queues, uint16_t queue_size,
					int *fd, uint64_t *mmap_size,
					uint64_t *mmap_offset);
int cvmm_vhost_frontend_set_inflight_fd(struct cvmm_vhost_frontend *fe, int fd,
					uint64_t mmap_size, uint64_t mmap_offset,
					uint16_t num_queues, uint16_t queue_size);
/** Needs PAGEFAULT. *@ufd receives the backend's userfaultfd. */
int cvmm_vhost_frontend_postcopy_advise(struct cvmm_vhost_frontend *fe, int *ufd);
int cvmm_vhost_frontend_postcopy_listen(struct cvmm_vhost_frontend *fe);
int cvmm_vhost_frontend_postcopy_end(struct cvmm_vhost_frontend *fe);
/**
 * Needs DEVICE_STATE. *@reply_fd gets the backend's own fd or -1 when it
 * uses @fd. */
int cvmm_vhost_frontend_set_device_state_fd(struct cvmm_vhost_frontend *fe,
					    uint32_t direction, uint32_t phase,
					    int fd, int *reply_fd);
int cvmm_vhost_frontend_check_device_state(struct cvmm_vhost_frontend *fe);

/**
 * Needs BACKEND_REQ: make a socketpair, send one end with
 * SET_BACKEND_REQ_FD and keep the other for backend requests.
 * @return as above.
 */
int cvmm_vhost_frontend_open_backend_channel(struct cvmm_vhost_frontend *fe);
/** The channel's fd to poll (POLLIN: call recv_backend_req), or -1. */
int cvmm_vhost_frontend_backend_channel_fd(const struct cvmm_vhost_frontend *fe);

/** A backend request as the frontend receives it. */
struct cvmm_vhost_backend_event {
	uint32_t request; /* enum cvmm_vhost_backend_req */
	uint32_t index;   /* VRING_CALL/ERR: the vring */
	/* IOTLB_MSG: the message (type MISS or ACCESS_FAIL, perm RO/WO/RW),
	 * and whether the backend waits for an ack: then the caller answers
	 * (UPDATE first) and calls cvmm_vhost_frontend_backend_req_ack(). */
	struct cvmm_vhost_iotlb_msg iotlb;
	bool ack_due;
};

/**
 * Read one backend request from the channel, check it (known request,
 * exact size, no fds, index below CVMM_VHOST_MAX_QUEUES) and, when it asks
 * for a reply, ack it with 0 (or with EINVAL when refused).
 * @return 0 with *@ev filled; -EINVAL / -EOPNOTSUPP for a refused message
 * (channel still usable); -ENOTCONN (no channel); -EPIPE / -EPROTO (the
 * channel is dead and closed). Thread safety: one thread per frontend for
 * the channel (may run alongside calls on the main socket).
 */
int cvmm_vhost_frontend_recv_backend_req(struct cvmm_vhost_frontend *fe,
					 struct cvmm_vhost_backend_event *ev);
/**
 * Ack a backend request that recv_backend_req() left with ack_due (an
 * IOTLB_MSG): @err 0 or a negative errno. @return 0; -ENOTCONN; -EPIPE
 * (the channel died and is closed). Thread safety: the channel's thread.
 */
int cvmm_vhost_frontend_backend_req_ack(struct cvmm_vhost_frontend *fe, uint32_t request,
					int err);
/**
 * IOTLB_MSG: send @m (UPDATE or INVALIDATE) and wait for the backend's u64
 * status (always, as vhost-user.rst says). Needs VIRTIO_F_ACCESS_PLATFORM
 * in the features set with set_features (-EOPNOTSUPP).
 * @return as above; -EINVAL (other type, size 0, iova + size wrapping,
 * UPDATE with perm not RO/WO/RW).
 */
int cvmm_vhost_frontend_iotlb_msg(struct cvmm_vhost_frontend *fe,
				  const struct cvmm_vhost_iotlb_msg *m);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VHOST_H */
