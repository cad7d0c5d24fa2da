#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/bench.sh: checkpoint and restore the same workloads with chpox and
# with CRIU in this (guest) boot and print the figures side by side, with
# dd writing as many bytes as the physical limit. Run in the test VM by
# `make bench`; see Documentation/performance.rst for what each column
# means. Dumps go to /tmp (tmpfs in the guest).
#
# BENCH_SIZES  MiB of the single-process workloads (default "16 64 256 1024")
# BENCH_TOOLS  which tools to run (default "chpox chpox-zstd chpox-lazy
#              chpox-snap criu"; chpox-zstd is chpox with its pages
#              compressed, chpoxctl add --compress; chpox-lazy restores with
#              ld-chpox --lazy, and its restore time is the time until the
#              workload runs again; chpox-snap dumps with chpoxctl add
#              --snapshot, the memory written by a forked copy)
set -euo pipefail

sizes=${BENCH_SIZES:-16 64 256 1024}
tools=${BENCH_TOOLS:-chpox chpox-zstd chpox-lazy chpox-snap criu}
dir=/tmp/bench
criu=/usr/sbin/criu
sig=12 # SIGUSR2, chpox's trigger
export LC_ALL=C

rm -rf "$dir"
mkdir -p "$dir"
modprobe chpox

ctl() { chpox-testprog bench-ctl "$dir/stats" "$@"; }
# kv KEY WORDS: the value of KEY=... among WORDS.
kv() { tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"; }
# calc EXPR: floating-point arithmetic (awk), one decimal.
calc() { awk "BEGIN { printf \"%.1f\", $1 }"; }
note() { echo "bench: $*" >&2; }

# gone and wait_until, as the selftests use them.
. "$(dirname "$0")/../selftests/lib.sh"
# wait_gone PIDS...: waits (up to 60 s) until none of PIDS exists.
wait_gone() {
	wait_until 60 gone "$@" && return 0
	note "pids $* still there"
	return 1
}

app='' pids=''
# start ARGS...: starts the workload, waits until it runs; sets app (its
# root, our child) and pids (all its processes).
start() {
	local out
	rm -f "$dir/stats"
	chpox-testprog bench-workload "$@" --stats "$dir/stats" </dev/null >/dev/null 2>>"$dir/app.log" &
	app=$!
	until [ -s "$dir/stats" ]; do
		kill -0 "$app" 2>/dev/null || return 1
		sleep 0.05
	done
	out=$(ctl ready 20) || return 1
	pids=$(kv pids "$out" | tr , ' ')
}
# stop: kills the workload (original or restored) and waits until its
# pids are free: the next restore needs them. Orphans are reaped by
# bench-reaper, which runs this script.
stop() {
	# shellcheck disable=SC2086 # pids is a list
	kill -9 $pids $app 2>/dev/null || true
	wait "$app" 2>/dev/null || true
	# shellcheck disable=SC2086
	wait_gone $pids
}

# Results of one tool on one workload, set by the run_* functions; a
# measurement that did not happen stays n/a.
reset_results() { dump_ms=n/a restore_ms=n/a stall=n/a size_kib=n/a rss_kib=n/a verdict=FAIL; }

# run_chpox [--compress | --lazy | --snapshot] WORKLOAD_OPTIONS...
run_chpox() {
	local out restorer add=() lazy=()
	case $1 in
	--compress | --snapshot) add=("$1") && shift ;;
	--lazy) lazy=(--lazy) && shift ;;
	esac
	start "$@" || return 1
	chpoxctl add "${add[@]}" "$app" SIGUSR2 9 "$dir/chpox.dump" >/dev/null || return 1
	ctl reset-stall >/dev/null || return 1
	out=$(ctl chpox-dump "$app" "$sig") || return 1
	dump_ms=$(kv ms "$out")
	out=$(ctl stall) || return 1
	stall=$(kv stall_ms "$out")
	size_kib=$(du -k "$dir/chpox.dump" | cut -f1)
	stop || return 1
	out=$(ctl restore "$dir/ld-chpox.log" ld-chpox "${lazy[@]}" "$dir/chpox.dump") || return 1
	restore_ms=$(kv ms "$out") rss_kib=$(kv rss_kib "$out") restorer=$(kv pid "$out")
	ctl verify >/dev/null && verdict=ok
	stop
	# ld-chpox exits with the restored root; make sure before going on.
	wait_gone "$restorer"
}

run_chpox-zstd() { run_chpox --compress "$@"; }
run_chpox-lazy() { run_chpox --lazy "$@"; }
run_chpox-snap() { run_chpox --snapshot "$@"; }

