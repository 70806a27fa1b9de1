/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/event-manager.h
 * @brief An epoll event loop with fd subscribers, timers and a remote
 *        endpoint that runs calls on the loop's thread.
 *
 * One `struct cvmm_event_manager` is driven by one thread at a time (the
 * "loop thread": whichever thread is inside cvmm_event_manager_run_once()).
 * Device models register the fds they care about (a queue's ioeventfd, a
 * tap fd, a vhost-user socket) with a callback; the loop dispatches ready
 * fds to their callbacks. Callbacks may add, modify and remove any
 * subscription or timer, including their own; a subscription removed
 * while its event is still pending in the current epoll batch is never
 * dispatched afterwards.
 *
 * Other threads never touch subscriptions directly: they hand a function
 * to cvmm_event_manager_call(), which runs it on the loop thread and can
 * wait for its result.
 *
 * The manager holds no device state. Saving a VM's state therefore needs
 * nothing from it: after a restore the program creates a manager and its
 * devices register their fds again.
 *
 * All functions return 0 (or a non-negative count) on success and a
 * negative errno on failure; none prints, exits or aborts.
 */
#ifndef CVMM_EVENT_MANAGER_H
#define CVMM_EVENT_MANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/sys-util.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_event_manager;
struct cvmm_event_timer;

/** Options for cvmm_event_manager_create(); zero fields take defaults. */
struct cvmm_event_manager_opts {
	/** sizeof(struct cvmm_event_manager_opts), so the struct can grow. */
	size_t sz;
	/** Events fetched per epoll_wait() (default 64, at most 4096). */
	unsigned int max_events;
};

/**
 * Called on the loop thread when @fd is ready.
 * @events: the EPOLL* bits that are ready, limited to those the
 * subscription currently asks for plus EPOLLERR and EPOLLHUP.
 * @opaque: what was given to cvmm_event_manager_add().
 */
typedef void (*cvmm_event_fn)(struct cvmm_event_manager *em, int fd,
			      uint32_t events, void *opaque);

/**
 * Called on the loop thread when @timer expired @expirations times (more
 * than 1 when the loop was late for a periodic timer).
 */
typedef void (*cvmm_event_timer_fn)(struct cvmm_event_manager *em,
				    struct cvmm_event_timer *timer,
				    uint64_t expirations, void *opaque);

/** A remote call: runs on the loop thread; its result goes to a waiter. */
typedef int (*cvmm_event_call_fn)(struct cvmm_event_manager *em, void *arg);

/* ------------------------------------------------------------------------ */
/* Lifetime and running                                                      */
/* ------------------------------------------------------------------------ */

/**
 * Create an event manager (an epoll fd and an eventfd for remote calls,
 * both close-on-exec).
 * @opts: NULL for defaults. Fields beyond @opts->sz are taken as zero,
 * so a program built against an older, shorter struct keeps working.
 * @return 0 and *@out; -EINVAL (@out NULL, @opts->sz < sizeof(size_t),
 * max_events > 4096), -ENOMEM, -EMFILE, -ENFILE.
 * Thread safety: any thread.
 */
int cvmm_event_manager_create(const struct cvmm_event_manager_opts *opts,
			      struct cvmm_event_manager **out);

/**
 * Destroy @em: close its internal fds and timers and free every
 * subscription. Fds registered with cvmm_event_manager_add() are NOT closed
 * (the caller owns them). Remote calls still queued are cancelled: a
 * caller waiting on one returns -ECANCELED; an unwaited call's function is
 * never run (so an @arg it was to free must be reclaimed by the caller).
 * destroy waits until every waiting caller has left cvmm_event_manager_call().
 * NULL does nothing.
 * Ordering: no thread may be inside cvmm_event_manager_run_once()/run()
 * (a destroy issued while the loop runs, e.g. from a callback, is logged
 * and ignored: it leaks rather than frees memory in use), and no thread
 * may start a new call on @em once destroy has begun.
 * Thread safety: any thread, once the loop has stopped.
 */
void cvmm_event_manager_destroy(struct cvmm_event_manager *em);

/**
 * Wait up to @timeout_ms (-1: forever, 0: poll) for ready fds, expired
 * timers and remote calls, and dispatch them on the calling thread, which
 * is the loop thread until this returns. A kick signal (cvmm_kick_thread)
 * does not end the wait early.
 * @return the number of callbacks run (fd callbacks, timer callbacks and
 * remote calls; 0 on timeout); -EBUSY if another thread, or a callback of
 * this very loop, is already inside run_once for @em; -EINVAL (@em NULL);
 * other negative errno from epoll_wait.
 * Thread safety: any one thread at a time.
 */
int cvmm_event_manager_run_once(struct cvmm_event_manager *em, int timeout_ms);

/**
 * Dispatch events until cvmm_event_manager_stop() is called. A stop
 * requested before run() starts makes it return at once; each return of
 * run() consumes the request.
 * @return 0 after a stop; a negative errno from run_once (the loop ends).
 * Thread safety: any one thread at a time, as run_once.
 */
int cvmm_event_manager_run(struct cvmm_event_manager *em);

/**
 * Ask run() to return once the batch of events being dispatched is done
 * (the rest of a fetched batch is still dispatched, so edge-triggered
 * events are not lost). Wakes the loop if it is waiting.
 * @return 0; negative errno if the wake-up could not be written.
 * Thread safety: any thread, and from callbacks.
 */
int cvmm_event_manager_stop(struct cvmm_event_manager *em);

/* ------------------------------------------------------------------------ */
/* fd subscriptions                                                          */
/* ------------------------------------------------------------------------ */

