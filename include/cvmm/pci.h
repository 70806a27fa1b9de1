/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/pci.h
 * @brief PCI: configuration space model, capabilities, BARs, MSI-X table
 *        and PBA, a PCI segment (host bridge, slots, 0xCF8/0xCFC and ECAM
 *        configuration access) and save/restore of all of it.
 *
 * Three objects, each usable alone:
 *
 *  - struct cvmm_pci_config: one function's configuration space (type 0
 *    header, 4 KiB so ECAM reaches all of it) with a read-write mask and a
 *    write-1-to-clear mask per byte, capability list building and a
 *    bounded walk, BARs (32/64-bit memory, I/O) sized by the guest writing
 *    all ones, hooks on ranges (MSI-X message control, virtio's PCI
 *    configuration access window);
 *  - struct cvmm_pci_msix: an MSI-X capability on a config space, its table
 *    and PBA (served from a BAR by the owner through
 *    cvmm_pci_msix_bar_access()), per-vector mask, function mask and
 *    enable; a vector signalled while masked is remembered in the PBA and
 *    delivered on unmask; the owner is called back to (re)program the
 *    vector's route (a KVM GSI route + irqfd) and to deliver;
 *  - struct cvmm_pci_segment: bus 0 of one PCI segment with the host bridge
 *    at 00.0 and 31 device slots; configuration access through the
 *    0xCF8/0xCFC port pair and an ECAM (MMCONFIG) window; it decides where
 *    each BAR is mapped (decoding on, assigned, no overlap with guest RAM,
 *    reserved ranges or another mapped BAR) and tells each owner through
 *    its bar_event callback, so the owner moves its bus range and
 *    ioeventfds.
 *
 * Everything the guest writes is hostile: read-only bits keep their value,
 * accesses of a wrong width or past an end read all ones (configuration
 * space of a missing function) or 0 (MSI-X) and are otherwise ignored; a
 * refused BAR is left unmapped and its owner told why. State is plain
 * versioned data, validated field by field on restore with a message that
 * names the field.
 *
 * All functions return 0 (or a non-negative value) or a negative errno;
 * none prints, exits or aborts.
 */
#ifndef CVMM_PCI_H
#define CVMM_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

#define CVMM_PCI_CFG_SIZE 256u       /* conventional space (0xCF8 reaches it) */
#define CVMM_PCI_CFG_EXT_SIZE 4096u  /* with ECAM */
#define CVMM_PCI_NUM_BARS 6u
#define CVMM_PCI_SLOTS 32u           /* devices on one bus */

/* Type 0 header offsets. */
#define CVMM_PCI_VENDOR_ID 0x00
#define CVMM_PCI_DEVICE_ID 0x02
#define CVMM_PCI_COMMAND 0x04
#define CVMM_PCI_STATUS 0x06
#define CVMM_PCI_REVISION_ID 0x08
#define CVMM_PCI_CLASS_PROG 0x09
#define CVMM_PCI_CLASS_DEVICE 0x0a
#define CVMM_PCI_CACHE_LINE_SIZE 0x0c
#define CVMM_PCI_LATENCY_TIMER 0x0d
#define CVMM_PCI_HEADER_TYPE 0x0e
#define CVMM_PCI_BAR0 0x10
#define CVMM_PCI_SUBSYSTEM_VENDOR_ID 0x2c
#define CVMM_PCI_SUBSYSTEM_ID 0x2e
#define CVMM_PCI_ROM_ADDRESS 0x30
#define CVMM_PCI_CAPABILITY_LIST 0x34
#define CVMM_PCI_INTERRUPT_LINE 0x3c
#define CVMM_PCI_INTERRUPT_PIN 0x3d
#define CVMM_PCI_CAP_START 0x40      /* first byte a capability may use */

