# SPDX-License-Identifier: GPL-2.0
# What a local user could try against chpox (Documentation/security.rst):
# crafted dumps written to /proc/chpox directly, dump paths prepared
# beforehand or redirected, registrations outliving an execve of a set-id
# program, a full table, large processes. Each must end in a clear error or
# a safe result, with the kernel log clean (run.sh checks it last).

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/security.XXXXXX)
chmod 755 "$work"
mkdir -m 1777 "$work/tmp"

# restore_directly DUMP [UID]: a new process (as UID if given) writes
# `restore` for process 0 of DUMP to /proc/chpox itself, without ld-chpox;
# prints what the write said.
restore_directly() {
	local script='exec 5<"$1" 6>/proc/chpox || exit 3
printf "restore 5 6 0" >&6'
	if [ -n "${2:-}" ]; then
		as_user "$2" timeout 30 bash -c "$script" _ "$1" 2>&1
	else
		timeout 30 bash -c "$script" _ "$1" 2>&1
	fi
}
# restored_child LD: LD's child, once it is the restored program (no
# mapping of ld-chpox left); its pid in RESTORED.
restored_child() {
	RESTORED=$(kids "$1")
	[ -n "$RESTORED" ] && ! grep -q ld-chpox "/proc/$RESTORED/maps" 2>/dev/null
}
# status_has PID REGEX: a line of /proc/PID/status matches REGEX.
status_has() {
	grep -q "$2" "/proc/$1/status" 2>/dev/null
}
# field_set PID KEY: PID's /proc/chpox line has KEY.
field_set() {
	[ -n "$(field "$1" "$2")" ]
}
# user_dump UID DUMP: a sleep of UID's, registered by UID and checkpointed,
# then killed; its dump (owned by UID) at DUMP.
user_dump() {
	spawn chpox-testprog as-user "$1" sleep 1000
	local app=$SPAWNED
	wait_until 30 owned_by "$app" "$1"
	as_user "$1" chpoxctl add "$app" SIGUSR2 1 "$2"
	kill -USR2 "$app"
	wait_until 60 done_more "$app" 0
	kill -9 "$app"
	wait "$app" 2>/dev/null
}

# --- 1. privilege through restore: the kernel's side ------------------------
user_dump 1000 "$work/tmp/u.dump"
expect_match "root writing 'restore' of a user's dump itself: EPERM" \
	"Operation not permitted" "$(restore_directly "$work/tmp/u.dump")"

spawn sleep 1000
app=$SPAWNED
take "$app" "$work/tmp/open.dump"
chmod 666 "$work/tmp/open.dump"
expect_match "... and of root's dump that anyone may write: EPERM" \
	"Operation not permitted" "$(restore_directly "$work/tmp/open.dump")"

# --- 2. crafted lengths: no arithmetic overflow in the kernel ----------------
cp "$work/tmp/u.dump" "$work/tmp/rseq.dump"
chown 1000:1000 "$work/tmp/rseq.dump"
# The leader's Thread section (kind 15): flags (at 4) say it has an rseq
# area, the area (at 88) is at address 2^64 - 32 (aligned), length 32.
chpox-testprog patch-dump "$work/tmp/rseq.dump" 15 4 01000000
chpox-testprog patch-dump "$work/tmp/rseq.dump" 15 88 e0ffffffffffffff20000000
expect_match "an rseq area ending past 2^64, restored directly by its user: EINVAL" \
	"Invalid argument" "$(restore_directly "$work/tmp/rseq.dump" 1000)"
expect_match "... and ld-chpox refuses it" "impossible rseq area" \
	"$(as_user 1000 ld-chpox "$work/tmp/rseq.dump" 2>&1)"
cp "$work/tmp/u.dump" "$work/tmp/frame.dump"
chown 1000:1000 "$work/tmp/frame.dump"
# The first section's length (header is 128 bytes, length at +8) set to
# 2^64 - 1: the framing arithmetic must not overflow.
printf '\xff\xff\xff\xff\xff\xff\xff\xff' |
	dd of="$work/tmp/frame.dump" bs=1 seek=136 conv=notrunc status=none
