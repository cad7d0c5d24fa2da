#!/bin/bash
# Builds (once) the Rust-enabled test kernel chpox is developed against and
# prints the path of its build tree (the KDIR for the module build).
#
# The tree lives outside the git clone, under $CHPOX_CACHE_DIR (default
# ~/.cache/chpox), in a folder named after the kernel source version and a
# hash of everything that shapes the build (config fragment, this script,
# compiler and bindgen versions). A finished tree carries a stamp; a second
# call finds it and returns in well under a second.
set -euo pipefail
. "$(dirname "$0")/env.sh"

here=$(cd "$(dirname "$0")/.." && pwd)
fragment=$here/kernel/chpox.config
tarball=/usr/src/linux-source-6.12.tar.xz
jobs=${JOBS:-$(nproc)}

[ -r "$tarball" ] || { echo "build-kernel: $tarball missing: run scripts/install-deps.sh" >&2; exit 1; }

src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { cat "$fragment" "$0"; rustc --version; clang --version | head -1; bindgen --version; } \
	| sha256sum | cut -c1-12)
cache=$CHPOX_CACHE_DIR
kdir=$cache/linux-$src_version-$key
stamp=$kdir/.chpox-built

if [ -e "$stamp" ]; then
	echo "$kdir"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -e "$stamp" ]; then # another build finished while we waited
	echo "$kdir"
	exit 0
fi

log() { echo "build-kernel: $*" >&2; }
start=$(date +%s)
if [ ! -e "$kdir/Makefile" ]; then
	log "unpacking kernel source $src_version into $kdir"
	rm -rf "$kdir.tmp"
	mkdir -p "$kdir.tmp"
	tar -xJf "$tarball" -C "$kdir.tmp" --strip-components=1
	mv "$kdir.tmp" "$kdir"
fi

cd "$kdir"
mk() { make -s LLVM=1 ARCH=x86_64 "$@"; }
if ! mk rustavailable >/dev/null; then
	mk rustavailable >&2 || true
	log "Rust is not available to the kernel build (see above)"
	exit 1
fi

log "configuring: tinyconfig + kernel/chpox.config"
mk tinyconfig >/dev/null
scripts/kconfig/merge_config.sh -m -O . .config "$fragment" >/dev/null
mk olddefconfig >/dev/null

# Every option of the fragment must have survived olddefconfig.
bad=0
while IFS= read -r line; do
	case "$line" in CONFIG_*=*) ;; *) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -q "^$opt=[ym]" .config && { log "$opt is set, fragment wants n"; bad=1; }
	else
		grep -qx "$line" .config || { log "$line did not take effect (unmet dependency?)"; bad=1; }
	fi
done <"$fragment"
[ $bad = 0 ] || exit 1

log "building bzImage and modules with $jobs jobs (a cold build takes several minutes)"
mk -j"$jobs" bzImage modules >&2
touch "$stamp"
log "kernel built in $(($(date +%s) - start)) s: $kdir"
# Trees of older configurations: keep the previous one, drop the rest.
ls -dt "$cache"/linux-*/ 2>/dev/null | tail -n +3 | while read -r old; do
	log "removing old kernel tree $old"
	rm -rf "$old"
done
echo "$kdir"