#define CVMM_PCI_COMMAND_IO 0x0001u
#define CVMM_PCI_COMMAND_MEMORY 0x0002u
#define CVMM_PCI_COMMAND_MASTER 0x0004u
#define CVMM_PCI_COMMAND_INTX_DISABLE 0x0400u
#define CVMM_PCI_STATUS_INTERRUPT 0x0008u
#define CVMM_PCI_STATUS_CAP_LIST 0x0010u

#define CVMM_PCI_CAP_ID_VNDR 0x09
#define CVMM_PCI_CAP_ID_MSIX 0x11

/** Most capabilities a walk visits before it calls the chain a loop (as
 * Linux's PCI_FIND_CAP_TTL). */
#define CVMM_PCI_CAP_WALK_MAX 48u

/* ------------------------------------------------------------------------ */
/* Configuration space                                                       */
/* ------------------------------------------------------------------------ */

struct cvmm_pci_config;

struct cvmm_pci_config_opts {
	size_t sz;                 /* sizeof(struct cvmm_pci_config_opts) */
	uint16_t vendor_id;        /* not 0xffff */
	uint16_t device_id;
	uint8_t revision_id;
	uint32_t class_code;       /* 24 bits: class, subclass, prog-if */
	uint16_t subsystem_vendor_id;
	uint16_t subsystem_id;
	uint8_t interrupt_pin;     /* 0: none, 1..4: INTA..INTD */
	bool multifunction;        /* header type bit 7 */
};

/**
 * A configuration space with the type 0 header filled from @o and the
 * masks of a plain device: Command (I/O, memory, bus master, INTx disable)
 * read-write, Status error bits write-1-to-clear, cache line size, latency
 * timer and interrupt line read-write, everything else read-only.
 * @return 0 and *@out; -EINVAL (NULL, sz too small, vendor 0xffff, class
 * above 24 bits, interrupt_pin above 4); -ENOMEM.
 * Thread safety: none of the cvmm_pci_config functions is thread-safe: the
 * caller serialises (the segment does, under its lock).
 */
int cvmm_pci_config_create(const struct cvmm_pci_config_opts *o, struct cvmm_pci_config **out);

/** Free (hooks are dropped; the MSI-X object on it must be destroyed
 * first). NULL does nothing. */
void cvmm_pci_config_destroy(struct cvmm_pci_config *c);

/**
 * A guest read of @len (1, 2 or 4) bytes at @off. Accesses that are not
 * naturally aligned or run past 4 KiB read all ones. Read hooks on the
 * range run first (they may refresh bytes).
 * @return 0; -EINVAL (NULL @c or @data).
 */
int cvmm_pci_config_read(struct cvmm_pci_config *c, uint32_t off, void *data, unsigned int len);

/**
 * A guest write: each byte becomes (old & ~rw) | (new & rw), bits in the
 * write-1-to-clear mask written as 1 are cleared, then the write hooks
 * overlapping the range run. Misaligned or out-of-range accesses and
 * writes to read-only bytes change nothing.
 * @return 0; -EINVAL (NULL).
 */
int cvmm_pci_config_write(struct cvmm_pci_config *c, uint32_t off, const void *data,
			  unsigned int len);

/** Device-side access that ignores the masks (for the owner building or
 * updating its own registers). @return 0; -EINVAL (NULL, range past 4 KiB). */
int cvmm_pci_config_set(struct cvmm_pci_config *c, uint32_t off, const void *data, size_t len);
int cvmm_pci_config_get(const struct cvmm_pci_config *c, uint32_t off, void *data, size_t len);

/** Little-endian helpers over cvmm_pci_config_get(); out of range reads 0. */
uint8_t cvmm_pci_config_get8(const struct cvmm_pci_config *c, uint32_t off);
uint16_t cvmm_pci_config_get16(const struct cvmm_pci_config *c, uint32_t off);
uint32_t cvmm_pci_config_get32(const struct cvmm_pci_config *c, uint32_t off);

