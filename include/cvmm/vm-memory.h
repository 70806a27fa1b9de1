/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vm-memory.h
 * @brief Guest physical memory: regions, the x86 layout, checked access.
 *
 * A struct cvmm_guest_mem is a set of non-overlapping regions, each a host
 * mapping (anonymous, memfd, file or hugetlbfs) placed at a guest physical
 * address (GPA). Every access from the VMM goes through bounds- and
 * overflow-checked translation: a guest-supplied address can never make the
 * VMM touch host memory outside a region. Writes the VMM makes on behalf of
 * devices can be recorded in a per-page dirty bitmap (live migration).
 *
 * vm-memory knows nothing of KVM: registering regions as memory slots is the
 * program's job (iterate with cvmm_guest_mem_region()).
 *
 * Errors: -EFAULT means "some byte of the range is not guest RAM"; -EINVAL a
 * malformed argument; -ENOMEM/-errno from mmap, memfd_create, open.
 *
 * Thread safety: the region set is fixed after the last add_region() (adds
 * are not safe against concurrent access). From then on translation, reads,
 * writes and the dirty bitmap are safe from any thread; concurrent writes to
 * the same guest bytes race exactly as they would in hardware.
 */
#ifndef CVMM_VM_MEMORY_H
#define CVMM_VM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_GUEST_PAGE_SIZE 4096ull
#define CVMM_GUEST_PAGE_SHIFT 12

/* The x86 guest physical layout: RAM from 0 up to the 32-bit MMIO hole,
 * the remainder from 4 GiB up. Devices live in the hole. */
#define CVMM_X86_MMIO_HOLE_START 0xC0000000ull
#define CVMM_X86_MMIO_HOLE_END 0x100000000ull

enum cvmm_mem_backing {
	CVMM_MEM_ANON = 0,   /* private anonymous mapping */
	CVMM_MEM_MEMFD,      /* memfd, MAP_SHARED: can be passed to vhost-user backends */
	CVMM_MEM_FILE,       /* a file given by path or fd */
	CVMM_MEM_HUGETLBFS,  /* memfd with MFD_HUGETLB (or a file on hugetlbfs by path) */
};

/* Region flags (struct cvmm_mem_region.flags and opts.flags). */
#define CVMM_MEM_F_SHARED 0x1u    /* MAP_SHARED (always for MEMFD/HUGETLBFS) */
#define CVMM_MEM_F_NORESERVE 0x2u /* MAP_NORESERVE: untouched memory costs nothing */
#define CVMM_MEM_F_GUARD 0x4u     /* PROT_NONE guard page on each side */
#define CVMM_MEM_F_READONLY 0x8u  /* host mapping read-only (e.g. a ROM image) */
#define CVMM_MEM_F_DIRTY_LOG 0x10u /* record VMM writes in the dirty bitmap */
/* Device-managed memory (a virtio-mem region): guest RAM for translation,
 * but not boot RAM, so left out of the firmware memory map (e820, FDT). */
#define CVMM_MEM_F_HOTPLUG 0x20u

/*
 * Backing/fd rules: ANON needs fd == -1, no path, fd_offset 0. MEMFD maps
 * @fd (which must already be at least fd_offset + size long) or, with
 * fd == -1, a new memfd. FILE takes exactly one of @path and @fd: a path
 * with CVMM_MEM_F_SHARED and without READONLY is opened read-write,
 * created and grown as needed (guest RAM in a file); otherwise it is opened
 * read-only and must be large enough (an image, mapped copy-on-write unless
 * SHARED); a FILE on hugetlbfs needs size and fd_offset in whole huge
 * pages. HUGETLBFS uses @fd, @path (must be on hugetlbfs with pages of
 * hugepage_size) or a new MFD_HUGETLB memfd; it ignores NORESERVE, so an
 * empty huge page pool fails the add with -ENOMEM instead of raising
 * SIGBUS at first touch. Regions of 2 MiB or more are placed 2 MiB-aligned
 * in the host (transparent huge pages, KVM large mappings).
 */
