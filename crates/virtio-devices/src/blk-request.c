/* SPDX-License-Identifier: Apache-2.0 */
/*
 * virtio-blk request parsing: the only place that interprets what the guest
 * put in a chain. Every range is checked here, before any host I/O, so the
 * executor can trust a request that is marked executable.
 */
#include <errno.h>
#include <string.h>

#include <cvmm/virtio-devices/blk.h>

#include "internal.h"

#define BLK_HDR_BYTES 16u
#define BLK_SEG_BYTES 16u

static bool sectors_ok(const struct cvmm_blk_disk_info *disk, uint64_t sector,
		       uint64_t nsect)
{
	return cvmm_range_ok(sector, nsect, disk->capacity);
}

static void verdict(struct cvmm_blk_request *req, uint8_t status)
{
	req->status = status;
	req->executable = 0;
}

/* Build host iovecs for exactly data_len bytes of the data stream. */
static void data_iovecs(struct cvmm_blk_request *req)
{
	uint64_t sum = 0;
	int n;

	if (req->data_len == 0) {
		req->niov = 0;
		return;
	}
	n = cvmm_virtq_rw_iovec(&req->data, req->data_len, req->iov,
				CVMM_BLK_SEG_MAX + 1);
	if (n <= 0) {
		verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
		return;
	}
	for (int i = 0; i < n; i++)
		sum += req->iov[i].iov_len;
	if (sum != req->data_len) /* more segments than seg_max */
		verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
	req->niov = (unsigned int)n;
}

static int parse_segments(struct cvmm_blk_request *req, uint64_t payload,
			  const struct cvmm_blk_disk_info *disk)
{
	uint8_t raw[BLK_SEG_BYTES];
	uint64_t n = payload / BLK_SEG_BYTES;
	ssize_t got;

	if (payload % BLK_SEG_BYTES || n == 0 || n > CVMM_BLK_MAX_DISCARD_SEG) {
		verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
		return 0;
	}
	for (uint64_t i = 0; i < n; i++) {
		struct cvmm_blk_seg *s = &req->segs[i];

		got = cvmm_virtq_reader_read(&req->data, raw, sizeof(raw));
		if (got < 0)
			return (int)got;
		if (got != (ssize_t)sizeof(raw)) {
			verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
			return 0;
		}
		s->sector = vd_get_le64(raw);
		s->num_sectors = vd_get_le32(raw + 8);
		s->flags = vd_get_le32(raw + 12);
		if (s->flags & ~CVMM_VIRTIO_BLK_WZ_F_UNMAP ||
		    (req->type == CVMM_VIRTIO_BLK_T_DISCARD && s->flags)) {
			verdict(req, CVMM_VIRTIO_BLK_S_UNSUPP);
			return 0;
		}
		if (s->num_sectors > CVMM_BLK_MAX_DISCARD_SECTORS ||
		    !sectors_ok(disk, s->sector, s->num_sectors)) {
			verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
			return 0;
		}
	}
	req->nsegs = (uint16_t)n;
	return 0;
}