/**
 * Subscribe @fn to @events (EPOLLIN, EPOLLOUT, EPOLLET, ...) on @fd. Each
 * fd has at most one subscriber. The caller keeps owning @fd and must
 * remove the subscription before closing it.
 * @return 0; -EEXIST (@fd already subscribed), -EINVAL (@fd < 0, @fn NULL,
 * or @fd cannot be polled together with @events), -EPERM (@fd does not
 * support epoll, e.g. a regular file; or called from a thread other than
 * the one running the loop), -EBADF, -ENOMEM, -ENOSPC (epoll watch limit).
 * Thread safety: the loop thread (from callbacks or remote calls), or one
 * thread at a time while no thread runs the loop (setup, teardown); from
 * another thread while the loop runs it fails with -EPERM.
 */
int cvmm_event_manager_add(struct cvmm_event_manager *em, int fd, uint32_t events,
			   cvmm_event_fn fn, void *opaque);

/**
 * Change the events @fd's subscriber waits for. Events of the old mask
 * still pending in the current batch are filtered against the new mask
 * before dispatch.
 * @return 0; -ENOENT (@fd not subscribed); -EPERM (wrong thread, as add);
 * other negative errno from epoll_ctl.
 * Thread safety: as cvmm_event_manager_add().
 */
int cvmm_event_manager_modify(struct cvmm_event_manager *em, int fd, uint32_t events);

/**
 * Remove @fd's subscription. Its callback is not called again, even for an
 * event already fetched in the current batch; when called from that very
 * callback, the callback may keep running (its @opaque is the caller's and
 * stays valid), and the record is freed after the batch.
 * @return 0; -ENOENT (@fd not subscribed); -EPERM (wrong thread, as add).
 * Thread safety: as cvmm_event_manager_add().
 */
int cvmm_event_manager_remove(struct cvmm_event_manager *em, int fd);

/* ------------------------------------------------------------------------ */
/* Timers (CLOCK_MONOTONIC, one timerfd each)                                */
/* ------------------------------------------------------------------------ */

/**
 * Create a timer that first fires @initial_ns from now and then every
 * @interval_ns (0: one-shot). @initial_ns == 0 creates it disarmed. A
 * one-shot timer stays registered (disarmed) after it fires until it is
 * removed, so it can be re-armed with cvmm_event_manager_timer_set().
 * A timer never fires before its time; it may fire late by the loop's
 * dispatch latency.
 * @return 0 and *@out; -EINVAL (@fn or @out NULL), -ENOMEM, -EMFILE, -EPERM
 * (wrong thread, as add).
 * Thread safety: as cvmm_event_manager_add().
 */
int cvmm_event_manager_timer_add(struct cvmm_event_manager *em, uint64_t initial_ns,
				 uint64_t interval_ns, cvmm_event_timer_fn fn,
				 void *opaque, struct cvmm_event_timer **out);

/**
 * Re-arm (or with @initial_ns == 0 disarm) @timer; expirations that
 * accumulated but were not yet dispatched are dropped, including one
 * pending in the current batch.
 * @return 0; -EINVAL (@timer NULL); -EPERM (wrong thread, as add).
 * Thread safety: as cvmm_event_manager_add().
 */
int cvmm_event_manager_timer_set(struct cvmm_event_manager *em,
				 struct cvmm_event_timer *timer,
				 uint64_t initial_ns, uint64_t interval_ns);

/**
 * Remove and free @timer (possibly from its own callback); it is not
 * dispatched again. @timer must not be used after this returns (within
 * the same dispatch round a second remove or set is caught with -EINVAL;
 * later the memory is gone).
 * @return 0; -EINVAL (@timer NULL or already removed); -EPERM (wrong thread).
 * Thread safety: as cvmm_event_manager_add().
 */
int cvmm_event_manager_timer_remove(struct cvmm_event_manager *em,
				    struct cvmm_event_timer *timer);

/* ------------------------------------------------------------------------ */
/* Remote endpoint                                                           */
/* ------------------------------------------------------------------------ */

/**
 * Run @fn(@em, @arg) on the loop thread. Calls are run in the order they
 * were queued, from within run_once, so @fn may use every loop-thread-only
 * function (add, remove, timers, stop).
 *
 * @wait false: queue the call and return 0 at once; @fn's result is
 * discarded.
 * @wait true: block until @fn has run and return its result. Called from
 * the loop thread itself (from a callback or a remote call), where
 * waiting would deadlock, @fn runs inline at once, ahead of calls already
 * queued. A waiting caller on a thread that is not running the loop, when
 * no other thread will ever run it, blocks until destroy.
 *
 * @return with @wait: @fn's return value, or -ECANCELED if @em was
 * destroyed before @fn ran; without @wait: 0. Either way -EINVAL (@em or
 * @fn NULL), -ECANCELED (destroy has begun), -ENOMEM (no memory to queue an
 * unwaited call), or a negative errno from writing the wake-up eventfd.
 * Two loops whose callbacks wait on each other's calls deadlock; make at
 * least one direction unwaited.
 * Thread safety: any thread, any number of threads at once.
 */
int cvmm_event_manager_call(struct cvmm_event_manager *em, cvmm_event_call_fn fn,
			    void *arg, bool wait);

/**
 * Number of remote calls queued and not yet started (for diagnostics and
 * tests: e.g. to know that a waiter has queued its call).
 * Thread safety: any thread.
 */
unsigned int cvmm_event_manager_pending_calls(struct cvmm_event_manager *em);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_EVENT_MANAGER_H */
