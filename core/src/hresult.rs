//! The `HRESULT` of every refusal, as the bind link API (`CreateBindLink`, `RemoveBindLink` of
//! `bindlink.h`) reports it: one table shared by the `bindlink` library and the CLI, so both
//! give the same code for the same case (issue 15).
//!
//! Each code is `HRESULT_FROM_WIN32(ERROR_...)` (`0x8007xxxx`). Where Microsoft's documentation
//! or a public report says what bindflt returns, the table follows it:
//! - permission denied (no administrator, no access to a path): `ERROR_ACCESS_DENIED`, as the
//!   `CreateBindLink` documentation says;
//! - a second link at the same virtual path: `E_INVALIDARG` (`ERROR_INVALID_PARAMETER`), as a
//!   public report of bindflt on build 26100 observed for a second mapping of one root;
//! - a backing path that is missing: `ERROR_FILE_NOT_FOUND`, what the documentation gives for a
//!   link whose backing path was deleted.
//!
//! Elsewhere the code is the Win32 error Windows gives for the same condition on a file (the
//! Win32 counterpart of the NTSTATUS the WinFsp backend answers), chosen, and marked so in the
//! README's table.

use crate::Error;

/// `HRESULT_FROM_WIN32(code)`: a Win32 error code as a failing `HRESULT` (facility 7).
pub const fn from_win32(code: u32) -> u32 {
    if code == 0 { 0 } else { (code & 0xFFFF) | 0x8007_0000 }
}

/// `S_OK`.
pub const S_OK: u32 = 0;
/// `E_FAIL`: an unspecified failure (an answer that cannot be read).
pub const E_FAIL: u32 = 0x8000_4005;
/// `E_UNEXPECTED`: a failure inside the library itself (a panic caught at its boundary).
pub const E_UNEXPECTED: u32 = 0x8000_FFFF;
/// `E_INVALIDARG` (`HRESULT_FROM_WIN32(ERROR_INVALID_PARAMETER)`).
pub const E_INVALIDARG: u32 = from_win32(87);
/// `ERROR_FILE_NOT_FOUND`.
pub const FILE_NOT_FOUND: u32 = from_win32(2);
/// `ERROR_PATH_NOT_FOUND`.
pub const PATH_NOT_FOUND: u32 = from_win32(3);
/// `ERROR_ACCESS_DENIED`.
pub const ACCESS_DENIED: u32 = from_win32(5);
/// `ERROR_NOT_SAME_DEVICE`.
pub const NOT_SAME_DEVICE: u32 = from_win32(17);
/// `ERROR_WRITE_PROTECT`.
pub const WRITE_PROTECT: u32 = from_win32(19);
/// `ERROR_NOT_SUPPORTED`.
pub const NOT_SUPPORTED: u32 = from_win32(50);
/// `ERROR_BROKEN_PIPE`: the view's daemon hung up without an answer.
pub const BROKEN_PIPE: u32 = from_win32(109);
/// `ERROR_INVALID_NAME`.
pub const INVALID_NAME: u32 = from_win32(123);
/// `ERROR_DIR_NOT_EMPTY`.
pub const DIR_NOT_EMPTY: u32 = from_win32(145);
/// `ERROR_BAD_PATHNAME`.
pub const BAD_PATHNAME: u32 = from_win32(161);
/// `ERROR_BUSY`.
pub const BUSY: u32 = from_win32(170);
/// `ERROR_ALREADY_EXISTS`.
pub const ALREADY_EXISTS: u32 = from_win32(183);
/// `ERROR_INVALID_EA_NAME`.
pub const INVALID_EA_NAME: u32 = from_win32(254);
/// `ERROR_DIRECTORY`: a directory was needed.
pub const DIRECTORY: u32 = from_win32(267);
/// `ERROR_FILE_INVALID`.
pub const FILE_INVALID: u32 = from_win32(1006);
/// `ERROR_SERVICE_NOT_ACTIVE`: the view exists but its daemon does not answer.
pub const SERVICE_NOT_ACTIVE: u32 = from_win32(1062);
/// `ERROR_NO_UNICODE_TRANSLATION`: a path that is not valid UTF-8 / UTF-16.
pub const NO_UNICODE_TRANSLATION: u32 = from_win32(1113);
/// `ERROR_IO_DEVICE`.
pub const IO_DEVICE: u32 = from_win32(1117);
/// `ERROR_NOT_FOUND`: no link at the virtual path.
pub const NOT_FOUND: u32 = from_win32(1168);
/// `ERROR_CANT_RESOLVE_FILENAME`: a cycle of links.
pub const CANT_RESOLVE_FILENAME: u32 = from_win32(1921);

