/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/linux-loader.h
 * @brief Load an x86-64 Linux kernel into guest memory: ELF vmlinux (PVH
 * or 64-bit entry) and bzImage (64-bit entry), with boot_params / PVH
 * start_info, e820, command line and initrd. Also a command-line builder.
 *
 * Default guest-physical layout (every address can be overridden in
 * struct cvmm_loader_opts; the x86 vCPU helpers in
 * cvmm/linux-loader/x86-boot.h use the addresses marked "vCPU"):
 *
 *   0x00500  GDT, 5 entries (vCPU)      0x00540  IDT, empty (vCPU)
 *   0x06000  PVH hvm_start_info, module list at +0x40, memory map at +0x80
 *   0x07000  boot_params ("zero page")
 *   0x08ff0  initial stack pointer (vCPU), grows down
 *   0x09000  identity page tables: PML4, PDPT, PDs (vCPU, 4 GiB: 6 pages)
 *   0x20000  command line
 *   0x30000  setup_data chain (e.g. SETUP_DTB)
 *   1 MiB+   kernel: ELF segments at their p_paddr; bzImage at pref_address
 *            when it fits (relocatable), else the lowest suitably aligned
 *            address at or above 1 MiB
 *   initrd   page-aligned, as high as possible below the kernel's
 *            initrd_addr_max (and opts.initrd_max), inside one RAM range
 *
 * Threat model: kernel and initrd files are user input. Loading reads them
 * with pread (never mmap), checks every header field, offset and size with
 * overflow checks against the file size and guest RAM, and plans every
 * write before it makes the first one: a malformed file gets an error and
 * leaves guest memory untouched (a file that shrinks while it is read can
 * leave the already validated kernel ranges partly written: -EIO).
 *
 * Errors (negative errno):
 *  -ENOEXEC    not an x86-64 ELF nor a bzImage (bad magic)
 *  -EBADMSG    malformed image: truncated, a header or segment pointing
 *              outside the file, filesz > memsz, sizes that overflow, too
 *              many program headers, a bad PVH note
 *  -EOPNOTSUPP well-formed but unsupported: boot protocol < 2.12, no
 *              XLF_KERNEL_64, not loaded high, an ELF that is not
 *              EXEC/x86-64/64-bit/little-endian
 *  -EFAULT     a segment, the kernel's init_size, the zero page, command
 *              line or start info lies outside writable guest RAM (outside
 *              every region, or in a CVMM_MEM_F_READONLY one)
 *  -EEXIST     kernel segments overlap each other, a loader area (zero
 *              page, command line, start info, setup_data, initrd) or a
 *              range the caller reserved; loader areas overlap each other
 *  -E2BIG      command line longer than the kernel accepts, more e820
 *              entries than fit, setup_data too big for its area
 *  -ENOSPC     no RAM range below the initrd limit can hold the initrd
 *  -EINVAL     bad arguments (opts->sz, fds, misaligned kernel_gpa,
 *              kernel_gpa for an ELF, setup_data on the PVH path, an empty
 *              initrd, a kernel or initrd fd that is not a regular file)
 *  -EIO        short read (the file changed underneath) or read error
 *
 * Thread safety: the functions keep no global state; loading writes guest
 * memory, so do it before the vCPUs run.
 */
#ifndef CVMM_LINUX_LOADER_H
#define CVMM_LINUX_LOADER_H

#include <cvmm/linux-loader/bootparam.h>
#include <cvmm/linux-loader/start-info.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_guest_mem;

#define CVMM_LOADER_GDT_GPA 0x500ull
#define CVMM_LOADER_IDT_GPA 0x540ull
#define CVMM_LOADER_START_INFO_GPA 0x6000ull
#define CVMM_LOADER_ZERO_PAGE_GPA 0x7000ull
#define CVMM_LOADER_STACK_GPA 0x8ff0ull
#define CVMM_LOADER_PAGE_TABLES_GPA 0x9000ull
#define CVMM_LOADER_CMDLINE_GPA 0x20000ull
#define CVMM_LOADER_SETUP_DATA_GPA 0x30000ull
/* Room for the setup_data chain by default: up to the EBDA at 0x9fc00. */
#define CVMM_LOADER_SETUP_DATA_MAX 0x6f000ull
#define CVMM_LOADER_HIGH_MEMORY 0x100000ull
/* Command line limit when the image carries none (ELF): COMMAND_LINE_SIZE
 * of x86 Linux, NUL included. */
