// SPDX-License-Identifier: GPL-2.0

//! How a record of the dump format is declared: once, in a `record!`
//! table, from which its struct, its encoded [`Field::SIZE`], its encoder,
//! its decoder and the table of `Documentation/dump-format.rst` all follow.
//!
//! Why a `macro_rules!` table rather than `#[repr(C)]` structs with a
//! plain-old-data trait: the structs the module and the tools build are
//! not the bytes on disk. Their fields are native integers, `bool`s and
//! slices; on disk there are little-endian words, padding, and lengths of
//! the variable parts that follow a record. A `#[repr(C)]` image would need
//! either `unsafe` transmutes (and endianness wrappers that every caller
//! would see) or a second struct per record. The table lists each on-disk
//! field once, in order, with its type and its doc; the macro turns it into
//! the caller-facing struct (padding and lengths left out) and into code
//! that only calls the safe, checked [`Reader`] and appends to a byte sink.
//!
//! An entry of the table is one of
//!
//! * `name: T,` a field of the struct, encoded as [`Field`] `T`;
//! * `name: T as W,` a field of type `T` stored on disk as `W` (a `bool` as
//!   a word);
//! * `pad N,` `N` zero bytes, skipped when read;
//! * `let name: T,` a value on disk that is not a field of the struct (the
//!   length or count of what follows the record): it travels in the
//!   record's *lens* struct, named after `lens` in the declaration;
//! * `tail name: T,` a field of the struct that is not part of the fixed
//!   record (the variable part after it): the hand-written code around the
//!   record reads and writes it; `record!`'s decoder leaves it empty.
//!
//! A declaration `pub struct Name ["doc name"] { ... }` gives `Name`, its
//! `SIZE`, `put(&self, out)` (appends the bytes), `encode(&self) -> [u8;
//! SIZE]`, `read(&mut Reader) -> Result<Name, DumpError>` (nothing checked
//! but that the bytes are there: each record's `decode` adds its checks)
//! and an impl of [`Field`], so that records nest and form arrays. With
//! `["doc name", lens NameLens]` the lens struct is declared too and the
//! three functions are `put_with`, `encode_with` and `read_with`, taking
//! or giving it. What has a variable length is written around a record by
//! hand: entries of lists (`Vma`, `OpenFile`) and the signal state in one
//! shape, `encode(&self, out: &mut dyn FnMut(&[u8]))`, and a decoder that
//! reads the record, then its tail; the heads of the process, pipe and
//! socket payloads keep the array-returning helpers the module calls
//! (`ProcessInfo::encode`, `PipeState::encode_head`,
//! `SocketState::encode_head`, `SocketName::frame`), each one line over
//! the record.
//!
//! The encoding needs no check: `put` writes the struct as it is. Lengths
//! and counts in a lens are `u32` or `u64` values the writer computes from
//! what it writes; every value read goes through the checked [`Reader`].

use super::{DumpError, Reader};

/// A value of fixed size with a little-endian encoding.
pub trait Field: Sized {
    /// Bytes it takes.
    const SIZE: usize;
    /// Appends its encoding.
    fn put(&self, out: &mut dyn FnMut(&[u8]));
    /// Reads it; `what` names it in the error if the bytes run out.
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self, DumpError>;
}

macro_rules! int_fields {
    ($($t:ty),*) => {$(
        impl Field for $t {
            const SIZE: usize = core::mem::size_of::<$t>();
            fn put(&self, out: &mut dyn FnMut(&[u8])) {
                out(&self.to_le_bytes())
            }
            fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self, DumpError> {
                Ok(<$t>::from_le_bytes(r.array(what)?))
            }
        }
    )*};
}
int_fields!(u32, i32, u64);

/// Bytes as they are (names, `comm`, `siginfo`).
impl<const N: usize> Field for [u8; N] {
    const SIZE: usize = N;
    fn put(&self, out: &mut dyn FnMut(&[u8])) {
        out(self)
    }
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self, DumpError> {
        r.array(what)
    }
}

