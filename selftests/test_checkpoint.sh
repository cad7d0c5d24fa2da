# SPDX-License-Identifier: GPL-2.0
# Checkpointing with kill: the process dumps itself and goes on, unaware.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/ckpt.XXXXXX)

# checkpointed PID N: waits until PID has N successful checkpoints.
checkpointed() {
	wait_until 60 field_is "$1" checkpoints "$2"
}
# failed PID: waits until PID's last checkpoint failed.
failed() {
	wait_until 60 field_is "$1" last failed
}

# --- the application never sees the signal ------------------------------
chpox-testprog counter 100000 >"$work/counter.out" &
counter=$!
TEST_PIDS+=("$counter")
wait_until 10 test -s "$work/counter.out"
proc_write "add $counter 12 1 $work/counter.dump" >/dev/null
kill -USR2 "$counter"
checkpointed "$counter" 1
expect_eq "kill -USR2 checkpoints a registered process" 1 "$(field "$counter" checkpoints)"
expect_eq "... which reports ok" ok "$(field "$counter" last)"
before=$(wc -l <"$work/counter.out")
sleep 1
check "... and goes on running" kill -0 "$counter"
expect_eq "... without ever seeing the signal (its handler reports any)" "" \
	"$(grep SIGNAL "$work/counter.out")"
check "... and keeps counting" test "$(wc -l <"$work/counter.out")" -gt "$before"
expect_eq "the dump is mode 0600, owned by the registrant" "600 0" "$(stat -c '%a %u' "$work/counter.dump")"
info=$(ld-chpox --info "$work/counter.dump" 2>&1)
expect_match "ld-chpox --info accepts the dump" "process 0: pid $counter 'chpox-testprog'" "$info"
expect_match "... with its registers, memory, signals and files" \
	"thread 0: tid [0-9]+ .* rip .*memory: [0-9]+ areas.*signals: handlers for \[SIGHUP .*fd 1: file $work/counter.out" \
	"$(echo "$info" | tr '\n' ' ')"
kill -USR2 "$counter"
checkpointed "$counter" 2
expect_eq "a second kill replaces the dump (2 checkpoints)" 2 "$(field "$counter" checkpoints)"
expect_eq "no temporary file is left beside the dump" "" "$(ls -A "$work" | grep "\.chpox-")"
check "... and the new dump is valid" ld-chpox --info "$work/counter.dump"

# A default-fatal signal does not kill a registered process; the control
# without registration shows that it would.
spawn sleep 1000
victim=$SPAWNED
kill -USR2 "$victim"
wait "$victim" 2>/dev/null
expect_eq "control: SIGUSR2 kills an unregistered sleep" 1 "$(kill -0 "$victim" 2>/dev/null || echo 1)"
spawn sleep 1000
sleeper=$SPAWNED
proc_write "add $sleeper 12 1 $work/sleep.dump" >/dev/null
kill -USR2 "$sleeper"
checkpointed "$sleeper" 1
sleep 0.5
check "a registered SIGUSR2 does not kill a process with no handler" kill -0 "$sleeper"
spawn sleep 1000
sys=$SPAWNED
proc_write "add $sys 31 1 $work/sys.dump" >/dev/null
kill -SYS "$sys"
checkpointed "$sys" 1
sleep 0.5
check "a registered SIGSYS neither kills nor core-dumps" kill -0 "$sys"
expect_eq "... and leaves no core file" "" "$(ls core* 2>/dev/null)"

# --- blocked in a system call ------------------------------------------
mkfifo "$work/fifo"
cat "$work/fifo" >"$work/cat.out" &
reader=$!
TEST_PIDS+=("$reader")
exec 7>"$work/fifo"
echo before >&7
wait_until 10 grep -q before "$work/cat.out"
proc_write "add $reader 10 1 $work/cat.dump" >/dev/null
kill -USR1 "$reader"
checkpointed "$reader" 1
echo after >&7
exec 7>&-
wait "$reader"
expect_eq "a process blocked in read() on a pipe is checkpointed and its read goes on" \
	"before after" "$(tr '\n' ' ' <"$work/cat.out" | sed 's/ $//')"
expect_match "... its saved registers restart the read" "rip" "$(ld-chpox --info "$work/cat.dump")"

# --- refusals and failures leave everything running ---------------------
spawn_ready chpox-testprog threads 2
threaded=$SPAWNED
proc_write "add $threaded 12 1 $work/threads.dump" >/dev/null
kill -USR2 "$threaded"
checkpointed "$threaded" 1
expect_eq "a multithreaded process is checkpointed (issue 11)" ok "$(field "$threaded" last)"
check "... and keeps running" kill -0 "$threaded"
check "... and its dump is written and valid" ld-chpox --info "$work/threads.dump"

