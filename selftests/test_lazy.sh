# SPDX-License-Identifier: GPL-2.0
# Lazy restore (`ld-chpox --lazy`): the processes run as soon as their
# memory is mapped, and ld-chpox fills their private memory through
# userfaultfd as they run; whatever the program does meanwhile (the kernel
# reading that memory, dropping, forking, moving it) sees it whole, and a
# page that does not match its checksum still kills the process.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/lazy.XXXXXX)
lazy_uid=1000

# has_children PID: PID has forked a process.
has_children() {
	[ -n "$(kids "$1")" ]
}
# restore_lazy DUMP GO LOG: as restore_released, with --lazy.
restore_lazy() {
	local ld
	ld-chpox --lazy "$1" >"$3" 2>&1 &
	ld=$!
	touch "$2"
	wait "$ld"
}

# --- memory the program uses before it is filled ---------------------------------
mkdir "$work/checks"
spawn_ready chpox-testprog lazy-checks 64 "$work/checks"
app=$SPAWNED
take "$app" "$work/checks.dump"
# A SIGTERM to ld-chpox while it fills the memory is ignored.
ld-chpox --lazy "$work/checks.dump" >"$work/checks.out" 2>&1 &
ld=$!
wait_until 30 has_children "$ld"
kill -TERM "$ld"
touch "$work/checks/go"
wait "$ld"
expect_eq "a lazily restored program that uses its memory at once exits 0 (ld-chpox ignored a SIGTERM)" \
	0 "$?"
for what in "write() of memory not filled yet" "memory dropped reads as zeros" \
	"a child forked reads its parent's memory" "an area moved keeps its contents" \
	"all the rest is intact"; do
	check "... $what" has "$work/checks.out" "lazy: $what ok"
done

# --- a counter and a tree ------------------------------------------------------------
chpox-testprog counter 100 >"$work/counter.out" &
app=$!
wait_until 20 started "$work/counter.out" 3
take "$app" "$work/counter.dump"
ld-chpox --lazy "$work/counter.dump" >"$work/ld.out" 2>&1
expect_eq "a counter restored lazily exits 0" 0 "$?"
expect_eq "... its file equals an uninterrupted run" "$(seq 1 100)" "$(cat "$work/counter.out")"

mkdir "$work/shm"
chpox-testprog shared "$work/shm" >"$work/shm.out" &
app=$!
wait_until 20 started "$work/shm.out" 1
proc_write "add $app 12 9 $work/shm.dump" >/dev/null
held_checkpoint "$app" $(tree_of "$app")
kill_tree "$app"
restore_lazy "$work/shm.dump" "$work/shm/go" "$work/shm.ld"
expect_eq "a tree with shared memory, restored lazily, exits 0" 0 "$?"
shared_ok "$work/shm.out"

chpox-testprog tls-threads 8 4 >"$work/tls.out" 2>&1 &
app=$!
wait_until 60 has "$work/tls.out" ready
take "$app" "$work/tls.dump"
ld-chpox --lazy "$work/tls.dump" >"$work/tls.ld" 2>&1
expect_eq "8 busy threads restored lazily exit 0" 0 "$?"
check "... their TLS counters, tids and pthread_self all their own" has "$work/tls.out" "tls ok"

# --- a page that does not match its checksum ----------------------------------------------
# The module leaves the pages of private memory to ld-chpox, which verifies
# each section as it fills it: a byte changed in the last page of the
# largest one is found, and the process killed.
spawn_ready chpox-testprog pattern 8 60
app=$SPAWNED
take "$app" "$work/bad.dump"
python3 - "$work/bad.dump" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
at, best = 128, None
while at + 16 <= len(b):
    k, _, size = struct.unpack_from('<IIQ', b, at)
    if k == 7 and (best is None or size > best[1]):
        best = (at, size)
    at += 16 + size + 4
at, size = best
b[at + 16 + size - 100] ^= 0xff
open(sys.argv[1], 'wb').write(b)
PY
out=$(ld-chpox --lazy "$work/bad.dump" 2>&1)
expect_eq "a lazily restored page that fails its checksum kills the process (137)" 137 "$?"
expect_match "... and ld-chpox says why" "does not match its checksum: the process is killed" "$out"

# --- who may ---------------------------------------------------------------------------
# A userfaultfd that serves faults taken in the kernel and follows forks
# needs CAP_SYS_PTRACE: a user's processes may not have one, whoever
# restores them and whatever vm.unprivileged_userfaultfd says; ld-chpox
# says so before anything starts.
chmod 755 "$work"
mkdir "$work/u"
chown $lazy_uid "$work/u"
spawn chpox-testprog as-user $lazy_uid sleep 1000
app=$SPAWNED
wait_until 30 owned_by "$app" $lazy_uid
as_user $lazy_uid chpoxctl add "$app" SIGUSR2 1 "$work/u/user.dump" >/dev/null
held_checkpoint "$app" "$app"
kill -9 "$app"
wait "$app" 2>/dev/null
was=$(cat /proc/sys/vm/unprivileged_userfaultfd)
for sysctl in 0 1; do
	echo $sysctl >/proc/sys/vm/unprivileged_userfaultfd
	out=$(as_user $lazy_uid ld-chpox --lazy "$work/u/user.dump" 2>&1)
	expect_eq "a user is refused --lazy (vm.unprivileged_userfaultfd=$sysctl, exit 1)" 1 "$?"
	expect_match "... and told why" "needs CAP_SYS_PTRACE in the restored processes" "$out"
	out=$(ld-chpox --lazy "$work/u/user.dump" 2>&1)
	expect_eq "... and so is root restoring that user's dump (exit 1)" 1 "$?"
	check "... with nothing started" test -z "$(pgrep -u $lazy_uid -x sleep)"
done
echo "$was" >/proc/sys/vm/unprivileged_userfaultfd
out=$(as_user $lazy_uid timeout 5 ld-chpox "$work/u/user.dump" 2>&1)
expect_eq "... who restores it without --lazy (it runs until stopped: 124)" 124 "$?"
pkill -KILL -u $lazy_uid -x sleep

rm -rf "$work"