int cvmm_blk_request_parse(struct cvmm_blk_request *req,
			   const struct cvmm_virtq_chain *c,
			   struct cvmm_guest_mem *mem,
			   const struct cvmm_blk_disk_info *disk)
{
	struct cvmm_virtq_desc d, last = { 0 };
	uint64_t readable = 0, writable = 0, payload;
	uint8_t hdr[BLK_HDR_BYTES];
	ssize_t got;
	int r;

	if (!req || !c || !mem || !disk)
		return -EINVAL;
	memset(req, 0, offsetof(struct cvmm_blk_request, iov));
	req->chain = *c;
	req->mem = mem;
	req->status = CVMM_VIRTIO_BLK_S_OK;
	req->executable = 1;

	cvmm_virtq_chain_rewind(&req->chain);
	while ((r = cvmm_virtq_chain_next(&req->chain, &d)) > 0) {
		if (d.flags & CVMM_VIRTQ_DESC_F_WRITE)
			writable += d.len;
		else
			readable += d.len;
		last = d;
	}
	if (r < 0)
		return r;
	cvmm_virtq_chain_rewind(&req->chain);

	/* Without a status byte and a full header there is nobody to answer. */
	if (writable == 0 || !(last.flags & CVMM_VIRTQ_DESC_F_WRITE) || last.len == 0 ||
	    readable < BLK_HDR_BYTES)
		return -EINVAL;
	req->status_gpa = last.addr + last.len - 1;

	r = cvmm_virtq_reader_init(&req->data, &req->chain);
	if (r < 0)
		return r;
	got = cvmm_virtq_reader_read(&req->data, hdr, sizeof(hdr));
	if (got < 0)
		return (int)got;
	if (got != (ssize_t)sizeof(hdr))
		return -EINVAL;
	req->type = vd_get_le32(hdr);
	req->sector = vd_get_le64(hdr + 8);
	payload = readable - BLK_HDR_BYTES;

	switch (req->type) {
	case CVMM_VIRTIO_BLK_T_IN:
		if (payload)
			goto ioerr;
		req->data_len = writable - 1;
		if (req->data_len % CVMM_BLK_SECTOR_SIZE ||
		    !sectors_ok(disk, req->sector, req->data_len / CVMM_BLK_SECTOR_SIZE))
			goto ioerr;
		r = cvmm_virtq_writer_init(&req->data, &req->chain);
		if (r < 0)
			return r;
		data_iovecs(req);
		return 0;
	case CVMM_VIRTIO_BLK_T_OUT:
		if (writable != 1 || disk->read_only)
			goto ioerr;
		req->data_len = payload;
		if (req->data_len % CVMM_BLK_SECTOR_SIZE ||
		    !sectors_ok(disk, req->sector, req->data_len / CVMM_BLK_SECTOR_SIZE))
			goto ioerr;
		data_iovecs(req);
		return 0;
	case CVMM_VIRTIO_BLK_T_FLUSH:
		if (payload || writable != 1)
			goto ioerr;
		return 0;
	case CVMM_VIRTIO_BLK_T_GET_ID:
		if (payload)
			goto ioerr;
		req->data_len = CVMM_MIN(writable - 1, (uint64_t)CVMM_BLK_ID_BYTES);
		r = cvmm_virtq_writer_init(&req->data, &req->chain);
		if (r < 0)
			return r;
		return 0;
	case CVMM_VIRTIO_BLK_T_DISCARD:
	case CVMM_VIRTIO_BLK_T_WRITE_ZEROES:
		if (!(disk->features & (req->type == CVMM_VIRTIO_BLK_T_DISCARD
						? CVMM_VIRTIO_BLK_F_DISCARD
						: CVMM_VIRTIO_BLK_F_WRITE_ZEROES))) {
			verdict(req, CVMM_VIRTIO_BLK_S_UNSUPP);
			return 0;
		}
		if (disk->read_only || writable != 1)
			goto ioerr;
		return parse_segments(req, payload, disk);
	default:
		verdict(req, CVMM_VIRTIO_BLK_S_UNSUPP);
		return 0;
	}
ioerr:
	verdict(req, CVMM_VIRTIO_BLK_S_IOERR);
	return 0;
}

int cvmm_blk_request_complete(struct cvmm_blk_request *req)
{
	uint64_t used = 0;

	if (req->type == CVMM_VIRTIO_BLK_T_IN && req->niov) {
		/* The host wrote (or may have partly written) the data pages. */
		(void)cvmm_virtq_rw_advance(&req->data, req->data_len);
		if (req->status == CVMM_VIRTIO_BLK_S_OK)
			used = req->data_len;
	} else if (req->type == CVMM_VIRTIO_BLK_T_GET_ID) {
		used = req->done_len;
	}
	(void)cvmm_guest_mem_write_u8(req->mem, req->status_gpa, req->status);
	return cvmm_virtq_push(req->chain.q, &req->chain, (uint32_t)(used + 1));
}
