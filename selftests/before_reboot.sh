# SPDX-License-Identifier: GPL-2.0
# First half of the restore-after-reboot test: leaves dumps in
# CHPOX_FRESH_BOOT_DIR (a host directory shared with both boots) for
# after_reboot.sh, run in the next boot of the same kernel:
#   scripts/vm-run -s . -s DIR -- env CHPOX_FRESH_BOOT_DIR=DIR selftests/run.sh before_reboot.sh
#   scripts/vm-run -s . -s DIR -- env CHPOX_FRESH_BOOT_DIR=DIR selftests/run.sh after_reboot.sh
# scripts/test.sh does both.

fresh=${CHPOX_FRESH_BOOT_DIR:?set CHPOX_FRESH_BOOT_DIR}
find "$fresh" -mindepth 1 -delete
modprobe chpox
echo clear >/proc/chpox
chpox-testprog counter 60 >"$fresh/counter.out" &
app=$!
# Time rather than polling: reading a file on the 9p share while the
# counter writes it once lost a write there ("2\n" came back as NULs in
# the host's copy, before any checkpoint; seen in 1 of 4 CI-style runs).
sleep 2
take "$app" "$fresh/counter.dump"
check "a dump is left for the restore after a reboot" ld-chpox --info "$fresh/counter.dump"
# And one in the middle of a 20 s sleep on the monotonic clock, which starts
# again from about zero in the next boot.
sleep 20 &
app=$!
sleep 4
take "$app" "$fresh/sleep.dump"
check "... and one of a sleeping process" ld-chpox --info "$fresh/sleep.dump"
echo clear >/proc/chpox
