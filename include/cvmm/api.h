/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/api.h
 * @brief An HTTP/1.1 management API server on a unix socket, on a thread
 *        of its own, in the shape of Cloud Hypervisor's REST API.
 *
 * The server reads its sockets itself (recvmsg), so file descriptors that
 * a client sends as SCM_RIGHTS ancillary data with a request (Kata sends
 * TAP fds with vm.add-net) reach the handler with that request. Requests
 * are parsed by http-parser (a Debian library), bodies by json-c. The
 * program fills a table of routes; the server answers what no route
 * takes (404 unknown path, 405 wrong method) and what breaks its limits
 * (413 header or body too large, 400 malformed HTTP or JSON, JSON nested
 * deeper than the limit, non-UTF-8 text; 408 a request not complete
 * within the read timeout; 503 over the connection cap) with a JSON
 * error body {"error": "..."} and never calls a handler for those.
 *
 * Threads: cvmm_api_server_create() starts one thread ("api") that runs
 * every connection and calls the handlers one at a time; with a slow
 * route in the table also a worker thread ("api-slow", whose thread_start
 * type is "api" too) that runs those, so that the others (a progress
 * route) are answered meanwhile. A handler that
 * needs the VM reaches it through the VM's control loop
 * (cvmm_event_manager_call()), so a slow or hostile client only ever
 * delays other API clients, never the guest.
 *
 * Nothing here prints, exits or aborts: errors are returned; messages go
 * to the client.
 */
#ifndef CVMM_API_H
#define CVMM_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most fds one request may carry; more are closed and refused (400). */
#define CVMM_API_MAX_FDS 16u

enum cvmm_api_method {
	CVMM_API_GET = 1u << 0,
	CVMM_API_PUT = 1u << 1,
	CVMM_API_POST = 1u << 2,
	CVMM_API_PATCH = 1u << 3,
	CVMM_API_DELETE = 1u << 4,
};

/** One parsed request, valid during the handler call. */
struct cvmm_api_request {
	enum cvmm_api_method method;
	const char *path;           /**< "/api/v1/vm.info" (no query string) */
	const char *body;           /**< raw body, NUL-terminated; "" when none */
	size_t body_len;
	/** The body parsed as JSON (NULL when empty). Owned by the server. */
	struct json_object *json;
	/** fds that arrived with the request, in order; a handler that keeps
	 * one sets its slot to -1, the server closes the rest afterwards. */
	int fds[CVMM_API_MAX_FDS];
	unsigned int nfds;
};

/** What a handler answers. */
struct cvmm_api_response {
	int status;                 /**< 200, 204, 4xx, 5xx */
	/** 200: the body (the server takes the reference and frees it);
	 * errors: NULL, use cvmm_api_error(). */
	struct json_object *json;
	char error[512];            /**< the error text for 4xx/5xx */
};

/**
 * Handle one request. Fill @resp (status 0 counts as 500). The return
 * value is ignored: the status says it all.
 */
typedef void (*cvmm_api_handler_fn)(void *opaque, struct cvmm_api_request *req,
				    struct cvmm_api_response *resp);

/** A route: an exact path and the methods it takes. */
struct cvmm_api_route {
	const char *path;           /**< "/api/v1/vmm.ping" */
	unsigned int methods;       /**< enum cvmm_api_method bits */
	cvmm_api_handler_fn fn;
	bool body;                  /**< a JSON body is required (400 without) */
	/** The handler runs long (a snapshot): it runs on a worker thread,
	 * one such request at a time (a second waits on the server thread),
	 * while the server thread answers other requests. Its connection
	 * reads nothing more until it is answered. */
	bool slow;
};

struct cvmm_api_opts {
	size_t sz;                  /**< sizeof(struct cvmm_api_opts) */
	const char *path;           /**< socket to bind (an existing socket file
				     * is replaced), or NULL: ... */
	int listen_fd;              /**< ... a listening (or bound) unix socket
				     * the server takes over (closed by destroy) */
	const struct cvmm_api_route *routes; /**< the table; kept, not copied */
	unsigned int nroutes;
	void *opaque;               /**< passed to the handlers */
	size_t max_header;          /**< request line + headers; 0: 8 KiB */
	size_t max_body;            /**< 0: 1 MiB */
	unsigned int max_conns;     /**< concurrent connections; 0: 64 */
	unsigned int read_timeout_ms; /**< a started request must complete; 0: 5000 */
	unsigned int idle_timeout_ms; /**< a quiet keep-alive connection; 0: 60000 */
	int max_depth;              /**< JSON nesting; 0: 32 */
	/** Called first on the server thread (type "api"): a program installs
	 * its seccomp filter here. Non-zero: the thread ends at once (the
	 * socket stays unanswered; cvmm_api_server_destroy() still works). */
	int (*thread_start)(void *opaque, const char *type);
	void *thread_opaque;
};

struct cvmm_api_server;

/**
 * Bind (or take over) the socket, listen, and start the server thread.
 * @return 0 and *@out; -EINVAL (no routes, bad options, @path too long
 * for sockaddr_un); -ENOMEM; errors of socket/bind/listen/pthread_create.
 * On failure nothing is left behind (a socket file created here is
 * removed; a @listen_fd given is not closed).
 * Thread safety: any thread.
 */
int cvmm_api_server_create(const struct cvmm_api_opts *o, struct cvmm_api_server **out);

/**
 * Stop the thread (a handler that runs is finished first), close every
 * connection and the socket, remove the socket file if the server
 * created it. NULL does nothing.
 * Thread safety: any thread but the server's own (from a handler, use
 * cvmm_api_server_stop()).
 */
void cvmm_api_server_destroy(struct cvmm_api_server *s);

/**
 * Ask the thread to end after the current response is sent (vmm.shutdown
 * answers first, then stops). Thread safety: any thread.
 */
void cvmm_api_server_stop(struct cvmm_api_server *s);

/**
 * Write "{"error": @fmt...}" into @resp with @status.
 * Thread safety: any thread (touches only @resp).
 */
void cvmm_api_error(struct cvmm_api_response *resp, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/**
 * Parse one request from @buf without a socket, as the server would, and
 * fill @status and @err with the refusal the server would answer (0 when
 * it would reach a route). For fuzzing and tests: the same code path as
 * the server's, less the socket.
 * @return 0 when a complete request was parsed (its JSON in *@json when
 * not NULL, the caller puts it); -EINVAL (refused: see @status).
 * Thread safety: any thread.
 */
int cvmm_api_parse_one(const struct cvmm_api_opts *o, const uint8_t *buf, size_t len,
		       int *status, char *err, size_t errlen, struct json_object **json);

/** The reason phrase of an HTTP status ("Not Found"). */
const char *cvmm_api_status_text(int status);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_API_H */
