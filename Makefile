# SPDX-License-Identifier: GPL-2.0
#
# chpox: kernel module (Rust, out of tree) and user-space tools.
#
#   make                 module + tools, against the project's test kernel
#   make KDIR=<dir>      module against another Rust-enabled kernel build
#   make check           every test: unit tests, then the selftests in QEMU
#   make demo            checkpoint -> kill -> restore demo in QEMU
#   make bench           chpox and CRIU checkpoint/restore the same workloads in
#                        one boot of QEMU, a table side by side (BENCH_SIZES:
#                        MiB of the single-process workloads; BENCH_TIMEOUT)
#   make CLIPPY=1        module built through clippy
#   make fuzz            fuzz the dump and /proc/chpox parsers (FUZZ_CASES,
#                        FUZZ_SEEDS: a directory of seed dumps)
#   make fuzz-vm         the long fuzz test in QEMU: mutated real dumps restored
#                        by a user through the real module (FUZZ_VM_CASES,
#                        FUZZ_VM_SEED, FUZZ_VM_TIMEOUT in seconds)

KDIR ?= $(shell scripts/build-kernel.sh)
LLVM ?= 1
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM)

.PHONY: all module tools modules_install clean check demo bench lint fuzz fuzz-vm

all: module tools

# Kbuild does not notice a switch to another kernel tree of the same release
# (a new kernel/chpox.config): the module built for the old one would load
# and misbehave. The tree of the last build is kept in .kdir.
module:
	@if [ -e .kdir ] && [ "$$(cat .kdir)" != "$(KDIR)" ]; then $(KMAKE) clean; fi
	$(KMAKE) modules
	@echo "$(KDIR)" >.kdir

modules_install: module
	$(KMAKE) modules_install

tools:
	cargo build --release --locked

check:
	scripts/test.sh

demo:
	scripts/demo.sh

# The 1 GiB workload needs itself, its dump and its restored copy in guest
# memory at once (dumps go to the guest's tmpfs). bench-reaper reaps the
# restored trees that outlive their restorer, so their pids come free again.
BENCH_SIZES ?= 16 64 256 1024
BENCH_TIMEOUT ?= 5400

bench:
	scripts/vm-run --mem 6144 --timeout $(BENCH_TIMEOUT) -- \
		env BENCH_SIZES="$(BENCH_SIZES)" chpox-testprog bench-reaper bench/bench.sh

FUZZ_CASES ?= 1000000
FUZZ_SEEDS ?= fuzz/seeds

fuzz:
	cargo run --release --locked -p chpox-fuzz -- --cases $(FUZZ_CASES) --seeds $(FUZZ_SEEDS)

# selftests/test_fuzz.sh with tens of thousands of cases (about 1.1 s each
# under TCG: 20 000 take six hours); failing inputs are kept in
# target/fuzz-guest. FUZZ_VM_SEED (a number) runs other cases.
FUZZ_VM_CASES ?= 20000
FUZZ_VM_SEED ?=
FUZZ_VM_TIMEOUT ?= 86400

fuzz-vm:
	scripts/vm-run --timeout $(FUZZ_VM_TIMEOUT) -- \
		env CHPOX_FUZZ_VM_CASES=$(FUZZ_VM_CASES) CHPOX_FUZZ_VM_SEED=$(FUZZ_VM_SEED) \
		selftests/run.sh test_fuzz.sh

lint:
	cargo fmt --all --check
	cargo clippy --release --locked --all-targets -- -D warnings
	$(KMAKE) CLIPPY=1 modules

clean:
	-$(KMAKE) clean
	cargo clean
