//! The C exports `CreateBindLink` and `RemoveBindLink`: the only `unsafe` code of the crate
//! (reading the caller's strings and array). Each call becomes owned paths first, then the
//! safe [`crate::client`] call; a panic is caught here and reported as `E_UNEXPECTED`, never
//! unwound into C.
//!
//! Windows: the documented signature, `extern "system"`, paths as `PCWSTR` (UTF-16).
//! Elsewhere: the same names and flags, paths as UTF-8 `const char *`.
#![allow(unsafe_code)]

use std::path::PathBuf;

use bindfs_core::hresult;

use crate::{Failure, Flags};

/// `HRESULT` as C sees it.
type HResult = i32;

/// The `HRESULT` of `call`, run with panics caught.
fn guarded(call: impl FnOnce() -> Result<(), Failure>) -> HResult {
    let code = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(outcome) => crate::hresult_of(&outcome),
        Err(_) => hresult::E_UNEXPECTED,
    };
    // The bits of the code, as C's signed HRESULT.
    code as HResult
}

/// `CreateBindLink` once its arguments are owned.
fn create(virt: PathBuf, backing: PathBuf, flags: u32, except: Vec<PathBuf>) -> Result<(), Failure> {
    let flags = Flags::from_bits(flags).ok_or_else(|| {
        Failure::new(format!("CREATE_BIND_LINK_FLAGS {flags:#x}: unknown flag"), hresult::E_INVALIDARG)
    })?;
    crate::client::create(&virt, &backing, flags, &except)
}

fn null_argument(what: &str) -> Failure {
    Failure::new(format!("{what} is NULL"), hresult::E_INVALIDARG)
}

/// Reads one C string of the caller as an owned path (UTF-8 or UTF-16, per platform).
type ReadPath<C> = unsafe fn(*const C, &str) -> Result<PathBuf, Failure>;

/// `CreateBindLink`'s body for either string type: owned arguments first, then [`create`].
///
/// # Safety
/// Every path is NULL or a string `path` may read; `exception_paths` is NULL or points to
/// `exception_count` such pointers. All stay valid during the call.
unsafe fn create_with<C>(
    path: ReadPath<C>,
    virtual_path: *const C,
    backing_path: *const C,
    flags: u32,
    exception_count: u32,
    exception_paths: *const *const C,
) -> HResult {
    guarded(|| {
        // SAFETY: the caller's contract above.
        let virt = unsafe { path(virtual_path, "virtualPath") }?;
        // SAFETY: the caller's contract above.
        let backing = unsafe { path(backing_path, "backingPath") }?;
        let mut except = Vec::new();
        if exception_count > 0 {
            if exception_paths.is_null() {
                return Err(null_argument("exceptionPaths"));
            }
            for i in 0..exception_count as usize {
                // SAFETY: the array holds exception_count pointers (the caller's contract).
                let p = unsafe { *exception_paths.add(i) };
                // SAFETY: each is NULL or a string `path` may read (the caller's contract).
                except.push(unsafe { path(p, "exceptionPaths[i]") }?);
            }
        }
        create(virt, backing, flags, except)
    })
}

/// `RemoveBindLink`'s body for either string type.
///
/// # Safety
/// `virtual_path` is NULL or a string `path` may read, valid during the call.
unsafe fn remove_with<C>(path: ReadPath<C>, virtual_path: *const C) -> HResult {
    guarded(|| {
        // SAFETY: the caller's contract above.
        let virt = unsafe { path(virtual_path, "virtualPath") }?;
        crate::client::remove(&virt)
    })
}

#[cfg(not(windows))]
mod ffi {
    use std::ffi::{CStr, c_char};
    use std::path::PathBuf;

    use super::*;

