# SPDX-License-Identifier: GPL-2.0
# chpoxctl: what users type, what they see, and exit codes.

modprobe chpox
chpoxctl clear

# ctl ARGS...: runs chpoxctl, leaving its output in $out and status in $rc.
ctl() {
	out=$(chpoxctl "$@" 2>&1)
	rc=$?
}
# expect_ctl DESCRIPTION RC REGEX ARGS...
expect_ctl() {
	local desc=$1 want_rc=$2 regex=$3
	shift 3
	ctl "$@"
	if [ "$rc" = "$want_rc" ] && [[ $out =~ $regex ]]; then
		ok "$desc"
	else
		not_ok "$desc" "chpoxctl $*" "exit $rc (want $want_rc), output:" "$out"
	fi
}

spawn sleep 1000
p=$SPAWNED
expect_ctl "add with a signal name" 0 '^$' add "$p" SIGUSR2 9 /tmp/a.dump
expect_ctl "list shows it by name" 0 "$p +12 \(SIGUSR2\) +9 \(process\+descendants\) +0 +idle +0 +- +/tmp/a.dump" list
expect_match "/proc/chpox shows the same registration" "^pid=$p signal=12 flags=9 " "$(listed "$p")"
expect_ctl "del removes it" 0 '^$' del "$p"
expect_ctl "add with a number and a real-time name" 0 '^$' add "$p" SIGRTMIN+2 1 /tmp/a.dump
expect_match "SIGRTMIN+2 is signal 36" "^pid=$p signal=36 flags=1 " "$(listed "$p")"
expect_ctl "clear empties the table" 0 '^$' clear
expect_eq "... as /proc/chpox shows" "" "$(cat /proc/chpox)"

# The issue's own example.
expect_ctl "chpoxctl add \$\$ SIGUSR2 9 /tmp/a.dump" 0 '^$' add $$ SIGUSR2 9 /tmp/a.dump
expect_ctl "... then chpoxctl list shows it" 0 "$$ +12 \(SIGUSR2\)" list
chpoxctl clear

# Each bad input has its own message and exit status 1.
expect_ctl "not a pid" 1 "'12x' is not a process id" add 12x SIGUSR2 9 /tmp/a.dump
expect_ctl "no such process" 1 "no process with pid 99999999" add 99999999 SIGUSR2 9 /tmp/a.dump
expect_ctl "an unknown signal name" 1 "'SIGFOO' is not a signal" add "$p" SIGFOO 9 /tmp/a.dump
expect_ctl "signal 0" 1 "signal 0 cannot be used: signal numbers go from 1 to 64" add "$p" 0 9 /tmp/a.dump
expect_ctl "signal 65" 1 "signal 65 cannot be used: signal numbers go from 1 to 64" add "$p" 65 9 /tmp/a.dump
expect_ctl "SIGKILL" 1 "SIGKILL cannot be used: SIGKILL and SIGSTOP cannot be intercepted" add "$p" SIGKILL 9 /tmp/a.dump
expect_ctl "SIGSTOP" 1 "SIGSTOP cannot be used" add "$p" SIGSTOP 9 /tmp/a.dump
expect_ctl "SIGCONT" 1 "SIGCONT cannot be used: SIGCONT resumes" add "$p" SIGCONT 9 /tmp/a.dump
expect_ctl "unknown flag bits" 1 "unknown flag bits 0x2" add "$p" SIGUSR2 3 /tmp/a.dump
expect_ctl "flags without the process bit" 1 "flags must include 1" add "$p" SIGUSR2 8 /tmp/a.dump
expect_ctl "a relative path" 1 "must be an absolute path \(did you mean /[^ ]*/a.dump\?\)" add "$p" SIGUSR2 9 a.dump
expect_ctl "a missing directory" 1 "directory /no/such/dir of the dump file does not exist" add "$p" SIGUSR2 9 /no/such/dir/a.dump
chpoxctl add "$p" SIGUSR2 9 /tmp/a.dump
expect_ctl "a duplicate" 1 "process $p is already registered \(run 'chpoxctl del $p' first\)" add "$p" SIGUSR1 9 /tmp/b.dump
spawn sleep 1000
roots=$SPAWNED
ctl_user() { out=$(as_user 1000 chpoxctl "$@" 2>&1); rc=$?; }
ctl_user add "$roots" SIGUSR2 9 /tmp/u.dump
expect_match "another user's process: not allowed (exit 1)" "^1 chpoxctl: not allowed to checkpoint process $roots" "$rc $out"
ctl_user del "$p"
expect_match "deleting another user's registration: not allowed (exit 1)" "^1 chpoxctl: the registration of process $p belongs to another user" "$rc $out"
expect_ctl "deleting an unregistered process" 1 "process $roots is not registered" del "$roots"
expect_ctl "a usage error exits with status 2" 2 "Usage" add "$p"
expect_ctl "... also when a word given is bad (usage first)" 2 "Usage" add 12x
expect_ctl "an unknown subcommand exits with status 2" 2 "unrecognized subcommand" frob

# into_closed_pipe ARGS...: runs ARGS with its stdout a pipe whose reader has
# already gone (as with `| head -1` on a long listing); its stderr in $out
# and its status in $rc.
into_closed_pipe() {
	local err
	err=$(mktemp)
	{ sleep 1; "$@" 2>"$err"; echo $? >"$err.rc"; } | true
	out=$(cat "$err")
	rc=$(cat "$err.rc")
	rm -f "$err" "$err.rc"
}
into_closed_pipe chpoxctl list
expect_eq "chpoxctl list into a closed pipe ends quietly (exit 0, no panic)" "0 " "$rc $out"
spawn sleep 1000
take "$SPAWNED" /tmp/pipe.dump
into_closed_pipe ld-chpox --info /tmp/pipe.dump
expect_eq "ld-chpox --info into a closed pipe ends quietly (exit 0, no panic)" "0 " "$rc $out"
rm -f /tmp/pipe.dump
chpoxctl clear
modprobe -r chpox
expect_ctl "without the module: says to load it" 1 "/proc/chpox does not exist: the chpox module is not loaded \(run 'modprobe chpox' as root\)" list
modprobe chpox

ld_out=$(ld-chpox /tmp/no-such.dump 2>&1)
expect_match "ld-chpox names a missing dump (exit 1)" \
	"^1 ld-chpox: cannot read /tmp/no-such.dump: No such file or directory" "$? $ld_out"
ld_out=$(ld-chpox 2>&1)
expect_match "ld-chpox without a dump is a usage error (exit 2)" "^2 .*Usage: ld-chpox <DUMP>" "$? $ld_out"
