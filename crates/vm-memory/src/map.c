/* SPDX-License-Identifier: Apache-2.0 */
/* Host mappings behind regions: opening the backing and placing the mapping. */
#include "gm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#define HOST_PAGE CVMM_GUEST_PAGE_SIZE /* x86-64 hosts only (configure checks) */
#define THP_SIZE (2ull << 20)

static int dup_fd(int fd)
{
	int r = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return r < 0 ? -errno : r;
}

/*
 * Make sure [off, off + size) of @fd exists. A file we created or opened by
 * path may be grown; an fd someone handed us must already be large enough,
 * since touching a mapping past EOF raises SIGBUS in the VMM. Only regular
 * files (and memfd/hugetlbfs, which report as such) have a size to check.
 */
static int ensure_size(int fd, uint64_t need, bool may_grow)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return 0;
	if ((uint64_t)st.st_size >= need)
		return 0;
	if (!may_grow)
		return -EINVAL;
	if (ftruncate(fd, (off_t)need) < 0)
		return -errno;
	return 0;
}

static int open_backing(const struct cvmm_mem_region_opts *o, uint64_t hp, int *fdp)
{
	const uint64_t need = o->fd_offset + o->size; /* checked by the caller */
	bool grow = true;
	int fd, r;

	switch (o->backing) {
	case CVMM_MEM_ANON:
		*fdp = -1;
		return 0;
	case CVMM_MEM_MEMFD:
		if (o->fd >= 0) {
			fd = dup_fd(o->fd);
			grow = false;
		} else {
			fd = memfd_create("cvmm-guest-ram", MFD_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
		}
		break;
	case CVMM_MEM_FILE:
		if (o->fd >= 0) {
			fd = dup_fd(o->fd);
			grow = false;
		} else {
			/* A shared writable file is guest RAM we may create and
			 * size; anything else is an image that must exist. */
			bool rw = (o->flags & CVMM_MEM_F_SHARED) &&
				  !(o->flags & CVMM_MEM_F_READONLY);

			fd = rw ? open(o->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)
				: open(o->path, O_RDONLY | O_CLOEXEC);
			fd = fd < 0 ? -errno : fd;
			grow = rw;
		}
		break;
	case CVMM_MEM_HUGETLBFS: {
		struct statfs sfs;

		if (o->fd >= 0) {
			fd = dup_fd(o->fd);
			grow = false;
		} else if (o->path) {
			fd = open(o->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			fd = fd < 0 ? -errno : fd;
		} else {
			fd = memfd_create("cvmm-guest-ram", MFD_CLOEXEC | MFD_HUGETLB |
					  (hp == (1ull << 30) ? MFD_HUGE_1GB : MFD_HUGE_2MB));
			fd = fd < 0 ? -errno : fd;
		}
		if (fd < 0)
			return fd;
		/* A file elsewhere would silently give small pages and break
		 * the alignment promises made to the caller. */
		if (fstatfs(fd, &sfs) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
		if ((unsigned long)sfs.f_type != HUGETLBFS_MAGIC || (uint64_t)sfs.f_bsize != hp) {
			close(fd);
			return -EINVAL;
		}
		break;
	}
	default:
		return -EINVAL;
	}
	if (fd < 0)
		return fd;
	r = ensure_size(fd, need, grow);
	if (r) {
		close(fd);
		return r;
	}
	*fdp = fd;
	return 0;
}

/* The huge page size of the hugetlbfs file @fd is on, 0 for anything else. */
static uint64_t file_hugepage_size(int fd)
{
	struct statfs sfs;

	if (fstatfs(fd, &sfs) < 0 || (unsigned long)sfs.f_type != HUGETLBFS_MAGIC)
		return 0;
	return (uint64_t)sfs.f_bsize;
}

int cvmm_gm_map_region(const struct cvmm_mem_region_opts *o, struct cvmm_gm_slot *s)
{
	const bool huge = o->backing == CVMM_MEM_HUGETLBFS;
	const uint64_t hp = huge ? (o->hugepage_size ? o->hugepage_size : THP_SIZE) : HOST_PAGE;
	const uint64_t guard = (o->flags & CVMM_MEM_F_GUARD) ? HOST_PAGE : 0;
	/* Huge pages need aligned addresses; large ordinary regions are
	 * aligned to 2 MiB too so THP and KVM can use large mappings. */
	uint64_t align = huge ? hp : (o->size >= THP_SIZE ? THP_SIZE : HOST_PAGE);
	int prot = PROT_READ | ((o->flags & CVMM_MEM_F_READONLY) ? 0 : PROT_WRITE);
	int mflags, fd, r;
	uint64_t resv_len;
	uint8_t *resv, *start, *p;

	r = open_backing(o, hp, &fd);
	if (r)
		return r;
	if (o->backing == CVMM_MEM_FILE) {
		/* A FILE fd may be on hugetlbfs (a vhost-user frontend's
		 * hugepage-backed RAM): MAP_FIXED then needs an address
		 * aligned to its page size, and size/offset multiples of it. */
		uint64_t fhp = file_hugepage_size(fd);

		if (fhp > align)
			align = fhp;
		if (fhp && (!CVMM_IS_ALIGNED(o->size, fhp) || !CVMM_IS_ALIGNED(o->fd_offset, fhp))) {
			r = -EINVAL;
			goto err_fd;
		}
	}

	if (o->backing == CVMM_MEM_ANON || o->backing == CVMM_MEM_FILE)
		mflags = (o->flags & CVMM_MEM_F_SHARED) ? MAP_SHARED : MAP_PRIVATE;
	else
		mflags = MAP_SHARED;
	if (o->backing == CVMM_MEM_ANON)
		mflags |= MAP_ANONYMOUS;
	/* hugetlbfs with MAP_NORESERVE turns an empty pool into SIGBUS on
	 * first touch; without it mmap fails cleanly with ENOMEM instead. */
	if ((o->flags & CVMM_MEM_F_NORESERVE) && !huge)
		mflags |= MAP_NORESERVE;

	/*
	 * Reserve address space with PROT_NONE (costs nothing), place the
	 * region inside with MAP_FIXED at the wanted alignment, then give
	 * back everything except one guard page on each side.
	 */
	if (cvmm_add_overflow(o->size, 2 * guard + align - HOST_PAGE, &resv_len) ||
	    resv_len > SIZE_MAX) {
		r = -ENOMEM;
		goto err_fd;
	}
	resv = mmap(NULL, (size_t)resv_len, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (resv == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	start = (uint8_t *)CVMM_ALIGN_UP((uintptr_t)resv + guard, (uintptr_t)align);
	p = mmap(start, (size_t)o->size, prot, mflags | MAP_FIXED, fd,
		 (off_t)o->fd_offset);
	if (p == MAP_FAILED) {
		r = -errno;
		munmap(resv, (size_t)resv_len);
		goto err_fd;
	}
	if (start - guard > resv)
		munmap(resv, (size_t)(start - guard - resv));
	if (start + o->size + guard < resv + resv_len)
		munmap(start + o->size + guard,
		       (size_t)(resv + resv_len - (start + o->size + guard)));

	s->host = start;
	s->resv = start - guard;
	s->resv_len = (size_t)(o->size + 2 * guard);
	s->view.fd = fd;
	s->view.fd_offset = o->fd_offset;
	return 0;

err_fd:
	if (fd >= 0)
		close(fd);
	return r;
}

void cvmm_gm_unmap_region(struct cvmm_gm_slot *s)
{
	if (s->resv)
		munmap(s->resv, s->resv_len);
	if (s->view.fd >= 0)
		close(s->view.fd);
	cvmm_gm_dirty_free(s);
	s->resv = NULL;
	s->host = NULL;
	s->view.fd = -1;
}

int cvmm_guest_mem_region_map_private(struct cvmm_guest_mem *m, unsigned int idx, int fd,
				      uint64_t offset, bool populate)
{
	struct cvmm_gm_slot *s;
	struct stat st;
	uint64_t size, end;
	void *p;

	if (!m || idx >= m->n || fd < 0 || !CVMM_IS_ALIGNED(offset, HOST_PAGE))
		return -EINVAL;
	s = &m->slot[idx];
	size = s->end - s->gpa;
	/* A shared region is seen by others through its fd; private file
	 * pages would silently diverge from what they see. */
	if (s->view.fd >= 0 || (s->view.flags & (CVMM_MEM_F_SHARED | CVMM_MEM_F_READONLY)))
		return -EINVAL;
	if (fstat(fd, &st))
		return -errno;
	if (cvmm_add_overflow(offset, size, &end) || (uint64_t)st.st_size < end)
		return -EINVAL;
	/* MAP_FIXED over the old mapping: one step, the address never
	 * becomes free for another mapping to take. */
	p = mmap(s->host, (size_t)size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE | (populate ? MAP_POPULATE : 0), fd,
		 (off_t)offset);
	if (p == MAP_FAILED)
		return -errno;
	return 0;
}