/**
 * Set the guest-visible masks of [@off, @off + @len): @rw bits become
 * read-write, @w1c bits write-1-to-clear (either may be NULL: that mask is
 * cleared for the range). For capability registers the owner defines.
 * @return 0; -EINVAL (range past 4 KiB, within the BAR registers, or
 * header bytes 0x00-0x0f/0x34 that must stay read-only).
 */
int cvmm_pci_config_set_masks(struct cvmm_pci_config *c, uint32_t off, const uint8_t *rw,
			      const uint8_t *w1c, size_t len);

/**
 * Append a capability of @len bytes (@body's first two bytes, ID and next
 * pointer, are filled by the model) at the next 4-byte aligned offset
 * after the last one, link it at the end of the list and set Status.CAP_LIST.
 * The capability is read-only until cvmm_pci_config_set_masks().
 * @return the capability's offset (0x40..0xfc); -EINVAL (NULL, @len below
 * 2 or above 192); -ENOSPC (does not fit below 0x100).
 */
int cvmm_pci_config_add_cap(struct cvmm_pci_config *c, uint8_t id, const void *body, size_t len);

/**
 * Find capability @id after the one at @start (0: from the list head),
 * walking at most CVMM_PCI_CAP_WALK_MAX entries.
 * @return the offset; -ENOENT (not in the list); -ELOOP (the chain loops);
 * -EINVAL (a pointer below 0x40 or past 0xfc, or @c NULL).
 */
int cvmm_pci_config_find_cap(const struct cvmm_pci_config *c, uint8_t id, uint32_t start);

/**
 * The same walk over a raw 256-byte configuration space @cfg (a guest's,
 * a saved state's): checks every link (pointer 0x40..0xfc, dword aligned
 * after masking the low two bits as the spec allows, the capability's
 * bytes inside the space) and calls @fn for each (stop walking when it
 * returns non-zero, which is returned).
 * @return 0 (end of list reached); @fn's non-zero value; -ELOOP (more than
 * CVMM_PCI_CAP_WALK_MAX links: the chain loops); -EINVAL (a bad pointer;
 * *@bad_off, if given, gets the offset of the byte that holds it).
 * Thread safety: pure.
 */
int cvmm_pci_cap_walk(const uint8_t *cfg, int (*fn)(uint8_t id, uint32_t off, void *opaque),
		      void *opaque, uint32_t *bad_off);

/** A range hook: called after a guest write overlapping [off, off+len) of
 * the hook (with the write's offset and length), or before a guest read. */
struct cvmm_pci_config_hook {
	uint32_t off;
	uint32_t len;
	void (*write)(struct cvmm_pci_config *c, uint32_t off, unsigned int len, void *opaque);
	void (*read)(struct cvmm_pci_config *c, uint32_t off, unsigned int len, void *opaque);
	void *opaque;
};
#define CVMM_PCI_CONFIG_MAX_HOOKS 8u

/** Add a hook (copied). @return 0; -EINVAL (NULL, empty or out-of-range
 * range); -ENOSPC (CVMM_PCI_CONFIG_MAX_HOOKS reached). */
int cvmm_pci_config_add_hook(struct cvmm_pci_config *c, const struct cvmm_pci_config_hook *h);
/** Drop every hook whose opaque is @opaque (before freeing it). */
void cvmm_pci_config_remove_hooks(struct cvmm_pci_config *c, void *opaque);

/* BARs -------------------------------------------------------------------- */

enum cvmm_pci_bar_type {
	CVMM_PCI_BAR_NONE = 0,
	CVMM_PCI_BAR_MEM32,
	CVMM_PCI_BAR_MEM64,      /* takes this BAR and the next */
	CVMM_PCI_BAR_IO,
};

