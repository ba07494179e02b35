//! Locks through the view act on the backing file (rule 19): a lock taken through V holds
//! against B's own users, and theirs against the view's.
//!
//! The kernel sends every lock request (`FUSE_POSIX_LOCKS`, `FUSE_FLOCK_LOCKS`) with the owner
//! it is for: the process (its file table) for POSIX record locks, the open file for `flock`
//! and open-file-description locks. The daemon keeps one open file description of B per
//! (node, owner), a *holder*, and takes the owner's locks on it as open-file-description
//! locks (`F_OFD_SETLK`, which conflict with POSIX locks on B) or `flock` locks. So one owner's
//! locks never conflict with each other, two owners' do, and B's users see them all.
//!
//! A holder goes away, releasing its locks, when the kernel says the owner is done with the
//! file: at `flush` for a process (POSIX semantics: closing any descriptor of the file releases
//! the process's locks on it), at `release` of the open file for `flock` and open-file-
//! description locks.
//!
//! Choices and limits, where FUSE and fuser 0.18 leave no better way:
//! - fuser does not pass `FUSE_LK_FLOCK`; the daemon reads which call the requesting thread is
//!   in (`/proc/<tid>/syscall`) to tell `flock(2)` from `fcntl(2)`. When that cannot be read
//!   (the caller in another pid namespace, a daemon without the right to read it), the request
//!   is taken as a record lock over the same range.
//! - A waiting lock (`F_SETLKW`, `flock` without `LOCK_NB`) waits on a thread of its own that
//!   retries without blocking, so a worker is never held, and ends with `EINTR` as soon as the
//!   waiting thread has a signal it does not block: fuser answers the kernel's `INTERRUPT` with
//!   `ENOSYS`, so the daemon watches for the signal itself (`/proc/<tid>/status`). Waiters are
//!   not served in arrival order, and a deadlock between two owners waits instead of failing
//!   with `EDEADLK`.
//! - The kernel releases `flock` and open-file-description locks with an asynchronous `release`
//!   that can reach another worker after the caller's next request; a request that finds a
//!   conflict while a release is under way, or just happened, is retried for a few
//!   milliseconds before it answers `EAGAIN`.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bindfs_core::{Error, Result};
use fuser::{FileHandle, INodeNo, LockOwner, ReplyEmpty, ReplyLock, Request};
use parking_lot::Mutex;
use rustix::fs::OFlags;

use super::{Shared, errno};
use crate::errno::map_errno;

/// The daemon's locks on backing files, by (node, owner).
#[derive(Debug, Default)]
pub(super) struct Locks {
    holders: Mutex<HashMap<(u64, u64), Arc<Holder>>>,
    /// Releases being handled now, and when the last one ended (see the module docs).
    releasing: AtomicUsize,
    last_release: Mutex<Option<Instant>>,
}

/// One owner's open file description of a backing file, on which its locks are taken.
#[derive(Debug)]
struct Holder {
    fd: OwnedFd,
    /// The access mode of `fd` (`O_RDONLY`, `O_WRONLY` or `O_RDWR`).
    access: i32,
    /// The open file it was opened through (released with it, for open-file owners).
    via: u64,
    /// The owner's process, as the kernel gave it, to report to `F_GETLK`.
    pid: u32,
}

/// One lock request, decoded.
#[derive(Clone, Copy, Debug)]
struct LockReq {
    flock: bool,
    typ: i32,
    start: u64,
    end: u64,
}

/// The largest offset the kernel uses for "to the end of the file".
const OFFSET_MAX: u64 = i64::MAX as u64;

/// How long a conflicting request is retried while a release may be on its way.
const RELEASE_GRACE: Duration = Duration::from_millis(20);

impl LockReq {
    /// The `struct flock` for `F_OFD_*` calls.
    fn flock_struct(&self) -> libc::flock {
        let len = if self.end >= OFFSET_MAX { 0 } else { self.end.saturating_sub(self.start) + 1 };
        libc::flock {
            l_type: self.typ as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: i64::try_from(self.start).unwrap_or(i64::MAX),
            l_len: i64::try_from(len).unwrap_or(0),
            l_pid: 0,
        }
    }

