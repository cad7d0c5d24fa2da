# SPDX-License-Identifier: GPL-2.0
# Multithreaded processes (issue 11): every thread is checkpointed at a
# safe point and ld-chpox brings each back with its tid, registers, TLS,
# signal state, altstack, robust list and interrupted call. The programs
# (chpox-testprog, threads.rs) print only lines whose order does not depend
# on timing: a restored run's output must equal an uninterrupted run's.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/threads.XXXXXX)

# run_bg NAME COMMAND...: starts COMMAND with its output in $work/NAME.out
# and its pid in $APP (killed by cleanup_procs if the test stops early).
run_bg() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" &
	APP=$!
	TEST_PIDS+=("$APP")
}
# reference NAME COMMAND...: an uninterrupted run in the background, its
# output in $work/NAME.ref and its status in $work/NAME.rc once it ends.
reference() {
	local name=$1
	shift
	{
		"$@" >"$work/$name.ref" 2>&1
		echo $? >"$work/$name.rc"
	} &
}
# ref NAME: the reference run's output and status, waiting for it to end.
ref() {
	wait_until 120 test -e "$work/$1.rc"
	cat "$work/$1.ref"
	echo "exit $(cat "$work/$1.rc")"
}
# restored DUMP NAME: restores DUMP (ld-chpox's own output in $work/NAME.ld)
# and prints the output the program left in $work/NAME.out and its status,
# in the form ref prints. A restore that hangs is ended after 120 s.
restored() {
	timeout --foreground 120 ld-chpox "$1" >"$work/$2.ld" 2>&1
	local rc=$?
	cat "$work/$2.out"
	echo "exit $rc"
}
# other_thread PID: a thread of PID that is not its leader.
other_thread() {
	ls "/proc/$1/task" | grep -vx "$1" | head -1
}
# threads_listed DUMP N: ld-chpox --info says the dump's process has N
# threads. TODO: match the exact wording once ld-chpox's is settled (today
# "..., N thread(s)" on the process line).
threads_listed() {
	local info
	info=$(ld-chpox --info "$1" 2>&1)
	[[ $(grep -i thread <<<"$info") =~ (^|[^0-9])$2\ thread|[Tt]hreads?[:=\ ]+$2([^0-9]|$) ]] ||
		{ echo "$info"; return 1; }
}
# is_zombie PID: PID (the thread group leader) has exited, state Z.
is_zombie() {
	[ "$(proc_state "$1")" = Z ]
}

# Uninterrupted runs to compare with, all at once: they mostly sleep.
reference link chpox-testprog thread-linkage 40
reference pc chpox-testprog prodcons 1500 10
for prog in thread-signals thread-sleepers robust-mutex pi-mutex; do
	reference "$prog" chpox-testprog "$prog" 4
done
reference tree bash -c 'chpox-testprog thread-linkage 80; echo "child exited $?"'

# --- the BLCR linkage pattern: checkpointed during each pair ------------------
# Two runs at once: one is checkpointed while its first pair of threads
# runs, the other while its second pair runs (the first already joined).
run_bg link1 chpox-testprog thread-linkage 40
link1=$APP
run_bg link2 chpox-testprog thread-linkage 40
link2=$APP
wait_until 30 has "$work/link1.out" "pair 1 thread 1 step 2"
take "$link1" "$work/link1.dump"
check "linkage: checkpointed before the first pair was joined" \
	test -z "$(grep -x 'pair 1 joined' "$work/link1.out")"
wait_until 30 has "$work/link2.out" "pair 2 thread 1 step 2"
take "$link2" "$work/link2.dump"
check "... another one during the second pair" \
	test -z "$(grep -x 'pair 2 joined' "$work/link2.out")"
expect_eq "... restored during the first pair: output and status (3) of an uninterrupted run" \
	"$(ref link)" "$(restored "$work/link1.dump" link1)"
expect_eq "... restored during the second pair: the same" \
	"$(ref link)" "$(restored "$work/link2.dump" link2)"

# --- producer and consumer, checkpointed again and again ----------------------
run_bg pc chpox-testprog prodcons 1500 10
pc=$APP
wait_until 30 has "$work/pc.out" "consumed 50"
proc_write "add $pc 12 1 $work/pc.dump" >/dev/null
for n in 1 2 3 4 5; do
	# Items flow between checkpoints: wait for the next "consumed" line.
	lines=$(wc -l <"$work/pc.out")
	wait_until 30 started "$work/pc.out" $((lines + 1))
	held_checkpoint "$pc" "$pc"
	expect_eq "producer/consumer: checkpoint $n while items flow succeeds" \
		"$n ok" "$(field "$pc" checkpoints) $(field "$pc" last)"
done
check "ld-chpox --info shows the three threads" threads_listed "$work/pc.dump" 3
kill -9 "$pc"
wait "$pc" 2>/dev/null
check "... the last taken before the consumer was done" \
	test -z "$(grep -x 'prodcons ok' "$work/pc.out")"
