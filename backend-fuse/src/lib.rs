//! # bindfs-fuse
//!
//! The Linux side of bindfs-rs.
//!
//! - [`errno`]: the one mapping between errnos and the core's error enum, in each direction.
#![deny(missing_docs)]

#[cfg(target_os = "linux")]
pub mod errno;

#[cfg(target_os = "linux")]
pub use errno::{errno_of, map_errno};
