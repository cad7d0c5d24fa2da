# SPDX-License-Identifier: GPL-2.0
# Restore: checkpoint a running program, kill it, ld-chpox brings it back,
# and what it produces equals an uninterrupted run.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/restore.XXXXXX)

# --- a counter writing to a file, reading the clock ------------------------
chpox-testprog counter 100 >"$work/counter.out" &
app=$!
wait_until 20 started "$work/counter.out" 3
take "$app" "$work/counter.dump"
ld-chpox "$work/counter.dump" >"$work/ld.out" 2>&1
rc=$?
expect_eq "a restored counter exits as the original would (0)" 0 "$rc"
expect_eq "... and its file equals an uninterrupted run: no gap, no repeat" \
	"$(seq 1 100)" "$(cat "$work/counter.out")"
expect_eq "... its clock never went back, no signal reached it, rseq and /proc/self/exe are its own" "" \
	"$(grep -E 'CLOCK|SIGNAL|RSEQ|EXE' "$work/counter.out" "$work/ld.out")"

# --- three checkpoints in a row, restore from the last ----------------------
chpox-testprog counter 200 >"$work/three.out" &
app=$!
wait_until 20 started "$work/three.out" 1
proc_write "add $app 12 1 $work/three.dump" >/dev/null
for n in 1 2 3; do
	held_checkpoint "$app" "$app"
done
expect_eq "three checkpoints in a row" 3 "$(field "$app" checkpoints)"
kill -9 "$app"
wait "$app" 2>/dev/null
ld-chpox "$work/three.dump" >/dev/null 2>&1
expect_eq "... restoring the last continues from it" "$(seq 1 200)" "$(cat "$work/three.out")"

# --- registers: x87, SSE and AVX live across the checkpoint ------------------
chpox-testprog fpu 60 >"$work/fpu.ref"
chpox-testprog fpu 60 >"$work/fpu.out" &
app=$!
wait_until 20 started "$work/fpu.out" 3
take "$app" "$work/fpu.dump"
ld-chpox "$work/fpu.dump" >/dev/null 2>&1
expect_eq "the test CPU has AVX (QEMU -cpu max)" "registers: x87, sse, avx" \
	"$(head -1 "$work/fpu.ref")"
expect_eq "x87, SSE and AVX registers live at checkpoint time survive restore" \
	"$(cat "$work/fpu.ref")" "$(cat "$work/fpu.out")"

# --- blocked in nanosleep and in read ---------------------------------------
# Checkpointed about halfway through an 8 s sleep: the restored copy sleeps
# what was left, as after a signal (restart_syscall), not 8 s again.
sleep 8 &
app=$!
sleep 4
take "$app" "$work/sleep.dump"
start=$(date +%s)
ld-chpox "$work/sleep.dump"
rc=$?
elapsed=$(($(date +%s) - start))
echo "# the restored sleep took $elapsed s"
expect_eq "a process restored inside nanosleep finishes its sleep and exits 0" 0 "$rc"
check "... sleeping only the time that was left (about 4 s, not 8)" \
	test "$elapsed" -ge 2 -a "$elapsed" -le 6

{ sleep 1; echo early; sleep 100; } | cat >"$work/cat.out" &
wait_until 10 grep -q early "$work/cat.out"
app=$(pgrep -n -x cat)
take "$app" "$work/cat.dump"
echo late | ld-chpox "$work/cat.dump"
expect_eq "a process restored in read() on a pipe reads ld-chpox's stdin" "early late" \
	"$(tr '\n' ' ' <"$work/cat.out" | sed 's/ $//')"

# --- blocked in read() on a terminal ------------------------------------------
# sed waits for a line typed on its terminal. Checkpointed there, the
# original reads the line typed next; the restored copy one typed on
# ld-chpox's terminal. Neither sees an EINTR or loses the line.
/usr/bin/python3 "$here/on_pty.py" "$work/tty1" hello sed -n 's/^/got /p;q' &
pty=$!
kid_in_read() { in_read "$(kids "$1")"; }
wait_until 30 kid_in_read "$pty"
app=$(kids "$pty")
proc_write "add $app 12 1 $work/tty.dump" >/dev/null
held_checkpoint "$app" "$app"
touch "$work/tty1.go"
wait "$pty"
expect_eq "checkpointed in read() on a terminal, the original reads the next line" \
	"0 hello got hello" "$? $(tr '\n' ' ' <"$work/tty1" | sed 's/ $//')"
