/* SPDX-License-Identifier: Apache-2.0 */
/* Faults of the devices' own mappings of guest RAM in post-copy (uffd-peers.h). */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "migrate.h"
#include "uffd-peers.h"

#define PEER_PAGE 4096ull
#define PEER_MAX_REGIONS 8u

struct peer {
	unsigned int dev;  /* index in vmm->dev[] */
	int ufd;
	uint64_t faults;   /* on the peers' thread */
};

struct vi_peers {
	/* lock: n and the fds (wake() from any thread); end_lock: one end()
	 * at a time, the second waits until the first is done */
	pthread_mutex_t lock, end_lock;
	bool ended;
	struct cvmm_vmm *vmm;
	cvmm_vi_peer_fault_fn fault;
	void *opaque;
	struct peer *p;
	unsigned int n;
	int stop_efd;
	pthread_t thread;
	bool running;
	_Atomic uint64_t faults;
};

static unsigned int regions(struct vi_peers *ps, const struct peer *p,
			    struct cvmm_vmm_pc_region *r)
{
	const struct cvmm_vmm_device_ops *ops = ps->vmm->dev[p->dev].ops;

	return ops->postcopy_regions(ps->vmm->dev[p->dev].dev, r, PEER_MAX_REGIONS);
}

static void wake(int ufd, uint64_t addr, uint64_t len)
{
	struct uffdio_range w = { .start = addr, .len = len };

	(void)ioctl(ufd, UFFDIO_WAKE, &w);
}

void cvmm_vi_peers_wake(struct vi_peers *ps, uint64_t gpa, uint64_t len)
{
	struct cvmm_vmm_pc_region r[PEER_MAX_REGIONS];

	if (!ps)
		return;
	pthread_mutex_lock(&ps->lock);
	for (unsigned int i = 0; i < ps->n; i++) {
		unsigned int n = regions(ps, &ps->p[i], r);

		for (unsigned int k = 0; k < n; k++) {
			uint64_t lo = gpa > r[k].gpa ? gpa : r[k].gpa;
			uint64_t hi = gpa + len < r[k].gpa + r[k].size ? gpa + len
								       : r[k].gpa + r[k].size;

			if (lo < hi)
				wake(ps->p[i].ufd, r[k].addr + (lo - r[k].gpa), hi - lo);
		}
	}
	pthread_mutex_unlock(&ps->lock);
}

/* One fault of peer @p at its address @addr. */
static void on_fault(struct vi_peers *ps, struct peer *p, uint64_t addr)
{
	struct cvmm_vmm_pc_region r[PEER_MAX_REGIONS];
	unsigned int n = regions(ps, p, r);

	for (unsigned int k = 0; k < n; k++) {
		if (addr < r[k].addr || addr - r[k].addr >= r[k].size)
			continue;
		atomic_fetch_add(&ps->faults, 1);
		p->faults++;
		if (ps->fault(ps->opaque, r[k].gpa + (addr - r[k].addr)))
			wake(p->ufd, addr, PEER_PAGE); /* retry rather than sleep for ever */
		return;
	}
	/* Outside what the device said it maps: nothing of ours. Wake it:
	 * the access faults again or fails in the backend. */
	CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE, "post-copy: device '%s' faulted at %#llx, outside "
		 "its reported mapping", ps->vmm->dev[p->dev].id, (unsigned long long)addr);
	wake(p->ufd, addr, PEER_PAGE);
}

static void *peers_main(void *arg)
{
	struct vi_peers *ps = arg;
	struct pollfd *pfd = calloc(ps->n + 1, sizeof(*pfd));

	cvmm_thread_set_name("cvmm-uffd-peers");
	if (cvmm_vi_mig_thread_start(ps->vmm, 0))
		CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "post-copy: the device fault thread's hook "
			 "failed; serving faults unconfined");
	while (pfd) {
		for (unsigned int i = 0; i < ps->n; i++)
			pfd[i] = (struct pollfd){ .fd = ps->p[i].ufd, .events = POLLIN };
		pfd[ps->n] = (struct pollfd){ .fd = ps->stop_efd, .events = POLLIN };
		if (poll(pfd, ps->n + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[ps->n].revents)
			break;
		for (unsigned int i = 0; i < ps->n; i++) {
			struct uffd_msg m;

			if (!(pfd[i].revents & POLLIN))
				continue;
			if (read(ps->p[i].ufd, &m, sizeof(m)) != sizeof(m) ||
			    m.event != UFFD_EVENT_PAGEFAULT)
				continue;
			on_fault(ps, &ps->p[i], m.arg.pagefault.address & ~(PEER_PAGE - 1));
		}
	}
	free(pfd);
	return NULL;
}

