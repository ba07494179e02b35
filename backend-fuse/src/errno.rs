//! The two error mappings of the Linux side, each in exactly one function.
//!
//! - [`map_errno`]: an errno the backing store produced → the core [`Error`]. Only codes the core
//!   reasons about get their own variant; every other code travels as [`Error::Os`] and comes back
//!   out of [`errno_of`] unchanged.
//! - [`errno_of`]: a core [`Error`] → the errno the FUSE layer replies with. Unknown → `EIO`,
//!   never `ENOENT` (a wrong "not found" makes the kernel cache a negative entry).

#![forbid(unsafe_code)]

use bindfs_core::Error;
use rustix::io::Errno;

/// The core error for an errno the backing store returned.
///
/// `ELOOP` stays [`Error::Os`]: here it means "a symlink was met where none may be followed"
/// (`RESOLVE_NO_SYMLINKS`, `O_NOFOLLOW`), not the core's chain-of-links [`Error::Loop`]. `EPERM`
/// and `EROFS` also pass through raw so the caller sees exactly what the store said.
pub fn map_errno(e: Errno) -> Error {
    match e {
        Errno::NOENT => Error::NotFound,
        Errno::EXIST => Error::Exists,
        Errno::NOTDIR => Error::NotDir,
        Errno::ISDIR => Error::IsDir,
        Errno::NOTEMPTY => Error::NotEmpty,
        Errno::XDEV => Error::CrossDevice,
        Errno::ACCESS => Error::PermissionDenied,
        Errno::NODATA => Error::NoAttribute,
        Errno::INVAL => Error::InvalidArgument,
        Errno::OPNOTSUPP => Error::NotSupported,
        Errno::STALE => Error::Stale,
        other => Error::Os(other.raw_os_error()),
    }
}

