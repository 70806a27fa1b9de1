/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Test fixture: real guest memory, a device thread running an event-manager
 * loop, the virtio-mmio transport driven through its register interface
 * (the test thread plays the vCPU), and virtio-queue's driver helper on the
 * guest side of each queue.
 *
 *   0x10000 + q * 0x10000   rings of queue q (desc, +0x4000 avail, +0x8000 used)
 *   0x100000 + q * 0x100000 indirect tables of queue q
 *   0x800000 ...            buffers (bump-allocated)
 */
#ifndef VD_FIXTURE_H
#define VD_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-queue/driver.h>

#define VDF_MAX_Q 4
#define VDF_IND_MAX 160u
#define VDF_BUF_BASE 0x800000ull

struct vdf {
	struct cvmm_guest_mem *mem;
	uint64_t mem_size;
	struct cvmm_event_manager *em;
	pthread_t thr;
	bool running;
	struct cvmm_virtio_device *dev;
	struct cvmm_virtio_mmio *t;
	struct cvmm_virtq_driver *drv[VDF_MAX_Q];
	unsigned int nq;
	uint64_t features;
	uint64_t next_buf;
};

/* Guest memory of @mem_size bytes (0: 16 MiB) and an event manager. */
void vdf_init(struct vdf *f, uint64_t mem_size);
/* The same over one shared memfd (a vhost-user backend can map it). */
void vdf_init_shared(struct vdf *f, uint64_t mem_size);
/* Create the transport for @dev (loop not running). */
void vdf_attach(struct vdf *f, struct cvmm_virtio_device *dev);
/* ... with used_irq_direct (someone else writes the irq fd). */
void vdf_attach_opts(struct vdf *f, struct cvmm_virtio_device *dev, bool used_irq_direct);
/* Destroy the transport (stops the loop first). */
void vdf_detach(struct vdf *f);
void vdf_fini(struct vdf *f);

/* Run / stop the device thread. */
void vdf_start(struct vdf *f);
void vdf_stop(struct vdf *f);

/* vCPU-side register access (4 bytes). */
uint32_t vdf_rd(struct vdf *f, uint32_t off);
void vdf_wr(struct vdf *f, uint32_t off, uint32_t val);

/* The device thread has handled every status change (waits up to 5 s). */
void vdf_wait_settled(struct vdf *f);

/*
 * Full driver initialisation: ACK, DRIVER, features (offered & @want, plus
 * VERSION_1), FEATURES_OK, @nq queues of @size with rings, DRIVER_OK; the
 * driver helpers are created. Asserts every step.
 */
void vdf_bring_up(struct vdf *f, uint64_t want, unsigned int nq, uint16_t size);

/* Notify queue @q through the QueueNotify register. */
void vdf_kick(struct vdf *f, unsigned int q);

/* Wait up to @ms for a used buffer on @q (acks interrupts as it goes).
 * @return 1 with token/len, 0 on timeout. */
int vdf_wait_used(struct vdf *f, unsigned int q, uint64_t *token, uint32_t *len,
		  int ms);

/* Bump-allocate @len bytes of guest memory (aligned to @align). */
uint64_t vdf_alloc(struct vdf *f, uint64_t len, uint64_t align);
uint8_t *vdf_host(struct vdf *f, uint64_t gpa);

#endif
