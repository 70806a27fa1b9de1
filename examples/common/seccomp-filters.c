/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Built-in allow-lists. Each list covers what its thread does after it
 * installed the filter: setup (opening /dev/kvm, mapping guest memory,
 * creating vCPUs, threads and fds) happens before, so open, socket, clone,
 * execve and mmap with PROT_EXEC are absent from every list.
 *
 * The lists were derived with `strace -f` over the integration suite and
 * checked by running it with the filters on (a missing syscall is a test
 * failure with the trap message naming it). docs/security.md has the counts.
 */
#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <termios.h>

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
	MADVISE_RULE

/* cvmm-microvm's main thread: the epoll loop on stdin and the signalfd,
 * stopping the VM (kicks), joining and tearing down. */
static const struct cvmm_seccomp_rule microvm_vmm[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("epoll_wait"),
	CVMM_SECCOMP_RULE_COND("epoll_ctl",        /* stdin at EOF leaves the loop */
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, EPOLL_CTL_DEL)),
	CVMM_SECCOMP_RULE("close"),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("brk"),                  /* free() trims the main heap */
	CVMM_SECCOMP_RULE("timerfd_settime"),      /* teardown: virtio-blk's reset disarms its timer */
	CVMM_SECCOMP_RULE("unlink"),               /* teardown: --vsock removes its socket */
	IOCTL(TCSETS),                             /* restore the terminal */
};

/* A vCPU thread: KVM_RUN and the port/MMIO devices it calls (serial output,
 * irqfd and ioeventfd-free legacy devices); registers only for crash dumps. */
static const struct cvmm_seccomp_rule microvm_vcpu[] = {
	COMMON_RULES,
	IOCTL(KVM_RUN),
	IOCTL(KVM_GET_REGS),
	IOCTL(KVM_GET_SREGS),
};

/* The virtio device thread: its event loop, eventfds, disk I/O (sync or
 * io_uring), console, rng, and the vhost-user frontend's socket. */
static const struct cvmm_seccomp_rule microvm_virtio[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("readv"),
	CVMM_SECCOMP_RULE("writev"),
	CVMM_SECCOMP_RULE("preadv"),
	CVMM_SECCOMP_RULE("pwritev"),
	CVMM_SECCOMP_RULE("pwrite64"),
	CVMM_SECCOMP_RULE("fdatasync"),
	CVMM_SECCOMP_RULE("fallocate"),
	CVMM_SECCOMP_RULE("io_uring_enter"),
	CVMM_SECCOMP_RULE("getrandom"),
	CVMM_SECCOMP_RULE("sendmsg"),              /* vhost-user frontend */
	CVMM_SECCOMP_RULE("recvmsg"),
	/* vhost-user reconnect=N: a new unix socket to the backend */
	CVMM_SECCOMP_RULE_COND("socket",
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_UNIX)),
	CVMM_SECCOMP_RULE("connect"),
	/* vhost-user GET_INFLIGHT_FD after a device reset: the frontend
	 * checks the backend's fd size (fstat on the fd only) */
	CVMM_SECCOMP_RULE_COND("newfstatat",
		CVMM_SECCOMP_COND(3, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AT_EMPTY_PATH)),
	CVMM_SECCOMP_RULE("fstat"),
	CVMM_SECCOMP_RULE("epoll_wait"),
	CVMM_SECCOMP_RULE("epoll_ctl"),
	CVMM_SECCOMP_RULE("timerfd_create"),       /* virtio-blk's activate: its request timer */
	/* virtio-vsock: host connections on unix sockets */
	CVMM_SECCOMP_RULE("accept4"),
	CVMM_SECCOMP_RULE("recvfrom"),
	CVMM_SECCOMP_RULE("sendto"),
	CVMM_SECCOMP_RULE("shutdown"),
	/* virtio-net's activate: the TAP's header size and offloads */
	IOCTL(TUNSETVNETHDRSZ),
	IOCTL(TUNSETOFFLOAD),
	IOCTL(TUNSETQUEUE),                        /* multi-queue: attach/detach a pair */
	CVMM_SECCOMP_RULE("timerfd_settime"),
	CVMM_SECCOMP_RULE("close"),
	NO_EXEC("mmap", 2),                        /* malloc arena growth */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
};

#define TABLE(prog, thr, arr) { (prog), (thr), (arr), CVMM_ARRAY_SIZE(arr) }

