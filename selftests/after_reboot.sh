# SPDX-License-Identifier: GPL-2.0
# Run in a fresh boot after test_restore.sh left a dump in
# CHPOX_FRESH_BOOT_DIR: the restore works across a reboot of the same kernel.
#   scripts/vm-run -- env CHPOX_FRESH_BOOT_DIR=DIR selftests/run.sh after_reboot.sh

fresh=${CHPOX_FRESH_BOOT_DIR:?set CHPOX_FRESH_BOOT_DIR}
modprobe chpox
ld-chpox "$fresh/counter.dump" >"$fresh/ld.out" 2>&1
expect_eq "a dump taken before a reboot restores in a fresh boot (exit 0)" 0 "$?"
expect_eq "... and the counter's file equals an uninterrupted run" \
	"$(seq 1 60)" "$(cat "$fresh/counter.out")"
expect_eq "... with nothing on ld-chpox's output" "" "$(cat "$fresh/ld.out")"
