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
start=$(date +%s)
ld-chpox "$fresh/sleep.dump"
expect_eq "a sleep checkpointed before a reboot finishes in the fresh boot (exit 0)" 0 "$?"
elapsed=$(($(date +%s) - start))
echo "# the restored sleep took $elapsed s"
check "... sleeping what was left of it (about 16 s, less than 20)" \
	test "$elapsed" -ge 10 -a "$elapsed" -le 19
