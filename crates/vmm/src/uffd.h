/* SPDX-License-Identifier: Apache-2.0 */
/*
 * userfaultfd over guest RAM served by a thread of the VMM's own: the
 * snapshot's OnDemand restore (pages from the memory file) and post-copy
 * migration (pages from the source) share it. Missing pages fault into
 * @fault on the fault thread; whoever has the data fills them with
 * cvmm_vi_uffd_copy()/_zero() from any thread (the kernel wakes every
 * thread waiting on a page it fills).
 */
#ifndef CVMM_VMM_UFFD_H
#define CVMM_VMM_UFFD_H

#include <semaphore.h>
#include <stdatomic.h>
#include <stdint.h>

#include "internal.h"

#define UFFD_PAGE 4096ull

/*
 * A missing page at host address @page was touched. Called on the fault
 * thread with a one-page @buf to use. Fill it (or ask for it) and return
 * 0, or return a negative errno: the faulting thread is then woken to
 * retry rather than left asleep.
 */
typedef int (*cvmm_vi_uffd_fault_fn)(void *opaque, uint64_t page, void *buf);

/* A host range of guest RAM to register. */
struct vi_uffd_range {
	uint8_t *host;
	uint64_t len;
};

struct vi_uffd_opts {
	/* NULL: every RAM region, its pages dropped first (MADV_DONTNEED).
	 * Else only these ranges, whose pages the caller made absent. */
	const struct vi_uffd_range *ranges;
	size_t nranges;
	/* Every region registered, its pages kept (a pre-copy that
	 * switches to post-copy keeps what came). */
	bool keep;
	/* The program's per-thread hook (its seccomp filter), called first
	 * on the fault thread as @thread_type; a failure fails the start. */
	cvmm_vmm_thread_fn thread_start;
	void *thread_opaque;
	const char *thread_type;
};

struct vi_uffd {
	int uffd;
	int stop_efd;
	pthread_t thread;
	bool running;
	cvmm_vi_uffd_fault_fn fault;
	void *opaque;
	_Atomic uint64_t done;     /* bytes filled */
	_Atomic uint64_t errors;
	cvmm_vmm_thread_fn thread_start; /* from vi_uffd_opts */
	void *thread_opaque;
	const char *thread_type;
	sem_t started;
	int hook_ret;
};

/*
 * Run the program's thread hook @fn (may be NULL) as the first thing on a
 * new thread and tell the thread that made it (*@ret, then @started).
 * @return what the hook returned: the thread must end if non-zero.
 */
int cvmm_vi_thread_hook_run(cvmm_vmm_thread_fn fn, void *opaque, const char *type, int *ret,
			    sem_t *started);
/* Wait on @started (EINTR retried). */
void cvmm_vi_thread_hook_wait(sem_t *started);

/* Register guest RAM (@o: which ranges, the thread hook; NULL: every
 * region, no hook) in MISSING mode and start the fault thread.
 * @o->thread_type must live as long as the handler. @who prefixes
 * messages. */
int cvmm_vi_uffd_start(struct vi_uffd **out, struct cvmm_guest_mem *mem,
		       const struct vi_uffd_opts *o, cvmm_vi_uffd_fault_fn fault, void *opaque,
		       const char *who, char *err, size_t errlen);
/* Wait until the fault thread ran its hook. @return 0, or the hook's
 * failure (message in @err): stop the handler, the VM must not run. */
int cvmm_vi_uffd_started(struct vi_uffd *u, const char *who, char *err, size_t errlen);
/* Copy @len bytes from @src into the missing pages at host @dst; pages
 * already there are skipped. @return 0 or negative errno. */
int cvmm_vi_uffd_copy(struct vi_uffd *u, uint8_t *dst, const void *src, uint64_t len);
/* Map zero pages at [@dst, @dst + @len) where missing. */
int cvmm_vi_uffd_zero(struct vi_uffd *u, uint8_t *dst, uint64_t len);
/* Wake threads waiting on @page (it was filled by someone else). */
void cvmm_vi_uffd_wake(struct vi_uffd *u, uint64_t page);
/* Stop the fault thread, close the fd (the ranges go with it). NULL: nothing. */
void cvmm_vi_uffd_stop(struct vi_uffd *u);

#endif
