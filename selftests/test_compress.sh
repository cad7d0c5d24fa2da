# SPDX-License-Identifier: GPL-2.0
# Compressed dumps (`chpoxctl add --compress`, flag 16): the pages are
# written as zstd frames, the dump is smaller when the memory compresses,
# and a restore brings every byte back; a crafted frame is refused cleanly.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/compress.XXXXXX)

# sections KIND DUMP: the number of sections of KIND in DUMP (7 pages,
# 16 zstd pages).
sections() {
	python3 - "$1" "$2" <<'PY'
import struct, sys
kind, b = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
at, n = 128, 0
while at + 16 <= len(b):
    k, _, size = struct.unpack_from('<IIQ', b, at)
    n += k == kind
    at += 16 + size + 4
print(n)
PY
}

# --- memory that compresses -----------------------------------------------------
# 64 MiB of a pattern that repeats every 32 KiB: the dump holds it in a
# fraction of its size, and every byte comes back.
spawn_ready chpox-testprog pattern 64 6
app=$SPAWNED
expect_match "chpoxctl add --compress registers flags 17" "flags=17 " \
	"$(chpoxctl add --compress "$app" SIGUSR2 1 "$work/pattern.dump" >/dev/null && grep "pid=$app " /proc/chpox)"
held_checkpoint "$app" "$app"
kill -9 "$app" 2>/dev/null
wait "$app" 2>/dev/null
size=$(stat -c %s "$work/pattern.dump")
echo "# 64 MiB of patterned memory: compressed dump of $size bytes"
check "... the compressed dump is less than a quarter of the memory" test "$size" -lt $((16 << 20))
expect_match "... ld-chpox --info says the pages are compressed" \
	"pages .* saved compressed \(zstd\)" "$(ld-chpox --info "$work/pattern.dump" 2>&1)"
out=$(ld-chpox "$work/pattern.dump" 2>&1)
expect_eq "... and restored, all 64 MiB are intact" "pattern ok" "$out"

# --- a counter, registered with flags 17 ------------------------------------------
chpox-testprog counter 100 >"$work/counter.out" &
app=$!
wait_until 20 started "$work/counter.out" 3
proc_write "add $app 12 17 $work/counter.dump" >/dev/null
held_checkpoint "$app" "$app"
kill -9 "$app"
wait "$app" 2>/dev/null
ld-chpox "$work/counter.dump" >"$work/ld.out" 2>&1
expect_eq "a counter checkpointed compressed (flags 17) is restored and exits 0" 0 "$?"
expect_eq "... its file equals an uninterrupted run" "$(seq 1 100)" "$(cat "$work/counter.out")"

# --- shared memory and a tree, compressed -------------------------------------------
mkdir "$work/shm"
chpox-testprog shared "$work/shm" >"$work/shm.out" &
app=$!
wait_until 20 started "$work/shm.out" 1
take_with --compress "$app" "$work/shm.dump"
restore_released "$work/shm.dump" "$work/shm/go" "$work/shm.ld"
expect_eq "shared anonymous memory and a memfd, compressed, come back (exit 0)" 0 "$?"
shared_ok "$work/shm.out"

# --- a crafted frame ------------------------------------------------------------------
# The first compressed section's frame loses its magic number, its checksum
# made right again: ld-chpox does not read frames; the module finds it as it
# fills the memory, past the point of no return, and the process is killed.
spawn_ready chpox-testprog pattern 8 60
app=$SPAWNED
take_with --compress "$app" "$work/bad.dump"
at=$(chpox-testprog zstd-frame-at "$work/bad.dump")
chpox-testprog patch-dump "$work/bad.dump" 16 "$at" 00000000
refused=$(dmesg | grep -c "restore failed after the point of no return: error -22")
out=$(ld-chpox "$work/bad.dump" 2>&1)
expect_eq "a dump with a broken zstd frame is not restored: the process is killed (137)" \
	137 "$?"
check "... and never ran on with that memory (it printed nothing)" test -z "$out"
expect_eq "... the module refused it as invalid (EINVAL, in the kernel log)" $((refused + 1)) \
	"$(dmesg | grep -c "restore failed after the point of no return: error -22")"

# --- incompressible memory ---------------------------------------------------------------
# Random bytes cost a few bytes a frame more than the pages themselves.
spawn_ready chpox-testprog noise 16 8
app=$SPAWNED
take_with --compress "$app" "$work/noise.dump"
size=$(stat -c %s "$work/noise.dump")
echo "# 16 MiB of incompressible bytes: compressed dump of $size bytes"
check "incompressible memory: the compressed dump is at most 1% (and the program's own 1 MiB) larger" \
	test "$size" -lt $(((16 << 20) * 101 / 100 + (1 << 20)))
plain=$(sections 7 "$work/noise.dump") packed=$(sections 16 "$work/noise.dump")
echo "# its sections: $plain of plain pages, $packed of zstd frames"
check "... whose pages are mostly stored as they are, not as frames that do not shrink them" \
	test "$plain" -gt "$packed"
out=$(ld-chpox "$work/noise.dump" 2>&1)
expect_eq "... and restored, all 16 MiB are intact" "pattern ok" "$out"

rm -rf "$work"
