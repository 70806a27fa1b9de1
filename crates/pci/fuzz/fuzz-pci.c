/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target: hostile configuration-space (0xCF8/0xCFC and ECAM),
 * MSI-X table/PBA and state input against a segment with two devices.
 * Each 8-byte record is one access: kind, width, offset bytes, value.
 * After every record: the IDs are intact, mapped BARs overlap neither each
 * other nor RAM, the owners' view of their mappings matches the
 * segment's, and the PBA holds no vector that does not exist. Every so
 * often the state is saved, flipped by the input and restored (taken or
 * refused, never half-applied).
 */
#include <cvmm/pci.h>

#include <stdlib.h>
#include <string.h>

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)
#define NDEV 2
#define NVEC 5

struct dev {
	struct cvmm_pci_config *cfg;
	struct cvmm_pci_msix *msix;
	unsigned int slot;
	uint64_t mapped[CVMM_PCI_NUM_BARS];
};

static void on_bar(void *opaque, const struct cvmm_pci_bar_event *ev)
{
	struct dev *d = opaque;

	CHECK(ev->bar < CVMM_PCI_NUM_BARS);
	CHECK(d->mapped[ev->bar] == ev->old_addr);
	d->mapped[ev->bar] = ev->new_addr;
}

static void deliver(void *o, unsigned int v, const struct cvmm_pci_msi_msg *m)
{
	(void)o;
	CHECK(v < NVEC);
	CHECK(!(m->addr & 3));
}

static const struct cvmm_pci_dev_ops dev_ops = { .bar_event = on_bar };
static const struct cvmm_pci_msix_ops msix_ops = { .deliver = deliver };

static void mkdev(struct dev *d, uint16_t id)
{
	struct cvmm_pci_config_opts o = { .sz = sizeof(o), .vendor_id = 0x1af4, .device_id = id,
					  .interrupt_pin = 1 };
	struct cvmm_pci_bar_opts b = { .sz = sizeof(b), .index = 0, .type = CVMM_PCI_BAR_MEM64,
				       .size = 0x4000 };
	struct cvmm_pci_msix_opts mo = { .sz = sizeof(mo), .num_vectors = NVEC, .table_offset = 0x1000,
					 .pba_offset = 0x2000, .ops = &msix_ops };
	uint8_t vcap[16] = { 0 };
	unsigned int i;

	CHECK(cvmm_pci_config_create(&o, &d->cfg) == 0);
	CHECK(cvmm_pci_config_add_bar(d->cfg, &b) == 0);
	b.index = 2; b.type = CVMM_PCI_BAR_MEM32; b.size = 0x1000;
	CHECK(cvmm_pci_config_add_bar(d->cfg, &b) == 0);
	b.index = 3; b.type = CVMM_PCI_BAR_IO; b.size = 0x40;
	CHECK(cvmm_pci_config_add_bar(d->cfg, &b) == 0);
	CHECK(cvmm_pci_config_add_cap(d->cfg, CVMM_PCI_CAP_ID_VNDR, vcap, sizeof(vcap)) > 0);
	mo.cfg = d->cfg;
	CHECK(cvmm_pci_msix_create(&mo, &d->msix) == 0);
	for (i = 0; i < CVMM_PCI_NUM_BARS; i++)
		d->mapped[i] = CVMM_PCI_BAR_ADDR_NONE;
}