#define CVMM_LOADER_ELF_CMDLINE_MAX 2048u
/* Most program headers an ELF may have (vmlinux has about 5). */
#define CVMM_LOADER_MAX_PHDRS 64u

enum cvmm_kernel_format {
	CVMM_KERNEL_ELF = 1,
	CVMM_KERNEL_BZIMAGE = 2,
};

enum cvmm_boot_mode {
	CVMM_BOOT_LINUX64 = 1, /* 64-bit entry: RIP = entry, RSI = boot_params */
	CVMM_BOOT_PVH32 = 2,   /* PVH: 32-bit protected mode, paging off, EBX = start_info */
};

/** What probe() learns from an image's headers, without loading it. */
struct cvmm_kernel_info {
	enum cvmm_kernel_format format;
	uint64_t file_size;
	/* ELF */
	uint64_t elf_entry;
	bool has_pvh;
	uint64_t pvh_entry;
	/* bzImage (zero for ELF) */
	uint16_t protocol;          /* e.g. 0x020f for 2.15 */
	uint8_t loadflags;
	uint16_t xloadflags;
	uint8_t relocatable;
	uint32_t kernel_alignment;
	uint64_t pref_address;
	uint32_t init_size;         /* bytes the kernel needs from its load address */
	uint32_t cmdline_size;      /* longest command line, NUL excluded */
	uint32_t initrd_addr_max;   /* highest address the initrd's last byte may have */
	uint64_t setup_size;        /* real-mode part, boot sector included */
	uint64_t payload_size;      /* protected-mode part in the file */
};

/**
 * Identify the image in @fd and parse its headers. For a bzImage every
 * field of @info is filled and the checks of load() on the setup header are
 * applied (protocol >= 2.12, XLF_KERNEL_64, loaded high); for an ELF the
 * program headers and the PVH note are checked.
 * @return 0; -ENOEXEC; -EBADMSG; -EOPNOTSUPP; -EINVAL (bad fd, not a regular
 * file); -EIO.
 * Thread safety: only preads @fd.
 */
int cvmm_linux_loader_probe(int fd, struct cvmm_kernel_info *info);

/** A guest-physical range of a given e820 type. */
struct cvmm_mem_range {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* CVMM_E820_* */
};

/**
 * The e820 / PVH memory map: the RAM regions of @m (adjacent ones merged;
 * CVMM_MEM_F_READONLY regions are reported as CVMM_E820_RESERVED;
 * CVMM_MEM_F_HOTPLUG regions are left out: a hole) with the
 * @n_reserved ranges carved out of them, plus those ranges with their own
 * types, sorted by address. Reserved ranges may lie outside RAM
 * (the MMIO hole) and must not overlap each other or be of type RAM.
 * @return number of entries written to @out; -E2BIG (more than @max);
 * -EINVAL (a reserved range of size 0, wrapping, of type RAM, overlapping
 * another; no RAM at all).
 * Thread safety: reads @m's region list only.
 */
int cvmm_linux_loader_memmap(const struct cvmm_guest_mem *m,
			     const struct cvmm_mem_range *reserved, unsigned int n_reserved,
			     struct cvmm_mem_range *out, unsigned int max);

/** One setup_data payload to chain from boot_params (bzImage / LINUX64). */
struct cvmm_loader_setup_data {
	uint32_t type;     /* CVMM_SETUP_* (e.g. CVMM_SETUP_DTB) */
	const void *data;
	uint32_t len;
};

/* cvmm_loader_opts.flags */
#define CVMM_LOADER_F_NO_PVH 0x1u /* enter an ELF through its 64-bit entry even if it has a PVH note */

struct cvmm_loader_opts {
	size_t sz;                  /* sizeof(struct cvmm_loader_opts) */
	int kernel_fd;              /* ELF vmlinux or bzImage, a regular file */
	int initrd_fd;              /* -1: no initrd */
	const char *cmdline;        /* NULL: empty */
	const struct cvmm_mem_range *reserved; /* see cvmm_linux_loader_memmap() */
	unsigned int n_reserved;
	const struct cvmm_loader_setup_data *setup_data; /* LINUX64 only */
	unsigned int n_setup_data;
	uint32_t flags;             /* CVMM_LOADER_F_* */
	/* Addresses; 0 selects the CVMM_LOADER_*_GPA default. */
	uint64_t zero_page_gpa;
	uint64_t start_info_gpa;
	uint64_t cmdline_gpa;
	uint64_t setup_data_gpa;
	uint64_t setup_data_max;    /* bytes; 0 = CVMM_LOADER_SETUP_DATA_MAX */
	uint64_t kernel_gpa;        /* bzImage load address; 0 = automatic */
	uint64_t initrd_max;        /* extra cap on the initrd's last byte; 0 = none */
	uint32_t cmdline_max;       /* extra cap on the command line length, NUL
				     * excluded; 0 = the kernel's own limit */
	uint64_t rsdp_gpa;          /* ACPI RSDP for start_info / boot_params; 0 = none */
};