/// No bindfs-rs view holds the virtual path (where bindflt would act on any local path, this
/// library can only reach paths inside a live view): `ERROR_NOT_SUPPORTED`, chosen.
pub const NO_VIEW: u32 = NOT_SUPPORTED;

impl Error {
    /// The `HRESULT` the bind link API reports for this refusal (see [`crate::hresult`]).
    pub fn hresult(&self) -> u32 {
        match self {
            Error::EmptyPath | Error::EmptyComponent | Error::NulInName(_) | Error::InvalidName(_) => {
                INVALID_NAME
            }
            Error::EscapesRoot(_) | Error::NotAbsolute(_) | Error::BadPrefix(_) => BAD_PATHNAME,
            Error::BackingNotFound(_) => FILE_NOT_FOUND,
            Error::AlreadyLinked(_) => E_INVALIDARG,
            Error::ParentNotVisible(_) => PATH_NOT_FOUND,
            Error::ParentNotDirectory(_)
            | Error::MergedNeedsDirectory(_)
            | Error::RootNeedsDirectory
            | Error::ExceptionsNeedDirectory(_)
            | Error::NotDir => DIRECTORY,
            Error::ExceptionOutsideLink { .. }
            | Error::ExceptionsOnAnchorless(_)
            | Error::InvalidArgument => E_INVALIDARG,
            Error::ExceptionMissing(_) | Error::NotFound => FILE_NOT_FOUND,
            Error::NoSuchLink(_) => NOT_FOUND,
            Error::HasNestedLinks { .. } | Error::NotEmpty => DIR_NOT_EMPTY,
            Error::OutsideView(_) => NO_VIEW,
            Error::Exists => ALREADY_EXISTS,
            Error::IsDir | Error::PermissionDenied => ACCESS_DENIED,
            Error::ReadOnly => WRITE_PROTECT,
            Error::CrossDevice => NOT_SAME_DEVICE,
            Error::Loop => CANT_RESOLVE_FILENAME,
            Error::Busy => BUSY,
            Error::NotSupported => NOT_SUPPORTED,
            Error::NoAttribute => INVALID_EA_NAME,
            Error::Stale => FILE_INVALID,
            Error::Os(_) => IO_DEVICE,
        }
    }
}

