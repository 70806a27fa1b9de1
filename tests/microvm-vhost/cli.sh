#!/bin/sh
# Malformed vhost-user options: one line naming the option and the field,
# exit status 1.
. "${top_srcdir:-.}/tests/microvm-vhost/lib.sh"
plan 15

one_line_error() { # TEXT FILE
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}

bad() { # DESCRIPTION EXPECTED-TEXT ARGS...
	desc=$1 want=$2; shift 2
	run_vm out "$@"
	check "$desc" one_line_error "$want" "$out"
}

bad "--disk vhost_user without socket" "--disk: socket: missing" --kernel x --disk vhost_user=on
bad "--disk vhost_user=maybe" "--disk: vhost_user: 'maybe' is not on or off" \
	--kernel x --disk vhost_user=maybe,socket=/s
bad "--disk vhost_user=off with a socket" "--disk: vhost_user=off" \
	--kernel x --disk vhost_user=off,socket=/s
bad "--disk vhost_user with path" "--disk: unknown field 'path'" \
	--kernel x --disk vhost_user=on,socket=/s,path=/f
bad "--net vhost_user queues=0" "--net: queues: '0' is not a number" \
	--kernel x --net vhost_user=on,socket=/s,queues=0
bad "--disk vhost_user reconnect=-1" "--disk: reconnect: '-1'" \
	--kernel x --disk vhost_user=on,socket=/s,reconnect=-1
bad "--vhost-user without type" "--vhost-user: type: missing" --kernel x --vhost-user socket=/s
bad "--vhost-user type=0" "--vhost-user: type: '0' is not a virtio device id" \
	--kernel x --vhost-user type=0,socket=/s
bad "--vhost-user with vhost_user=" "--vhost-user: unknown field 'vhost_user'" \
	--kernel x --vhost-user type=2,socket=/s,vhost_user=on
bad "--fs without tag" "--fs: tag: missing" --kernel x --fs socket=/s
bad "--fs tag too long" "--fs: tag: longer than 36 bytes" \
	--kernel x --fs tag=0123456789012345678901234567890123456789,socket=/s
long=$(printf '%0120d' 0)
bad "--disk vhost_user socket too long" "--disk: socket: longer than 107 bytes" \
	--kernel x --disk vhost_user=on,socket=/$long
bad "--disk vhost_user empty field" "--disk: empty field" --kernel x --disk vhost_user=on,,socket=/s

# Parsing passed, the backend is absent: still one line and exit 1.
if [ -w /dev/kvm ] && [ -f "$BLK" ]; then
	bad "no backend listening" "--disk: socket: '$TMP/none': cannot connect" \
		--kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/none"
	truncate -s 1M "$TMP/img"
	"$VUBLK" --socket "$TMP/s" --disk "$TMP/img" --queues 2 >/dev/null 2>&1 &
	bpid=$!
	wait_sock "$TMP/s"
	bad "queues=4 on a 2-queue backend" "--disk: queues: 4, but the backend on '$TMP/s' has 2" \
		--kernel "$BLK" --transport mmio --disk vhost_user=on,socket="$TMP/s",queues=4
	stop_backend
else
	n=$((n + 2)); echo "ok $((n - 1)) - # SKIP needs /dev/kvm and the virtio-blk guest"
	echo "ok $n - # SKIP needs /dev/kvm and the virtio-blk guest"
fi
finish
