/* SPDX-License-Identifier: Apache-2.0 */
/* fd subscriptions: the fd map and tombstoned removal. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct em_sub *cvmm_em_map_get(struct cvmm_event_manager *em, int fd)
{
	if (fd < 0 || (size_t)fd >= em->by_fd_len)
		return NULL;
	return em->by_fd[fd];
}

int cvmm_em_map_insert(struct cvmm_event_manager *em, struct em_sub *s)
{
	if ((size_t)s->fd >= em->by_fd_len) {
		size_t len = em->by_fd_len ? em->by_fd_len : 64;
		struct em_sub **n;

		while (len <= (size_t)s->fd)
			len *= 2;
		n = realloc(em->by_fd, len * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + em->by_fd_len, 0, (len - em->by_fd_len) * sizeof(*n));
		em->by_fd = n;
		em->by_fd_len = len;
	}
	if (em->by_fd[s->fd])
		return -EEXIST;
	em->by_fd[s->fd] = s;
	return 0;
}

void cvmm_em_free_sub(struct em_sub *s)
{
	if (s->kind == EM_SUB_TIMER) {
		cvmm_close(s->fd);
		free(CVMM_CONTAINER_OF(s, struct cvmm_event_timer, sub));
	} else {
		free(s);
	}
}

void cvmm_em_sub_kill(struct cvmm_event_manager *em, struct em_sub *s)
{
	int r = cvmm_epoll_del(em->epfd, s->fd);

	/* The caller may have closed the fd already (against the rules, but
	 * the kernel then dropped it from the set itself). */
	if (r < 0 && r != -EBADF && r != -ENOENT)
		CVMM_LOG(CVMM_LOG_WARN, EM_CRATE, "epoll_ctl(DEL, %d): %s", s->fd, strerror(-r));
	em->by_fd[s->fd] = NULL;
	s->dead = true;
	if (em_on_loop_thread(em)) {
		/* A fetched batch may still hold a pointer to @s. */
		s->next_dead = em->graveyard;
		em->graveyard = s;
	} else {
		cvmm_em_free_sub(s);
	}
}

void cvmm_em_free_graveyard(struct cvmm_event_manager *em)
{
	while (em->graveyard) {
		struct em_sub *s = em->graveyard;

		em->graveyard = s->next_dead;
		cvmm_em_free_sub(s);
	}
}

int cvmm_event_manager_add(struct cvmm_event_manager *em, int fd, uint32_t events,
			   cvmm_event_fn fn, void *opaque)
{
	struct em_sub *s;
	int r;

	if (!em || fd < 0 || !fn)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	if (cvmm_em_map_get(em, fd))
		return -EEXIST;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	*s = (struct em_sub){ .kind = EM_SUB_FD, .fd = fd, .events = events,
			      .fd_fn = fn, .opaque = opaque };
	r = cvmm_em_map_insert(em, s);
	if (r < 0)
		goto fail;
	r = cvmm_epoll_add(em->epfd, fd, events, (uint64_t)(uintptr_t)s);
	if (r < 0) {
		em->by_fd[fd] = NULL;
		goto fail;
	}
	return 0;
fail:
	free(s);
	return r;
}

int cvmm_event_manager_modify(struct cvmm_event_manager *em, int fd, uint32_t events)
{
	struct em_sub *s;
	int r;

	if (!em)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	s = cvmm_em_map_get(em, fd);
	if (!s || s->kind != EM_SUB_FD)
		return -ENOENT;
	r = cvmm_epoll_mod(em->epfd, fd, events, (uint64_t)(uintptr_t)s);
	if (r < 0)
		return r;
	s->events = events;
	return 0;
}

int cvmm_event_manager_remove(struct cvmm_event_manager *em, int fd)
{
	struct em_sub *s;
	int r;

	if (!em)
		return -EINVAL;
	r = em_check_thread(em);
	if (r < 0)
		return r;
	s = cvmm_em_map_get(em, fd);
	/* Timers and the internal eventfd are not the caller's to remove. */
	if (!s || s->kind != EM_SUB_FD)
		return -ENOENT;
	cvmm_em_sub_kill(em, s);
	return 0;
}
