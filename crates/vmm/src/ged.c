/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The ACPI Generic Event Device (as Cloud Hypervisor has it) and the ACPI
 * PCI hotplug registers, one 4 KiB MMIO page from the allocator:
 *
 *   0x000  GED event word: CVMM_ACPI_GED_* bits; a 4-byte read returns them
 *          and clears them (the DSDT's _EVT reads it once per interrupt)
 *   0x010  PCIU: slots that came up since the last read (read clears)
 *   0x014  PCID: slots the host asks the guest to release (read clears)
 *   0x018  B0EJ: the guest's _EJ0 writes the bit of a slot it released
 *
 * and an I/O APIC line (edge) raised through an irqfd. Any other offset
 * or size reads as zero and ignores writes (counted, logged a few times).
 *
 * Hotplug: devices join and leave only while the VM is quiesced
 * (cvmm_vmm_hotplug_begin/end: vCPUs parked, device thread stopped, as for
 * a pause but without the events), so the device table, the device loop
 * and the segment never change under a running thread. An eject arrives on
 * a vCPU thread, where nothing may be freed; it is handed to the control
 * loop through an eventfd, which removes the device there.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <cvmm/acpi-tables.h>
#include <cvmm/event-manager.h>
#include <cvmm/snapshot.h>

#include "internal.h"

#define GED_OWNER "__ged"
#define GED_WINDOW 0x1000u
#define PCIHP_OFF 0x10u
#define GED_KNOWN (CVMM_ACPI_GED_PCI_HOTPLUG | CVMM_ACPI_GED_POWER_BUTTON)
#define REFUSALS_LOGGED 8u
#define GED_STATE_VERSION 1u

struct ged {
	struct cvmm_vmm *vmm;
	uint64_t base;
	uint32_t gsi;
	int irqfd;             /* -> GSI, edge */
	int eject_efd;         /* vCPU thread -> control loop */
	bool efd_watched;
	bool irq_on;
	pthread_mutex_t lock;  /* everything below */
	uint32_t pending;      /* GED event bits the guest has not read */
	uint32_t up, down;     /* PCIU, PCID */
	uint32_t eject_req;    /* slots whose removal the host asked for */
	uint32_t ejected;      /* slots the guest released, for the control loop */
	uint32_t refused;      /* hostile or stray accesses seen */
};

/* The plain state the stream carries (dev/__ged/ged). */
struct ged_state {
	uint32_t version;
	uint32_t pending, up, down, eject_req, ejected;
};

/* Under g->lock: note an access the register block refuses. */
static void refuse(struct ged *g, const char *what, uint64_t off, uint32_t len)
{
	if (g->refused++ < REFUSALS_LOGGED)
		CVMM_LOG(CVMM_LOG_WARN, VMM_CRATE,
			 "GED: guest %s at offset 0x%llx (%u bytes) ignored%s", what,
			 (unsigned long long)off, len,
			 g->refused == REFUSALS_LOGGED ? " (no more of these logged)" : "");
}

static void raise_irq(struct ged *g)
{
	cvmm_eventfd_write(g->irqfd, 1);
}

/* Under g->lock: the guest released @bits (B0EJ). */
static void eject(struct ged *g, uint32_t bits)
{
	uint32_t ok = bits & g->eject_req;

	/* A slot the host did not ask for (a device being added, one that is
	 * staying, an empty slot) or one already ejected is not the guest's
	 * to remove: refused, the device stays. */
	if (bits & ~ok)
		refuse(g, "eject of a slot not offered for removal", PCIHP_OFF + CVMM_ACPI_PCIHP_EJECT, 4);
	if (!ok)
		return;
	g->eject_req &= ~ok;
	g->ejected |= ok;
	cvmm_eventfd_write(g->eject_efd, 1);
}

static void ged_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct ged *g = opaque;
	uint32_t v = 0, *reg = NULL;

	pthread_mutex_lock(&g->lock);
	if (len != 4 || (off & 3)) {
		refuse(g, is_write ? "write" : "read", off, len);
		goto out;
	}
	switch (off) {
	case 0:
		reg = &g->pending;
		break;
	case PCIHP_OFF + CVMM_ACPI_PCIHP_UP:
		reg = &g->up;
		break;
	case PCIHP_OFF + CVMM_ACPI_PCIHP_DOWN:
		reg = &g->down;
		break;
	case PCIHP_OFF + CVMM_ACPI_PCIHP_EJECT:
		if (is_write) {
			memcpy(&v, data, 4);
			eject(g, v);
			v = 0;
		}
		goto out;   /* reads as 0 */
	default:
		refuse(g, is_write ? "write" : "read", off, len);
		goto out;
	}
	if (is_write) {
		refuse(g, "write to a read-only register", off, len);
		goto out;
	}
	v = *reg;
	*reg = 0;
out:
	pthread_mutex_unlock(&g->lock);
	if (!is_write) {
		memset(data, 0, len);
		if (len == 4)
			memcpy(data, &v, 4);
	}
}

