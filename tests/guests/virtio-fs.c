/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A minimal FUSE client over virtio-fs (virtio 1.2, 5.11) at CPL3, for
 * cvmm-microvm --fs in front of a FUSE server such as virtiofsd. Every
 * request is one chain on request queue 1: a device-readable part (in
 * header + arguments) and a device-writable part (out header + reply);
 * the guest waits for each and checks every reply (length, unique, error).
 *
 * The host prepares the shared directory:
 *   hello.txt    arg 0 bytes of the virtio-blk pattern with seed arg 1
 *                (byte i is vblk_pattern(i / 512, i % 512, seed))
 *   hostdir/     holding the regular files alpha, beta and the directory gamma
 *   victim       any file; the guest unlinks it
 * and the guest, after INIT, LOOKUP, GETATTR, OPEN + READ of hello.txt:
 *   creates guest.txt (CREATE, two WRITEs, GETATTR, FLUSH, RELEASE) with
 *   FS_WRITE_SIZE bytes of the pattern with seed arg 2, makes the
 *   directory gdir (MKDIR) and reads hostdir and gdir (OPENDIR, READDIR,
 *   RELEASEDIR), unlinks victim, and expects -ENOENT for a missing name
 *   and for victim afterwards.
 * arg 3: that many more 64-byte READs of hello.txt, timed in TSC cycles
 * (a round-trip figure; 0 for none).
 * Exit 0 and "virtio-fs: all checks passed"; 0x70 + step (printed)
 * otherwise, 0x70 itself for a reply that is not well formed.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio-blk-pattern.h"

#define VIRTIO_ID_FS 26u
#define FS_WRITE_SIZE 3000u
#define CHUNK 1024u                     /* READ size */
#define REPLY_MAX 8192u                 /* payload room in every reply buffer */
#define FUSE_ROOT_ID 1ull

#define ENOENT 2

/* File types and open flags as Linux (the FUSE server's host) spells them. */
#define S_IFMT 0170000u
#define S_IFDIR 0040000u
#define S_IFREG 0100000u
#define O_RDONLY 0u
#define O_RDWR 2u
#define O_CREAT 0100u
#define O_EXCL 0200u
#define DT_DIR 4u
#define DT_REG 8u

/* The FUSE protocol, 7.31 (the oldest minor virtiofsd accepts). */
enum {
	FUSE_LOOKUP = 1,
	FUSE_GETATTR = 3,
	FUSE_MKDIR = 9,
	FUSE_UNLINK = 10,
	FUSE_OPEN = 14,
	FUSE_READ = 15,
	FUSE_WRITE = 16,
	FUSE_RELEASE = 18,
	FUSE_FLUSH = 25,
	FUSE_INIT = 26,
	FUSE_OPENDIR = 27,
	FUSE_READDIR = 28,
	FUSE_RELEASEDIR = 29,
	FUSE_CREATE = 35,
};

struct fuse_in_header {
	uint32_t len;
	uint32_t opcode;
	uint64_t unique;
	uint64_t nodeid;
	uint32_t uid;
	uint32_t gid;
	uint32_t pid;
	uint16_t total_extlen;
	uint16_t padding;
};

struct fuse_out_header {
	uint32_t len;
	int32_t error;
	uint64_t unique;
};

struct fuse_attr {
	uint64_t ino;
	uint64_t size;
	uint64_t blocks;
	uint64_t atime;
	uint64_t mtime;
	uint64_t ctime;
	uint32_t atimensec;
	uint32_t mtimensec;
	uint32_t ctimensec;
	uint32_t mode;
	uint32_t nlink;
	uint32_t uid;
	uint32_t gid;
	uint32_t rdev;
	uint32_t blksize;
	uint32_t flags;
};

struct fuse_entry_out {
	uint64_t nodeid;
	uint64_t generation;
	uint64_t entry_valid;
	uint64_t attr_valid;
	uint32_t entry_valid_nsec;
	uint32_t attr_valid_nsec;
	struct fuse_attr attr;
};

struct fuse_attr_out {
	uint64_t attr_valid;
	uint32_t attr_valid_nsec;
	uint32_t dummy;
	struct fuse_attr attr;
};

struct fuse_init_in {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint32_t flags2;
	uint32_t unused[11];
};

struct fuse_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t unused[7];
};

