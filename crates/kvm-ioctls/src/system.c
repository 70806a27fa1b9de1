/* SPDX-License-Identifier: Apache-2.0 */
/* The system fd: /dev/kvm, capabilities, CPUID and MSR lists. */
#include "internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define KVM_API_VERSION_EXPECTED 12
/* Far above any real CPUID/MSR table; stops a misbehaving kernel looping us. */
#define KVM_QUERY_MAX_ENTRIES 65536u

int cvmm_kvm_create(const struct cvmm_kvm_opts *o, struct cvmm_kvm **out)
{
	const char *path = "/dev/kvm";
	struct cvmm_kvm *kvm;
	int fd, r;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (o) {
		if (o->sz < offsetof(struct cvmm_kvm_opts, path) + sizeof(o->path))
			return -EINVAL;
		if (o->path)
			path = o->path;
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = KVM_IOCTL_VAL(fd, KVM_GET_API_VERSION, 0);
	if (r >= 0 && r != KVM_API_VERSION_EXPECTED)
		r = -EPROTO;
	if (r < 0)
		goto fail;
	r = KVM_IOCTL_VAL(fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r >= 0 && (size_t)r < sizeof(struct kvm_run))
		r = -EPROTO;
	if (r < 0)
		goto fail;
	kvm = calloc(1, sizeof(*kvm));
	if (!kvm) {
		r = -ENOMEM;
		goto fail;
	}
	kvm->fd = fd;
	kvm->mmap_size = r;
	*out = kvm;
	return 0;
fail:
	close(fd);
	return r;
}

void cvmm_kvm_destroy(struct cvmm_kvm *kvm)
{
	if (!kvm)
		return;
	cvmm_close(kvm->fd);
	free(kvm);
}

int cvmm_kvm_fd(const struct cvmm_kvm *kvm)
{
	return kvm->fd;
}

int cvmm_kvm_api_version(struct cvmm_kvm *kvm)
{
	return KVM_IOCTL_VAL(kvm->fd, KVM_GET_API_VERSION, 0);
}

int cvmm_kvm_check_extension(struct cvmm_kvm *kvm, long cap)
{
	return KVM_IOCTL_VAL(kvm->fd, KVM_CHECK_EXTENSION, cap);
}

int cvmm_kvm_vcpu_mmap_size(const struct cvmm_kvm *kvm)
{
	return kvm->mmap_size;
}

struct kvm_cpuid2 *cvmm_kvm_cpuid2_alloc(uint32_t nent)
{
	struct kvm_cpuid2 *c;

	if (nent > KVM_QUERY_MAX_ENTRIES)
		return NULL;
	c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(c->entries[0]));
	if (c)
		c->nent = nent;
	return c;
}

struct kvm_msrs *cvmm_kvm_msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m;

	if (n > KVM_QUERY_MAX_ENTRIES)
		return NULL;
	m = calloc(1, sizeof(*m) + (size_t)n * sizeof(m->entries[0]));
	if (m)
		m->nmsrs = n;
	return m;
}

int cvmm__kvm_cpuid_query(int fd, unsigned long cmd, struct kvm_cpuid2 **out)
{
	uint32_t n = 64;

	*out = NULL;
	for (;;) {
		struct kvm_cpuid2 *c = cvmm_kvm_cpuid2_alloc(n);
		int r;

		if (!c)
			return -ENOMEM;
		/* The callers' commands all carry struct kvm_cpuid2; checked there. */
		r = kvm_ioctl_raw(fd, cmd, (unsigned long)c);
		if (r == 0) {
			*out = c;
			return (int)c->nent;
		}
		free(c);
		if (r != -E2BIG || n >= KVM_QUERY_MAX_ENTRIES)
			return r;
		n *= 2;
	}
}

#define CPUID_QUERY(fd, cmd, out)                                             \
	({                                                                    \
		_Static_assert(_IOC_SIZE(cmd) == sizeof(struct kvm_cpuid2),   \
			       "ioctl argument size mismatch for " #cmd);     \
		cvmm__kvm_cpuid_query((fd), (cmd), (out));                    \
	})

int cvmm_kvm_get_supported_cpuid(struct cvmm_kvm *kvm, struct kvm_cpuid2 **out)
{
	return CPUID_QUERY(kvm->fd, KVM_GET_SUPPORTED_CPUID, out);
}

int cvmm_kvm_get_emulated_cpuid(struct cvmm_kvm *kvm, struct kvm_cpuid2 **out)
{
	return CPUID_QUERY(kvm->fd, KVM_GET_EMULATED_CPUID, out);
}

/* The kernel answers E2BIG with the needed count in nmsrs. */
static int msr_list_query(int fd, bool features, struct kvm_msr_list **out)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	struct kvm_msr_list *l;
	uint32_t n;
	int r;

	*out = NULL;
	r = features ? KVM_IOCTL(fd, KVM_GET_MSR_FEATURE_INDEX_LIST, &probe)
		     : KVM_IOCTL(fd, KVM_GET_MSR_INDEX_LIST, &probe);
	if (r < 0 && r != -E2BIG)
		return r;
	for (int tries = 0; tries < 4; tries++) {
		n = probe.nmsrs;
		if (n > KVM_QUERY_MAX_ENTRIES)
			return -EOVERFLOW;
		l = calloc(1, sizeof(*l) + (size_t)n * sizeof(l->indices[0]));
		if (!l)
			return -ENOMEM;
		l->nmsrs = n;
		r = features ? KVM_IOCTL(fd, KVM_GET_MSR_FEATURE_INDEX_LIST, l)
			     : KVM_IOCTL(fd, KVM_GET_MSR_INDEX_LIST, l);
		if (r == 0 && l->nmsrs <= n) {
			*out = l;
			return (int)l->nmsrs;
		}
		probe.nmsrs = l->nmsrs;
		free(l);
		if (r != -E2BIG)
			return r < 0 ? r : -EPROTO;
	}
	return -EAGAIN;
}

int cvmm_kvm_get_msr_index_list(struct cvmm_kvm *kvm, struct kvm_msr_list **out)
{
	return msr_list_query(kvm->fd, false, out);
}

int cvmm_kvm_get_msr_feature_index_list(struct cvmm_kvm *kvm,
					struct kvm_msr_list **out)
{
	*out = NULL;
	if (cvmm_kvm_check_extension(kvm, KVM_CAP_GET_MSR_FEATURES) <= 0)
		return -EOPNOTSUPP;
	return msr_list_query(kvm->fd, true, out);
}

int cvmm_kvm_get_feature_msrs(struct cvmm_kvm *kvm, struct kvm_msrs *msrs)
{
	if (cvmm_kvm_check_extension(kvm, KVM_CAP_GET_MSR_FEATURES) <= 0)
		return -EOPNOTSUPP;
	return KVM_IOCTL(kvm->fd, KVM_GET_MSRS, msrs);
}
