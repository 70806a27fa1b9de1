/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/migration.h
 * @brief The live-migration wire protocol: framed messages, an encoder that
 *        writes them to a connected fd, and a decoder that treats every
 *        byte from the peer as hostile.
 *
 * A migration is one stream of messages from the source to the destination
 * (plus replies the other way: the destination's verdict, post-copy page
 * requests). Every message has a 16-byte header (little endian):
 *
 *     type u32 | reserved u32 (0) | payload length u64
 *
 * followed by the payload. The payload of each type is described with its
 * struct below; every length the peer sends is checked against a per-type
 * ceiling before a byte is allocated, every page address against the
 * receiver's own memory map (struct cvmm_mig_map), and a stream that ends
 * inside a message is reported as truncated. The order of messages is
 * checked too (struct cvmm_mig_rx): START first and once, pages only
 * after it, STATE at most once, nothing after COMPLETE or ABANDON.
 *
 * Order on the wire (pre-copy):
 *     START (shape, RAM ranges, config blob)
 *     PASS 0, PAGES ... (every page of RAM; zero pages as markers)
 *     PASS n, PAGES ... (pages dirtied since the last pass) ...
 *     STATE (the whole-VM state stream, source paused)
 *     COMPLETE                      <- destination: RESULT ok / error
 * Post-copy sends STATE early, then the destination sends PAGE_REQUEST on a
 * connection of its own and the source answers with PAGES. Local migration
 * sends MEMFD messages, each carrying one guest RAM fd as SCM_RIGHTS
 * ancillary data, instead of pages.
 *
 * Nothing here prints or exits. Errors are negative errno values with one
 * line in the caller's @err buffer naming the message and field.
 */
#ifndef CVMM_MIGRATION_H
#define CVMM_MIGRATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_MIG_MAGIC "CVMMMIGR"
#define CVMM_MIG_VERSION 1u
#define CVMM_MIG_PAGE_SIZE 4096u
#define CVMM_MIG_HDR_SIZE 16u
/** Most pages in one PAGES message (4 MiB). */
#define CVMM_MIG_MAX_BATCH 1024u
/** Most RAM ranges in START (the guest memory map's own limit). */
#define CVMM_MIG_MAX_RANGES 256u
/** Longest configuration blob in START. */
#define CVMM_MIG_MAX_CONFIG (1u << 20)
/** Largest device-state stream (guest RAM never travels in it). */
#define CVMM_MIG_MAX_STATE (64u << 20)
/** Longest reason in ABANDON / RESULT. */
#define CVMM_MIG_MAX_REASON 256u
/** Most vCPUs START may announce. */
#define CVMM_MIG_MAX_VCPUS 256u

enum cvmm_mig_type {
	CVMM_MIG_START = 1,       /**< struct cvmm_mig_start + ranges + config */
	CVMM_MIG_PASS = 2,        /**< u64 pass number, u64 pages the pass will send */
	CVMM_MIG_PAGES = 3,       /**< struct cvmm_mig_pages + data (none for zero runs) */
	CVMM_MIG_STATE = 4,       /**< the whole-VM state stream (cvmm/snapshot.h) */
	CVMM_MIG_COMPLETE = 5,    /**< u64 pages sent in total */
	CVMM_MIG_ABANDON = 6,     /**< a reason (text, not NUL-terminated) */
	CVMM_MIG_PAGE_REQUEST = 7,/**< struct cvmm_mig_pages (no data): post-copy */
	CVMM_MIG_MEMFD = 8,       /**< struct cvmm_mig_memfd; the fd as SCM_RIGHTS */
	CVMM_MIG_RESULT = 9,      /**< i32 errno (0 ok), u32 0, then a reason */
	/** Destination to source, the answer to a START with CVMM_MIG_F_SWITCH:
	 * u32 the START flags it accepts, u32 0. */
	CVMM_MIG_ACCEPT = 10,
	/** Pre-copy switches to post-copy here: u64 pages the DISCARDs that
	 * follow name. The destination takes missing pages on demand from now. */
	CVMM_MIG_SWITCH = 11,
	/** struct cvmm_mig_pages (no data): pages the destination holds from
	 * an earlier pass that were dirtied since; dropped, they come again. */
	CVMM_MIG_DISCARD = 12,
	/** Destination to source, the answer to a START with CVMM_MIG_F_RESUME:
	 * struct cvmm_mig_received + a bitmap of which of its pages the
	 * destination holds; as many as it takes, then ACCEPT. */
	CVMM_MIG_RECEIVED = 13,
	/** Local migration only, right after START: struct cvmm_mig_devfd; a
	 * device's host fd as SCM_RIGHTS (as many as START's devfds). */
	CVMM_MIG_DEVFD = 14,
	CVMM_MIG_TYPE_MAX = CVMM_MIG_DEVFD,
};

