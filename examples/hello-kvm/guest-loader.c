/* SPDX-License-Identifier: Apache-2.0 */
/* Loader of the cvmm test-guest format: validation, layout, 64-bit entry state. */
#include "guest-loader.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cvmm/sys-util.h>

#define PAGE 4096ull
#define GIB (1ull << 30)
/*
 * Each vCPU's TSS is followed by an all-zero I/O permission bitmap (every
 * port allowed) and the 0xff byte the CPU requires after it. PVM runs
 * guest CPL3 code with the hardware IOPL at 0 whatever RFLAGS says, so a
 * port access from CPL3 faults into KVM's emulator, which then allows it
 * only through this bitmap.
 */
#define TSS_IOMAP 104u
#define TSS_LIMIT (TSS_IOMAP + 8192u)      /* bitmap plus the terminator byte */
#define TSS_STRIDE (3 * 4096u)
#define RING0_STACK PAGE

_Static_assert(sizeof(struct cvmm_guest_image_hdr) == 64, "header layout is ABI");
_Static_assert(sizeof(struct cvmm_guest_boot_info) <= PAGE, "boot info fits a page");

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t rd32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

int cvmm_guest_image_parse(const void *data, size_t len, struct cvmm_guest_image *out)
{
	const unsigned char *p = data;
	struct cvmm_guest_image img;
	uint64_t end;

	/* Read field by field: the file's alignment and endianness are not ours. */
	if (!data || len < sizeof(struct cvmm_guest_image_hdr) ||
	    memcmp(p, CVMM_GUEST_MAGIC, CVMM_GUEST_MAGIC_LEN))
		return -ENOEXEC;
	if (rd32(p + 8) != CVMM_GUEST_VERSION ||
	    rd32(p + 12) != sizeof(struct cvmm_guest_image_hdr))
		return -EOPNOTSUPP;
	img.load_gpa = rd64(p + 16);
	img.entry = rd64(p + 24);
	img.file_size = rd64(p + 32);
	img.mem_size = rd64(p + 40);
	img.stack_size = rd64(p + 48);
	img.flags = rd32(p + 56);
	if (img.flags & ~CVMM_GUEST_F_KNOWN)
		return -EOPNOTSUPP;
	if (rd32(p + 60) != 0 || img.file_size != len || img.mem_size < img.file_size ||
	    !CVMM_IS_ALIGNED(img.load_gpa, PAGE) ||
	    img.stack_size < CVMM_GUEST_MIN_STACK || img.stack_size > CVMM_GUEST_MAX_STACK ||
	    !CVMM_IS_ALIGNED(img.stack_size, PAGE))
		return -EINVAL;
	if (cvmm_add_overflow(img.load_gpa, img.mem_size, &end) ||
	    end > UINT64_MAX - PAGE)
		return -EINVAL;
	/* The entry must be a byte of the file after the header. */
	if (img.entry < img.load_gpa + sizeof(struct cvmm_guest_image_hdr) ||
	    img.entry >= img.load_gpa + img.file_size)
		return -EINVAL;
	*out = img;
	return 0;
}

static uint64_t gdt_bytes(uint32_t ncpus)
{
	return CVMM_ALIGN_UP(5 * 8 + 16ull * ncpus, PAGE);
}

/* Fill @l with the layout; every addition is checked. */
static int plan(const struct cvmm_guest_image *img, uint32_t ncpus, uint64_t ram_end,
		struct cvmm_guest_layout *l)
{
	uint64_t at, stacks, map_end, npd, npdpt, tables;