struct cvmm_pci_bar_opts {
	size_t sz;                  /* sizeof(struct cvmm_pci_bar_opts) */
	unsigned int index;         /* 0..5 (0..4 for MEM64) */
	enum cvmm_pci_bar_type type;
	uint64_t size;              /* power of two; memory >= 16, I/O 4..256 */
	bool prefetchable;          /* memory BARs */
	uint64_t addr;              /* initial address (aligned to size), 0: unassigned */
};

/**
 * Declare a BAR: its register gets the type bits and a read-write mask of
 * ~(size - 1), so writing all ones reads back the size.
 * @return 0; -EINVAL (NULL, sz, index, type, size not a power of two or
 * out of range, addr not aligned or too high for the type); -EEXIST (the
 * register(s) already hold a BAR).
 */
int cvmm_pci_config_add_bar(struct cvmm_pci_config *c, const struct cvmm_pci_bar_opts *o);

/** A BAR as the guest programmed it. */
struct cvmm_pci_bar_info {
	enum cvmm_pci_bar_type type;  /* NONE: no BAR at this index (or the upper half of a MEM64) */
	uint64_t size;
	uint64_t addr;                /* from the register(s), flags masked off */
	bool prefetchable;
	bool decode;                  /* Command enables decoding of its space */
};

/** Read BAR @index. @return 0; -EINVAL (NULL, index above 5). */
int cvmm_pci_config_bar(const struct cvmm_pci_config *c, unsigned int index,
			struct cvmm_pci_bar_info *out);

/** Show INTx as pending in Status (the device asserts its pin). */
void cvmm_pci_config_set_intx_status(struct cvmm_pci_config *c, bool pending);

/* State ------------------------------------------------------------------- */

#define CVMM_PCI_CONFIG_STATE_VERSION 1u

/** The whole space as the guest left it; plain data. */
struct cvmm_pci_config_state {
	uint32_t version;                    /* CVMM_PCI_CONFIG_STATE_VERSION */
	uint32_t size;                       /* CVMM_PCI_CFG_EXT_SIZE */
	uint8_t bytes[CVMM_PCI_CFG_EXT_SIZE];
};

/** Copy the space into @s. @return 0; -EINVAL (NULL). */
int cvmm_pci_config_save(const struct cvmm_pci_config *c, struct cvmm_pci_config_state *s);

/**
 * Load @s into @c, which must be built the same way (same header, BARs,
 * capabilities): every bit the guest cannot write must equal @c's (so a
 * forged capability chain, BAR type or ID is refused), BAR registers
 * above 4 GiB only in MEM64 BARs, the capability chain is walked. Hooks
 * are not called: restore the objects behind them (MSI-X) afterwards.
 * On refusal a one-line message naming the field ("bytes[0x02] (device_id):
 * 0x12 in the state, 0x41 here: read-only") goes to @err (NULL/0: none)
 * and the log; @c is unchanged.
 * @return 0; -EINVAL.
 */
