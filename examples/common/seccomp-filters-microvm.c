/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-microvm's built-in allow-lists: the main (vmm) thread, the vCPU
 * threads and the virtio device thread. Each covers what its thread does
 * after it installed the filter: setup (opening /dev/kvm, mapping guest
 * memory, creating vCPUs, threads and fds) happens before, so open, socket
 * (but AF_UNIX), clone, execve and mmap with PROT_EXEC are absent.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <sched.h>
#include <sys/prctl.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <termios.h>

#include "seccomp-rules.h"

/* Debian 12's headers predate the pagemap ioctl (linux/fs.h, Linux 6.7). */
#ifndef PAGEMAP_SCAN
#define PAGEMAP_SCAN _IOWR('f', 16, uint64_t[12])
#endif

/* cvmm-microvm's main thread: the epoll loop on stdin and the signalfd,
 * stopping the VM (kicks), joining and tearing down. */
#define MICROVM_VMM_RULES \
	COMMON_RULES, \
	CVMM_SECCOMP_RULE("read"), \
	CVMM_SECCOMP_RULE("epoll_wait"), \
	CVMM_SECCOMP_RULE_COND("epoll_ctl",        /* stdin at EOF leaves the loop */ \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, EPOLL_CTL_DEL)), \
	CVMM_SECCOMP_RULE_COND("epoll_ctl",        /* stdin unwatched while the UART's FIFO is full */ \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, EPOLL_CTL_MOD)), \
	CVMM_SECCOMP_RULE("close"), \
	CVMM_SECCOMP_RULE("munmap"), \
	CVMM_SECCOMP_RULE("brk"),                  /* free() trims the main heap */ \
	CVMM_SECCOMP_RULE("timerfd_settime"),      /* teardown: virtio-blk's reset disarms its timer */ \
	CVMM_SECCOMP_RULE("unlink"),               /* teardown: --vsock removes its socket */ \
	IOCTL(TCSETS),                             /* restore the terminal */ \
	CVMM_SECCOMP_RULE_COND("fcntl",            /* a received VM takes its disk images' locks */ \
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_OFD_SETLK)), \
	/* --snapshot (SIGUSR1): the directory is made under a temporary name, \
	 * files created exclusively, guest RAM's residency read from \
	 * /proc/self/pagemap, everything fsync'ed, the directory renamed. */ \
	CVMM_SECCOMP_RULE_COND("openat",           /* new files only: O_CREAT|O_EXCL */ \
		CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD, O_CREAT | O_EXCL, O_CREAT | O_EXCL)), \
	CVMM_SECCOMP_RULE_COND("openat",           /* reading: pagemap, the directory itself */ \
		CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY)), \
	CVMM_SECCOMP_RULE("newfstatat"), \
	CVMM_SECCOMP_RULE("fstat"), \
	CVMM_SECCOMP_RULE("mkdir"), \
	CVMM_SECCOMP_RULE("rmdir"), \
	CVMM_SECCOMP_RULE("rename"), \
	CVMM_SECCOMP_RULE("unlinkat"), \
	CVMM_SECCOMP_RULE("ftruncate"), \
	CVMM_SECCOMP_RULE("pwrite64"), \
	CVMM_SECCOMP_RULE("pread64"), \
	CVMM_SECCOMP_RULE("lseek"), \
	CVMM_SECCOMP_RULE("fsync"), \
	NO_EXEC("mmap", 2),                        /* large buffers of the state writer */ \
	NO_EXEC("mprotect", 2), \
	CVMM_SECCOMP_RULE("getrandom"),            /* json-c's hash seed (config.json) */ \
	IOCTL(KVM_GET_IRQCHIP),                    /* the whole-VM state: PIC pair, IOAPIC */ \
	IOCTL(KVM_GET_PIT2), \
	IOCTL(KVM_GET_CLOCK), \
	IOCTL(KVM_CHECK_EXTENSION), \
	/* vm.restore after vm.delete (this thread confined): guest RAM's \
	 * resident pages found (/proc/self/pagemap) and dropped */ \
	IOCTL(PAGEMAP_SCAN)

