//! The error vocabulary of bindfs-rs.
//!
//! One enum for everything the core can refuse: path syntax, link-table rules and file-system
//! outcomes. Each backend maps it to its own codes in exactly one place (errno for FUSE, NTSTATUS
//! for WinFsp); [`Error::Os`] carries a code the backend itself produced back to that backend
//! unchanged. Messages name virtual paths, never backing paths, except where the user gave the
//! backing path (rule 2).

use crate::path::{AbsPath, VPath};

/// Result with the core [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything the core can refuse, one variant per distinct reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- path syntax
    /// An empty string was given as a path.
    #[error("empty path")]
    EmptyPath,
    /// Two separators in a row (`a//b`): an empty component.
    #[error("empty path component (two separators in a row)")]
    EmptyComponent,
    /// A NUL byte inside a name.
    #[error("NUL byte in name {0:?}")]
    NulInName(String),
    /// A name that no file can have here (`.`/`..` as a name, a separator, a reserved character).
    #[error("invalid file name {0:?}")]
    InvalidName(String),
    /// `..` would climb above the root.
    #[error("path {0:?} climbs above its root with '..'")]
    EscapesRoot(String),
    /// A relative path where an absolute one is needed.
    #[error("path {0:?} is not absolute")]
    NotAbsolute(String),
    /// A Windows prefix (`\\?\`, UNC, volume GUID) that does not parse.
    #[error("malformed path prefix in {0:?}")]
    BadPrefix(String),

    // ---- link table (rules 1-10, 17)
    /// Rule 2: the backing path does not exist.
    #[error("backing path not found: {0}")]
    BackingNotFound(String),
    /// Rule 3: a link exists at this virtual path already.
    #[error("{0} is already a link")]
    AlreadyLinked(VPath),
    /// Rule 4: the parent of the virtual path is not visible.
    #[error("parent of {0} is not visible in the view (create parent links first)")]
    ParentNotVisible(VPath),
    /// Rule 4: the parent of the virtual path is visible but is not a directory.
    #[error("parent of {0} is not a directory")]
    ParentNotDirectory(VPath),
    /// Rule 8: an exception that is not strictly below the link's virtual path.
    #[error("exception {exception} is not inside link {link}")]
    ExceptionOutsideLink {
        /// The link's virtual path.
        link: VPath,
        /// The offending exception.
        exception: VPath,
    },
    /// Rule 8: an exception path that does not exist.
    #[error("exception {0} does not exist")]
    ExceptionMissing(VPath),
    /// Rule 8: exceptions on a link whose virtual path did not exist.
    #[error("{0} does not exist, so the link is anchorless and cannot have exceptions")]
    ExceptionsOnAnchorless(VPath),
    /// Rule 8: exceptions need a directory as backing (a file has nothing below it).
    #[error("link {0} has a non-directory backing, so it cannot have exceptions")]
    ExceptionsNeedDirectory(VPath),
    /// Rule 11: a merged link needs an existing directory at V and a directory as backing.
    #[error("merged link {0} needs an existing directory at the virtual path and a directory as backing")]
    MergedNeedsDirectory(VPath),
    /// A link at the view root must have a directory as backing.
    #[error("a link at the view root needs a directory as backing")]
    RootNeedsDirectory,
    /// Rule 17: no link at this virtual path.
    #[error("no link at {0}")]
    NoSuchLink(VPath),
    /// Rule 17: links exist below this one; remove them first.
    #[error("{link} has nested links (e.g. {nested}): remove those first")]
    HasNestedLinks {
        /// The link asked to be removed.
        link: VPath,
        /// One link below it.
        nested: VPath,
    },
    /// A path that is not inside the view it was given to.
    #[error("{0} is not inside the view")]
    OutsideView(AbsPath),

    // ---- file-system outcomes
    /// No such file or directory.
    #[error("no such file or directory")]
    NotFound,
    /// The name exists already.
    #[error("file exists")]
    Exists,
    /// A directory was needed.
    #[error("not a directory")]
    NotDir,
    /// A non-directory was needed.
    #[error("is a directory")]
    IsDir,
    /// The directory is not empty.
    #[error("directory not empty")]
    NotEmpty,
    /// Rule 13: the entry comes from a read-only link.
    #[error("read-only link")]
    ReadOnly,
    /// Rule 23: the operation would cross two backing file systems or layers.
    #[error("cross-device link or rename")]
    CrossDevice,
    /// Rule 9: a chain of links loops, or is deeper than the limit.
    #[error("too many levels of links (a cycle of links?)")]
    Loop,
    /// The operation needs a different entry: a link's virtual path or the view root itself.
    #[error("resource busy (a link's virtual path or the view root)")]
    Busy,
    /// Permission denied.
    #[error("permission denied")]
    PermissionDenied,
    /// An argument the operation cannot take.
    #[error("invalid argument")]
    InvalidArgument,
    /// The backing store cannot do this.
    #[error("operation not supported")]
    NotSupported,
    /// No such extended attribute.
    #[error("no such attribute")]
    NoAttribute,
    /// A handle that names no file any more: a remote store (NFS, SMB) dropped the file it was
    /// opened on, removed by another client. A kept handle that gives this is treated as one
    /// that missed: checked, and opened again by its path.
    #[error("stale file handle")]
    Stale,
    /// A code produced by the backing implementation, returned to its backend unchanged.
    #[error("backing store error (code {0})")]
    Os(i32),
}