struct cvmm_mem_region_opts {
	size_t sz;                   /* sizeof(struct cvmm_mem_region_opts) */
	uint64_t gpa;                /* page-aligned guest physical base */
	uint64_t size;               /* page-aligned (huge-page aligned for hugetlbfs), > 0 */
	enum cvmm_mem_backing backing;
	uint32_t flags;              /* CVMM_MEM_F_* */
	const char *path;            /* FILE: file to map; HUGETLBFS: optional file on hugetlbfs */
	int fd;                      /* FILE/MEMFD: an existing fd to map (dup'ed), or -1 */
	uint64_t fd_offset;          /* page-aligned offset of the region in fd/file */
	uint64_t hugepage_size;      /* HUGETLBFS: 2 MiB or 1 GiB; 0 = 2 MiB */
};

/** Read-only view of one region. */
struct cvmm_mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *host;       /* host address of gpa */
	int fd;              /* backing fd (memfd, file), -1 if anonymous */
	uint64_t fd_offset;  /* offset of gpa's byte within fd */
	enum cvmm_mem_backing backing;
	uint32_t flags;
};

struct cvmm_guest_mem;

/**
 * An empty guest memory map. @return 0; -ENOMEM.
 * Thread safety: the object is not shared until it is returned.
 */
int cvmm_guest_mem_create(struct cvmm_guest_mem **out);

/**
 * Map and add a region. With CVMM_MEM_F_DIRTY_LOG its dirty bitmap is
 * allocated (clear) at once.
 * @return 0; -EINVAL (unaligned, zero size, gpa + size reaching 2^64, bad
 * opts->sz or unknown flags, bad backing/fd combination, an fd shorter than
 * fd_offset + size, a path not on hugetlbfs for HUGETLBFS); -EEXIST
 * (overlaps an existing region); -E2BIG (more than
 * CVMM_GUEST_MEM_MAX_REGIONS); -ENOMEM/-errno from mmap/open/memfd.
 * The map's generation moves on (cvmm_guest_mem_generation()).
 * Thread safety: not against concurrent users of @m (see
 * cvmm_guest_mem_remove_region()).
 */
int cvmm_guest_mem_add_region(struct cvmm_guest_mem *m,
			      const struct cvmm_mem_region_opts *o);
#define CVMM_GUEST_MEM_MAX_REGIONS 256

/**
 * Remove the region that starts at @gpa and unmap it (memory hot-unplug).
 * Region views and host pointers into it are gone; views of other regions
 * may move (cvmm_guest_mem_region() indexes shift). The generation moves on.
 * @return 0; -ENOENT (no region starts at @gpa); -EINVAL.
 * Thread safety: no other thread may translate or access @m meanwhile (a
 * VMM pauses its vCPUs and device threads around a map change), and no
 * device may still hold a buffer in the removed region.
 */
int cvmm_guest_mem_remove_region(struct cvmm_guest_mem *m, uint64_t gpa);

/**
 * The map's generation counter: it moves on with every add and remove, so
 * code that caches region pointers (a virtqueue's rings) compares it with
 * the value it saw and re-translates when it differs. Read it with
 * __atomic_load_n(p, __ATOMIC_ACQUIRE). Host pointers into regions that
 * stay remain valid across a change; only region views move.
 * @return a pointer valid for @m's lifetime; NULL when @m is NULL.
 * Thread safety: any thread.
 */
const uint64_t *cvmm_guest_mem_generation(const struct cvmm_guest_mem *m);

struct cvmm_x86_ram_opts {
	size_t sz;                     /* sizeof(struct cvmm_x86_ram_opts) */
	uint64_t size;                 /* total RAM bytes, page-aligned, > 0 */
	enum cvmm_mem_backing backing; /* ANON, MEMFD or HUGETLBFS (one fd for all RAM) */
	uint32_t flags;                /* CVMM_MEM_F_*; NORESERVE is advised */
	uint64_t hugepage_size;
};

/**
 * Guest RAM in the x86 layout: [0, min(size, MMIO_HOLE_START)) and the rest
 * at [4 GiB, 4 GiB + remainder). With a memfd both regions share one fd at
 * different offsets (one fd to hand to a vhost-user backend); each region
 * holds its own dup of it.
 * @return 0; -EINVAL (bad sz, size 0 or unaligned, FILE backing, bad
 * hugepage_size); or an add_region() error.
 * Thread safety: the object is not shared until it is returned.
 */
