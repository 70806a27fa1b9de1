/* SPDX-License-Identifier: Apache-2.0 */
/* Timers: one nonblocking timerfd each, dispatched like any other fd. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

int cvmm_event_manager_timer_add(struct cvmm_event_manager *em, uint64_t initial_ns,
				 uint64_t interval_ns, cvmm_event_timer_fn fn,
				 void *opaque, struct cvmm_event_timer **out)
{
	struct cvmm_event_timer *t;
	int r, fd;

	if (!em || !fn || !out)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	fd = cvmm_timerfd_create();
	if (fd < 0) {
		free(t);
		return fd;
	}
	t->sub = (struct em_sub){ .kind = EM_SUB_TIMER, .fd = fd, .events = EPOLLIN,
				  .timer_fn = fn, .opaque = opaque };
	r = cvmm_em_map_insert(em, &t->sub);
	if (r < 0)
		goto fail;
	r = cvmm_epoll_add(em->epfd, fd, EPOLLIN, (uint64_t)(uintptr_t)&t->sub);
	if (r < 0)
		goto fail_map;
	/* Arm last, so a failure above leaves nothing that could fire. */
	r = cvmm_timerfd_set(fd, initial_ns, interval_ns);
	if (r < 0) {
		cvmm_epoll_del(em->epfd, fd);
		goto fail_map;
	}
	*out = t;
	return 0;
fail_map:
	em->by_fd[fd] = NULL;
fail:
	cvmm_close(fd);
	free(t);
	return r;
}

static bool timer_live(struct cvmm_event_manager *em, struct cvmm_event_timer *t)
{
	return t && !t->sub.dead && cvmm_em_map_get(em, t->sub.fd) == &t->sub;
}

int cvmm_event_manager_timer_set(struct cvmm_event_manager *em,
				 struct cvmm_event_timer *timer,
				 uint64_t initial_ns, uint64_t interval_ns)
{
	int r;

	if (!em || !timer)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	if (!timer_live(em, timer))
		return -EINVAL;
	/* timerfd_settime also clears the expiration count, so a dispatch
	 * already fetched in this batch finds nothing to read and is
	 * skipped. */
	return cvmm_timerfd_set(timer->sub.fd, initial_ns, interval_ns);
}

int cvmm_event_manager_timer_remove(struct cvmm_event_manager *em,
				    struct cvmm_event_timer *timer)
{
	int r;

	if (!em || !timer)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	if (!timer_live(em, timer))
		return -EINVAL;
	/* Disarm now: the timerfd itself is closed only when the record is
	 * freed, and until then it must not look ready. */
	cvmm_timerfd_set(timer->sub.fd, 0, 0);
	cvmm_em_sub_kill(em, &timer->sub);
	return 0;
}
