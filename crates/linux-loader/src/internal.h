/* SPDX-License-Identifier: Apache-2.0 */
/* Private to linux-loader: the image file, the load plan, shared helpers. */
#ifndef CVMM_LINUX_LOADER_INTERNAL_H
#define CVMM_LINUX_LOADER_INTERNAL_H

#include <cvmm/linux-loader.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cvmm_guest_mem;

/* An untrusted image: only its size at open time is believed, and every
 * read is checked against it (and against the file shrinking later). */
struct cvmm_ll_file {
	int fd;
	uint64_t size;
};

int cvmm_ll_file_open(int fd, struct cvmm_ll_file *f);
/* Read exactly @len bytes at @off: -EBADMSG if the range is not inside the
 * file, -EIO on a short read or a read error. */
int cvmm_ll_file_read(const struct cvmm_ll_file *f, void *buf, size_t len, uint64_t off);
/* Copy @len file bytes at @off to guest @gpa (both ranges already validated). */
int cvmm_ll_file_to_guest(const struct cvmm_ll_file *f, uint64_t off, uint64_t len,
			  struct cvmm_guest_mem *m, uint64_t gpa);

/* A piece of the image to place in guest memory: filesz bytes from the
 * file, then zeroes up to memsz (zero_tail), or memsz merely reserved. */
struct cvmm_ll_seg {
	uint64_t file_off;
	uint64_t filesz;
	uint64_t gpa;
	uint64_t memsz;
	bool zero_tail;
};

struct cvmm_ll_image {
	struct cvmm_kernel_info info;
	struct cvmm_ll_seg segs[CVMM_LOADER_MAX_PHDRS];
	unsigned int nsegs;
	/* bzImage: the setup header bytes the image carries (copied into
	 * boot_params.hdr as the protocol asks). */
	uint8_t hdr[sizeof(struct cvmm_setup_header)];
	size_t hdr_len;
};

int cvmm_ll_elf_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img);
int cvmm_ll_bzimage_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img);
int cvmm_ll_parse(const struct cvmm_ll_file *f, struct cvmm_ll_image *img);

/* Every byte of [gpa, gpa + len) is guest RAM the VMM may write (no ROM). */
bool cvmm_ll_ram_writable(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len);

/* Half-open ranges [a, a + alen) and [b, b + blen) share a byte. */
static inline bool cvmm_ll_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return alen && blen && a < b + blen && b < a + alen;
}

#endif
