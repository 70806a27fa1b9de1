# Helpers for the vhost-user tests: those of tests/microvm-virtio, plus
# starting and stopping backend daemons on a unix socket.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
VUBLK=$top_builddir/examples/vhost-user-blk/cvmm-vhost-user-blk
BLK=$GUESTS/virtio-blk.img
bpid=

# wait_sock PATH: until the backend listens (5 s at most).
wait_sock() {
	i=0
	while ! [ -S "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$1" ]
}

# start_blk SOCK IMAGE: our cvmm-vhost-user-blk in the background.
start_blk() {
	rm -f "$1"
	"$VUBLK" --socket "$1" --disk "$2" >"$TMP/daemon.log" 2>&1 &
	bpid=$!
	wait_sock "$1"
}

# start_qsd SOCK IMAGE: qemu-storage-daemon's vhost-user-blk export.
start_qsd() {
	need_cmd qemu-storage-daemon qemu-system-common
	rm -f "$1"
	qemu-storage-daemon --blockdev driver=file,node-name=f,filename="$2" \
		--export type=vhost-user-blk,id=e,node-name=f,addr.type=unix,addr.path="$1",writable=on \
		>"$TMP/daemon.log" 2>&1 &
	bpid=$!
	wait_sock "$1"
}

stop_backend() {
	# $rc is still the VM's: the backend's status is not looked at.
	_vmrc=${rc:-0}
	[ -n "$bpid" ] && stop_pid "$bpid"
	rc=$_vmrc
	bpid=
	return 0
}
trap 'stop_backend; rm -rf "$TMP"' EXIT
