/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every vCPU checks in; vCPU 0 waits for all of them, checks that the
 * spinlock kept a shared counter exact under contention, and exits with the
 * number of distinct vCPUs it saw (0xbad on an inconsistency).
 */
#include "guest.h"

#define ROUNDS 20000
#define MAX_CPUS 256

static struct spinlock lock = SPINLOCK_INIT;
static uint64_t counter;           /* protected by lock, deliberately not atomic */
static uint32_t arrived;           /* atomic */
static uint8_t seen[MAX_CPUS];     /* atomic per byte */

int guest_main(unsigned int cpu)
{
	unsigned int n = guest_ncpus(), distinct = 0;

	if (cpu >= MAX_CPUS || n > MAX_CPUS)
		return 0xbad;
	for (unsigned int i = 0; i < ROUNDS; i++) {
		spin_lock(&lock);
		counter = counter + 1;
		spin_unlock(&lock);
	}
	if (__atomic_exchange_n(&seen[cpu], 1, __ATOMIC_SEQ_CST))
		return 0xbad; /* two vCPUs were given the same index */
	guest_printf("cpu %u checked in\n", cpu);
	atomic_inc(&arrived);
	if (cpu != 0)
		for (;;)
			cpu_relax();

	while (atomic_load(&arrived) < n)
		cpu_relax();
	for (unsigned int i = 0; i < MAX_CPUS; i++)
		distinct += atomic_load(&seen[i]);
	spin_lock(&lock);
	if (counter != (uint64_t)n * ROUNDS) {
		guest_printf("counter %lu, expected %lu\n", counter, (uint64_t)n * ROUNDS);
		distinct = 0xbad;
	}
	spin_unlock(&lock);
	guest_printf("%u vCPUs seen\n", distinct);
	return (int)distinct;
}
