// SPDX-License-Identifier: GPL-2.0

//! The FPU/SSE/AVX state of a thread: its dumped XSAVE image, checked
//! against this CPU and copied into an aligned area, so that the XRSTOR
//! right before the restore write cannot fault.

use super::Error;

/// The largest XSAVE image the area holds.
pub(crate) const XSAVE_MAX: usize = 64 * 1024;
/// The legacy area and the XSAVE header: the fields checked below.
pub(crate) const XSAVE_MIN: usize = 576;

/// A 64-byte aligned XSAVE area, as XRSTOR needs it.
#[repr(C, align(64))]
pub(crate) struct XsaveArea(pub(crate) [u8; XSAVE_MAX]);

/// Checks the dumped XSAVE image `img` against this CPU and copies it into
/// an aligned area.
pub(crate) fn image(img: &[u8]) -> Result<Box<XsaveArea>, Error> {
    let mut area = Box::new(XsaveArea([0; XSAVE_MAX]));
    fill(&mut area, img)?;
    Ok(area)
}

/// Checks the dumped XSAVE image `img` against this CPU and copies it into
/// `area`.
pub(crate) fn fill(area: &mut XsaveArea, img: &[u8]) -> Result<(), Error> {
    check_fpu(img, enabled_features())?;
    area.0[..img.len()].copy_from_slice(img);
    Ok(())
}

/// The state components this CPU's OS enables (XCR0).
fn enabled_features() -> u64 {
    // SAFETY: XGETBV(0) is allowed in user mode when the OS uses XSAVE,
    // which Linux on any CPU with AVX does (and the dump has XSAVE images).
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// Whether `img` is an XSAVE image of a size the area holds, that XRSTOR
/// takes on a CPU whose enabled features are `xcr0`. validate() bounds the
/// size too, but a crafted size must never become an out-of-bounds slice.
pub(crate) fn check_fpu(img: &[u8], xcr0: u64) -> Result<(), Error> {
    if !(XSAVE_MIN..=XSAVE_MAX).contains(&img.len()) {
        return Err(format!(
            "FPU state of {} bytes (an XSAVE image has {XSAVE_MIN} to {XSAVE_MAX})",
            img.len()
        )
        .into());
    }
    // The size checked above keeps every offset below in bounds.
    let u32_at = |o: usize| u32::from_le_bytes([img[o], img[o + 1], img[o + 2], img[o + 3]]);
    let u64_at = |o: usize| u64::from(u32_at(o)) | u64::from(u32_at(o + 4)) << 32;
    let (mxcsr, mxcsr_mask) = (u32_at(24), u32_at(28));
    let mask = if mxcsr_mask == 0 { 0xffbf } else { mxcsr_mask };
    if mxcsr & !mask != 0 {
        return Err(format!("FPU state has an invalid MXCSR {mxcsr:#x}").into());
    }
    let (xstate_bv, xcomp_bv) = (u64_at(512), u64_at(520));
    if xstate_bv & !xcr0 != 0 || xcomp_bv != 0 {
        return Err(format!(
            "FPU state uses features {xstate_bv:#x} this CPU does not enable ({xcr0:#x})"
        )
        .into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_fpu, XSAVE_MAX, XSAVE_MIN};

    #[test]
    fn fpu_images_of_impossible_sizes_are_errors() {
        for len in [0, 8, 520, XSAVE_MIN - 1, XSAVE_MAX + 1] {
            let err = check_fpu(&vec![0; len], 7).unwrap_err().to_string();
            assert!(err.contains(&format!("{len} bytes")), "{err}");
        }
        assert!(check_fpu(&[0; XSAVE_MIN], 7).is_ok());
        assert!(check_fpu(&vec![0; XSAVE_MAX], 7).is_ok());
    }

    #[test]
    fn fpu_features_the_cpu_lacks_are_errors() {
        let mut img = [0u8; XSAVE_MIN];
        img[512] = 0b111; // x87, SSE, AVX
        assert!(check_fpu(&img, 0b111).is_ok());
        assert!(check_fpu(&img, 0b011)
            .unwrap_err()
            .to_string()
            .contains("does not enable"));
        img[24..28].copy_from_slice(&0x1_0000u32.to_le_bytes());
        assert!(check_fpu(&img, 0b111)
            .unwrap_err()
            .to_string()
            .contains("MXCSR"));
    }
}