/** Flags of START. */
#define CVMM_MIG_F_POSTCOPY 0x1u /**< STATE comes before the bulk of RAM */
#define CVMM_MIG_F_LOCAL 0x2u    /**< RAM comes as MEMFD messages */
/** Pre-copy that may switch to post-copy (SWITCH) if it does not converge;
 * the destination answers ACCEPT, and a page-request connection exists. */
#define CVMM_MIG_F_SWITCH 0x4u
/** Post-copy recovery: the link of a post-copy migration was lost after
 * the switch-over and this new connection resumes it (with
 * CVMM_MIG_F_POSTCOPY, no extra connections). The destination answers with
 * RECEIVED messages (the pages it holds) and ACCEPT(CVMM_MIG_F_RESUME); the
 * source then sends PASS, the missing pages, COMPLETE (the pages of this
 * connection) and serves page requests on a new request connection. */
#define CVMM_MIG_F_RESUME 0x8u
#define CVMM_MIG_F_ALL (CVMM_MIG_F_POSTCOPY | CVMM_MIG_F_LOCAL | CVMM_MIG_F_SWITCH | \
			CVMM_MIG_F_RESUME)
/** Most memory connections besides the main one (START's connections). */
#define CVMM_MIG_MAX_CONNECTIONS 15u

/** A range of guest RAM: page-aligned, non-empty. */
struct cvmm_mig_range {
	uint64_t gpa;
	uint64_t size;
};

/** START's fixed part (56 bytes), then nranges ranges, then the config. */
struct cvmm_mig_start {
	char magic[8];        /**< CVMM_MIG_MAGIC */
	uint32_t version;     /**< CVMM_MIG_VERSION */
	uint32_t flags;       /**< CVMM_MIG_F_* */
	uint32_t ncpus;
	uint32_t nranges;
	uint64_t mem_size;    /**< the sum of the ranges */
	uint64_t config_len;
	/** Extra connections that carry pages (PASS, PAGES, COMPLETE) besides
	 * this one, 0..CVMM_MIG_MAX_CONNECTIONS; the source connects them
	 * after this one (and after the page-request connection). */
	uint32_t connections;
	/** DEVFD messages that follow START at once, 0..CVMM_MIG_MAX_DEVFDS;
	 * only with CVMM_MIG_F_LOCAL. */
	uint32_t devfds;
	uint64_t reserved;
};

/** Most DEVFD messages one local migration carries. */
#define CVMM_MIG_MAX_DEVFDS 64u
/** Longest device id in DEVFD, its NUL included (the VM core's ids). */
#define CVMM_MIG_DEVFD_ID_MAX 48u

/** What a DEVFD's fd is. */
enum cvmm_mig_devfd_kind {
	CVMM_MIG_DEVFD_TAP = 1,    /**< a TAP queue of a virtio-net card; index: its pair */
	CVMM_MIG_DEVFD_VSOCK = 2,  /**< a vsock device's listening unix socket; index 0 */
};