/// The errno the FUSE layer replies with for a core error.
pub fn errno_of(e: &Error) -> i32 {
    match e {
        // Path syntax.
        Error::EmptyPath
        | Error::EmptyComponent
        | Error::NulInName(_)
        | Error::InvalidName(_)
        | Error::EscapesRoot(_)
        | Error::NotAbsolute(_)
        | Error::BadPrefix(_) => libc::EINVAL,

        // Link table.
        Error::BackingNotFound(_) | Error::ExceptionMissing(_) | Error::ParentNotVisible(_) => libc::ENOENT,
        Error::AlreadyLinked(_) => libc::EEXIST,
        Error::ParentNotDirectory(_) | Error::MergedNeedsDirectory(_) | Error::RootNeedsDirectory => {
            libc::ENOTDIR
        }
        Error::ExceptionOutsideLink { .. }
        | Error::ExceptionsOnAnchorless(_)
        | Error::ExceptionsNeedDirectory(_)
        | Error::NoSuchLink(_)
        | Error::OutsideView(_) => libc::EINVAL,
        Error::HasNestedLinks { .. } => libc::EBUSY,

        // File-system outcomes.
        Error::NotFound => libc::ENOENT,
        Error::Exists => libc::EEXIST,
        Error::NotDir => libc::ENOTDIR,
        Error::IsDir => libc::EISDIR,
        Error::NotEmpty => libc::ENOTEMPTY,
        Error::ReadOnly => libc::EROFS,
        Error::CrossDevice => libc::EXDEV,
        Error::Loop => libc::ELOOP,
        Error::Busy => libc::EBUSY,
        Error::PermissionDenied => libc::EACCES,
        Error::InvalidArgument => libc::EINVAL,
        Error::NotSupported => libc::EOPNOTSUPP,
        Error::NoAttribute => libc::ENODATA,
        Error::Stale => libc::ESTALE,
        // 0 would tell the kernel "success"; a negative code is no errno at all.
        Error::Os(n) if *n > 0 => *n,
        Error::Os(_) => libc::EIO,

        // A variant added to the core after this table was written.
        _ => libc::EIO,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use bindfs_core::{AbsPath, Syntax, VPath};

    use super::*;

    fn vp(s: &str) -> VPath {
        VPath::parse(s).unwrap()
    }

    #[test]
    fn every_core_error_has_its_errno() {
        let abs = AbsPath::parse("/srv", Syntax::Posix).unwrap();
        let table: Vec<(Error, i32)> = vec![
            (Error::EmptyPath, libc::EINVAL),
            (Error::EmptyComponent, libc::EINVAL),
            (Error::NulInName("a".into()), libc::EINVAL),
            (Error::InvalidName("..".into()), libc::EINVAL),
            (Error::EscapesRoot("..".into()), libc::EINVAL),
            (Error::NotAbsolute("a".into()), libc::EINVAL),
            (Error::BadPrefix("\\\\?\\x".into()), libc::EINVAL),
            (Error::BackingNotFound("/b".into()), libc::ENOENT),
            (Error::AlreadyLinked(vp("/v")), libc::EEXIST),
            (Error::ParentNotVisible(vp("/v")), libc::ENOENT),
            (Error::ParentNotDirectory(vp("/v")), libc::ENOTDIR),
            (Error::ExceptionOutsideLink { link: vp("/v"), exception: vp("/w") }, libc::EINVAL),
            (Error::ExceptionMissing(vp("/v/x")), libc::ENOENT),
            (Error::ExceptionsOnAnchorless(vp("/v")), libc::EINVAL),
            (Error::MergedNeedsDirectory(vp("/v")), libc::ENOTDIR),
            (Error::RootNeedsDirectory, libc::ENOTDIR),
            (Error::NoSuchLink(vp("/v")), libc::EINVAL),
            (Error::HasNestedLinks { link: vp("/v"), nested: vp("/v/n") }, libc::EBUSY),
            (Error::OutsideView(abs), libc::EINVAL),
            (Error::NotFound, libc::ENOENT),
            (Error::Exists, libc::EEXIST),
            (Error::NotDir, libc::ENOTDIR),
            (Error::IsDir, libc::EISDIR),
            (Error::NotEmpty, libc::ENOTEMPTY),
            (Error::ReadOnly, libc::EROFS),
            (Error::CrossDevice, libc::EXDEV),
            (Error::Loop, libc::ELOOP),
            (Error::Busy, libc::EBUSY),
            (Error::PermissionDenied, libc::EACCES),
            (Error::InvalidArgument, libc::EINVAL),
            (Error::NotSupported, libc::EOPNOTSUPP),
            (Error::NoAttribute, libc::ENODATA),
            (Error::Stale, libc::ESTALE),
            (Error::Os(libc::ENOSPC), libc::ENOSPC),
            (Error::Os(libc::ELOOP), libc::ELOOP),
            (Error::Os(0), libc::EIO),
            (Error::Os(-5), libc::EIO),
        ];
        for (error, errno) in table {
            assert_eq!(errno_of(&error), errno, "{error:?}");
        }
    }

    #[test]
    fn store_errnos_map_to_core_errors() {
        let table = [
            (libc::ENOENT, Error::NotFound),
            (libc::EEXIST, Error::Exists),
            (libc::ENOTDIR, Error::NotDir),
            (libc::EISDIR, Error::IsDir),
            (libc::ENOTEMPTY, Error::NotEmpty),
            (libc::EXDEV, Error::CrossDevice),
            (libc::EACCES, Error::PermissionDenied),
            (libc::ENODATA, Error::NoAttribute),
            (libc::EINVAL, Error::InvalidArgument),
            (libc::EOPNOTSUPP, Error::NotSupported),
            (libc::ESTALE, Error::Stale),
            // A symlink met by RESOLVE_NO_SYMLINKS is not the core's chain-of-links loop.
            (libc::ELOOP, Error::Os(libc::ELOOP)),
            (libc::EPERM, Error::Os(libc::EPERM)),
            (libc::EROFS, Error::Os(libc::EROFS)),
            (libc::ENOSPC, Error::Os(libc::ENOSPC)),
        ];
        for (errno, error) in table {
            assert_eq!(map_errno(Errno::from_raw_os_error(errno)), error, "errno {errno}");
        }
    }

    #[test]
    fn store_errnos_survive_the_round_trip() {
        for errno in 1..=133 {
            let back = errno_of(&map_errno(Errno::from_raw_os_error(errno)));
            assert_eq!(back, errno, "errno {errno}");
        }
    }
}
