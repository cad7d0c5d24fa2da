# SPDX-License-Identifier: GPL-2.0
# The /proc/chpox interface: every registration rule and every bad input.

modprobe chpox
echo clear >/proc/chpox

spawn sleep 1000
target=$SPAWNED
expect_proc "add a process tree (flags 9)" OK "add $target 12 9 /tmp/a.dump"
expect_eq "the registration is listed" \
	"pid=$target signal=12 flags=9 uid=0 state=idle checkpoints=0 last=never file=/tmp/a.dump" "$(listed "$target")"
expect_proc "a second add of the same pid: EEXIST" "File exists" "add $target 10 1 /tmp/b.dump"
expect_proc "del removes it" OK "del $target"
expect_eq "a deleted registration is not listed" "" "$(listed "$target")"
expect_proc "del of an unregistered pid: ENOENT" "No such file or directory" "del $target"
expect_proc "flags 1 (process only) are accepted" OK "add $target 10 1 /tmp/b.dump"
mkdir -p "/tmp/dir with space"
expect_proc "a path with spaces is accepted" OK "add $$ 34 1 /tmp/dir with space/x.dump"
expect_match "the path with spaces is listed whole" "file=/tmp/dir with space/x.dump$" "$(listed $$)"
expect_proc "a trailing newline is accepted" OK "$(printf 'del %s\n' $$)"
expect_proc "flags in hex are accepted" OK "add $$ 64 0x9 /tmp/c.dump"

# No such process.
spawn sleep 0
dead=$SPAWNED
wait "$dead" 2>/dev/null
expect_proc "a pid that no longer exists: ESRCH" "No such process" "add $dead 12 9 /tmp/a.dump"
expect_proc "a pid beyond pid_max: ESRCH" "No such process" "add 99999999 12 9 /tmp/a.dump"
spawn_ready chpox-testprog threads 2
thread=$(ls /proc/$SPAWNED/task | grep -vx "$SPAWNED" | head -1)
expect_proc "a thread id (not a process): ESRCH" "No such process" "add $thread 12 9 /tmp/a.dump"
expect_proc "a kernel thread (kthreadd, pid 2): EPERM" "Operation not permitted" "add 2 12 9 /tmp/a.dump"

# Signals that cannot be used.
for sig in 0 65 9 19 18 17 32 33 4294967296 -1 USR2; do
	expect_proc "signal $sig: EINVAL" "Invalid argument" "add $target $sig 9 /tmp/x.dump"
done
# Flags.
for flags in 0 2 4 8 16 0x100 abc; do
	expect_proc "flags $flags: EINVAL" "Invalid argument" "add $target 12 $flags /tmp/x.dump"
done
# Paths.
expect_proc "a relative path: EINVAL" "Invalid argument" "add $target 12 9 a.dump"
expect_proc "a missing path: EINVAL" "Invalid argument" "add $target 12 9"
expect_proc "a path with a control character: EINVAL" "Invalid argument" "$(printf 'add %s 12 9 /tmp/a\tb' "$target")"
long=/$(head -c 4200 /dev/zero | tr '\0' a)
expect_proc "a path of PATH_MAX bytes or more: ENAMETOOLONG" "File name too long" "add $target 12 9 ${long:0:4096}"
# Malformed commands.
expect_proc "an empty line: EINVAL" "Invalid argument" $'\n'
expect_proc "an unknown command: EINVAL" "Invalid argument" "frobnicate $target"
expect_proc "two commands in one write: EINVAL" "Invalid argument" "$(printf 'del 1\ndel 2')"
expect_proc "words after del: EINVAL" "Invalid argument" "del $target extra"
expect_proc "pid 0: EINVAL" "Invalid argument" "add 0 12 9 /tmp/a.dump"
expect_proc "an oversized write: EINVAL" "Invalid argument" "add $target 12 9 /$(head -c 9000 /dev/zero | tr '\0' a)"
expect_eq "refused commands left the table as it was" \
	"pid=$target signal=10 flags=1 uid=0 state=idle checkpoints=0 last=never file=/tmp/b.dump" "$(listed "$target")"

# Permissions: uid 1000 against root's processes and registrations.
spawn chpox-testprog as-user 1000 sleep 1000
mine=$SPAWNED
wait_until 30 owned_by "$mine" 1000 ||
	not_ok "the user's process runs as uid 1000"
spawn sleep 1000
roots=$SPAWNED
expect_proc "a user registering root's process: EPERM" "Operation not permitted" "add $roots 12 9 /tmp/u.dump" 1000
expect_proc "a user registering another user's process: EPERM" "Operation not permitted" "add $mine 12 9 /tmp/u.dump" 1001
expect_proc "a user registers their own process" OK "add $mine 12 9 /tmp/u.dump" 1000
expect_match "it is listed with the user's uid" "^pid=$mine signal=12 flags=9 uid=1000 " "$(listed "$mine")"
spawn_ready chpox-testprog as-user 1000 chpox-testprog nodump
expect_proc "a user registering their own non-dumpable process: EPERM" "Operation not permitted" "add $SPAWNED 12 9 /tmp/n.dump" 1000
expect_proc "root registers a non-dumpable process" OK "add $SPAWNED 12 9 /tmp/n.dump"
expect_proc "root registers a user's process" OK "add $roots 14 9 /tmp/r.dump"
expect_proc "a user deleting root's registration: EPERM" "Operation not permitted" "del $target" 1000
expect_proc "a user's clear" OK "clear" 1000
expect_eq "... removes only the user's registrations" "" "$(listed "$mine")"
expect_match "... and leaves root's" "^pid=$target " "$(listed "$target")"
expect_proc "root deletes a registration" OK "del $roots"
expect_proc "root's clear" OK "clear"
expect_eq "... removes everything" "" "$(cat /proc/chpox)"
