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
        // As ld-chpox reads it: without its pages (or zstd frames).
        let image = harness::elided_image(&seed.bytes, u64::MAX)
            .unwrap_or_else(|e| panic!("{}: elided: {e}", seed.name));
        let lean = Dump::parse_elided(&image, seed.bytes.len() as u64)
            .unwrap_or_else(|e| panic!("{}: elided: {e}", seed.name));
        lean.validate()
            .unwrap_or_else(|e| panic!("{}: elided: {e}", seed.name));
        assert_eq!(lean.sections().count(), dump.sections().count());
        let outcome = harness::dump(&seed.bytes, 0);
        assert!(
            outcome.valid && outcome.loaded,
            "{}: {outcome:?}",
            seed.name
        );
    }
}

#[test]
fn seeds_have_every_kind() {
    // Every kind of section is in some built-in seed, compressed pages
    // (several of one area) included, so that mutations start from each.
    let seeds = seeds::builtin();
    for kind in harness::KINDS {
        assert!(
            seeds.iter().any(|s| Dump::parse(&s.bytes)
                .unwrap()
                .sections()
                .any(|x| x.kind == kind)),
            "no seed has a {kind:?} section"
        );
    }
    let compressed = seeds
        .iter()
        .map(|s| {
            Dump::parse(&s.bytes)
                .unwrap()
                .sections_of(0, SectionKind::ZstdPages)
                .count()
        })
        .max();
    assert!(compressed >= Some(2), "{compressed:?}");
    // And each decodes by its kind in the harness.
    let mut decoded = [0u32; harness::DECODERS];
    for seed in &seeds {
        decoded
            .iter_mut()
            .zip(harness::dump(&seed.bytes, 1).decoded)
            .for_each(|(sum, n)| *sum += n);
    }
    assert!(decoded[SectionKind::ZstdPages as usize] >= 3, "{decoded:?}");
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
