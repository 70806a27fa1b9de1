/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <time.h>

#include <cvmm/virtio-devices.h>
#include <cvmm/virtio-devices/console.h>

#include "guest-loader.h"
#include "state-guest.h"

_Atomic int sg_finish;
bool sg_in_child;

static void ctl_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	(void)opaque, (void)off, (void)len;
	if (!is_write)
		data[0] = (uint8_t)atomic_load(&sg_finish);
}

static void rng_destroy(void *p)
{
	cvmm_rng_destroy(p);
}

struct cvmm_vmm *sg_make_vm(const struct sg_vm_opts *so)
{
	struct cvmm_vmm_opts o = { .sz = sizeof(o), .mem_size = so->mem, .ncpus = SG_NCPUS,
				   .backing = so->backing, .dirty_ring_bytes = so->dirty_ring_bytes,
				   .thread_start = so->thread_start };
	struct cvmm_vmm_platform_opts po = { .sz = sizeof(po), .serial_out_fd = -1,
					     .debug_exit = true };
	struct cvmm_vmm *vmm;
	char err[256];

	SG_CHECK(cvmm_vmm_create(&o, &vmm, err, sizeof(err)) == 0);
	if (!so->no_platform)
		SG_CHECK(cvmm_vmm_platform_add(vmm, &po, err, sizeof(err)) == 0);
	if (!so->no_rng) {
		struct cvmm_rng_opts ro = { .sz = sizeof(ro) };
		struct cvmm_vmm_virtio_opts vo = { .sz = sizeof(vo), .prefix = "__rng",
						   .kind = "virtio-rng", .destroy = rng_destroy };
		struct cvmm_rng *rng;

		SG_CHECK(cvmm_vmm_device_loop(vmm));
		SG_CHECK(cvmm_rng_create(&ro, &rng) == 0);
		vo.dev = cvmm_rng_device(rng);
		vo.model = rng;
		SG_CHECK(cvmm_vmm_virtio_mmio_add(vmm, &vo, NULL, err, sizeof(err)) == 0);
	}
	SG_CHECK(cvmm_vmm_bus_add(vmm, CVMM_VMM_PIO, SG_PORT_CTL, 1, ctl_io, NULL, "ctl") == 0);
	if (so->load) {
		struct cvmm_guest_load_opts lo = { .sz = sizeof(lo), .ncpus = SG_NCPUS };
		struct cvmm_guest_layout l;

		SG_CHECK(cvmm_guest_load_file(cvmm_vmm_mem(vmm), CVMM_GUESTS_DIR "/state.img", &lo,
					      &l) == 0);
		for (unsigned int i = 0; i < SG_NCPUS; i++)
			SG_CHECK(cvmm_guest_vcpu_setup(&l, cvmm_vmm_vcpu(vmm, i), i) == 0);
	}
	return vmm;
}

void sg_nap(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int sg_finish_guest(struct cvmm_vmm *vmm)
{
	int code = -1;

	sg_nap(100);
	atomic_store(&sg_finish, 1);
	cvmm_vmm_run(vmm);
	if (cvmm_vmm_stop_reason(vmm, &code) != CVMM_VMM_STOP_GUEST_EXIT)
		code = -EIO;
	atomic_store(&sg_finish, 0);
	return code;
}
