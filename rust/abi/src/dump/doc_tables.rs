// SPDX-License-Identifier: GPL-2.0

//! The record tables of `Documentation/dump-format.rst` are the
//! declarations of this folder, rendered: a record's table follows the
//! comment `.. record: NAME` there, and this test fails when one differs
//! from what the code declares (or a record has no table, or a table no
//! record). `CHPOX_BLESS=1 cargo test` rewrites the tables from the code.

extern crate std;

use super::ipc::{PipeState, SocketBinding, SocketHead};
use super::record::Layout;
use super::*;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, fs};

/// Every record of the format, in the order of the documentation.
const LAYOUTS: &[Layout] = &[
    Header::LAYOUT,
    SectionFrame::LAYOUT,
    ProcessInfo::LAYOUT,
    MmLayout::LAYOUT,
    ListHead::LAYOUT,
    Vma::LAYOUT,
    FileStamp::LAYOUT,
    PagesHead::LAYOUT,
    ThreadInfo::LAYOUT,
    Registers::LAYOUT,
    SignalState::LAYOUT,
    SigAction::LAYOUT,
    QueuedSignal::LAYOUT,
    OpenFile::LAYOUT,
    SleepRestart::LAYOUT,
    PipeState::LAYOUT,
    SocketHead::LAYOUT,
    SocketBinding::LAYOUT,
    Clocks::LAYOUT,
    RseqArea::LAYOUT,
    Zombie::LAYOUT,
];

/// The real dumps of `fuzz/seeds/` (their paths and bytes), at least two.
pub(crate) fn seed_dumps() -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let dir = top().join("fuzz/seeds");
    let mut dumps = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "dump") {
            let bytes = fs::read(&path).unwrap();
            dumps.push((path, bytes));
        }
    }
    assert!(dumps.len() >= 2, "no real dumps in {}", dir.display());
    dumps
}

/// The repository's top directory: this crate is compiled from
/// `rust/abi` and, through `#[path]`, from `fuzz`.
pub(crate) fn top() -> std::path::PathBuf {
    let mut dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("Documentation/dump-format.rst").exists() {
        assert!(
            dir.pop(),
            "no Documentation/dump-format.rst above the crate"
        );
    }
    dir
}

/// A Rust doc comment as reStructuredText: code in double backquotes,
/// intra-doc links as plain code (their targets dropped).
fn rst(doc: &[&str]) -> String {
    let mut text = doc.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    while let Some(at) = text.find("`](") {
        let Some(close) = text[at..].find(')') else {
            break;
        };
        text.replace_range(at + 1..at + close + 1, "");
    }
    text.replace("[`", "`")
        .replace("`]", "`")
        .replace('`', "``")
}

/// Splits `text` into lines of at most `width` characters at spaces.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(core::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// A record's table, as the documentation must hold it.
fn render(layout: &Layout) -> String {
    const FIELD: usize = 52;
    let mut rows = Vec::new();
    let mut offset = 0usize;
    for row in layout.rows {
        if row.ty == "tail" {
            continue;
        }
        let field = match row.name {
            "-" => String::from("zero"),
            name if row.doc.is_empty() => format!("``{name}``"),
            name => format!("``{name}``: {}", rst(row.doc)),
        };
        let ty = if row.ty == "zero" {
            String::new()
        } else {
            row.ty.replace(' ', "")
        };
        rows.push((offset.to_string(), row.size.to_string(), ty, field));
        offset += row.size;
    }
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(6);
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(4);
    let w2 = rows.iter().map(|r| r.2.len()).max().unwrap_or(0).max(4);
    let border = format!(
        "{}  {}  {}  {}\n",
        "=".repeat(w0),
        "=".repeat(w1),
        "=".repeat(w2),
        "=".repeat(FIELD)
    );
    let line = |a: &str, b: &str, c: &str, d: &str| {
        format!("{a:w0$}  {b:w1$}  {c:w2$}  {d}")
            .trim_end()
            .to_string()
            + "\n"
    };
    let mut out = border.clone();
    out += &line("Offset", "Size", "Type", "Field");
    out += &border;
    for (o, s, t, f) in &rows {
        for (i, piece) in wrap(f, FIELD).iter().enumerate() {
            out += &if i == 0 {
                line(o, s, t, piece)
            } else {
                line("", "", "", piece)
            };
        }
    }
    out += &border;
    out += &format!("\n{} bytes.\n", offset);
    out
}