static const struct cvmm_sandbox_table tables[] = {
	TABLE("microvm", "vmm", microvm_vmm),
	TABLE("microvm", "vcpu", microvm_vcpu),
	TABLE("microvm", "virtio", microvm_virtio),
};

#ifdef CVMM_SANDBOX_SANITIZED
/*
 * The ASan/UBSan runtimes map shadow and fake stacks and switch to an
 * alternate signal stack; at exit LeakSanitizer clones a tracer task that
 * lists /proc/self/task and ptrace-stops every thread. Allowed in sanitizer
 * builds only, so that CI runs the whole suite with the filters on in both
 * builds. openat (what glibc and our code use) stays read-only, so the
 * "open of a new file" check holds in these builds too; the legacy open(2)
 * that only the sanitizer runtime calls is allowed. execve and AF_INET
 * sockets stay forbidden (symbolized reports need --seccomp off).
 */
static const struct cvmm_seccomp_rule sanitizer_rules[] = {
	NO_EXEC("mmap", 2),
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("sigaltstack"),
	CVMM_SECCOMP_RULE("sched_yield"),
	CVMM_SECCOMP_RULE("sched_getaffinity"),
	CVMM_SECCOMP_RULE("getrlimit"),
	CVMM_SECCOMP_RULE("prlimit64"),
	CVMM_SECCOMP_RULE("prctl"),
	CVMM_SECCOMP_RULE("rt_sigaction"),
	CVMM_SECCOMP_RULE_COND("openat",
		CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD,
					 O_ACCMODE | O_CREAT | O_TRUNC | __O_TMPFILE, O_RDONLY)),
	CVMM_SECCOMP_RULE("open"),                 /* the runtime's own raw open(2) */
	CVMM_SECCOMP_RULE("getdents"),
	CVMM_SECCOMP_RULE("getppid"),
	CVMM_SECCOMP_RULE("readlink"),
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("pread64"),
	CVMM_SECCOMP_RULE("close"),
	CVMM_SECCOMP_RULE("getdents64"),
	CVMM_SECCOMP_RULE("newfstatat"),
	CVMM_SECCOMP_RULE("fstat"),
	CVMM_SECCOMP_RULE("lseek"),
	CVMM_SECCOMP_RULE("clone"),
	CVMM_SECCOMP_RULE("wait4"),
	CVMM_SECCOMP_RULE("ptrace"),
	CVMM_SECCOMP_RULE("waitid"),
	CVMM_SECCOMP_RULE("process_vm_readv"),
};
#endif

const struct cvmm_sandbox_table *cvmm_sandbox_tables(size_t *n)
{
	*n = CVMM_ARRAY_SIZE(tables);
	return tables;
}

const struct cvmm_sandbox_table *cvmm_sandbox_table_find(const char *program, const char *thread)
{
	for (size_t i = 0; i < CVMM_ARRAY_SIZE(tables); i++)
		if (!strcmp(tables[i].program, program) && !strcmp(tables[i].thread, thread))
			return &tables[i];
	return NULL;
}

#ifdef CVMM_SANDBOX_SANITIZED
/* Whether @t names @syscall already (libseccomp refuses a second, wider rule). */
static bool table_has(const struct cvmm_sandbox_table *t, const char *syscall)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->rules[i].syscall, syscall))
			return true;
	return false;
}
#endif

int cvmm_sandbox_table_add(struct cvmm_seccomp_filter *f, const struct cvmm_sandbox_table *t)
{
	/* glibc's SIGRTMIN is a run-time value; kicks are the only signals
	 * sent. (No pid condition: the filter must stay valid when exported
	 * as JSON and loaded by another process.) */
	const struct cvmm_seccomp_rule tgkill = CVMM_SECCOMP_RULE_COND("tgkill",
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, (uint32_t)cvmm_kick_signal()));
	int ret = cvmm_seccomp_filter_add_rules(f, t->rules, t->n, NULL);

	if (!ret)
		ret = cvmm_seccomp_filter_add_rule(f, &tgkill);
#ifdef CVMM_SANDBOX_SANITIZED
	for (size_t i = 0; !ret && i < CVMM_ARRAY_SIZE(sanitizer_rules); i++)
		if (!table_has(t, sanitizer_rules[i].syscall))
			ret = cvmm_seccomp_filter_add_rule(f, &sanitizer_rules[i]);
#endif
	return ret;
}
