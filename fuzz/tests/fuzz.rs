// SPDX-License-Identifier: GPL-2.0

//! The bounded fuzzing run of `cargo test`, and checks that it tests what
//! it means to: overflow checks are on, the seeds are valid dumps.

use chpox_fuzz::abi::dump::{Dump, MmLayout, SectionKind};
use chpox_fuzz::driver::{self, Options};
use chpox_fuzz::harness::{self, MMAP_MIN_ADDR};
use chpox_fuzz::seeds;
use std::path::{Path, PathBuf};

/// Cases of the bounded run (`CHPOX_FUZZ_CASES` changes it), and the time
/// it may take at most (large seed dumps make cases slow).
const CASES: u64 = 50_000;
const SECONDS: f64 = 40.0;

#[test]
fn overflow_checks_are_on() {
    let overflow = std::panic::catch_unwind(|| {
        chpox_fuzz::add_in_this_crate(std::hint::black_box(u64::MAX), 1)
    });
    assert!(
        overflow.is_err(),
        "overflow checks are off: the fuzzer would miss overflows \
         ([profile.*.package.chpox-fuzz] in the root Cargo.toml)"
    );
}

#[test]
fn seeds_are_valid_dumps() {
    for seed in seeds::builtin() {
        let dump = Dump::parse(&seed.bytes).unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        dump.validate()
            .unwrap_or_else(|e| panic!("{}: {e}", seed.name));
        for p in 0..dump.header.processes {
            let mm = MmLayout::decode(dump.only(p, SectionKind::Mm).unwrap().payload).unwrap();
            assert_eq!(
                mm.check_like_prctl(MMAP_MIN_ADDR, chpox_fuzz::abi::dump::USER_END),
                Ok(())
            );
            let threads = dump.threads(p).count() as u32;
            for t in 0..threads {
                assert!(
                    harness::kernel_load(&seed.bytes, p, t).is_some(),
                    "{}: the kernel-like loader refuses thread {t} of process {p}",
                    seed.name
                );
            }
            assert!(
                harness::kernel_load(&seed.bytes, p, threads).is_none(),
                "{}: the kernel-like loader takes a thread past the last of process {p}",
                seed.name
            );
        }
        let outcome = harness::dump(&seed.bytes, 0);
        assert!(
            outcome.valid && outcome.loaded,
            "{}: {outcome:?}",
            seed.name
        );
    }
}

#[test]
fn bounded_run() {
    let cases = std::env::var("CHPOX_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CASES);
    let mut seed_dirs: Vec<PathBuf> = std::env::var_os("CHPOX_FUZZ_SEEDS")
        .map(|v| std::env::split_paths(&v).collect())
        .unwrap_or_default();
    seed_dirs.push(concat!(env!("CARGO_MANIFEST_DIR"), "/seeds").into());
    let stats = driver::run(&Options {
        cases,
        start: 0,
        seed: 0x7e57,
        seed_dirs,
        crash_dir: Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .join("target/fuzz-crashes"),
        progress: false,
        seconds: Some(SECONDS),
    });
    println!("{stats}");
    // The mutations must keep reaching the decoders behind the checksums.
    assert!(stats.parsed * 4 >= stats.cases, "{stats}");
    assert!(stats.valid * 50 >= stats.cases, "{stats}");
}
