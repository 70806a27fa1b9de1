/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Post-copy migration (vhost-user.rst, PAGEFAULT): the destination's
 * frontend asks for a userfaultfd over our mapping of guest RAM (ADVISE),
 * we register the mapping with it once the destination listens (LISTEN,
 * and every SET_MEM_TABLE after it, answered with our mapping's bases), so
 * a worker touching a page that has not arrived sleeps until the frontend
 * has placed it and wakes us; END lets the mapping go.
 *
 * The frontend reads the fd's events and wakes our threads; we only keep a
 * copy to register and unregister ranges. Runs on the serve() thread.
 */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int uffd_range(int ufd, const struct cvmm_mem_region *r, bool reg)
{
	struct uffdio_register u = {
		.range = { .start = (uintptr_t)r->host, .len = r->size },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	if (!CVMM_IS_ALIGNED((uintptr_t)r->host | r->size, CVMM_GUEST_PAGE_SIZE))
		return -EINVAL;
	if (reg)
		return ioctl(ufd, UFFDIO_REGISTER, &u) ? -errno : 0;
	return ioctl(ufd, UFFDIO_UNREGISTER, &u.range) ? -errno : 0;
}

int cvmm_vub_postcopy_register(struct cvmm_vub *d, struct cvmm_guest_mem *m)
{
	unsigned int n = m ? cvmm_guest_mem_num_regions(m) : 0;

	if (d->pc_state != VUB_PC_LISTENING)
		return 0;
	for (unsigned int i = 0; i < n; i++) {
		int ret = uffd_range(d->pc_ufd, cvmm_guest_mem_region(m, i), true);

		if (ret < 0) {
			VUB_LOG(CVMM_LOG_WARN, "post-copy: cannot register guest RAM at "
				"0x%llx with userfaultfd: %s",
				(unsigned long long)cvmm_guest_mem_region(m, i)->gpa,
				strerror(-ret));
			/* what is registered goes with the mapping */
			return ret;
		}
	}
	return 0;
}

int cvmm_vub_postcopy_advise(void *opaque, int *ufd)
{
	struct cvmm_vub *d = opaque;
	struct uffdio_api api = { .api = UFFD_API };
	int fd, ret;

	if (d->pc_state != VUB_PC_NONE)
		return -EBUSY; /* one post-copy at a time */
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, UFFDIO_API, &api)) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*ufd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (*ufd < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	d->pc_ufd = fd;
	d->pc_state = VUB_PC_ADVISED;
	d->pc_advised++;
	VUB_LOG(CVMM_LOG_INFO, "post-copy: ADVISE, userfaultfd handed to the frontend");
	return 0;
}

int cvmm_vub_postcopy_listen(void *opaque)
{
	struct cvmm_vub *d = opaque;
	int ret;

	if (d->pc_state != VUB_PC_ADVISED)
		return d->pc_state == VUB_PC_NONE ? -EINVAL : -EBUSY;
	d->pc_state = VUB_PC_LISTENING;
	/* A table set before LISTEN is covered from now on, too. */
	ret = cvmm_vub_postcopy_register(d, d->mem);
	if (ret < 0) {
		d->pc_state = VUB_PC_ADVISED;
		return ret;
	}
	VUB_LOG(CVMM_LOG_INFO, "post-copy: LISTEN, guest RAM registered with userfaultfd");
	return 0;
}

void cvmm_vub_postcopy_reset(struct cvmm_vub *d)
{
	unsigned int n = d->mem ? cvmm_guest_mem_num_regions(d->mem) : 0;

	if (d->pc_state == VUB_PC_LISTENING)
		for (unsigned int i = 0; i < n; i++)
			(void)uffd_range(d->pc_ufd, cvmm_guest_mem_region(d->mem, i), false);
	cvmm_close(d->pc_ufd);
	d->pc_ufd = -1;
	d->pc_state = VUB_PC_NONE;
}

int cvmm_vub_postcopy_end(void *opaque)
{
	struct cvmm_vub *d = opaque;

	if (d->pc_state != VUB_PC_LISTENING)
		return -EINVAL;
	/* Every page is here: accesses no longer fault. */
	cvmm_vub_postcopy_reset(d);
	VUB_LOG(CVMM_LOG_INFO, "post-copy: END, guest RAM unregistered");
	return 0;
}

int cvmm_vub_postcopy_mem_bases(void *opaque, const struct cvmm_vhost_mem_region *r,
				unsigned int n, uint64_t *bases)
{
	struct cvmm_vub *d = opaque;

	for (unsigned int i = 0; i < n; i++) {
		const struct cvmm_mem_region *g =
			d->mem ? cvmm_guest_mem_find(d->mem, r[i].guest_phys_addr) : NULL;

		if (!g || g->gpa != r[i].guest_phys_addr)
			return -EIO;
		bases[i] = (uint64_t)(uintptr_t)g->host;
	}
	return 0;
}