int cvmm_guest_mem_create_x86(const struct cvmm_x86_ram_opts *o,
			      struct cvmm_guest_mem **out);

/**
 * Replace the host mapping of region @idx, in place (same host address,
 * so KVM memory slots and pointers into it stay valid), with @fd mapped
 * MAP_PRIVATE from @offset: every page reads as the file until the VMM or
 * the guest writes it, when it gets a private copy. Restoring a snapshot
 * this way lets clones of one memory file share its page cache. The
 * region's old contents are dropped. @populate pre-faults the mapping
 * (MAP_POPULATE: reads the file now). The region stays private: its fd in
 * the view stays -1 (a vhost-user backend could not see private pages).
 * @return 0; -EINVAL (@idx out of range, a region with a shared fd
 * (MEMFD, HUGETLBFS, shared FILE), READONLY, @offset unaligned, @fd
 * shorter than @offset + size); -errno of fstat/mmap (the region then
 * holds inaccessible memory: destroy the map).
 * Thread safety: no other thread may access the region meanwhile (a VM
 * does it before its vCPUs start).
 */
int cvmm_guest_mem_region_map_private(struct cvmm_guest_mem *m, unsigned int idx, int fd,
				      uint64_t offset, bool populate);

/** Unmap everything, close the region fds and free. NULL is a no-op.
 * Thread safety: no other thread may still use @m or its pointers. */
void cvmm_guest_mem_destroy(struct cvmm_guest_mem *m);

/* Lookups. The returned views stay valid until the next add_region() or
 * dirty_log_enable() (flags) and destroy(). Thread safety: as translate. */
unsigned int cvmm_guest_mem_num_regions(const struct cvmm_guest_mem *m);
/** Region @idx in ascending GPA order, or NULL past the end. */
const struct cvmm_mem_region *cvmm_guest_mem_region(const struct cvmm_guest_mem *m,
						    unsigned int idx);
/** The region containing @gpa, or NULL. */
const struct cvmm_mem_region *cvmm_guest_mem_find(const struct cvmm_guest_mem *m,
						  uint64_t gpa);
/** Sum of region sizes. */
uint64_t cvmm_guest_mem_total_size(const struct cvmm_guest_mem *m);
/** One past the highest mapped GPA (0 if empty). */
uint64_t cvmm_guest_mem_end(const struct cvmm_guest_mem *m);

/**
 * Translate [@gpa, @gpa + *@len) to a host pointer. On success *@len is
 * shortened to the contiguous span inside one region (never 0 for a
 * non-zero request; a request of 0 stays 0). @return host pointer, or NULL
 * when @gpa is not in any region (*@len is then 0).
 * The pointer may be into a CVMM_MEM_F_READONLY region: code that writes
 * through it on a guest's say-so must use cvmm_guest_mem_translate_write().
 * Thread safety: safe from any thread once the region set is fixed.
 */
void *cvmm_guest_mem_translate(const struct cvmm_guest_mem *m, uint64_t gpa,
			       uint64_t *len);

/**
 * As cvmm_guest_mem_translate(), but NULL (and *@len = 0) when @gpa lies in
 * a read-only region, so a guest cannot make a device write into a ROM
 * mapping (which would fault in the VMM). Does not mark pages dirty.
 * Thread safety: as translate.
 */
void *cvmm_guest_mem_translate_write(const struct cvmm_guest_mem *m, uint64_t gpa,
				     uint64_t *len);

/**
 * Host pointer for the whole range [@gpa, @gpa + @len), which must lie in
 * a single region (objects, rings). NULL if not, or if the range wraps.
 * @len 0 gives the pointer when @gpa is in a region. Thread safety: as translate.
 */
void *cvmm_guest_mem_ptr(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len);

/** True when every byte of [@gpa, @gpa + @len) is guest RAM (may span
 * regions); false when the range wraps; true for @len 0. Thread-safe. */
bool cvmm_guest_mem_range_valid(const struct cvmm_guest_mem *m, uint64_t gpa,
				uint64_t len);

