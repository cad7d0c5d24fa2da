# SPDX-License-Identifier: GPL-2.0
# TAP helpers for the chpox selftests (sourced by run.sh, bash).

TAP_N=0 TAP_PASSED=0 TAP_FAILED=0
# If TAP_STATE names a file, the counters are kept there too (run.sh runs
# each test file in a subshell and reads them back).
TAP_STATE=
tap_save() {
	[ -z "$TAP_STATE" ] || echo "$TAP_N $TAP_PASSED $TAP_FAILED" >"$TAP_STATE"
}

ok() {
	TAP_N=$((TAP_N + 1)) TAP_PASSED=$((TAP_PASSED + 1))
	tap_save
	echo "ok $TAP_N - $1"
}

# not_ok DESCRIPTION [DIAGNOSTIC LINE...]
not_ok() {
	TAP_N=$((TAP_N + 1)) TAP_FAILED=$((TAP_FAILED + 1))
	tap_save
	echo "not ok $TAP_N - $1"
	shift
	local line
	for line in "$@"; do
		printf '%s\n' "$line" | sed 's/^/#   /'
	done
}

# check DESCRIPTION COMMAND...: passes if COMMAND succeeds.
check() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then
		ok "$desc"
	else
		not_ok "$desc" "command: $*" "$out"
	fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "got:      $3"
	fi
}

# expect_match DESCRIPTION REGEX TEXT
expect_match() {
	if [[ $3 =~ $2 ]]; then
		ok "$1"
	else
		not_ok "$1" "expected to match: $2" "got: $3"
	fi
}

# proc_write COMMAND: writes COMMAND to /proc/chpox in one write(); prints OK
# or the error text of the errno the module returned. (The shell's own
# printf splits its output at newlines and at 4 KiB; dd writes one block.)
proc_write() {
	local out
	out=$(printf '%s' "$1" | dd of=/proc/chpox bs=64k iflag=fullblock status=none 2>&1)
	if [ -z "$out" ]; then
		echo OK
	else
		echo "${out##*: }"
	fi
}

# expect_proc DESCRIPTION EXPECTED COMMAND [USER]: writes COMMAND (as USER's
# uid if given) and compares the outcome with EXPECTED (OK or an errno text).
expect_proc() {
	local got
	if [ -n "${4:-}" ]; then
		got=$(as_user "$4" bash -c "$(declare -f proc_write); proc_write \"\$1\"" _ "$3")
	else
		got=$(proc_write "$3")
	fi
	expect_eq "$1" "$2" "$got"
}

# as_user UID COMMAND...: runs COMMAND with all uids and gids set to UID.
# (For background processes use `spawn chpox-testprog as-user UID ...` so
# that $! is the process itself, not a subshell.)
as_user() {
	chpox-testprog as-user "$@"
}

