/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The VM's states and the control loop: start, pause, resume, stop, and
 * the events that report each change.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>

#include "internal.h"

static const char *const state_names[] = {
	[CVMM_VMM_CREATED] = "Created",
	[CVMM_VMM_RUNNING] = "Running",
	[CVMM_VMM_PAUSED] = "Paused",
	[CVMM_VMM_SHUTDOWN] = "Shutdown",
};

const char *cvmm_vmm_state_name(enum cvmm_vmm_state s)
{
	return (unsigned int)s < CVMM_ARRAY_SIZE(state_names) ? state_names[s] : "Unknown";
}

enum cvmm_vmm_state cvmm_vmm_state(const struct cvmm_vmm *vmm)
{
	return (enum cvmm_vmm_state)atomic_load(&vmm->state);
}

void cvmm_vi_set_state(struct cvmm_vmm *vmm, enum cvmm_vmm_state s)
{
	atomic_store(&vmm->state, (int)s);
}

void cvmm_vi_emit(struct cvmm_vmm *vmm, const struct cvmm_vmm_event *ev)
{
	if (vmm->opts.event)
		vmm->opts.event(vmm->opts.opaque, ev);
}

void cvmm_vi_emit_type(struct cvmm_vmm *vmm, enum cvmm_vmm_event_type type, const char *id)
{
	struct cvmm_vmm_event ev = { .type = type, .vcpu = -1, .id = id };

	cvmm_vi_emit(vmm, &ev);
}

int cvmm_vmm_start(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm)
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_CREATED)
		return -EBUSY;
	if (vmm->broken)
		return -EIO;
	/* An OnDemand restore's fault and fill threads confined themselves
	 * (the program's hook) or the guest never runs: fail closed. */
	if ((ret = cvmm_vi_snap_restore_started(vmm))) {
		vmm->broken = true;
		return ret;
	}
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_BOOTING, NULL);
	/* Devices added before start joined paused. */
	ret = cvmm_vi_devices_resume(vmm);
	if (!ret)
		ret = cvmm_vi_device_thread_start(vmm);
	if (!ret)
		ret = cvmm_vi_vcpus_start(vmm);
	if (ret) {
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
		return ret;
	}
	cvmm_vi_set_state(vmm, CVMM_VMM_RUNNING);
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_BOOTED, NULL);
	return 0;
}

int cvmm_vi_quiesce(struct cvmm_vmm *vmm)
{
	int ret = cvmm_vi_vcpus_pause(vmm);

	if (ret)
		return ret;
	/* vCPUs first: no new guest request reaches a device being paused.
	 * Then the device thread, so nothing writes guest memory any more. */
	ret = cvmm_vi_devices_pause(vmm);
	if (ret) {
		cvmm_vi_vcpus_resume(vmm);
		return ret;
	}
	cvmm_vi_device_thread_stop(vmm);
	cvmm_vi_set_state(vmm, CVMM_VMM_PAUSED);
	return 0;
}

int cvmm_vi_unquiesce(struct cvmm_vmm *vmm)
{
	/* The device thread first: the models' resume hooks run on it. */
	int ret = cvmm_vi_device_thread_start(vmm);
	int r2 = cvmm_vi_devices_resume(vmm);

	cvmm_vi_vcpus_resume(vmm);
	cvmm_vi_set_state(vmm, CVMM_VMM_RUNNING);
	return ret ? ret : r2;
}

int cvmm_vmm_pause(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm)
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_RUNNING)
		return -EBUSY;
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_PAUSING, NULL);
	ret = cvmm_vi_quiesce(vmm);
	if (ret)
		return ret;
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_PAUSED, NULL);
	return 0;
}

int cvmm_vmm_resume(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm)
		return -EINVAL;
	if (cvmm_vmm_state(vmm) != CVMM_VMM_PAUSED)
		return -EBUSY;
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_RESUMING, NULL);
	ret = cvmm_vi_unquiesce(vmm);
	cvmm_vi_emit_type(vmm, CVMM_VMM_EV_RESUMED, NULL);
	return ret;
}

void cvmm_vmm_request_stop(struct cvmm_vmm *vmm, enum cvmm_vmm_stop why, int code)
{
	int expected = CVMM_VMM_STOP_NONE;

	if (!vmm || why == CVMM_VMM_STOP_NONE)
		return;
	if (!atomic_compare_exchange_strong(&vmm->stop, &expected, (int)why))
		return;
	atomic_store(&vmm->stop_code, code);
	cvmm_vi_vcpus_kick_stop(vmm);
	cvmm_eventfd_write(vmm->stop_efd, 1);
}

enum cvmm_vmm_stop cvmm_vmm_stop_reason(const struct cvmm_vmm *vmm, int *code)
{
	if (code)
		*code = atomic_load(&vmm->stop_code);
	return (enum cvmm_vmm_stop)atomic_load(&vmm->stop);
}

/* The VM stopped: join its threads, report, and end the loop if it is ours. */
static void finish(struct cvmm_vmm *vmm)
{
	struct cvmm_vmm_event ev = { .type = CVMM_VMM_EV_SHUTDOWN, .vcpu = -1 };

	if (cvmm_vmm_state(vmm) == CVMM_VMM_SHUTDOWN)
		return;
	cvmm_vi_vcpus_stop_and_join(vmm);
	cvmm_vi_device_thread_exit(vmm);
	cvmm_vi_set_state(vmm, CVMM_VMM_SHUTDOWN);
	ev.stop = cvmm_vmm_stop_reason(vmm, &ev.code);
	cvmm_vi_emit(vmm, &ev);
}

void cvmm_vmm_stop(struct cvmm_vmm *vmm, enum cvmm_vmm_stop why, int code)
{
	if (!vmm)
		return;
	cvmm_vmm_request_stop(vmm, why, code);
	/* the stop eventfd stays readable; cvmm_vi_on_stop() then finds it done */
	finish(vmm);
}

void cvmm_vi_on_stop(struct cvmm_event_manager *em, int fd, uint32_t events, void *opaque)
{
	struct cvmm_vmm *vmm = opaque;
	uint64_t v;

	(void)events;
	if (cvmm_eventfd_read(fd, &v) < 0 && cvmm_vmm_stop_reason(vmm, NULL) == CVMM_VMM_STOP_NONE)
		return;
	finish(vmm);
	if (vmm->own_em)
		cvmm_event_manager_stop(em);
}

int cvmm_vmm_run(struct cvmm_vmm *vmm)
{
	int ret;

	if (!vmm)
		return -EINVAL;
	/* A stop recorded before the loop started is seen at once: the
	 * eventfd (subscribed at creation) stays readable. */
	ret = cvmm_event_manager_run(vmm->em);
	if (ret)
		cvmm_vmm_request_stop(vmm, CVMM_VMM_STOP_HOST_ERROR, 3);
	finish(vmm);
	return ret;
}