struct fuse_getattr_in {
	uint32_t getattr_flags;
	uint32_t dummy;
	uint64_t fh;
};

struct fuse_open_in {
	uint32_t flags;
	uint32_t open_flags;
};

struct fuse_create_in {
	uint32_t flags;
	uint32_t mode;
	uint32_t umask;
	uint32_t open_flags;
};

struct fuse_open_out {
	uint64_t fh;
	uint32_t open_flags;
	uint32_t padding;
};

struct fuse_mkdir_in {
	uint32_t mode;
	uint32_t umask;
};

struct fuse_rw_in {              /* fuse_read_in and fuse_write_in alike */
	uint64_t fh;
	uint64_t offset;
	uint32_t size;
	uint32_t rw_flags;
	uint64_t lock_owner;
	uint32_t flags;
	uint32_t padding;
};

struct fuse_write_out {
	uint32_t size;
	uint32_t padding;
};

struct fuse_release_in {
	uint64_t fh;
	uint32_t flags;
	uint32_t release_flags;
	uint64_t lock_owner;
};

struct fuse_flush_in {
	uint64_t fh;
	uint32_t unused;
	uint32_t padding;
	uint64_t lock_owner;
};

struct fuse_dirent {
	uint64_t ino;
	uint64_t off;
	uint32_t namelen;
	uint32_t type;
	char name[];
};

_Static_assert(sizeof(struct fuse_in_header) == 40, "fuse_in_header");
_Static_assert(sizeof(struct fuse_out_header) == 16, "fuse_out_header");
_Static_assert(sizeof(struct fuse_attr) == 88, "fuse_attr");
_Static_assert(sizeof(struct fuse_entry_out) == 128, "fuse_entry_out");
_Static_assert(sizeof(struct fuse_attr_out) == 104, "fuse_attr_out");
_Static_assert(sizeof(struct fuse_init_in) == 64, "fuse_init_in");
_Static_assert(sizeof(struct fuse_init_out) == 64, "fuse_init_out");
_Static_assert(sizeof(struct fuse_rw_in) == 40, "fuse_read_in");
_Static_assert(sizeof(struct fuse_release_in) == 24, "fuse_release_in");
_Static_assert(sizeof(struct fuse_flush_in) == 24, "fuse_flush_in");
_Static_assert(sizeof(struct fuse_dirent) == 24, "fuse_dirent");

static struct virtio_dev dev;
static struct vq hiprio, rq;
static uint8_t *req, *rep;              /* request and reply buffers */
static const void *payload;             /* the reply after the out header */
static uint32_t payload_len;
static uint64_t unique;

static int fail(int step, const char *what)
{
	guest_printf("virtio-fs: FAIL %s\n", what);
	return 0x70 + step;
}

__attribute__((noreturn)) static void broken(const char *what, uint32_t op, uint64_t a, uint64_t b)
{
	guest_printf("virtio-fs: FAIL opcode %u: %s (%lu, %lu)\n", op, what,
		     (unsigned long)a, (unsigned long)b);
	guest_exit(0x70);
}

/*
 * One request on the request queue, synchronously: header, @a[@alen] and
 * @b[@blen] device-readable, room for the out header and @max bytes
 * device-writable. A reply that is not well formed (length, unique, error
 * range) ends the guest with 0x70. @return the server's error: 0 (the
 * reply is at payload[payload_len]) or -errno.
 */
