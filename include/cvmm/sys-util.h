/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/sys-util.h
 * @brief The small OS layer every cvmm crate stands on.
 *
 * eventfd, timerfd and epoll wrappers, the signal used to kick vCPU threads
 * out of KVM_RUN, SCM_RIGHTS fd passing, the logging sink that programs set
 * (libraries never print), overflow-checked arithmetic and test temp files.
 *
 * Conventions for the whole project: functions return 0 or a non-negative
 * count on success and a negative errno on failure; they never exit, abort
 * or write to stderr. Every fd they create is close-on-exec.
 */
#ifndef CVMM_SYS_UTIL_H
#define CVMM_SYS_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Compiler helpers                                                          */
/* ------------------------------------------------------------------------ */

#define CVMM_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CVMM_BUILD_BUG_ON(cond) _Static_assert(!(cond), #cond)
#define CVMM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define CVMM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define CVMM_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((__typeof__(x))(a) - 1))
#define CVMM_ALIGN_DOWN(x, a) ((x) & ~((__typeof__(x))(a) - 1))
#define CVMM_IS_ALIGNED(x, a) (((x) & ((__typeof__(x))(a) - 1)) == 0)
#define CVMM_IS_POW2(x) ((x) != 0 && ((x) & ((x) - 1)) == 0)
#define CVMM_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define CVMM_LIKELY(x) __builtin_expect(!!(x), 1)
#define CVMM_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define CVMM_CONTAINER_OF(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

/* ------------------------------------------------------------------------ */
/* Overflow-checked arithmetic: true when the result did NOT fit.            */
/* ------------------------------------------------------------------------ */

#define cvmm_add_overflow(a, b, res) __builtin_add_overflow(a, b, res)
#define cvmm_sub_overflow(a, b, res) __builtin_sub_overflow(a, b, res)
#define cvmm_mul_overflow(a, b, res) __builtin_mul_overflow(a, b, res)

/**
 * True when [@base, @base + @len) fits in [0, @limit) without wrapping.
 * A zero-length range at @limit is in range.
 */
static inline bool cvmm_range_ok(uint64_t base, uint64_t len, uint64_t limit)
{
	uint64_t end;

	return !cvmm_add_overflow(base, len, &end) && end <= limit;
}

/**
 * Parse a size such as "128M", "4G", "512K", "4096" (binary units, case
 * insensitive, optional trailing "iB"/"B") into @out.
 * @return 0; -EINVAL on a malformed string; -ERANGE when it does not fit.
 * Thread safety: reentrant.
 */
int cvmm_parse_size(const char *s, uint64_t *out);

/* ------------------------------------------------------------------------ */
/* Logging sink                                                              */
/* ------------------------------------------------------------------------ */

enum cvmm_log_level {
	CVMM_LOG_ERROR = 0,
	CVMM_LOG_WARN,
	CVMM_LOG_INFO,
	CVMM_LOG_DEBUG,
	CVMM_LOG_TRACE,
};

/**
 * A program's log sink. @crate names the component ("kvm-ioctls"); @msg has
 * no trailing newline. Called on the thread that logs; it must be
 * thread-safe and must not call back into cvmm logging.
 */
typedef void (*cvmm_log_fn)(enum cvmm_log_level level, const char *crate,
			    const char *msg, void *opaque);

/**
 * Install the sink (NULL: discard everything, the default, so a library
 * linked into someone's program stays silent until asked).
 * Thread safety: call before starting threads that log.
 */
void cvmm_log_set_sink(cvmm_log_fn fn, void *opaque);

/** Messages above @level are dropped before formatting. Thread-safe. */
void cvmm_log_set_level(enum cvmm_log_level level);
enum cvmm_log_level cvmm_log_get_level(void);

/**
 * Parse "error", "warn", "info", "debug", "trace" (case-insensitive).
 * @return 0; -EINVAL for any other string.
 */