    /// The access mode a descriptor needs for this request.
    fn needs(&self) -> Option<i32> {
        match (self.flock, self.typ) {
            (false, libc::F_RDLCK) => Some(libc::O_RDONLY),
            (false, libc::F_WRLCK) => Some(libc::O_WRONLY),
            _ => None,
        }
    }
}

/// Whether a descriptor opened with `access` serves a request that needs `need`.
fn serves(access: i32, need: Option<i32>) -> bool {
    match need {
        None => true,
        Some(n) => access == libc::O_RDWR || access == n,
    }
}

/// Tries the request once, without waiting.
fn try_once(fd: BorrowedFd<'_>, req: &LockReq) -> Result<()> {
    if req.flock {
        use rustix::fs::FlockOperation as Op;
        let op = match req.typ {
            libc::F_RDLCK => Op::NonBlockingLockShared,
            libc::F_WRLCK => Op::NonBlockingLockExclusive,
            _ => Op::NonBlockingUnlock,
        };
        return rustix::fs::flock(fd, op).map_err(map_errno);
    }
    crate::sys::ofd_set_lock(fd, &req.flock_struct()).map_err(|e| Error::Os(e.raw_os_error().unwrap_or(0)))
}

/// The access mode (`O_RDONLY`, `O_WRONLY` or `O_RDWR`) of descriptor `fd`.
fn access_of(fd: BorrowedFd<'_>) -> Result<OFlags> {
    let flags = rustix::fs::fcntl_getfl(fd).map_err(map_errno)?;
    Ok(flags & (OFlags::RDONLY | OFlags::WRONLY | OFlags::RDWR))
}

/// Whether an error means "held by someone else".
fn is_conflict(e: &Error) -> bool {
    matches!(e, Error::Os(c) if *c == libc::EAGAIN || *c == libc::EWOULDBLOCK || *c == libc::EACCES)
}

/// Whether thread `tid` is in `flock(2)` (see the module docs).
fn in_flock(tid: u32) -> bool {
    if tid == 0 {
        return false;
    }
    let Ok(text) = std::fs::read_to_string(format!("/proc/{tid}/syscall")) else { return false };
    text.split_whitespace().next().and_then(|n| n.parse::<i64>().ok()) == Some(libc::SYS_flock)
}

/// Whether thread `tid` has a signal pending that it does not block, or is gone. A caller the
/// daemon cannot see (another pid namespace: `tid` 0) waits until the lock is free.
fn interrupted(tid: u32) -> bool {
    if tid == 0 {
        return false;
    }
    let Ok(status) = std::fs::read_to_string(format!("/proc/{tid}/status")) else { return true };
    let mask = |key: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0)
    };
    (mask("SigPnd:") | mask("ShdPnd:")) & !mask("SigBlk:") != 0
}

/// The record locks (POSIX and open-file-description) held through descriptor `fd`, as
/// (write, start, end), from `/proc/self/fdinfo`.
fn held(fd: BorrowedFd<'_>) -> Vec<(bool, u64, u64)> {
    let Ok(info) = std::fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())) else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|l| l.strip_prefix("lock:"))
        .filter(|l| l.contains("OFDLCK") || l.contains("POSIX"))
        .filter_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let write = words.contains(&"WRITE");
            let (start, end) = match words.as_slice() {
                [.., s, e] => (s.parse().ok()?, if *e == "EOF" { OFFSET_MAX } else { e.parse().ok()? }),
                _ => return None,
            };
            Some((write, start, end))
        })
        .collect()
}

