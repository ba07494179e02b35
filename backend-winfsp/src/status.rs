//! The one mapping from core errors to NTSTATUS codes. Platform-neutral, so it is unit-tested
//! on Linux; the WinFsp file system returns these from every operation.
//!
//! A code the Windows backing store produced itself travels in [`Error::Os`] and comes back
//! unchanged. Anything unknown becomes `STATUS_IO_DEVICE_ERROR`, never "not found".
//! [`error_of_status`] is the other direction, for the Windows store: the codes the core must
//! tell apart (absent, exists, not a directory ...) become its variants, the rest travel as
//! [`Error::Os`].

use bindfs_core::Error;

/// NTSTATUS codes used by the view (values from ntstatus.h).
pub mod code {
    /// The name was not found.
    pub const OBJECT_NAME_NOT_FOUND: i32 = 0xC000_0034_u32 as i32;
    /// A directory on the path was not found.
    pub const OBJECT_PATH_NOT_FOUND: i32 = 0xC000_003A_u32 as i32;
    /// The name exists already.
    pub const OBJECT_NAME_COLLISION: i32 = 0xC000_0035_u32 as i32;
    /// The name is not valid.
    pub const OBJECT_NAME_INVALID: i32 = 0xC000_0033_u32 as i32;
    /// The path is malformed.
    pub const OBJECT_PATH_SYNTAX_BAD: i32 = 0xC000_003B_u32 as i32;
    /// A directory was expected.
    pub const NOT_A_DIRECTORY: i32 = 0xC000_0103_u32 as i32;
    /// A file was expected.
    pub const FILE_IS_A_DIRECTORY: i32 = 0xC000_00BA_u32 as i32;
    /// The directory is not empty.
    pub const DIRECTORY_NOT_EMPTY: i32 = 0xC000_0101_u32 as i32;
    /// Writes are refused: a read-only link (rule 13).
    pub const MEDIA_WRITE_PROTECTED: i32 = 0xC000_00A2_u32 as i32;
    /// Across two volumes (rule 23).
    pub const NOT_SAME_DEVICE: i32 = 0xC000_00D4_u32 as i32;
    /// A chain of links that does not end (rule 9).
    pub const REPARSE_POINT_NOT_RESOLVED: i32 = 0xC000_0280_u32 as i32;
    /// Access denied.
    pub const ACCESS_DENIED: i32 = 0xC000_0022_u32 as i32;
    /// A bad argument.
    pub const INVALID_PARAMETER: i32 = 0xC000_000D_u32 as i32;
    /// Not supported by the store.
    pub const NOT_SUPPORTED: i32 = 0xC000_00BB_u32 as i32;
    /// No such extended attribute.
    pub const NONEXISTENT_EA_ENTRY: i32 = 0xC000_0051_u32 as i32;
    /// The link asked for does not exist.
    pub const NOT_FOUND: i32 = 0xC000_0225_u32 as i32;
    /// Anything not known.
    pub const IO_DEVICE_ERROR: i32 = 0xC000_0185_u32 as i32;
    /// The file does not exist (a name that was there when listed).
    pub const NO_SUCH_FILE: i32 = 0xC000_000F_u32 as i32;
    /// The caller's buffer is too small.
    pub const BUFFER_OVERFLOW: i32 = 0x8000_0005_u32 as i32;
    /// The owner may not be set by this caller (NTFS's owner rule).
    pub const INVALID_OWNER: i32 = 0xC000_005A_u32 as i32;
    /// The store lacks a privilege the call needs.
    pub const PRIVILEGE_NOT_HELD: i32 = 0xC000_0061_u32 as i32;
    /// A file or directory is marked for deletion.
    pub const DELETE_PENDING: i32 = 0xC000_0056_u32 as i32;
    /// The file is not a reparse point.
    pub const NOT_A_REPARSE_POINT: i32 = 0xC000_0275_u32 as i32;
    /// A handle that is not valid (no such open file).
    pub const INVALID_HANDLE: i32 = 0xC000_0008_u32 as i32;
    /// The file a handle was opened on is no longer valid (changed outside, e.g. on a share).
    pub const FILE_INVALID: i32 = 0xC000_0098_u32 as i32;
}

