/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/snapshot.h
 * @brief One state format: a versioned, self-describing stream of sections.
 *
 * Every piece of VM state (each vCPU, the irqchip, the PIT, kvmclock, each
 * device, queue and transport, the device table) is saved as one section:
 * an id such as "vcpu/0", "irqchip/ioapic" or "dev/_disk0/queue/1", a
 * version of that section's layout, and a payload of plain data (no
 * pointers). The framing follows Firecracker's MicrovmState (magic, format
 * version, CRC) and the sections form Cloud Hypervisor's snapshot tree,
 * flattened: the tree is in the ids ("dev/_disk0/..."), found by exact id
 * or by prefix.
 *
 * Stream layout (little endian, fixed-size fields, every part a multiple of
 * 8 bytes so payloads are 8-byte aligned when the stream is):
 *
 *     header   24 B  magic "CVMMSTAT", format version u32, flags u32,
 *                    section count u32 (CVMM_SNAP_COUNT_STREAMED when the
 *                    writer could not know it up front), CRC32C of the
 *                    20 bytes before it
 *     section  72 B  id[48] (1..47 characters, NUL-padded), version u32,
 *                    reserved u32 (0), payload length u64, payload CRC32C
 *                    u32, CRC32C of the 68 header bytes before it u32
 *              then the payload and 0-7 zero bytes of padding
 *     ...
 *     end      24 B  "\xffCVMMEND", section count u32, CRC32C over the
 *                    first 68 bytes of every section header in order u32,
 *                    reserved u32 (0), CRC32C of the 20 bytes before it u32
 *
 * Nothing may follow the end marker. An id never starts with 0xff, so the
 * end marker cannot be mistaken for a section. A stream cut at a section
 * boundary lacks the end marker; one with a section removed or reordered
 * fails the end marker's CRC over the headers. That CRC leaves out each
 * header's own CRC field on purpose: a header followed by its CRC is a
 * codeword, and a CRC over a run of codewords cannot see them swapped.
 *
 * The reader treats a stream as hostile: cvmm_snap_reader_open() validates
 * the whole framing before it returns (a restore never begins on a stream
 * that is not whole), and every refusal fills a struct cvmm_snap_error that
 * names the section and the field. Restore code uses the same error struct
 * through cvmm_snap_fail() and the cvmm_snap_check_*() helpers, so every
 * message reads "state section 'vcpu/1' field 'lapic': length 1020,
 * expected 1024".
 *
 * Section versions belong to the code that writes the section: restore
 * code refuses a version newer than it knows with cvmm_snap_check_version().
 * The format version (CVMM_SNAP_FORMAT_VERSION) changes only when the
 * framing itself changes; a newer one is refused at open.
 */
#ifndef CVMM_SNAPSHOT_H
#define CVMM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_SNAP_MAGIC "CVMMSTAT"
#define CVMM_SNAP_END_MAGIC "\xff" "CVMMEND"
/** The framing version this build writes and the newest it reads. */
#define CVMM_SNAP_FORMAT_VERSION 1u
/** Header section count of a stream whose writer streamed it to an fd. */
#define CVMM_SNAP_COUNT_STREAMED 0xffffffffu
/** Bytes of an id field, including at least one NUL. */
#define CVMM_SNAP_ID_SIZE 48
#define CVMM_SNAP_HEADER_SIZE 24
#define CVMM_SNAP_SECTION_HEADER_SIZE 72
#define CVMM_SNAP_END_SIZE 24
/** Payloads are padded to this alignment with zero bytes. */
#define CVMM_SNAP_ALIGN 8

/* ------------------------------------------------------------------------ */
/* Errors: which section, which field, why                                   */
/* ------------------------------------------------------------------------ */

/**
 * Why a stream or a section was refused. @section is the section id ("" for
 * the stream framing itself), @field the field in it ("" when the whole
 * section is at fault), @msg the reason. Every string is NUL-terminated.
 */
struct cvmm_snap_error {
	char section[CVMM_SNAP_ID_SIZE];
	char field[48];
	char msg[160];
};

/** Enough for any cvmm_snap_error_format() line. */
#define CVMM_SNAP_ERROR_LINE 300

