/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A vhost-user device of cvmm-microvm: the virtio-mmio transport keeps the
 * registers, a backend daemon on a unix socket does the queue work. The
 * guest's QueueNotify writes reach the backend directly (the transport's
 * notify eventfd, a KVM ioeventfd, is the backend's kick fd), and the
 * backend's used-buffer signals reach the guest directly (its call fd is
 * the transport's irq eventfd, a KVM irqfd). No VMM thread wakes per
 * request. virtio-mmio has one interrupt line and an InterruptStatus
 * register nobody sets when the backend signals, so the transport is
 * created with used_irq_direct (the used bit always reads 1, see
 * cvmm/virtio-devices.h); the device thread only raises config-change
 * interrupts (DEVICE_NEEDS_RESET when the backend hangs up).
 */
#ifndef MICROVM_VHOST_USER_H
#define MICROVM_VHOST_USER_H

#include <stddef.h>
#include <stdint.h>

#include <cvmm/event-manager.h>
#include <cvmm/virtio-devices.h>

#include "virtio.h"

struct microvm_vhost_dev;

/**
 * Connect to @c->socket, take ownership, read features, protocol features,
 * the queue count and (with PROTOCOL_F_CONFIG) the config space.
 * @return 0; -ECONNREFUSED/-ENOENT (no backend); -EPROTO (a backend that
 * breaks the protocol); -ENOMEM. @err names the field.
 * Thread safety: setup only (before the device thread runs).
 */
int microvm_vhost_create(const struct microvm_vhost *c, struct cvmm_event_manager *em,
			 struct microvm_vhost_dev **out, char *err, size_t errlen);
/** The virtio device the transport drives. */
struct cvmm_virtio_device *microvm_vhost_device(struct microvm_vhost_dev *d);
/**
 * Close the connection without a word to the backend (it sees a hang-up
 * and stops the rings): at teardown, so the transport's final reset sends
 * nothing from a thread whose seccomp filter has no socket calls.
 * Thread safety: after the device thread stopped. NULL is a no-op.
 */
void microvm_vhost_detach(struct microvm_vhost_dev *d);
/** Free (after the device thread stopped, before the event manager is
 * destroyed: it frees the reconnect timer). NULL is a no-op. */
void microvm_vhost_destroy(struct microvm_vhost_dev *d);

#endif