struct cvmm_loader_result {
	enum cvmm_kernel_format format;
	enum cvmm_boot_mode mode;
	uint64_t entry;          /* RIP (LINUX64) or EIP (PVH32) */
	uint64_t boot_info_gpa;  /* boot_params (RSI) or hvm_start_info (EBX) */
	uint64_t kernel_start;   /* lowest GPA the kernel occupies */
	uint64_t kernel_end;     /* one past the highest (memsz / init_size included) */
	uint64_t initrd_gpa;     /* 0 when none */
	uint64_t initrd_size;
	uint64_t cmdline_gpa;
	uint64_t cmdline_size;   /* bytes written, NUL included */
	uint64_t setup_data_gpa; /* first setup_data node, 0 when none */
	unsigned int memmap_entries;
	uint16_t protocol;       /* bzImage boot protocol, 0 for ELF */
};

/**
 * Load the kernel (and initrd) into @m and write the boot information:
 * PVH (ELF with a PHYS32_ENTRY note, unless CVMM_LOADER_F_NO_PVH) or the
 * 64-bit entry with boot_params (bzImage; ELF without the note). The vCPU
 * must then be set up to match @res->mode (see cvmm/linux-loader/x86-boot.h).
 * Everything is validated before guest memory is written.
 * @return 0 and *@res; the errors listed at the top of this header.
 * Thread safety: not against concurrent users of the same guest ranges.
 */
int cvmm_linux_loader_load(struct cvmm_guest_mem *m, const struct cvmm_loader_opts *o,
			   struct cvmm_loader_result *res);

/* ------------------------------------------------------------------------ */
/* Command line builder                                                      */
/* ------------------------------------------------------------------------ */

struct cvmm_cmdline;

/**
 * An empty command line that may grow to @max_len characters (NUL
 * excluded); take it from cvmm_kernel_info.cmdline_size or
 * CVMM_LOADER_ELF_CMDLINE_MAX - 1.
 * @return 0; -EINVAL (@max_len 0 or above 1 MiB); -ENOMEM.
 * Thread safety: one thread per object.
 */
int cvmm_cmdline_create(size_t max_len, struct cvmm_cmdline **out);

/** Free. NULL is a no-op. */
void cvmm_cmdline_destroy(struct cvmm_cmdline *c);

/**
 * Append "key=value" (or "key" when @value is NULL), separated by a space.
 * A value with spaces is wrapped in double quotes (the kernel strips them).
 * Keys are printable ASCII without space, '=' or '"'; values printable ASCII
 * without '"' (the kernel cannot unescape one). Failed calls change nothing.
 * @return 0; -EINVAL (bad key or value); -E2BIG (the result would exceed
 * max_len).
 */
int cvmm_cmdline_add(struct cvmm_cmdline *c, const char *key, const char *value);

/**
 * Append @text verbatim (several space-separated words allowed): printable
 * ASCII with balanced double quotes.
 * @return 0; -EINVAL; -E2BIG. Failed calls change nothing.
 */
int cvmm_cmdline_append(struct cvmm_cmdline *c, const char *text);

/**
 * Append "virtio_mmio.device=<size>@<base>:<irq>" (size with a K/M/G
 * suffix when it divides evenly, base in hex), the form the kernel's
 * virtio_mmio driver parses.
 * @return 0; -EINVAL (size 0, base + size wraps); -E2BIG.
 */
int cvmm_cmdline_add_virtio_mmio(struct cvmm_cmdline *c, uint64_t size, uint64_t base,
				 uint32_t irq);

/** The NUL-terminated text so far (valid until the next change). */
const char *cvmm_cmdline_str(const struct cvmm_cmdline *c);
/** Its length, NUL excluded. */
size_t cvmm_cmdline_len(const struct cvmm_cmdline *c);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_LINUX_LOADER_H */
