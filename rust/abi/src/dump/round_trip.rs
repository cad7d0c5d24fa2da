// SPDX-License-Identifier: GPL-2.0

//! Evidence that the declarations encode what was always written: a dump
//! is decoded section by section with the decoders of this folder and
//! written again with its encoders, and the result must be the very same
//! bytes. Run on the real dumps of `fuzz/seeds/`, on the unit tests'
//! sample and (from the fuzz crate's tests) on its built-in seeds.

extern crate std;

use super::ipc::{PipeState, SocketName, SocketState};
use super::*;
use std::vec::Vec;

struct Out(Vec<u8>);

impl Sink for Out {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// The payload of `section` decoded and encoded again.
fn payload(dump: &Dump<'_>, section: &Section<'_>) -> Vec<u8> {
    let mut b = Vec::new();
    let mut out = |x: &[u8]| b.extend_from_slice(x);
    let p = section.payload;
    match section.kind {
        SectionKind::Process => {
            let (info, cwd, exe) = ProcessInfo::decode(p).unwrap();
            out(&info.encode(cwd, exe));
            out(cwd);
            out(exe);
        }
        SectionKind::Mm => out(&MmLayout::decode(p).unwrap().encode()),
        SectionKind::Signals => {
            let (state, queued) = SignalState::decode(p).unwrap();
            state.encode(&mut out);
            for q in queued {
                SignalState::encode_queued(&q, &mut out);
            }
        }
        SectionKind::Vmas => {
            let vmas: Vec<_> = decode_vmas(p).unwrap().collect();
            out(&vmas_head(vmas.len() as u32));
            for v in &vmas {
                v.encode(&mut out);
            }
        }
        SectionKind::Pages | SectionKind::ZstdPages => {
            let index = Reader::new(p).u32("area").unwrap();
            let vmas = dump.only(section.process, SectionKind::Vmas).unwrap();
            let area = decode_vmas(vmas.payload)
                .unwrap()
                .nth(index as usize)
                .unwrap();
            let (head, addrs, contents) = PagesHead::decode_of(section.kind, p, &area).unwrap();
            out(&head.encode());
            out(addrs);
            out(contents);
        }
        SectionKind::Files => {
            let files: Vec<_> = decode_files(p).unwrap().collect();
            out(&files_head(files.len() as u32));
            for f in &files {
                f.encode(&mut out);
            }
        }
        SectionKind::Pipe => {
            let pipe = PipeState::decode(p).unwrap();
            let len = pipe.data.len() as u64;
            out(&PipeState::encode_head(pipe.inode, pipe.capacity, len));
            out(pipe.data);
        }
        SectionKind::Socket => {
            let s = SocketState::decode(p).unwrap();
            let name_len = s.name.len() as u32;
            out(&SocketState::encode_head(
                s.inode, s.peer, s.kind, s.shutdown, s.count, name_len,
            ));
            let bound = SocketName {
                name: s.name,
                listening: s.listening,
            };
            let (head, pad) = bound.frame();
            out(&head);
            out(s.name);
            out(pad);
            for m in s.messages() {
                let (head, pad) = SocketState::message_frame(m.len());
                out(&head);
                out(m);
                out(pad);
            }
        }
        SectionKind::Clocks => out(&Clocks::decode(p).unwrap().encode()),
        SectionKind::Zombies => {
            for z in decode_zombies(p).unwrap() {
                out(&z.encode());
            }
        }
        SectionKind::Thread => {
            let t = ThreadInfo::decode(p).unwrap();
            let queued: Vec<_> = t.queued().collect();
            t.info.encode(&queued, t.xstate, &mut out);
        }
    }
    b
}

/// `bytes`, a valid dump, decoded and encoded again whole: header,
/// framing and every payload.
pub(crate) fn reencode(bytes: &[u8]) -> Vec<u8> {
    let dump = Dump::parse(bytes).unwrap();
    dump.validate().unwrap();
    let mut out = Out(Vec::from([0u8; HEADER_SIZE]));
    for section in dump.sections() {
        let payload = payload(&dump, &section);
        let len = payload.len() as u64;
        let mut w = SectionWriter::begin(&mut out, section.kind, section.process, len);
        w.put(&mut out, &payload);
        assert!(w.end(&mut out));
    }
    let header = Header::decode(bytes).unwrap().encode();
    out.0[..HEADER_SIZE].copy_from_slice(&header);
    out.0
}

/// The real dumps of `fuzz/seeds/`, made in the test VM by
/// `selftests/test_fuzz.sh` with `CHPOX_SEED_OUT` (see `fuzz/seeds/README`),
/// whenever the format changes.
#[test]
fn real_dumps_are_encoded_again_byte_for_byte() {
    for (path, bytes) in super::doc_tables::seed_dumps() {
        let version = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(
            version,
            VERSION,
            "{} is of version {version}: make it again (fuzz/seeds/README)",
            path.display()
        );
        assert!(reencode(&bytes) == bytes, "{} changed", path.display());
    }
}

#[test]
fn the_sample_is_encoded_again_byte_for_byte() {
    let bytes = super::tests::sample();
    // The sample lacks the sections `validate` wants: walk it unvalidated.
    let dump = Dump::parse(&bytes).unwrap();
    for section in dump.sections() {
        assert_eq!(
            payload(&dump, &section),
            section.payload,
            "{:?}",
            section.kind
        );
    }
}