/**
 * Copy between guest and host, across region boundaries. Writes to a region
 * with CVMM_MEM_F_DIRTY_LOG set the dirty bits of the pages touched (after
 * the data is in place).
 * @return 0 (also for @len 0, at any @gpa); -EFAULT if any byte is outside
 * guest RAM, or for writes inside a READONLY region (nothing is copied: the
 * range is checked first); -EINVAL if the range wraps (@gpa + @len does not
 * fit in 64 bits) or @buf is NULL.
 * Thread safety: safe from any thread once the region set is fixed; the
 * copy is not atomic against concurrent guest or VMM access.
 */
int cvmm_guest_mem_read(const struct cvmm_guest_mem *m, uint64_t gpa, void *buf,
			size_t len);
int cvmm_guest_mem_write(struct cvmm_guest_mem *m, uint64_t gpa, const void *buf,
			 size_t len);
/** memset() of guest memory, same rules as write. */
int cvmm_guest_mem_fill(struct cvmm_guest_mem *m, uint64_t gpa, int c, size_t len);

/**
 * Build an iovec array for [@gpa, @gpa + @len) (one entry per contiguous
 * span, that is one per region touched) for preadv/pwritev. @return number
 * of entries used (0 for @len 0); -EFAULT outside guest RAM; -EINVAL when
 * the range wraps; -ENOBUFS when more than @max entries would be needed.
 * Entries may point into READONLY regions (the kernel then fails a read
 * into them with EFAULT rather than faulting the VMM).
 * Does not mark pages dirty: call cvmm_guest_mem_mark_dirty() after a device
 * wrote through the iovecs.
 */
int cvmm_guest_mem_iovec(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len,
			 struct iovec *iov, unsigned int max);

/* Typed access: little-endian guest values, naturally aligned accesses are
 * single loads/stores (atomic w.r.t. the guest); unaligned ones are bytewise
 * and may cross regions. @return 0; -EFAULT outside RAM (or a write to a
 * READONLY region); -EINVAL for NULL arguments. Writes mark pages dirty.
 * Thread safety: as read/write. */
int cvmm_guest_mem_read_u8(const struct cvmm_guest_mem *m, uint64_t gpa, uint8_t *v);
int cvmm_guest_mem_read_u16(const struct cvmm_guest_mem *m, uint64_t gpa, uint16_t *v);
int cvmm_guest_mem_read_u32(const struct cvmm_guest_mem *m, uint64_t gpa, uint32_t *v);
int cvmm_guest_mem_read_u64(const struct cvmm_guest_mem *m, uint64_t gpa, uint64_t *v);
int cvmm_guest_mem_write_u8(struct cvmm_guest_mem *m, uint64_t gpa, uint8_t v);
int cvmm_guest_mem_write_u16(struct cvmm_guest_mem *m, uint64_t gpa, uint16_t v);
int cvmm_guest_mem_write_u32(struct cvmm_guest_mem *m, uint64_t gpa, uint32_t v);
int cvmm_guest_mem_write_u64(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t v);

/* Shared-ring access on host pointers obtained from translate()/ptr():
 * acquire loads and release stores (the guest runs concurrently). */
static inline uint16_t cvmm_load_acquire_u16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}
static inline uint32_t cvmm_load_acquire_u32(const void *p)
{
	return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void cvmm_store_release_u16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELEASE);
}
static inline void cvmm_store_release_u32(void *p, uint32_t v)
{
	__atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}
