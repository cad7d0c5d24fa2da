# SPDX-License-Identifier: GPL-2.0
# A registration never outlives its process, and unloading is clean.

modprobe chpox
echo clear >/proc/chpox

spawn sleep 1000
victim=$SPAWNED
proc_write "add $victim 12 9 /tmp/v.dump" >/dev/null
kill -9 "$victim"
wait "$victim" 2>/dev/null
expect_eq "a registration disappears when its process is killed" "" "$(listed "$victim")"

bash -c 'sleep 0.5; exit 3' &
quitter=$!
proc_write "add $quitter 12 1 /tmp/q.dump" >/dev/null
wait "$quitter"
expect_eq "... and when its process exits by itself" "" "$(listed "$quitter")"

# A multithreaded process stays registered while any of its threads lives.
spawn_ready chpox-testprog threads 4
threaded=$SPAWNED
proc_write "add $threaded 12 9 /tmp/t.dump" >/dev/null
expect_match "a multithreaded process is registered" "^pid=$threaded " "$(listed "$threaded")"
kill -9 "$threaded"
wait "$threaded" 2>/dev/null
expect_eq "... and dropped once all its threads have exited" "" "$(listed "$threaded")"

# An exec keeps the process, and so the registration.
bash -c 'read -r _; exec sleep 1000' < <(sleep 1; echo go) &
execer=$!
TEST_PIDS+=("$execer")
proc_write "add $execer 12 9 /tmp/e.dump" >/dev/null
wait_until 10 grep -q '^sleep' /proc/$execer/comm
expect_match "a registration survives its process's execve" "^pid=$execer " "$(listed "$execer")"

# only_listed PID: no registration but PID's is left.
only_listed() {
	[ -z "$(grep -v "^pid=$1 " /proc/chpox)" ]
}

# Many short-lived registered processes: the table does not fill up.
for _ in $(seq 50); do
	sleep 0.05 &
	proc_write "add $! 12 9 /tmp/s.dump" >/dev/null
done
wait_until 10 only_listed "$execer"
expect_eq "fifty short-lived registrations all go away with their processes" "" \
	"$(grep -v "^pid=$execer " /proc/chpox)"

# Unloading with live registrations frees them (checked by kmemleak later).
for _ in 1 2 3; do
	spawn sleep 1000
	proc_write "add $SPAWNED 12 9 /tmp/m.dump" >/dev/null
done
check "rmmod with live registrations succeeds" modprobe -r chpox
check "the module loads again afterwards" modprobe chpox
expect_eq "a reloaded module starts empty" "" "$(cat /proc/chpox)"
