// SPDX-License-Identifier: GPL-2.0

//! The fuzzing loop: seeds, cases, statistics, and what is left behind
//! when a case panics (its input in a file, its case number, the
//! mutations that made it).

use crate::harness::{self, Outcome};
use crate::mutate::{split, Layout, Mutator};
use crate::rng::Rng;
use crate::seeds::{self, Seed};
use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Instant;

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Number of cases.
    pub cases: u64,
    /// Number of the first case (cases are independent: case `n` of seed
    /// `s` is the same input on every run).
    pub start: u64,
    /// Seed of the generator.
    pub seed: u64,
    /// Directories of seed dumps (added to the built-in ones).
    pub seed_dirs: Vec<PathBuf>,
    /// Where a crashing input is written.
    pub crash_dir: PathBuf,
    /// Print progress to stderr now and then.
    pub progress: bool,
    /// Stop after this many seconds even if cases are left (the bounded
    /// run of `cargo test` with large seed dumps).
    pub seconds: Option<f64>,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// Seeds used (built-in and from files).
    pub seeds: usize,
    /// Cases run (each a dump and a line).
    pub cases: u64,
    /// Dumps whose header decoded.
    pub header: u64,
    /// Dumps `Dump::parse` accepted.
    pub parsed: u64,
    /// Dumps `Dump::validate` accepted.
    pub valid: u64,
    /// Dumps the kernel-like loader accepted (process 0).
    pub loaded: u64,
    /// Valid for ld-chpox, refused by the kernel-like loader.
    pub valid_not_loaded: u64,
    /// Payloads accepted, by the kind of decoder.
    pub decoded: [u64; harness::DECODERS],
    /// Lines `parse_command` accepted.
    pub commands: u64,
    /// Seconds taken.
    pub seconds: f64,
}

impl Stats {
    fn add(&mut self, o: &Outcome) {
        self.header += u64::from(o.header);
        self.parsed += u64::from(o.parsed);
        self.valid += u64::from(o.valid);
        self.loaded += u64::from(o.loaded);
        self.valid_not_loaded += u64::from(o.valid_not_loaded);
        for (sum, n) in self.decoded.iter_mut().zip(o.decoded) {
            *sum += u64::from(n);
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct = |n: u64| 100.0 * n as f64 / self.cases.max(1) as f64;
        writeln!(
            f,
            "{} cases from {} seeds in {:.1} s ({:.0} cases/s), no panic",
            self.cases,
            self.seeds,
            self.seconds,
            self.cases as f64 / self.seconds.max(1e-9)
        )?;
        writeln!(
            f,
            "dumps: header ok {:.1}%, parsed {:.1}%, valid {:.1}%, kernel-loaded {:.1}% \
             (valid but refused by the kernel checks: {})",
            pct(self.header),
            pct(self.parsed),
            pct(self.valid),
            pct(self.loaded),
            self.valid_not_loaded
        )?;
        // One a kind number: a kind added fails to compile until named.
        let names: [&str; harness::DECODERS] = [
            "",
            "process",
            "mm",
            "registers",
            "-",
            "signals",
            "vmas",
            "pages",
            "files",
            "pipe",
            "socket",
            "restart",
            "clocks",
            "rseq",
            "zombies",
            "thread",
            "zstd-pages",
        ];
        write!(f, "payloads accepted:")?;
        for (name, n) in names.iter().zip(self.decoded) {
            if !name.is_empty() && *name != "-" {
                write!(f, " {name} {n}")?;
            }
        }
        writeln!(f)?;
        write!(f, "lines: commands accepted {:.1}%", pct(self.commands))
    }
}

/// The input being run on this thread, for the panic hook.
struct Current {
    case: Option<u64>,
    /// Cases of this run before this one.
    before: u64,
    seed: u64,
    origin: String,
    extension: &'static str,
    bytes: Vec<u8>,
    log: Vec<String>,
    /// Where to write it (not when replaying a file).
    crash_dir: Option<PathBuf>,
}

thread_local! {
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

/// Installs (once) a panic hook that writes the input of the panicking
/// case to a file and says how to run it again. It works with
/// `panic = "abort"` too: the hook runs before the abort.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let _ = CURRENT.try_with(|c| {
                if let Ok(c) = c.try_borrow() {
                    if let Some(c) = c.as_ref() {
                        report(c);
                    }
                }
            });
            previous(info);
        }));
    });
}

fn report(c: &Current) {
    let name = match c.case {
        Some(case) => format!("crash-{:x}-{case}.{}", c.seed, c.extension),
        None => format!("crash-seed.{}", c.extension),
    };
    let case = c.case.map_or("a seed".into(), |n| format!("case {n}"));
    let Some(dir) = &c.crash_dir else {
        eprintln!("\nchpox-fuzz: PANIC on {}", c.origin);
        return;
    };
    let path = dir.join(name);
    let written = std::fs::create_dir_all(dir)
        .and_then(|()| std::fs::write(&path, &c.bytes))
        .and_then(|()| {
            let mut text = format!("from: {}\n", c.origin);
            for l in &c.log {
                text.push_str(l);
                text.push('\n');
            }
            std::fs::write(path.with_extension("txt"), text)
        });
    eprintln!(
        "\nchpox-fuzz: PANIC in {case} (generator seed {:#x}), {} cases run before it, from {}",
        c.seed, c.before, c.origin
    );
    for l in &c.log {
        eprintln!("chpox-fuzz:   {l}");
    }
    match written {
        Ok(()) => eprintln!(
            "chpox-fuzz: input written to {}; run it again with \
             `cargo run --release -p chpox-fuzz -- --replay {}`",
            path.display(),
            path.display()
        ),
        Err(e) => eprintln!("chpox-fuzz: could not write {}: {e}", path.display()),
    }
}

