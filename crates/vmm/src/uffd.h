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

struct vi_uffd {
	int uffd;
	int stop_efd;
	pthread_t thread;
	bool running;
	cvmm_vi_uffd_fault_fn fault;
	void *opaque;
	_Atomic uint64_t done;     /* bytes filled */
	_Atomic uint64_t errors;
};

/* Register every RAM region of @mem (MISSING mode; present pages are
 * dropped first unless @keep: a pre-copy that switches keeps what came)
 * and start the fault thread. @who prefixes messages. */
int cvmm_vi_uffd_start(struct vi_uffd **out, struct cvmm_guest_mem *mem,
		       cvmm_vi_uffd_fault_fn fault, void *opaque, bool keep, const char *who,
		       char *err, size_t errlen);
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
