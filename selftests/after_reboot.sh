# SPDX-License-Identifier: GPL-2.0
# Run in a fresh boot after before_reboot.sh left dumps in
# CHPOX_FRESH_BOOT_DIR: the restore works across a reboot of the same kernel.
# (see before_reboot.sh for how to run both halves).

fresh=${CHPOX_FRESH_BOOT_DIR:?set CHPOX_FRESH_BOOT_DIR}
modprobe chpox
ld-chpox "$fresh/counter.dump" >"$fresh/ld.out" 2>&1
expect_eq "a dump taken before a reboot restores in a fresh boot (exit 0)" 0 "$?"
expect_eq "... and the counter's file equals an uninterrupted run (its clock never went back)" \
	"$(seq 1 60)" "$(cat "$fresh/counter.out")"
expect_eq "... with nothing on ld-chpox's output" "" "$(cat "$fresh/ld.out")"
left=$(ld-chpox --info "$fresh/sleep.dump" | sed -n 's/.* with \([0-9]*\) ms left .*/\1/p')
left=$((${left:-0} / 1000))
start=$(date +%s)
ld-chpox "$fresh/sleep.dump"
expect_eq "a sleep checkpointed before a reboot finishes in the fresh boot (exit 0)" 0 "$?"
elapsed=$(($(date +%s) - start))
echo "# the restored sleep took $elapsed s, $left s were left in the dump"
check "... sleeping what was left of it (not the whole 20 s again)" \
	test "$left" -ge 8 -a "$elapsed" -ge $((left - 1)) -a "$elapsed" -le $((left + 3))