touch "$work/tty2.go"
/usr/bin/python3 "$here/on_pty.py" "$work/tty2" again ld-chpox "$work/tty.dump"
expect_eq "... and the restored copy one typed on ld-chpox's terminal" \
	"0 again got again" "$? $(tr '\n' ' ' <"$work/tty2" | sed 's/ $//')"

# --- exit status and death by signal are passed on ---------------------------
sleep 100 | bash -c 'read -r _; exit 7' &
app=$!
sleep 1
take "$app" "$work/seven.dump"
echo go | ld-chpox "$work/seven.dump"
expect_eq "ld-chpox exits with the restored program's status" 7 "$?"

sleep 100 | bash -c 'read -r _; kill -TERM $$' &
app=$!
sleep 1
take "$app" "$work/term.dump"
echo go | ld-chpox "$work/term.dump"
expect_eq "... and dies by the signal that killed it (SIGTERM: 143)" 143 "$?"

# --- memory: a pattern over many MiB, untouched memory skipped ---------------
# 256 MiB written with a pattern, 256 MiB more allocated and never touched.
spawn_ready chpox-testprog pattern 256 4
app=$SPAWNED
take "$app" "$work/pattern.dump"
size=$(stat -c %s "$work/pattern.dump")
echo "# 256 MiB patterned of 512 MiB allocated: dump of $size bytes"
check "... the dump holds the touched 256 MiB, not the untouched 256 MiB" \
	test "$size" -gt $((256 << 20)) -a "$size" -lt $((256 + 32 << 20))
out=$(ld-chpox "$work/pattern.dump" 2>&1)
expect_eq "256 MiB of patterned memory come back intact" "pattern ok" "$out"
rm -f "$work/pattern.dump"

# --- shared memory no path leads to -------------------------------------------
# Anonymous shared memory (a page of it written by a child that has exited),
# a memfd and a read-only shared page: their contents are in the dump, and
# the restored area is still shared with children forked after restore.
mkdir "$work/shm"
chpox-testprog shared "$work/shm" >"$work/shm.out" &
app=$!
wait_until 20 started "$work/shm.out" 1
take "$app" "$work/shm.dump"
restore_released "$work/shm.dump" "$work/shm/go" "$work/shm.ld"
expect_eq "shared anonymous memory and a memfd come back with their contents (exit 0)" 0 "$?"
shared_ok "$work/shm.out"

# --- a tree walk writing to a file (grep -r) -------------------------------------
mkdir -p "$work/tree"
python3 - "$work/tree" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(60):
    os.makedirs(f"{root}/d{d:02}", exist_ok=True)
    for f in range(40):
        with open(f"{root}/d{d:02}/f{f:02}", "w") as out:
            for line in range(20):
                out.write(f"{d} {f} {line} {'needle' if (d + f + line) % 7 == 0 else 'hay'}\n")
PY
grep -r needle "$work/tree" >"$work/grep.ref"
grep -r needle "$work/tree" >"$work/grep.out" &
app=$!
take "$app" "$work/grep.dump"
ld-chpox "$work/grep.dump" 2>&1
expect_eq "grep -r stopped, checkpointed when continued, killed and restored: same output" \
	"$(md5sum <"$work/grep.ref")" "$(md5sum <"$work/grep.out")"

# --- a mapped program file changed since the checkpoint ------------------------
cp "$(command -v chpox-testprog)" "$work/prog"
"$work/prog" counter 100 >"$work/changed.out" &
app=$!
wait_until 20 started "$work/changed.out" 1
take "$app" "$work/changed.dump"
echo >>"$work/prog"
out=$(ld-chpox "$work/changed.dump" 2>&1)
rc=$?
expect_match "a program whose file changed since the checkpoint is not restored" \
	"^ld-chpox: cannot restore .*prog changed since the checkpoint" "$out"
check "... with a failure status" test "$rc" != 0

# --- restoring while the original still runs ------------------------------------
chpox-testprog counter 100 >"$work/twin.out" &
app=$!
wait_until 20 started "$work/twin.out" 1
proc_write "add $app 12 1 $work/twin.dump" >/dev/null
held_checkpoint "$app" "$app"
ld-chpox "$work/twin.dump" >/dev/null 2>&1
twin=$?
wait "$app"
expect_eq "restoring while the original runs harms neither (both finish: 0 0)" "0 0" "$? $twin"

echo clear >/proc/chpox