/** DEVFD's payload (56 bytes). The receiver checks the fd itself against
 * its own configuration of device @id: the message only says which. */
struct cvmm_mig_devfd {
	uint32_t kind;        /**< enum cvmm_mig_devfd_kind */
	uint32_t index;       /**< TAP: the queue pair, < 16; vsock: 0 */
	char id[CVMM_MIG_DEVFD_ID_MAX]; /**< NUL-terminated, NUL-padded, non-empty */
};

/** Flags of PAGES. */
#define CVMM_MIG_PAGES_ZERO 0x1u /**< every page of the run is zero: no data follows */

/** PAGES' fixed part (16 bytes); count pages of data follow unless ZERO. */
struct cvmm_mig_pages {
	uint64_t gpa;
	uint32_t count;
	uint32_t flags;
};

/** MEMFD's payload: the fd maps [gpa, gpa + size) from fd_offset. */
struct cvmm_mig_memfd {
	uint64_t gpa;
	uint64_t size;
	uint64_t fd_offset;
};

/** Most pages one RECEIVED describes (a 32 KiB bitmap). */
#define CVMM_MIG_MAX_BITMAP (1u << 18)

/** RECEIVED's fixed part (16 bytes), then (count + 7) / 8 bytes: bit i
 * (byte i / 8, bit i % 8) set when page gpa + i * 4096 is at the
 * destination. The pages lie inside one range of RAM. */
struct cvmm_mig_received {
	uint64_t gpa;
	uint32_t count;       /**< 1..CVMM_MIG_MAX_BITMAP */
	uint32_t reserved;
};

/** A message header as decoded. */
struct cvmm_mig_hdr {
	uint32_t type;
	uint64_t len;
};

/** The receiver's memory map, against which every page is checked. */
struct cvmm_mig_map {
	const struct cvmm_mig_range *ranges; /**< ascending, non-overlapping */
	unsigned int nranges;
};

/** A decoded message; pointers point into the payload buffer given. */
struct cvmm_mig_msg {
	uint32_t type;
	union {
		struct {
			struct cvmm_mig_start hdr;
			struct cvmm_mig_range ranges[CVMM_MIG_MAX_RANGES];
			const void *config;
		} start;
		struct {
			uint64_t pass;
			uint64_t pages;
		} pass;
		struct {
			struct cvmm_mig_pages hdr;
			const void *data;   /**< NULL for a zero run */
		} pages;
		struct {
			const void *data;
			uint64_t len;
		} state;
		uint64_t complete_pages;
		struct {
			int32_t error;      /**< RESULT: 0 or a negative errno */
			char reason[CVMM_MIG_MAX_REASON + 1];
		} text;                     /**< ABANDON, RESULT */
		struct cvmm_mig_memfd memfd;
		struct {
			uint32_t flags;
		} accept;
		uint64_t switch_pages;
		struct {
			struct cvmm_mig_received hdr;
			const uint8_t *bits;
		} received;
		struct cvmm_mig_devfd devfd;
	} u;
};

/* ------------------------------------------------------------------------ */
/* Names and errors                                                          */
/* ------------------------------------------------------------------------ */

/** "START", "PAGES", ...; "unknown" for anything else. Reentrant. */
const char *cvmm_mig_type_name(uint32_t type);

/* ------------------------------------------------------------------------ */
/* Decoder                                                                   */
/* ------------------------------------------------------------------------ */

/**
 * Decode and check a 16-byte header: a known type, zero reserved bits, a
 * length within the type's ceiling (so a receiver can allocate it).
 * @return 0; -EPROTO (unknown type, reserved bits); -EMSGSIZE (length over
 * the ceiling); -EINVAL (NULL). @err: "migration message 'PAGES': length
 * 9223372036854775808 exceeds 4194320".
 * Thread safety: reentrant.
 */
