#!/bin/sh
# The ioctl wrappers promise a compile-time check that the argument matches
# the size encoded in the ioctl number. Prove it: a right call compiles, a
# wrong struct or a pointer to a value-taking ioctl does not. Speaks TAP.
src=${top_srcdir:-$(dirname "$0")/../../..}
cc=${CC:-cc}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0

check() { # name, expect (ok|fail), body
	n=$((n + 1))
	printf '#include "internal.h"\nint f(int fd);\nint f(int fd)\n{\n%s\n}\n' "$3" > "$tmp/t$n.c"
	if $cc -std=gnu11 -fsyntax-only -I"$src/include" -I"$src/crates/kvm-ioctls/src" \
		"$tmp/t$n.c" 2> "$tmp/t$n.err"; then got=ok; else got=fail; fi
	if [ "$got" = "$2" ] && { [ "$2" = ok ] || grep -q "mismatch\|takes a pointer" "$tmp/t$n.err"; }; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1 (compiler said: $got)"
		sed 's/^/# /' "$tmp/t$n.err"
		fail=1
	fi
}

if ! command -v "$cc" > /dev/null 2>&1; then
	echo "1..0 # SKIP no C compiler ($cc)"
	exit 0
fi
echo "1..5"
check "right struct compiles" ok "struct kvm_regs r; return KVM_IOCTL(fd, KVM_GET_REGS, &r);"
check "wrong struct is a compile error" fail "struct kvm_sregs s; return KVM_IOCTL(fd, KVM_GET_REGS, &s);"
check "pointer-to-pointer is a compile error" fail "struct kvm_regs r, *p = &r; return KVM_IOCTL(fd, KVM_GET_REGS, &p);"
check "value ioctl compiles" ok "return KVM_IOCTL_VAL(fd, KVM_CREATE_VCPU, 0);"
check "value macro on a pointer ioctl is a compile error" fail "return KVM_IOCTL_VAL(fd, KVM_GET_REGS, 0);"
exit $fail