/* Set @event (and slot bits), then interrupt the guest. Any thread. */
static void signal_event(struct ged *g, uint32_t event, uint32_t up, uint32_t down)
{
	pthread_mutex_lock(&g->lock);
	g->pending |= event;
	g->up |= up;
	g->down |= down;
	pthread_mutex_unlock(&g->lock);
	raise_irq(g);
}

/* The control loop: remove each device the guest ejected. */
static void on_eject(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct ged *g = opaque;
	struct cvmm_vmm *vmm = g->vmm;
	uint32_t bits;
	uint64_t n;

	(void)em, (void)events;
	cvmm_eventfd_read(fd, &n);
	if (cvmm_vmm_state(vmm) == CVMM_VMM_SHUTDOWN || cvmm_vmm_state(vmm) == CVMM_VMM_CREATED)
		return;   /* no restore yet, or the VM is gone: destroy cleans up */
	/* The bits stay set until the devices are gone: a removal request in
	 * between is refused (-EALREADY), never taken as a new one whose
	 * stale bit would later eject the next device put in that slot. */
	pthread_mutex_lock(&g->lock);
	bits = g->ejected;
	pthread_mutex_unlock(&g->lock);
	for (unsigned int s = 1; s < 32; s++) {
		char id[CVMM_VMM_ID_MAX];
		int ret;

		if (!(bits & (1u << s)) || cvmm_vi_pci_id_at(vmm, s, id))
			continue;
		ret = cvmm_vmm_hotplug_begin(vmm);
		if (!ret) {
			ret = cvmm_vmm_device_remove(vmm, id);
			cvmm_vmm_hotplug_end(vmm);
		}
		if (ret)
			CVMM_LOG(CVMM_LOG_ERROR, VMM_CRATE, "device '%s' (slot %u): removal after eject: %s",
				 id, s, strerror(-ret));
	}
	pthread_mutex_lock(&g->lock);
	g->ejected &= ~bits;
	pthread_mutex_unlock(&g->lock);
}

