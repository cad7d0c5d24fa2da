#!/bin/bash
# Installs everything chpox needs on a Debian 12 (bookworm) machine:
# the kernel source, the LLVM toolchain a Rust-enabled kernel is built with,
# QEMU for the test VM, busybox for its initramfs, and the Rust pieces
# (rust-src, bindgen-cli) the kernel's Rust support requires.
# python3 drives a pseudo-terminal in the selftests.
# Idempotent: a second run only checks and returns.
set -euo pipefail
. "$(dirname "$0")/env.sh"

APT_PACKAGES=(
	linux-source-6.12 xz-utils
	clang lld llvm libclang-dev
	flex bison bc libelf-dev libssl-dev cpio kmod
	qemu-system-x86 busybox-static
	criu python3
)
BINDGEN_VERSION=0.69.5

need_apt=()
for p in "${APT_PACKAGES[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need_apt+=("$p")
done
if ((${#need_apt[@]})); then
	echo "install-deps: installing ${need_apt[*]}" >&2
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	echo "install-deps: adding rust-src" >&2
	rustup component add rust-src
fi

if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	echo "install-deps: installing bindgen-cli $BINDGEN_VERSION" >&2
	cargo install --locked bindgen-cli --version "$BINDGEN_VERSION"
fi