static inline uint16_t cvmm_load_relaxed_u16(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED);
}
static inline void cvmm_store_relaxed_u16(void *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, v, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------------------------ */
/* VMM-side dirty bitmap (pages written by the VMM, not by the vCPUs)        */
/* ------------------------------------------------------------------------ */

/**
 * Turn dirty logging of VMM writes on or off for every region (sets or
 * clears CVMM_MEM_F_DIRTY_LOG in their flags). Turning it on allocates one
 * bit per page and clears it (also when it was already on); off frees the
 * bitmaps. @return 0; -ENOMEM (then nothing changed); -EINVAL for NULL.
 * Thread safety: not against concurrent writers; call while devices are paused.
 */
int cvmm_guest_mem_dirty_log_enable(struct cvmm_guest_mem *m, bool on);

/** Mark the pages of [@gpa, @gpa + @len) dirty (no-op when logging is off
 * or outside RAM). Thread-safe (atomic bit operations). */
void cvmm_guest_mem_mark_dirty(struct cvmm_guest_mem *m, uint64_t gpa, uint64_t len);

/**
 * Atomically fetch and clear the dirty bits of the pages in [@gpa, @gpa + @len)
 * into @bitmap (bit i = page (gpa >> 12) + i; @bitmap holds
 * DIV_ROUND_UP(len / 4096, 64) words and is overwritten). @gpa and @len must
 * be page-aligned and lie in one region.
 * @return number of dirty pages found; -EINVAL (NULL, @len 0, unaligned,
 * wraps); -EFAULT (not inside one region); -ENODATA when logging is off for
 * that region. Thread-safe against concurrent writes and mark_dirty (no bit
 * is lost; bits set by a concurrent writer are either returned now, with
 * the written data visible to the caller, or left for the next call).
 */
long cvmm_guest_mem_dirty_get_and_clear(struct cvmm_guest_mem *m, uint64_t gpa,
					uint64_t len, uint64_t *bitmap);


/* ------------------------------------------------------------------------ */
/* A device's DMA address space (behind an IOMMU)                            */
/* ------------------------------------------------------------------------ */

/* Access kinds for struct cvmm_dma_xlate.translate. */
#define CVMM_DMA_READ 0x1u  /* the device reads guest memory */
#define CVMM_DMA_WRITE 0x2u /* the device writes guest memory */

/**
 * A window of a device's DMA space that translates as one piece: IOVAs
 * [iova, last] go to guest physical gpa + (IOVA - iova), for the accesses
 * in perm (CVMM_DMA_*; 0: nothing to reuse).
 */
struct cvmm_dma_span {
	uint64_t iova;
	uint64_t last;
	uint64_t gpa;
	unsigned int perm;
};

/**
 * How a device placed behind an IOMMU reaches guest memory: its addresses
 * are I/O virtual addresses (IOVAs) that the guest maps; translate() turns
 * one into a guest physical address. vm-memory only defines the interface
 * (virtio-queue calls it for every ring and buffer; virtio-devices'
 * virtio-iommu implements it), so a device model needs no IOMMU knowledge.
 */
struct cvmm_dma_xlate {
	/**
	 * Translate [@iova, @iova + @len) (@len >= 1) for @access
	 * (CVMM_DMA_READ and/or CVMM_DMA_WRITE) into the guest physical
	 * address *@gpa; the whole range must be mapped with that permission
	 * and contiguous in guest physical space (adjacent mappings are joined).
	 * @return 0; -EFAULT (some byte unmapped, the endpoint attached to no
	 * domain, or the range wraps); -EACCES (mapped without @access);
	 * -ERANGE (mapped, but not contiguous in guest physical space).
	 * @span (NULL: not wanted) gets, on success, the window around
	 * @iova that translated (perm 0 when there is none to reuse): a
	 * caller may translate inside it by itself, with its permissions,
	 * for as long as *generation has not moved since it read it before
	 * this call (a one-entry IOTLB).
	 * Thread safety: any thread, concurrently with the IOMMU's updates.
	 */
	int (*translate)(void *opaque, uint64_t iova, uint64_t len, unsigned int access,
			 uint64_t *gpa, struct cvmm_dma_span *span);
	void *opaque;
	/**
	 * Moves (atomically, release) whenever a translation may have been
	 * withdrawn (an unmap, a detach, a reset): whoever cached a
	 * translation (a queue's ring pointers) translates again when it
	 * changed. Read with acquire.
	 */
	const uint64_t *generation;
	/**
	 * Optional (NULL: this space never calls anyone back). Register
	 * @fn(@arg, iova, last) to run whenever translations of IOVAs in
	 * [iova, last] may have been withdrawn (an unmap; a detach, re-attach
	 * or reset: [0, UINT64_MAX]), after the change is in force and before
	 * the operation that made it returns: a device that keeps
	 * translations elsewhere (a vhost-user backend's IOTLB) drops them
	 * before the guest learns that its unmap completed. One watcher per
	 * space; @fn NULL removes it. @fn runs on the thread making the
	 * change, with no lock of the space held (it may translate).
	 * @return 0; -EBUSY (another watcher is registered).
	 * Thread safety: any thread; after removal @fn is not called again.
	 */
	int (*watch)(void *opaque, void (*fn)(void *arg, uint64_t iova, uint64_t last),
		     void *arg);
};

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VM_MEMORY_H */