static void peers_free(struct vi_peers *ps)
{
	for (unsigned int i = 0; i < ps->n; i++)
		cvmm_close(ps->p[i].ufd);
	cvmm_close(ps->stop_efd);
	pthread_mutex_destroy(&ps->lock);
	pthread_mutex_destroy(&ps->end_lock);
	free(ps->p);
	free(ps);
}

int cvmm_vi_peers_start(struct vi_peers **out, struct cvmm_vmm *vmm,
			cvmm_vi_peer_fault_fn fault, void *opaque, char *err, size_t errlen)
{
	struct vi_peers *ps = calloc(1, sizeof(*ps));
	int ret = 0;

	*out = NULL;
	if (!ps || !(ps->p = calloc(vmm->ndev ? vmm->ndev : 1, sizeof(*ps->p)))) {
		free(ps);
		return -ENOMEM;
	}
	pthread_mutex_init(&ps->lock, NULL);
	pthread_mutex_init(&ps->end_lock, NULL);
	ps->vmm = vmm;
	ps->fault = fault;
	ps->opaque = opaque;
	ps->stop_efd = -1;
	for (unsigned int i = 0; i < vmm->ndev && !ret; i++) {
		const struct cvmm_vmm_device_ops *ops = vmm->dev[i].ops;
		int ufd = -1;

		if (!ops->postcopy_begin || !ops->postcopy_regions)
			continue;
		ret = ops->postcopy_begin(vmm->dev[i].dev, &ufd);
		if (ret) {
			snprintf(err, errlen, "post-copy: device '%s' cannot take part: %s",
				 vmm->dev[i].id, ret == -EOPNOTSUPP ?
				 "its vhost-user backend does not offer PAGEFAULT (use Precopy)" :
				 strerror(-ret));
		} else if (ufd >= 0) {
			ps->p[ps->n++] = (struct peer){ i, ufd };
		}
	}
	if (!ret && ps->n) {
		ps->stop_efd = cvmm_eventfd_create(0);
		if (ps->stop_efd < 0)
			ret = ps->stop_efd;
		else if ((ret = -pthread_create(&ps->thread, NULL, peers_main, ps)) == 0)
			ps->running = true;
		if (ret)
			snprintf(err, errlen, "post-copy: the device fault thread: %s", strerror(-ret));
	}
	if (ret || !ps->n) {
		/* The devices that began end again (the fds close with us). */
		for (unsigned int i = 0; i < ps->n; i++)
			(void)vmm->dev[ps->p[i].dev].ops->postcopy_end(vmm->dev[ps->p[i].dev].dev);
		peers_free(ps);
		return ret;
	}
	*out = ps;
	return 0;
}

void cvmm_vi_peers_end(struct vi_peers *ps)
{
	if (!ps)
		return;
	pthread_mutex_lock(&ps->end_lock);
	if (ps->ended) {
		pthread_mutex_unlock(&ps->end_lock);
		return;
	}
	/* END first: the backends unregister (waking whoever waits, every
	 * page being here), then our thread goes. */
	for (unsigned int i = 0; i < ps->n; i++) {
		const struct cvmm_vmm_device_ops *ops = ps->vmm->dev[ps->p[i].dev].ops;
		int ret = ops->postcopy_end ? ops->postcopy_end(ps->vmm->dev[ps->p[i].dev].dev) : 0;

		if (ret)
			CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE, "post-copy: device '%s': POSTCOPY_END: %s",
				 ps->vmm->dev[ps->p[i].dev].id, strerror(-ret));
	}
	if (ps->running) {
		cvmm_eventfd_write(ps->stop_efd, 1);
		pthread_join(ps->thread, NULL);
		ps->running = false;
	}
	pthread_mutex_lock(&ps->lock);
	for (unsigned int i = 0; i < ps->n; i++) {
		CVMM_LOG(CVMM_LOG_INFO, VMM_CRATE, "post-copy: device '%s': %llu faults of its "
			 "vhost-user backend served", ps->vmm->dev[ps->p[i].dev].id,
			 (unsigned long long)ps->p[i].faults);
		cvmm_close(ps->p[i].ufd);
	}
	ps->n = 0;
	ps->ended = true;
	pthread_mutex_unlock(&ps->lock);
	pthread_mutex_unlock(&ps->end_lock);
}

void cvmm_vi_peers_free(struct vi_peers *ps)
{
	if (!ps)
		return;
	cvmm_vi_peers_end(ps);
	peers_free(ps);
}

uint64_t cvmm_vi_peers_faults(const struct vi_peers *ps)
{
	return ps ? atomic_load(&ps->faults) : 0;
}