static void check(struct cvmm_pci_segment *s, struct dev *devs, const struct cvmm_guest_mem *m)
{
	struct cvmm_pci_bar_info bi[NDEV][CVMM_PCI_NUM_BARS];
	unsigned int i, j, b, c;
	uint64_t pba = 0, a;

	for (i = 0; i < NDEV; i++) {
		struct dev *d = &devs[i];

		CHECK(cvmm_pci_config_get16(d->cfg, 0) == 0x1af4);
		CHECK(cvmm_pci_config_find_cap(d->cfg, CVMM_PCI_CAP_ID_MSIX, 0) ==
		      (int)cvmm_pci_msix_cap_offset(d->msix));
		CHECK(cvmm_pci_msix_bar_access(d->msix, 0, 0x2000, &pba, 8, false) == 1);
		CHECK(!(pba >> NVEC));
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++) {
			CHECK(cvmm_pci_segment_bar_addr(s, d->slot, b, &a) == 0);
			CHECK(a == d->mapped[b]);
			cvmm_pci_config_bar(d->cfg, b, &bi[i][b]);
			if (a == CVMM_PCI_BAR_ADDR_NONE)
				continue;
			CHECK(bi[i][b].decode && bi[i][b].addr == a);
			if (bi[i][b].type != CVMM_PCI_BAR_IO)
				CHECK(!cvmm_guest_mem_find(m, a) && a >= 0x100000);
		}
	}
	for (i = 0; i < NDEV; i++)
		for (b = 0; b < CVMM_PCI_NUM_BARS; b++)
			for (j = 0; j < NDEV; j++)
				for (c = 0; c < CVMM_PCI_NUM_BARS; c++) {
					uint64_t x = devs[i].mapped[b], y = devs[j].mapped[c];

					if ((i == j && b == c) || x == CVMM_PCI_BAR_ADDR_NONE ||
					    y == CVMM_PCI_BAR_ADDR_NONE ||
					    (bi[i][b].type == CVMM_PCI_BAR_IO) !=
						    (bi[j][c].type == CVMM_PCI_BAR_IO))
						continue;
					CHECK(x + bi[i][b].size <= y || y + bi[j][c].size <= x);
				}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cvmm_mem_region_opts ro = { .sz = sizeof(ro), .gpa = 0, .size = 1 << 20,
					   .backing = CVMM_MEM_ANON, .fd = -1 };
	struct cvmm_pci_segment_opts so = { .sz = sizeof(so), .ecam_base = 0xe0000000 };
	static struct cvmm_pci_config_state cs;
	struct cvmm_pci_msix_state ms;
	struct cvmm_pci_segment *s;
	struct cvmm_guest_mem *m;
	struct dev devs[NDEV];
	size_t i;

	CHECK(cvmm_guest_mem_create(&m) == 0);
	CHECK(cvmm_guest_mem_add_region(m, &ro) == 0);
	so.mem = m;
	CHECK(cvmm_pci_segment_create(&so, &s) == 0);
	memset(devs, 0, sizeof(devs));
	for (i = 0; i < NDEV; i++) {
		int r;

		mkdev(&devs[i], (uint16_t)(0x1041 + i));
		r = cvmm_pci_segment_add(s, -1, devs[i].cfg, &dev_ops, &devs[i]);
		CHECK(r > 0);
		devs[i].slot = (unsigned int)r;
	}
	for (i = 0; i + 8 <= size; i += 8) {
		const uint8_t *r = data + i;
		unsigned int len = 1u << (r[1] & 3);
		uint32_t off = (uint32_t)(r[2] | r[3] << 8);
		uint64_t val = (uint64_t)r[4] | (uint64_t)r[5] << 8 | (uint64_t)r[6] << 16 |
			       (uint64_t)r[7] << 24;
		struct dev *d = &devs[r[1] >> 7];
		bool w = r[1] & 4;

		val |= val << 32;
		switch (r[0] % 8) {
		case 0: /* CONFIG_ADDRESS */
			cvmm_pci_segment_pio(s, 0xcf8, &val, 4, true);
			break;
		case 1: /* CONFIG_DATA */
			cvmm_pci_segment_pio(s, (uint16_t)(0xcfc + (off & 3)), &val,
					     len > 4 ? 4 : len, w);
			break;
		case 2: /* ECAM, aimed at our slots most of the time */
			cvmm_pci_segment_ecam(s, (uint64_t)(r[0] >> 3 & 3) << 15 | (off & 0xfff) |
						  (uint64_t)(r[1] >> 4 & 7) << 20,
					      &val, len, w);
			break;
		case 3: /* MSI-X table and PBA */
			cvmm_pci_msix_bar_access(d->msix, r[1] >> 4 & 1, off & 0x3fff, &val, len, w);
			break;
		case 4:
			cvmm_pci_msix_signal(d->msix, r[2] % (NVEC + 1));
			break;
		case 5: /* save, flip a byte, restore */
			CHECK(cvmm_pci_config_save(d->cfg, &cs) == 0);
			cs.bytes[off & 0xfff] ^= r[4];
			if (cvmm_pci_config_restore(d->cfg, &cs, NULL, 0) == 0)
				cvmm_pci_segment_update(s);
			break;
		case 6:
			CHECK(cvmm_pci_msix_save(d->msix, &ms) == 0);
			((uint8_t *)&ms)[off % sizeof(ms)] ^= r[4];
			cvmm_pci_msix_restore(d->msix, &ms, NULL, 0);
			break;
		case 7: /* hot-unplug and replug */
			CHECK(cvmm_pci_segment_remove(s, d->slot) == 0);
			CHECK(cvmm_pci_segment_add(s, (int)d->slot, d->cfg, &dev_ops, d) ==
			      (int)d->slot);
			break;
		}
		check(s, devs, m);
	}
	for (i = 0; i < NDEV; i++) {
		cvmm_pci_segment_remove(s, devs[i].slot);
		cvmm_pci_msix_destroy(devs[i].msix);
		cvmm_pci_config_destroy(devs[i].cfg);
	}
	cvmm_pci_segment_destroy(s);
	cvmm_guest_mem_destroy(m);
	return 0;
}
