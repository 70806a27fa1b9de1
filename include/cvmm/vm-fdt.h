/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/vm-fdt.h
 * @brief Flattened device tree (DTB) builder on libfdt's sequential-write API.
 *
 * Build a tree top-down: begin the root node (name ""), add properties and
 * child nodes, end every node, then finish(). The builder grows its buffer
 * transparently up to opts.max_size, checks node and property names against
 * the devicetree specification, rejects duplicate names within a node and
 * unbalanced nesting, and reports every failure as a negative errno. The
 * first error is sticky: every later call, finish() included, returns it
 * again, so a caller may chain calls and check only finish().
 *
 * The helpers for memory, chosen and virtio-mmio nodes assume the root has
 * #address-cells = <2> and #size-cells = <2> (the arm64 and x86-64 norm).
 * On x86 the finished blob is handed to the kernel in a SETUP_DTB setup_data
 * entry (see cvmm/linux-loader.h).
 *
 * Errors common to every call: the sticky earlier error, -EINVAL (bad argument or name, wrong nesting), -E2BIG (the tree
 * would exceed opts.max_size), -ENOMEM (allocation failed), -EEXIST (a
 * property or child node of the same name already exists in this node).
 *
 * Thread safety: a builder is used by one thread at a time; distinct
 * builders are independent.
 */
#ifndef CVMM_VM_FDT_H
#define CVMM_VM_FDT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct cvmm_guest_mem;
struct cvmm_fdt;

/* Default and hard upper bounds of the blob size. arm64 Linux refuses a DTB
 * larger than 2 MiB, hence the default. */
#define CVMM_FDT_DEFAULT_MAX_SIZE (2u << 20)
#define CVMM_FDT_HARD_MAX_SIZE (1u << 30)
/* Maximum node depth the builder accepts (root is depth 1). */
#define CVMM_FDT_MAX_DEPTH 32
/* Maximum length of a node or property name (devicetree spec: 31 chars for
 * the node-name part; unit addresses add to that). */
#define CVMM_FDT_MAX_NAME 255
/* Properties plus child nodes of one node (bounds the duplicate check). */
#define CVMM_FDT_MAX_NODE_ENTRIES 4096

struct cvmm_fdt_opts {
	size_t sz;           /* sizeof(struct cvmm_fdt_opts) */
	size_t initial_size; /* first buffer size; 0 = 4 KiB */
	size_t max_size;     /* 0 = CVMM_FDT_DEFAULT_MAX_SIZE; <= CVMM_FDT_HARD_MAX_SIZE */
	uint32_t boot_cpuid; /* header boot_cpuid_phys */
};

/**
 * Create a builder. @o may be NULL for defaults.
 * @return 0; -EINVAL (bad o->sz, max_size above the hard limit or below
 * initial_size); -ENOMEM.
 * Thread safety: the object is not shared until it is returned.
 */
int cvmm_fdt_create(const struct cvmm_fdt_opts *o, struct cvmm_fdt **out);

/** Free the builder (and its blob). NULL is a no-op. */
void cvmm_fdt_destroy(struct cvmm_fdt *f);

/**
 * Add a memory reservation entry (/memreserve/). May be called at any time
 * before finish(); entries appear in the order added.
 * @return 0; -EINVAL (size 0 or addr + size wraps); -E2BIG (more than
 * CVMM_FDT_MAX_RSV entries).
 */
int cvmm_fdt_add_mem_rsv(struct cvmm_fdt *f, uint64_t addr, uint64_t size);
#define CVMM_FDT_MAX_RSV 64

/**
 * Open a node. The first call must open the root with @name "" and there is
 * exactly one root. Other names follow "node-name[@unit-address]" with
 * node-name 1..31 characters of [0-9a-zA-Z,._+-] starting with a letter.
 * @return 0; -EINVAL (bad name, second root, non-root before the root,
 * deeper than CVMM_FDT_MAX_DEPTH); -EEXIST (sibling of the same name); -E2BIG.
 */
int cvmm_fdt_begin_node(struct cvmm_fdt *f, const char *name);

/** Close the innermost open node. @return 0; -EINVAL (no node open). */
int cvmm_fdt_end_node(struct cvmm_fdt *f);

/*
 * Properties of the innermost open node. Names are 1..31 characters of
 * [0-9a-zA-Z,._+?#-]. Integers are stored big-endian as the spec requires.
 * @return 0; -EINVAL (no node open, bad name, NULL value with a non-zero
 * count, a string list entry that is NULL); -EEXIST (duplicate name);
 * -E2BIG (the blob would grow past max_size, or more than
 * CVMM_FDT_MAX_NODE_ENTRIES properties and children in one node).
 */