expect_match "a section length of 2^64 - 1, restored directly: EINVAL" \
	"Invalid argument" "$(restore_directly "$work/tmp/frame.dump" 1000)"
cp "$work/tmp/u.dump" "$work/tmp/thread.dump"
chown 1000:1000 "$work/tmp/thread.dump"
expect_match "a thread number beyond the dump's threads, restored directly: EINVAL" \
	"Invalid argument" "$(as_user 1000 timeout 30 bash -c \
		'exec 5<"$1" 6>/proc/chpox || exit 3; printf "restore 5 6 0 4294967295" >&6' \
		_ "$work/tmp/thread.dump" 2>&1)"
mkfifo "$work/tmp/fifo"
chmod 666 "$work/tmp/fifo"
expect_match "a FIFO as the dump (would block rmmod): EINVAL at once" \
	"Invalid argument" "$(as_user 1000 timeout 30 bash -c \
		'exec 5<>"$1" 6>/proc/chpox; printf "restore 5 6 0" >&6' _ "$work/tmp/fifo" 2>&1)"

# --- 3. SIGKILL and SIGSTOP cannot be restored blocked -----------------------
spawn sleep 1000
app=$SPAWNED
take "$app" "$work/mask.dump"
# The leader's Thread section (kind 15): its blocked mask is at 48.
chpox-testprog patch-dump "$work/mask.dump" 15 48 ffffffffffffffff
ld-chpox "$work/mask.dump" >/dev/null 2>&1 &
ld=$!
wait_until 120 restored_child "$ld"
restored=$RESTORED
expect_eq "a dumped mask of all signals is restored without SIGKILL and SIGSTOP" \
	"SigBlk:	fffffffffffbfeff" "$(grep '^SigBlk:' "/proc/$restored/status")"
kill -9 "$restored"
wait "$ld"
expect_eq "... so SIGKILL still ends the restored process" 137 "$?"