int cvmm_mig_decode_header(const void *buf, struct cvmm_mig_hdr *h, char *err, size_t errlen);

/**
 * Decode and check a payload of @h->len bytes at @payload. PAGES and
 * PAGE_REQUEST must lie wholly inside one range of @map (page-aligned, no
 * overflow, 1..CVMM_MIG_MAX_BATCH pages, the payload exactly as long as the
 * data the flags promise); START's ranges must be page-aligned,
 * non-overlapping, ascending, sum to mem_size, and the config must fit;
 * MEMFD must name exactly one range of @map; RECEIVED must lie inside one
 * range of @map with a bitmap exactly as long as its count; START with
 * CVMM_MIG_F_RESUME needs CVMM_MIG_F_POSTCOPY and no extra connections;
 * START's devfds needs CVMM_MIG_F_LOCAL; DEVFD has a known kind, an index
 * in range and a NUL-terminated printable id.
 * @map may be NULL only for
 * messages that carry no address (the source decoding a RESULT).
 * @return 0 and *@out; -EPROTO (a malformed field); -ERANGE (an address
 * outside @map); -EPROTONOSUPPORT (another protocol version, unknown
 * flags); -EINVAL. @err names the message and field.
 * Thread safety: reentrant.
 */
int cvmm_mig_decode(const struct cvmm_mig_hdr *h, const void *payload,
		    const struct cvmm_mig_map *map, struct cvmm_mig_msg *out, char *err,
		    size_t errlen);

/** Where a receiver is in the stream: the order of messages is checked too. */
struct cvmm_mig_rx {
	bool started;
	bool state_seen;
	bool done;            /**< COMPLETE or ABANDON seen: nothing may follow */
	bool switched;        /**< SWITCH seen: post-copy from here */
	uint32_t flags;       /**< START's flags */
	uint64_t last_pass;
	uint64_t pages;       /**< pages received (data and zero) */
	uint64_t bytes;       /**< bytes of messages received, headers included */
	uint32_t devfds_max;  /**< START's devfds */
	uint32_t devfds;      /**< DEVFD messages seen */
	bool devfds_closed;   /**< a message after START that is not DEVFD came */
};

/**
 * Check that @m may come now, and account for it. START first and once;
 * PASS numbers strictly increasing; PAGES/MEMFD only after START; STATE at
 * most once; COMPLETE only after STATE; nothing after COMPLETE/ABANDON;
 * SWITCH once, before STATE, and only when START allowed it; DEVFD only in
 * a local migration, right after START, exactly as many as START announced
 * (fewer: the next message is refused, more: the extra one); DISCARD only
 * between SWITCH and STATE; PAGE_REQUEST, RESULT, ACCEPT and RECEIVED never
 * on the source's stream. A receiver resuming a post-copy keeps its @rx
 * (START and STATE seen), sets pages to 0 and done to false.
 * @return 0; -EPROTO with @err naming the message.
 * Thread safety: one thread per @rx.
 */
int cvmm_mig_rx_accept(struct cvmm_mig_rx *rx, const struct cvmm_mig_msg *m, char *err,
		       size_t errlen);

/**
 * Read one whole message from a blocking fd into *@buf (grown as needed up
 * to the type's ceiling; free() it when done) and decode it. With @fds not
 * NULL the header is read with recvmsg() and up to one SCM_RIGHTS fd is
 * collected into *@fds (-1 when none came); only MEMFD and DEVFD may carry
 * one (any other message with an fd is refused, the fd closed).
 * @return 0; -ECONNRESET on a clean end of stream before a header;
 * -EPIPE when the stream ends inside a message ("truncated"); the
 * decoder's errors; -errno of read.
 * Thread safety: one reader per fd.
 */
