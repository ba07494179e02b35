//! # bindfs-winfsp
//!
//! The Windows side of bindfs-rs, through WinFsp, for systems without the Bind Filter. Licensed
//! GPL-3.0 because winfsp-rs is. The platform-neutral parts (like [`status`]) build and are
//! tested everywhere; the file system itself is Windows-only.
#![deny(missing_docs)]

pub mod status;
