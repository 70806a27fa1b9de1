/* SPDX-License-Identifier: Apache-2.0 */
/*
 * TLS behind a socketpair (cvmm/migration-tls.h). Why a pump thread rather
 * than a transport hook inside the encoder and decoder: the migration code
 * poll()s its connections (a silent peer, the verdict's timeout) and
 * shutdown()s them to wake its own threads; TLS buffers decrypted records
 * where poll() cannot see them. A socket end that carries plain bytes keeps
 * every one of those calls meaning what it meant, and page data still goes
 * out with one writev. The cost is one copy through the socketpair.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cvmm/migration-tls.h>
#include <cvmm/sys-util.h>

#define BUF (64u << 10)

struct tls_pump {
	gnutls_session_t s;
	gnutls_certificate_credentials_t cred;
	int net;                 /* the TCP connection */
	int local;               /* our end of the socketpair */
	bool defer, server;      /* the handshake runs on the pump thread */
	char host[256];          /* GnuTLS keeps the pointer for the handshake */
	unsigned int handshake_ms;
};

static void pump_free(struct tls_pump *p)
{
	if (p->s)
		gnutls_deinit(p->s);
	if (p->cred)
		gnutls_certificate_free_credentials(p->cred);
	if (p->local >= 0)
		close(p->local);
	free(p);
}