run_criu() {
	local out
	start "$@" || return 1
	ctl reset-stall >/dev/null || return 1
	mkdir -p "$dir/img"
	# -R: the workload goes on after the dump, as with chpox.
	out=$(ctl run "$dir/criu.out" "$criu" dump -t "$app" -D "$dir/img" -R \
		--log-file "$dir/criu-dump.log") || return 1
	dump_ms=$(kv ms "$out")
	out=$(ctl stall) || return 1
	stall=$(kv stall_ms "$out")
	size_kib=$(du -sk "$dir/img" | cut -f1)
	stop || return 1
	out=$(ctl restore "$dir/criu.out" --detached "$criu" restore -D "$dir/img" -d \
		--log-file "$dir/criu-restore.log") || return 1
	restore_ms=$(kv ms "$out") rss_kib=$(kv rss_kib "$out")
	ctl verify >/dev/null && verdict=ok
	stop
}

# dd_ms MIB: how long dd takes to write MIB MiB of zeros into $dir, by its
# own count (without the start of the program), with an fsync at the end.
dd_ms() {
	local out s
	out=$(dd if=/dev/zero of="$dir/dd.out" bs=1M count="$1" conv=fsync 2>&1)
	rm -f "$dir/dd.out"
	s=$(sed -n 's/.* copied, \([0-9.e+-]*\) s,.*/\1/p' <<<"$out")
	calc "$s * 1000"
}

rows=()
fmt='%-14s %-10s %9s %10s %9s %9s %12s %6s  %s\n'
# row WORKLOAD TOOL DD_MS: one line of the table from the results.
row() {
	local mib=n/a rss=n/a pct=n/a
	[ "$size_kib" = n/a ] || mib=$(calc "$size_kib / 1024")
	[ "$rss_kib" = n/a ] || rss=$(calc "$rss_kib / 1024")
	if [ "$dump_ms" != n/a ] && [ "$size_kib" != n/a ]; then
		# Throughput (dump size / dump time) as % of dd's on this workload.
		pct=$(awk "BEGIN { printf \"%.0f\", 100 * ($size_kib / $dump_ms) / ($dd_kib / $3) }")
	fi
	rows+=("$(printf "$fmt" "$1" "$2" "$(ms_s "$dump_ms")" "$(ms_s "$restore_ms")" \
		"$stall" "$mib" "$rss" "$pct" "$verdict")")
	printf '%s\n' "${rows[-1]}" >&2
}
ms_s() { if [ "$1" = n/a ]; then echo n/a; else calc "$1 / 1000"; fi; }

# Each workload: name, its options, and the MiB of data it holds (for dd).
workloads=()
for n in $sizes; do
	workloads+=("mem-${n}M|--mib $n|$n")
done
workloads+=("sparse-4G|--mib 4096 --stride 256|16" "tree-4x64M|--mib 64 --children 3|256")
# Data that compresses to about half, for chpox-zstd.
workloads+=("half-256M|--mib 256 --fill half|256")

criu_version=$($criu --version | sed -n "s/^Version: //p")
note "criu $criu_version"
# criu computes its kerndat once per boot (seconds under TCG) and caches it
# in /run: compute it now so that the first dump does not pay for it.
"$criu" check >/dev/null 2>&1 || true
# Starting a dynamically linked program costs much under TCG and a debug
# kernel; it is part of criu's and ld-chpox's times.
TIMEFORMAT=%R
exec_s=$({ time "$criu" --version >/dev/null; } 2>&1)

for w in "${workloads[@]}"; do
	IFS='|' read -r name args data_mib <<<"$w"
	dd_kib=$((data_mib * 1024))
	ddms=$(dd_ms "$data_mib")
	dump_ms=$ddms restore_ms=n/a stall=n/a size_kib=$dd_kib rss_kib=n/a verdict=-
	row "$name" dd "$ddms"
	for tool in $tools; do
		note "$name: $tool"
		reset_results
		# shellcheck disable=SC2086 # args is a list of options
		if ! "run_$tool" $args; then
			note "$name: $tool failed (logs in $dir)"
			stop || true
		fi
		row "$name" "$tool" "$ddms"
		rm -rf "$dir/chpox.dump" "$dir/img"
	done
done

echo
echo "chpox vs criu $criu_version, kernel $(uname -r), $(nproc) CPUs"
echo "Only ratios within one run mean anything (TCG, debug kernel with KASAN/lockdep)."
echo "dd: zeros, bs=1M, conv=fsync, into $dir (tmpfs); starting a program (criu --version) took ${exec_s} s"
chpox-testprog checksum-speed 256 || true
echo
# shellcheck disable=SC2059 # the format is ours
printf "$fmt" workload tool dump_s restore_s stall_ms size_MiB restorer_MiB %dd verify
printf '%s\n' "${rows[@]}"
if printf '%s\n' "${rows[@]}" | grep -q 'FAIL$'; then
	exit 1
fi
