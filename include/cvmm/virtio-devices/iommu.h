/* SPDX-License-Identifier: Apache-2.0 */
/**
 * @file cvmm/virtio-devices/iommu.h
 * @brief virtio-iommu (virtio 1.2, 5.13): domains, mappings, endpoints, and
 *        the translation every device placed behind it goes through.
 *
 * The guest's driver attaches endpoints (devices, named by a 32-bit id; the
 * VMM uses PCI BDFs and announces them in an ACPI VIOT table) to domains
 * and maps IOVA ranges of a domain to guest physical ranges with read
 * and/or write permission. A device behind the IOMMU gets a struct
 * cvmm_dma_xlate (cvmm_iommu_endpoint_add()) and hands it to its transport
 * (struct cvmm_virtio_transport_opts.dma), whose queues translate every ring
 * and buffer address through it: an address the guest did not map for that
 * endpoint, or mapped without the permission, fails that request and is
 * never read or written. There is no bypass: an endpoint attached to no
 * domain reaches nothing (VIRTIO_IOMMU_F_BYPASS is not offered).
 *
 * The device model offers INPUT_RANGE (the whole 64-bit space),
 * DOMAIN_RANGE (0..CVMM_IOMMU_MAX_DOMAIN_ID), MAP_UNMAP and PROBE (each
 * endpoint reports the MSI doorbell range as a reserved MSI region, so the
 * guest does not map it: MSI-X writes go to KVM, not through here); a
 * request queue and an event queue (no fault events are sent). Requests
 * are hostile input: a short, unknown or inconsistent request gets its
 * status (INVAL, UNSUPP, RANGE, NOENT, NOMEM) and the device goes on.
 *
 * The operations below are what the request queue performs; they are
 * public so that a program or test can drive the tables directly.
 * Errors map to request statuses: -EINVAL INVAL, -ERANGE RANGE, -ENOENT
 * NOENT, -ENOMEM NOMEM.
 *
 * Thread safety: the tables are behind one read-write lock. Translation
 * (any device thread) takes it shared; the operations take it exclusive,
 * so a device never sees a half-made change. An unmap does not wait for
 * requests in flight that translated before it (as with hardware, the
 * driver quiesces a device before unmapping its buffers); their rings are
 * translated again at the next pop (the generation moves).
 */
#ifndef CVMM_VIRTIO_DEVICES_IOMMU_H
#define CVMM_VIRTIO_DEVICES_IOMMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cvmm/vm-memory.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CVMM_VIRTIO_ID_IOMMU 23u

/* Feature bits (virtio 1.2, 5.13.3). */
#define CVMM_VIRTIO_IOMMU_F_INPUT_RANGE (1ull << 0)
#define CVMM_VIRTIO_IOMMU_F_DOMAIN_RANGE (1ull << 1)
#define CVMM_VIRTIO_IOMMU_F_MAP_UNMAP (1ull << 2)
#define CVMM_VIRTIO_IOMMU_F_BYPASS (1ull << 3)
#define CVMM_VIRTIO_IOMMU_F_PROBE (1ull << 4)

/* Request types and statuses (5.13.6). */
#define CVMM_VIRTIO_IOMMU_T_ATTACH 1u
#define CVMM_VIRTIO_IOMMU_T_DETACH 2u
#define CVMM_VIRTIO_IOMMU_T_MAP 3u
#define CVMM_VIRTIO_IOMMU_T_UNMAP 4u
#define CVMM_VIRTIO_IOMMU_T_PROBE 5u

#define CVMM_VIRTIO_IOMMU_S_OK 0u
#define CVMM_VIRTIO_IOMMU_S_IOERR 1u
#define CVMM_VIRTIO_IOMMU_S_UNSUPP 2u
#define CVMM_VIRTIO_IOMMU_S_DEVERR 3u
#define CVMM_VIRTIO_IOMMU_S_INVAL 4u
#define CVMM_VIRTIO_IOMMU_S_RANGE 5u
#define CVMM_VIRTIO_IOMMU_S_NOENT 6u
#define CVMM_VIRTIO_IOMMU_S_FAULT 7u
#define CVMM_VIRTIO_IOMMU_S_NOMEM 8u

/* MAP flags. */
#define CVMM_VIRTIO_IOMMU_MAP_F_READ 0x1u
#define CVMM_VIRTIO_IOMMU_MAP_F_WRITE 0x2u
#define CVMM_VIRTIO_IOMMU_MAP_F_MMIO 0x4u /* refused: F_MMIO is not offered */

/* PROBE properties. */
#define CVMM_VIRTIO_IOMMU_PROBE_T_RESV_MEM 1u
#define CVMM_VIRTIO_IOMMU_RESV_MEM_T_MSI 1u

/** Endpoints one IOMMU serves (one per PCI device behind it). */
#define CVMM_IOMMU_MAX_ENDPOINTS 32u
/** Highest domain id (DOMAIN_RANGE is 0..this). */
#define CVMM_IOMMU_MAX_DOMAIN_ID 0xffffu
/** Mappings across all domains (a MAP beyond gets NOMEM). */
#define CVMM_IOMMU_MAX_MAPPINGS 65536u
/** Bytes of PROBE properties the device writes (config probe_size). */
#define CVMM_IOMMU_PROBE_SIZE 512u
/** Smallest mapping granule (config page_size_mask: 4 KiB and up). */
#define CVMM_IOMMU_PAGE_SIZE 4096ull

struct cvmm_iommu;
struct cvmm_event_manager;