impl Locks {
    /// The holder for (`ino`, `owner`), opened through open file `fh` if there is none, or
    /// reopened if the one there cannot serve `req` (a lock of a kind its access mode forbids).
    fn holder(
        &self,
        shared: &Shared,
        ino: u64,
        owner: u64,
        fh: u64,
        pid: u32,
        req: &LockReq,
    ) -> Result<Arc<Holder>> {
        let key = (ino, owner);
        let existing = self.holders.lock().get(&key).cloned();
        if let Some(h) = &existing {
            if serves(h.access, req.needs()) {
                return Ok(Arc::clone(h));
            }
        }
        let open = shared.open_file(fh)?;
        let fh_access = access_of(open.file()?.as_fd())?;
        let backing = shared.view.backing();
        let (fd, access) = if existing.is_none() {
            (backing.reopen_file(open.file()?, fh_access)?, fh_access.bits() as i32)
        } else {
            // The owner now locks through a descriptor of another mode: one that serves both
            // (the kernel has checked the caller holds descriptors of each).
            (backing.reopen_file(open.file()?, OFlags::RDWR)?, libc::O_RDWR)
        };
        let holder = Arc::new(Holder { fd, access, via: fh, pid });
        if let Some(old) = existing {
            // Move the owner's record locks over: its old description goes, then they are
            // taken again on the new one.
            let locks = held(old.fd.as_fd());
            self.holders.lock().insert(key, Arc::clone(&holder));
            drop(old);
            for (write, start, end) in locks {
                let typ = if write { libc::F_WRLCK } else { libc::F_RDLCK };
                let again = LockReq { flock: false, typ, start, end };
                if let Err(e) = try_once(holder.fd.as_fd(), &again) {
                    tracing::warn!(ino, start, end, error = %e, "a lock was lost moving it to a new descriptor");
                }
            }
        } else {
            let mut holders = self.holders.lock();
            // Another thread of the owner may have made one meanwhile: keep it (it may hold
            // locks already).
            if let Some(h) = holders.get(&key).filter(|h| serves(h.access, req.needs())) {
                return Ok(Arc::clone(h));
            }
            holders.insert(key, Arc::clone(&holder));
        }
        Ok(holder)
    }

    /// Whether a conflict may be a release not yet handled (see the module docs).
    fn release_may_be_pending(&self) -> bool {
        self.releasing.load(Ordering::Acquire) > 0
            || self.last_release.lock().is_some_and(|at| at.elapsed() < RELEASE_GRACE)
    }

    /// Drops the locks of process `owner` on node `ino` (a descriptor of it was closed).
    pub(super) fn flush(&self, ino: INodeNo, owner: LockOwner) {
        let gone = self.holders.lock().remove(&(ino.0, owner.0));
        gone.into_iter().for_each(give_up);
    }

    /// Drops the locks of open file `fh` (its last descriptor was closed).
    pub(super) fn release(&self, ino: INodeNo, fh: FileHandle, owner: Option<LockOwner>) {
        self.releasing.fetch_add(1, Ordering::AcqRel);
        let gone: Vec<Arc<Holder>> = {
            let mut holders = self.holders.lock();
            let mut keys: Vec<_> = holders.iter().filter(|(_, h)| h.via == fh.0).map(|(k, _)| *k).collect();
            keys.extend(owner.map(|o| (ino.0, o.0)));
            keys.into_iter().filter_map(|k| holders.remove(&k)).collect()
        };
        gone.into_iter().for_each(give_up);
        *self.last_release.lock() = Some(Instant::now());
        self.releasing.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Releases every lock a holder has taken, now: closing its descriptor would too, but only once
/// the last reference to it goes, and a waiting-lock thread may still hold one for a moment
/// after it answered.
fn give_up(holder: Arc<Holder>) {
    let everything = LockReq { flock: false, typ: libc::F_UNLCK, start: 0, end: OFFSET_MAX };
    let _ = try_once(holder.fd.as_fd(), &everything);
    let _ = rustix::fs::flock(holder.fd.as_fd(), rustix::fs::FlockOperation::NonBlockingUnlock);
}

/// `F_SETLK`, `F_SETLKW` and `flock` through the view.
#[allow(clippy::too_many_arguments)]
pub(super) fn setlk(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    fh: FileHandle,
    owner: LockOwner,
    (start, end): (u64, u64),
    typ: i32,
    pid: u32,
    sleep: bool,
    reply: ReplyEmpty,
) {
    let tid = req.pid();
    let lock = LockReq { flock: in_flock(tid), typ, start, end };
    let locks = &shared.locks;
    if typ == libc::F_UNLCK {
        let holder = locks.holders.lock().get(&(ino.0, owner.0)).cloned();
        let done = holder.map_or(Ok(()), |h| try_once(h.fd.as_fd(), &lock));
        return match done {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        };
    }
    let holder = match locks.holder(shared, ino.0, owner.0, fh.0, pid, &lock) {
        Ok(h) => h,
        Err(e) => return reply.error(errno(&e)),
    };
    match try_once(holder.fd.as_fd(), &lock) {
        Err(e) if is_conflict(&e) && sleep => {
            let spawned = std::thread::Builder::new()
                .name("bindfs-lock-wait".into())
                .spawn(move || wait(holder, &lock, tid, reply));
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a thread to wait for a lock");
            }
        }
        Err(e) if is_conflict(&e) => {
            // A release on another worker may be about to free it.
            let deadline = Instant::now() + RELEASE_GRACE;
            while locks.release_may_be_pending() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
                if try_once(holder.fd.as_fd(), &lock).is_ok() {
                    return reply.ok();
                }
            }
            reply.error(fuser::Errno::from_i32(libc::EAGAIN))
        }
        Err(e) => reply.error(errno(&e)),
        Ok(()) => reply.ok(),
    }
}

