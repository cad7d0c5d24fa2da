# SPDX-License-Identifier: GPL-2.0
# Forked snapshots (`chpoxctl add --snapshot`, flag 32): the tree stops
# for its registers, files and signals, each process forks a copy-on-write
# copy that writes its memory, and the tree goes on meanwhile. The dump is
# still one instant, the copies are reaped and never seen by the program,
# and a process that cannot fork (RLIMIT_NPROC) is dumped stopped as before.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/snapshot.XXXXXX)

# owned_by_file FILE UID: FILE exists and belongs to UID.
owned_by_file() {
	[ "$(stat -c %u "$1" 2>/dev/null)" = "$2" ]
}
# traced PID: PID has a tracer.
traced() {
	[ "$(awk '/^TracerPid:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" -gt 0 ] 2>/dev/null
}
# no_children PID: PID has no child process (its copy was reaped).
no_children() {
	[ -z "$(kids "$1")" ]
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

# --- memory written while the process goes on ---------------------------------------
# The workload of `make bench` writes its memory all the time; after a
# restore every process checks that each page holds what it wrote last
# before the instant its registers are of (`ctl verify`). The dump of
# 256 MiB takes seconds here: the processes must make progress meanwhile.
ctl() { chpox-testprog bench-ctl "$work/stats" "$@"; }
kv() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }
# snap_workload NAME FLAGS WORKLOAD_OPTIONS...: runs the bench workload,
# checkpoints it with --snapshot and FLAGS, restores it and checks it.
snap_workload() {
	local name=$1 flags=$2 out pids ld
	shift 2
	rm -f "$work/stats"
	chpox-testprog bench-workload "$@" --stats "$work/stats" </dev/null >/dev/null 2>&1 &
	app=$!
	wait_until 60 test -s "$work/stats"
	pids=$(kv pids "$(ctl ready 5)" | tr , ' ')
	chpoxctl add --snapshot "$app" SIGUSR2 "$flags" "$work/$name.dump" >/dev/null
	out=$(ctl chpox-dump "$app" 12)
	echo "# $name: $out"
	check "$name: the processes went on while their memory was written" \
		test "$(kv iters "$out")" -ge 20
	# shellcheck disable=SC2086 # a list of pids
	check "... and their copies are reaped" wait_until 20 no_children_but "$app" $pids
	# shellcheck disable=SC2086
	kill_tree $pids "$app"
	out=$(ctl restore "$work/$name.ld" ld-chpox "$work/$name.dump")
	ld=$(kv pid "$out")
	expect_match "... restored, every process checks its memory" "bad=0" "$(ctl verify)"
	# shellcheck disable=SC2086
	kill_tree $pids "$ld"
}
# no_children_but ROOT PIDS...: ROOT's tree is PIDS (the workload's own).
no_children_but() {
	local root=$1
	shift
	[ "$(tree_of "$root" | sort -n | tr '\n' ' ')" = "$(printf '%s\n' "$@" | sort -n | tr '\n' ' ')" ]
}
snap_workload one 1 --mib 256
snap_workload tree 9 --mib 32 --children 3