static int32_t fuse_call(uint32_t op, uint64_t nodeid, const void *a, uint32_t alen,
			 const void *b, uint32_t blen, uint32_t max)
{
	struct fuse_in_header *in = (struct fuse_in_header *)req;
	struct fuse_out_header *out = (struct fuse_out_header *)rep;
	uint32_t len = (uint32_t)sizeof(*in) + alen + blen, id, used;
	uint16_t head;
	struct vbuf v[2] = {
		{ (uint64_t)req, len, false },
		{ (uint64_t)rep, (uint32_t)sizeof(*out) + max, true },
	};

	GUEST_ASSERT(len <= REPLY_MAX + 4096 && max <= REPLY_MAX);
	memset(in, 0, sizeof(*in));
	in->len = len;
	in->opcode = op;
	in->unique = ++unique;
	in->nodeid = nodeid;
	if (alen)
		memcpy(req + sizeof(*in), a, alen);
	if (blen)
		memcpy(req + sizeof(*in) + alen, b, blen);
	/* Stale bytes must not pass for a reply. */
	memset(out, 0xa5, sizeof(*out));
	head = vq_submit(&rq, v, 2);
	if (vq_wait(&rq, &id, &used, VIRTIO_SPINS))
		broken("no reply", op, 0, 0);
	if (id != head)
		broken("another chain came back", op, id, head);
	if (used < sizeof(*out) || out->len != used)
		broken("used length and out header length differ", op, used, out->len);
	if (out->len > sizeof(*out) + max)
		broken("reply longer than the buffer", op, out->len, max);
	if (out->unique != unique)
		broken("reply to another request", op, out->unique, unique);
	if (out->error > 0 || out->error < -4095 || (out->error && out->len != sizeof(*out)))
		broken("malformed error reply", op, (uint64_t)(int64_t)out->error, out->len);
	payload = rep + sizeof(*out);
	payload_len = out->len - (uint32_t)sizeof(*out);
	return out->error;
}

/* A call whose reply must be exactly @size bytes (0: header only). */
static bool call_sized(uint32_t op, uint64_t nodeid, const void *a, uint32_t alen,
		       const char *name, uint32_t size)
{
	int32_t err = fuse_call(op, nodeid, a, alen, name, name ? (uint32_t)strlen(name) + 1 : 0,
				size);

	if (err) {
		guest_printf("virtio-fs: opcode %u%s%s: error %d\n", op, name ? " " : "",
			     name ? name : "", err);
		return false;
	}
	if (payload_len != size) {
		guest_printf("virtio-fs: opcode %u: %u reply bytes, expected %u\n", op,
			     payload_len, size);
		return false;
	}
	return true;
}

static bool lookup(uint64_t parent, const char *name, struct fuse_entry_out *e)
{
	if (!call_sized(FUSE_LOOKUP, parent, NULL, 0, name, sizeof(*e)))
		return false;
	memcpy(e, payload, sizeof(*e));
	return e->nodeid != 0;
}

static bool getattr(uint64_t node, struct fuse_attr *a)
{
	struct fuse_getattr_in g = { 0 };

	if (!call_sized(FUSE_GETATTR, node, &g, sizeof(g), NULL, sizeof(struct fuse_attr_out)))
		return false;
	memcpy(a, &((const struct fuse_attr_out *)payload)->attr, sizeof(*a));
	return true;
}

static bool do_open(uint32_t op, uint64_t node, uint32_t flags, uint64_t *fh)
{
	struct fuse_open_in o = { .flags = flags };

	if (!call_sized(op, node, &o, sizeof(o), NULL, sizeof(struct fuse_open_out)))
		return false;
	*fh = ((const struct fuse_open_out *)payload)->fh;
	return true;
}

static bool release(uint32_t op, uint64_t node, uint64_t fh, uint32_t flags)
{
	struct fuse_release_in r = { .fh = fh, .flags = flags };

	return call_sized(op, node, &r, sizeof(r), NULL, 0);
}

/* READ up to @size bytes at @off into @dst. @return bytes read, -1 on error. */
static int64_t read_at(uint64_t node, uint64_t fh, uint64_t off, void *dst, uint32_t size)
{
	struct fuse_rw_in r = { .fh = fh, .offset = off, .size = size, .flags = O_RDONLY };
	int32_t err = fuse_call(FUSE_READ, node, &r, sizeof(r), NULL, 0, size);

	if (err) {
		guest_printf("virtio-fs: READ at %lu: error %d\n", (unsigned long)off, err);
		return -1;
	}
	memcpy(dst, payload, payload_len);
	return payload_len;
}

/* An entry READDIR must list exactly once. */
struct want {
	const char *name;
	uint32_t type;                  /* DT_REG, DT_DIR */
	bool seen;
};

/* OPENDIR, READDIR until an empty reply, RELEASEDIR of directory @node:
 * "." and "..", every name of @want (ended by a NULL name) with its type,
 * and nothing else. */
