//! # bindfs-fuse
//!
//! The Linux side of bindfs-rs.
//!
//! - [`backing`]: [`LinuxBacking`], the core's backing port over `O_PATH` handles and `openat2`.
//! - [`errno`]: the one mapping between errnos and the core's error enum, in each direction.
//! - [`fs`]: the FUSE view over the core's operations layer; [`inodes`]: its node ids;
//!   [`creds`]: requests run with their caller's credentials; [`mount`]: mounting a view;
//!   [`control`]: the control socket through which links change on a live view.
//! - `sys`: the few system calls no safe wrapper covers (the crate's only `unsafe`).
#![deny(missing_docs)]

#[cfg(target_os = "linux")]
pub mod backing;
#[cfg(target_os = "linux")]
pub mod control;
#[cfg(target_os = "linux")]
pub mod creds;
#[cfg(target_os = "linux")]
pub mod errno;
#[cfg(target_os = "linux")]
pub mod fs;
#[cfg(target_os = "linux")]
pub mod inodes;
#[cfg(target_os = "linux")]
pub mod mount;
#[cfg(target_os = "linux")]
mod sys;

#[cfg(target_os = "linux")]
pub use backing::{LinuxBacking, LinuxFile, LinuxNode};
#[cfg(target_os = "linux")]
pub use errno::{errno_of, map_errno};
#[cfg(target_os = "linux")]
pub use fs::{BindFs, Options, ViewHandle};
