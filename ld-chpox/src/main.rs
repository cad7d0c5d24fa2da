// SPDX-License-Identifier: GPL-2.0

//! `ld-chpox`: restore a process tree from a chpox dump file.

mod info;
mod restore;

use chpox_abi::dump::{elide, Dump, DumpError, ReadAt};
use chpox_abi::sink::Sink;
use clap::Parser;
use std::fs::File;
use std::io::{ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Restore the processes saved in a chpox dump file; they continue where
/// they were checkpointed, as children of ld-chpox.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Check the dump and describe what it holds instead of restoring it.
    #[arg(long)]
    info: bool,
    /// Let the processes run as soon as their memory is mapped, and fill
    /// their private memory as they run, on demand and in the background.
    /// ld-chpox stays until it is all filled; the dump must stay until then.
    #[arg(long, conflicts_with = "info")]
    lazy: bool,
    /// The dump file written by a checkpoint.
    dump: PathBuf,
}

/// Checks the image of the dump at `path` (a file of `file_len` bytes)
/// completely: nothing is restored from a dump that is not whole, of this
/// architecture and of this very kernel. The page contents, which ld-chpox
/// never reads, are verified by the module as it reads them.
fn load<'a>(path: &Path, image: &'a [u8], file_len: u64) -> Result<Dump<'a>, String> {
    let dump = Dump::parse_elided(image, file_len).map_err(|e| explain(path, e))?;
    dump.validate().map_err(|e| explain(path, e))?;
    let release = nix::sys::utsname::uname()
        .map_err(|e| format!("uname: {e}"))?
        .release()
        .to_string_lossy()
        .into_owned();
    let taken_on = String::from_utf8_lossy(dump.header.release());
    if taken_on != release {
        return Err(format!(
            "{}: the dump was taken on kernel {taken_on}, this is {release}: \
             restore needs the same kernel",
            path.display()
        ));
    }
    Ok(dump)
}

fn explain(path: &Path, e: DumpError) -> String {
    format!("{}: {e}", path.display())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !cli.info {
        if let Err(e) = restore::ensure_no_rseq() {
            eprintln!("ld-chpox: {e}");
            return ExitCode::FAILURE;
        }
    }
    // One open file for everything: its owner decides the restored
    // processes' rights, and the module reads the same file again.
    let (file, image, file_len) = match read(&cli.dump) {
        Ok(read) => read,
        Err(ReadError::Io(e)) => {
            eprintln!("ld-chpox: cannot read {}: {e}", cli.dump.display());
            return ExitCode::FAILURE;
        }
        Err(ReadError::Dump(e)) => {
            eprintln!("ld-chpox: {}", explain(&cli.dump, e));
            return ExitCode::FAILURE;
        }
    };
    if cli.info {
        let dump = Dump::parse_elided(&image, file_len);
        return match dump.and_then(|d| d.validate().map(|()| d)) {
            Ok(dump) => {
                let mut text = info::describe(&cli.dump, &dump);
                match restore::describe_identity(&file, &dump) {
                    Ok(owner) => text += &owner,
                    Err(e) => text += &format!("owner: unknown ({e})\n"),
                }
                // A reader that stopped early (`--info DUMP | head -1`) is
                // not an error.
                match std::io::stdout().lock().write_all(text.as_bytes()) {
                    Err(e) if e.kind() != ErrorKind::BrokenPipe => {
                        eprintln!("ld-chpox: cannot write to standard output: {e}");
                        ExitCode::FAILURE
                    }
                    _ => ExitCode::SUCCESS,
                }
            }
            Err(e) => {
                eprintln!("ld-chpox: {}", explain(&cli.dump, e));
                ExitCode::FAILURE
            }
        };
    }
    match load(&cli.dump, &image, file_len) {
        Ok(dump) => restore::run(&cli.dump, &file, &dump, cli.lazy),
        Err(message) => {
            eprintln!("ld-chpox: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Most bytes of a dump ld-chpox keeps in memory: all but the page
/// contents, of which it keeps the addresses, 8 bytes a page. 1 GiB is
/// the image of a dump of about 512 GiB of pages; no other section is
/// longer than [`SECTION_MAX`](chpox_abi::dump::SECTION_MAX).
const IMAGE_MAX: u64 = 1 << 30;

/// Why a dump could not be read.
enum ReadError {
    /// The file could not be opened or read.
    Io(std::io::Error),
    /// What was read of it is no usable dump.
    Dump(DumpError),
}

impl From<DumpError> for ReadError {
    fn from(e: DumpError) -> Self {
        ReadError::Dump(e)
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        ReadError::Io(e)
    }
}

/// The dump file, read by offset: the module reads it again by its own
/// offsets, through a descriptor that shares this one's file offset.
struct DumpFile<'a>(&'a File);

impl ReadAt for DumpFile<'_> {
    type Error = ReadError;
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        Ok(self.0.read_exact_at(buf, offset)?)
    }
}

/// The image of the dump in memory.
struct Image(Vec<u8>);

impl Sink for Image {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// The open dump file, the image of it that
/// [`Dump::parse_elided`] checks (everything but the page contents, which
/// are never read: the module reads them, once) and the file's length.
fn read(path: &Path) -> Result<(File, Vec<u8>, u64), ReadError> {
    let file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        // The module refuses anything else, which could block its reads.
        return Err(std::io::Error::new(ErrorKind::InvalidInput, "not a regular file").into());
    }
    let mut image = Image(Vec::new());
    elide(&mut DumpFile(&file), meta.len(), &mut image, IMAGE_MAX)?;
    Ok((file, image.0, meta.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/seeds")
            .join(name)
    }

    /// The image read from a real dump checks as the whole file does, and
    /// is the file but for the pages.
    #[test]
    fn a_real_dump_is_read_without_its_pages() {
        let path = seed("counter-user.dump");
        let whole = std::fs::read(&path).unwrap();
        let Ok((_, image, len)) = read(&path) else {
            panic!("cannot read {}", path.display());
        };
        assert_eq!(len, whole.len() as u64);
        assert!(image.len() * 16 < whole.len(), "{} bytes kept", image.len());
        let lean = Dump::parse_elided(&image, len).unwrap();
        lean.validate().unwrap();
        let dump = Dump::parse(&whole).unwrap();
        assert_eq!(lean.sections().count(), dump.sections().count());
        assert_eq!(
            info::describe(&path, &lean),
            info::describe(&path, &dump),
            "--info says the same"
        );
    }

    #[test]
    fn only_regular_files_are_read() {
        let dir = seed("");
        assert!(matches!(read(&dir), Err(ReadError::Io(e)) if e.kind() == ErrorKind::InvalidInput));
        assert!(matches!(
            read(&seed("no such dump")),
            Err(ReadError::Io(e)) if e.kind() == ErrorKind::NotFound
        ));
    }
}
