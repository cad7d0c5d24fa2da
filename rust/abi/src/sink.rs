// SPDX-License-Identifier: GPL-2.0

//! Where encoded bytes go: the kernel's `seq_file` or dump file, a `Vec`.

/// Something bytes can be appended to.
pub trait Sink {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
}

/// A `Vec` sink for the unit tests.
#[cfg(test)]
pub(crate) struct VecSink(pub(crate) std::vec::Vec<u8>);

#[cfg(test)]
impl Sink for VecSink {
    fn put(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes)
    }
}

/// Lets `core::fmt` write into a [`Sink`].
pub(crate) struct FmtSink<'a>(pub(crate) &'a mut dyn Sink);

impl core::fmt::Write for FmtSink<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0.put(s.as_bytes());
        Ok(())
    }
}