/// Waits for a lock on its own thread until it is free or the waiting thread gets a signal.
fn wait(holder: Arc<Holder>, lock: &LockReq, tid: u32, reply: ReplyEmpty) {
    let mut pause = Duration::from_micros(500);
    loop {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
        match try_once(holder.fd.as_fd(), lock) {
            Ok(()) => {
                // Let go of the holder before answering, so a close right after the answer
                // finds nobody else keeping its descriptor.
                drop(holder);
                return reply.ok();
            }
            Err(e) if is_conflict(&e) => {}
            Err(e) => return reply.error(errno(&e)),
        }
        if interrupted(tid) {
            return reply.error(fuser::Errno::from_i32(libc::EINTR));
        }
    }
}

/// `F_GETLK` through the view: the first lock on B that would conflict, with its owner's
/// process when the view holds it.
#[allow(clippy::too_many_arguments)]
pub(super) fn getlk(
    shared: &Shared,
    ino: INodeNo,
    fh: FileHandle,
    owner: LockOwner,
    (start, end): (u64, u64),
    typ: i32,
    reply: ReplyLock,
) {
    let lock = LockReq { flock: false, typ, start, end };
    let own = shared.locks.holders.lock().get(&(ino.0, owner.0)).cloned();
    let probe = match own {
        Some(h) => Probe::Holder(h),
        None => {
            let opened = shared.open_file(fh.0).and_then(|open| {
                shared.view.backing().reopen_file(open.file()?, access_of(open.file()?.as_fd())?)
            });
            match opened {
                Ok(fd) => Probe::Temporary(fd),
                Err(e) => return reply.error(errno(&e)),
            }
        }
    };
    let mut fl = lock.flock_struct();
    if let Err(e) = crate::sys::ofd_get_lock(probe.fd(), &mut fl) {
        return reply.error(fuser::Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO)));
    }
    let typ = i32::from(fl.l_type);
    if typ == libc::F_UNLCK {
        return reply.locked(0, 0, libc::F_UNLCK, 0);
    }
    let from = u64::try_from(fl.l_start).unwrap_or(0);
    let to = if fl.l_len == 0 { OFFSET_MAX } else { from + u64::try_from(fl.l_len).unwrap_or(1) - 1 };
    // An open-file-description lock (pid -1) may be one the view holds for another owner: name
    // that owner's process, as a lock taken on B directly would.
    let pid = u32::try_from(fl.l_pid).unwrap_or_else(|_| {
        let holders: Vec<Arc<Holder>> = shared
            .locks
            .holders
            .lock()
            .iter()
            .filter(|((node, o), _)| *node == ino.0 && *o != owner.0)
            .map(|(_, h)| Arc::clone(h))
            .collect();
        holders
            .iter()
            .find(|h| {
                held(h.fd.as_fd())
                    .iter()
                    .any(|&(write, s, e)| s <= to && from <= e && (write || lock.typ == libc::F_WRLCK))
            })
            .map_or(0, |h| h.pid)
    });
    reply.locked(from, to, typ, pid)
}

/// The descriptor `F_GETLK` asks through.
#[derive(Debug)]
enum Probe {
    Holder(Arc<Holder>),
    Temporary(OwnedFd),
}

impl Probe {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Probe::Holder(h) => h.fd.as_fd(),
            Probe::Temporary(fd) => fd.as_fd(),
        }
    }
}
