/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cvmm-remote --api-socket PATH COMMAND [ARGS]: one request to a VMM's
 * management API (cvmm-microvm --api-socket, or Cloud Hypervisor), with
 * commands named as ch-remote names them. JSON answers go to stdout; an
 * error is one line on stderr and exit status 1. send-migration shows its
 * progress on stderr while it runs (vm.migration-progress polled on a
 * connection of its own): a one-line bar on a terminal, a line per pass or
 * state change otherwise. snapshot and restore show theirs the same way
 * (vm.snapshot-progress, a cvmm endpoint) on a terminal, or as lines with
 * CVMM_REMOTE_PROGRESS=1.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <json-c/json.h>

#define MAX_FDS 16

/* PAIRS: "[A:B,...]" as [{sub[0]: A, sub[1]: B}, ...]; WRAP: a string as
 * {sub[0]: it}; CONSOLE: off|null|tty|file=PATH as {"mode", "file"}. */
enum type { STR, BOOL, INT, INTLIST, STRLIST, FDS, RATE, PAIRS, WRAP, CONSOLE };

struct field {
	const char *key;    /* on the command line */
	const char *json;   /* in the body (NULL: same) */
	enum type type;
	const char *sub[2]; /* PAIRS, WRAP: the keys inside */
};

struct command {
	const char *name;
	const char *method;
	const char *endpoint;
	int arg;            /* 0 none, 1 key=value list, 2 a file, 3 an id */
	const struct field *fields;
	const char *help;
};

static const struct field disk_fields[] = {
	{ "path", NULL, STR }, { "readonly", NULL, BOOL }, { "direct", NULL, BOOL },
	{ "num_queues", NULL, INT }, { "queue_size", NULL, INT }, { "vhost_user", NULL, BOOL },
	{ "socket", "vhost_socket", STR }, { "id", NULL, STR },
	{ "ops_size", NULL, RATE }, { "ops_refill_time", NULL, RATE },
	{ "bw_size", NULL, RATE }, { "bw_refill_time", NULL, RATE }, { NULL, NULL, STR },
};
static const struct field net_fields[] = {
	{ "tap", NULL, STR }, { "mac", NULL, STR }, { "num_queues", NULL, INT },
	{ "queue_size", NULL, INT }, { "vhost_user", NULL, BOOL },
	{ "socket", "vhost_socket", STR }, { "id", NULL, STR }, { "fd", NULL, FDS },
	{ NULL, NULL, STR },
};
static const struct field fs_fields[] = {
	{ "tag", NULL, STR }, { "socket", NULL, STR }, { "num_queues", NULL, INT },
	{ "queue_size", NULL, INT }, { "id", NULL, STR }, { NULL, NULL, STR },
};
static const struct field vsock_fields[] = {
	{ "cid", NULL, INT }, { "socket", NULL, STR }, { "id", NULL, STR }, { NULL, NULL, STR },
};
static const struct field vhost_fields[] = {
	{ "socket", NULL, STR }, { "device_type", NULL, INT }, { "queue_sizes", NULL, INTLIST },
	{ "id", NULL, STR }, { NULL, NULL, STR },
};

static const struct field snapshot_fields[] = {
	{ "destination_url", NULL, STR }, { "snapshot_type", NULL, STR }, { NULL, NULL, STR },
};
static const struct field resize_fields[] = {
	{ "desired_vcpus", NULL, INT }, { "desired_ram", NULL, INT },
	{ "desired_balloon", NULL, INT }, { NULL, NULL, STR },
};
static const struct field restore_fields[] = {
	{ "source_url", NULL, STR }, { "memory_restore_mode", NULL, STR },
	{ "prefault", NULL, BOOL }, { "resume", NULL, BOOL }, { "diff_urls", NULL, STRLIST },
	{ "clock_realtime", NULL, BOOL },
	{ "network_overrides", NULL, PAIRS, { "iface_id", "host_dev_name" } },
	{ "disk_overrides", NULL, PAIRS, { "id", "path" } },
	{ "vsock_override", NULL, WRAP, { "uds_path", NULL } },
	{ "serial", NULL, CONSOLE }, { "console", NULL, CONSOLE },
	{ NULL, NULL, STR },
};