static void ged_destroy(void *dev)
{
	struct ged *g = dev;

	if (g->vmm->ged == g) {
		cvmm_vmm_bus_remove(g->vmm, CVMM_VMM_MMIO, g->base);
		g->vmm->ged = NULL;
	}
	if (g->efd_watched)
		cvmm_event_manager_remove(g->vmm->em, g->eject_efd);
	if (!g->vmm->tearing_down && g->irq_on)
		cvmm_kvm_vm_unregister_irqfd(g->vmm->vm, g->irqfd, g->gsi);
	cvmm_close(g->irqfd);
	cvmm_close(g->eject_efd);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static int ged_save(void *dev, struct cvmm_snap_writer *w, const char *id)
{
	struct ged *g = dev;
	struct ged_state s = { .version = GED_STATE_VERSION };
	char sec[CVMM_SNAP_ID_SIZE];
	int ret;

	pthread_mutex_lock(&g->lock);
	s.pending = g->pending;
	s.up = g->up;
	s.down = g->down;
	s.eject_req = g->eject_req;
	s.ejected = g->ejected;
	pthread_mutex_unlock(&g->lock);
	ret = cvmm_snap_id_fmt(sec, "dev/%s/ged", id);
	return ret ? ret : cvmm_snap_write(w, sec, s.version, &s, sizeof(s));
}

static int ged_restore(void *dev, struct cvmm_snap_reader *r, const char *id, char *err,
		       size_t errlen)
{
	struct ged *g = dev;
	struct cvmm_snap_error e = { .section = "" };
	struct cvmm_snap_section ss;
	char sec[CVMM_SNAP_ID_SIZE];
	uint32_t used = cvmm_vi_pci_slots_used(g->vmm);
	struct ged_state s;
	const char *bad = NULL;
	int ret;

	if ((ret = cvmm_snap_id_fmt(sec, "dev/%s/ged", id)) ||
	    (ret = cvmm_snap_reader_require(r, sec, GED_STATE_VERSION, &ss, &e)) ||
	    (ret = cvmm_snap_expect_len(&e, sec, NULL, ss.len, sizeof(s)))) {
		char line[CVMM_SNAP_ERROR_LINE];

		snprintf(err, errlen, "%s", cvmm_snap_error_format(&e, line, sizeof(line)));
		return ret;
	}
	memcpy(&s, ss.data, sizeof(s));
	/* Slot 0 is the host bridge; a removal can only be pending for a
	 * device this VM has in that slot. */
	if (s.version != GED_STATE_VERSION)
		bad = "version";
	else if (s.pending & ~GED_KNOWN)
		bad = "pending";
	else if ((s.up | s.down) & 1)
		bad = "up/down";
	else if ((s.eject_req | s.ejected) & ~used)
		bad = "eject_req/ejected";
	if (bad) {
		snprintf(err, errlen, "state section '%s' field '%s': out of range", sec, bad);
		return -EINVAL;
	}
	pthread_mutex_lock(&g->lock);
	g->pending = s.pending;
	g->up = s.up;
	g->down = s.down;
	g->eject_req = s.eject_req;
	g->ejected = s.ejected;
	pthread_mutex_unlock(&g->lock);
	/* The interrupt itself is in the I/O APIC's and LAPIC's saved state;
	 * an eject the old VM had not acted on yet is finished here. */
	if (s.ejected)
		cvmm_eventfd_write(g->eject_efd, 1);
	return 0;
}

static const struct cvmm_vmm_device_ops ged_ops = {
	.save = ged_save,
	.restore = ged_restore,
	.destroy = ged_destroy,
};

int cvmm_vmm_ged_add(struct cvmm_vmm *vmm, char *err, size_t errlen)
{
	struct ged *g;
	uint64_t gsi;
	int ret;

	if (!vmm)
		return -EINVAL;
	if (vmm->ged) {
		snprintf(err, errlen, "ged: already added");
		return -EEXIST;
	}
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED) {
		snprintf(err, errlen, "ged: add it before the VM starts");
		return -EBUSY;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	g->vmm = vmm;
	g->irqfd = g->eject_efd = -1;
	pthread_mutex_init(&g->lock, NULL);
	ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_MMIO32, GED_WINDOW, GED_WINDOW, GED_OWNER, &g->base);
	if (!ret)
		ret = cvmm_vmm_alloc(vmm, CVMM_VMM_RES_GSI, 1, 0, GED_OWNER, &gsi);
	if (ret) {
		snprintf(err, errlen, "ged: no MMIO window or interrupt line left: %s", strerror(-ret));
		goto fail;
	}
	g->gsi = (uint32_t)gsi;
	if ((ret = g->irqfd = cvmm_eventfd_create(0)) < 0 ||
	    (ret = g->eject_efd = cvmm_eventfd_create(0)) < 0 ||
	    (ret = cvmm_kvm_vm_register_irqfd(vmm->vm, g->irqfd, g->gsi, -1))) {
		snprintf(err, errlen, "ged: interrupt (KVM_IRQFD on GSI %u): %s", g->gsi,
			 strerror(-ret));
		goto fail;
	}
	g->irq_on = true;
	ret = cvmm_event_manager_add(vmm->em, g->eject_efd, EPOLLIN, on_eject, g);
	if (ret) {
		snprintf(err, errlen, "ged: control loop: %s", strerror(-ret));
		goto fail;
	}
	g->efd_watched = true;
	ret = cvmm_vmm_bus_add(vmm, CVMM_VMM_MMIO, g->base, GED_WINDOW, ged_io, g, "ged");
	if (ret) {
		snprintf(err, errlen, "ged: MMIO bus: %s", strerror(-ret));
		goto fail;
	}
	vmm->ged = g;
	ret = cvmm_vmm_device_add(vmm, GED_OWNER, NULL, "ged", &ged_ops, g, NULL);
	if (ret) {
		snprintf(err, errlen, "ged: device table: %s", strerror(-ret));
		ged_destroy(g);
		cvmm_vmm_alloc_free_owner(vmm, GED_OWNER);
	}
	return ret;
fail:
	ged_destroy(g);
	cvmm_vmm_alloc_free_owner(vmm, GED_OWNER);
	return ret;
}

void cvmm_vi_ged_slot_gone(struct cvmm_vmm *vmm, unsigned int slot)
{
	struct ged *g = vmm->ged;
	uint32_t m = ~(1u << slot);

	if (!g || slot >= 32)
		return;
	pthread_mutex_lock(&g->lock);
	g->up &= m;
	g->down &= m;
	g->eject_req &= m;
	g->ejected &= m;
	pthread_mutex_unlock(&g->lock);
}

int cvmm_vmm_ged_info(const struct cvmm_vmm *vmm, uint64_t *base, uint32_t *gsi)
{
	if (!vmm)
		return -EINVAL;
	if (!vmm->ged)
		return -ENODEV;
	if (base)
		*base = vmm->ged->base;
	if (gsi)
		*gsi = vmm->ged->gsi;
	return 0;
}

bool cvmm_vi_ged_acpi(const struct cvmm_vmm *vmm, struct cvmm_acpi_ged *out)
{
	if (!vmm->ged)
		return false;
	*out = (struct cvmm_acpi_ged){ .base = vmm->ged->base, .gsi = vmm->ged->gsi,
				       .pcihp_base = vmm->pci ? vmm->ged->base + PCIHP_OFF : 0 };
	return true;
}

