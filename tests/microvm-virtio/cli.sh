#!/bin/sh
# Every malformed device option gets one line naming the option and the
# field, exit status 1, and nothing is created or written.
. "${top_srcdir:-.}/tests/microvm-virtio/lib.sh"
plan 32

one_line_error() { # TEXT FILE
	test "$rc" -eq 1 && test "$(wc -l <"$2")" -eq 1 && grep -qF -- "$1" "$2"
}

bad() { # DESCRIPTION EXPECTED-TEXT ARGS...
	desc=$1 want=$2; shift 2
	run_vm out "$@"
	check "$desc" one_line_error "$want" "$out"
}

bad "--disk without a value" "--disk: needs a value" --kernel x --disk
bad "--disk empty" "--disk: needs key=value" --kernel x --disk ""
bad "--disk without path" "--disk: path: missing" --kernel x --disk readonly=on
bad "--disk field without =" "--disk: 'foo' is not key=value" --kernel x --disk path=a,foo
bad "--disk unknown field" "--disk: unknown field 'size'" --kernel x --disk path=a,size=1
bad "--disk empty field" "--disk: empty field" --kernel x --disk path=a,,readonly=on
bad "--disk field given twice" "--disk: path: given twice" --kernel x --disk path=a,path=b
bad "--disk empty path" "--disk: path: empty value" --kernel x --disk path=
bad "--disk readonly=yes" "--disk: readonly: 'yes' is not on or off" --kernel x --disk path=a,readonly=yes
bad "--disk direct=1" "--disk: direct: '1' is not on or off" --kernel x --disk path=a,direct=1
bad "--disk rate=0" "--disk: rate: '0'" --kernel x --disk path=a,rate=0
bad "--disk rate=-5" "--disk: rate: '-5'" --kernel x --disk path=a,rate=-5
bad "--disk rate=fast" "--disk: rate: 'fast'" --kernel x --disk path=a,rate=fast
bad "--disk bandwidth=10Q" "--disk: bandwidth: '10Q'" --kernel x --disk path=a,bandwidth=10Q
bad "--console unknown mode" "--console: 'tty'" --kernel x --console tty
bad "--console given twice" "--console: given twice" --kernel x --console stdio --console stdio
bad "--net without tap" "--net: tap: missing" --kernel x --net mac=02:00:00:00:00:01
bad "--net multicast mac" "--net: mac: '01:00:00:00:00:01' is not a unicast MAC" --kernel x --net tap=t0,mac=01:00:00:00:00:01
bad "--net short mac" "--net: mac: '02:00:00:00:0:01'" --kernel x --net tap=t0,mac=02:00:00:00:0:01
bad "--net queues=0" "--net: queues: '0'" --kernel x --net tap=t0,queues=0
bad "--net queues=8" "--net: queues: '8'" --kernel x --net tap=t0,queues=8
bad "--net tap name too long" "--net: tap: 'abcdefghijklmnopq'" --kernel x --net tap=abcdefghijklmnopq
bad "--net unknown field" "--net: unknown field 'ip'" --kernel x --net tap=t0,ip=1.2.3.4
bad "--vsock cid=2 (the host's)" "--vsock: cid: '2'" --kernel x --vsock cid=2,socket=s
bad "--vsock without socket" "--vsock: socket: missing" --kernel x --vsock cid=3
bad "--vsock without cid" "--vsock: cid: missing" --kernel x --vsock socket=s
bad "--vsock given twice" "--vsock: given twice" --kernel x --vsock cid=3,socket=s --vsock cid=4,socket=t
bad "--guest-arg index out of range" "--guest-arg: '4=1'" --kernel x --guest-arg 4=1
bad "--guest-arg not a number" "--guest-arg: '0=z'" --kernel x --guest-arg 0=z

# A missing disk is an error after parsing: still one line, and neither the
# disk nor the console or serial file is created.
if [ -w /dev/kvm ] && [ -f "$GUESTS/hello.img" ]; then
	bad "missing disk file" "--disk: path: cannot open '$TMP/missing'" \
		--kernel "$GUESTS/hello.img" --disk path="$TMP/missing" \
		--console file="$TMP/con" --serial file="$TMP/ser"
	check "missing disk file: nothing created" sh -c \
		"! test -e '$TMP/missing' && ! test -e '$TMP/con' && ! test -e '$TMP/ser'"
else
	n=$((n + 1)); echo "ok $n - # SKIP no /dev/kvm"
	n=$((n + 1)); echo "ok $n - # SKIP no /dev/kvm"
fi
run_vm out --help
check "--help lists the device options" sh -c \
	"grep -q -- '--disk path=FILE' '$out' && grep -q -- '--console' '$out' && grep -q -- '--rng' '$out'"
finish