mkdir "$work/small"
mount -t tmpfs -o size=4m small "$work/small"
spawn sleep 1000
small=$SPAWNED
proc_write "add $small 12 1 $work/small/s.dump" >/dev/null
kill -USR2 "$small"
checkpointed "$small" 1
cp "$work/small/s.dump" "$work/s.first"
dd if=/dev/zero of="$work/small/fill" bs=64k 2>/dev/null
kill -USR2 "$small"
failed "$small"
expect_eq "on a full filesystem the checkpoint fails with ENOSPC" 28 "$(field "$small" last_errno)"
check "... the previous dump is intact" cmp "$work/s.first" "$work/small/s.dump"
expect_eq "... no temporary file is left" "" "$(ls -A "$work/small" | grep "\.chpox-")"
check "... and the process runs on" kill -0 "$small"
# The registration holds its directory (like a cwd): drop it to unmount.
proc_write "del $small" >/dev/null
umount "$work/small"

chmod 755 "$work"
mkdir -m 755 "$work/rootonly"
spawn chpox-testprog as-user 1000 sleep 1000
users=$SPAWNED
wait_until 30 owned_by "$users" 1000
as_user 1000 chpoxctl add "$users" SIGUSR2 1 "$work/rootonly/u.dump"
kill -USR2 "$users"
failed "$users"
expect_eq "the dump is written with the registrant's rights (EACCES here)" "open 13" \
	"$(field "$users" last_step) $(field "$users" last_errno)"
as_user 1000 chpoxctl del "$users"
mkdir -m 777 "$work/shared"
as_user 1000 chpoxctl add "$users" SIGUSR2 1 "$work/shared/u.dump"
kill -USR2 "$users"
checkpointed "$users" 1
expect_eq "... and owned by them" "600 1000" "$(stat -c '%a %u' "$work/shared/u.dump")"
expect_match "chpoxctl list shows the last checkpoint" "ok at [0-9]+: [0-9]+ bytes in" "$(chpoxctl list)"

# --- untouched memory is not saved ----------------------------------------
spawn_ready chpox-testprog sparse 1024 2
sparse=$SPAWNED
proc_write "add $sparse 12 1 $work/sparse.dump" >/dev/null
kill -USR2 "$sparse"
checkpointed "$sparse" 1
size=$(stat -c %s "$work/sparse.dump")
echo "# 1 GiB mapped, 2 MiB touched: dump of $size bytes"
check "a 1 GiB mapping with 2 MiB touched dumps in under 8 MiB" test "$size" -lt $((8 << 20))
check "... and at least the 2 MiB touched" test "$size" -gt $((2 << 20))

# --- ld-chpox refuses every damaged dump with its own message ------------
good=$work/counter.dump
# damage OFFSET BYTES: a copy of the good dump with BYTES written at OFFSET.
damage() {
	cp "$good" "$work/bad.dump"
	printf "$2" | dd of="$work/bad.dump" bs=1 seek="$1" conv=notrunc status=none
}
# rehead PYTHON-EXPR: a copy with header bytes changed and its checksum redone.
rehead() {
	python3 - "$good" "$work/bad.dump" "$1" <<'PY'
import sys
src, dst, change = sys.argv[1:]
b = bytearray(open(src, 'rb').read())
exec(change)
open(dst, 'wb').write(b)
PY
	# Sealed again with the header's checksum (rust/abi's).
	chpox-testprog patch-header "$work/bad.dump" 0 ""
}
expect_ld() { # DESCRIPTION REGEX
	local out
	out=$(ld-chpox "$work/bad.dump" 2>&1)
	local rc=$?
	if [ $rc = 1 ] && [[ $out =~ $2 ]]; then
		ok "$1"
	else
		not_ok "$1" "exit $rc: $out"
	fi
}
head -c $(($(stat -c %s "$good") / 2)) "$good" >"$work/bad.dump"
expect_ld "a truncated dump: its length is named" "is [0-9]+ bytes but the dump is [0-9]+ bytes"
# In the process section: ld-chpox never reads page contents, whose
# checksums the module verifies as it reads them.
damage 150 '\x55'
expect_ld "one flipped byte: a checksum mismatch" "checksum mismatch"
# first_page DUMP: the offset of the first page of the first pages section.
first_page() {
	python3 - "$1" <<'PY'
import struct, sys
b = open(sys.argv[1], 'rb').read()
at = 128
while at + 24 <= len(b):
    kind, _, n = struct.unpack_from('<IIQ', b, at)
    if kind == 7:
        print(at + 24 + 8 * struct.unpack_from('<I', b, at + 20)[0])
        break
    at += 20 + n
PY
}
damage "$(first_page "$good")" '\x55'
check "a flipped byte in a page: ld-chpox --info never reads it (the module does)" \
	ld-chpox --info "$work/bad.dump"
damage 0 'XXXX'
expect_ld "wrong magic: not a chpox dump" "not a chpox dump"
rehead "b[36:100] = b'5.10.0-old'.ljust(64, b'\\0')"
expect_ld "another kernel release: named" "taken on kernel 5.10.0-old, this is $(uname -r)"
rehead "b[12:16] = (0xc00000b7).to_bytes(4, 'little')"
expect_ld "another architecture: named" "another architecture \(0xc00000b7\)"
rehead "b[8:12] = (7).to_bytes(4, 'little')"
expect_ld "another format version: named" "dump format version 7"
: >"$work/bad.dump"
expect_ld "an empty file" "too short"

echo clear >/proc/chpox
umount "$work/small" 2>/dev/null
