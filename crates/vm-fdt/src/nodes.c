/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Ready-made nodes a VMM always needs: memory from the vm-memory layout,
 * chosen, virtio-mmio. All assume #address-cells = #size-cells = 2.
 */
#include "internal.h"

#include <cvmm/vm-memory.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

static int fail_arg(struct cvmm_fdt *f)
{
	if (!f)
		return -EINVAL;
	if (!f->err)
		f->err = -EINVAL;
	return f->err;
}

int cvmm_fdt_add_memory_node(struct cvmm_fdt *f, const struct cvmm_guest_mem *m)
{
	unsigned int nr = m ? cvmm_guest_mem_num_regions(m) : 0;
	uint64_t *reg;
	size_t n = 0;
	char name[32];
	int r;

	if (!f)
		return -EINVAL;
	if (f->err)
		return f->err;
	if (nr == 0)
		return fail_arg(f);
	reg = calloc((size_t)nr * 2, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	for (unsigned int i = 0; i < nr; i++) {
		const struct cvmm_mem_region *rg = cvmm_guest_mem_region(m, i);

		if (!rg)
			break;
		if (rg->flags & CVMM_MEM_F_HOTPLUG)
			continue; /* its device announces it */
		/* Regions come sorted; merge the ones that touch. */
		if (n && reg[2 * (n - 1)] + reg[2 * (n - 1) + 1] == rg->gpa) {
			reg[2 * (n - 1) + 1] += rg->size;
			continue;
		}
		reg[2 * n] = rg->gpa;
		reg[2 * n + 1] = rg->size;
		n++;
	}
	snprintf(name, sizeof(name), "memory@%" PRIx64, reg[0]);
	r = cvmm_fdt_begin_node(f, name);
	if (!r)
		r = cvmm_fdt_prop_string(f, "device_type", "memory");
	if (!r)
		r = cvmm_fdt_prop_u64_array(f, "reg", reg, 2 * n);
	if (!r)
		r = cvmm_fdt_end_node(f);
	free(reg);
	return r;
}

int cvmm_fdt_add_chosen(struct cvmm_fdt *f, const struct cvmm_fdt_chosen *c)
{
	int r;

	if (!f)
		return -EINVAL;
	if (f->err)
		return f->err;
	if (!c || c->sz < offsetof(struct cvmm_fdt_chosen, kaslr_seed) + sizeof(c->kaslr_seed) ||
	    c->sz > sizeof(*c) || c->initrd_end < c->initrd_start)
		return fail_arg(f);
	r = cvmm_fdt_begin_node(f, "chosen");
	if (!r && c->bootargs)
		r = cvmm_fdt_prop_string(f, "bootargs", c->bootargs);
	if (!r && c->stdout_path)
		r = cvmm_fdt_prop_string(f, "stdout-path", c->stdout_path);
	if (!r && c->initrd_end > c->initrd_start) {
		r = cvmm_fdt_prop_u64(f, "linux,initrd-start", c->initrd_start);
		if (!r)
			r = cvmm_fdt_prop_u64(f, "linux,initrd-end", c->initrd_end);
	}
	if (!r && c->kaslr_seed)
		r = cvmm_fdt_prop_u64(f, "kaslr-seed", c->kaslr_seed);
	if (!r)
		r = cvmm_fdt_end_node(f);
	return r;
}

int cvmm_fdt_add_virtio_mmio(struct cvmm_fdt *f, const struct cvmm_fdt_virtio_mmio *v)
{
	uint64_t reg[2], end;
	char name[40];
	int r;

	if (!f)
		return -EINVAL;
	if (f->err)
		return f->err;
	if (!v || v->sz < offsetof(struct cvmm_fdt_virtio_mmio, dma_coherent) + sizeof(v->dma_coherent) ||
	    v->sz > sizeof(*v) || v->size == 0 || __builtin_add_overflow(v->base, v->size, &end) ||
	    !v->interrupts || v->n_interrupt_cells == 0 || v->n_interrupt_cells > 8)
		return fail_arg(f);
	reg[0] = v->base;
	reg[1] = v->size;
	snprintf(name, sizeof(name), "virtio_mmio@%" PRIx64, v->base);
	r = cvmm_fdt_begin_node(f, name);
	if (!r)
		r = cvmm_fdt_prop_string(f, "compatible", "virtio,mmio");
	if (!r)
		r = cvmm_fdt_prop_u64_array(f, "reg", reg, 2);
	if (!r && v->interrupt_parent)
		r = cvmm_fdt_prop_u32(f, "interrupt-parent", v->interrupt_parent);
	if (!r)
		r = cvmm_fdt_prop_u32_array(f, "interrupts", v->interrupts, v->n_interrupt_cells);
	if (!r && v->dma_coherent)
		r = cvmm_fdt_prop_empty(f, "dma-coherent");
	if (!r)
		r = cvmm_fdt_end_node(f);
	return r;
}