static const struct cvmm_seccomp_rule microvm_vmm[] = {
	MICROVM_VMM_RULES
};

/* The main thread with --snapshot snapshot_type=Diff: what the diffs'
 * dirty tracking needs besides (turned on at the first snapshot, harvested
 * at each one), as the migration thread has it; without that flag the
 * main thread never gets these. */
static const struct cvmm_seccomp_rule microvm_vmm_diff[] = {
	MICROVM_VMM_RULES,
	IOCTL(KVM_GET_DIRTY_LOG),
	IOCTL(KVM_CLEAR_DIRTY_LOG),
	IOCTL(KVM_SET_USER_MEMORY_REGION),         /* dirty logging on per slot */
	IOCTL(KVM_ENABLE_CAP),                     /* manual dirty-log protect */
};

/* A vCPU thread: KVM_RUN and the port/MMIO devices it calls (serial output,
 * irqfd and ioeventfd-free legacy devices); registers only for crash dumps. */
static const struct cvmm_seccomp_rule microvm_vcpu[] = {
	COMMON_RULES,
	IOCTL(KVM_RUN),
	/* Every KVM _IOR ioctl: getters only (registers for crash dumps, and
	 * the state a snapshot takes on the vCPU's own thread:
	 * cvmm_kvm_vcpu_state_save()). One masked rule, not fourteen. */
	CVMM_SECCOMP_RULE_COND("ioctl", CVMM_SECCOMP_COND_MASKED(1, CVMM_SECCOMP_DWORD,
		(uint32_t)_IOC_DIRMASK << _IOC_DIRSHIFT | (uint32_t)_IOC_TYPEMASK << _IOC_TYPESHIFT,
		(uint32_t)_IOC_READ << _IOC_DIRSHIFT | (uint32_t)KVMIO << _IOC_TYPESHIFT)),
	IOCTL(KVM_GET_MSRS),                       /* the _IOWR getters a snapshot needs */
	IOCTL(KVM_GET_CPUID2),
	IOCTL(KVM_GET_MSR_INDEX_LIST),
	IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_GET_TSC_KHZ),
	/* PCI (transport=pci): a BAR the guest moves takes its notify
	 * ioeventfds along, an MSI-X vector it programs, unmasks or masks
	 * becomes a GSI route and an irqfd, all on the vCPU that wrote it.
	 * Always allowed: the tables are per thread, not per configuration. */
	IOCTL(KVM_IOEVENTFD),
	IOCTL(KVM_IRQFD),
	IOCTL(KVM_SET_GSI_ROUTING),
	NO_EXEC("mmap", 2),                        /* the state's buffers: malloc on a thread arena */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("brk"),
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
#ifndef CVMM_SANDBOX_SANITIZED
	/* virtio-balloon gives inflated pages of shared memory (memfd) back
	 * with MADV_REMOVE; MADV_DONTNEED (private memory) is common. */
	CVMM_SECCOMP_RULE_COND("madvise",
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, MADV_REMOVE)),
#endif
	/* vhost-user reconnect=N: a new unix socket to the backend */
	CVMM_SECCOMP_RULE_COND("socket",
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_UNIX)),
	CVMM_SECCOMP_RULE("connect"),
	/* ... and, behind the virtio-iommu, its IOTLB-miss channel */
	CVMM_SECCOMP_RULE_COND("socketpair",
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_UNIX)),
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

/* The API thread (--api-socket): its epoll set, connections (fds arrive
 * with recvmsg), answers, and waiting for the control loop to run a
 * request (eventfd write + futex). json-c seeds its hash once
 * (getrandom). Firecracker's API thread allows 36 rules. */
static const struct cvmm_seccomp_rule microvm_api[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE("epoll_wait"),
	CVMM_SECCOMP_RULE_COND("epoll_ctl",
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, EPOLL_CTL_ADD)),
	CVMM_SECCOMP_RULE_COND("epoll_ctl",
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, EPOLL_CTL_DEL)),
	CVMM_SECCOMP_RULE("accept4"),
	CVMM_SECCOMP_RULE("recvmsg"),
	CVMM_SECCOMP_RULE("read"),                 /* the slow-route worker's done eventfd */
	CVMM_SECCOMP_RULE("sendto"),               /* send() */
	CVMM_SECCOMP_RULE_COND("setsockopt",       /* a client that does not read: SO_SNDTIMEO */
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, SO_SNDTIMEO)),
	CVMM_SECCOMP_RULE("close"),
	CVMM_SECCOMP_RULE("getrandom"),
	NO_EXEC("mmap", 2),                        /* request bodies up to 1 MiB */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("mremap"),               /* realloc() of a growing body */
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("brk"),
};

