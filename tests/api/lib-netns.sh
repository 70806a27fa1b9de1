# shellcheck shell=sh
# Shared by the API tests whose VMMs each live in network namespaces (and
# mount namespaces) of their own (sourced after lib.sh): a namespace is
# held by a sleeping process, so VMMs can come and go in it and a veth
# pair can join two of them. Each holds a TAP at 10.0.2.1/24 (the guest of
# tests/guests/snapshot-net.c is 10.0.2.15) and, in its mount namespace,
# $TMP/vs as a tmpfs of its own (a vsock socket at one path per host).
# The caller's EXIT trap kills every pid in $pids.

NS_IP=10.0.2.15
require_netns() { # skip unless namespaces, TAPs and the tools are here
	need_cmd ip iproute2
	need_cmd nsenter util-linux
	need_cmd python3 python3
	if ! unshare -n -m true 2>/dev/null; then
		echo "1..0 # SKIP needs unshare -n -m (root)"
		exit 0
	fi
}
# netns_new K [TAP]: namespaces named K (holder's pid in $ns), TAP (tap0)
# up at 10.0.2.1/24, lo up.
netns_new() {
	rm -f "$TMP/ns.$1.up"
	mkdir -p "$TMP/vs"
	unshare -n -m sh -c 'mount -t tmpfs none "$1" && ip tuntap add dev "$2" mode tap &&
		ip addr add 10.0.2.1/24 dev "$2" && ip link set "$2" up && ip link set lo up &&
		: >"$3" && exec sleep 3600' sh "$TMP/vs" "${2:-tap0}" "$TMP/ns.$1.up" \
		>"$TMP/ns.$1.out" 2>&1 &
	ns=$!
	pids="$pids $ns"
	eventually 10 test -f "$TMP/ns.$1.up"
}
# vmm_in NS K [ARGS...]: an empty VMM (API socket $TMP/api.K, output
# $TMP/vmm.K.out) in NS's namespaces; its pid in $vmm.
vmm_in() {
	_ns=$1 _k=$2
	shift 2
	rm -f "$TMP/api.$_k"
	nsenter -t "$_ns" -n -m "$MICROVM" --api-socket "$TMP/api.$_k" "$@" \
		>"$TMP/vmm.$_k.out" 2>&1 &
	vmm=$!
	pids="$pids $vmm"
	eventually 10 test -S "$TMP/api.$_k"
}
# vmm_in_ns K [TAP]: an empty VMM in namespaces of its own (netns_new K
# TAP, then vmm_in), the guest's IPv4 as its args[0]; $vmm and $ns.
vmm_in_ns() {
	netns_new "$1" "${2:-}" && vmm_in "$ns" "$1" --guest-arg 0=0x0a00020f
}
ping_in() { # NS: an ICMP echo to the guest from NS's network namespace
	timeout 20 nsenter -t "$1" -n python3 "$top_srcdir/tests/api/icmp-echo.py" $NS_IP 10
}
vsock_in() { # NS LINE: through NS's vsock socket ($TMP/vs/vsock) to the guest's port 5000
	timeout 20 nsenter -t "$1" -m python3 "$top_srcdir/tests/api/vsock-line.py" "$TMP/vs/vsock" "$2"
}