static bool readdir_check(uint64_t node, const char *dname, struct want *want)
{
	static uint8_t buf[4096];
	uint64_t fh, off = 0;
	unsigned int dots = 0, n = 0;
	bool ok = true;

	if (!do_open(FUSE_OPENDIR, node, O_RDONLY, &fh))
		return false;
	for (unsigned int round = 0; round < 64; round++) {
		struct fuse_rw_in r = { .fh = fh, .offset = off, .size = sizeof(buf) };
		uint32_t pos = 0, len;

		if (fuse_call(FUSE_READDIR, node, &r, sizeof(r), NULL, 0, sizeof(buf))) {
			ok = false;
			break;
		}
		len = payload_len;
		if (!len)
			break;
		/* The checks below must all see one version of the bytes. */
		memcpy(buf, payload, len);
		while (pos < len) {
			const struct fuse_dirent *d = (const struct fuse_dirent *)(buf + pos);
			uint32_t rec;
			struct want *w;

			if (len - pos < sizeof(*d) || d->namelen > 255 ||
			    d->namelen > len - pos - sizeof(*d)) {
				guest_printf("virtio-fs: READDIR %s: truncated entry at %u\n", dname, pos);
				ok = false;
				goto out;
			}
			rec = ((uint32_t)sizeof(*d) + d->namelen + 7u) & ~7u;
			n++;
			if ((d->namelen == 1 && d->name[0] == '.') ||
			    (d->namelen == 2 && d->name[0] == '.' && d->name[1] == '.')) {
				dots++;
			} else {
				for (w = want; w->name; w++)
					if (strlen(w->name) == d->namelen &&
					    !memcmp(w->name, d->name, d->namelen))
						break;
				if (!w->name || w->seen || w->type != d->type) {
					guest_printf("virtio-fs: READDIR %s: unexpected entry (type %u, %u bytes)\n",
						     dname, d->type, d->namelen);
					ok = false;
				} else {
					w->seen = true;
				}
			}
			off = d->off;
			pos += rec;
		}
	}
out:
	if (!release(FUSE_RELEASEDIR, node, fh, O_RDONLY))
		ok = false;
	for (struct want *w = want; w->name; w++)
		if (!w->seen) {
			guest_printf("virtio-fs: READDIR %s: %s missing\n", dname, w->name);
			ok = false;
		}
	if (dots != 2) {
		guest_printf("virtio-fs: READDIR %s: %u of . and ..\n", dname, dots);
		ok = false;
	}
	if (ok)
		guest_printf("virtio-fs: READDIR %s: %u entries as expected\n", dname, n);
	return ok;
}

