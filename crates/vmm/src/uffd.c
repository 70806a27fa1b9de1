/* SPDX-License-Identifier: Apache-2.0 */
/* userfaultfd over guest RAM with a fault thread of our own (uffd.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd.h"

int cvmm_vi_uffd_copy(struct vi_uffd *u, uint8_t *dst, const void *src, uint64_t len)
{
	uint64_t pos = 0;

	while (pos < len) {
		struct uffdio_copy c = { .dst = (uintptr_t)dst + pos,
					 .src = (uintptr_t)src + pos, .len = len - pos };

		if (!ioctl(u->uffd, UFFDIO_COPY, &c)) {
			atomic_fetch_add(&u->done, (uint64_t)c.copy);
			return 0;
		}
		if (c.copy > 0) {
			atomic_fetch_add(&u->done, (uint64_t)c.copy);
			pos += (uint64_t)c.copy;
		} else if (errno == EEXIST || c.copy == -EEXIST) {
			pos += UFFD_PAGE; /* already filled: skip it */
		} else if (errno != EAGAIN && errno != EINTR) {
			return -errno;
		}
	}
	return 0;
}

int cvmm_vi_uffd_zero(struct vi_uffd *u, uint8_t *dst, uint64_t len)
{
	for (uint64_t pos = 0; pos < len; pos += UFFD_PAGE) {
		struct uffdio_zeropage z = { .range = { .start = (uintptr_t)dst + pos,
							.len = UFFD_PAGE } };

		if (ioctl(u->uffd, UFFDIO_ZEROPAGE, &z) && errno != EEXIST)
			return -errno;
	}
	return 0;
}

void cvmm_vi_uffd_wake(struct vi_uffd *u, uint64_t page)
{
	struct uffdio_range w = { .start = page, .len = UFFD_PAGE };

	ioctl(u->uffd, UFFDIO_WAKE, &w);
}

int cvmm_vi_thread_hook_run(cvmm_vmm_thread_fn fn, void *opaque, const char *type, int *ret,
			    sem_t *started)
{
	int r = fn ? fn(opaque, type, 0) : 0;

	*ret = r;
	sem_post(started);
	return r;
}

void cvmm_vi_thread_hook_wait(sem_t *started)
{
	while (sem_wait(started) && errno == EINTR)
		;
}

static void *fault_main(void *arg)
{
	struct vi_uffd *u = arg;
	void *buf;

	cvmm_thread_set_name("cvmm-uffd");
	/* A failed hook fails the start (cvmm_vi_uffd_started()), but the
	 * thread serves faults until it is stopped all the same: whoever
	 * touches guest RAM meanwhile (the state restore) must not sleep for
	 * ever, and the VM never runs. */
	cvmm_vi_thread_hook_run(u->thread_start, u->thread_opaque, u->thread_type, &u->hook_ret,
				&u->started);
	buf = aligned_alloc(UFFD_PAGE, UFFD_PAGE);
	while (buf) {
		struct pollfd p[2] = { { .fd = u->uffd, .events = POLLIN },
				       { .fd = u->stop_efd, .events = POLLIN } };
		struct uffd_msg msg;
		ssize_t n;
		uint64_t page;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		n = read(u->uffd, &msg, sizeof(msg));
		if (n != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		page = msg.arg.pagefault.address & ~(UFFD_PAGE - 1);
		if (u->fault(u->opaque, page, buf)) {
			/* Never leave the faulting thread asleep: wake it to retry. */
			atomic_fetch_add(&u->errors, 1);
			cvmm_vi_uffd_wake(u, page);
		}
	}
	free(buf);
	return NULL;
}

static int failf(char *err, size_t errlen, int ret, const char *who, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s: %s%s", who, what, strerror(-ret),
			 ret == -EPERM ? " (root, or vm.unprivileged_userfaultfd=1)" : "");
	return ret;
}

static int register_range(struct vi_uffd *u, uint8_t *host, uint64_t len)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)host, .len = len },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};

	return ioctl(u->uffd, UFFDIO_REGISTER, &reg) ? -errno : 0;
}

int cvmm_vi_uffd_start(struct vi_uffd **out, struct cvmm_guest_mem *mem,
		       const struct vi_uffd_opts *o, cvmm_vi_uffd_fault_fn fault, void *opaque,
		       const char *who, char *err, size_t errlen)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct vi_uffd *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return -ENOMEM;
	u->stop_efd = -1;
	u->fault = fault;
	u->opaque = opaque;
	u->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (u->uffd < 0) {
		ret = failf(err, errlen, -errno, who, "userfaultfd");
		goto fail;
	}
	if (ioctl(u->uffd, UFFDIO_API, &api)) {
		ret = failf(err, errlen, -errno, who, "UFFDIO_API");
		goto fail;
	}
	if (o && o->ranges) {
		for (size_t i = 0; i < o->nranges; i++)
			if ((ret = register_range(u, o->ranges[i].host, o->ranges[i].len))) {
				failf(err, errlen, ret, who, "UFFDIO_REGISTER");
				goto fail;
			}
	} else {
		for (unsigned int i = 0; i < cvmm_guest_mem_num_regions(mem); i++) {
			const struct cvmm_mem_region *r = cvmm_guest_mem_region(mem, i);

			if (!(o && o->keep))
				madvise(r->host, r->size, MADV_DONTNEED);
			if ((ret = register_range(u, r->host, r->size))) {
				failf(err, errlen, ret, who, "UFFDIO_REGISTER");
				goto fail;
			}
		}
	}
	u->stop_efd = cvmm_eventfd_create(0);
	if (u->stop_efd < 0) {
		ret = failf(err, errlen, u->stop_efd, who, "eventfd");
		goto fail;
	}
	if (sem_init(&u->started, 0, 0)) {
		ret = failf(err, errlen, -errno, who, "sem_init");
		goto fail;
	}
	if (o) {
		u->thread_start = o->thread_start;
		u->thread_opaque = o->thread_opaque;
		u->thread_type = o->thread_type;
	}
	if ((ret = -pthread_create(&u->thread, NULL, fault_main, u))) {
		failf(err, errlen, ret, who, "fault thread");
		goto fail;
	}
	u->running = true;
	*out = u;
	return 0;
fail:
	cvmm_vi_uffd_stop(u);
	return ret;
}

int cvmm_vi_uffd_started(struct vi_uffd *u, const char *who, char *err, size_t errlen)
{
	int ret;

	cvmm_vi_thread_hook_wait(&u->started);
	sem_post(&u->started); /* a second call answers the same */
	if (!u->hook_ret)
		return 0;
	ret = u->hook_ret < 0 ? u->hook_ret : -EPERM;
	if (err && errlen)
		snprintf(err, errlen, "%s: the fault thread's start hook failed: %s", who,
			 strerror(-ret));
	return ret;
}

void cvmm_vi_uffd_stop(struct vi_uffd *u)
{
	if (!u)
		return;
	if (u->running) {
		cvmm_eventfd_write(u->stop_efd, 1);
		pthread_join(u->thread, NULL);
	}
	cvmm_close(u->stop_efd);
	cvmm_close(u->uffd);
	free(u);
}
