/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/migration-tls.h
 * @brief TLS for migration connections over TCP (GnuTLS): mutual
 *        authentication against a CA, with the certificates in one
 *        directory named as Cloud Hypervisor's tls_dir names them.
 *
 * The directory holds ca-cert.pem (the CA both sides trust),
 * server-cert.pem and server-key.pem (the destination's), client-cert.pem
 * and client-key.pem (the source's). Each side presents its certificate and
 * checks the peer's against the CA; the source also checks that the
 * destination's certificate names the host it connected to.
 *
 * TLS goes behind a plain stream socket: after the handshake, a thread of
 * this library carries bytes between the TLS session on the TCP connection
 * and one end of a socketpair; the caller migrates over the other end. The
 * encoder and decoder of cvmm/migration.h, and the callers' poll() and
 * shutdown() on the connection, work unchanged. Built as its own archive,
 * libcvmm-migration-tls.a (pkg-config cvmm-migration-tls), so the wire
 * protocol's library needs nothing but libc.
 */
#ifndef CVMM_MIGRATION_TLS_H
#define CVMM_MIGRATION_TLS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_mig_tls_opts {
	size_t sz;               /**< sizeof(struct cvmm_mig_tls_opts) */
	const char *dir;         /**< the tls_dir */
	bool server;             /**< the destination (accepted the connection) */
	/** Client: the host name or address the server's certificate must
	 * name (NULL: only the CA is checked). */
	const char *hostname;
	unsigned int handshake_ms; /**< 0: 10 s */
	/**
	 * Handshake on the session's thread, after this returns: for the
	 * connections a source makes after the main one, which the destination
	 * accepts only once it has read START from the main one. A failure
	 * then shows as the plain end's stream ending (the main connection,
	 * not deferred, already checked the same certificates).
	 */
	bool defer;
};

/**
 * Handshake on the connected TCP socket @fd and start carrying the
 * session: *@out is the caller's end of a socketpair (close it when done;
 * shutdown() of it ends the session with a TLS close). On success @fd
 * belongs to the session (closed when it ends); on failure it is left to
 * the caller.
 * @return 0; -ENOENT (a file of @dir missing or unreadable; @err names it);
 * -EACCES (the peer's certificate is not trusted, or the peer refused ours;
 * @err says which and why); -EPROTO (the handshake failed otherwise: the
 * peer does not speak TLS, timed out, ...); -EINVAL; -ENOMEM.
 * Thread safety: any thread; one call per connection.
 */
int cvmm_mig_tls_wrap(int fd, const struct cvmm_mig_tls_opts *o, int *out, char *err,
		      size_t errlen);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_MIGRATION_TLS_H */