/**
 * Format @e as one line: "state section 'vcpu/1' field 'lapic': length
 * 1020, expected 1024"; "state section 'x': ..." without a field; "state
 * stream field 'header.magic': ..." for the framing; "state stream: ..."
 * when neither is set. Truncated to @size - 1 characters.
 * @return @buf.
 * Thread safety: reentrant.
 */
char *cvmm_snap_error_format(const struct cvmm_snap_error *e, char *buf, size_t size);

/**
 * Fill @err (when not NULL) with @section, @field (either may be NULL for
 * "") and the printf-formatted reason. Over-long strings are truncated.
 * @return -EINVAL always, so restore code can write
 * `return cvmm_snap_fail(err, sec, "rip", "not canonical: %#llx", v);`.
 * Thread safety: reentrant.
 */
int cvmm_snap_fail(struct cvmm_snap_error *err, const char *section, const char *field,
		   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/**
 * Check that a payload or field of @section is exactly @expected bytes.
 * @field may be NULL (the whole payload: reported as field "length").
 * @return 0; -EINVAL with "length 1020, expected 1024" in @err.
 * Thread safety: reentrant.
 */
int cvmm_snap_expect_len(struct cvmm_snap_error *err, const char *section, const char *field,
			 uint64_t len, uint64_t expected);

/**
 * Check @min <= @value <= @max (unsigned).
 * @return 0; -ERANGE with "value 9 out of range [0, 7]" in @err.
 * Thread safety: reentrant.
 */
int cvmm_snap_check_range(struct cvmm_snap_error *err, const char *section, const char *field,
			  uint64_t value, uint64_t min, uint64_t max);

/**
 * Check that @value sets no bit outside @allowed (flags, reserved bits).
 * @return 0; -EINVAL with "unknown bits 0x80 in 0x81" in @err.
 * Thread safety: reentrant.
 */
int cvmm_snap_check_flags(struct cvmm_snap_error *err, const char *section, const char *field,
			  uint64_t value, uint64_t allowed);

/**
 * Check that the @len bytes at @p (reserved fields, padding) are all zero.
 * @return 0; -EINVAL with "byte 3 of 8 reserved bytes is 0x01" in @err.
 * Thread safety: reentrant.
 */
int cvmm_snap_check_zero(struct cvmm_snap_error *err, const char *section, const char *field,
			 const void *p, size_t len);

/**
 * Refuse a section layout newer than this build understands.
 * @return 0 when @version <= @max_supported; -EPROTONOSUPPORT with
 * "version 3 is newer than this cvmm (2)" (field "version") in @err.
 * Thread safety: reentrant.
 */
int cvmm_snap_check_version(struct cvmm_snap_error *err, const char *section,
			    uint32_t version, uint32_t max_supported);

/* ------------------------------------------------------------------------ */
/* Ids and checksums                                                         */
/* ------------------------------------------------------------------------ */

/**
 * Format a section id into @id ("dev/%s/queue/%u"). A valid id has 1 to 47
 * characters, each printable ASCII (0x21..0x7e) other than ' " and \, so
 * that messages quoting it stay unambiguous.
 * @return 0; -ENAMETOOLONG when the id would exceed 47 characters (@id is
 * then the empty string); -EINVAL when it is empty or has a character
 * outside the set.
 * Thread safety: reentrant.
 */
int cvmm_snap_id_fmt(char id[CVMM_SNAP_ID_SIZE], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/**
 * Check an id string as the writer does.
 * @return 0; -ENAMETOOLONG; -EINVAL (empty, or a character outside the set).
 * Thread safety: reentrant.
 */
int cvmm_snap_id_check(const char *id);

/**
 * CRC32C (Castagnoli, reflected, as iSCSI and ext4 use) of @len bytes,
 * continuing from @crc (pass 0 to start; the pre/post inversion is inside,
 * so chaining calls over consecutive pieces equals one call over all).
 * Table-driven, slice-by-8; the tables are built once on first use.
 * @return the CRC.
 * Thread safety: thread-safe.
 */
uint32_t cvmm_snap_crc32c(uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* Writer                                                                    */
/* ------------------------------------------------------------------------ */

struct cvmm_snap_writer;

struct cvmm_snap_writer_opts {
	size_t sz; /* sizeof(struct cvmm_snap_writer_opts) */
	/*
	 * -1: build the stream in a growable memory buffer (cvmm_snap_writer_buffer()).
	 * Otherwise a blocking fd (file, pipe, socket) the stream is written
	 * to as it is made, front to back, never seeking: the header goes out
	 * at create with CVMM_SNAP_COUNT_STREAMED, each section when it is
	 * complete, the end marker (which carries the count) at finish.
	 * The writer does not own or close the fd.
	 */
	int fd;
};

/**
 * Create a writer. @o may be NULL for a memory writer. An fd writer writes
 * the 24-byte stream header before it returns.
 * @return 0; -EINVAL (bad @o or @out); -ENOMEM; a negative errno of write().
 * Thread safety: the writer is owned by one thread at a time.
 */
int cvmm_snap_writer_create(const struct cvmm_snap_writer_opts *o, struct cvmm_snap_writer **out);

/** Free the writer (and its memory buffer). NULL does nothing. */
void cvmm_snap_writer_destroy(struct cvmm_snap_writer *w);

/**
 * Append one section with a payload known up front. @data may be NULL when
 * @len is 0.
 * @return 0; -ENAMETOOLONG / -EINVAL for a bad id (see cvmm_snap_id_fmt());
 * -EEXIST when this stream already has a section @id; -EBUSY inside a
 * begin/end pair or after finish; -ENOMEM; -EOVERFLOW when the stream would
 * not fit in memory; a negative errno of write() for an fd writer. A failed
 * write() breaks the writer: every later call returns the same error.
 */
int cvmm_snap_write(struct cvmm_snap_writer *w, const char *id, uint32_t version,
		    const void *data, uint64_t len);

/**
 * Start a section whose size is not known up front; add its payload with
 * cvmm_snap_write_append() and close it with cvmm_snap_write_end().
 * A memory writer builds the payload in place and fills the header at end;
 * an fd writer keeps the payload in memory until end and then writes header
 * and payload, so that the length and CRC in the header are known before
 * the first payload byte leaves (this works on pipes and sockets; it costs
 * memory equal to the section). Split state larger than memory into
 * several sections.
 * @return as cvmm_snap_write().
 */
int cvmm_snap_write_begin(struct cvmm_snap_writer *w, const char *id, uint32_t version);
/**
 * @return 0; -EBUSY outside begin/end; -ENOMEM; -EOVERFLOW. A failed append
 * breaks the writer (the section lost bytes): every later call returns the
 * same error.
 */
int cvmm_snap_write_append(struct cvmm_snap_writer *w, const void *data, size_t len);
/** @return 0; -EBUSY outside begin/end; a negative errno of write(). */
int cvmm_snap_write_end(struct cvmm_snap_writer *w);

/**
 * Write the end marker (and, for a memory writer, the section count into
 * the header). No section may be added afterwards.
 * @return 0; -ENODATA when no section was written (the reader refuses an
 * empty stream); -EBUSY inside a begin/end pair or when already finished; a
 * negative errno of write().
 */
int cvmm_snap_writer_finish(struct cvmm_snap_writer *w);

/**
 * The finished stream of a memory writer, valid until destroy.
 * @return 0; -EINVAL for an fd writer; -EBUSY before finish.
 */
int cvmm_snap_writer_buffer(const struct cvmm_snap_writer *w, const void **ptr, size_t *len);

/** Bytes of stream produced so far (written to the fd, or in the buffer). */
uint64_t cvmm_snap_writer_bytes(const struct cvmm_snap_writer *w);

/* ------------------------------------------------------------------------ */
/* Reader                                                                    */
/* ------------------------------------------------------------------------ */

struct cvmm_snap_reader;

/** One section as the reader hands it out; pointers valid until destroy. */
struct cvmm_snap_section {
	const char *id;      /* NUL-terminated, valid id */
	uint32_t version;    /* the section's own layout version */
	uint32_t index;      /* position in the stream, from 0 */
	const void *data;    /* payload inside the caller's buffer */
	uint64_t len;        /* payload bytes */
};

/**
 * Validate a whole stream in @buf (@len bytes: a file read or mmap'ed
 * whole, or a migration stream received into memory) and index its
 * sections. Nothing is copied: the reader points into @buf, which must
 * stay valid and unchanged until cvmm_snap_reader_destroy().
 * Checked before it returns: magic, format version and flags, the header
 * CRC, for each section its header CRC, id (1..47 valid characters,
 * NUL-padded), reserved fields, length against the bytes left (with
 * overflow checks), payload CRC and zero padding; no duplicate ids; the end
 * marker, its count and its CRC over the section headers; nothing after it.
 * @return 0 with *@out set; on refusal nothing is allocated and @err (may
 * be NULL) says which section and field and why:
 *   -EBADMSG          bad magic, a CRC mismatch, a bad id character or
 *                     padding, reserved fields not zero, count mismatch,
 *                     bytes after the end marker
 *   -ENODATA          the stream ends early (inside a part, or before the
 *                     end marker), or has no sections
 *   -EPROTONOSUPPORT  a format version newer than CVMM_SNAP_FORMAT_VERSION,
 *                     or header flags this build does not know
 *   -ENAMETOOLONG     an id with no NUL in its 48 bytes
 *   -EEXIST           two sections with the same id
 *   -EOVERFLOW        a section length that overflows the stream offset
 *   -EINVAL           NULL @out, or NULL @buf with @len > 0; -ENOMEM
 * Thread safety: reentrant (no shared state).
 */
int cvmm_snap_reader_open(const void *buf, size_t len, struct cvmm_snap_reader **out,
			  struct cvmm_snap_error *err);

/** Free the index. NULL does nothing. The caller's buffer is untouched. */
void cvmm_snap_reader_destroy(struct cvmm_snap_reader *r);

/*
 * Thread safety of the calls below: any number of threads may look up and
 * iterate one reader at once (for example each vCPU thread restoring its
 * own "vcpu/N"); the claimed bits are set atomically. Open and destroy are
 * exclusive.
 */

/** Number of sections (at least 1). */
size_t cvmm_snap_reader_count(const struct cvmm_snap_reader *r);

/**
 * Section number @index in stream order, without claiming it.
 * @return 0; -ENOENT when @index >= count.
 */
int cvmm_snap_reader_at(const struct cvmm_snap_reader *r, size_t index,
			struct cvmm_snap_section *out);

/**
 * Find the section with exactly @id (O(log n)) and mark it claimed.
 * @return 0; -ENOENT when there is none.
 */
int cvmm_snap_reader_find(struct cvmm_snap_reader *r, const char *id,
			  struct cvmm_snap_section *out);

/**
 * Find a section restore code cannot do without, and check its version.
 * @return 0 (claimed); -ENOENT with "missing from the stream" in @err;
 * -EPROTONOSUPPORT as cvmm_snap_check_version().
 */
int cvmm_snap_reader_require(struct cvmm_snap_reader *r, const char *id, uint32_t max_version,
			     struct cvmm_snap_section *out, struct cvmm_snap_error *err);

/**
 * Iterate, in stream order, the sections whose id starts with @prefix ("vcpu/"
 * gives every vCPU; "" gives all). Set *@pos to 0 before the first call;
 * each call claims the section it returns and moves *@pos past it.
 * @return 0 with *@out set; -ENOENT when no further section matches.
 */
int cvmm_snap_reader_next(struct cvmm_snap_reader *r, const char *prefix, size_t *pos,
			  struct cvmm_snap_section *out);

/** Whether section @index was claimed by find/require/next. */
bool cvmm_snap_reader_claimed(const struct cvmm_snap_reader *r, size_t index);

/**
 * Refuse a stream in which some section was claimed by no restore code (a
 * device this program lacks, a section from a newer cvmm). Call after every
 * part of the restore has looked up its sections.
 * @return 0 when every section was claimed; -EPROTONOSUPPORT naming the
 * first unclaimed section in @err ("no part of this cvmm restores it").
 */
int cvmm_snap_reader_unclaimed(const struct cvmm_snap_reader *r, struct cvmm_snap_error *err);

#ifdef __cplusplus
}
#endif

#endif