	memset(l, 0, sizeof(*l));
	l->img = *img;
	l->ncpus = ncpus;
	l->stack_block = img->stack_size + RING0_STACK;
	at = CVMM_ALIGN_UP(img->load_gpa + img->mem_size, PAGE); /* parse kept room */
	l->stacks_gpa = at;
	if (cvmm_mul_overflow(l->stack_block, (uint64_t)ncpus, &stacks) ||
	    cvmm_add_overflow(at, stacks, &at))
		return -EFAULT;
	l->gdt_gpa = at;
	l->gdt_limit = (uint16_t)(5 * 8 + 16 * ncpus - 1);
	l->tss_gpa = at + gdt_bytes(ncpus);
	l->boot_info_gpa = l->tss_gpa + CVMM_ALIGN_UP((uint64_t)TSS_STRIDE * ncpus, PAGE);
	l->pml4_gpa = l->boot_info_gpa + PAGE;
	if (l->pml4_gpa < at)
		return -EFAULT;
	/* Identity map [0, 4 GiB) (RAM, then the MMIO hole with the APICs) and all
	 * RAM above: one PD page per GiB, one PDPT page per 512 GiB. */
	map_end = CVMM_MAX(ram_end, 4 * GIB);
	if (map_end > UINT64_MAX - GIB)
		return -EFAULT;
	map_end = CVMM_ALIGN_UP(map_end, GIB);
	if (map_end > (1ull << 47))
		return -EFAULT;
	npd = map_end / GIB;
	npdpt = (npd + 511) / 512;
	tables = (1 + npdpt + npd) * PAGE;
	l->map_end = map_end;
	if (cvmm_add_overflow(l->pml4_gpa, tables, &l->free_gpa))
		return -EFAULT;
	return 0;
}

static void build_gdt(uint64_t *gdt, const struct cvmm_guest_layout *l)
{
	gdt[0] = 0;
	gdt[1] = 0x00af9a000000ffffull; /* 64-bit code, DPL0 */
	gdt[2] = 0x00cf92000000ffffull; /* data, DPL0 */
	gdt[3] = 0x00affa000000ffffull; /* 64-bit code, DPL3 */
	gdt[4] = 0x00cff2000000ffffull; /* data, DPL3 */
	for (uint32_t i = 0; i < l->ncpus; i++) {
		uint64_t base = l->tss_gpa + (uint64_t)TSS_STRIDE * i;

		/* 16-byte busy 64-bit TSS descriptor (type 0xb, present). */
		gdt[5 + 2 * i] = (TSS_LIMIT & 0xffff) | (base & 0xffffff) << 16 |
				 0x8bull << 40 | (uint64_t)((TSS_LIMIT >> 16) & 0xf) << 48 |
				 ((base >> 24) & 0xff) << 56;
		gdt[6 + 2 * i] = base >> 32;
	}
}

static void build_tss(unsigned char *tss, const struct cvmm_guest_layout *l, uint32_t cpu)
{
	uint64_t rsp0 = l->stacks_gpa + l->stack_block * (cpu + 1);

	memset(tss, 0, TSS_STRIDE);
	memcpy(tss + 4, &rsp0, 8);             /* RSP0: ring-0 stack for interrupts */
	tss[102] = TSS_IOMAP & 0xff;          /* I/O bitmap offset */
	tss[103] = TSS_IOMAP >> 8;
	tss[TSS_LIMIT] = 0xff;
}

static void build_page_tables(uint64_t *t, const struct cvmm_guest_layout *l)
{
	uint64_t npd = l->map_end / GIB, npdpt = (npd + 511) / 512;
	uint64_t *pml4 = t, *pdpt = t + 512, *pd = t + 512 * (1 + npdpt);
	uint64_t pdpt_gpa = l->pml4_gpa + PAGE, pd_gpa = pdpt_gpa + npdpt * PAGE;
	const uint64_t user_rw = 0x7; /* present, writable, user */

	memset(t, 0, (1 + npdpt + npd) * PAGE);
	for (uint64_t i = 0; i < npdpt; i++)
		pml4[i] = (pdpt_gpa + i * PAGE) | user_rw;
	for (uint64_t i = 0; i < npd; i++)
		pdpt[i] = (pd_gpa + i * PAGE) | user_rw;
	for (uint64_t i = 0; i < npd * 512; i++)
		pd[i] = (i << 21) | user_rw | 0x80; /* 2 MiB page */
}

