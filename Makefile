# SPDX-License-Identifier: GPL-2.0
#
# chpox: kernel module (Rust, out of tree) and user-space tools.
#
#   make                 module + tools, against the project's test kernel
#   make KDIR=<dir>      module against another Rust-enabled kernel build
#   make check           every test: unit tests, then the selftests in QEMU
#   make demo            checkpoint -> kill -> restore demo in QEMU
#   make CLIPPY=1        module built through clippy
#   make fuzz            fuzz the dump and /proc/chpox parsers (FUZZ_CASES,
#                        FUZZ_SEEDS: a directory of seed dumps)

KDIR ?= $(shell scripts/build-kernel.sh)
LLVM ?= 1
KMAKE = $(MAKE) -C $(KDIR) M=$(CURDIR) LLVM=$(LLVM)

.PHONY: all module tools modules_install clean check demo lint fuzz

all: module tools

module:
	$(KMAKE) modules

modules_install: module
	$(KMAKE) modules_install

tools:
	cargo build --release --locked

check:
	scripts/test.sh

demo:
	scripts/demo.sh

FUZZ_CASES ?= 1000000
FUZZ_SEEDS ?= fuzz/seeds

fuzz:
	cargo run --release --locked -p chpox-fuzz -- --cases $(FUZZ_CASES) --seeds $(FUZZ_SEEDS)

lint:
	cargo fmt --all --check
	cargo clippy --release --locked --all-targets -- -D warnings
	$(KMAKE) CLIPPY=1 modules

clean:
	-$(KMAKE) clean
	cargo clean