int cvmm_fdt_prop_empty(struct cvmm_fdt *f, const char *name);
int cvmm_fdt_prop_u32(struct cvmm_fdt *f, const char *name, uint32_t v);
int cvmm_fdt_prop_u64(struct cvmm_fdt *f, const char *name, uint64_t v);
int cvmm_fdt_prop_u32_array(struct cvmm_fdt *f, const char *name,
			    const uint32_t *v, size_t n);
int cvmm_fdt_prop_u64_array(struct cvmm_fdt *f, const char *name,
			    const uint64_t *v, size_t n);
int cvmm_fdt_prop_string(struct cvmm_fdt *f, const char *name, const char *s);
/* @n strings, each NUL-terminated in the blob ("a\0b\0"). */
int cvmm_fdt_prop_string_list(struct cvmm_fdt *f, const char *name,
			      const char *const *strs, size_t n);
int cvmm_fdt_prop_bytes(struct cvmm_fdt *f, const char *name, const void *data,
			size_t len);

/**
 * Allocate a fresh phandle (1, 2, ... in order; never 0 or 0xffffffff).
 * @return 0 and *@out; -ENOSPC when exhausted.
 */
int cvmm_fdt_phandle_alloc(struct cvmm_fdt *f, uint32_t *out);

/**
 * Give the innermost open node the phandle @ph ("phandle" property).
 * @return as for the properties; -EINVAL for 0 / 0xffffffff or a phandle
 * this builder never allocated.
 */
int cvmm_fdt_prop_phandle(struct cvmm_fdt *f, uint32_t ph);

/**
 * Add a "memory@<base>" node (device_type "memory") under the innermost open
 * node (normally the root) whose reg lists the RAM of @m, adjacent regions
 * merged, as <addr-hi addr-lo size-hi size-lo> pairs.
 * @return 0; -EINVAL (no RAM in @m, no node open); other builder errors.
 */
int cvmm_fdt_add_memory_node(struct cvmm_fdt *f, const struct cvmm_guest_mem *m);

struct cvmm_fdt_chosen {
	size_t sz;                /* sizeof(struct cvmm_fdt_chosen) */
	const char *bootargs;     /* NULL: no property */
	const char *stdout_path;  /* NULL: no property */
	uint64_t initrd_start;    /* linux,initrd-start/end when initrd_end > initrd_start */
	uint64_t initrd_end;
	uint64_t kaslr_seed;      /* 0: no property */
};

/**
 * Add the "chosen" node under the innermost open node (the root).
 * @return 0; -EINVAL (bad c->sz, initrd_end < initrd_start); builder errors.
 */
int cvmm_fdt_add_chosen(struct cvmm_fdt *f, const struct cvmm_fdt_chosen *c);

struct cvmm_fdt_virtio_mmio {
	size_t sz;                  /* sizeof(struct cvmm_fdt_virtio_mmio) */
	uint64_t base;              /* register window GPA */
	uint64_t size;              /* window size (0x200 for virtio-mmio v2) */
	const uint32_t *interrupts; /* interrupt specifier cells (GIC: 3) */
	size_t n_interrupt_cells;   /* 1..8 */
	uint32_t interrupt_parent;  /* phandle, 0 = none (inherit) */
	int dma_coherent;           /* non-zero: add "dma-coherent" */
};

/**
 * Add a "virtio_mmio@<base>" node (compatible "virtio,mmio", reg,
 * interrupts) under the innermost open node.
 * @return 0; -EINVAL (bad v->sz, size 0, base + size wraps, no or too many
 * interrupt cells); builder errors.
 */
int cvmm_fdt_add_virtio_mmio(struct cvmm_fdt *f, const struct cvmm_fdt_virtio_mmio *v);

/**
 * Complete the tree: every node must be closed. Writes the reservation
 * entries, packs the blob and validates it with fdt_check_full().
 * On success *@blob points at the DTB (owned by @f, valid until destroy)
 * and *@len is its size. Calling finish() again returns the same blob.
 * After finish() no more nodes, properties or reservations can be added
 * (-EINVAL).
 * @return 0; -EINVAL (no root, unclosed nodes); -E2BIG; -ENOMEM; -EBADMSG
 * (libfdt rejects the result: a bug).
 */
int cvmm_fdt_finish(struct cvmm_fdt *f, const void **blob, size_t *len);

/** Current depth of open nodes (0 before the root and after it closes). */
unsigned int cvmm_fdt_depth(const struct cvmm_fdt *f);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VM_FDT_H */
