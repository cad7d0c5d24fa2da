# SPDX-License-Identifier: GPL-2.0
# Process trees (flags 9): the whole tree stops, dumps into one file, and
# comes back with its shape, pipes, sockets and shared files.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/tree.XXXXXX)

# take_tree ROOT DUMP: registers ROOT with its tree (flags 9), checkpoints
# it held stopped, then kills the whole tree.
take_tree() {
	local pids
	proc_write "add $1 12 9 $2" >/dev/null
	pids=$(tree_of "$1")
	held_checkpoint "$1" $pids
	kill_tree $pids
}
# is_stopped PID: PID is in the stopped state (T).
is_stopped() {
	[ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)" = T ]
}
# lines FILE N: FILE has at least N lines.
lines() {
	[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

seq 1 10 >"$work/in"
squares=$(for i in $(seq 1 10); do echo $((i * i)); done)

# --- a parent, a reader child and a writer child ---------------------------
chpox-testprog squares "$work/in" "$work/sq.out" 1000 >"$work/sq.stdout" &
root=$!
wait_until 30 lines "$work/sq.out" 3
proc_write "add $root 12 9 $work/sq.dump" >/dev/null
pids=$(tree_of "$root")
expect_eq "the tree has a parent and two children" 3 "$(echo "$pids" | wc -l)"
held_checkpoint "$root" $pids
expect_eq "flags 9: the whole tree is checkpointed into one file" "ok" "$(field "$root" last)"
expect_match "... which holds three processes" " 3 process" \
	"$(ld-chpox --info "$work/sq.dump" | head -1)"
kill_tree $pids
expect_eq "... and the killed tree's pids are free" 0 "$?"
ld-chpox "$work/sq.dump" >"$work/ld.out" 2>"$work/ld.err"
expect_eq "the restored tree finishes as the original would (exit 0)" 0 "$?"
expect_eq "... its output file equals an uninterrupted run's" "$squares" "$(cat "$work/sq.out")"
# The parent's standard output was a file: reopened, at its offset.
expect_eq "... the parent counted every number" "done 10" "$(cat "$work/sq.stdout")"
expect_eq "... and ld-chpox had nothing to say" "" "$(cat "$work/ld.out" "$work/ld.err")"

# --- checkpointed while the parent sleeps in its SIGUSR1 handler -----------
chpox-testprog squares "$work/in" "$work/h.out" 1000 >"$work/h.stdout" &
root=$!
wait_until 30 lines "$work/h.out" 2
proc_write "add $root 12 9 $work/h.dump" >/dev/null
pids=$(tree_of "$root")
kill -USR1 "$root"
sleep 2 # well inside the ten-second handler; the reader keeps writing
held_checkpoint "$root" $pids
kill_tree $pids
expect_eq "the original had not printed the count yet" "" "$(cat "$work/h.stdout")"
ld-chpox "$work/h.dump" >"$work/hld.out" 2>&1 &
ld=$!
sleep 2
expect_eq "restored inside the handler: no count printed yet" "" "$(cat "$work/h.stdout")"
wait "$ld"
expect_eq "... the restored tree finishes (exit 0)" 0 "$?"
expect_match "... the handler ended and printed the count" "^count [0-9]+" \
	"$(head -1 "$work/h.stdout")"
expect_eq "... then returned to the interrupted read: all numbers counted" \
	"done 10" "$(tail -1 "$work/h.stdout")"
expect_eq "... and the output file equals an uninterrupted run's" "$squares" \
	"$(cat "$work/h.out")"

# --- unread pipe data both ways, datagrams, a shared file offset ------------
mkdir "$work/ipc"
chpox-testprog ipc "$work/ipc" >"$work/ipc.out" &
root=$!
wait_until 30 lines "$work/ipc.out" 3
take_tree "$root" "$work/ipc.dump"
# Their standard output, a file, is reopened at its offset: the results
# follow the "ready" lines.
restore_released "$work/ipc.dump" "$work/ipc/go" "$work/ipc.ld"
expect_eq "pipes, datagrams, packets, a listener, groups and a shared file come back (exit 0)" 0 "$?"
for what in "child: pipe" "child: datagrams" "parent: pipe" "parent: datagrams" \
	"parent: packets" "parent: named socket" "parent: accepted socket's name" \
	"child: peer's name" "parent: listener" "parent: groups" \
	"child: session" "group leader: group" \
	"parent: shared offset"; do
	check "... $what: as left at the checkpoint" has "$work/ipc.out" "$what ok"
done

# --- children that exited and were not waited for (zombies) ----------------
mkdir "$work/z"
chpox-testprog zombies "$work/z" >"$work/z.out" &
root=$!
wait_until 30 lines "$work/z.out" 1
take_tree "$root" "$work/z.dump"
expect_eq "two exited children not waited for are in the dump" 2 \
	"$(ld-chpox --info "$work/z.dump" | grep -c 'not waited for')"
restore_released "$work/z.dump" "$work/z/go" "$work/z.ld"
expect_eq "restored, the parent's wait() finds them (exit 0)" 0 "$?"
for what in "exit code" "killing signal" "live child"; do
	check "... zombies: $what: as at the checkpoint" has "$work/z.out" "zombies: $what ok"
done

# --- a shell waiting in wait() for a child sleeping in nanosleep -----------
bash -c 'sleep 6; echo "child done $?"' >"$work/w.out" &
root=$!
sleep 2
take_tree "$root" "$work/w.dump"
ld-chpox "$work/w.dump"
expect_eq "bash in wait() and its sleeping child come back (exit 0)" 0 "$?"
expect_eq "... the child finished its sleep and bash's wait() saw it" "child done 0" \
	"$(cat "$work/w.out")"

# --- a member that cannot stop: the checkpoint times out, nothing harmed ----
# 30 numbers: the tree must outlive a first checkpoint on a slow guest, the
# 10 s freeze timeout and the checks.
seq 1 30 >"$work/in30"
chpox-testprog squares "$work/in30" "$work/t.out" 1000 >"$work/t.stdout" &
root=$!
wait_until 30 lines "$work/t.out" 1
proc_write "add $root 12 9 $work/t.dump" >/dev/null
kill -USR2 "$root"
wait_until 60 done_more "$root" 0
before=$(md5sum <"$work/t.dump")
# The writer (forked last) lives until the end; the reader may be done.
writer=$(kids "$root" | tail -1)
kill -STOP "$writer"
# Only once it has stopped: a member still on its way to the stop runs the
# checkpoint's task work first (get_signal() runs task work before it
# handles SIGSTOP), arrives, and the checkpoint rightly succeeds.
wait_until 10 is_stopped "$writer"
kill -USR2 "$root"
wait_until 60 field_is "$root" last failed
expect_eq "a stopped member makes the checkpoint time out (freeze, ETIMEDOUT)" \
	"freeze 110" "$(field "$root" last_step) $(field "$root" last_errno)"
expect_eq "... the previous dump is intact" "$before" "$(md5sum <"$work/t.dump")"
kill -CONT "$writer"
wait "$root"
expect_eq "... and the tree runs on to its end (exit 0)" 0 "$?"
expect_eq "... with its whole output" "$(for i in $(seq 1 30); do echo $((i * i)); done)" \
	"$(cat "$work/t.out")"

# --- flag 1 on a parent with children: the parent alone --------------------
chpox-testprog squares "$work/in" "$work/p.out" 1000 >"$work/p.stdout" &
root=$!
wait_until 30 lines "$work/p.out" 2
proc_write "add $root 12 1 $work/p.dump" >/dev/null
pids=$(tree_of "$root")
held_checkpoint "$root" $pids
expect_match "flag 1 dumps the parent alone" " 1 process" \
	"$(ld-chpox --info "$work/p.dump" | head -1)"
kill_tree $pids
timeout 60 ld-chpox "$work/p.dump" >"$work/pld.out" 2>&1
rc=$?
check "... restored, it ends instead of waiting for its missing children" test "$rc" != 124
expect_match "... ld-chpox says its pipe led outside the dump" \
	"pipe:\[[0-9]+\] led to a process outside the dump" "$(cat "$work/pld.out")"
expect_match "... and so did its socket" \
	"socket:\[[0-9]+\] was connected to a process outside" "$(cat "$work/pld.out")"

echo clear >/proc/chpox
rm -rf "$work"
