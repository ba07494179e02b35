//! # bindfs-winfsp
//!
//! The Windows side of bindfs-rs, through WinFsp, for systems without the Bind Filter. Licensed
//! GPL-3.0 because winfsp-rs is. The platform-neutral parts build and are tested everywhere; the
//! file system itself is Windows-only.
//!
//! - [`status`]: the one mapping between core errors and NTSTATUS codes, both ways.
//! - [`info`]: core attributes as Windows file information (attributes, FILETIMEs, sizes).
//! - [`wide`]: UTF-16 names and paths to and from the core's names and view paths.
//! - [`dirlist`]: directory listings as WinFsp pages them (markers, patterns, `.` and `..`).
#![deny(missing_docs)]

pub mod dirlist;
pub mod info;
pub mod status;
pub mod wide;