static const struct field send_migration_fields[] = {
	{ "destination_url", NULL, STR }, { "local", NULL, BOOL }, { "downtime_ms", NULL, INT },
	{ "memory_mode", NULL, STR }, { "postcopy_switch", NULL, BOOL },
	{ "connections", NULL, INT }, { "tls_dir", NULL, STR }, { "resume", NULL, BOOL },
	{ "link_timeout_s", NULL, INT }, { NULL, NULL, STR },
};
static const struct field receive_migration_fields[] = {
	{ "receiver_url", NULL, STR }, { "memory_mode", NULL, STR }, { "tls_dir", NULL, STR },
	{ "resume", NULL, BOOL }, { "link_timeout_s", NULL, INT }, { NULL, NULL, STR },
};

static const struct command commands[] = {
	{ "ping", "GET", "vmm.ping", 0, NULL, "the VMM's version" },
	{ "shutdown-vmm", "PUT", "vmm.shutdown", 0, NULL, "end the VMM" },
	{ "create", "PUT", "vm.create", 2, NULL, "FILE.json: create the VM from a VmConfig" },
	{ "boot", "PUT", "vm.boot", 0, NULL, "boot the created VM" },
	{ "delete", "PUT", "vm.delete", 0, NULL, "delete the VM" },
	{ "info", "GET", "vm.info", 0, NULL, "configuration, state and device tree" },
	{ "counters", "GET", "vm.counters", 0, NULL, "per-device counters" },
	{ "pause", "PUT", "vm.pause", 0, NULL, "pause the VM" },
	{ "resume", "PUT", "vm.resume", 0, NULL, "resume the VM" },
	{ "shutdown", "PUT", "vm.shutdown", 0, NULL, "shut the VM down" },
	{ "reboot", "PUT", "vm.reboot", 0, NULL, "reboot the VM" },
	{ "power-button", "PUT", "vm.power-button", 0, NULL, "press the ACPI power button" },
	{ "add-disk", "PUT", "vm.add-disk", 1, disk_fields,
	  "path=FILE[,readonly=on][,direct=on][,num_queues=N][,queue_size=N][,id=ID]"
	  "[,ops_size=N,ops_refill_time=MS][,bw_size=N,bw_refill_time=MS] or vhost_user=on,socket=PATH" },
	{ "add-net", "PUT", "vm.add-net", 1, net_fields,
	  "tap=NAME|fd=N|fd=[N,M][,mac=MAC][,num_queues=N][,queue_size=N][,id=ID] or vhost_user=on,socket=PATH" },
	{ "add-fs", "PUT", "vm.add-fs", 1, fs_fields, "tag=TAG,socket=PATH[,num_queues=N][,id=ID]" },
	{ "add-vsock", "PUT", "vm.add-vsock", 1, vsock_fields, "cid=N,socket=PATH[,id=ID]" },
	{ "add-generic-vhost-user", "PUT", "vm.add-generic-vhost-user", 1, vhost_fields,
	  "socket=PATH,device_type=N,queue_sizes=[N,...][,id=ID]" },
	{ "remove-device", "PUT", "vm.remove-device", 3, NULL, "ID: remove a device before boot" },
	{ "resize", "PUT", "vm.resize", 1, resize_fields,
	  "desired_balloon=BYTES, desired_ram=BYTES (boot RAM + virtio-mem; desired_vcpus: refused)" },
	{ "snapshot", "PUT", "vm.snapshot", 1, snapshot_fields,
	  "destination_url=file:///DIR[,snapshot_type=Full|Diff]: snapshot the paused VM "
	  "(naming a type keeps dirty tracking on; a Diff holds what changed since the last one)" },
	{ "restore", "PUT", "vm.restore", 1, restore_fields,
	  "source_url=file:///DIR[,memory_restore_mode=Copy|OnDemand|Shared][,prefault=on][,resume=on]"
	  "[,clock_realtime=on][,diff_urls=[file:///D1,...]][,network_overrides=[ID:TAP,...]]"
	  "[,disk_overrides=[ID:PATH,...]][,vsock_override=PATH][,serial=off|tty|file=PATH]"
	  "[,console=tty|file=PATH]: restore on an empty VMM, with the clone's own TAPs, "
	  "images, vsock socket and output files" },
	{ "send-migration", "PUT", "vm.send-migration", 1, send_migration_fields,
	  "destination_url=unix:PATH|tcp:IPV4:PORT[,local=on][,downtime_ms=N]"
	  "[,memory_mode=Precopy|Postcopy][,postcopy_switch=on][,connections=N][,tls_dir=DIR][,link_timeout_s=S]"
	  "[,resume=on]: migrate the running VM, with its progress on stderr (resume=on: a "
	  "post-copy that lost its link goes on over a new connection)" },
	{ "receive-migration", "PUT", "vm.receive-migration", 1, receive_migration_fields,
	  "receiver_url=unix:PATH|tcp:IPV4:PORT[,memory_mode=Precopy|Postcopy][,tls_dir=DIR][,link_timeout_s=S]"
	  "[,resume=on]: receive a VM (on an empty VMM; resume=on: the rest of a post-copy "
	  "that lost its link)" },
	{ "snapshot-progress", "GET", "vm.snapshot-progress", 0, NULL,
	  "how far the running or last snapshot or restore has got" },
	{ "migration-progress", "GET", "vm.migration-progress", 0, NULL,
	  "state and figures of the current or last migration" },
	{ "migration-cancel", "PUT", "vm.migration-cancel", 0, NULL, "cancel the running migration" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: cvmm-remote --api-socket PATH COMMAND [ARGS]\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-24s %s\n", commands[i].name, commands[i].help);
}

static int die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static int die(const char *fmt, ...)
{
	va_list ap;

	fputs("cvmm-remote: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static bool parse_int(const char *s, long long *v)
{
	char *end;

	errno = 0;
	*v = strtoll(s, &end, 0);
	return *s && !*end && !errno;
}

/* "[1,2]" or "1": integers */
static int int_list(const char *cmd, const char *key, const char *val, long long *out, int max)
{
	char buf[256], *save = NULL, *tok;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", val);
	if (buf[0] == '[') {
		size_t l = strlen(buf);

		if (buf[l - 1] != ']')
			die("%s: %s: '%s' is not [N,...]", cmd, key, val);
		buf[l - 1] = '\0';
		memmove(buf, buf + 1, l - 1);
	}
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max || !parse_int(tok, &out[n]))
			die("%s: %s: '%s' is not a list of at most %d integers", cmd, key, val, max);
		n++;
	}
	return n;
}

/* Split "a=1,b=[2,3]" (commas inside brackets stay) into a JSON body. */
static struct json_object *body_from_args(const struct command *c, const char *arg, int *fds,
					  int *nfds)
{
	struct json_object *o = json_object_new_object(), *rl = NULL;
	char *buf = strdup(arg), *p = buf;
	long long ops[2] = { 0, 0 }, bw[2] = { 0, 0 };

	while (p && *p) {
		char *end = p, *eq;
		int depth = 0;
		const struct field *f;
		long long v, list[MAX_FDS];
		int n;

		while (*end && (depth || *end != ',')) {
			depth += *end == '[' ? 1 : *end == ']' ? -1 : 0;
			end++;
		}
		if (*end)
			*end++ = '\0';
		else
			end = NULL;
		eq = strchr(p, '=');
		if (!eq || eq == p)
			die("%s: '%s' is not key=value", c->name, p);
		*eq++ = '\0';
		for (f = c->fields; f->key && strcmp(f->key, p); f++)
			;
		if (!f->key)
			die("%s: unknown field '%s'", c->name, p);
		switch (f->type) {
		case STR:
			json_object_object_add(o, f->json ? f->json : f->key, json_object_new_string(eq));
			break;
		case BOOL:
			if (strcmp(eq, "on") && strcmp(eq, "off") && strcmp(eq, "true") &&
			    strcmp(eq, "false"))
				die("%s: %s: '%s' is not on or off", c->name, p, eq);
			json_object_object_add(o, f->key, json_object_new_boolean(!strcmp(eq, "on") ||
										   !strcmp(eq, "true")));
			break;
		case INT:
			if (!parse_int(eq, &v))
				die("%s: %s: '%s' is not a number", c->name, p, eq);
			json_object_object_add(o, f->key, json_object_new_int64(v));
			break;
		case STRLIST: {
			/* "[a,b]" or "a": strings, in order */
			struct json_object *a = json_object_new_array();
			char *sv = eq, *save = NULL, *tok;
			size_t l = strlen(sv);

			if (sv[0] == '[') {
				if (l < 2 || sv[l - 1] != ']')
					die("%s: %s: '%s' is not [A,...]", c->name, p, eq);
				sv[l - 1] = '\0';
				sv++;
			}
			for (tok = strtok_r(sv, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
				json_object_array_add(a, json_object_new_string(tok));
			json_object_object_add(o, f->key, a);
			break;
		}
		case INTLIST: {
			struct json_object *a = json_object_new_array();

			n = int_list(c->name, p, eq, list, MAX_FDS);
			for (int i = 0; i < n; i++)
				json_object_array_add(a, json_object_new_int64(list[i]));
			json_object_object_add(o, f->key, a);
			break;
		}
		case PAIRS: {
			/* "[a:b,c:d]" or "a:b" */
			struct json_object *a = json_object_new_array();
			char *sv = eq, *save = NULL, *tok;
			size_t l = strlen(sv);

			if (sv[0] == '[') {
				if (l < 2 || sv[l - 1] != ']')
					die("%s: %s: '%s' is not [A:B,...]", c->name, p, eq);
				sv[l - 1] = '\0';
				sv++;
			}
			for (tok = strtok_r(sv, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				struct json_object *e = json_object_new_object();
				char *colon = strchr(tok, ':');

				if (!colon || colon == tok || !colon[1])
					die("%s: %s: '%s' is not %s:%s", c->name, p, tok,
					    f->sub[0], f->sub[1]);
				*colon = '\0';
				json_object_object_add(e, f->sub[0], json_object_new_string(tok));
				json_object_object_add(e, f->sub[1], json_object_new_string(colon + 1));
				json_object_array_add(a, e);
			}
			json_object_object_add(o, f->key, a);
			break;
		}
		case WRAP: {
			struct json_object *e = json_object_new_object();

			json_object_object_add(e, f->sub[0], json_object_new_string(eq));
			json_object_object_add(o, f->key, e);
			break;
		}
		case CONSOLE: {
			struct json_object *e = json_object_new_object();
			const char *mode = !strcmp(eq, "off") ? "Off" : !strcmp(eq, "null") ? "Null" :
					   !strcmp(eq, "tty") ? "Tty" : !strncmp(eq, "file=", 5) ? "File" : NULL;

			if (!mode)
				die("%s: %s: '%s' is not off, null, tty or file=PATH", c->name, p, eq);
			json_object_object_add(e, "mode", json_object_new_string(mode));
			if (!strcmp(mode, "File"))
				json_object_object_add(e, "file", json_object_new_string(eq + 5));
			json_object_object_add(o, f->key, e);
			break;
		}
		case FDS:
			n = int_list(c->name, p, eq, list, MAX_FDS);
			for (int i = 0; i < n; i++)
				fds[(*nfds)++] = (int)list[i];
			break;
		case RATE:
			if (!parse_int(eq, &v) || v < 0)
				die("%s: %s: '%s' is not a number", c->name, p, eq);
			if (!strcmp(p, "ops_size"))
				ops[0] = v;
			else if (!strcmp(p, "ops_refill_time"))
				ops[1] = v;
			else if (!strcmp(p, "bw_size"))
				bw[0] = v;
			else
				bw[1] = v;
			break;
		}
		p = end;
	}
	for (int k = 0; k < 2; k++) {
		long long *b = k ? bw : ops;
		struct json_object *t;

		if (!b[0] && !b[1])
			continue;
		if (!b[0] || !b[1])
			die("%s: %s_size and %s_refill_time go together", c->name, k ? "bw" : "ops",
			    k ? "bw" : "ops");
		if (!rl)
			rl = json_object_new_object();
		t = json_object_new_object();
		json_object_object_add(t, "size", json_object_new_int64(b[0]));
		json_object_object_add(t, "refill_time", json_object_new_int64(b[1]));
		json_object_object_add(rl, k ? "bandwidth" : "ops", t);
	}
	if (rl)
		json_object_object_add(o, "rate_limiter_config", rl);
	free(buf);
	return o;
}

/* The response: status and body, gathered by http-parser. */
struct resp {
	int status;
	char *body;
	size_t len;
	bool done;
};

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct resp *r = p->data;
	char *b = realloc(r->body, r->len + len + 1);

	if (!b)
		return 1;
	memcpy(b + r->len, at, len);
	r->body = b;
	r->len += len;
	b[r->len] = '\0';
	return 0;
}

static int on_done(http_parser *p)
{
	struct resp *r = p->data;

	r->status = (int)p->status_code;
	r->done = true;
	return 0;
}

/* Any failure dies, unless @soft: then -1 (the progress poll ends quietly). */
#define FAIL(...) do { if (soft) { if (fd >= 0) close(fd); return -1; } die(__VA_ARGS__); } while (0)

static int request(const char *sock, const char *method, const char *endpoint,
		   const char *body, const int *fds, int nfds, struct resp *r, bool soft)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	static const http_parser_settings s = { .on_body = on_body, .on_message_complete = on_done };
	union {
		struct cmsghdr h;
		char b[CMSG_SPACE(sizeof(int) * MAX_FDS)];
	} cb;
	char head[512], buf[16384];
	struct iovec iov[2];
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = 2 };
	http_parser p;
	size_t blen = body ? strlen(body) : 0;
	ssize_t n;
	int fd = -1;

	if (strlen(sock) >= sizeof(a.sun_path))
		FAIL("--api-socket: '%s' is too long for a unix socket", sock);
	strcpy(a.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		FAIL("cannot connect to '%s': %s", sock, strerror(errno));
	iov[0].iov_base = head;
	iov[0].iov_len = (size_t)snprintf(head, sizeof(head),
					  "%s /api/v1/%s HTTP/1.1\r\nHost: localhost\r\n"
					  "Accept: application/json\r\n%s"
					  "Content-Length: %zu\r\nConnection: close\r\n\r\n",
					  method, endpoint,
					  blen ? "Content-Type: application/json\r\n" : "", blen);
	iov[1].iov_base = (void *)(body ? body : "");
	iov[1].iov_len = blen;
	/* The fds ride with the request's first bytes, as Kata sends them. */
	if (nfds) {
		m.msg_control = cb.b;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		CMSG_FIRSTHDR(&m)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&m)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&m)->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&m)), fds, sizeof(int) * (size_t)nfds);
	}
	n = sendmsg(fd, &m, MSG_NOSIGNAL);
	if (n < 0)
		FAIL("cannot send the request: %s", strerror(errno));
	if ((size_t)n < iov[0].iov_len + blen) {
		size_t off = (size_t)n;

		/* The rest, plainly (the fds went with the first part). */
		while (off < iov[0].iov_len + blen) {
			const char *src = off < iov[0].iov_len ? head + off : body + (off - iov[0].iov_len);
			size_t left = off < iov[0].iov_len ? iov[0].iov_len - off : blen - (off - iov[0].iov_len);

			n = send(fd, src, left, MSG_NOSIGNAL);
			if (n <= 0)
				FAIL("cannot send the request: %s", strerror(errno));
			off += (size_t)n;
		}
	}
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = r;
	while (!r->done && (n = read(fd, buf, sizeof(buf))) > 0)
		if (http_parser_execute(&p, &s, buf, (size_t)n) != (size_t)n &&
		    HTTP_PARSER_ERRNO(&p) != HPE_OK)
			FAIL("malformed answer: %s", http_errno_description(HTTP_PARSER_ERRNO(&p)));
	if (!r->done) {
		http_parser_execute(&p, &s, NULL, 0);  /* EOF ends a body without a length */
		if (!r->done)
			FAIL("the VMM closed the connection without an answer");
	}
	close(fd);
	return 0;
}
#undef FAIL

