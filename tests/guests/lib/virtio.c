/* SPDX-License-Identifier: Apache-2.0 */
/* The test guests' virtio driver, virtio-mmio and virtio-pci (see virtio.h). */
#include "virtio.h"

/* Rings and buffers: 1 MiB of bss, handed out in pages. */
#define POOL_SIZE (1u << 20)
static uint8_t pool[POOL_SIZE] __attribute__((aligned(4096)));
static uint64_t pool_used;

void *virtio_alloc(uint64_t size)
{
	uint64_t sz = (size + 4095) & ~4095ull;
	void *p;

	if (sz > POOL_SIZE - pool_used)
		return NULL;
	p = pool + pool_used;
	pool_used += sz;
	memset(p, 0, sz);
	return p;
}

int virtio_find(uint32_t device_id, unsigned int nth, struct virtio_dev *d)
{
	for (unsigned int i = 0; i < VIRTIO_MMIO_SLOTS; i++) {
		uint64_t base = VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE;

		if (mmio_read32(base + VIRTIO_MMIO_MAGIC) != VIRTIO_MMIO_MAGIC_VALUE ||
		    mmio_read32(base + VIRTIO_MMIO_VERSION) != 2)
			continue;
		if (mmio_read32(base + VIRTIO_MMIO_DEVICE_ID) != device_id)
			continue;
		if (nth-- == 0) {
			d->base = base;
			d->device_id = device_id;
			d->features = 0;
			return 0;
		}
	}
	return -1;
}

static uint32_t cf8_read(unsigned int slot, unsigned int reg)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	return inl(0xcfc);
}

static void cf8_write(unsigned int slot, unsigned int reg, uint32_t v)
{
	outl(0xcf8, 0x80000000u | slot << 11 | (reg & 0xfc));
	outl(0xcfc, v);
}

int virtio_find_pci(uint32_t device_id, unsigned int nth, uint64_t bar_window,
		    struct virtio_dev *d)
{
	for (unsigned int slot = 1; slot < 32; slot++) {
		uint64_t bar = bar_window + slot * 0x10000ull;
		uint32_t off;

		if (cf8_read(slot, 0) != ((0x1040u + device_id) << 16 | 0x1af4u) || nth-- != 0)
			continue;
		memset(d, 0, sizeof(*d));
		d->device_id = device_id;
		d->base = bar;
		d->slot = slot;
		cf8_write(slot, 0x10, (uint32_t)bar);
		cf8_write(slot, 0x04, 0x6);                   /* memory + bus master */
		off = cf8_read(slot, 0x34) & 0xfc;
		for (unsigned int n = 0; off >= 0x40 && n < 48; n++) {
			uint32_t h = cf8_read(slot, off);
			uint64_t at = bar + cf8_read(slot, off + 8);

			/* a virtio capability on BAR 0 */
			if ((h & 0xff) == 0x09 && (cf8_read(slot, off + 4) & 0xff) == 0) {
				switch ((h >> 24) & 0xff) {
				case 1: d->common = at; break;
				case 2:
					d->notify = at;
					d->notify_mult = cf8_read(slot, off + 16);
					break;
				case 3: d->isr = at; break;
				case 4: d->devcfg = at; break;
				}
			}
			/* MSI-X with its table in BAR 0 */
			if ((h & 0xff) == 0x11 && !(cf8_read(slot, off + 4) & 7)) {
				d->msix_cap = off;
				d->msix_table = bar + cf8_read(slot, off + 4);
			}
			off = (h >> 8) & 0xfc;
		}
		return d->common && d->notify && d->isr ? 0 : -1;
	}
	return -1;
}

int virtio_pci_msix_entry(struct virtio_dev *d, unsigned int entry, unsigned int vector,
			  uint32_t apic_id)
{
	uint32_t h;
	uint64_t ent;

	if (!d->msix_cap)
		return -1;
	h = cf8_read(d->slot, d->msix_cap);
	if (entry > ((h >> 16) & 0x7ff))
		return -1;
	/* Message Control (the word at cap + 2): enable, function mask off. */
	cf8_write(d->slot, d->msix_cap, (h & 0x3fff0000u) | 0x80000000u);
	ent = d->msix_table + 16ull * entry;
	mmio_write32(ent + 0, 0xfee00000u | apic_id << 12);
	mmio_write32(ent + 4, 0);
	mmio_write32(ent + 8, vector);
	mmio_write32(ent + 12, 0);
	return 0;
}