static int send_all(gnutls_session_t s, const uint8_t *b, size_t n)
{
	while (n) {
		ssize_t w = gnutls_record_send(s, b, n);

		if (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
			continue;
		if (w < 0)
			return -EPIPE;
		b += w, n -= (size_t)w;
	}
	return 0;
}

static int handshake(struct tls_pump *p, bool server, unsigned int ms, char *err, size_t errlen);

/* Plain bytes from the caller go out as records; records that come in go
 * to the caller. Either side's end ends the session. */
static void *pump_main(void *arg)
{
	struct tls_pump *p = arg;
	uint8_t *buf = malloc(BUF);
	bool from_net = true, from_local = true;

	cvmm_thread_set_name("cvmm-mig-tls");
	if (p->defer) {
		char err[256];

		/* A failure ends the plain end: the caller reads the stream's end. */
		if (handshake(p, p->server, p->handshake_ms, err, sizeof(err)))
			from_net = from_local = false;
	}
	while (buf && (from_net || from_local)) {
		struct pollfd pf[2] = { { .fd = from_net ? p->net : -1, .events = POLLIN },
					{ .fd = from_local ? p->local : -1, .events = POLLIN } };
		bool pending = from_net && gnutls_record_check_pending(p->s) > 0;

		if (!pending && poll(pf, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pending || pf[0].revents) {
			ssize_t n = gnutls_record_recv(p->s, buf, BUF);

			if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
				continue;
			if (n > 0 && !cvmm_write_full(p->local, buf, (size_t)n))
				continue;
			/* The peer closed (or broke) the session: the caller
			 * reads the end of the stream. */
			shutdown(p->local, SHUT_WR);
			from_net = false;
			if (n < 0) {
				shutdown(p->local, SHUT_RDWR);
				break;
			}
		}
		if (pf[1].revents) {
			ssize_t n = read(p->local, buf, BUF);

			if (n < 0 && errno == EINTR)
				continue;
			if (n > 0 && !send_all(p->s, buf, (size_t)n))
				continue;
			/* The caller is done writing (or the link broke). */
			from_local = false;
			if (n == 0)
				gnutls_bye(p->s, GNUTLS_SHUT_WR);
			else
				break;
		}
	}
	shutdown(p->local, SHUT_RDWR);
	close(p->net);
	free(buf);
	pump_free(p);
	return NULL;
}

static int file_ok(const char *dir, const char *name, char *path, size_t len, char *err,
		   size_t errlen)
{
	snprintf(path, len, "%s/%s", dir, name);
	if (access(path, R_OK)) {
		int e = errno;

		snprintf(err, errlen, "migration TLS: %s: %s", path, strerror(e));
		return -ENOENT;
	}
	return 0;
}

static int credentials(struct tls_pump *p, const struct cvmm_mig_tls_opts *o, char *err,
		       size_t errlen)
{
	char ca[4096], cert[4096], key[4096];
	const char *who = o->server ? "server" : "client";
	char cn[32], kn[32];
	int ret;

	snprintf(cn, sizeof(cn), "%s-cert.pem", who);
	snprintf(kn, sizeof(kn), "%s-key.pem", who);
	if ((ret = file_ok(o->dir, "ca-cert.pem", ca, sizeof(ca), err, errlen)) ||
	    (ret = file_ok(o->dir, cn, cert, sizeof(cert), err, errlen)) ||
	    (ret = file_ok(o->dir, kn, key, sizeof(key), err, errlen)))
		return ret;
	if (gnutls_certificate_allocate_credentials(&p->cred))
		return -ENOMEM;
	ret = gnutls_certificate_set_x509_trust_file(p->cred, ca, GNUTLS_X509_FMT_PEM);
	if (ret <= 0) {
		snprintf(err, errlen, "migration TLS: %s: %s", ca,
			 ret ? gnutls_strerror(ret) : "no certificate in it");
		return -ENOENT;
	}
	ret = gnutls_certificate_set_x509_key_file(p->cred, cert, key, GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		snprintf(err, errlen, "migration TLS: %s / %s: %s", cert, key, gnutls_strerror(ret));
		return -ENOENT;
	}
	return 0;
}

/* Why the handshake failed, in one line. */
static int handshake_error(struct tls_pump *p, int ret, const struct cvmm_mig_tls_opts *o,
			   char *err, size_t errlen)
{
	const char *peer = o->server ? "the source" : "the destination";

	/* Tell the peer (a fatal alert) rather than leave it waiting. */
	gnutls_alert_send_appropriate(p->s, ret);
	if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR || ret == GNUTLS_E_CERTIFICATE_ERROR ||
	    ret == GNUTLS_E_NO_CERTIFICATE_FOUND || ret == GNUTLS_E_CERTIFICATE_REQUIRED) {
		unsigned int st = gnutls_session_get_verify_cert_status(p->s);
		gnutls_datum_t why = { 0 };

		if (ret == GNUTLS_E_NO_CERTIFICATE_FOUND || ret == GNUTLS_E_CERTIFICATE_REQUIRED ||
		    !st ||
		    gnutls_certificate_verification_status_print(st, GNUTLS_CRT_X509, &why, 0))
			snprintf(err, errlen, "migration TLS: %s presented no valid certificate: %s",
				 peer, gnutls_strerror(ret));
		else
			snprintf(err, errlen, "migration TLS: %s's certificate is refused: %s", peer,
				 (const char *)why.data);
		gnutls_free(why.data);
		for (size_t n = strlen(err); n && err[n - 1] == ' '; n--)
			err[n - 1] = 0;
		return -EACCES;
	}
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		gnutls_alert_description_t a = gnutls_alert_get(p->s);

		snprintf(err, errlen, "migration TLS: %s refused the handshake: %s", peer,
			 gnutls_alert_get_name(a) ? gnutls_alert_get_name(a) : "alert");
		return a == GNUTLS_A_BAD_CERTIFICATE || a == GNUTLS_A_UNKNOWN_CA ||
		       a == GNUTLS_A_CERTIFICATE_REQUIRED || a == GNUTLS_A_UNSUPPORTED_CERTIFICATE ||
		       a == GNUTLS_A_CERTIFICATE_UNKNOWN || a == GNUTLS_A_ACCESS_DENIED ?
		       -EACCES : -EPROTO;
	}
	snprintf(err, errlen, "migration TLS: handshake with %s failed: %s", peer,
		 gnutls_strerror(ret));
	return -EPROTO;
}

