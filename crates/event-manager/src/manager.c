/* SPDX-License-Identifier: Apache-2.0 */
/* Lifetime of the event manager and the dispatch loop. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int cvmm_event_manager_create(const struct cvmm_event_manager_opts *opts,
			      struct cvmm_event_manager **out)
{
	struct cvmm_event_manager_opts o = { 0 };
	struct cvmm_event_manager *em;
	int r;

	if (!out)
		return -EINVAL;
	if (opts) {
		if (opts->sz < sizeof(size_t))
			return -EINVAL;
		memcpy(&o, opts, CVMM_MIN(opts->sz, sizeof(o)));
	}
	if (o.max_events > EM_MAX_EVENTS)
		return -EINVAL;
	em = calloc(1, sizeof(*em));
	if (!em)
		return -ENOMEM;
	em->epfd = em->notify_fd = -1;
	em->max_events = o.max_events ? o.max_events : EM_DEFAULT_EVENTS;
	em->events = calloc(em->max_events, sizeof(*em->events));
	if (!em->events) {
		r = -ENOMEM;
		goto fail;
	}
	r = -pthread_mutex_init(&em->lock, NULL);
	if (r < 0)
		goto fail;
	r = -pthread_cond_init(&em->idle, NULL);
	if (r < 0) {
		pthread_mutex_destroy(&em->lock);
		goto fail;
	}
	r = cvmm_epoll_create();
	if (r < 0)
		goto fail_sync;
	em->epfd = r;
	r = cvmm_eventfd_create(CVMM_EVENTFD_NONBLOCK);
	if (r < 0)
		goto fail_sync;
	em->notify_fd = r;
	em->notify = (struct em_sub){ .kind = EM_SUB_NOTIFY, .fd = r, .events = EPOLLIN };
	r = cvmm_em_map_insert(em, &em->notify);
	if (r < 0)
		goto fail_sync;
	r = cvmm_epoll_add(em->epfd, em->notify_fd, EPOLLIN, (uint64_t)(uintptr_t)&em->notify);
	if (r < 0)
		goto fail_sync;
	*out = em;
	return 0;
fail_sync:
	pthread_cond_destroy(&em->idle);
	pthread_mutex_destroy(&em->lock);
fail:
	cvmm_close(em->epfd);
	cvmm_close(em->notify_fd);
	free(em->by_fd);
	free(em->events);
	free(em);
	return r;
}

void cvmm_event_manager_destroy(struct cvmm_event_manager *em)
{
	if (!em)
		return;
	/* Freeing the loop under a running dispatch (say, from one of its
	 * callbacks) would be a use-after-free; a leak is the lesser harm. */
	if (__atomic_load_n(&em->running, __ATOMIC_ACQUIRE)) {
		cvmm_log(CVMM_LOG_ERROR, EM_CRATE, "destroy while the loop runs: ignored");
		return;
	}
	cvmm_em_cancel_calls(em);
	cvmm_em_free_graveyard(em);
	for (size_t fd = 0; fd < em->by_fd_len; fd++) {
		struct em_sub *s = em->by_fd[fd];

		if (s && s->kind != EM_SUB_NOTIFY)
			cvmm_em_free_sub(s);
	}
	cvmm_close(em->notify_fd);
	cvmm_close(em->epfd);
	pthread_cond_destroy(&em->idle);
	pthread_mutex_destroy(&em->lock);
	free(em->by_fd);
	free(em->events);
	free(em);
}

static int dispatch_one(struct cvmm_event_manager *em, struct em_sub *s, uint32_t events)
{
	uint64_t v;

	/* Removed by an earlier callback of this batch. */
	if (s->dead)
		return 0;
	switch (s->kind) {
	case EM_SUB_FD:
		/* The mask may have been narrowed by an earlier callback. */
		events &= s->events | EPOLLERR | EPOLLHUP;
		if (!events)
			return 0;
		s->fd_fn(em, s->fd, events, s->opaque);
		return 1;
	case EM_SUB_TIMER:
		/* Nothing to read: re-armed or disarmed since the fetch. */
		if (cvmm_timerfd_read(s->fd, &v) < 0 || !v)
			return 0;
		s->timer_fn(em, CVMM_CONTAINER_OF(s, struct cvmm_event_timer, sub), v, s->opaque);
		return 1;
	case EM_SUB_NOTIFY:
		/* Read before taking the queue; see enqueue() in remote.c. */
		cvmm_eventfd_read(s->fd, &v);
		return cvmm_em_run_calls(em);
	}
	return 0;
}

int cvmm_event_manager_run_once(struct cvmm_event_manager *em, int timeout_ms)
{
	int expected = 0, n, done = 0;

	if (!em)
		return -EINVAL;
	if (!__atomic_compare_exchange_n(&em->running, &expected, 1, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return -EBUSY;
	__atomic_store_n(&em->loop_thread, em_self(), __ATOMIC_RELEASE);

	n = cvmm_epoll_wait(em->epfd, em->events, (int)em->max_events, timeout_ms);
	for (int i = 0; i < n; i++)
		done += dispatch_one(em, em->events[i].data.ptr, em->events[i].events);
	cvmm_em_free_graveyard(em);

	/* Clear the owner before the flag, so that no thread can ever see
	 * running with a stale owner that happens to be itself. */
	__atomic_store_n(&em->loop_thread, 0ul, __ATOMIC_RELEASE);
	__atomic_store_n(&em->running, 0, __ATOMIC_RELEASE);
	return n < 0 ? n : done;
}

int cvmm_event_manager_run(struct cvmm_event_manager *em)
{
	if (!em)
		return -EINVAL;
	for (;;) {
		int r;

		if (__atomic_exchange_n(&em->stop, 0, __ATOMIC_ACQ_REL))
			return 0;
		r = cvmm_event_manager_run_once(em, -1);
		if (r < 0)
			return r;
	}
}

int cvmm_event_manager_stop(struct cvmm_event_manager *em)
{
	if (!em)
		return -EINVAL;
	__atomic_store_n(&em->stop, 1, __ATOMIC_RELEASE);
	return cvmm_eventfd_write(em->notify_fd, 1);
}
