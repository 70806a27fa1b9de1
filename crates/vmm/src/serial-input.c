/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A host fd (stdin) feeding the guest's serial port on the VM's control
 * loop, with back-pressure: bytes the UART's FIFO refuses wait for a retry
 * timer, and the fd is not watched meanwhile (it would stay readable and
 * spin the loop).
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <cvmm/vmm/vm.h>

#define RETRY_NS (10ull * 1000 * 1000)

struct cvmm_vm_input {
	struct cvmm_vmm *vmm;
	struct cvmm_event_manager *em;
	struct cvmm_event_timer *retry;
	int fd;
	bool watched;      /* registered with the loop */
	bool polled;       /* a regular file or a hung-up pipe: read on the timer */
	bool paused;       /* not watched while the FIFO is full */
	uint8_t buf[256];
	size_t len, off;
};

static void feed(struct cvmm_vm_input *in)
{
	if (in->off < in->len)
		in->off += cvmm_vmm_serial_input(in->vmm, in->buf + in->off, in->len - in->off);
}

static void unwatch(struct cvmm_vm_input *in)
{
	if (in->watched)
		cvmm_event_manager_remove(in->em, in->fd);
	in->watched = in->paused = false;
}

/* Read more only once everything read before was taken. */
static void read_more(struct cvmm_vm_input *in)
{
	ssize_t r;

	if (in->off < in->len || in->fd < 0)
		return;
	r = read(in->fd, in->buf, sizeof(in->buf));
	if (r <= 0) {
		/* EOF (or an error): the guest keeps running without input. */
		unwatch(in);
		in->polled = false;
		in->fd = -1;
		return;
	}
	in->len = (size_t)r;
	in->off = 0;
	feed(in);
}

static void arm_retry(struct cvmm_vm_input *in)
{
	bool pending = in->off < in->len;

	if (in->watched && pending != in->paused) {
		cvmm_event_manager_modify(in->em, in->fd, pending ? 0 : EPOLLIN);
		in->paused = pending;
	}
	cvmm_event_manager_timer_set(in->em, in->retry, pending || in->polled ? RETRY_NS : 0, 0);
}

static void on_readable(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_vm_input *in = opaque;

	(void)em;
	(void)fd;
	/* The writer went away while bytes still wait for the FIFO: epoll
	 * would report the hang-up for ever, whatever the mask. Stop watching;
	 * the retry timer reads the rest to EOF. */
	if ((events & (EPOLLHUP | EPOLLERR)) && in->off < in->len) {
		unwatch(in);
		in->polled = true;
	} else {
		read_more(in);
	}
	arm_retry(in);
}

static void on_retry(struct cvmm_event_manager *em, struct cvmm_event_timer *t, uint64_t n,
		     void *opaque)
{
	struct cvmm_vm_input *in = opaque;

	(void)em;
	(void)t;
	(void)n;
	feed(in);
	if (in->polled)
		read_more(in);
	arm_retry(in);
}

int cvmm_vm_input_create(struct cvmm_vmm *vmm, int fd, struct cvmm_vm_input **out)
{
	struct cvmm_vm_input *in;
	int ret;

	*out = NULL;
	if (!vmm || fd < 0)
		return -EINVAL;
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	*in = (struct cvmm_vm_input){ .vmm = vmm, .em = cvmm_vmm_event_manager(vmm), .fd = fd };
	ret = cvmm_event_manager_timer_add(in->em, 0, 0, on_retry, in, &in->retry);
	if (ret) {
		free(in);
		return ret;
	}
	ret = cvmm_event_manager_add(in->em, fd, EPOLLIN, on_readable, in);
	if (ret == -EPERM) {
		/* A regular file (or /dev/null) is always readable and epoll
		 * refuses it: read it on the timer instead. */
		in->polled = true;
		arm_retry(in);
		ret = 0;
	}
	if (ret) {
		cvmm_vm_input_destroy(in);
		return ret;
	}
	in->watched = !in->polled;
	*out = in;
	return 0;
}

void cvmm_vm_input_destroy(struct cvmm_vm_input *in)
{
	if (!in)
		return;
	unwatch(in);
	if (in->retry)
		cvmm_event_manager_timer_remove(in->em, in->retry);
	free(in);
}