# field PID KEY: a field of PID's /proc/chpox line, empty if none.
field() {
	listed "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# field_is PID KEY VALUE: that field of PID's line has that value (for
# wait_until, which must evaluate it anew each time).
field_is() {
	[ "$(field "$1" "$2")" = "$3" ]
}

# done_more PID N: PID has more than N successful checkpoints; 2 ("never")
# once its registration is gone.
done_more() {
	local n
	n=$(field "$1" checkpoints)
	[ -n "$n" ] || return 2
	[ "$n" -gt "$2" ]
}

# held_checkpoint ROOT PIDS...: checkpoints the registered ROOT with PIDS
# (its tree, ROOT included) stopped until the signal is sent, so that the
# dump is of where they are now however slowly the machine runs: the
# checkpoint runs as they are continued. Waits for it to succeed.
held_checkpoint() {
	local root=$1 before
	shift
	kill -STOP "$@"
	before=$(field "$root" checkpoints)
	kill -USR2 "$root"
	kill -CONT "$@"
	wait_until 60 done_more "$root" "$before"
}
# take PID DUMP: registers PID, checkpoints it at a moment of our choosing
# (held_checkpoint), then kills it.
take() {
	proc_write "add $1 12 1 $2" >/dev/null
	held_checkpoint "$1" "$1"
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# take_with OPTION PID DUMP: as take, registered with `chpoxctl add
# OPTION` (--compress, --snapshot).
take_with() {
	chpoxctl add "$1" "$2" SIGUSR2 1 "$3" >/dev/null
	held_checkpoint "$2" "$2"
	kill -9 "$2" 2>/dev/null
	wait "$2" 2>/dev/null
}
# started FILE N: FILE has at least N lines.
started() {
	[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# restore_released DUMP GO LOG: restores DUMP with ld-chpox (its output in
# LOG), then creates GO, which the restored programs wait for; returns
# ld-chpox's status.
restore_released() {
	local ld
	ld-chpox "$1" >"$3" 2>&1 &
	ld=$!
	touch "$2"
	wait "$ld"
}
# shared_ok OUT: each line `chpox-testprog shared` writes to OUT once its
# shared memory came back intact and still shared.
shared_ok() {
	local what
	for what in "own page" "child's page" "memfd" "read-only page" "still shared"; do
		check "... $what" has "$1" "shared: $what ok"
	done
}
# has FILE TEXT: FILE has a line TEXT.
has() {
	grep -qx "$2" "$1" 2>/dev/null
}

# kids PID: the children of PID, by pid. (Not awk over /proc/*/stat: the
# guest's awk is mawk, which stops at the first file that vanished
# meanwhile and so missed children at random; and a name with a space
# shifts the fields.)
kids() {
	ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' ' | sort -n
}
# proc_state PID: PID's state letter (R, S, D, T, Z...), nothing if it is
# gone. (The name in /proc/PID/stat may hold spaces: read after its ")".)
proc_state() {
	local stat
	{ stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 0
	stat=${stat##*) }
	echo "${stat%% *}"
}
# in_read PID: PID is in a read() system call.
in_read() {
	[ "$(cut -d' ' -f1 "/proc/$1/syscall" 2>/dev/null)" = 0 ]
}

# owned_by PID UID: PID runs as UID.
owned_by() {
	[ "$(stat -c %u "/proc/$1" 2>/dev/null)" = "$2" ]
}

# listed PID: the /proc/chpox line of PID, empty if none.
listed() {
	grep "^pid=$1 " /proc/chpox || true
}

# Processes started by a test file, killed by cleanup_procs.
TEST_PIDS=()
spawn() { # COMMAND...: starts COMMAND in the background; its pid in $SPAWNED
	"$@" >/dev/null 2>&1 &
	SPAWNED=$!
	TEST_PIDS+=("$SPAWNED")
}
spawn_ready() { # like spawn, for chpox-testprog: waits until it says "ready"
	local fifo
	fifo=$(mktemp -u)
	mkfifo "$fifo"
	"$@" >"$fifo" 2>/dev/null &
	SPAWNED=$!
	TEST_PIDS+=("$SPAWNED")
	read -r _ <"$fifo"
	rm -f "$fifo"
}
cleanup_procs() {
	local p
	for p in "${TEST_PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	for p in "${TEST_PIDS[@]}"; do
		wait "$p" 2>/dev/null
	done
	TEST_PIDS=()
}

# wait_until TIMEOUT_SECONDS COMMAND...: polls COMMAND every 0.1 s until it
# succeeds; gives up after TIMEOUT_SECONDS of wall time (every poll costs
# process starts, slow under emulation), or at once if COMMAND returns 2
# ("it will never happen").
wait_until() {
	local end=$((SECONDS + $1)) status
	shift
	while true; do
		"$@"
		status=$?
		((status == 0)) && return 0
		((status == 2 || SECONDS >= end)) && return 1
		sleep 0.1
	done
}

# tree_of PID: PID and all its descendants.
tree_of() {
	local k
	echo "$1"
	for k in $(kids "$1"); do
		tree_of "$k"
	done
}
# gone PIDS...: none of PIDS exists any more.
gone() {
	local p
	for p in "$@"; do
		[ -e "/proc/$p" ] && return 1
	done
	return 0
}
# kill_tree PIDS...: kills them and waits until every pid is free again.
kill_tree() {
	kill -9 "$@" 2>/dev/null
	wait "$1" 2>/dev/null
	wait_until 20 gone "$@"
}