int virtio_pci_msix_vector(struct virtio_dev *d, int q, uint16_t entry)
{
	uint64_t at = d->common + (q < 0 ? 0x10 : 0x1a);

	if (!d->common)
		return -1;
	if (q >= 0)
		mmio_write16(d->common + 0x16, (uint16_t)q); /* queue_select */
	mmio_write16(at, entry);
	return mmio_read16(at) == entry ? 0 : -1;
}

/* A virtio-mmio register's place in the common configuration: offset and width. */
static int pci_common(uint32_t reg, unsigned int *w)
{
	*w = 4;
	switch (reg) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: return 0x00;
	case VIRTIO_MMIO_DEVICE_FEATURES: return 0x04;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: return 0x08;
	case VIRTIO_MMIO_DRIVER_FEATURES: return 0x0c;
	case VIRTIO_MMIO_STATUS: *w = 1; return 0x14;
	case VIRTIO_MMIO_QUEUE_SEL: *w = 2; return 0x16;
	case VIRTIO_MMIO_QUEUE_NUM_MAX:
	case VIRTIO_MMIO_QUEUE_NUM: *w = 2; return 0x18;
	case VIRTIO_MMIO_QUEUE_READY: *w = 2; return 0x1c;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return 0x20;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return 0x24;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW: return 0x28;
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH: return 0x2c;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW: return 0x30;
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: return 0x34;
	default: return -1;
	}
}

uint32_t virtio_read(const struct virtio_dev *d, uint32_t reg)
{
	unsigned int w;
	int off;

	if (!d->common)
		return mmio_read32(d->base + reg);
	if (reg == VIRTIO_MMIO_INTERRUPT_STATUS)
		return mmio_read8(d->isr);                   /* reading acknowledges */
	if (reg >= VIRTIO_MMIO_CONFIG)
		return d->devcfg ? mmio_read32(d->devcfg + reg - VIRTIO_MMIO_CONFIG) : 0;
	off = pci_common(reg, &w);
	if (off < 0)
		return 0;
	return w == 1 ? mmio_read8(d->common + (uint64_t)off) :
	       w == 2 ? mmio_read16(d->common + (uint64_t)off) : mmio_read32(d->common + (uint64_t)off);
}

void virtio_write(const struct virtio_dev *d, uint32_t reg, uint32_t v)
{
	unsigned int w;
	int off;

	if (!d->common) {
		mmio_write32(d->base + reg, v);
		return;
	}
	if (reg == VIRTIO_MMIO_QUEUE_NOTIFY) {
		mmio_write16(d->common + 0x16, (uint16_t)v);
		off = mmio_read16(d->common + 0x1e);
		mmio_write16(d->notify + (uint64_t)off * d->notify_mult, (uint16_t)v);
		return;
	}
	if (reg >= VIRTIO_MMIO_CONFIG) {
		if (d->devcfg)
			mmio_write32(d->devcfg + reg - VIRTIO_MMIO_CONFIG, v);
		return;
	}
	off = pci_common(reg, &w);
	if (off < 0)
		return;                                      /* INTERRUPT_ACK: the ISR read did it */
	if (w == 1)
		mmio_write8(d->common + (uint64_t)off, (uint8_t)v);
	else if (w == 2)
		mmio_write16(d->common + (uint64_t)off, (uint16_t)v);
	else
		mmio_write32(d->common + (uint64_t)off, v);
}

uint64_t virtio_config_read(const struct virtio_dev *d, uint32_t off, unsigned int width)
{
	uint64_t a = (d->common ? d->devcfg : d->base + VIRTIO_MMIO_CONFIG) + off;

	switch (width) {
	case 1: return mmio_read8(a);
	case 2: return mmio_read16(a);
	case 4: return mmio_read32(a);
	default: return mmio_read32(a) | (uint64_t)mmio_read32(a + 4) << 32;
	}
}

int virtio_wait_status(struct virtio_dev *d, uint32_t bits, uint64_t spins)
{
	while (spins--) {
		if ((virtio_status(d) & bits) == bits)
			return 0;
		cpu_relax();
	}
	return -1;
}

int virtio_reset(struct virtio_dev *d)
{
	/* The device thread finishes a reset; Status reads 0 once it has. */
	virtio_write(d, VIRTIO_MMIO_STATUS, 0);
	for (uint64_t i = 0; i < VIRTIO_SPINS; i++) {
		if (virtio_status(d) == 0)
			return 0;
		cpu_relax();
	}
	return -1;
}