/// Runs `f` on `bytes` with them recorded for the panic hook.
fn guarded<T>(
    mut current: Current,
    bytes: Vec<u8>,
    f: impl FnOnce(&[u8]) -> T,
) -> (T, Vec<u8>, Vec<String>) {
    current.bytes = bytes;
    CURRENT.with(|c| *c.borrow_mut() = Some(current));
    let result = CURRENT.with(|c| f(&c.borrow().as_ref().expect("set above").bytes));
    let current = CURRENT.with(|c| c.borrow_mut().take()).expect("set above");
    (result, current.bytes, current.log)
}

/// The built-in seeds and those of `dirs`.
pub fn load_seeds(dirs: &[PathBuf]) -> Vec<Seed> {
    let mut all = seeds::builtin();
    for d in dirs {
        all.extend(seeds::from_dir(d));
    }
    all
}

/// Runs the cases of `opts`. Panics (after reporting) on the first case
/// that panics.
pub fn run(opts: &Options) -> Stats {
    install_hook();
    let started = Instant::now();
    let seeds = load_seeds(&opts.seed_dirs);
    let pool: Vec<Layout> = seeds.iter().map(|s| split(&s.bytes)).collect();
    let mut stats = Stats {
        seeds: seeds.len(),
        ..Default::default()
    };
    let blank = |case: Option<u64>, origin: &str, extension| Current {
        case,
        before: case.map_or(0, |c| c - opts.start),
        seed: opts.seed,
        origin: origin.into(),
        extension,
        bytes: Vec::new(),
        log: Vec::new(),
        crash_dir: Some(opts.crash_dir.clone()),
    };
    // The seeds as they are.
    for s in &seeds {
        guarded(blank(None, &s.name, "dump"), s.bytes.clone(), |b| {
            harness::dump(b, 0)
        });
    }
    for line in seeds::LINES {
        guarded(
            blank(None, "seed line", "line"),
            line.to_vec(),
            harness::line,
        );
    }
    let mut last_report = Instant::now();
    for case in opts.start..opts.start.saturating_add(opts.cases) {
        let mut rng = Rng::for_case(opts.seed, case);
        let which = rng.index(pool.len());
        let choice = rng.bits();
        let mut m = Mutator {
            rng: &mut rng,
            pool: &pool,
            log: Vec::new(),
        };
        let dump = m.dump(&pool[which]);
        let mut current = blank(Some(case), &seeds[which].name, "dump");
        current.log = std::mem::take(&mut m.log);
        let (outcome, _, _) = guarded(current, dump, |b| harness::dump(b, choice));
        stats.add(&outcome);
        let line = m.line(seeds::LINES);
        let mut current = blank(Some(case), "seed lines", "line");
        current.log = std::mem::take(&mut m.log);
        let (accepted, _, _) = guarded(current, line, harness::line);
        stats.commands += u64::from(accepted);
        stats.cases += 1;
        if opts
            .seconds
            .is_some_and(|s| started.elapsed().as_secs_f64() >= s)
        {
            eprintln!(
                "chpox-fuzz: {} s are up after {} cases",
                started.elapsed().as_secs(),
                stats.cases
            );
            break;
        }
        if opts.progress && last_report.elapsed().as_secs() >= 10 {
            last_report = Instant::now();
            eprintln!(
                "chpox-fuzz: {} cases, {:.0} s, {} parsed, {} valid",
                stats.cases,
                started.elapsed().as_secs_f64(),
                stats.parsed,
                stats.valid
            );
        }
    }
    stats.seconds = started.elapsed().as_secs_f64();
    stats
}

/// Runs one saved input again (a `.line` file as a `/proc/chpox` line,
/// anything else as a dump).
pub fn replay(path: &Path) -> std::io::Result<String> {
    install_hook();
    let bytes = std::fs::read(path)?;
    let line = path.extension().is_some_and(|e| e == "line");
    let current = Current {
        case: None,
        before: 0,
        seed: 0,
        origin: path.display().to_string(),
        extension: if line { "line" } else { "dump" },
        bytes: Vec::new(),
        log: Vec::new(),
        crash_dir: None,
    };
    Ok(if line {
        let (ok, _, _) = guarded(current, bytes, harness::line);
        format!("{}: no panic (command accepted: {ok})", path.display())
    } else {
        let (o, _, _) = guarded(current, bytes, |b| harness::dump(b, 0));
        format!("{}: no panic ({o:?})", path.display())
    })
}
