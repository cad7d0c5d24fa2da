// SPDX-License-Identifier: GPL-2.0

//! zstd, as the kernel's `lib/zstd` offers it: one-shot compression and
//! decompression of a buffer with a context living in memory allocated
//! here, once, so that nothing is allocated per call.

use crate::kernel_ext::bindings;
use core::ptr::NonNull;
use kernel::prelude::*;

/// Whether a `size_t` returned by zstd is an error code.
fn is_error(code: usize) -> bool {
    // SAFETY: a pure function of its argument.
    unsafe { bindings::zstd_is_error(code) != 0 }
}

/// A zstd context made by `init` in new zeroed memory of `bytes`, 8-byte
/// aligned as zstd requires; the memory is returned with it, as it lives
/// there.
fn context<T>(
    bytes: usize,
    init: unsafe extern "C" fn(*mut core::ffi::c_void, usize) -> *mut T,
) -> Result<(KVVec<u64>, NonNull<T>)> {
    let mut workspace = KVVec::from_elem(0u64, bytes.div_ceil(8), GFP_KERNEL)?;
    let size = workspace.len() * 8;
    // SAFETY: `init` is `zstd_init_cctx` or `zstd_init_dctx`, given
    // `size` writable, aligned bytes for the context.
    let ctx = unsafe { init(workspace.as_mut_ptr().cast(), size) };
    Ok((workspace, NonNull::new(ctx).ok_or(ENOMEM)?))
}

/// A compression context at a fixed level.
///
/// # Invariants
///
/// `cctx` was initialised by `zstd_init_cctx()` in `workspace`, which it
/// lives in and which is neither moved (it is on the heap) nor freed
/// before `self`; it is only used through `&mut self`.
pub(crate) struct Compressor {
    /// Where the context lives.
    _workspace: KVVec<u64>,
    cctx: NonNull<bindings::zstd_cctx>,
    params: bindings::zstd_parameters,
}

// SAFETY: the context is plain memory owned by the value, tied to no
// thread.
unsafe impl Send for Compressor {}

impl Compressor {
    /// A context for `level`, tuned for inputs of about `input_len` bytes.
    pub(crate) fn new(level: i32, input_len: usize) -> Result<Self> {
        // SAFETY: a pure computation.
        let params = unsafe { bindings::zstd_get_params(level, input_len as u64) };
        // SAFETY: `params` is a valid parameter set (zstd's own).
        let bytes = unsafe { bindings::zstd_cctx_workspace_bound(&params.cParams) };
        let (workspace, cctx) = context(bytes, bindings::zstd_init_cctx)?;
        // INVARIANT: initialised in `workspace`, moved in with it.
        Ok(Compressor {
            _workspace: workspace,
            cctx,
            params,
        })
    }

    /// Compresses `input` into one frame in `out`; returns its length.
    /// ENOSPC if it does not fit.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize> {
        // SAFETY: the context is valid and ours alone (type invariant); the
        // buffers are valid for their lengths.
        let n = unsafe {
            bindings::zstd_compress_cctx(
                self.cctx.as_ptr(),
                out.as_mut_ptr().cast(),
                out.len(),
                input.as_ptr().cast(),
                input.len(),
                &self.params,
            )
        };
        if is_error(n) || n > out.len() {
            return Err(ENOSPC);
        }
        Ok(n)
    }
}

/// A decompression context.
///
/// # Invariants
///
/// As [`Compressor`]'s, for `dctx` initialised by `zstd_init_dctx()`.
pub(crate) struct Decompressor {
    /// Where the context lives.
    _workspace: KVVec<u64>,
    dctx: NonNull<bindings::zstd_dctx>,
}

// SAFETY: as for `Compressor`.
unsafe impl Send for Decompressor {}

impl Decompressor {
    /// A context for frames of any window size: the output is one flat
    /// buffer, so the window needs no memory of its own.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: a pure computation.
        let bytes = unsafe { bindings::zstd_dctx_workspace_bound() };
        let (workspace, dctx) = context(bytes, bindings::zstd_init_dctx)?;
        // INVARIANT: initialised in `workspace`, moved in with it.
        Ok(Decompressor {
            _workspace: workspace,
            dctx,
        })
    }

    /// Decompresses the frame `input` into `out`, which it must fill
    /// exactly. A frame of any other kind or size, however crafted, is
    /// EINVAL: zstd never writes past `out` nor reads past `input`.
    pub(crate) fn decompress_exact(&mut self, input: &[u8], out: &mut [u8]) -> Result {
        // SAFETY: the context is valid and ours alone (type invariant); the
        // buffers are valid for their lengths.
        let n = unsafe {
            bindings::zstd_decompress_dctx(
                self.dctx.as_ptr(),
                out.as_mut_ptr().cast(),
                out.len(),
                input.as_ptr().cast(),
                input.len(),
            )
        };
        if is_error(n) || n != out.len() {
            return Err(EINVAL);
        }
        Ok(())
    }
}
