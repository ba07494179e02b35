//! The system call rustix does not wrap, in one small function.

use std::os::fd::{AsRawFd, BorrowedFd};

/// What [`ofd_lock`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockCmd {
    /// Report a conflicting lock (`F_OFD_GETLK`).
    Get,
    /// Take or release a lock, failing on a conflict (`F_OFD_SETLK`).
    Set,
    /// Take a lock, waiting for conflicts to go (`F_OFD_SETLKW`).
    Wait,
}

/// A byte-range lock: type (`F_RDLCK`, `F_WRLCK`, `F_UNLCK`), inclusive range, holder's pid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lock {
    /// `F_RDLCK`, `F_WRLCK` or `F_UNLCK`.
    pub typ: i32,
    /// First byte.
    pub start: u64,
    /// Last byte (`u64::MAX`: to the end of the file and beyond).
    pub end: u64,
    /// The holder's pid (-1 for a lock of an open file description).
    pub pid: i32,
}

/// An open-file-description lock on `fd`: locks belong to the descriptor (one per open file of
/// the view), and conflict with every POSIX and OFD lock on the same file, whoever holds it.
pub fn ofd_lock(fd: BorrowedFd<'_>, cmd: LockCmd, lock: Lock) -> std::io::Result<Lock> {
    let len = if lock.end >= i64::MAX as u64 { 0 } else { lock.end.saturating_sub(lock.start) + 1 };
    let mut fl = libc::flock {
        l_type: lock.typ as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: i64::try_from(lock.start).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?,
        l_len: i64::try_from(len).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?,
        l_pid: 0,
    };
    let op = match cmd {
        LockCmd::Get => libc::F_OFD_GETLK,
        LockCmd::Set => libc::F_OFD_SETLK,
        LockCmd::Wait => libc::F_OFD_SETLKW,
    };
    // SAFETY: `fd` is an open descriptor borrowed for the call, and `fl` is an initialized
    // `struct flock` that outlives it; F_OFD_* take exactly that argument.
    let done = unsafe { libc::fcntl(fd.as_raw_fd(), op, &mut fl as *mut libc::flock) };
    if done < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let start = u64::try_from(fl.l_start).unwrap_or(0);
    let end = if fl.l_len == 0 { u64::MAX } else { start + u64::try_from(fl.l_len).unwrap_or(1) - 1 };
    Ok(Lock { typ: i32::from(fl.l_type), start, end, pid: fl.l_pid })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn two_open_files_conflict_and_unlock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let a = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let b = std::fs::OpenOptions::new().read(true).write(true).open(&path).unwrap();
        let wr = Lock { typ: libc::F_WRLCK, start: 2, end: 5, pid: 0 };
        ofd_lock(a.as_fd(), LockCmd::Set, wr).unwrap();
        let seen = ofd_lock(b.as_fd(), LockCmd::Get, Lock { start: 0, end: u64::MAX, ..wr }).unwrap();
        assert_eq!((seen.typ, seen.start, seen.end), (libc::F_WRLCK, 2, 5));
        assert!(ofd_lock(b.as_fd(), LockCmd::Set, wr).is_err());
        ofd_lock(a.as_fd(), LockCmd::Set, Lock { typ: libc::F_UNLCK, ..wr }).unwrap();
        ofd_lock(b.as_fd(), LockCmd::Set, wr).unwrap();
    }
}
