//! # bindfs-fuse
//!
//! The Linux side of bindfs-rs.
#![deny(missing_docs)]
