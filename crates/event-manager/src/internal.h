/* SPDX-License-Identifier: Apache-2.0 */
/* event-manager's private structures, shared by its source files. */
#ifndef CVMM_EVENT_MANAGER_INTERNAL_H
#define CVMM_EVENT_MANAGER_INTERNAL_H

#include <cvmm/event-manager.h>

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>

#define EM_CRATE "event-manager"
#define EM_DEFAULT_EVENTS 64u
#define EM_MAX_EVENTS 4096u

enum em_kind {
	EM_SUB_FD,
	EM_SUB_TIMER,
	EM_SUB_NOTIFY, /* the remote-call/stop eventfd */
};

/*
 * One registration. Its address is the epoll cookie, so an event fetched in
 * a batch always leads back to the exact registration it was fetched for,
 * even if the fd was removed and a new registration reused the number.
 * Removed records are tombstoned (dead) and only freed once the batch that
 * may still point at them is finished.
 */
struct em_sub {
	enum em_kind kind;
	int fd;
	uint32_t events;
	bool dead;
	cvmm_event_fn fd_fn;
	cvmm_event_timer_fn timer_fn;
	void *opaque;
	struct em_sub *next_dead;
};

/* The public timer handle is the registration of its timerfd. */
struct cvmm_event_timer {
	struct em_sub sub;
};

struct em_call {
	cvmm_event_call_fn fn;
	void *arg;
	bool wait;
	bool done;
	int ret;
	pthread_cond_t cv;	/* only for waited calls, lives on the waiter's stack */
	struct em_call *next;
};

struct cvmm_event_manager {
	int epfd;
	int notify_fd;
	struct em_sub notify;

	struct epoll_event *events;
	unsigned int max_events;

	/* fd -> registration; fds are small dense integers. */
	struct em_sub **by_fd;
	size_t by_fd_len;
	/* Removed during a dispatch; freed when the batch ends. */
	struct em_sub *graveyard;

	/* pthread_self() of the thread inside run_once, 0 when none. */
	unsigned long loop_thread;
	int running;
	int stop;

	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t idle;	/* destroy waits here for waiters to leave */
	struct em_call *head, *tail;
	unsigned int pending;
	unsigned int waiters;
	bool closing;
};

static inline unsigned long em_self(void)
{
	return (unsigned long)pthread_self();
}

/* True on the thread currently dispatching @em. */
static inline bool em_on_loop_thread(struct cvmm_event_manager *em)
{
	return __atomic_load_n(&em->loop_thread, __ATOMIC_ACQUIRE) == em_self();
}

/* Subscriptions may change only on the loop thread or when nobody runs it. */
static inline int em_check_thread(struct cvmm_event_manager *em)
{
	if (__atomic_load_n(&em->running, __ATOMIC_ACQUIRE) && !em_on_loop_thread(em))
		return -EPERM;
	return 0;
}

int cvmm_em_map_insert(struct cvmm_event_manager *em, struct em_sub *s);
struct em_sub *cvmm_em_map_get(struct cvmm_event_manager *em, int fd);
/* Unregister @s from epoll and the map, then free it now or after the batch. */
void cvmm_em_sub_kill(struct cvmm_event_manager *em, struct em_sub *s);
void cvmm_em_free_graveyard(struct cvmm_event_manager *em);
void cvmm_em_free_sub(struct em_sub *s);

/* Run the calls queued so far; @return how many ran. */
int cvmm_em_run_calls(struct cvmm_event_manager *em);
/* Fail every queued call with -ECANCELED and wait for waiters to leave. */
void cvmm_em_cancel_calls(struct cvmm_event_manager *em);

#endif