int cvmm_pci_config_restore(struct cvmm_pci_config *c, const struct cvmm_pci_config_state *s,
			    char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* MSI-X                                                                     */
/* ------------------------------------------------------------------------ */

/** Vectors one MSI-X object may have (the spec allows 2048; this keeps
 * the state plain and small: every virtio queue and config fit). */
#define CVMM_PCI_MSIX_MAX_VECTORS 64u
#define CVMM_PCI_MSIX_ENTRY_SIZE 16u
#define CVMM_PCI_MSIX_CTRL_ENABLE 0x8000u
#define CVMM_PCI_MSIX_CTRL_MASKALL 0x4000u
#define CVMM_PCI_MSIX_VECTOR_MASKED 0x1u

/** A vector's message as programmed in the table. */
struct cvmm_pci_msi_msg {
	uint64_t addr;
	uint32_t data;
};

struct cvmm_pci_msix;

struct cvmm_pci_msix_ops {
	/**
	 * Vector @vector's message or usability changed (usable: MSI-X
	 * enabled, function not masked, vector not masked). The owner
	 * programs a GSI route for @msg and registers the vector's irqfd
	 * while usable; it may deassign the irqfd while not usable (KVM
	 * injects at reassignment what was written meanwhile). Called only
	 * when (msg, usable) differs from the last call for this vector.
	 * Optional.
	 */
	void (*update)(void *opaque, unsigned int vector, const struct cvmm_pci_msi_msg *msg,
		       bool usable);
	/** Deliver @vector now (write its irqfd). Required. */
	void (*deliver)(void *opaque, unsigned int vector, const struct cvmm_pci_msi_msg *msg);
};

struct cvmm_pci_msix_opts {
	size_t sz;                        /* sizeof(struct cvmm_pci_msix_opts) */
	struct cvmm_pci_config *cfg;      /* the capability goes here; outlives the object */
	unsigned int num_vectors;         /* 1..CVMM_PCI_MSIX_MAX_VECTORS */
	unsigned int table_bar;           /* BAR holding the table (declared by the owner) */
	uint32_t table_offset;            /* 8-byte aligned, inside the BAR */
	unsigned int pba_bar;
	uint32_t pba_offset;              /* 8-byte aligned, inside the BAR, not in the table */
	const struct cvmm_pci_msix_ops *ops;
	void *opaque;
};

/**
 * Add the MSI-X capability (table size, BIR/offsets read-only; enable and
 * function mask read-write) and a table with every vector masked.
 * @return 0 and *@out; -EINVAL (NULL, no deliver op, vector count, BIR not
 * a declared memory BAR, table or PBA not inside it or overlapping, offsets
 * misaligned); -ENOSPC (no room for the capability); -ENOMEM.
 * Thread safety: create/destroy while nothing else uses @o->cfg.
 */
int cvmm_pci_msix_create(const struct cvmm_pci_msix_opts *o, struct cvmm_pci_msix **out);
/** Free. NULL does nothing. The capability stays in the config space
 * (its hook is removed): destroy the config space after. */
void cvmm_pci_msix_destroy(struct cvmm_pci_msix *m);

/** The capability's offset in configuration space. */
uint32_t cvmm_pci_msix_cap_offset(const struct cvmm_pci_msix *m);
unsigned int cvmm_pci_msix_num_vectors(const struct cvmm_pci_msix *m);

/**
 * A guest access to BAR @bar at @offset: served when it falls in the
 * table or PBA. Table: aligned 4- or 8-byte accesses inside it; address,
 * data and the mask bit are written (reserved vector-control bits read 0),
 * a write that unmasks a vector with its PBA bit set delivers it. PBA:
 * read-only. Wrong size, misalignment: reads 0, writes ignored.
 * @return 1 (served, including refused forms), 0 (not the table or PBA:
 * the owner handles it), -EINVAL (NULL, @len 0 or above 8).
 * Thread safety: any thread; one lock per object.
 */
int cvmm_pci_msix_bar_access(struct cvmm_pci_msix *m, unsigned int bar, uint64_t offset,
			     void *data, unsigned int len, bool is_write);

/**
 * The device signals @vector: delivered (ops->deliver) when usable; when
 * MSI-X is enabled but the vector or function is masked, its PBA bit is
 * set and it is delivered on unmask.
 * @return 1 delivered, 0 pending in the PBA; -ENOENT (MSI-X disabled: the
 * owner may fall back to INTx); -EINVAL (@vector out of range).
 * Thread safety: any thread (ops run under the object's lock: they must
 * not call back into @m).
 */
int cvmm_pci_msix_signal(struct cvmm_pci_msix *m, unsigned int vector);

/** MSI-X enable and not function-masked, as the guest set it. Thread-safe. */
bool cvmm_pci_msix_enabled(struct cvmm_pci_msix *m);
/** MSI-X enable bit alone. Thread-safe. */
bool cvmm_pci_msix_enable_bit(struct cvmm_pci_msix *m);
/** A vector's message, mask and pending bit. @return 0; -EINVAL. Thread-safe. */
int cvmm_pci_msix_vector(struct cvmm_pci_msix *m, unsigned int vector,
			 struct cvmm_pci_msi_msg *msg, bool *masked, bool *pending);

#define CVMM_PCI_MSIX_STATE_VERSION 1u

struct cvmm_pci_msix_entry_state {
	uint32_t addr_lo;
	uint32_t addr_hi;
	uint32_t data;
	uint32_t ctrl;
};

/** Table and PBA; enable and function mask live in the config state. */
struct cvmm_pci_msix_state {
	uint32_t version;                  /* CVMM_PCI_MSIX_STATE_VERSION */
	uint32_t num_vectors;
	uint64_t pba;                      /* bit i: vector i pending */
	struct cvmm_pci_msix_entry_state entries[CVMM_PCI_MSIX_MAX_VECTORS];
};

/** @return 0; -EINVAL. Thread-safe. */
int cvmm_pci_msix_save(struct cvmm_pci_msix *m, struct cvmm_pci_msix_state *s);

/**
 * Load a table and PBA (after the config space is restored, which carries
 * enable and function mask): validated (version, num_vectors equal,
 * reserved control bits 0, pending bits only for vectors that exist,
 * unused entries zero), then ops->update for every vector and ops->deliver
 * for pending ones that are usable. Refusal: a message naming the field
 * ("entries[3].ctrl: reserved bits 0x2") to @err and the log, @m unchanged.
 * @return 0; -EINVAL.
 */
int cvmm_pci_msix_restore(struct cvmm_pci_msix *m, const struct cvmm_pci_msix_state *s,
			  char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Segment: bus 0, host bridge, configuration access                         */
/* ------------------------------------------------------------------------ */

struct cvmm_pci_segment;

#define CVMM_PCI_CONFIG_ADDRESS 0xcf8u  /* 4 bytes */
#define CVMM_PCI_CONFIG_DATA 0xcfcu     /* 4 bytes */
#define CVMM_PCI_ECAM_BUS_SIZE (1u << 20)  /* ECAM bytes for one bus */

/** Why a BAR is (not) mapped. */
enum cvmm_pci_bar_why {
	CVMM_PCI_BAR_MAPPED = 0,     /* new_addr is where it decodes now */
	CVMM_PCI_BAR_UNMAPPED,       /* decoding off or address 0 */
	CVMM_PCI_BAR_OVERLAP_RAM,    /* refused: over guest RAM */
	CVMM_PCI_BAR_OVERLAP_BAR,    /* refused: over another mapped BAR */
	CVMM_PCI_BAR_OVERLAP_RESERVED, /* refused: over a reserved range (ECAM, 0xCF8, ...) */
	CVMM_PCI_BAR_OUT_OF_RANGE,   /* refused: wraps, or an I/O BAR above 64 KiB */
};

#define CVMM_PCI_BAR_ADDR_NONE UINT64_MAX

/** What changed for one BAR. */
struct cvmm_pci_bar_event {
	unsigned int slot;
	unsigned int bar;
	enum cvmm_pci_bar_type type;
	uint64_t size;
	uint64_t old_addr;         /* where it was mapped, or CVMM_PCI_BAR_ADDR_NONE */
	uint64_t new_addr;         /* where it is mapped now, or CVMM_PCI_BAR_ADDR_NONE */
	enum cvmm_pci_bar_why why;
	uint64_t wanted_addr;      /* for refusals: what the guest asked */
};

struct cvmm_pci_dev_ops {
	/**
	 * A BAR was mapped, moved, unmapped or refused: move the bus range
	 * and ioeventfds. Called under the segment's lock on the vCPU
	 * thread that wrote configuration space (or the caller of add,
	 * remove, update): must not call cvmm_pci_segment_* functions.
	 * Optional.
	 */
	void (*bar_event)(void *opaque, const struct cvmm_pci_bar_event *ev);
};

/** A guest-physical or I/O range no BAR may overlap. */
struct cvmm_pci_range {
	uint64_t base;
	uint64_t size;
	bool io;
};

struct cvmm_pci_segment_opts {
	size_t sz;                          /* sizeof(struct cvmm_pci_segment_opts) */
	uint16_t segment;                   /* PCI segment group number */
	uint64_t ecam_base;                 /* 1 MiB aligned; 0: no ECAM */
	const struct cvmm_guest_mem *mem;   /* RAM no BAR may cover; NULL: none */
	const struct cvmm_pci_range *reserved; /* copied; may be NULL */
	unsigned int num_reserved;          /* at most 16 */
};

/**
 * Bus 0 with a host bridge at 00.0 (vendor 0x8086, device 0x0d57, class
 * 0x060000). The ECAM window (one bus, 1 MiB) and 0xCF8..0xCFF are
 * reserved against BARs with the ranges given.
 * @return 0 and *@out; -EINVAL (NULL, sz, ecam_base misaligned, too many
 * or empty reserved ranges); -ENOMEM.
 * Thread safety: every segment function takes the segment's lock.
 */
int cvmm_pci_segment_create(const struct cvmm_pci_segment_opts *o,
			    struct cvmm_pci_segment **out);
/** Free (devices are not told: remove them first). NULL does nothing. */
void cvmm_pci_segment_destroy(struct cvmm_pci_segment *s);

/**
 * Put function 0 of a device with configuration space @cfg in @slot
 * (1..31, or -1: the lowest free), then map its BARs that decode (events).
 * @cfg stays the caller's and must outlive the slot.
 * @return the slot; -EINVAL (NULL, slot 0 or above 31); -EBUSY (slot
 * taken); -ENOSPC (no free slot).
 */
int cvmm_pci_segment_add(struct cvmm_pci_segment *s, int slot, struct cvmm_pci_config *cfg,
			 const struct cvmm_pci_dev_ops *ops, void *opaque);
/** Unmap the device's BARs (events) and free the slot (a later remap of
 * another BAR it blocked follows). @return 0; -ENOENT; -EINVAL. */
int cvmm_pci_segment_remove(struct cvmm_pci_segment *s, unsigned int slot);

/** Recompute every BAR mapping (after restoring configuration spaces). */
void cvmm_pci_segment_update(struct cvmm_pci_segment *s);

/**
 * A guest access to ports 0xCF8..0xCFF (@port absolute, @len 1, 2 or 4):
 * CONFIG_ADDRESS takes 4-byte accesses only (others go to no device as on
 * real chipsets), CONFIG_DATA reads/writes the function selected there
 * (enable bit 31, bus 23:16, device 15:11, function 10:8, register 7:2)
 * plus the byte offset within the port. No function there, bus not 0,
 * enable clear: reads all ones, writes ignored.
 * @return 0; -EINVAL (NULL, port outside 0xCF8..0xCFF, bad @len).
 */
int cvmm_pci_segment_pio(struct cvmm_pci_segment *s, uint16_t port, void *data,
			 unsigned int len, bool is_write);

/**
 * A guest access at @offset into the ECAM window (bus << 20 | device << 15
 * | function << 12 | register). Same rules as pio(); 8-byte accesses read
 * all ones.
 * @return 0; -EINVAL (NULL, bad @len).
 */
int cvmm_pci_segment_ecam(struct cvmm_pci_segment *s, uint64_t offset, void *data,
			  unsigned int len, bool is_write);

/** Where the segment maps BAR @bar of @slot now. @return 0 and *@addr
 * (CVMM_PCI_BAR_ADDR_NONE: unmapped); -ENOENT (no device); -EINVAL. */
int cvmm_pci_segment_bar_addr(struct cvmm_pci_segment *s, unsigned int slot, unsigned int bar,
			      uint64_t *addr);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_PCI_H */