expect_eq "... killed, restored from the last dump: no item lost or doubled (exit 0)" \
	"$(ref pc)" "$(restored "$work/pc.dump" pc)"

# --- 64 threads with their TLS -------------------------------------------------
run_bg tls chpox-testprog tls-threads 64 4
tls=$APP
wait_until 60 has "$work/tls.out" ready
take "$tls" "$work/tls.dump"
expect_eq "tls-threads: checkpointed while the threads count" ready "$(tail -1 "$work/tls.out")"
check "ld-chpox --info shows 65 threads (64 and main)" threads_listed "$work/tls.dump" 65
expect_eq "64 busy threads restored: TLS counters, tids, pthread_self all their own" \
	"$(printf 'tls-threads: 64 threads\nready\ntls ok\nexit 0')" "$(restored "$work/tls.dump" tls)"

# --- blocked in the kernel or in a handler ---------------------------------
# Each program prints nothing between "ready" and the end of the window the
# checkpoint must land in: the original, killed just after the checkpoint,
# must not have printed anything after it either.
declare -A what=(
	[thread-signals]="per-thread masks, a SIGUSR1 pending for one thread only, a handler sleeping on its thread's sigaltstack"
	[thread-sleepers]="threads in clock_nanosleep, read on a pipe, a condvar and FUTEX_WAIT: each call completes, none with EINTR"
	[robust-mutex]="a robust mutex held across the checkpoint, its owner ending without unlocking: EOWNERDEAD"
	[pi-mutex]="a PI mutex held across the checkpoint, a waiter in FUTEX_LOCK_PI: handed over"
)
for prog in thread-signals thread-sleepers robust-mutex pi-mutex; do
	run_bg "$prog" chpox-testprog "$prog" 4
	wait_until 30 has "$work/$prog.out" ready
	take "$APP" "$work/$prog.dump"
	expect_eq "$prog: checkpointed inside its window" ready "$(tail -1 "$work/$prog.out")"
	expect_eq "... restored: ${what[$prog]}" "$(ref "$prog")" \
		"$(restored "$work/$prog.dump" "$prog")"
done

# --- a multithreaded member of a tree (flags 9) --------------------------------
# 80 steps: the first pair of threads runs 8 s or more, so that registering
# and stopping the tree after its second step still lands inside it under TCG.
run_bg tree bash -c 'chpox-testprog thread-linkage 80; echo "child exited $?"'
root=$APP
wait_until 30 has "$work/tree.out" "pair 1 thread 1 step 2"
proc_write "add $root 12 9 $work/tree.dump" >/dev/null
pids=$(tree_of "$root")
expect_eq "a shell and its threaded child" 2 "$(echo "$pids" | wc -l)"
held_checkpoint "$root" $pids
expect_eq "flags 9: the tree with a threaded member is checkpointed" ok "$(field "$root" last)"
kill_tree $pids
check "... during the child's first pair of threads" \
	test -z "$(grep -x 'pair 1 joined' "$work/tree.out")"
expect_eq "... restored together: output and status of an uninterrupted run" \
	"$(ref tree)" "$(restored "$work/tree.dump" tree)"

# --- the registered signal sent to a thread that is not the leader -----------
run_bg tg chpox-testprog thread-linkage 40
tg=$APP
wait_until 30 has "$work/tg.out" "pair 1 thread 0 step 2"
proc_write "add $tg 12 1 $work/tg.dump" >/dev/null
thread=$(other_thread "$tg")
check "tgkill of the registered signal to thread $thread, not the leader $tg" \
	chpox-testprog tgkill "$tg" "$thread" 12
wait_until 60 done_more "$tg" 0
expect_eq "... checkpoints the whole process" "1 ok" "$(field "$tg" checkpoints) $(field "$tg" last)"
wait "$tg"
rc=$?
expect_eq "... which never sees the signal and ends as an uninterrupted run" \
	"$(ref link)" "$(cat "$work/tg.out"; echo "exit $rc")"
# Its output is complete already: the restored copy writes the same again.
expect_eq "... and its dump restores (exit 3, same output)" \
	"$(ref link)" "$(restored "$work/tg.dump" tg)"

# --- a zombie leader: refused, the process runs on ----------------------------
mkdir "$work/zl"
run_bg zl chpox-testprog zombie-leader "$work/zl"
zl=$APP
wait_until 30 has "$work/zl.out" ready
wait_until 30 is_zombie "$zl"
proc_write "add $zl 12 1 $work/zl.dump" >/dev/null
kill -USR2 "$zl"
wait_until 60 field_is "$zl" last failed
expect_eq "a process whose main thread has exited is refused (threads, EOPNOTSUPP)" "threads 95" \
	"$(field "$zl" last_step) $(field "$zl" last_errno)"
check "... no dump is written" test ! -e "$work/zl.dump"
touch "$work/zl/go"
wait "$zl"
rc=$?
expect_eq "... and its other thread runs on to the end (exit 0)" \
	"$(printf 'ready\nthread done\nexit 0')" "$(cat "$work/zl.out"; echo "exit $rc")"

echo clear >/proc/chpox
rm -rf "$work"