int cvmm_vmm_power_button(struct cvmm_vmm *vmm)
{
	enum cvmm_vmm_state s;

	if (!vmm)
		return -EINVAL;
	s = cvmm_vmm_state(vmm);
	if (!vmm->ged || (s != CVMM_VMM_RUNNING && s != CVMM_VMM_PAUSED))
		return -ENODEV;
	signal_event(vmm->ged, CVMM_ACPI_GED_POWER_BUTTON, 0, 0);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Hotplug                                                                   */
/* ------------------------------------------------------------------------ */

int cvmm_vmm_hotplug_begin(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm)
		return -EINVAL;
	if (vmm->hp_active)
		return -EBUSY;
	switch (cvmm_vmm_state(vmm)) {
	case CVMM_VMM_RUNNING:
		ret = cvmm_vi_quiesce(vmm);
		if (ret)
			return ret;
		vmm->hp_resume = true;
		break;
	case CVMM_VMM_PAUSED:
		break;
	default:
		return -EBUSY;
	}
	vmm->hp_active = true;
	vmm->hp_added = 0;
	return 0;
}

int cvmm_vmm_hotplug_end(struct cvmm_vmm *vmm)
{
	uint32_t added;
	int ret = 0;

	if (!vmm)
		return -EINVAL;
	if (!vmm->hp_active)
		return -EBUSY;
	added = vmm->hp_added;
	vmm->hp_active = false;
	vmm->hp_added = 0;
	if (vmm->hp_resume) {
		vmm->hp_resume = false;
		ret = cvmm_vi_unquiesce(vmm);
	}
	if (added && vmm->ged)
		signal_event(vmm->ged, CVMM_ACPI_GED_PCI_HOTPLUG, added, 0);
	return ret;
}

bool cvmm_vi_hotplug_check(struct cvmm_vmm *vmm, const char *kind, char *err, size_t errlen,
			   int *ret)
{
	if (cvmm_vmm_state(vmm) == CVMM_VMM_CREATED)
		return true;
	if (!vmm->ged) {
		snprintf(err, errlen, "%s: adding a device to a booted VM needs ACPI hotplug "
			 "(cvmm_vmm_ged_add before start)", kind);
		*ret = -EOPNOTSUPP;
		return false;
	}
	if (!vmm->hp_active) {
		snprintf(err, errlen, "%s: the VM runs: add between cvmm_vmm_hotplug_begin and _end",
			 kind);
		*ret = -EBUSY;
		return false;
	}
	return true;
}

int cvmm_vmm_device_unplug(struct cvmm_vmm *vmm, const char *id, char *err, size_t errlen)
{
	enum cvmm_vmm_state s;
	struct ged *g;
	int slot;

	if (!vmm || !id)
		return -EINVAL;
	if (!cvmm_vmm_device_find(vmm, id)) {
		snprintf(err, errlen, "no device '%s'", id);
		return -ENOENT;
	}
	s = cvmm_vmm_state(vmm);
	if (s == CVMM_VMM_CREATED || s == CVMM_VMM_SHUTDOWN)
		return cvmm_vmm_device_remove(vmm, id);
	slot = cvmm_vi_pci_slot_of(vmm, id);
	g = vmm->ged;
	if (slot <= 0 || !g) {
		snprintf(err, errlen, "device '%s': only a PCI device can leave a booted VM%s", id,
			 slot > 0 ? " (and it needs ACPI hotplug: cvmm_vmm_ged_add)" : "");
		return -EOPNOTSUPP;
	}
	pthread_mutex_lock(&g->lock);
	if ((g->eject_req | g->ejected) & (1u << slot)) {
		pthread_mutex_unlock(&g->lock);
		snprintf(err, errlen, "device '%s': removal already requested, waiting for the "
			 "guest's eject", id);
		return -EALREADY;
	}
	g->eject_req |= 1u << slot;
	pthread_mutex_unlock(&g->lock);
	signal_event(g, CVMM_ACPI_GED_PCI_HOTPLUG, 0, 1u << slot);
	return 0;
}

bool cvmm_vmm_device_unplug_pending(const struct cvmm_vmm *vmm, const char *id)
{
	struct ged *g = vmm ? vmm->ged : NULL;
	int slot = g && id ? cvmm_vi_pci_slot_of(vmm, id) : -1;
	bool yes;

	if (slot <= 0)
		return false;
	pthread_mutex_lock(&g->lock);
	yes = ((g->eject_req | g->ejected) >> slot) & 1;
	pthread_mutex_unlock(&g->lock);
	return yes;
}
