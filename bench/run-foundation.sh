#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The foundation benchmarks (docs/benchmarks.md): VM start-up time and
# dirty-page harvest cost against guest size. Prints Markdown.
# Usage: bench/run-foundation.sh [BUILDDIR]   (or `make bench` in a build tree)
set -eu
b=${1:-${top_builddir:-.}}
hk="$b/examples/hello-kvm/hello-kvm"
for f in "$hk" "$b/bench/bench-startup" "$b/bench/bench-dirty" "$b/tests/guests/startup.img"; do
	[ -e "$f" ] || { echo "run-foundation: $f is missing: build first (make)" >&2; exit 1; }
done
[ -w /dev/kvm ] || { echo "run-foundation: /dev/kvm is not usable" >&2; exit 1; }

echo "## Machine"
echo
echo "- nproc: $(nproc)"
echo "- CPU: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "- kernel: $(uname -r)"
if [ -d /sys/module/kvm_pvm ]; then kvm="PVM (kvm_pvm module loaded)"; else kvm="not PVM (no kvm_pvm module)"; fi
if grep -qw -e vmx -e svm /proc/cpuinfo; then kvm="$kvm, CPU has vmx/svm"; else kvm="$kvm, CPU has no vmx/svm"; fi
echo "- /dev/kvm: $kvm"
echo
echo "## VM start-up (1 vCPU, 128 MiB)"
echo
"$b/bench/bench-startup" "$hk" "$b/tests/guests/startup.img" 20 1 128M
echo
echo "## Dirty-page harvest against guest size"
echo
"$b/bench/bench-dirty" "$b/tests/guests" 1 4 16 64
