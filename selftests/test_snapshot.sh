# SPDX-License-Identifier: GPL-2.0
# Forked snapshots (`chpoxctl add --snapshot`, flag 32): the process stops
# for its registers, files and signals, forks a copy-on-write copy that
# writes its memory, and goes on meanwhile. The dump is still one instant,
# the copy is reaped and never seen by the program, and what cannot fork
# (a tree, a process under seccomp) is dumped stopped as before.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/snapshot.XXXXXX)

# take_snapshot PID DUMP [FLAGS]: as take, registered with chpoxctl
# --snapshot (FLAGS 1 unless given).
take_snapshot() {
	chpoxctl add --snapshot "$1" SIGUSR2 "${3:-1}" "$2" >/dev/null
	held_checkpoint "$1" "$1"
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# no_children PID: PID has no child process (its copy was reaped).
no_children() {
	[ -z "$(kids "$1")" ]
}
# pending PID: PID's checkpoint is under way.
pending() {
	field "$1" pending | grep -qx 1
}

# --- a counter --------------------------------------------------------------------
chpox-testprog counter 100 >"$work/counter.out" &
app=$!
wait_until 20 started "$work/counter.out" 3
expect_match "chpoxctl add --snapshot registers flags 33" "flags=33 " \
	"$(chpoxctl add --snapshot "$app" SIGUSR2 1 "$work/counter.dump" >/dev/null && listed "$app")"
held_checkpoint "$app" "$app"
check "... after the checkpoint the copy is reaped: no child left" wait_until 20 no_children "$app"
expect_match "... no warning in the kernel log" "^$" "$(dmesg | grep -i 'chpox.*copy\|WARNING\|BUG' || true)"
kill -9 "$app"
wait "$app" 2>/dev/null
ld-chpox "$work/counter.dump" >"$work/ld.out" 2>&1
expect_eq "a counter checkpointed with --snapshot is restored and exits 0" 0 "$?"
expect_eq "... its file equals an uninterrupted run" "$(seq 1 100)" "$(cat "$work/counter.out")"
