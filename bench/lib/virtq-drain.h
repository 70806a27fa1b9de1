/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The device side every virtqueue benchmark measures: pop each available
 * chain, walk its descriptors, complete it. One body for every bench, so
 * that callgrind's counts over it (--toggle-collect=bench_device_drain)
 * compare the queue's cost, not two copies of the loop.
 */
#ifndef CVMM_BENCH_VIRTQ_DRAIN_H
#define CVMM_BENCH_VIRTQ_DRAIN_H

#include <stdint.h>

#include <cvmm/virtio-queue.h>

__attribute__((noinline)) uint64_t bench_device_drain(struct cvmm_virtq *q);

#endif
