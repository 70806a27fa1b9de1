/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer: the input is a kernel image (ELF or bzImage, found by magic).
 * Probe it, then load it into a small guest both ways (PVH when offered,
 * and forced 64-bit entry) with an initrd, a command line and setup_data.
 * ASan/UBSan catch any host out-of-bounds access; the guest is reused.
 */
#include <cvmm/linux-loader.h>
#include <cvmm/vm-memory.h>

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cvmm_guest_mem *mem;
static int kfd = -1, rfd = -1;

static void setup(void)
{
	struct cvmm_x86_ram_opts o = { .sz = sizeof(o), .size = 32u << 20, .backing = CVMM_MEM_ANON,
				       .flags = CVMM_MEM_F_NORESERVE };
	static const char initrd[3000] = "initrd";

	if (cvmm_guest_mem_create_x86(&o, &mem))
		abort();
	kfd = memfd_create("fuzz-kernel", MFD_CLOEXEC);
	rfd = memfd_create("fuzz-initrd", MFD_CLOEXEC);
	if (kfd < 0 || rfd < 0 || write(rfd, initrd, sizeof(initrd)) != (ssize_t)sizeof(initrd))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct cvmm_mem_range reserved[] = {
		{ 0x9fc00, 0x60400, CVMM_E820_RESERVED },
		{ 0xfec00000, 0x1400000, CVMM_E820_RESERVED },
	};
	static const uint8_t dtb[40] = { 0xd0, 0x0d, 0xfe, 0xed };
	struct cvmm_loader_setup_data sd = { CVMM_SETUP_DTB, dtb, sizeof(dtb) };
	struct cvmm_loader_opts o = {
		.sz = sizeof(o), .initrd_fd = -1, .cmdline = "console=ttyS0 root=/dev/vda",
		.reserved = reserved, .n_reserved = 2,
	};
	struct cvmm_loader_result res;
	struct cvmm_kernel_info ki;

	if (!mem)
		setup();
	if (ftruncate(kfd, 0) || (size && pwrite(kfd, data, size, 0) != (ssize_t)size))
		abort();
	o.kernel_fd = kfd;
	if (cvmm_linux_loader_probe(kfd, &ki) != 0)
		return 0;
	o.initrd_fd = rfd;
	cvmm_linux_loader_load(mem, &o, &res);
	o.flags = CVMM_LOADER_F_NO_PVH;
	o.setup_data = &sd;
	o.n_setup_data = 1;
	cvmm_linux_loader_load(mem, &o, &res);
	return 0;
}