# --- a process of the tree killed while it forks ------------------------------------
# Whenever the child dies (before it stops, while it forks, while its copy
# writes), the checkpoint ends, done or failed, and the rest goes on.
rm -f "$work/stats"
chpox-testprog bench-workload --mib 8 --children 2 --stats "$work/stats" </dev/null >/dev/null 2>&1 &
app=$!
wait_until 60 test -s "$work/stats"
pids=$(kv pids "$(ctl ready 5)" | tr , ' ')
victim=${pids##* }
chpoxctl add --snapshot "$app" SIGUSR2 9 "$work/killed.dump" >/dev/null
kill -USR2 "$app"
kill -9 "$victim"
check "a tree with a process killed as it forks: the checkpoint ends" \
	wait_until 60 field_is "$app" state idle
check "... and the root goes on" kill -0 "$app"
# shellcheck disable=SC2086 # a list of pids
kill_tree "$app" $pids

# --- threads -------------------------------------------------------------------------
chpox-testprog tls-threads 8 6 >"$work/tls.out" &
app=$!
wait_until 20 started "$work/tls.out" 1
take_with --snapshot "$app" "$work/tls.dump"
out=$(ld-chpox "$work/tls.dump" 2>&1)
expect_eq "8 threads checkpointed with --snapshot each go on with their own TLS" 0 "$?"

# --- the program's own children ---------------------------------------------------------
# A parent blocked in wait() for its child: the checkpoint interrupts the
# call, which goes on; neither wait(), nor SIGCHLD, nor __WALL ever show
# the copy.
chpox-testprog waiter 4 >"$work/waiter.out" &
waiter=$!
wait_until 20 started "$work/waiter.out" 1
chpoxctl add --snapshot "$waiter" SIGUSR2 1 "$work/waiter.dump" >/dev/null
before=$(field "$waiter" checkpoints)
kill -USR2 "$waiter"
check "a parent in wait() is checkpointed with --snapshot" wait_until 30 done_more "$waiter" "$before"
wait "$waiter"
expect_eq "... its wait() goes on and returns its child only" 0 "$?"
expect_eq "... one SIGCHLD, and nothing else to wait for, even with __WALL" \
	"child 7 sigchld 1 others none" "$(sed -n 2p "$work/waiter.out")"

# --- a traced process -------------------------------------------------------------------
# A tracer would see the injected clone(): a process under ptrace is not
# made to fork (EOPNOTSUPP, said in the kernel log) and is written stopped.
# (The test kernel has no seccomp, the other case refused the same way.)
chpox-testprog counter 60 >"$work/traced.out" &
app=$!
wait_until 20 started "$work/traced.out" 3
# PTRACE_SEIZE: traced, not stopped.
python3 -c 'import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
sys.exit(1) if libc.ptrace(0x4206, int(sys.argv[1]), 0, 0) else time.sleep(60)' "$app" &
tracer=$!
wait_until 20 traced "$app"
chpoxctl add --snapshot "$app" SIGUSR2 1 "$work/traced.dump" >/dev/null
before=$(field "$app" checkpoints)
kill -USR2 "$app"
check "a traced process registered with --snapshot is checkpointed" \
	wait_until 30 done_more "$app" "$before"
expect_match "... written stopped, as the kernel log says" \
	"pid $app cannot fork \(error -95\)" "$(dmesg | grep 'cannot fork')"
kill "$tracer"
wait "$tracer" 2>/dev/null
kill -9 "$app"
wait "$app" 2>/dev/null
ld-chpox "$work/traced.dump" >"$work/traced.ld" 2>&1
expect_eq "... restored (untraced), it exits 0" 0 "$?"
expect_eq "... its file equals an uninterrupted run" "$(seq 1 60)" "$(cat "$work/traced.out")"

# --- a user's process, and one that cannot fork -------------------------------------------
# The user registers their own process. With RLIMIT_NPROC at 1 the copy
# cannot be forked (EAGAIN): the memory is written during the stop, as
# without the flag, and the checkpoint is as good.
chmod 755 "$work"
mkdir "$work/user"
chown 1000:1000 "$work/user"
for limit in unlimited 1; do
	# The restored program opens its output again, as the user.
	install -o 1000 -g 1000 /dev/null "$work/user/c.out"
	prlimit --nproc="$limit" chpox-testprog as-user 1000 chpox-testprog noise 16 6 \
		>"$work/user/c.out" &
	app=$!
	wait_until 20 started "$work/user/c.out" 1
	as_user 1000 chpoxctl add --snapshot "$app" SIGUSR2 1 "$work/user/c.dump" >/dev/null
	held_checkpoint "$app" "$app"
	check "a user's process with RLIMIT_NPROC $limit: checkpointed with --snapshot" \
		owned_by_file "$work/user/c.dump" 1000
	kill -9 "$app"
	wait "$app" 2>/dev/null
	as_user 1000 ld-chpox "$work/user/c.dump" >"$work/user/ld.out" 2>&1
	expect_eq "... restored by the user, it exits 0" 0 "$?"
	expect_eq "... with its memory intact" "pattern ok" "$(tail -1 "$work/user/c.out")"
	rm -f "$work/user/c.dump"
done
expect_match "... the second one could not fork, and the kernel log says so" \
	"pid $app cannot fork \(error -11\)" "$(dmesg | grep 'cannot fork')"

rm -rf "$work"