int guest_main(unsigned int cpu)
{
	uint64_t size = guest_arg(0), seed = guest_arg(1), wseed = guest_arg(2);
	uint64_t loops = guest_arg(3), fh, t0, t1;
	static struct fuse_entry_out e, dir_e;
	struct fuse_attr a;
	char tag[37];
	uint32_t nreq, max_write;
	uint64_t node, got = 0;
	uint8_t *data;

	if (cpu != 0)
		for (;;)
			cpu_relax();
	if (virtio_find(VIRTIO_ID_FS, 0, &dev))
		return fail(1, "no virtio-fs device");
	if (virtio_init(&dev, 0))
		return fail(2, "feature negotiation");
	for (unsigned int i = 0; i < 36; i++)
		tag[i] = (char)virtio_config_read(&dev, i, 1);
	tag[36] = 0;
	nreq = (uint32_t)virtio_config_read(&dev, 36, 4);
	guest_printf("virtio-fs: tag '%s', %u request queue%s\n", tag, nreq, nreq == 1 ? "" : "s");
	if (!tag[0] || nreq < 1)
		return fail(3, "config space: empty tag or no request queue");
	/* hiprio stays unused (no FORGET or INTERRUPT here) but is set up as a
	 * kernel driver does: the backend then starts both queues. */
	if (vq_setup(&dev, 0, &hiprio) || vq_setup(&dev, 1, &rq))
		return fail(4, "queue setup");
	virtio_driver_ok(&dev);
	req = virtio_alloc(REPLY_MAX + 4096);
	rep = virtio_alloc(REPLY_MAX + 4096);
	data = virtio_alloc(size + CHUNK > FS_WRITE_SIZE ? size + CHUNK : FS_WRITE_SIZE);
	if (!req || !rep || !data)
		return fail(5, "no memory for the buffers (file too large?)");

	/* INIT: the server's version and limits. */
	{
		struct fuse_init_in in = { .major = 7, .minor = 31 };
		const struct fuse_init_out *o;
		int32_t err = fuse_call(FUSE_INIT, 0, &in, sizeof(in), NULL, 0, sizeof(*o));

		o = payload;
		if (err || payload_len < 24) {
			guest_printf("virtio-fs: INIT: error %d, %u bytes\n", err, payload_len);
			return fail(6, "INIT");
		}
		max_write = o->max_write;
		guest_printf("virtio-fs: INIT: server speaks FUSE %u.%u, max_write %u\n",
			     o->major, o->minor, max_write);
		if (o->major != 7 || o->minor < 31 || max_write < CHUNK)
			return fail(6, "INIT: protocol 7.31 and 1 KiB writes needed");
	}

	/* LOOKUP, GETATTR, OPEN, READ of the host's file. */
	if (!lookup(FUSE_ROOT_ID, "hello.txt", &e))
		return fail(7, "LOOKUP hello.txt");
	node = e.nodeid;
	if ((e.attr.mode & S_IFMT) != S_IFREG || e.attr.size != size) {
		guest_printf("virtio-fs: hello.txt: mode %x, size %lu\n", e.attr.mode,
			     (unsigned long)e.attr.size);
		return fail(7, "LOOKUP hello.txt: not a regular file of arg 0 bytes");
	}
	if (!getattr(node, &a) || a.size != size || a.ino != e.attr.ino)
		return fail(8, "GETATTR hello.txt: size or inode differ");
	guest_printf("virtio-fs: hello.txt: node %lu, %lu bytes\n", (unsigned long)node,
		     (unsigned long)a.size);
	if (!do_open(FUSE_OPEN, node, O_RDONLY, &fh))
		return fail(9, "OPEN hello.txt");
	for (;;) {
		int64_t r = read_at(node, fh, got, data + got, CHUNK);

		if (r < 0)
			return fail(10, "READ hello.txt");
		if (!r)
			break;
		got += (uint64_t)r;
		if (got > size)
			return fail(10, "READ hello.txt: more bytes than GETATTR said");
	}
	if (got != size)
		return fail(10, "READ hello.txt: fewer bytes than GETATTR said");
	for (uint64_t i = 0; i < size; i++)
		if (data[i] != vblk_pattern(i / 512, (uint32_t)(i % 512), seed)) {
			guest_printf("virtio-fs: hello.txt byte %lu is %x, expected %x\n",
				     (unsigned long)i, data[i],
				     vblk_pattern(i / 512, (uint32_t)(i % 512), seed));
			return fail(11, "READ hello.txt: content");
		}
	guest_printf("virtio-fs: read %lu bytes of hello.txt, content ok\n", (unsigned long)got);
	if (loops) {
		t0 = rdtsc();
		for (uint64_t i = 0; i < loops; i++)
			if (read_at(node, fh, 0, data, 64) != (size < 64 ? (int64_t)size : 64))
				return fail(12, "READ loop");
		t1 = rdtsc();
		guest_printf("virtio-fs: %lu READs of 64 bytes in %lu TSC cycles\n",
			     (unsigned long)loops, (unsigned long)(t1 - t0));
	}
	if (!release(FUSE_RELEASE, node, fh, O_RDONLY))
		return fail(13, "RELEASE hello.txt");

	/* CREATE guest.txt, WRITE it in two pieces, check its size, close. */
	{
		struct fuse_create_in c = { .flags = O_RDWR | O_CREAT | O_EXCL,
					    .mode = S_IFREG | 0644 };
		struct fuse_rw_in w = { .flags = O_RDWR };
		uint32_t half = FS_WRITE_SIZE / 2 + 100;

		if (!call_sized(FUSE_CREATE, FUSE_ROOT_ID, &c, sizeof(c), "guest.txt",
				sizeof(struct fuse_entry_out) + sizeof(struct fuse_open_out)))
			return fail(14, "CREATE guest.txt");
		memcpy(&e, payload, sizeof(e));
		fh = ((const struct fuse_open_out *)((const uint8_t *)payload + sizeof(e)))->fh;
		node = e.nodeid;
		if (!node || (e.attr.mode & S_IFMT) != S_IFREG || e.attr.size)
			return fail(14, "CREATE guest.txt: not an empty regular file");
		for (uint32_t i = 0; i < FS_WRITE_SIZE; i++)
			data[i] = vblk_pattern(i / 512, i % 512, wseed);
		for (uint32_t off = 0; off < FS_WRITE_SIZE; off += half) {
			uint32_t n = FS_WRITE_SIZE - off < half ? FS_WRITE_SIZE - off : half;
			int32_t err;

			w.fh = fh;
			w.offset = off;
			w.size = n;
			err = fuse_call(FUSE_WRITE, node, &w, sizeof(w), data + off, n,
					sizeof(struct fuse_write_out));
			if (err || payload_len != sizeof(struct fuse_write_out) ||
			    ((const struct fuse_write_out *)payload)->size != n) {
				guest_printf("virtio-fs: WRITE at %u: error %d\n", off, err);
				return fail(15, "WRITE guest.txt");
			}
		}
		if (!getattr(node, &a) || a.size != FS_WRITE_SIZE)
			return fail(16, "GETATTR guest.txt: size after the writes");
		{
			struct fuse_flush_in f = { .fh = fh };

			if (!call_sized(FUSE_FLUSH, node, &f, sizeof(f), NULL, 0))
				return fail(17, "FLUSH guest.txt");
		}
		if (!release(FUSE_RELEASE, node, fh, O_RDWR))
			return fail(17, "RELEASE guest.txt");
		guest_printf("virtio-fs: wrote %u bytes to guest.txt\n", FS_WRITE_SIZE);
	}

	/* MKDIR gdir; READDIR of it, of hostdir and of the root. */
	{
		struct fuse_mkdir_in m = { .mode = 0755 };
		struct want empty[] = { { NULL, 0, false } };
		struct want host[] = { { "alpha", DT_REG, false }, { "beta", DT_REG, false },
				       { "gamma", DT_DIR, false }, { NULL, 0, false } };
		struct want root[] = { { "hello.txt", DT_REG, false }, { "hostdir", DT_DIR, false },
				       { "victim", DT_REG, false }, { "guest.txt", DT_REG, false },
				       { "gdir", DT_DIR, false }, { NULL, 0, false } };

		if (!call_sized(FUSE_MKDIR, FUSE_ROOT_ID, &m, sizeof(m), "gdir",
				sizeof(struct fuse_entry_out)))
			return fail(18, "MKDIR gdir");
		memcpy(&dir_e, payload, sizeof(dir_e));
		if (!dir_e.nodeid || (dir_e.attr.mode & S_IFMT) != S_IFDIR)
			return fail(18, "MKDIR gdir: not a directory");
		if (!readdir_check(dir_e.nodeid, "gdir", empty))
			return fail(19, "READDIR gdir");
		if (!lookup(FUSE_ROOT_ID, "hostdir", &e) || (e.attr.mode & S_IFMT) != S_IFDIR)
			return fail(20, "LOOKUP hostdir");
		if (!readdir_check(e.nodeid, "hostdir", host))
			return fail(21, "READDIR hostdir");
		if (!readdir_check(FUSE_ROOT_ID, "/", root))
			return fail(22, "READDIR /");
	}

	/* The error path, UNLINK, and the name gone afterwards. */
	{
		int32_t err = fuse_call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "missing", 8,
					sizeof(struct fuse_entry_out));

		if (err != -ENOENT) {
			guest_printf("virtio-fs: LOOKUP missing: error %d\n", err);
			return fail(23, "LOOKUP of a missing name did not give -ENOENT");
		}
		if (!lookup(FUSE_ROOT_ID, "victim", &e))
			return fail(24, "LOOKUP victim");
		if (!call_sized(FUSE_UNLINK, FUSE_ROOT_ID, NULL, 0, "victim", 0))
			return fail(25, "UNLINK victim");
		err = fuse_call(FUSE_LOOKUP, FUSE_ROOT_ID, NULL, 0, "victim", 7,
				sizeof(struct fuse_entry_out));
		if (err != -ENOENT) {
			guest_printf("virtio-fs: LOOKUP victim after UNLINK: error %d\n", err);
			return fail(26, "victim still there after UNLINK");
		}
		guest_printf("virtio-fs: LOOKUP of missing names: -ENOENT\n");
	}
	guest_printf("virtio-fs: all checks passed\n");
	return 0;
}