struct cvmm_iommu_opts {
	size_t sz;            /* sizeof(struct cvmm_iommu_opts) */
	uint16_t queue_size;  /* 0: 256 */
	/* The MSI doorbell range PROBE reports as reserved (inclusive);
	 * 0/0: the x86 range 0xfee00000..0xfeefffff. */
	uint64_t msi_start;
	uint64_t msi_end;
};

/** Create an IOMMU with no endpoints. @return 0 and *@out; -EINVAL; -ENOMEM.
 * Thread safety: any thread. */
int cvmm_iommu_create(const struct cvmm_iommu_opts *o, struct cvmm_iommu **out);
/** Free (destroy the transport and every device behind it first). NULL does
 * nothing. Thread safety: nothing may use it any more. */
void cvmm_iommu_destroy(struct cvmm_iommu *io);
/** The device interface (for a transport). Thread-safe. */
struct cvmm_virtio_device *cvmm_iommu_device(struct cvmm_iommu *io);

/**
 * Put endpoint @endpoint behind the IOMMU (attached to nothing: it reaches
 * no memory until the guest attaches and maps). *@out is the translation
 * to give its transport; it lives as long as @io.
 * @return 0; -EINVAL (NULL); -EEXIST (@endpoint already there); -ENOSPC
 * (CVMM_IOMMU_MAX_ENDPOINTS reached).
 * Thread safety: before the guest runs, or with every device behind it
 * stopped (takes the lock exclusive).
 */
int cvmm_iommu_endpoint_add(struct cvmm_iommu *io, uint32_t endpoint,
			    const struct cvmm_dma_xlate **out);

/**
 * ATTACH @endpoint to @domain, creating the domain when it does not exist;
 * an endpoint attached elsewhere is detached from there first.
 * @return 0; -ENOENT (unknown endpoint); -ERANGE (@domain above
 * CVMM_IOMMU_MAX_DOMAIN_ID). Thread safety: any thread (exclusive lock).
 */
int cvmm_iommu_attach(struct cvmm_iommu *io, uint32_t domain, uint32_t endpoint);
/**
 * DETACH @endpoint from @domain; a domain left without endpoints is
 * destroyed with its mappings. @return 0; -ENOENT (unknown endpoint);
 * -EINVAL (not attached to @domain). Thread safety: as attach.
 */
int cvmm_iommu_detach(struct cvmm_iommu *io, uint32_t domain, uint32_t endpoint);
/**
 * MAP [@virt_start, @virt_end] (inclusive) of @domain to @phys_start with
 * @flags (CVMM_VIRTIO_IOMMU_MAP_F_READ|WRITE). Start, end + 1 and
 * @phys_start must be 4 KiB aligned.
 * @return 0; -ENOENT (no such domain); -EINVAL (end before start,
 * unaligned, the physical range wraps, unknown or MMIO flags, overlaps an
 * existing mapping); -ENOMEM (CVMM_IOMMU_MAX_MAPPINGS reached).
 * Thread safety: as attach.
 */
int cvmm_iommu_map(struct cvmm_iommu *io, uint32_t domain, uint64_t virt_start,
		   uint64_t virt_end, uint64_t phys_start, uint32_t flags);
/**
 * UNMAP every mapping of @domain inside [@virt_start, @virt_end]. A
 * mapping only partly inside would be split: then nothing is removed
 * (virtio 1.2, 5.13.6.6). A range holding no mapping is fine.
 * @return 0; -ENOENT (no such domain); -EINVAL (end before start);
 * -ERANGE (a mapping would be split). Thread safety: as attach.
 */
int cvmm_iommu_unmap(struct cvmm_iommu *io, uint32_t domain, uint64_t virt_start,
		     uint64_t virt_end);
/**
 * Translate as a device behind @endpoint would (the struct cvmm_dma_xlate
 * of cvmm_iommu_endpoint_add() does the same). @return as
 * struct cvmm_dma_xlate.translate; -ENOENT (unknown endpoint).
 * Thread safety: any thread (shared lock).
 */
int cvmm_iommu_translate(struct cvmm_iommu *io, uint32_t endpoint, uint64_t iova,
			 uint64_t len, unsigned int access, uint64_t *gpa);

/** Counts for tests and the API: domains, mappings, requests refused. */
struct cvmm_iommu_stats {
	uint32_t domains;
	uint32_t mappings;
	uint64_t requests;       /* requests handled on the request queue */
	uint64_t requests_failed; /* ... answered with a status other than OK */
};
/** Fill @st. Thread safety: any thread. */
void cvmm_iommu_get_stats(struct cvmm_iommu *io, struct cvmm_iommu_stats *st);

/**
 * Forget every attachment, domain and mapping (a device reset does this).
 * Thread safety: any thread (exclusive lock).
 */
void cvmm_iommu_clear(struct cvmm_iommu *io);

/**
 * The tables as plain little-endian data (what the device's save op
 * writes): @buf NULL returns the size needed. @return bytes written or
 * needed; -ENOSPC. Thread safety: any thread (shared lock).
 */
int cvmm_iommu_state_save(struct cvmm_iommu *io, void *buf, size_t len);
/**
 * Replace the tables with @buf (validated as hostile: magic, version,
 * lengths, endpoints known to @io, domain ids in range, mappings sorted,
 * aligned and not overlapping, counts within the limits).
 * @return 0; -EINVAL (on failure the tables are left as they were);
 * -ENOMEM. Thread safety: any thread (exclusive lock).
 */
int cvmm_iommu_state_restore(struct cvmm_iommu *io, const void *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* CVMM_VIRTIO_DEVICES_IOMMU_H */
