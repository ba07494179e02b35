//! # bindfs-winfsp
//!
//! The Windows side of bindfs-rs (WinFsp).
#![deny(missing_docs)]