int cvmm_mig_recv(int fd, void **buf, size_t *cap, const struct cvmm_mig_map *map,
		  struct cvmm_mig_msg *out, int *fds, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Encoder (blocking writes to a connected fd)                               */
/* ------------------------------------------------------------------------ */

/** Fill a 16-byte header. */
void cvmm_mig_encode_header(void *buf, uint32_t type, uint64_t len);

/**
 * START with @ranges and @config. @return 0; -EINVAL (too many ranges, too
 * long a config, bad flags); -errno of write.
 */
int cvmm_mig_send_start(int fd, uint32_t flags, uint32_t ncpus,
			const struct cvmm_mig_range *ranges, unsigned int nranges,
			const void *config, size_t config_len);
/** START announcing @connections extra memory connections
 * (<= CVMM_MIG_MAX_CONNECTIONS; -EINVAL otherwise). */
int cvmm_mig_send_start_conns(int fd, uint32_t flags, uint32_t ncpus, uint32_t connections,
			      const struct cvmm_mig_range *ranges, unsigned int nranges,
			      const void *config, size_t config_len);
/** ACCEPT (destination to source): the START flags this side takes. */
int cvmm_mig_send_accept(int fd, uint32_t flags);
/** SWITCH: post-copy from here; @pages the DISCARDs that follow name. */
int cvmm_mig_send_switch(int fd, uint64_t pages);
/** DISCARD of @count (1..CVMM_MIG_MAX_BATCH) pages at @gpa. */
int cvmm_mig_send_discard(int fd, uint64_t gpa, uint32_t count);
int cvmm_mig_send_pass(int fd, uint64_t pass, uint64_t pages);
/**
 * PAGES of @count (1..CVMM_MIG_MAX_BATCH) pages at @gpa; @data (count pages,
 * typically straight from guest RAM) or NULL for a zero run.
 * @return bytes written (>0); -EINVAL; -errno of write.
 */
long cvmm_mig_send_pages(int fd, uint64_t gpa, uint32_t count, const void *data);
int cvmm_mig_send_page_request(int fd, uint64_t gpa, uint32_t count);
int cvmm_mig_send_state(int fd, const void *data, size_t len);
int cvmm_mig_send_complete(int fd, uint64_t pages);
/** ABANDON with @reason (cut to CVMM_MIG_MAX_REASON). */
int cvmm_mig_send_abandon(int fd, const char *reason);
/** RESULT (destination to source): 0 or a negative errno, and a reason. */
int cvmm_mig_send_result(int fd, int error, const char *reason);
/** RECEIVED (destination to source): @count (1..CVMM_MIG_MAX_BITMAP) pages
 * at @gpa, @bits as in struct cvmm_mig_received. */
int cvmm_mig_send_received(int fd, uint64_t gpa, uint32_t count, const uint8_t *bits);
/** MEMFD for [gpa, gpa + size) with @memfd passed as SCM_RIGHTS on a unix socket. */
int cvmm_mig_send_memfd(int fd, int memfd, uint64_t gpa, uint64_t size, uint64_t fd_offset);
/**
 * START of a local migration announcing @devfds DEVFD messages
 * (<= CVMM_MIG_MAX_DEVFDS, -EINVAL otherwise or without CVMM_MIG_F_LOCAL).
 */
int cvmm_mig_send_start_devfds(int fd, uint32_t flags, uint32_t ncpus, uint32_t devfds,
			       const struct cvmm_mig_range *ranges, unsigned int nranges,
			       const void *config, size_t config_len);
/**
 * DEVFD: @devfd (a TAP queue, a vsock listener: the sender keeps its own
 * copy) as SCM_RIGHTS for device @id (1..CVMM_MIG_DEVFD_ID_MAX - 1 bytes).
 * @return 0; -EINVAL (bad kind, index, id or fd); -errno of sendmsg.
 */
int cvmm_mig_send_devfd(int fd, int devfd, uint32_t kind, uint32_t index, const char *id);

/** True when the @len bytes at @p are all zero (fast path for whole pages). */
bool cvmm_mig_is_zero(const void *p, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_MIGRATION_H */