int cvmm_guest_load(struct cvmm_guest_mem *mem, const void *data, size_t len,
		    const struct cvmm_guest_load_opts *o, struct cvmm_guest_layout *out)
{
	struct cvmm_guest_boot_info bi;
	struct cvmm_guest_image img;
	struct cvmm_guest_layout l;
	unsigned char *base;
	int ret;

	if (!mem || !o || !out || o->sz < sizeof(*o) || o->ncpus == 0 ||
	    o->ncpus > CVMM_GUEST_MAX_CPUS)
		return -EINVAL;
	ret = cvmm_guest_image_parse(data, len, &img);
	if (ret)
		return ret;
	ret = plan(&img, o->ncpus, cvmm_guest_mem_end(mem), &l);
	if (ret)
		return ret;
	/* Everything in one region: one host pointer, bounds checked once. */
	base = cvmm_guest_mem_ptr(mem, img.load_gpa, l.free_gpa - img.load_gpa);
	if (!base)
		return -EFAULT;
#define HOST(gpa) (base + ((gpa) - img.load_gpa))
	memcpy(base, data, len);
	memset(HOST(img.load_gpa + len), 0, l.pml4_gpa - (img.load_gpa + len));
	build_gdt((uint64_t *)HOST(l.gdt_gpa), &l);
	for (uint32_t i = 0; i < l.ncpus; i++)
		build_tss(HOST(l.tss_gpa + (uint64_t)TSS_STRIDE * i), &l, i);
	build_page_tables((uint64_t *)HOST(l.pml4_gpa), &l);

	memset(&bi, 0, sizeof(bi));
	bi.magic = CVMM_GUEST_BOOT_MAGIC;
	bi.size = sizeof(bi);
	bi.ncpus = l.ncpus;
	bi.free_gpa = l.free_gpa;
	bi.ram_end = cvmm_guest_mem_end(mem);
	for (unsigned int i = 0;
	     i < cvmm_guest_mem_num_regions(mem) && i < CVMM_GUEST_MAX_RAM_RANGES; i++) {
		const struct cvmm_mem_region *r = cvmm_guest_mem_region(mem, i);

		bi.ram[i].gpa = r->gpa;
		bi.ram[i].size = r->size;
		bi.nr_ram = i + 1;
	}
	memcpy(bi.args, o->args, sizeof(bi.args));
	memcpy(HOST(l.boot_info_gpa), &bi, sizeof(bi));
#undef HOST
	*out = l;
	return 0;
}

int cvmm_guest_load_file(struct cvmm_guest_mem *mem, const char *path,
			 const struct cvmm_guest_load_opts *o,
			 struct cvmm_guest_layout *out)
{
	struct stat st;
	void *buf;
	int fd, ret;

	if (!mem || !path || !o || o->sz < sizeof(*o))
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode) || st.st_size < 0) {
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > CVMM_GUEST_MAX_FILE) {
		close(fd);
		return -EFBIG;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	ret = cvmm_read_full(fd, buf, (size_t)st.st_size);
	close(fd);
	if (ret == -EPIPE)
		ret = -ENOEXEC; /* shrank while we read it */
	if (!ret)
		ret = cvmm_guest_load(mem, buf, (size_t)st.st_size, o, out);
	free(buf);
	return ret;
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl, bool code)
{
	memset(s, 0, sizeof(*s));
	s->base = 0;
	s->limit = 0xffffffff;
	s->selector = sel;
	s->type = type;
	s->present = 1;
	s->dpl = dpl;
	s->s = 1;
	s->g = 1;
	s->l = code;
	s->db = !code;
}

