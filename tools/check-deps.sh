#!/bin/sh
# Enforce the crate dependency graph of docs/design.md: a crate's sources may
# include only its own header(s) and those of the crates it is allowed to use.
top=${1:-.}
allowed() {
	case $1 in
	sys-util)           echo "sys-util" ;;
	kvm-ioctls)         echo "kvm-ioctls sys-util" ;;
	vm-memory)          echo "vm-memory sys-util" ;;
	virtio-queue)       echo "virtio-queue vm-memory sys-util" ;;
	event-manager)      echo "event-manager sys-util" ;;
	vhost)              echo "vhost vm-memory sys-util" ;;
	vhost-user-backend) echo "vhost-user-backend vhost virtio-queue vm-memory event-manager sys-util" ;;
	seccomp)            echo "seccomp sys-util" ;;
	linux-loader)       echo "linux-loader vm-memory sys-util" ;;
	acpi-tables)        echo "acpi-tables vm-memory sys-util" ;;
	vm-fdt)             echo "vm-fdt vm-memory sys-util" ;;
	vm-superio)         echo "vm-superio sys-util" ;;
	snapshot)           echo "snapshot sys-util" ;;
	migration)          echo "migration migration-tls snapshot sys-util" ;; # its TLS header is its own
	pci)                echo "pci vm-memory sys-util" ;;
	api)                echo "api" ;;
	virtio-devices)     echo "virtio-devices virtio-queue vm-memory event-manager vhost pci sys-util" ;;
	vmm)                echo "vmm migration-tls $(ls "$top"/crates | tr '\n' ' ')" ;; # the top: any crate (migration-tls.h is migration's)
	*)                  echo "" ;;
	esac
}
status=0
for dir in "$top"/crates/*/; do
	crate=$(basename "$dir")
	ok=$(allowed "$crate")
	[ -n "$ok" ] || { echo "check-deps: crate $crate is not in the graph" >&2; status=1; continue; }
	for f in $(find "$dir" -path "$dir/tests" -prune -o \( -name '*.c' -o -name '*.h' \) -print) \
	         $(ls "$top"/include/cvmm/"$crate".h "$top"/include/cvmm/"$crate"/*.h 2>/dev/null); do
		for inc in $(sed -n 's@^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]cvmm/\([a-z-]*\).*@\1@p' "$f"); do
			case " $ok " in
			*" $inc "*) ;;
			*) echo "check-deps: $f includes cvmm/$inc, which crate $crate may not use" >&2; status=1 ;;
			esac
		done
	done
done
[ $status -eq 0 ] && echo "check-deps: every crate includes only what it may use"
exit $status