/* The handshake, and for the client the server's one-byte confirmation.
 * @return 0 or the negative errno of handshake_error(). */
static int handshake(struct tls_pump *p, bool server, unsigned int ms, char *err, size_t errlen)
{
	struct cvmm_mig_tls_opts o = { .sz = sizeof(o), .server = server, .handshake_ms = ms };
	int ret;

	do {
		ret = gnutls_handshake(p->s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	/* TLS 1.3 ends the client's handshake before the server has checked
	 * the client's certificate: the server confirms with one byte, so a
	 * refused source learns it here, with the reason, not at its first
	 * write. */
	if (ret >= 0 && server) {
		ret = send_all(p->s, (const uint8_t *)"\x01", 1) ? GNUTLS_E_PUSH_ERROR : 0;
	} else if (ret >= 0) {
		uint8_t ok = 0;

		gnutls_record_set_timeout(p->s, ms ? ms : 10000);
		do {
			ret = (int)gnutls_record_recv(p->s, &ok, 1);
		} while (ret == GNUTLS_E_AGAIN || ret == GNUTLS_E_INTERRUPTED);
		if (ret == 1 && ok != 1)
			ret = GNUTLS_E_UNEXPECTED_PACKET;
		else if (ret == 0)
			ret = GNUTLS_E_PREMATURE_TERMINATION;
		gnutls_record_set_timeout(p->s, 0);
	}
	return ret < 0 ? handshake_error(p, ret, &o, err, errlen) : 0;
}

int cvmm_mig_tls_wrap(int fd, const struct cvmm_mig_tls_opts *o, int *out, char *err,
		      size_t errlen)
{
	char dummy[8];
	struct tls_pump *p;
	pthread_t t;
	pthread_attr_t attr;
	int sv[2], ret, buf = 1 << 20;

	if (!err || !errlen)
		err = dummy, errlen = sizeof(dummy);
	err[0] = 0;
	if (fd < 0 || !o || o->sz < sizeof(*o) || !o->dir || !out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->net = fd;
	p->local = -1;
	p->defer = o->defer;
	p->server = o->server;
	p->handshake_ms = o->handshake_ms;
	if ((ret = credentials(p, o, err, errlen)))
		goto fail;
	if (gnutls_init(&p->s, o->server ? GNUTLS_SERVER : GNUTLS_CLIENT) ||
	    gnutls_set_default_priority(p->s) ||
	    gnutls_credentials_set(p->s, GNUTLS_CRD_CERTIFICATE, p->cred)) {
		ret = -ENOMEM;
		goto fail;
	}
	if (o->server) {
		gnutls_certificate_server_set_request(p->s, GNUTLS_CERT_REQUIRE);
		/* No CA names in the request: a client then sends its
		 * certificate whoever signed it, and a wrong one is refused
		 * with the reason ("issuer is unknown"), not "none sent". */
		gnutls_certificate_send_x509_rdn_sequence(p->s, 1);
	}
	/* The peer's chain against the CA (and, for the client, the name). */
	if (!o->server && o->hostname)
		snprintf(p->host, sizeof(p->host), "%s", o->hostname);
	gnutls_session_set_verify_cert(p->s, p->host[0] ? p->host : NULL, 0);
	gnutls_transport_set_int(p->s, fd);
	gnutls_handshake_set_timeout(p->s, o->handshake_ms ? o->handshake_ms : 10000);
	if (!o->defer && (ret = handshake(p, o->server, o->handshake_ms, err, errlen)))
		goto fail;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		ret = -errno;
		goto fail;
	}
	/* Room for a whole page batch each way. */
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	p->local = sv[1];
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&t, &attr, pump_main, p);
	pthread_attr_destroy(&attr);
	if (ret) {
		close(sv[0]);
		snprintf(err, errlen, "migration TLS: thread: %s", strerror(-ret));
		goto fail;
	}
	*out = sv[0];
	return 0;
fail:
	pump_free(p);
	return ret;
}