int cvmm_guest_vcpu_regs(const struct cvmm_guest_layout *l, uint32_t cpu,
			 struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	bool cpl0 = l->img.flags & CVMM_GUEST_F_ENTER_CPL0;
	uint8_t dpl = cpl0 ? 0 : 3;
	uint16_t cs = cpl0 ? CVMM_GUEST_SEL_KCODE : CVMM_GUEST_SEL_UCODE;
	uint16_t ds = cpl0 ? CVMM_GUEST_SEL_KDATA : CVMM_GUEST_SEL_UDATA;

	if (cpu >= l->ncpus)
		return -EINVAL;
	memset(regs, 0, sizeof(*regs));
	regs->rip = l->img.entry;
	regs->rsp = l->stacks_gpa + l->stack_block * cpu + l->img.stack_size;
	regs->rdi = cpu;
	regs->rsi = l->boot_info_gpa;
	regs->rflags = CVMM_GUEST_ENTRY_RFLAGS;

	seg(&sregs->cs, cs, 0xb, dpl, true);
	seg(&sregs->ss, ds, 0x3, dpl, false);
	seg(&sregs->ds, ds, 0x3, dpl, false);
	seg(&sregs->es, ds, 0x3, dpl, false);
	seg(&sregs->fs, ds, 0x3, dpl, false);
	seg(&sregs->gs, ds, 0x3, dpl, false);
	memset(&sregs->tr, 0, sizeof(sregs->tr));
	sregs->tr.base = l->tss_gpa + (uint64_t)TSS_STRIDE * cpu;
	sregs->tr.limit = TSS_LIMIT;
	sregs->tr.selector = (uint16_t)(CVMM_GUEST_SEL_TSS0 + 16 * cpu);
	sregs->tr.type = 0xb;
	sregs->tr.present = 1;
	memset(&sregs->ldt, 0, sizeof(sregs->ldt));
	sregs->ldt.type = 0x2;
	sregs->ldt.unusable = 1;
	sregs->gdt.base = l->gdt_gpa;
	sregs->gdt.limit = l->gdt_limit;
	sregs->idt.base = 0;
	sregs->idt.limit = 0; /* empty until the guest loads one: faults escalate */
	sregs->cr0 = 0x80050033; /* PG, AM, WP, NE, ET, MP, PE */
	sregs->cr3 = l->pml4_gpa;
	sregs->cr4 = 0x620;      /* OSXMMEXCPT, OSFXSR, PAE */
	sregs->efer = 0x500;     /* LMA, LME */
	return 0;
}

int cvmm_guest_vcpu_setup(const struct cvmm_guest_layout *l, struct cvmm_kvm_vcpu *vcpu,
			  uint32_t cpu)
{
	struct cvmm_kvm_vm *vm = cvmm_kvm_vcpu_vm(vcpu);
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_cpuid2 *cpuid = NULL;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int ret;

	/* Long mode needs CPUID.LM in the guest's CPUID: give it everything. */
	ret = cvmm_kvm_get_supported_cpuid(cvmm_kvm_vm_kvm(vm), &cpuid);
	if (ret < 0)
		return ret;
	for (uint32_t i = 0; i < cpuid->nent; i++) {
		struct kvm_cpuid_entry2 *e = &cpuid->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffff) | cpu << 24;
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = cpu;
	}
	ret = cvmm_kvm_vcpu_set_cpuid2(vcpu, cpuid);
	free(cpuid);
	if (ret < 0)
		return ret;
	ret = cvmm_kvm_vcpu_get_sregs(vcpu, &sregs);
	if (ret < 0)
		return ret;
	ret = cvmm_guest_vcpu_regs(l, cpu, &regs, &sregs);
	if (ret < 0)
		return ret;
	ret = cvmm_kvm_vcpu_set_sregs(vcpu, &sregs);
	if (ret < 0)
		return ret;
	ret = cvmm_kvm_vcpu_set_regs(vcpu, &regs);
	if (ret < 0)
		return ret;
	/* With the in-kernel LAPIC every vCPU but 0 would wait for INIT/SIPI:
	 * all of them start at the entry point at once instead. */
	return cvmm_kvm_vcpu_set_mp_state(vcpu, &mp);
}