/// Arrays of words or records, one after the other.
impl<T: Field + Copy + Default, const N: usize> Field for [T; N] {
    const SIZE: usize = T::SIZE * N;
    fn put(&self, out: &mut dyn FnMut(&[u8])) {
        for v in self {
            v.put(out);
        }
    }
    fn get(r: &mut Reader<'_>, what: &'static str) -> Result<Self, DumpError> {
        let mut a = [T::default(); N];
        for v in &mut a {
            *v = T::get(r, what)?;
        }
        Ok(a)
    }
}

/// A field stored on disk as another type `W` (`name: T as W` entries).
pub trait AsWire<W> {
    /// Its value on disk.
    fn to_wire(&self) -> W;
    /// Its value read from disk.
    fn from_wire(w: W) -> Self;
}

impl AsWire<u32> for bool {
    fn to_wire(&self) -> u32 {
        u32::from(*self)
    }
    fn from_wire(w: u32) -> Self {
        w != 0
    }
}

impl AsWire<u64> for bool {
    fn to_wire(&self) -> u64 {
        u64::from(*self)
    }
    fn from_wire(w: u64) -> Self {
        w != 0
    }
}

/// Collects an encoding into a fixed array: what `encode()` of a record
/// returns. A record's pieces add up to the array's size by construction;
/// were they longer, the excess would be dropped rather than panic.
pub(crate) struct ArrayOut<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> ArrayOut<'a> {
    pub(crate) fn new(buf: &'a mut [u8]) -> Self {
        ArrayOut { buf, at: 0 }
    }
    pub(crate) fn put(&mut self, bytes: &[u8]) {
        let end = self.at.saturating_add(bytes.len());
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.copy_from_slice(bytes);
        }
        self.at = end;
    }
}

/// One row of a record's table in `Documentation/dump-format.rst`.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) struct Row {
    /// The field's name (`-` for padding).
    pub(crate) name: &'static str,
    /// Its on-disk type as declared.
    pub(crate) ty: &'static str,
    /// Its size in bytes.
    pub(crate) size: usize,
    /// Its doc comment, lines joined.
    pub(crate) doc: &'static [&'static str],
}

/// A record's declaration as the documentation shows it.
#[cfg(test)]
pub(crate) struct Layout {
    /// Its name in the documentation (`.. record:: NAME`).
    pub(crate) name: &'static str,
    /// Its fields in order.
    pub(crate) rows: &'static [Row],
}

