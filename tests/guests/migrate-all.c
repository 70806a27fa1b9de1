/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guest of tests/api/migrate-all.sh (issue 12's test "with everything
 * at once"): three guests of the other migration tests, each on vCPUs of
 * its own, in one VM.
 *  - vCPU 0: snapshot-net.c's server (ARP and ICMP echo for our IPv4 in
 *    args[0], vsock lines on port 5000; "server: up", "net: echo N");
 *  - vCPU 1: snapshot-blk.c's disk writer (64 self-describing sectors,
 *    four requests always in flight; "blk pass N", a byte on COM1 stops it
 *    after a pass: "blk stopped after pass N");
 *  - vCPUs 2 and on: snapshot.c's memory checker over 8 MiB at 32 MiB
 *    ("round N"; "MISMATCH ..." on a wrong word).
 * The three files are compiled in as they are, each main renamed, and the
 * disk and memory parts see no guest arguments (their defaults): args[0]
 * is the server's. The disk writer sets its device up only once the
 * server's is done (one ring pool, one set of PCI config ports).
 */
#include "guest.h"

static volatile uint32_t net_ready;
#define SNAPNET_READY() atomic_store(&net_ready, 1)
int net_main(unsigned int cpu);
int blk_main(unsigned int cpu);
int mem_main(unsigned int cpu);

#define guest_main net_main
#include "snapshot-net.c"
#undef guest_main

static uint64_t no_arg(unsigned int i)
{
	(void)i;
	return 0;
}

#define guest_main blk_main
#define guest_arg no_arg
#include "snapshot-blk.c"
#undef guest_main

/* the memory checker's vCPU numbers start at 0 on vCPU 2 */
static unsigned int mem_ncpus(void)
{
	return guest_boot->ncpus > 2 ? guest_boot->ncpus - 2 : 1;
}

#define guest_main mem_main
#define guest_ncpus mem_ncpus
#include "snapshot.c"
#undef guest_main
#undef guest_ncpus
#undef guest_arg

int guest_main(unsigned int cpu)
{
	if (guest_ncpus() < 3) {
		guest_printf("migrate-all: FAIL needs 3 vCPUs\n");
		return 0x7f;
	}
	if (cpu == 0)
		return net_main(0);
	if (cpu == 1) {
		while (!atomic_load(&net_ready))
			cpu_relax();
		return blk_main(0);
	}
	return mem_main(cpu - 2);
}