# --- 4. auxv and the mm layout as prctl(PR_SET_MM_MAP) checks them -----------
spawn sleep 1000
app=$SPAWNED
take "$app" "$work/auxv.dump"
# Mm section (kind 2): 11 layout words, then 52 auxv words, all made
# non-zero: no AT_NULL left to end the vector.
chpox-testprog patch-dump "$work/auxv.dump" 2 88 "$(printf '41%.0s' $(seq 416))"
ld-chpox "$work/auxv.dump" >/dev/null 2>&1 &
ld=$!
wait_until 120 restored_child "$ld"
restored=$RESTORED
auxv=$(od -An -v -tx1 "/proc/$restored/auxv" | tr -d ' \n')
# Without the fix /proc/PID/auxv read on past the vector (640 bytes here);
# the kernel's vector is at most as long as the dump's (52 words).
expect_eq "an auxv without AT_NULL is ended by the kernel: /proc/PID/auxv stops at the vector's end" \
	"yes 00000000000000000000000000000000" \
	"$( ((${#auxv} / 2 <= 416)) && echo yes || echo "no: $((${#auxv} / 2)) bytes") ${auxv: -32}"
kill -9 "$restored"
wait "$ld" 2>/dev/null
# ld-chpox's last words come from the restoring process, whose stderr is
# the program's own by then: a file here.
sleep 1000 2>"$work/brk.err" &
app=$!
take "$app" "$work/brk.dump"
# start_brk (word 4) at 2 KiB: below mmap_min_addr (4 KiB or more).
chpox-testprog patch-dump "$work/brk.dump" 2 32 0008000000000000
out=$(timeout 60 ld-chpox "$work/brk.dump" 2>&1; echo "status $?"; cat "$work/brk.err")
expect_match "a heap below mmap_min_addr: the module refuses the restore" \
	"refused the restore: Invalid argument" "$out"

# --- 5. /proc/PID/exe is only set with CAP_CHECKPOINT_RESTORE ---------------
spawn chpox-testprog as-user 1000 sleep 1000
app=$SPAWNED
wait_until 30 owned_by "$app" 1000
as_user 1000 chpoxctl add "$app" SIGUSR2 1 "$work/tmp/exe.dump"
kill -USR2 "$app"
wait_until 60 done_more "$app" 0
kill -9 "$app"
as_user 1000 ld-chpox "$work/tmp/exe.dump" >/dev/null 2>&1 &
ld=$!
wait_until 120 restored_child "$ld"
restored=$RESTORED
expect_match "a user's restore leaves /proc/PID/exe to ld-chpox" "ld-chpox$" \
	"$(readlink "/proc/$restored/exe")"
kill -9 "$restored"
wait "$ld" 2>/dev/null

# --- 6. a registration outliving an execve of a set-id program ---------------
cp "$(command -v chpox-testprog)" "$work/suid-testprog"
chmod 4755 "$work/suid-testprog"
mkfifo "$work/go"
chmod 666 "$work/go"
spawn chpox-testprog as-user 1000 bash -c 'read -r _ <"$1"; exec "$2" nodump' _ "$work/go" "$work/suid-testprog"
app=$SPAWNED
wait_until 30 owned_by "$app" 1000
expect_proc "a user registers their own shell" OK "add $app 12 1 $work/tmp/suid.dump" 1000
echo go >"$work/go"
wait_until 30 status_has "$app" "^Uid:.*	0	0	0$"
kill -USR2 "$app"
wait_until 60 field_set "$app" last_step
expect_eq "... which then runs a set-uid root program: the checkpoint is refused" \
	"permission 1" "$(field "$app" last_step) $(field "$app" last_errno)"
check "... and no dump is written" test ! -e "$work/tmp/suid.dump"
echo clear >/proc/chpox

# A process of the user's that holds a capability the user lacks (ambient
# CAP_NET_RAW) cannot be registered by the user: ptrace would refuse too.
spawn setpriv --reuid=1000 --regid=1000 --clear-groups --inh-caps=+net_raw \
	--ambient-caps=+net_raw sleep 1000
app=$SPAWNED
wait_until 30 status_has "$app" "^CapPrm:.*0000000000002000$"
expect_proc "a user registering their own process that holds a capability they lack: EPERM" \
	"Operation not permitted" "add $app 12 1 $work/tmp/cap.dump" 1000

# --- 7. the dump path --------------------------------------------------------
# Another user prepares everything the old fixed temporary name would have
# been: a FIFO, a symlink and a hard link to a file of the victim's.
spawn chpox-testprog as-user 1000 sleep 1000
app=$SPAWNED
wait_until 30 owned_by "$app" 1000
as_user 1001 mkfifo "$work/tmp/.v.dump.chpox-tmp"
as_user 1001 ln -s /etc/passwd "$work/tmp/.v.dump.chpox-00000000"
as_user 1000 touch "$work/tmp/victim-file"
as_user 1001 ln "$work/tmp/victim-file" "$work/tmp/.v.dump.chpox-tmp2" 2>/dev/null
as_user 1000 chpoxctl add "$app" SIGUSR2 1 "$work/tmp/v.dump"
kill -USR2 "$app"
wait_until 60 done_more "$app" 0
expect_eq "names prepared beside the dump by another user change nothing: the dump is the user's" \
	"600 1000" "$(stat -c '%a %u' "$work/tmp/v.dump")"
expect_eq "... and the prepared names are untouched" "fifo symbolic link" \
	"$(stat -c %F "$work/tmp/.v.dump.chpox-tmp") $(stat -c %F "$work/tmp/.v.dump.chpox-00000000")"
expect_eq "... no temporary file is left" "" "$(ls -A "$work/tmp" | grep 'v.dump.chpox-[0-9a-f]\{8\}$' | grep -v 00000000)"

# A target that moves into its own mount namespace and mounts over the
# dump's directory cannot redirect the dump: the directory is the one the
# registrant named when it registered.
mkdir "$work/ns"
spawn unshare -m --propagation private bash -c \
	'mount -t tmpfs hidden "$1" && touch "$1/inside" && exec sleep 1000' _ "$work/ns"
app=$SPAWNED
wait_until 30 status_has "$app" "^Name:.*sleep"
proc_write "add $app 12 1 $work/ns/n.dump" >/dev/null
kill -USR2 "$app"
wait_until 60 done_more "$app" 0
check "a target in its own mount namespace: the dump lands in the registrant's directory" \
	test -s "$work/ns/n.dump"
check "... not in the target's" test ! -e "/proc/$app/root$work/ns/n.dump"

# Two registrations with one path checkpointing together: the dump is
# always one whole checkpoint, never a mix of two.
spawn sleep 1000
a=$SPAWNED
spawn sleep 1000
b=$SPAWNED
proc_write "add $a 12 1 $work/same.dump" >/dev/null
proc_write "add $b 12 1 $work/same.dump" >/dev/null
bad=0
for i in 1 2 3 4 5; do
	kill -USR2 "$a" "$b"
	wait_until 60 done_more "$a" $((i - 1))
	wait_until 60 done_more "$b" $((i - 1))
	ld-chpox --info "$work/same.dump" >/dev/null 2>&1 || bad=$((bad + 1))
done
expect_eq "two registrations racing on one path: every dump left is whole" 0 "$bad"
expect_eq "... and no temporary file is left" "" "$(ls -A "$work" | grep chpox-)"
echo clear >/proc/chpox

# --- 8. bounded work ---------------------------------------------------------
# One user cannot fill the table.
pids=()
for i in $(seq 65); do
	spawn chpox-testprog as-user 1000 sleep 1000
	pids+=("$SPAWNED")
done
wait_until 60 owned_by "${pids[64]}" 1000
for i in $(seq 0 63); do
	as_user 1000 chpoxctl add "${pids[$i]}" SIGUSR2 1 "$work/tmp/n$i.dump" 2>/dev/null
done
expect_proc "a user's 65th registration: EDQUOT" "Disk quota exceeded" \
	"add ${pids[64]} 12 1 $work/tmp/n64.dump" 1000
spawn sleep 1000
expect_proc "... while root can still register" OK "add $SPAWNED 12 1 $work/r.dump"
echo clear >/proc/chpox
kill -9 "${pids[@]}"

# A process with 40 000 memory areas checkpoints and restores.
chpox-testprog vmas 40000 >"$work/vmas.out" &
app=$!
wait_until 300 has "$work/vmas.out" "vmas ok"
take "$app" "$work/vmas.dump"
before=$(wc -l <"$work/vmas.out")
timeout 900 ld-chpox "$work/vmas.dump" >/dev/null 2>&1 &
ld=$!
wait_until 600 started "$work/vmas.out" $((before + 2))
expect_eq "a process with 40 000 memory areas is restored with all of them" \
	"vmas ok" "$(tail -n +$((before + 1)) "$work/vmas.out" | sort -u)"
kill -9 $(kids "$ld") 2>/dev/null
wait "$ld" 2>/dev/null

# A huge sparse mapping (16 GiB reserved, a page of each GiB touched)
# checkpoints without a soft lockup: the walk through its holes yields.
spawn_ready chpox-testprog sparse-huge 16
app=$SPAWNED
proc_write "add $app 12 1 $work/huge.dump" >/dev/null
kill -USR2 "$app"
wait_until 900 done_more "$app" 0
expect_match "a 16 GiB sparse mapping checkpoints" "checkpoints=1" "$(listed "$app")"
echo "# dump of $(stat -c %s "$work/huge.dump" 2>/dev/null) bytes"

# rmmod never waits on user space: with nothing running it goes.
echo clear >/proc/chpox
cleanup_procs
check "rmmod succeeds after all this" modprobe -r chpox
modprobe chpox