/// Declares a record; see the module documentation.
macro_rules! record {
    // Entry point: a struct, its name in the documentation, optionally the
    // name of its lens struct, and its table.
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(<$lt:lifetime>)? [$doc_name:literal $(, lens $lens:ident)?] {
            $($body:tt)*
        }
    ) => {
        record!(@munch
            head[$(#[$meta])* $vis $name [$(<$lt>)?] $doc_name]
            lens[$($lens)?]
            fields[] names[] hidden[] hnames[] entries[]
            $($body)*
        );
    };

    // Padding.
    (@munch head $head:tt lens $lens:tt fields $f:tt names $n:tt hidden $h:tt hnames $hn:tt
        entries[$($e:tt)*] pad $size:literal, $($rest:tt)*) => {
        record!(@munch head $head lens $lens fields $f names $n hidden $h hnames $hn
            entries[$($e)* (pad $size)] $($rest)*);
    };
    // A value on disk that is not a field of the struct.
    (@munch head $head:tt lens $lens:tt fields $f:tt names $n:tt
        hidden[$($h:tt)*] hnames[$($hn:tt)*] entries[$($e:tt)*]
        $(#[doc = $doc:literal])* let $field:ident : $ty:ty, $($rest:tt)*) => {
        record!(@munch head $head lens $lens fields $f names $n
            hidden[$($h)* $(#[doc = $doc])* pub $field: $ty,] hnames[$($hn)* $field]
            entries[$($e)* (hidden $field [$($doc)*] $ty)] $($rest)*);
    };
    // A field of the struct after the fixed record.
    (@munch head $head:tt lens $lens:tt fields[$($f:tt)*] names[$($n:tt)*] hidden $h:tt hnames $hn:tt
        entries[$($e:tt)*]
        $(#[doc = $doc:literal])* tail $field:ident : $ty:ty, $($rest:tt)*) => {
        record!(@munch head $head lens $lens fields[$($f)* $(#[doc = $doc])* pub $field: $ty,]
            names[$($n)* $field] hidden $h hnames $hn
            entries[$($e)* (tail $field)] $($rest)*);
    };
    // A field stored as another type.
    (@munch head $head:tt lens $lens:tt fields[$($f:tt)*] names[$($n:tt)*] hidden $h:tt hnames $hn:tt
        entries[$($e:tt)*]
        $(#[doc = $doc:literal])* $field:ident : $ty:ty as $wire:ty, $($rest:tt)*) => {
        record!(@munch head $head lens $lens fields[$($f)* $(#[doc = $doc])* pub $field: $ty,]
            names[$($n)* $field] hidden $h hnames $hn
            entries[$($e)* (conv $field [$($doc)*] $ty, $wire)] $($rest)*);
    };
    // A field.
    (@munch head $head:tt lens $lens:tt fields[$($f:tt)*] names[$($n:tt)*] hidden $h:tt hnames $hn:tt
        entries[$($e:tt)*]
        $(#[doc = $doc:literal])* $field:ident : $ty:ty, $($rest:tt)*) => {
        record!(@munch head $head lens $lens fields[$($f)* $(#[doc = $doc])* pub $field: $ty,]
            names[$($n)* $field] hidden $h hnames $hn
            entries[$($e)* (field $field [$($doc)*] $ty)] $($rest)*);
    };

    // The table is read: a record without a lens.
    (@munch head[$(#[$meta:meta])* $vis:vis $name:ident [$($g:tt)*] $doc_name:literal]
        lens[] fields[$($f:tt)*] names[$($n:ident)*] hidden[] hnames[] entries[$($e:tt)*]) => {
        $(#[$meta])*
        $vis struct $name $($g)* { $($f)* }

        impl $($g)* $name $($g)* {
            /// Size of the encoded record.
            pub const SIZE: usize = 0 $(+ record!(@size $e))*;

            /// Appends the encoded record.
            pub fn put(&self, out: &mut dyn FnMut(&[u8])) {
                $(record!(@put self out lens $e);)*
            }

            /// The encoded record.
            pub fn encode(&self) -> [u8; Self::SIZE] {
                let mut b = [0u8; Self::SIZE];
                let mut a = super::record::ArrayOut::new(&mut b);
                self.put(&mut |x| a.put(x));
                b
            }

            /// Reads the record (nothing checked but that the bytes are
            /// there).
            pub fn read(r: &mut super::Reader<'_>) -> Result<Self, super::DumpError> {
                $(record!(@get r $e);)*
                Ok($name { $($n),* })
            }

            record!(@layout $doc_name $($e)*);
        }

        impl $($g)* super::record::Field for $name $($g)* {
            const SIZE: usize = Self::SIZE;
            fn put(&self, out: &mut dyn FnMut(&[u8])) {
                $name::put(self, out)
            }
            fn get(
                r: &mut super::Reader<'_>,
                _: &'static str,
            ) -> Result<Self, super::DumpError> {
                $name::read(r)
            }
        }
    };

    // The table is read: a record with a lens.
    (@munch head[$(#[$meta:meta])* $vis:vis $name:ident [$($g:tt)*] $doc_name:literal]
        lens[$lens:ident] fields[$($f:tt)*] names[$($n:ident)*]
        hidden[$($h:tt)*] hnames[$($hn:ident)*] entries[$($e:tt)*]) => {
        $(#[$meta])*
        $vis struct $name $($g)* { $($f)* }

        #[doc = concat!("What a [`", stringify!($name), "`] record holds on disk besides its fields.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        $vis struct $lens { $($h)* }

        impl $($g)* $name $($g)* {
            /// Size of the encoded record (without what follows it).
            pub const SIZE: usize = 0 $(+ record!(@size $e))*;

            /// Appends the encoded record.
            pub fn put_with(&self, lens: &$lens, out: &mut dyn FnMut(&[u8])) {
                $(record!(@put self out lens $e);)*
            }

            /// The encoded record.
            pub fn encode_with(&self, lens: &$lens) -> [u8; $name::SIZE] {
                let mut b = [0u8; Self::SIZE];
                let mut a = super::record::ArrayOut::new(&mut b);
                self.put_with(lens, &mut |x| a.put(x));
                b
            }

            /// Reads the record: the struct (its tail fields empty) and its
            /// lens. Nothing is checked but that the bytes are there.
            pub fn read_with(
                r: &mut super::Reader<'_>,
            ) -> Result<(Self, $lens), super::DumpError> {
                $(record!(@get r $e);)*
                Ok(($name { $($n),* }, $lens { $($hn),* }))
            }

            record!(@layout $doc_name $($e)*);
        }
    };

    (@size (pad $size:literal)) => { $size };
    (@size (tail $field:ident)) => { 0 };
    (@size (conv $field:ident $docs:tt $ty:ty, $wire:ty)) => {
        <$wire as super::record::Field>::SIZE
    };
    (@size ($kind:ident $field:ident $docs:tt $ty:ty)) => {
        <$ty as super::record::Field>::SIZE
    };

    (@put $s:ident $out:ident $lens:ident (pad $size:literal)) => { $out(&[0u8; $size]) };
    (@put $s:ident $out:ident $lens:ident (tail $field:ident)) => {};
    (@put $s:ident $out:ident $lens:ident (field $field:ident $docs:tt $ty:ty)) => {
        <$ty as super::record::Field>::put(&$s.$field, $out)
    };
    (@put $s:ident $out:ident $lens:ident (conv $field:ident $docs:tt $ty:ty, $wire:ty)) => {
        <$wire as super::record::Field>::put(
            &<$ty as super::record::AsWire<$wire>>::to_wire(&$s.$field),
            $out,
        )
    };
    (@put $s:ident $out:ident $lens:ident (hidden $field:ident $docs:tt $ty:ty)) => {
        <$ty as super::record::Field>::put(&$lens.$field, $out)
    };

    (@get $r:ident (pad $size:literal)) => { $r.take($size, "padding")?; };
    (@get $r:ident (tail $field:ident)) => { let $field = Default::default(); };
    (@get $r:ident (conv $field:ident $docs:tt $ty:ty, $wire:ty)) => {
        let $field = <$ty as super::record::AsWire<$wire>>::from_wire(
            <$wire as super::record::Field>::get($r, stringify!($field))?,
        );
    };
    (@get $r:ident ($kind:ident $field:ident $docs:tt $ty:ty)) => {
        let $field = <$ty as super::record::Field>::get($r, stringify!($field))?;
    };

    (@layout $doc_name:literal $($e:tt)*) => {
        /// The record as `Documentation/dump-format.rst` shows it.
        #[cfg(test)]
        pub(crate) const LAYOUT: super::record::Layout = super::record::Layout {
            name: $doc_name,
            rows: &[$(record!(@row $e)),*],
        };
    };
    (@row (pad $size:literal)) => {
        super::record::Row { name: "-", ty: "zero", size: $size, doc: &[] }
    };
    (@row (tail $field:ident)) => {
        super::record::Row { name: stringify!($field), ty: "tail", size: 0, doc: &[] }
    };
    (@row (conv $field:ident [$($doc:literal)*] $ty:ty, $wire:ty)) => {
        super::record::Row {
            name: stringify!($field),
            ty: stringify!($wire),
            size: <$wire as super::record::Field>::SIZE,
            doc: &[$($doc),*],
        }
    };
    (@row ($kind:ident $field:ident [$($doc:literal)*] $ty:ty)) => {
        super::record::Row {
            name: stringify!($field),
            ty: stringify!($ty),
            size: <$ty as super::record::Field>::SIZE,
            doc: &[$($doc),*],
        }
    };
}