    /// An owned path from a UTF-8 C string.
    ///
    /// # Safety
    /// `p` is NULL or points to a NUL-terminated string that stays valid during the call.
    unsafe fn path(p: *const c_char, what: &str) -> Result<PathBuf, Failure> {
        if p.is_null() {
            return Err(null_argument(what));
        }
        // SAFETY: not NULL, and NUL-terminated by the caller's contract (bindlink.h).
        let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
        let text = std::str::from_utf8(bytes)
            .map_err(|_| Failure::new(format!("{what} is not UTF-8"), hresult::NO_UNICODE_TRANSLATION))?;
        Ok(PathBuf::from(text))
    }

    /// `CreateBindLink` (bindlink.h): paths as UTF-8, the flags of `CREATE_BIND_LINK_FLAGS`.
    ///
    /// # Safety
    /// Every path is NULL or a NUL-terminated string; `exception_paths` is NULL or points to
    /// `exception_count` such pointers. All stay valid during the call.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn CreateBindLink(
        virtual_path: *const c_char,
        backing_path: *const c_char,
        create_bind_link_flags: u32,
        exception_count: u32,
        exception_paths: *const *const c_char,
    ) -> HResult {
        // SAFETY: the caller's contract above, which is `create_with`'s.
        unsafe {
            create_with(
                path,
                virtual_path,
                backing_path,
                create_bind_link_flags,
                exception_count,
                exception_paths,
            )
        }
    }

    /// `RemoveBindLink` (bindlink.h): the virtual path as UTF-8.
    ///
    /// # Safety
    /// `virtual_path` is NULL or a NUL-terminated string valid during the call.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn RemoveBindLink(virtual_path: *const c_char) -> HResult {
        // SAFETY: the caller's contract above, which is `remove_with`'s.
        unsafe { remove_with(path, virtual_path) }
    }
}

#[cfg(windows)]
mod ffi {
    use std::path::PathBuf;

    use super::*;

    /// An owned path from a NUL-terminated UTF-16 string (`PCWSTR`).
    ///
    /// # Safety
    /// `p` is NULL or points to a NUL-terminated UTF-16 string that stays valid during the call.
    unsafe fn path(p: *const u16, what: &str) -> Result<PathBuf, Failure> {
        if p.is_null() {
            return Err(null_argument(what));
        }
        let mut len = 0;
        // SAFETY: the string is NUL-terminated (the caller's contract): every unit read up to
        // and including the NUL is inside it.
        while unsafe { *p.add(len) } != 0 {
            len += 1;
        }
        // SAFETY: `len` units from `p` were just read.
        let units = unsafe { std::slice::from_raw_parts(p, len) };
        let text = String::from_utf16(units).map_err(|_| {
            Failure::new(format!("{what} is not valid UTF-16"), hresult::NO_UNICODE_TRANSLATION)
        })?;
        Ok(PathBuf::from(text))
    }

    /// `CreateBindLink` with the signature of Microsoft's bindlink.h.
    ///
    /// # Safety
    /// Every path is NULL or a NUL-terminated UTF-16 string; `exception_paths` is NULL or points
    /// to `exception_count` such pointers. All stay valid during the call.
    #[unsafe(no_mangle)]
    pub unsafe extern "system" fn CreateBindLink(
        virtual_path: *const u16,
        backing_path: *const u16,
        create_bind_link_flags: u32,
        exception_count: u32,
        exception_paths: *const *const u16,
    ) -> HResult {
        // SAFETY: the caller's contract above, which is `create_with`'s.
        unsafe {
            create_with(
                path,
                virtual_path,
                backing_path,
                create_bind_link_flags,
                exception_count,
                exception_paths,
            )
        }
    }

    /// `RemoveBindLink` with the signature of Microsoft's bindlink.h.
    ///
    /// # Safety
    /// `virtual_path` is NULL or a NUL-terminated UTF-16 string valid during the call.
    #[unsafe(no_mangle)]
    pub unsafe extern "system" fn RemoveBindLink(virtual_path: *const u16) -> HResult {
        // SAFETY: the caller's contract above, which is `remove_with`'s.
        unsafe { remove_with(path, virtual_path) }
    }
}