/// The NTSTATUS a Windows caller sees for `e`.
pub fn ntstatus_of(e: &Error) -> i32 {
    use code::*;
    match e {
        Error::NotFound | Error::ExceptionMissing(_) => OBJECT_NAME_NOT_FOUND,
        Error::BackingNotFound(_) | Error::ParentNotVisible(_) => OBJECT_PATH_NOT_FOUND,
        Error::Exists | Error::AlreadyLinked(_) => OBJECT_NAME_COLLISION,
        Error::NotDir
        | Error::ParentNotDirectory(_)
        | Error::MergedNeedsDirectory(_)
        | Error::RootNeedsDirectory => NOT_A_DIRECTORY,
        Error::IsDir => FILE_IS_A_DIRECTORY,
        Error::NotEmpty | Error::HasNestedLinks { .. } => DIRECTORY_NOT_EMPTY,
        Error::ReadOnly => MEDIA_WRITE_PROTECTED,
        Error::CrossDevice => NOT_SAME_DEVICE,
        Error::Loop => REPARSE_POINT_NOT_RESOLVED,
        Error::Busy | Error::PermissionDenied => ACCESS_DENIED,
        Error::EmptyPath | Error::EmptyComponent | Error::NulInName(_) | Error::InvalidName(_) => {
            OBJECT_NAME_INVALID
        }
        Error::EscapesRoot(_) | Error::NotAbsolute(_) | Error::BadPrefix(_) => OBJECT_PATH_SYNTAX_BAD,
        Error::ExceptionOutsideLink { .. }
        | Error::ExceptionsOnAnchorless(_)
        | Error::ExceptionsNeedDirectory(_)
        | Error::OutsideView(_)
        | Error::InvalidArgument => INVALID_PARAMETER,
        Error::NoSuchLink(_) => NOT_FOUND,
        Error::NotSupported => NOT_SUPPORTED,
        Error::NoAttribute => NONEXISTENT_EA_ENTRY,
        Error::Stale => FILE_INVALID,
        // A failure code the Windows store produced (NTSTATUS error codes are negative as i32).
        Error::Os(status) if *status < 0 => *status,
        _ => IO_DEVICE_ERROR,
    }
}

/// The core error for an NTSTATUS failure of the Windows store.
pub fn error_of_status(status: i32) -> Error {
    use code::*;
    match status {
        OBJECT_NAME_NOT_FOUND | OBJECT_PATH_NOT_FOUND | NO_SUCH_FILE | DELETE_PENDING => Error::NotFound,
        OBJECT_NAME_COLLISION => Error::Exists,
        NOT_A_DIRECTORY => Error::NotDir,
        FILE_IS_A_DIRECTORY => Error::IsDir,
        DIRECTORY_NOT_EMPTY => Error::NotEmpty,
        NOT_SAME_DEVICE => Error::CrossDevice,
        NOT_SUPPORTED => Error::NotSupported,
        FILE_INVALID => Error::Stale,
        other => Error::Os(other),
    }
}

#[cfg(test)]
mod tests {
    use super::code::*;
    use super::*;
    use bindfs_core::VPath;

    #[test]
    fn every_rule_error_has_its_own_windows_meaning() {
        let root = VPath::root();
        let cases = [
            (Error::NotFound, OBJECT_NAME_NOT_FOUND),
            (Error::BackingNotFound("C:\\t".into()), OBJECT_PATH_NOT_FOUND),
            (Error::AlreadyLinked(root.clone()), OBJECT_NAME_COLLISION),
            (Error::ReadOnly, MEDIA_WRITE_PROTECTED),
            (Error::CrossDevice, NOT_SAME_DEVICE),
            (Error::Loop, REPARSE_POINT_NOT_RESOLVED),
            (Error::HasNestedLinks { link: root.clone(), nested: root.clone() }, DIRECTORY_NOT_EMPTY),
            (Error::NoSuchLink(root), NOT_FOUND),
            (Error::EscapesRoot("..".into()), OBJECT_PATH_SYNTAX_BAD),
            (Error::NulInName("a".into()), OBJECT_NAME_INVALID),
        ];
        for (error, status) in cases {
            assert_eq!(ntstatus_of(&error), status, "{error}");
        }
    }

    #[test]
    fn store_codes_pass_through_and_unknown_is_an_io_error() {
        let sharing_violation = 0xC000_0043_u32 as i32;
        assert_eq!(ntstatus_of(&Error::Os(sharing_violation)), sharing_violation);
        assert_eq!(ntstatus_of(&Error::Os(5)), IO_DEVICE_ERROR);
        assert_ne!(ntstatus_of(&Error::Os(0)), OBJECT_NAME_NOT_FOUND);
    }

    #[test]
    fn store_statuses_become_what_the_core_tells_apart() {
        assert_eq!(error_of_status(OBJECT_PATH_NOT_FOUND), Error::NotFound);
        assert_eq!(error_of_status(NOT_A_DIRECTORY), Error::NotDir);
        assert_eq!(error_of_status(NOT_SAME_DEVICE), Error::CrossDevice);
        // A handle a share dropped is stale, whatever the view does with it, and goes back so.
        assert_eq!(error_of_status(FILE_INVALID), Error::Stale);
        assert_eq!(ntstatus_of(&Error::Stale), FILE_INVALID);
        // Access denied stays the store's own code, and comes back unchanged.
        assert_eq!(ntstatus_of(&error_of_status(ACCESS_DENIED)), ACCESS_DENIED);
        let sharing_violation = 0xC000_0043_u32 as i32;
        assert_eq!(ntstatus_of(&error_of_status(sharing_violation)), sharing_violation);
    }
}