/* The migration thread (vm.send-migration, vm.receive-migration): one
 * socket, connected or listening (AF_UNIX, or AF_INET for tcp:), the
 * stream both ways (memfds as SCM_RIGHTS for local), the poll for the
 * destination's verdict, the source's dirty log (bitmap or ring), its
 * pagemap reads, and calls into the control loop (eventfd write + futex,
 * in COMMON_RULES). The same filter on the threads a migration makes: the
 * source's memory connections and post-copy request server (made from
 * this thread: clone3, which seccomp cannot look into, and clone with
 * CLONE_THREAD), the TLS session pumps (GnuTLS: getrandom, the tls_dir's
 * files read-only), and the destination's post-copy threads (fault
 * service with userfaultfd ioctls, pushed pages, replies; a stale page
 * dropped with MADV_DONTNEED or a hole punched in a memfd). */
static const struct cvmm_seccomp_rule microvm_migration[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE_COND("socket",
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_UNIX)),
	CVMM_SECCOMP_RULE_COND("socket",
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_INET)),
	CVMM_SECCOMP_RULE("connect"),
	CVMM_SECCOMP_RULE("bind"),
	CVMM_SECCOMP_RULE("listen"),
	CVMM_SECCOMP_RULE("accept4"),
	CVMM_SECCOMP_RULE_COND("setsockopt",       /* tcp: SO_REUSEADDR on the listener */
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, SO_REUSEADDR)),
	CVMM_SECCOMP_RULE_COND("setsockopt",       /* tcp: a vanished peer fails a write in 30 s */
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, IPPROTO_TCP),
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, TCP_USER_TIMEOUT)),
	CVMM_SECCOMP_RULE_COND("setsockopt",       /* ... and a receiver's read mid-message */
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, SOL_SOCKET),
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, SO_RCVTIMEO)),
	CVMM_SECCOMP_RULE("shutdown"),
	CVMM_SECCOMP_RULE("unlink"),               /* the receive's unix socket, when done */
	CVMM_SECCOMP_RULE("sendto"),
	CVMM_SECCOMP_RULE("sendmsg"),
	CVMM_SECCOMP_RULE("recvfrom"),
	CVMM_SECCOMP_RULE("recvmsg"),
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("poll"),
	CVMM_SECCOMP_RULE("ppoll"),
	CVMM_SECCOMP_RULE_COND("openat",           /* /proc/self/pagemap, read-only */
		CVMM_SECCOMP_COND_MASKED(2, CVMM_SECCOMP_DWORD, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY)),
	CVMM_SECCOMP_RULE("pread64"),              /* ... which pages are present */
	CVMM_SECCOMP_RULE("lseek"),                /* memfd RAM: SEEK_DATA */
	CVMM_SECCOMP_RULE_COND("fcntl",            /* disk images' locks handed over */
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, F_OFD_SETLK)),
	IOCTL(KVM_GET_DIRTY_LOG),
	IOCTL(KVM_CLEAR_DIRTY_LOG),
	IOCTL(KVM_RESET_DIRTY_RINGS),
	IOCTL(KVM_SET_USER_MEMORY_REGION),         /* dirty logging on and off per slot */
	IOCTL(KVM_CHECK_EXTENSION),
	IOCTL(KVM_ENABLE_CAP),                     /* manual dirty-log protect */
	CVMM_SECCOMP_RULE("clone3"),               /* threads of the migration */
	CVMM_SECCOMP_RULE_COND("clone",
		CVMM_SECCOMP_COND_MASKED(0, CVMM_SECCOMP_QWORD, CLONE_THREAD, CLONE_THREAD)),
	CVMM_SECCOMP_RULE("set_robust_list"),      /* ... their start in glibc */
	CVMM_SECCOMP_RULE_COND("prctl",            /* ... and their names */
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, PR_SET_NAME)),
	CVMM_SECCOMP_RULE("rseq"),
	CVMM_SECCOMP_RULE("getrandom"),            /* TLS */
	CVMM_SECCOMP_RULE("restart_syscall"),      /* a pump's poll interrupted (a stop at exit) */
	CVMM_SECCOMP_RULE("mremap"),               /* realloc() of a message buffer that grows */
	CVMM_SECCOMP_RULE_COND("socketpair",       /* TLS: the plain end the migration uses */
		CVMM_SECCOMP_COND(0, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, AF_UNIX)),
	CVMM_SECCOMP_RULE_COND("setsockopt",       /* ... with room for a page batch */
		CVMM_SECCOMP_COND(2, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ, SO_SNDBUF)),
	CVMM_SECCOMP_RULE("newfstatat"),           /* TLS: reading the tls_dir's files */
	CVMM_SECCOMP_RULE("fstat"),
	CVMM_SECCOMP_RULE("access"),
	CVMM_SECCOMP_RULE("faccessat"),
	CVMM_SECCOMP_RULE("faccessat2"),
	CVMM_SECCOMP_RULE("sysinfo"),              /* glibc's qsort sizes its buffer (fault latencies) */
	IOCTL(UFFDIO_COPY),                        /* post-copy at the destination */
	IOCTL(UFFDIO_ZEROPAGE),
	IOCTL(UFFDIO_WAKE),
	CVMM_SECCOMP_RULE_COND("fallocate",        /* DISCARD on memfd RAM */
		CVMM_SECCOMP_COND(1, CVMM_SECCOMP_DWORD, CVMM_SECCOMP_OP_EQ,
				  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE)),
	CVMM_SECCOMP_RULE("close"),
	NO_EXEC("mmap", 2),                        /* page buffers, bitmaps */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
	CVMM_SECCOMP_RULE("brk"),
};

