/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Private to the built-in filter tables (seccomp-filters*.c): the rule
 * macros every program's tables share and the sanitizer detection.
 */
#ifndef CVMM_EXAMPLES_SECCOMP_RULES_H
#define CVMM_EXAMPLES_SECCOMP_RULES_H

#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cvmm/seccomp.h>
#include <cvmm/sys-util.h>

#include "seccomp-filters.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define CVMM_SANDBOX_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CVMM_SANDBOX_SANITIZED 1
#endif

#ifdef CVMM_SANDBOX_SANITIZED
/* The sanitizer runtimes also use other advice (no hugepages, no dump). */
#define MADVISE_RULE CVMM_SECCOMP_RULE("madvise")
#else
#define MADVISE_RULE \
	CVMM_SECCOMP_RULE_COND("madvise", CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, MADV_DONTNEED))
#endif

#define IOCTL(req) \
	CVMM_SECCOMP_RULE_COND("ioctl", CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, (req)))
/* Memory may be mapped or re-protected, never made executable. */
#define NO_EXEC(name, idx) \
	CVMM_SECCOMP_RULE_COND(name, CVMM_SECCOMP_COND_MASKED(idx, CVMM_SECCOMP_DWORD, PROT_EXEC, 0))

/*
 * What every thread needs: exit paths (the SIGSYS trap handler itself writes
 * one line and calls exit_group), locks, and glibc's pthread_kill (it blocks
 * signals around tgkill, whose signal is restricted at run time). madvise
 * only as MADV_DONTNEED, which glibc uses on a thread's stack at its exit.
 */
#define COMMON_RULES                                                              \
	CVMM_SECCOMP_RULE("exit_group"),                                          \
	CVMM_SECCOMP_RULE("exit"),                                                \
	CVMM_SECCOMP_RULE("write"),                                               \
	CVMM_SECCOMP_RULE("futex"),                                               \
	CVMM_SECCOMP_RULE("rt_sigprocmask"),                                      \
	CVMM_SECCOMP_RULE("rt_sigreturn"),                                        \
	CVMM_SECCOMP_RULE("getpid"),                                              \
	CVMM_SECCOMP_RULE("gettid"),                                              \
	CVMM_SECCOMP_RULE("clock_gettime"),                                       \
	/* cvmm_read_full/write_full: is an EAGAIN a blocking fd's timeout? */   \
	CVMM_SECCOMP_RULE_COND("fcntl",                                           \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_GETFL)), \
	MADVISE_RULE

/*
 * The two vhost-user daemons' protocol thread ("main"): eventfds, waiting
 * on the socket or a stop request, the next frontend, messages and their
 * fds, the frontend's memory table and log (mmap of its fds, never
 * PROT_EXEC; fstat checks their size, fstatfs tells hugetlbfs apart),
 * GET_INFLIGHT_FD's sealed memfd, the backend request channel's fd
 * (F_DUPFD_CLOEXEC), and at exit the socket file.
 */
#define VUB_MAIN_RULES                                                            \
	COMMON_RULES,                                                             \
	CVMM_SECCOMP_RULE("read"),                                                \
	CVMM_SECCOMP_RULE("poll"),                                                \
	CVMM_SECCOMP_RULE("accept4"),                                             \
	CVMM_SECCOMP_RULE("recvmsg"),                                             \
	CVMM_SECCOMP_RULE("sendmsg"),                                             \
	CVMM_SECCOMP_RULE("shutdown"),                                            \
	CVMM_SECCOMP_RULE("close"),                                               \
	NO_EXEC("mmap", 2),                                                       \
	CVMM_SECCOMP_RULE("munmap"),                                              \
	CVMM_SECCOMP_RULE("fstatfs"),                                             \
	CVMM_SECCOMP_RULE_COND("newfstatat",      /* fstat: fd only, no path */   \
		CVMM_SECCOMP_COND(3, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AT_EMPTY_PATH)), \
	CVMM_SECCOMP_RULE("brk"),                                                 \
	CVMM_SECCOMP_RULE("memfd_create"),                                        \
	CVMM_SECCOMP_RULE("ftruncate"),                                           \
	CVMM_SECCOMP_RULE_COND("fcntl",                                           \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_ADD_SEALS)), \
	CVMM_SECCOMP_RULE_COND("fcntl",                                           \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_DUPFD_CLOEXEC)), \
	CVMM_SECCOMP_RULE("unlink"),                                              \
	/* post-copy (POSTCOPY_ADVISE/LISTEN/END): the userfaultfd handed to   \
	 * the frontend, with the flags the framework uses, and the ioctls    \
	 * that set it up and (un)register guest RAM; faults are served by    \
	 * the frontend, never here */                                        \
	CVMM_SECCOMP_RULE_COND("userfaultfd",                                     \
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ,      \
				  O_CLOEXEC | O_NONBLOCK)),                       \
	IOCTL(UFFDIO_API),                                                        \
	IOCTL(UFFDIO_REGISTER),                                                   \
	IOCTL(UFFDIO_UNREGISTER)

/* The daemons' signal thread: wait, read the signalfd, shut the socket. */
#define VUB_SIGNALS_RULES                                                         \
	COMMON_RULES,                                                             \
	CVMM_SECCOMP_RULE("poll"),                                                \
	CVMM_SECCOMP_RULE("read"),                                                \
	CVMM_SECCOMP_RULE("shutdown")

/* A daemon's vring worker: its epoll loop (kick and completion eventfds,
 * fds coming and going with the vrings), calls, malloc arenas, the
 * restart replay of the inflight region, which maps the frontend's
 * descriptor-table region a second time (dup of its fd, fstat, fstatfs),
 * and behind an IOMMU the IOTLB misses it sends on the backend channel
 * (a dup of its fd, a bounded poll for the ack). */
#define VUB_WORKER_RULES                                                          \
	COMMON_RULES,                                                             \
	CVMM_SECCOMP_RULE("sendmsg"),                                             \
	CVMM_SECCOMP_RULE("recvmsg"),                                             \
	CVMM_SECCOMP_RULE("poll"),                                                \
	CVMM_SECCOMP_RULE("read"),                                                \
	CVMM_SECCOMP_RULE("epoll_wait"),                                          \
	CVMM_SECCOMP_RULE("epoll_ctl"),                                           \
	CVMM_SECCOMP_RULE("close"),                                               \
	NO_EXEC("mmap", 2),                                                       \
	NO_EXEC("mprotect", 2),                                                   \
	CVMM_SECCOMP_RULE("munmap"),                                              \
	CVMM_SECCOMP_RULE_COND("fcntl",                                           \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_DUPFD_CLOEXEC)), \
	CVMM_SECCOMP_RULE_COND("newfstatat",                                      \
		CVMM_SECCOMP_COND(3, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AT_EMPTY_PATH)), \
	CVMM_SECCOMP_RULE("fstatfs")

#define TABLE(prog, thr, arr) { (prog), (thr), (arr), CVMM_ARRAY_SIZE(arr) }

/* One program's tables (defined in seccomp-filters-PROGRAM.c). */
struct cvmm_sandbox_program {
	const struct cvmm_sandbox_table *tables;
	size_t n;
};

extern const struct cvmm_sandbox_program cvmm_sandbox_microvm;
extern const struct cvmm_sandbox_program cvmm_sandbox_vhost_user_blk;
extern const struct cvmm_sandbox_program cvmm_sandbox_vhost_user_net;
extern const struct cvmm_sandbox_program cvmm_sandbox_hello_kvm;

#endif
