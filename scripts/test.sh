#!/bin/bash
# Runs every chpox test: lint, user-space unit tests, then the selftests in
# the test VM. Installs what is missing and builds the kernel (cached) first.
# Ends with one line "N passed, N failed" over all of them.
set -uo pipefail
. "$(dirname "$0")/env.sh"
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
start=$(date +%s)

log() { echo "test.sh: $*" >&2; }
scripts/install-deps.sh || { log "installing dependencies failed"; exit 1; }
kdir=$(scripts/build-kernel.sh) || { log "building the kernel failed"; exit 1; }
log "kernel ready after $(($(date +%s) - start)) s: $kdir"

passed=0 failed=0
count() { # STATUS DESCRIPTION
	if [ "$1" = 0 ]; then
		passed=$((passed + 1))
		echo "ok - $2"
	else
		failed=$((failed + 1))
		echo "not ok - $2"
	fi
	return "$1"
}

# --- lint: formatting and clippy, module included ------------------------
cargo fmt --all --check >/tmp/chpox-fmt.log 2>&1
count $? "cargo fmt --check (tools)" || cat /tmp/chpox-fmt.log
rustfmt --check --edition 2021 --config-path "$kdir/.rustfmt.toml" rust/*.rs >/tmp/chpox-fmt.log 2>&1
count $? "rustfmt --check (module)" || cat /tmp/chpox-fmt.log
cargo clippy -q --release --locked --all-targets -- -D warnings 2>&1 | tee /tmp/chpox-clippy.log
count "${PIPESTATUS[0]}" "cargo clippy (tools)"
make -s -C "$kdir" M="$here" LLVM=1 CLIPPY=1 KCFLAGS= modules 2>&1 | tee /tmp/chpox-kclippy.log
status=${PIPESTATUS[0]}
grep -q '^warning' /tmp/chpox-kclippy.log && status=1
count $status "make LLVM=1 CLIPPY=1 (module builds clippy-clean)"

# --- user-space unit tests ----------------------------------------------
cargo test --release --locked 2>&1 | tee /tmp/chpox-cargo-test.log
cargo_status=${PIPESTATUS[0]}
while read -r p f; do
	passed=$((passed + p)) failed=$((failed + f))
done < <(sed -n 's/^test result: .*\. \([0-9]*\) passed; \([0-9]*\) failed.*/\1 \2/p' /tmp/chpox-cargo-test.log)
[ "$cargo_status" = 0 ] || grep -q '^test result' /tmp/chpox-cargo-test.log || count 1 "cargo test builds"

# --- selftests in the VM ----------------------------------------------------
# Every test file, and the first half of the restore-after-reboot test,
# whose second half runs in a second boot of the same kernel; the dumps
# wait in a host directory shared with both boots.
# A boot's time limit: the files take about 25 minutes under TCG here and
# up to twice that on a slow CI machine, and one that hangs is stopped by
# run.sh after 20 (CHPOX_FILE_TIMEOUT); CI gives 90 minutes in all.
reboot_dir=$(mktemp -d "${TMPDIR:-/tmp}/chpox-reboot.XXXXXX")
selftests() { # LOG FILE...
	local log=$1
	shift
	scripts/vm-run --timeout 3900 -s "$here" -s "$reboot_dir" -- \
		env CHPOX_FRESH_BOOT_DIR="$reboot_dir" selftests/run.sh "$@" 2>&1 | tee "$log"
	local vm_status=${PIPESTATUS[0]} summary
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -1)
	if [ -n "$summary" ]; then
		read -r p _ f _ <<<"$summary"
		passed=$((passed + p)) failed=$((failed + f))
	else
		count 1 "selftests ${*: -1} ran to the end in the VM (vm-run status $vm_status)"
	fi
}
selftests /tmp/chpox-selftests.log $(cd selftests && echo test_*.sh) before_reboot.sh
selftests /tmp/chpox-selftests-reboot.log after_reboot.sh
rm -rf "$reboot_dir"

log "all tests took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