/// Where each record's table is in `doc`: (name, start, end) of the text
/// after its `.. record: NAME` line and the blank line below it, to the
/// end of the line giving its size after the table.
fn tables(doc: &str) -> Vec<(String, usize, usize)> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = doc[at..].find("\n.. record: ") {
        let name_start = at + i + "\n.. record: ".len();
        let name_end = name_start + doc[name_start..].find('\n').unwrap();
        let start = name_end + 2;
        // The table ends with a border and a blank line, then comes the
        // line with the size (alone where a table is still to be made).
        let rest = &doc[start..];
        let size_line = if rest.starts_with('=') {
            rest.find("=\n\n").map_or(rest.len(), |e| e + 3)
        } else {
            0
        };
        let end = start + size_line + rest[size_line..].find('\n').map_or(0, |e| e + 1);
        found.push((String::from(&doc[name_start..name_end]), start, end));
        at = name_end;
    }
    found
}

#[test]
fn documentation_tables_match_the_declarations() {
    let path = top().join("Documentation/dump-format.rst");
    let mut doc = fs::read_to_string(&path).unwrap();
    let bless = std::env::var_os("CHPOX_BLESS").is_some();
    let mut wrong = Vec::new();
    let found = tables(&doc);
    for (name, ..) in &found {
        assert!(
            LAYOUTS.iter().any(|l| l.name == name),
            "dump-format.rst has a table of `{name}`, which is no record"
        );
    }
    // Last to first, so that replacing one keeps the others' offsets.
    for (name, start, end) in found.into_iter().rev() {
        let layout = LAYOUTS.iter().find(|l| l.name == name).unwrap();
        let want = render(layout);
        if doc[start..end] != want {
            wrong.push(format!(
                "table of `{name}` differs; the code declares:\n\n{want}"
            ));
            doc.replace_range(start..end, &want);
        }
    }
    for layout in LAYOUTS {
        assert!(
            tables(&doc).iter().any(|(n, ..)| n == layout.name),
            "dump-format.rst has no `.. record: {}` table",
            layout.name
        );
    }
    if bless {
        fs::write(&path, doc).unwrap();
    } else {
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

#[test]
fn sizes_are_the_sum_of_the_fields() {
    for layout in LAYOUTS {
        let sum: usize = layout.rows.iter().map(|r| r.size).sum();
        let size = match layout.name {
            "header" => Header::SIZE,
            "section" => SectionFrame::SIZE,
            "process" => ProcessInfo::SIZE,
            "mm" => MmLayout::SIZE,
            "list head" => ListHead::SIZE,
            "vma" => Vma::SIZE,
            "file stamp" => FileStamp::SIZE,
            "pages" => PagesHead::SIZE,
            "thread" => ThreadInfo::SIZE,
            "registers" => Registers::SIZE,
            "signals" => SignalState::SIZE,
            "sigaction" => SigAction::SIZE,
            "queued signal" => QueuedSignal::SIZE,
            "open file" => OpenFile::SIZE,
            "restart" => SleepRestart::SIZE,
            "pipe" => PipeState::SIZE,
            "socket" => SocketHead::SIZE,
            "socket binding" => SocketBinding::SIZE,
            "clocks" => Clocks::SIZE,
            "rseq" => RseqArea::SIZE,
            "zombie" => Zombie::SIZE,
            other => panic!("unknown record {other}"),
        };
        assert_eq!(sum, size, "{}", layout.name);
    }
    // The sizes of version 3 (version 2's signal state had the blocked
    // mask, the alternate stack and the thread-private pending set, 2104
    // bytes, and a queued signal a word saying whether it was shared).
    assert_eq!(
        [
            Header::SIZE,
            ProcessInfo::SIZE,
            MmLayout::SIZE,
            Vma::SIZE,
            OpenFile::SIZE,
            SignalState::SIZE,
            QueuedSignal::SIZE,
            PipeState::SIZE,
            SocketHead::SIZE,
            Registers::SIZE,
            ThreadInfo::SIZE,
        ],
        [128, 80, 504, 56, 32, 2064, 128, 24, 32, 216, 352]
    );
}
