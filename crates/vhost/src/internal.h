/* SPDX-License-Identifier: Apache-2.0 */
/* Shared between the vhost sources; never installed. */
#ifndef CVMM_VHOST_INTERNAL_H
#define CVMM_VHOST_INTERNAL_H

#include <cvmm/vhost.h>
#include <cvmm/sys-util.h>

#include <errno.h>
#include <stdbool.h>

#define VHOST_LOG "vhost"

/* Fd rule of one request. */
enum vhost_fd_rule {
	FD_NONE,    /* no fd */
	FD_ONE,     /* exactly one */
	FD_OPT,     /* zero or one */
	FD_VRING,   /* one unless the payload's NOFD bit is set */
	FD_REGIONS, /* one per region of the payload */
};

/* Payload rule of one request: exact size, or a variable layout checked by
 * code (memory table, config). */
struct vhost_req_rule {
	const char *name;
	int size;              /* exact payload size; -1: variable (see msg.c) */
	enum vhost_fd_rule fds;
	int pfeature;          /* protocol feature bit it needs, -1 none */
	bool data_reply;       /* the protocol defines a reply payload */
};

/* NULL for requests this library does not carry. */
const struct vhost_req_rule *cvmm_vhost_req_rule(uint32_t request);

/* Build a header for @request with @size bytes of payload. */
static inline void vhost_msg_init(struct cvmm_vhost_msg *m, uint32_t request,
				  uint32_t flags, uint32_t size)
{
	m->hdr.request = request;
	m->hdr.flags = CVMM_VHOST_VERSION | flags;
	m->hdr.size = size;
	m->nfds = 0;
}

/* Wait for a reply to @request (REPLY flag set, same request) with exactly
 * @size payload bytes (0: any size up to the maximum; the caller checks).
 * Fds in the reply are kept (up to @max_fds) or closed. */
int cvmm_vhost_msg_recv_reply(int sock, uint32_t request, struct cvmm_vhost_msg *m,
			      unsigned int max_fds);

/* 0 when @fd is a regular file that really backs [@off, @off + @size), so
 * mapping that window cannot SIGBUS us; else -EINVAL. */
int cvmm_vhost_fd_covers(int fd, uint64_t off, uint64_t size);

/* Map a REPLY_ACK / backend u64 status to a return value. */
static inline int vhost_ack_to_errno(uint64_t v)
{
	if (v == 0)
		return 0;
	if (v < 4096)
		return -(int)v;
	return -EIO;
}

#endif
