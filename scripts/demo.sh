#!/bin/bash
# The README's main command: set everything up (packages, kernel, module,
# tools) and show chpox at work in the test VM.
#
# Restore is not implemented yet, so the demo goes as far as exists: a
# program printing numbers is registered, checkpointed with kill (it carries
# on, unaware), the dump is inspected, the program is killed, and ld-chpox
# checks the dump and says that restoring is not there yet.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
exec "$here/scripts/vm-run" --timeout 900 -- bash -c '
set -e
say() { printf "\n\033[1m\$ %s\033[0m\n" "$*"; }
say modprobe chpox; modprobe chpox
say "chpox-testprog counter 1000 &   # prints 1, 2, 3 ... every 0.1 s; reports any signal it gets"
chpox-testprog counter 1000 &
app=$!
sleep 1
say chpoxctl add $app SIGUSR2 1 /tmp/counter.dump; chpoxctl add $app SIGUSR2 1 /tmp/counter.dump
say chpoxctl add $app SIGKILL 1 /tmp/counter.dump "   # a bad signal is refused"
chpoxctl add $app SIGKILL 1 /tmp/counter.dump || true
say kill -USR2 $app "   # checkpoint: the program never sees the signal and goes on"
kill -USR2 $app
until grep -q "checkpoints=1" /proc/chpox; do sleep 0.2; done
sleep 1
say chpoxctl list; chpoxctl list
say ld-chpox --info /tmp/counter.dump; ld-chpox --info /tmp/counter.dump | head -12
say kill $app; kill $app; wait $app 2>/dev/null || true
say ld-chpox /tmp/counter.dump; ld-chpox /tmp/counter.dump || true
say modprobe -r chpox; modprobe -r chpox
'