/* send-migration, snapshot, restore: the blocking request on a thread,
 * progress on this one. */
struct send_job {
	const char *sock, *endpoint, *body;
	const int *fds;
	int nfds;
	struct resp r;
	atomic_bool done;
};

static void *send_main(void *arg)
{
	struct send_job *j = arg;

	request(j->sock, "PUT", j->endpoint, j->body, j->fds, j->nfds, &j->r, false);
	atomic_store(&j->done, true);
	return NULL;
}

static long long jint(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_int64(v) : 0;
}

static const char *jstr(struct json_object *o, const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) ? json_object_get_string(v) : "";
}

/* One progress report: a bar redrawn in place on a terminal, else a line
 * whenever the state or the pass changes. */
static void show(struct json_object *o, bool tty, long long *pass_max, char *last, size_t lastlen)
{
	const char *state = jstr(o, "state");
	long long pass = jint(o, "pass"), rem = jint(o, "bytes_remaining");
	long long sent = jint(o, "bytes_sent"), bw = jint(o, "bandwidth");
	char key[64], bar[21];
	int pct, fill;

	snprintf(key, sizeof(key), "%s/%lld", state, pass);
	if (strcmp(key, last))
		*pass_max = 0; /* a new pass: its own 100 % */
	if (rem > *pass_max)
		*pass_max = rem;
	pct = *pass_max ? (int)(100 - rem * 100 / *pass_max) : strcmp(state, "setup") ? 100 : 0;
	fill = pct / 5;
	for (int i = 0; i < 20; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[20] = '\0';
	if (tty) {
		fprintf(stderr, "\r[%s] %3d%% %-13s pass %lld  %.1f MiB sent  %.1f MiB left  "
			"%.0f MiB/s  downtime ~%lld ms  throttle %lld%%\033[K", bar, pct, state, pass,
			sent / 1048576.0, rem / 1048576.0, bw / 1048576.0,
			jint(o, "expected_downtime_ms"), jint(o, "throttle_pct"));
		fflush(stderr);
	} else if (strcmp(key, last)) {
		fprintf(stderr, "migration: %s, pass %lld, %.1f MiB sent, %.1f MiB left, "
			"%.0f MiB/s\n", state, pass, sent / 1048576.0, rem / 1048576.0,
			bw / 1048576.0);
	}
	snprintf(last, lastlen, "%s", key);
}

static bool terminal(const char *state)
{
	return !strcmp(state, "completed") || !strcmp(state, "failed") ||
	       !strcmp(state, "cancelled") || !strcmp(state, "postcopy-paused");
}

/* The PUT on a thread (it blocks until the end on Cloud Hypervisor; cvmm
 * answers once connected), vm.migration-progress polled here until the
 * migration ends or the source VMM does (it exits once the guest runs
 * over there). A migration that failed or was cancelled dies with its error. */
static void send_with_progress(const char *sock, const char *body, struct resp *out)
{
	struct send_job j = { .sock = sock, .endpoint = "vm.send-migration", .body = body };
	bool tty = isatty(STDERR_FILENO), shown = false, ended = false;
	long long pass_max = 0;
	char last[64] = "", state[32] = "", error[512] = "";
	pthread_t t;

	if (pthread_create(&t, NULL, send_main, &j))
		die("send-migration: cannot start a thread");
	for (int i = 0; !ended; i++) {
		struct resp r = { 0 };
		struct json_object *o;

		/* The answer first (a refusal is the PUT's to tell), a moment
		 * at most: a blocking PUT is followed while it runs. */
		for (int k = 0; k < 20 && !atomic_load(&j.done); k++)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		if (atomic_load(&j.done) && j.r.status >= 300)
			break;
		if (request(sock, "GET", "vm.migration-progress", NULL, NULL, 0, &r, true)) {
			/* The source VMM is gone: it ends once the guest runs
			 * over there (or it died: the destination's progress
			 * tells which). */
			if (atomic_load(&j.done) && shown && !terminal(state)) {
				fprintf(stderr, "%smigration: the source VMM ended after %s (it ends "
					"once the destination runs the guest)\n", tty ? "\n" : "",
					state);
				tty = false;
			}
			break;
		}
		o = r.status == 200 && r.body ? json_tokener_parse(r.body) : NULL;
		if (o && strcmp(jstr(o, "state"), "none")) {
			show(o, tty, &pass_max, last, sizeof(last));
			shown = true;
			snprintf(state, sizeof(state), "%s", jstr(o, "state"));
			snprintf(error, sizeof(error), "%s", jstr(o, "error"));
			ended = atomic_load(&j.done) && terminal(state);
		}
		json_object_put(o);
		free(r.body);
		if (!ended && i > 0)
			nanosleep(&(struct timespec){ 0, 200000000 }, NULL);
	}
	pthread_join(t, NULL);
	if (tty && shown)
		fputc('\n', stderr);
	*out = j.r;
	if (out->status < 300 && (!strcmp(state, "failed") || !strcmp(state, "cancelled") ||
				  !strcmp(state, "postcopy-paused"))) {
		free(out->body);
		error[strcspn(error, "\n")] = '\0';
		die("send-migration: %s%s%s", state, error[0] ? ": " : "", error);
	}
}

/* One vm.snapshot-progress report: a bar redrawn on a terminal; with
 * CVMM_REMOTE_PROGRESS=1 elsewhere, a line per tenth or state. */
static void show_snap(struct json_object *o, bool tty, int *last)
{
	long long done = jint(o, "bytes_done"), total = jint(o, "bytes_total");
	const char *state = jstr(o, "state");
	int pct = total ? (int)(done * 100 / total) : strcmp(state, "running") ? 100 : 0;
	int key = pct / 10 + (strcmp(state, "running") ? 100 : 0);
	char bar[21];

	for (int i = 0; i < 20; i++)
		bar[i] = i < pct / 5 ? '#' : '.';
	bar[20] = '\0';
	if (tty) {
		fprintf(stderr, "\r[%s] %3d%% %s %-9s %s %.1f of %.1f MiB  %.2f s\033[K", bar, pct,
			jstr(o, "operation"), state, jstr(o, "what"), done / 1048576.0,
			total / 1048576.0, jint(o, "elapsed_ms") / 1000.0);
		fflush(stderr);
	} else if (key != *last) {
		fprintf(stderr, "%s: %s, %s %.1f of %.1f MiB, %lld ms\n", jstr(o, "operation"), state,
			jstr(o, "what"), done / 1048576.0, total / 1048576.0, jint(o, "elapsed_ms"));
	}
	*last = key;
}

/* snapshot, restore: the PUT on a thread (it blocks until done), cvmm's
 * vm.snapshot-progress polled here meanwhile and once at the end. A VMM
 * without it (Cloud Hypervisor: 404) just gets the request. */
static void put_with_progress(const char *sock, const struct command *c, const char *body,
			      const int *fds, int nfds, struct resp *out)
{
	struct send_job j = { .sock = sock, .endpoint = c->endpoint, .body = body, .fds = fds,
			      .nfds = nfds };
	const char *env = getenv("CVMM_REMOTE_PROGRESS");
	bool tty = isatty(STDERR_FILENO), shown = false;
	int last = -1;
	pthread_t t;

	if (!tty && !(env && !strcmp(env, "1"))) {
		request(sock, "PUT", c->endpoint, body, fds, nfds, out, false);
		return;
	}
	if (pthread_create(&t, NULL, send_main, &j))
		die("%s: cannot start a thread", c->name);
	for (bool end = false; !end;) {
		struct resp r = { 0 };
		struct json_object *o;

		for (int k = 0; k < 10 && !atomic_load(&j.done); k++)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
		end = atomic_load(&j.done);
		if (end && j.r.status >= 300)
			break;
		if (request(sock, "GET", "vm.snapshot-progress", NULL, NULL, 0, &r, true) ||
		    r.status != 200) {
			free(r.body);
			break;  /* the PUT is waited for below */
		}
		o = r.body ? json_tokener_parse(r.body) : NULL;
		/* the last one's figures until this one has begun */
		if (o && strcmp(jstr(o, "operation"), c->name) == 0 &&
		    (strcmp(jstr(o, "state"), "running") == 0 || end)) {
			show_snap(o, tty, &last);
			shown = true;
		}
		json_object_put(o);
		free(r.body);
	}
	pthread_join(t, NULL);
	if (tty && shown)
		fputc('\n', stderr);
	*out = j.r;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	const struct command *c = NULL;
	struct json_object *body = NULL;
	struct resp r = { 0 };
	int fds[MAX_FDS], nfds = 0, i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--api-socket") && i + 1 < argc) {
			sock = argv[++i];
			if (!strncmp(sock, "path=", 5))
				sock += 5;
		} else if (!strncmp(argv[i], "--api-socket=", 13)) {
			sock = argv[i] + 13;
		} else {
			die("unknown option '%s' (see --help)", argv[i]);
		}
	}
	if (!sock)
		die("--api-socket: missing (see --help)");
	if (i == argc)
		die("COMMAND: missing (see --help)");
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (!strcmp(commands[k].name, argv[i]))
			c = &commands[k];
	if (!c)
		die("unknown command '%s' (see --help)", argv[i]);
	if ((c->arg && i + 2 != argc) || (!c->arg && i + 1 != argc))
		die("%s: %s", c->name, c->arg ? "needs one argument" : "takes no argument");
	if (c->arg == 1) {
		body = body_from_args(c, argv[i + 1], fds, &nfds);
	} else if (c->arg == 2) {
		body = json_object_from_file(argv[i + 1]);
		if (!body) {
			char why[256];

			snprintf(why, sizeof(why), "%s", json_util_get_last_err());
			why[strcspn(why, "\n")] = '\0';
			die("%s: '%s': %s", c->name, argv[i + 1], why);
		}
	} else if (c->arg == 3) {
		body = json_object_new_object();
		json_object_object_add(body, "id", json_object_new_string(argv[i + 1]));
	}
	if (!strcmp(c->name, "send-migration"))
		send_with_progress(sock, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
				   &r);
	else if (!strcmp(c->name, "snapshot") || !strcmp(c->name, "restore"))
		put_with_progress(sock, c, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN),
				  fds, nfds, &r);
	else
		request(sock, c->method, c->endpoint,
			body ? json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN) : NULL,
			fds, nfds, &r, false);
	json_object_put(body);
	if (r.status >= 400) {
		struct json_object *e = r.body ? json_tokener_parse(r.body) : NULL, *msg;
		char line[1024];

		if (e && json_object_object_get_ex(e, "error", &msg))
			snprintf(line, sizeof(line), "%s", json_object_get_string(msg));
		else
			snprintf(line, sizeof(line), "%s", r.body ? r.body : "(no body)");
		line[strcspn(line, "\n")] = '\0';
		json_object_put(e);
		free(r.body);
		die("%d: %s", r.status, line);
	}
	if (r.len) {
		struct json_object *j = json_tokener_parse(r.body);

		puts(j ? json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
							  JSON_C_TO_STRING_NOSLASHESCAPE) : r.body);
		json_object_put(j);
	}
	free(r.body);
	return 0;
}