int virtio_init(struct virtio_dev *d, uint64_t wanted)
{
	uint64_t offered, acked;

	if (virtio_reset(d))
		return -1;
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE);
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER);
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	offered = virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES);
	virtio_write(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)virtio_read(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	acked = offered & (wanted | VIRTIO_F_VERSION_1);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)acked);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	virtio_write(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(acked >> 32));
	virtio_write(d, VIRTIO_MMIO_STATUS,
		     VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER | VIRTIO_S_FEATURES_OK);
	if (!(virtio_status(d) & VIRTIO_S_FEATURES_OK))
		return -1;
	d->features = acked;
	return 0;
}

int vq_setup(struct virtio_dev *d, unsigned int index, struct vq *vq)
{
	uint64_t desc, avail, used;

	virtio_write(d, VIRTIO_MMIO_QUEUE_SEL, index);
	if (virtio_read(d, VIRTIO_MMIO_QUEUE_NUM_MAX) < VQ_SIZE)
		return -1;
	/* A queue is reused after a reset: keep its rings, start from zero. */
	if (!vq->desc || vq->dev != d || vq->index != index) {
		vq->desc = virtio_alloc(4096);
		vq->avail = virtio_alloc(4096);
		vq->used = virtio_alloc(4096);
		if (!vq->desc || !vq->avail || !vq->used)
			return -1;
	}
	memset(vq->desc, 0, 4096);
	memset((void *)vq->avail, 0, 4096);
	memset((void *)vq->used, 0, 4096);
	vq->dev = d;
	vq->index = index;
	vq->size = VQ_SIZE;
	vq->avail_idx = vq->last_used = vq->next_free = 0;
	desc = (uint64_t)vq->desc;
	avail = (uint64_t)vq->avail;
	used = (uint64_t)vq->used;
	virtio_write(d, VIRTIO_MMIO_QUEUE_NUM, VQ_SIZE);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	virtio_write(d, VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
	virtio_write(d, VIRTIO_MMIO_QUEUE_READY, 1);
	/* virtio-pci: the queue's notify address once, as drivers keep it
	 * (virtio_write's QUEUE_NOTIFY selects and reads it each time: three
	 * exits instead of one, which the interrupt bench would count) */
	vq->notify_at = d->common ? d->notify + (uint64_t)mmio_read16(d->common + 0x1e) *
							 d->notify_mult : 0;
	return virtio_read(d, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -1;
}

void virtio_driver_ok(struct virtio_dev *d)
{
	virtio_write(d, VIRTIO_MMIO_STATUS, VIRTIO_S_ACKNOWLEDGE | VIRTIO_S_DRIVER |
		     VIRTIO_S_FEATURES_OK | VIRTIO_S_DRIVER_OK);
}

void vq_publish(struct vq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx % vq->size] = head;
	/* x86 keeps stores in order; the compiler must too. */
	barrier();
	vq->avail_idx++;
	vq->avail->idx = vq->avail_idx;
	barrier();
	if (vq->notify_at) /* virtio-pci: the address vq_setup() worked out */
		mmio_write16(vq->notify_at, (uint16_t)vq->index);
	else
		virtio_write(vq->dev, VIRTIO_MMIO_QUEUE_NOTIFY, vq->index);
}

uint16_t vq_submit(struct vq *vq, const struct vbuf *b, unsigned int n)
{
	uint16_t head = vq->next_free;

	for (unsigned int i = 0; i < n; i++) {
		uint16_t id = (uint16_t)((head + i) % vq->size);
		struct vring_desc *dsc = &vq->desc[id];

		dsc->addr = b[i].addr;
		dsc->len = b[i].len;
		dsc->flags = (uint16_t)((b[i].writable ? VRING_DESC_F_WRITE : 0) |
					(i + 1 < n ? VRING_DESC_F_NEXT : 0));
		dsc->next = (uint16_t)((id + 1) % vq->size);
	}
	vq->next_free = (uint16_t)((head + n) % vq->size);
	vq_publish(vq, head);
	return head;
}

int vq_wait(struct vq *vq, uint32_t *id, uint32_t *len, uint64_t spins)
{
	while (spins--) {
		if (vq->used->idx != vq->last_used) {
			volatile struct vring_used_elem *e;

			barrier();
			e = &vq->used->ring[vq->last_used % vq->size];
			*id = e->id;
			*len = e->len;
			vq->last_used++;
			return 0;
		}
		cpu_relax();
	}
	return -1;
}
