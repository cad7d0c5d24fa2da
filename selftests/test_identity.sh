# SPDX-License-Identifier: GPL-2.0
# Whose rights a restore has: never more than the dump file's owner's. Root
# restoring a user's dump runs it as that user again (a tree with its
# original pids, each process with its own gids); a dump its owner edited to
# claim root's ids is refused; a user restoring root's dump gets their own
# ids.

modprobe chpox
echo clear >/proc/chpox
work=$(mktemp -d /tmp/identity.XXXXXX)
chmod 755 "$work"
# The user's directory: their program's output, their dumps. Every file a
# restored program had open is opened again with its restorer's rights:
# standard streams the user cannot open (the console) would stop it.
mkdir -m 777 "$work/u"

# as_user_proc COMMAND: proc_write COMMAND as uid 1000.
as_user_proc() {
	as_user 1000 bash -c "$(declare -f proc_write); proc_write \"\$1\"" _ "$1"
}
# user_take PID DUMP: as take, but the user registers their own PID, so the
# dump is written with their rights and belongs to them.
user_take() {
	as_user_proc "add $1 12 1 $2" >/dev/null
	held_checkpoint "$1" "$1"
	kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
# status_ids PID: "UIDS / GIDS / CapPrm CapEff" of PID.
status_ids() {
	awk '/^Uid:/ { u = $2 " " $3 " " $4 " " $5 }
	     /^Gid:/ { g = $2 " " $3 " " $4 " " $5 }
	     /^CapPrm:/ { p = $2 } /^CapEff:/ { e = $2 }
	     END { print u " / " g " / " p " " e }' "/proc/$1/status" 2>/dev/null
}
# groups_of PID: the supplementary groups of PID, sorted.
groups_of() {
	sed -n 's/^Groups:\t*//p' "/proc/$1/status" | tr ' ' '\n' | grep . | sort -n | tr '\n' ' '
}
# numbers FILE: the counter's numbers in FILE. (Its other reports are
# checked one by one; one is expected here: the module names the program in
# /proc/self/exe again only for a restorer with CAP_CHECKPOINT_RESTORE,
# which a restore with a user's rights never has, see test_security.sh.)
numbers() {
	grep -E '^[0-9]+$' "$1"
}
# restored_kid LD: the process ld-chpox LD forked (once it has one).
restored_kid() {
	[ -n "$(kids "$1")" ]
}
user_ids="1000 1000 1000 1000 / 1000 1000 1000 1000 / 0000000000000000 0000000000000000"
if name=$(id -nu 1000 2>/dev/null); then
	user_groups=$(id -G "$name" | tr ' ' '\n' | sort -n | tr '\n' ' ')
else
	user_groups=""
fi

# --- root restores a user's dump: the user's program, with the user's rights --
as_user 1000 touch "$work/u/c1.out"
(cd "$work/u" && exec chpox-testprog as-user 1000 chpox-testprog counter 300) \
	</dev/null >"$work/u/c1.out" 2>/dev/null &
app=$!
wait_until 30 started "$work/u/c1.out" 3
user_take "$app" "$work/u/c1.dump"
expect_eq "a user's checkpoint writes a dump they own" 1000 "$(stat -c %u "$work/u/c1.dump")"
expect_match "ld-chpox --info names the owner" "owner: uid 1000" "$(ld-chpox --info "$work/u/c1.dump")"
expect_match "... and that root's restore runs it as the owner" \
	"restore by uid 0: would run the processes as the owner again: uid 1000, gid 1000" \
	"$(ld-chpox --info "$work/u/c1.dump")"
at_kill=$(wc -l <"$work/u/c1.out")
CHPOX_ROOTS_SECRET=hunter2 ld-chpox "$work/u/c1.dump" >"$work/ld1.out" 2>&1 &
ld=$!
wait_until 30 started "$work/u/c1.out" $((at_kill + 3))
wait_until 10 restored_kid "$ld"
kid=$(kids "$ld")
expect_eq "root's ld-chpox runs the restored program as the user: all uids and gids 1000, no capabilities" \
	"$user_ids" "$(status_ids "$kid")"
expect_eq "... with the user's groups from the group database" "$user_groups" "$(groups_of "$kid")"
expect_eq "... ld-chpox itself waits as the user, without capabilities" \
	"$user_ids" "$(status_ids "$ld")"
check "... the restored program is the user's in /proc (dumpable)" owned_by "$kid" 1000
expect_eq "... and root's environment is not left in ld-chpox for the user to read" "readable" \
	"$(as_user 1000 sh -c 'tr -d "\0" <"/proc/$1/environ" && echo readable' _ "$ld" 2>&1)"
expect_proc "... the user can register the restored program again" OK \
	"add $kid 12 1 $work/u/again.dump" 1000
held_checkpoint "$kid" "$kid"
expect_eq "... and checkpoint it" ok "$(field "$kid" last)"
as_user_proc "del $kid" >/dev/null
wait "$ld"
expect_eq "the restored program finishes (exit 0)" 0 "$?"
expect_eq "... its output equals an uninterrupted run" "$(seq 1 300)" "$(numbers "$work/u/c1.out")"
expect_eq "... no signal reached it, its clock never went back, it kept rseq" "" \
	"$(grep -E 'SIGNAL|CLOCK|RSEQ' "$work/u/c1.out")"
expect_eq "... ld-chpox had nothing to say" "" "$(cat "$work/ld1.out")"

# --- a dump its owner edited to claim root's ids is refused -----------------
# The process section's payload has the uids at 16 and the gids at 32.
zeros=$(printf '00%.0s' $(seq 16))
before=$(md5sum <"$work/u/c1.out")
as_user 1000 cp "$work/u/c1.dump" "$work/u/uid0.dump"
as_user 1000 chpox-testprog patch-dump "$work/u/uid0.dump" 1 16 "$zeros"
check "the user's edited dump still reads as whole" ld-chpox --info "$work/u/uid0.dump"
expect_match "... --info says root's restore would be refused" "would be refused: process [0-9]+ is recorded with real uid 0" \
	"$(ld-chpox --info "$work/u/uid0.dump")"
out=$(ld-chpox "$work/u/uid0.dump" 2>&1)
rc=$?
expect_match "root's ld-chpox refuses a user's dump claiming uid 0, naming the id" \
	"^ld-chpox: cannot restore .*uid0.dump: process [0-9]+ is recorded with real uid 0, but the dump file belongs to uid 1000" "$out"
check "... with a failure status" test "$rc" != 0
expect_eq "... and nothing of it ran (its output file is untouched)" "$before" "$(md5sum <"$work/u/c1.out")"

as_user 1000 cp "$work/u/c1.dump" "$work/u/gid0.dump"
as_user 1000 chpox-testprog patch-dump "$work/u/gid0.dump" 1 32 "$zeros"
out=$(ld-chpox "$work/u/gid0.dump" 2>&1)
rc=$?
expect_match "a user's dump claiming gid 0 is refused too, naming the group" \
	"process [0-9]+ is recorded with real gid 0, a group uid 1000 \(the dump file's owner\) is not in" "$out"
check "... with a failure status" test "$rc" != 0

# --- a user's tree, restored by root: original pids, each process its gids ---
# The user makes the tree's root claim the dump file's group, which root then
# gives the file (a group the owner has through the file, as in a setgid
# directory): the root process takes that gid, its children their own.
# Twenty numbers, one a second: the children still run when they are looked
# at, however slowly the guest goes.
seq 1 20 >"$work/u/in"
as_user 1000 touch "$work/u/sq.out" "$work/u/sq.stdout"
(cd "$work/u" && exec chpox-testprog as-user 1000 chpox-testprog squares "$work/u/in" "$work/u/sq.out" 1000) \
	</dev/null >"$work/u/sq.stdout" 2>/dev/null &
top=$!
wait_until 30 started "$work/u/sq.out" 3
as_user_proc "add $top 12 9 $work/u/sq.dump" >/dev/null
pids=$(echo "$top" $(kids "$top"))
held_checkpoint "$top" $pids
kill -9 $pids
wait "$top" 2>/dev/null
wait_until 20 gone $pids
as_user 1000 chpox-testprog patch-dump "$work/u/sq.dump" 1 32 "$(printf '92100000%.0s' 1 2 3 4)"
chgrp 4242 "$work/u/sq.dump"
at_kill=$(wc -l <"$work/u/sq.out")
ld-chpox "$work/u/sq.dump" >"$work/ld2.out" 2>&1 &
ld=$!
wait_until 30 started "$work/u/sq.out" $((at_kill + 1))
children=$(kids "$top")
expect_eq "root restores a user's tree with its original pids" "$pids" \
	"$(echo $(kids "$ld") $children)"
expect_eq "... its root as the user with the group it claimed (the file's: 4242)" \
	"1000 1000 1000 1000 / 4242 4242 4242 4242 / 0000000000000000 0000000000000000" \
	"$(status_ids "$top")"
expect_eq "... its two children as the user with their own gids (1000)" \
	"$(printf '%s\n' "$user_ids" "$user_ids")" \
	"$(for kid in $children; do status_ids "$kid"; done)"
wait "$ld"
expect_eq "... and the tree finishes (exit 0)" 0 "$?"
expect_eq "... with the output of an uninterrupted run" \
	"$(for i in $(seq 1 20); do echo $((i * i)); done) done 20" \
	"$(cat "$work/u/sq.out") $(cat "$work/u/sq.stdout")"
expect_eq "... ld-chpox had nothing to say" "" "$(cat "$work/ld2.out")"

# --- a user restoring root's dump gets their own ids ----------------------------
touch "$work/r.out"
chmod 666 "$work/r.out"
(cd "$work/u" && exec chpox-testprog counter 150) </dev/null >"$work/r.out" 2>/dev/null &
app=$!
wait_until 30 started "$work/r.out" 3
take "$app" "$work/r.dump"
chmod 644 "$work/r.dump"
expect_eq "root's checkpoint writes a dump root owns" 0 "$(stat -c %u "$work/r.dump")"
at_kill=$(wc -l <"$work/r.out")
chpox-testprog as-user 1000 ld-chpox "$work/r.dump" >"$work/ld3.out" 2>&1 &
ld=$!
wait_until 30 started "$work/r.out" $((at_kill + 3))
wait_until 10 restored_kid "$ld"
kid=$(kids "$ld")
expect_eq "a user restoring root's dump gets a program with the user's own ids, no capabilities" \
	"$user_ids" "$(status_ids "$kid")"
wait "$ld"
expect_eq "... which finishes (exit 0)" 0 "$?"
expect_eq "... its output equals an uninterrupted run" "$(seq 1 150)" "$(numbers "$work/r.out")"

# --- root's dump that others may write is not root's alone --------------------
cp "$work/r.dump" "$work/open.dump"
chmod 666 "$work/open.dump"
out=$(ld-chpox "$work/open.dump" 2>&1)
rc=$?
expect_match "root's ld-chpox refuses root's dump that anyone may write, saying why" \
	"^ld-chpox: cannot restore .*open.dump: the dump file belongs to root but its group or others may write it \(mode 0666\)" "$out"
check "... with a failure status" test "$rc" != 0

echo clear >/proc/chpox
