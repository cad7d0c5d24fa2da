#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The chpox selftests. Run inside the test VM as root, e.g.:
#   scripts/vm-run -- selftests/run.sh [TEST-FILE...]
# Prints TAP, one line per case, and a closing "N passed, N failed" line.
# Test files are selftests/test_*.sh, run in name order; the kernel log is
# checked last for anything the bug finders reported.

set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ "$(id -u)" = 0 ] || { echo "run.sh: run as root inside the test VM" >&2; exit 2; }
PATH=$here/../target/release:$PATH

# Leaks found from here on are ours; kmemleak reports objects once.
KMEMLEAK=/sys/kernel/debug/kmemleak
[ -w $KMEMLEAK ] && echo clear >$KMEMLEAK
dmesg_start=$(dmesg | wc -l)

# Each test file runs in a subshell with a time limit, so that one that
# hangs costs its limit and a failure, not the results of all the files
# after it. The subshell hands its TAP counters back through a file.
FILE_TIMEOUT=${CHPOX_FILE_TIMEOUT:-1200}
TAP_STATE=$(mktemp /tmp/chpox-tap.XXXXXX)
# running PID: PID exists and has not exited (a zombie has).
running() {
	local state
	state=$(proc_state "$1")
	[ -n "$state" ] && [ "$state" != Z ]
}
durations=
files=("$@")
((${#files[@]})) || files=("$here"/test_*.sh)
for f in "${files[@]}"; do
	[ -e "$f" ] || f=$here/${f##*/}
	[ -e "$f" ] || { echo "run.sh: no test file $f" >&2; exit 2; }
	name=${f##*/}
	echo "# $name"
	tap_save
	started=$SECONDS
	(
		. "$f"
		cleanup_procs
	) &
	runner=$!
	while running $runner && ((SECONDS - started < FILE_TIMEOUT)); do
		sleep 1
	done
	hung= procs=
	if running $runner; then
		# What every process (kernel threads aside) was waiting for.
		procs=$(ps --pid 2 --ppid 2 --deselect -o pid,ppid,stat,wchan:32,args)
		hung=$(tree_of $runner)
		for p in $hung; do
			procs+=$'\n'"$p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
			procs+=$'\n'"$(cat "/proc/$p/stack" 2>/dev/null)"
		done
		# shellcheck disable=SC2086 # a list of pids
		kill_tree $hung
	fi
	wait $runner 2>/dev/null
	read -r TAP_N TAP_PASSED TAP_FAILED <"$TAP_STATE"
	[ -z "$hung" ] || not_ok "$name ends within $FILE_TIMEOUT s" \
		"killed with its processes: $(echo $hung)" "$procs"
	took=$((SECONDS - started))
	echo "# $name took $took s"
	durations+=" ${name%.sh} $took"
done
rm -f "$TAP_STATE"

# --- the kernel log must be clean --------------------------------------
modprobe -r chpox 2>/dev/null
if [ -w $KMEMLEAK ]; then
	# kmemleak only reports objects older than 5 s, seen unreferenced twice.
	sleep 6
	if echo scan >$KMEMLEAK && echo scan >$KMEMLEAK; then
		expect_eq "kmemleak reports no leak" "" "$(cat $KMEMLEAK)"
	else
		not_ok "kmemleak scans" "kmemleak is disabled: $(dmesg | grep -i kmemleak | tail -3)"
	fi
else
	not_ok "kmemleak is available" "$KMEMLEAK missing: the test kernel lacks DEBUG_KMEMLEAK"
fi
# lockdep switches itself off after its first report (or on overflow).
expect_match "lockdep is still checking" "debug_locks: +1" "$(grep debug_locks: /proc/lockdep_stats)"
splats=$(dmesg | tail -n +$((dmesg_start + 1)) |
	grep -E 'WARNING|BUG|Oops|lockdep|possible recursive locking|circular locking|KASAN|kmemleak|Call Trace|RCU stall|hung_task' || true)
if [ -z "$splats" ]; then
	ok "kernel log has no WARNING, BUG, Oops, lockdep, KASAN or kmemleak report"
else
	not_ok "kernel log has no WARNING, BUG, Oops, lockdep, KASAN or kmemleak report" \
		"$(dmesg | tail -n +$((dmesg_start + 1)))"
fi

# Last, where the output's tail shows it: where the time went.
echo "# seconds per file:$durations"
echo "1..$TAP_N"
echo "$TAP_PASSED passed, $TAP_FAILED failed"
[ $TAP_FAILED = 0 ]
