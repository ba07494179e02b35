//! # bindlink
//!
//! A drop-in for Windows' `bindlink.dll`: `CreateBindLink` and `RemoveBindLink` of
//! `bindlink.h`, with the documented signatures, answered by the live bindfs-rs view that holds
//! the virtual path. Programs written for the bind link API of Windows 11 24H2 run unchanged
//! on older Windows (`bindlink.dll` beside the `.exe`) and on Linux (`libbindlink.so`, paths as
//! UTF-8 `const char *`), so their code can be tested in Linux CI.
//!
//! The library keeps no state: each call finds the view holding the virtual path and sends one
//! request over that view's control channel (a Unix socket on Linux, a named pipe on Windows),
//! exactly as `bindfs-rs link create|remove` does: the CLI calls [`client`] too. Every refusal
//! is an `HRESULT` of the shared table [`bindfs_core::hresult`].
//!
//! The C header is `include/bindlink.h`; the exports live in `sys`. `unsafe` code is only there
//! and in the Windows client's `sys` (its Win32 calls).
#![deny(missing_docs)]

pub mod client;
mod sys;

pub use client::{Failure, Flags};

/// `CREATE_BIND_LINK_FLAG_NONE`.
pub const CREATE_BIND_LINK_FLAG_NONE: u32 = 0x0;
/// `CREATE_BIND_LINK_FLAG_READ_ONLY`: every change through the link is refused (rule 13).
pub const CREATE_BIND_LINK_FLAG_READ_ONLY: u32 = 0x1;
/// `CREATE_BIND_LINK_FLAG_MERGED`: the backing is merged over V's own content (rule 11).
pub const CREATE_BIND_LINK_FLAG_MERGED: u32 = 0x2;

impl Flags {
    /// The flags of a `CREATE_BIND_LINK_FLAGS` value; `None` when it has a bit the API does not
    /// define.
    pub fn from_bits(bits: u32) -> Option<Flags> {
        if bits & !(CREATE_BIND_LINK_FLAG_READ_ONLY | CREATE_BIND_LINK_FLAG_MERGED) != 0 {
            return None;
        }
        Some(Flags {
            read_only: bits & CREATE_BIND_LINK_FLAG_READ_ONLY != 0,
            merged: bits & CREATE_BIND_LINK_FLAG_MERGED != 0,
        })
    }
}

/// The `HRESULT` of an outcome: `S_OK`, or the failure's.
pub fn hresult_of(outcome: &Result<(), Failure>) -> u32 {
    match outcome {
        Ok(()) => bindfs_core::hresult::S_OK,
        Err(f) => f.hresult,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn flags_are_the_documented_bits() {
        assert_eq!(Flags::from_bits(0), Some(Flags::default()));
        assert_eq!(Flags::from_bits(1), Some(Flags { read_only: true, merged: false }));
        assert_eq!(Flags::from_bits(2), Some(Flags { read_only: false, merged: true }));
        assert_eq!(Flags::from_bits(3), Some(Flags { read_only: true, merged: true }));
        assert_eq!(Flags::from_bits(4), None);
        assert_eq!(Flags::from_bits(0x8000_0000), None);
    }

    #[test]
    fn the_header_defines_the_same_flags_and_functions() {
        let header = include_str!("../include/bindlink.h");
        for line in [
            "CREATE_BIND_LINK_FLAG_NONE = 0x00000000",
            "CREATE_BIND_LINK_FLAG_READ_ONLY = 0x00000001",
            "CREATE_BIND_LINK_FLAG_MERGED = 0x00000002",
            "CreateBindLink(",
            "RemoveBindLink(",
        ] {
            assert!(header.contains(line), "bindlink.h lacks {line:?}");
        }
    }
}