/// The name of a code of this table (`ERROR_ACCESS_DENIED`, `E_INVALIDARG`, ...), for messages
/// and tests; `None` for a code the table does not give.
pub fn name(hresult: u32) -> Option<&'static str> {
    Some(match hresult {
        S_OK => "S_OK",
        E_FAIL => "E_FAIL",
        E_UNEXPECTED => "E_UNEXPECTED",
        E_INVALIDARG => "E_INVALIDARG",
        FILE_NOT_FOUND => "ERROR_FILE_NOT_FOUND",
        PATH_NOT_FOUND => "ERROR_PATH_NOT_FOUND",
        ACCESS_DENIED => "ERROR_ACCESS_DENIED",
        NOT_SAME_DEVICE => "ERROR_NOT_SAME_DEVICE",
        WRITE_PROTECT => "ERROR_WRITE_PROTECT",
        NOT_SUPPORTED => "ERROR_NOT_SUPPORTED",
        BROKEN_PIPE => "ERROR_BROKEN_PIPE",
        INVALID_NAME => "ERROR_INVALID_NAME",
        DIR_NOT_EMPTY => "ERROR_DIR_NOT_EMPTY",
        BAD_PATHNAME => "ERROR_BAD_PATHNAME",
        BUSY => "ERROR_BUSY",
        ALREADY_EXISTS => "ERROR_ALREADY_EXISTS",
        INVALID_EA_NAME => "ERROR_INVALID_EA_NAME",
        DIRECTORY => "ERROR_DIRECTORY",
        FILE_INVALID => "ERROR_FILE_INVALID",
        SERVICE_NOT_ACTIVE => "ERROR_SERVICE_NOT_ACTIVE",
        NO_UNICODE_TRANSLATION => "ERROR_NO_UNICODE_TRANSLATION",
        IO_DEVICE => "ERROR_IO_DEVICE",
        NOT_FOUND => "ERROR_NOT_FOUND",
        CANT_RESOLVE_FILENAME => "ERROR_CANT_RESOLVE_FILENAME",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{AbsPath, Syntax, VPath};

    #[test]
    fn hresult_from_win32_is_the_sdk_macro() {
        assert_eq!(from_win32(0), S_OK);
        assert_eq!(from_win32(5), 0x8007_0005);
        assert_eq!(E_INVALIDARG, 0x8007_0057);
        assert_eq!(ACCESS_DENIED as i32, -2_147_024_891);
    }

    /// One case per refusal, each checked on its own: the code and its name.
    #[test]
    fn every_refusal_has_its_hresult() {
        let v = || VPath::parse("/Foo").unwrap_or_else(|_| VPath::root());
        let outside = AbsPath::parse("/elsewhere", Syntax::Posix).ok();
        let mut cases = vec![
            (Error::EmptyPath, "ERROR_INVALID_NAME"),
            (Error::EmptyComponent, "ERROR_INVALID_NAME"),
            (Error::NulInName("a".into()), "ERROR_INVALID_NAME"),
            (Error::InvalidName("a".into()), "ERROR_INVALID_NAME"),
            (Error::EscapesRoot("..".into()), "ERROR_BAD_PATHNAME"),
            (Error::NotAbsolute("a".into()), "ERROR_BAD_PATHNAME"),
            (Error::BadPrefix("x".into()), "ERROR_BAD_PATHNAME"),
            (Error::BackingNotFound("/t/x".into()), "ERROR_FILE_NOT_FOUND"),
            (Error::AlreadyLinked(v()), "E_INVALIDARG"),
            (Error::ParentNotVisible(v()), "ERROR_PATH_NOT_FOUND"),
            (Error::ParentNotDirectory(v()), "ERROR_DIRECTORY"),
            (Error::ExceptionOutsideLink { link: v(), exception: v() }, "E_INVALIDARG"),
            (Error::ExceptionMissing(v()), "ERROR_FILE_NOT_FOUND"),
            (Error::ExceptionsOnAnchorless(v()), "E_INVALIDARG"),
            (Error::ExceptionsNeedDirectory(v()), "ERROR_DIRECTORY"),
            (Error::MergedNeedsDirectory(v()), "ERROR_DIRECTORY"),
            (Error::RootNeedsDirectory, "ERROR_DIRECTORY"),
            (Error::NoSuchLink(v()), "ERROR_NOT_FOUND"),
            (Error::HasNestedLinks { link: v(), nested: v() }, "ERROR_DIR_NOT_EMPTY"),
            (Error::NotFound, "ERROR_FILE_NOT_FOUND"),
            (Error::Exists, "ERROR_ALREADY_EXISTS"),
            (Error::NotDir, "ERROR_DIRECTORY"),
            (Error::IsDir, "ERROR_ACCESS_DENIED"),
            (Error::NotEmpty, "ERROR_DIR_NOT_EMPTY"),
            (Error::ReadOnly, "ERROR_WRITE_PROTECT"),
            (Error::CrossDevice, "ERROR_NOT_SAME_DEVICE"),
            (Error::Loop, "ERROR_CANT_RESOLVE_FILENAME"),
            (Error::Busy, "ERROR_BUSY"),
            (Error::PermissionDenied, "ERROR_ACCESS_DENIED"),
            (Error::InvalidArgument, "E_INVALIDARG"),
            (Error::NotSupported, "ERROR_NOT_SUPPORTED"),
            (Error::NoAttribute, "ERROR_INVALID_EA_NAME"),
            (Error::Stale, "ERROR_FILE_INVALID"),
            (Error::Os(5), "ERROR_IO_DEVICE"),
        ];
        if let Some(p) = outside {
            cases.push((Error::OutsideView(p), "ERROR_NOT_SUPPORTED"));
        }
        for (error, expected) in cases {
            let code = error.hresult();
            assert_eq!(name(code), Some(expected), "{error:?} gave {code:#010x}");
            assert_eq!(code & 0xFFFF_0000, 0x8007_0000, "{error:?}: not HRESULT_FROM_WIN32");
        }
    }

    #[test]
    fn the_documented_and_observed_codes_are_kept() {
        assert_eq!(Error::PermissionDenied.hresult(), 0x8007_0005);
        assert_eq!(Error::AlreadyLinked(VPath::root()).hresult(), 0x8007_0057);
        assert_eq!(Error::BackingNotFound("x".into()).hresult(), 0x8007_0002);
        assert_eq!(name(0x1234), None);
    }
}