int cvmm_log_level_parse(const char *s, enum cvmm_log_level *out);
const char *cvmm_log_level_name(enum cvmm_log_level level);

/** A ready sink that writes "LEVEL crate: msg" lines to stderr; for programs. */
void cvmm_log_stderr_sink(enum cvmm_log_level level, const char *crate,
			  const char *msg, void *opaque);

/**
 * For programs: send logs to cvmm_log_stderr_sink() at the level named by
 * the environment variable @var ("error" ... "trace"), or @def when it is
 * unset or not a level. Thread safety: call before starting threads.
 */
void cvmm_log_stderr_from_env(const char *var, enum cvmm_log_level def);

/** Format and send to the sink. Thread-safe; never allocates on the heap. */
void cvmm_log(enum cvmm_log_level level, const char *crate, const char *fmt, ...)
	CVMM_PRINTF(3, 4);
void cvmm_vlog(enum cvmm_log_level level, const char *crate, const char *fmt,
	       va_list ap);

/** Cheap test so callers can skip building expensive messages. */
bool cvmm_log_enabled(enum cvmm_log_level level);

#define CVMM_LOG(lvl, crate, ...)                                  \
	do {                                                       \
		if (cvmm_log_enabled(lvl))                         \
			cvmm_log(lvl, crate, __VA_ARGS__);         \
	} while (0)

/* ------------------------------------------------------------------------ */
/* eventfd                                                                   */
/* ------------------------------------------------------------------------ */

#define CVMM_EVENTFD_NONBLOCK 0x1u
#define CVMM_EVENTFD_SEMAPHORE 0x2u

/**
 * Create an eventfd (close-on-exec) with initial value 0.
 * @return the fd; -EMFILE, -ENFILE, -ENOMEM.
 */
int cvmm_eventfd_create(unsigned int flags);
/** Add @value to the counter. @return 0; -EAGAIN (nonblocking, would overflow). */
int cvmm_eventfd_write(int fd, uint64_t value);
/**
 * Read and reset the counter into @value.
 * @return 0; -EAGAIN when nonblocking and zero. EINTR is retried.
 */
int cvmm_eventfd_read(int fd, uint64_t *value);

/* ------------------------------------------------------------------------ */
/* timerfd (CLOCK_MONOTONIC)                                                 */
/* ------------------------------------------------------------------------ */

/** @return a nonblocking timerfd; negative errno. */
int cvmm_timerfd_create(void);
/**
 * Arm: first expiry after @initial_ns, then every @interval_ns (0: one-shot).
 * @initial_ns == 0 disarms. @return 0 or negative errno.
 */
int cvmm_timerfd_set(int fd, uint64_t initial_ns, uint64_t interval_ns);
/** Expirations since the last read into @count. @return 0; -EAGAIN when none. */
int cvmm_timerfd_read(int fd, uint64_t *count);

/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t cvmm_now_ns(void);

/* ------------------------------------------------------------------------ */
/* epoll                                                                     */
/* ------------------------------------------------------------------------ */

/** @return an epoll fd (close-on-exec); negative errno. */
int cvmm_epoll_create(void);
/** EPOLL_CTL_ADD with @events and @data. @return 0; -EEXIST, -EBADF, ... */
int cvmm_epoll_add(int epfd, int fd, uint32_t events, uint64_t data);
int cvmm_epoll_mod(int epfd, int fd, uint32_t events, uint64_t data);
int cvmm_epoll_del(int epfd, int fd);
/**
 * epoll_wait that retries on EINTR only while @timeout_ms has not elapsed.
 * @return number of events (0 on timeout); negative errno.
 */
int cvmm_epoll_wait(int epfd, void *events, int max, int timeout_ms);

/* ------------------------------------------------------------------------ */
/* Kicking threads (vCPUs out of KVM_RUN)                                    */
/* ------------------------------------------------------------------------ */

