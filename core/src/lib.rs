//! # bindfs-core
//!
//! The platform-neutral heart of bindfs-rs: everything about Windows-style bind links that does
//! not depend on an operating system.
//!
//! - [`path`]: virtual and host paths in POSIX and Windows syntax, strictly normalized.
//! - [`name`]: file names and the case policy of a view.
//! - [`error`]: the error vocabulary shared by every backend.
//! - [`backing`]: the port trait through which the core reaches real storage, by handle.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod backing;
pub mod error;
pub mod name;
pub mod path;

pub use backing::{
    Attr, Backing, DirEntry, FileKind, OpenFlags, RenameFlags, SetAttr, SetTime, StatFs, Timestamp, XattrMode,
};
pub use error::{Error, Result};
pub use name::{CasePolicy, Name};
pub use path::{AbsPath, Root, Syntax, VPath};