/* An OnDemand restore's fault thread (crates/vmm uffd.c): waits on the
 * userfaultfd and a stop eventfd, reads the fault message, reads the
 * page from the snapshot's memory file and maps it (or a zero page) with
 * userfaultfd ioctls. Nothing is opened, nothing else is mapped. */
static const struct cvmm_seccomp_rule microvm_uffd[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE("poll"),
	CVMM_SECCOMP_RULE("read"),
	CVMM_SECCOMP_RULE("pread64"),
	IOCTL(UFFDIO_COPY),
	IOCTL(UFFDIO_ZEROPAGE),
	IOCTL(UFFDIO_WAKE),
	NO_EXEC("mmap", 2),                        /* its page buffer: malloc on a thread arena */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
};

/* An OnDemand restore's background fill: the memory file's data read a
 * chunk at a time and copied in with UFFDIO_COPY, a stop check (poll of
 * an eventfd) between chunks, progress lines (write, in COMMON_RULES). */
static const struct cvmm_seccomp_rule microvm_fill[] = {
	COMMON_RULES,
	CVMM_SECCOMP_RULE("poll"),
	CVMM_SECCOMP_RULE("pread64"),
	IOCTL(UFFDIO_COPY),
	NO_EXEC("mmap", 2),                        /* its 256 KiB buffer */
	NO_EXEC("mprotect", 2),
	CVMM_SECCOMP_RULE("munmap"),
};

static const struct cvmm_sandbox_table tables[] = {
	TABLE("microvm", "vmm", microvm_vmm),
	TABLE("microvm", "vmm-diff", microvm_vmm_diff),
	TABLE("microvm", "vcpu", microvm_vcpu),
	TABLE("microvm", "virtio", microvm_virtio),
	TABLE("microvm", "api", microvm_api),
	TABLE("microvm", "migration", microvm_migration),
	TABLE("microvm", "uffd", microvm_uffd),
	TABLE("microvm", "fill", microvm_fill),
};

const struct cvmm_sandbox_program cvmm_sandbox_microvm = { tables, CVMM_ARRAY_SIZE(tables) };