/**
 * The real-time signal cvmm uses to kick threads: SIGRTMIN + 0 unless a
 * program changed it with cvmm_kick_signal_set() before any thread started.
 */
int cvmm_kick_signal(void);
/** @return 0; -EINVAL if @signo is not in [SIGRTMIN, SIGRTMAX]. Not thread-safe. */
int cvmm_kick_signal_set(int signo);

/**
 * Install a no-op handler for the kick signal (without SA_RESTART, so
 * blocking syscalls return EINTR) and make sure it is unblocked in the
 * calling thread. Idempotent. @return 0 or negative errno.
 * Thread safety: process-wide; call once before creating vCPU threads.
 */
int cvmm_kick_init(void);

/** pthread_kill(@thread, kick signal). @return 0; -ESRCH. Thread-safe. */
int cvmm_kick_thread(unsigned long thread);

/**
 * Block @signo in the calling thread (for threads that must never be
 * interrupted). @return 0 or negative errno.
 */
int cvmm_signal_block(int signo);
int cvmm_signal_unblock(int signo);

/* ------------------------------------------------------------------------ */
/* Unix sockets with fd passing                                              */
/* ------------------------------------------------------------------------ */

#define CVMM_MAX_FDS 32

/**
 * sendmsg() of @len bytes from @buf with @nfds fds as SCM_RIGHTS; the whole
 * buffer is sent (partial writes are continued, fds go with the first byte).
 * @return bytes sent; -EINVAL (nfds > CVMM_MAX_FDS), -EPIPE, other errno.
 * MSG_NOSIGNAL is always set.
 */
ssize_t cvmm_sock_send_fds(int sock, const void *buf, size_t len,
			   const int *fds, size_t nfds);

/**
 * One recvmsg() into @buf (at most @len bytes) collecting up to @max_fds fds
 * (MSG_CMSG_CLOEXEC) into @fds with their count in @nfds. Extra fds beyond
 * @max_fds, or a truncated control message, are closed and reported as
 * -EMSGSIZE (nothing leaks). @return bytes received (0 on EOF); negative errno.
 */
ssize_t cvmm_sock_recv_fds(int sock, void *buf, size_t len, int *fds,
			   size_t max_fds, size_t *nfds);

/** Read exactly @len bytes. @return 0; -EPIPE on EOF before @len; -ETIMEDOUT
 * when a blocking @fd's SO_RCVTIMEO runs out (even mid-buffer: a
 * non-blocking fd's EAGAIN is waited for once some bytes came); negative
 * errno. */
int cvmm_read_full(int fd, void *buf, size_t len);
/** Write exactly @len bytes (a blocking @fd's SO_SNDTIMEO: -ETIMEDOUT).
 * @return 0 or negative errno. */
int cvmm_write_full(int fd, const void *buf, size_t len);

/**
 * Bind and listen on a unix socket at @path (an existing stale socket file
 * is replaced; any other existing file gives -EEXIST).
 * @return listening fd; -ENAMETOOLONG; negative errno.
 */
int cvmm_unix_listen(const char *path, int backlog);
/** Connect to @path. @return connected fd; negative errno. */
int cvmm_unix_connect(const char *path);

/* ------------------------------------------------------------------------ */
/* Misc                                                                      */
/* ------------------------------------------------------------------------ */

/** close() that keeps errno and ignores fd < 0. */
void cvmm_close(int fd);

/** sysconf(_SC_PAGESIZE), cached. */
size_t cvmm_page_size(void);

/**
 * Create a temporary file of @size bytes under $TMPDIR (default /tmp),
 * unlinked at once unless @path_out is given (then its name, PATH_MAX bytes,
 * goes there and the caller unlinks). @return fd; negative errno.
 */
int cvmm_tempfile(uint64_t size, char *path_out);

/**
 * Set the calling thread's name (at most 15 characters are kept); it shows
 * in /proc and in the logs. @return 0 or negative errno.
 */
int cvmm_thread_set_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_SYS_UTIL_H */
