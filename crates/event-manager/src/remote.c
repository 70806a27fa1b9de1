/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The remote endpoint: a locked FIFO of calls plus an eventfd that wakes
 * the loop. A waited call lives on the waiter's stack with its own condition
 * variable; an unwaited one is heap-allocated and freed by whoever consumes
 * it (the loop after running it, or destroy after cancelling it).
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>

static void finish(struct cvmm_event_manager *em, struct em_call *c, int ret)
{
	if (!c->wait) {
		free(c);
		return;
	}
	pthread_mutex_lock(&em->lock);
	c->ret = ret;
	c->done = true;
	/* Signalled under the lock: the waiter cannot see done, return and
	 * destroy c->cv until we have unlocked, after this call returned. */
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&em->lock);
}

int cvmm_em_run_calls(struct cvmm_event_manager *em)
{
	struct em_call *c;
	int n = 0;

	/* Take only what is queued now: calls queued by these calls, or by
	 * other threads meanwhile, wait for the next round so fd events are
	 * not starved. */
	pthread_mutex_lock(&em->lock);
	c = em->head;
	em->head = em->tail = NULL;
	em->pending = 0;
	pthread_mutex_unlock(&em->lock);

	while (c) {
		struct em_call *next = c->next;

		finish(em, c, c->fn(em, c->arg));
		c = next;
		n++;
	}
	return n;
}

void cvmm_em_cancel_calls(struct cvmm_event_manager *em)
{
	struct em_call *c;

	pthread_mutex_lock(&em->lock);
	em->closing = true;
	c = em->head;
	em->head = em->tail = NULL;
	em->pending = 0;
	while (c) {
		struct em_call *next = c->next;

		if (c->wait) {
			c->ret = -ECANCELED;
			c->done = true;
			pthread_cond_signal(&c->cv);
		} else {
			free(c);
		}
		c = next;
	}
	while (em->waiters)
		pthread_cond_wait(&em->idle, &em->lock);
	pthread_mutex_unlock(&em->lock);
}

/* Queue @c (em->lock held) and wake the loop if the queue was empty. */
static int enqueue(struct cvmm_event_manager *em, struct em_call *c)
{
	bool was_empty = !em->head;
	int r;

	if (em->closing)
		return -ECANCELED;
	/* Only the first call of a batch writes the eventfd: the loop reads
	 * the eventfd before it takes the queue, so later calls are either
	 * taken with that batch or find the queue empty and write again. */
	if (was_empty) {
		r = cvmm_eventfd_write(em->notify_fd, 1);
		if (r < 0)
			return r;
	}
	c->next = NULL;
	if (em->tail)
		em->tail->next = c;
	else
		em->head = c;
	em->tail = c;
	em->pending++;
	return 0;
}

int cvmm_event_manager_call(struct cvmm_event_manager *em, cvmm_event_call_fn fn,
			    void *arg, bool wait)
{
	struct em_call *c, local;
	int r;

	if (!em || !fn)
		return -EINVAL;

	if (!wait) {
		c = malloc(sizeof(*c));
		if (!c)
			return -ENOMEM;
		*c = (struct em_call){ .fn = fn, .arg = arg };
		pthread_mutex_lock(&em->lock);
		r = enqueue(em, c);
		pthread_mutex_unlock(&em->lock);
		if (r < 0)
			free(c);
		return r;
	}

	/* The loop cannot wait for itself. */
	if (em_on_loop_thread(em))
		return fn(em, arg);

	local = (struct em_call){ .fn = fn, .arg = arg, .wait = true };
	r = pthread_cond_init(&local.cv, NULL);
	if (r)
		return -r;
	pthread_mutex_lock(&em->lock);
	r = enqueue(em, &local);
	if (r == 0) {
		em->waiters++;
		while (!local.done)
			pthread_cond_wait(&local.cv, &em->lock);
		r = local.ret;
		if (--em->waiters == 0 && em->closing)
			pthread_cond_broadcast(&em->idle);
	}
	pthread_mutex_unlock(&em->lock);
	pthread_cond_destroy(&local.cv);
	return r;
}

unsigned int cvmm_event_manager_pending_calls(struct cvmm_event_manager *em)
{
	unsigned int n;

	if (!em)
		return 0;
	pthread_mutex_lock(&em->lock);
	n = em->pending;
	pthread_mutex_unlock(&em->lock);
	return n;
}
