#!/bin/bash
# The README's main command: set everything up (packages, kernel, module,
# tools) and show chpox at work in the test VM: a program printing numbers
# is checkpointed with kill (it carries on, unaware), killed, and restored
# by ld-chpox, after which the numbers continue from the checkpoint.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
exec "$here/scripts/vm-run" --timeout 900 -- bash -c '
set -e
say() { printf "\n\033[1m\$ %s\033[0m\n" "$*"; }
checkpoints() { sed -n "s/.*checkpoints=\([0-9]*\).*/\1/p" /proc/chpox; }
say modprobe chpox; modprobe chpox
say "chpox-testprog counter 50 &   # prints 1, 2, 3 ... every 0.1 s; would report any signal"
chpox-testprog counter 50 &
app=$!
sleep 1.5
say chpoxctl add $app SIGUSR2 1 /tmp/counter.dump; chpoxctl add $app SIGUSR2 1 /tmp/counter.dump
say chpoxctl add $app SIGKILL 1 /tmp/counter.dump "   # a bad signal is refused"
chpoxctl add $app SIGKILL 1 /tmp/counter.dump || true
say kill -USR2 $app "   # checkpoint: the program never sees the signal and goes on"
kill -USR2 $app
until [ "$(checkpoints)" = 1 ]; do sleep 0.1; done
sleep 1
say kill -9 $app; kill -9 $app; wait $app 2>/dev/null || true
say ld-chpox --info /tmp/counter.dump "   # (first lines)"; ld-chpox --info /tmp/counter.dump | head -5
say ld-chpox /tmp/counter.dump "   # back from the checkpoint: the numbers continue from there"
ld-chpox /tmp/counter.dump
echo "ld-chpox exited with status $? (the program'"'"'s own)"
say modprobe -r chpox; modprobe -r chpox
'
