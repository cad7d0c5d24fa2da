#!/bin/bash
# The README's main command: set everything up (packages, kernel, module,
# tools) and show chpox at work in the test VM.
#
# Checkpoint and restore are not implemented yet, so the demo shows what
# exists: loading the module, registering a running program, listing it,
# and the registration vanishing with its process.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/install-deps.sh"
exec "$here/scripts/vm-run" --timeout 600 -- bash -c '
set -e
say() { printf "\n\033[1m\$ %s\033[0m\n" "$*"; }
say modprobe chpox; modprobe chpox
(i=0; while :; do i=$((i + 1)); echo "counter: $i"; sleep 1; done) &
app=$!
sleep 2
say chpoxctl add $app SIGUSR2 9 /tmp/counter.dump; chpoxctl add $app SIGUSR2 9 /tmp/counter.dump
say chpoxctl list; chpoxctl list
say cat /proc/chpox; cat /proc/chpox
say chpoxctl add $app SIGKILL 9 /tmp/counter.dump "   # a bad signal"
chpoxctl add $app SIGKILL 9 /tmp/counter.dump || true
sleep 2
say kill $app; kill $app; wait $app 2>/dev/null || true
say chpoxctl list "   # the registration went away with its process"; chpoxctl list
say ld-chpox /tmp/counter.dump; ld-chpox /tmp/counter.dump || true
say modprobe -r chpox; modprobe -r chpox
'
