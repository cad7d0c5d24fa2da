# SPDX-License-Identifier: GPL-2.0
# The fuzz test against the real module (Documentation/testing.rst): real
# dumps of a few programs, mutated by `chpox-fuzz guest` (bit flips; counts
# and lengths set to 0, the maximum, just past the end; sections dropped,
# repeated, reordered; checksums fixed), restored by an unprivileged user
# straight through /proc/chpox and through ld-chpox. Nothing may panic or
# get stuck in the kernel, and the kernel log must stay clean (run.sh checks
# it once more at the end).
#
# CHPOX_FUZZ_VM_CASES: number of cases (300 here; `make fuzz-vm` runs tens
# of thousands); CHPOX_FUZZ_VM_SEED: another generator seed (other cases).
# CHPOX_FUZZ_KEEP: where failing inputs are kept
# (target/fuzz-guest). CHPOX_SEED_OUT: if set, the two smallest seed dumps
# of different programs are copied there (to be committed to fuzz/seeds).

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/fuzz.XXXXXX)
chmod 755 "$work"
fuzz_uid=1000
# The user's directory: their programs' output and their dumps (a restore
# opens every file again with the restorer's rights).
mkdir -m 777 "$work/u"
seeds=$work/seeds
mkdir "$seeds"

# fuzz_tree PID: PID and all its descendants.
fuzz_tree() {
	local k
	echo "$1"
	for k in $(kids "$1"); do
		fuzz_tree "$k"
	done
}
# runs PID NAME: PID runs the program NAME (set-up wrappers have exec'd).
runs() {
	[ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
# user_seed PID FLAGS NAME: the user registers their PID (flags 1, or 9
# with its tree), it is checkpointed held, then killed with its tree; the
# dump, owned by the user, is copied to the seeds as NAME.
user_seed() {
	local pids
	pids=$(fuzz_tree "$1")
	as_user $fuzz_uid chpoxctl add "$1" SIGUSR2 "$2" "$work/u/$3" >/dev/null
	held_checkpoint "$1" $pids
	kill -9 $pids 2>/dev/null
	wait "$1" 2>/dev/null
	cp "$work/u/$3" "$seeds/$3" 2>/dev/null
}

# --- seed dumps: real programs, checkpointed in this guest -----------------
# Started with ASLR off (setarch -R), as the restoring side may be: their
# memory map is then where a restorer's is, which takes the fuzzer deeper.
# root's sleep
spawn setarch -R sleep 1000
app=$SPAWNED
wait_until 30 runs "$app" sleep
take "$app" "$seeds/sleep-root.dump"
# the user's sleep, ASLR on
spawn chpox-testprog as-user $fuzz_uid sleep 1000
app=$SPAWNED
wait_until 30 owned_by "$app" $fuzz_uid
wait_until 30 runs "$app" sleep
user_seed "$app" 1 sleep-user.dump
# user_program NAME ARGS...: the user's chpox-testprog ARGS, ASLR off, in
# their directory, writing to NAME.out there; once it has written 3 lines,
# its pid is in $app.
user_program() {
	local name=$1
	shift
	as_user $fuzz_uid touch "$work/u/$name.out"
	(cd "$work/u" && exec chpox-testprog as-user $fuzz_uid setarch -R chpox-testprog "$@") \
		</dev/null >"$work/u/$name.out" 2>/dev/null &
	app=$!
	TEST_PIDS+=("$app")
	wait_until 30 started "$work/u/$name.out" 3
}
# the user's counter writing to a file, with signal handlers and rseq
user_program counter counter 100000
user_seed "$app" 1 counter-user.dump
# the same, its pages compressed (flag 16): zstd frames for the module
user_program counter-zstd counter 100000
user_seed "$app" 17 counter-zstd-user.dump
# the user's tree: pipes with unread data, datagram, seqpacket and stream
# sockets, a named listener, a session and a group of its own
mkdir -m 777 "$work/u/ipc"
user_program ipc ipc "$work/u/ipc"
user_seed "$app" 9 ipc-user.dump
echo clear >/proc/chpox

made=() bad=()
for f in sleep-root sleep-user counter-user counter-zstd-user ipc-user; do
	if ld-chpox --info "$seeds/$f.dump" >/dev/null 2>&1; then
		made+=("$f")
	else
		bad+=("$f: $(ls -l "$seeds/$f.dump" 2>&1)")
	fi
done
if ((${#bad[@]} == 0)); then
	ok "five real seed dumps made: root's and a user's sleep, a counter (plain and compressed), a tree with pipes and sockets"
else
	not_ok "five real seed dumps made: root's and a user's sleep, a counter (plain and compressed), a tree with pipes and sockets" \
		"${bad[@]}"
fi
echo "# seeds: $(cd "$seeds" && ls -s --block-size=K | tr '\n' ' ')"
if [ -n "${CHPOX_SEED_OUT:-}" ]; then
	# The smallest dumps of two different programs.
	mkdir -p "$CHPOX_SEED_OUT"
	cp "$seeds/sleep-root.dump" "$seeds/counter-user.dump" "$CHPOX_SEED_OUT/"
	echo "# sleep-root.dump and counter-user.dump copied to $CHPOX_SEED_OUT"
fi

# --- the fuzzer ---------------------------------------------------------------
cases=${CHPOX_FUZZ_VM_CASES:-300}
keep=${CHPOX_FUZZ_KEEP:-$here/../target/fuzz-guest}
if ((${#made[@]})); then
	# Its progress goes to the console as TAP comments.
	chpox-fuzz guest --uid $fuzz_uid --seeds "$seeds" --cases "$cases" --keep "$keep" \
		${CHPOX_FUZZ_VM_SEED:+--seed "$CHPOX_FUZZ_VM_SEED"} \
		2>&1 >"$work/fuzz.out" | tee "$work/fuzz.err" | sed -u 's/^/# /'
	rc=${PIPESTATUS[0]}
else
	rc="no seeds"
fi
sed 's/^/# /' "$work/fuzz.out"
summary=$(grep '^guest-fuzz:' "$work/fuzz.out" 2>/dev/null)
# fuzz_count NAME: a number of the summary line.
fuzz_count() {
	sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$summary"
}
failures=$(grep -A12 'FAILURE' "$work/fuzz.err" 2>/dev/null | head -60)
expect_eq "chpox-fuzz guest ran all $cases cases" "$cases" "$(fuzz_count cases)"
expect_eq "... and succeeded" 0 "$rc"
expect_eq "... ld-chpox never panicked on a mutated dump" 0 "$(fuzz_count panics)"
expect_eq "... no process was stuck in the kernel after SIGKILL" 0 "$(fuzz_count stuck)"
expect_eq "... the kernel log stayed clean after every case" 0 "$(fuzz_count kernel)"
expect_eq "... every case ran as planned (the harness itself)" 0 "$(fuzz_count harness)"
if [ "$(fuzz_count failures)" != 0 ]; then
	echo "# failing inputs are in $keep"
	printf '%s\n' "$failures" | sed 's/^/# /'
fi
# The mutations must not all be stopped at the door: the seeds as they are
# (one case in twenty) and some mutated dumps are restored.
check "... some dumps were restored straight through /proc/chpox" \
	test "$(fuzz_count direct_restored)" -gt 0
check "... and some through ld-chpox" test "$(fuzz_count ld_restored)" -gt 0
check "the VM is alive: /proc/chpox answers" test -r /proc/chpox -a -w /proc/chpox
check "... and takes a command" test "$(proc_write clear)" = OK
rm -rf "$work"
