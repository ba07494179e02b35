//! The system calls no safe wrapper covers, each behind a safe function: the only `unsafe` of
//! this crate.
//!
//! Byte-range locks of open file descriptions (`F_OFD_SETLK`, `F_OFD_GETLK`): rustix locks
//! whole files only, and the view keeps ranges as the caller asked them.
#![allow(unsafe_code)]

use std::os::fd::{AsRawFd, BorrowedFd};

/// Takes, changes or releases the open-file-description lock `lock` describes on `fd`, without
/// waiting (`F_OFD_SETLK`): `EAGAIN` while someone else holds a conflicting one.
pub(crate) fn ofd_set_lock(fd: BorrowedFd<'_>, lock: &libc::flock) -> std::io::Result<()> {
    // SAFETY: `fd` is open for the whole call (borrowed) and `lock` is an initialized `flock`
    // the call only reads.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_SETLK, lock) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Asks whether the lock `lock` describes could be taken on `fd` (`F_OFD_GETLK`): the call
/// overwrites `lock` with the first conflicting lock, or sets its type to `F_UNLCK`.
pub(crate) fn ofd_get_lock(fd: BorrowedFd<'_>, lock: &mut libc::flock) -> std::io::Result<()> {
    // SAFETY: `fd` is open for the whole call (borrowed) and `lock` is an initialized `flock`
    // the call may overwrite, exclusively borrowed for it.
    let rc = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_OFD_GETLK, lock) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}
