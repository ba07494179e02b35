//! Running a request as its caller: per-thread credentials behind a guard (rule 22).
//!
//! A daemon running as root switches the *thread's* effective uid and gid and its supplementary
//! groups to the caller's for opens, directory listings, attribute listings and requests that
//! create or change things, so new files belong to the caller and the backing's permissions
//! (ACLs included) apply as they would to the caller directly. The raw per-thread syscalls are
//! used (glibc's `setresuid` would change every thread of the process).
//! Order matters: groups and gid while still root, then uid; back in reverse. A guard restores
//! the daemon's identity when dropped, so no early return can leave a worker thread with a
//! user's identity.
//!
//! Who gets what ([`Switch::for_caller`]):
//! - a daemon not running as root switches nothing: it cannot, and the kernel has checked the
//!   caller against the view's attributes (`default_permissions`);
//! - a root caller keeps root's uid (and so its capabilities: what root may do on B it may do
//!   on V) but takes its own gid, so files it creates get the group they get on B directly
//!   (`sg`, `newgrp`, a setgid program); its supplementary groups cannot change what root may
//!   do, so they are not read;
//! - any other caller takes its uid, its gid and the supplementary groups read from
//!   `/proc/<pid>/status` for this request;
//! - refused (`EACCES`) when those groups cannot be read: the caller's pid is 0 (a process the
//!   kernel cannot name in the daemon's pid namespace: the view is mounted inside a container
//!   and used from outside it), its process is gone (killed meanwhile, its pid maybe another
//!   process's by now), or `/proc` fails. Served without its groups a caller could be granted
//!   what one of them denies (a group entry of an ACL on B), so it is not served;
//! - refused when the uid or gid is the kernel's "no id" (`-1`): to the set-id calls `-1`
//!   means "leave unchanged", which would leave the thread root.

use rustix::process::{Gid, Uid};
use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};

use bindfs_core::{Error, Result};

/// The id the kernel sends for "no id", which the set-id calls take as "unchanged".
const NO_ID: u32 = u32::MAX;

/// What a request's thread takes on, decided from the caller's ids alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    /// Nothing: the daemon is not root, or the caller is root with root's gid.
    Nothing,
    /// The caller is root with another gid: that gid only.
    Gid(u32),
    /// Another user: its uid, its gid and the supplementary groups of process `pid`.
    User { uid: u32, gid: u32, pid: u32 },
    /// Refused: the caller cannot be taken on faithfully.
    Refused,
}

impl Switch {
    /// What a daemon (root or not) switches to for the caller `uid`/`gid` of process `pid`.
    fn for_caller(daemon_root: bool, uid: u32, gid: u32, pid: u32) -> Switch {
        match (daemon_root, uid, gid) {
            (false, ..) => Switch::Nothing,
            (true, NO_ID, _) | (true, _, NO_ID) => Switch::Refused,
            (true, 0, 0) => Switch::Nothing,
            (true, 0, gid) => Switch::Gid(gid),
            (true, _, _) if pid == 0 => Switch::Refused,
            (true, uid, gid) => Switch::User { uid, gid, pid },
        }
    }
}

/// Restores the daemon's credentials when dropped.
#[derive(Debug)]
#[must_use = "the caller's credentials last as long as the guard"]
pub struct Credentials {
    /// What the thread took on, and so what it gives back.
    taken: Switch,
}

impl Credentials {
    /// Takes on the credentials of the caller `uid`/`gid` of process `pid` on this thread, as the
    /// module says ([`PermissionDenied`](Error::PermissionDenied) when refused); the guard gives
    /// the daemon's back.
    pub fn become_caller(uid: u32, gid: u32, pid: u32) -> Result<Credentials> {
        let switch = Switch::for_caller(daemon_is_root(), uid, gid, pid);
        let fail = |e: rustix::io::Errno| {
            tracing::error!(errno = e.raw_os_error(), uid, gid, "cannot switch to the caller's credentials");
            Error::PermissionDenied
        };
        match switch {
            Switch::Nothing => {}
            Switch::Refused => {
                tracing::debug!(uid, gid, pid, "refused: the caller's credentials cannot be taken on");
                return Err(Error::PermissionDenied);
            }
            Switch::Gid(gid) => {
                // Taken while this thread still has the daemon's identity: what it gets back.
                own_gid();
                set_thread_res_gid(None, Gid::from_raw(gid), None).map_err(fail)?;
            }
            Switch::User { uid, gid, pid } => {
                // Taken while this thread still has the daemon's identity: what it gets back.
                own_gid();
                own_groups();
                let groups = supplementary_groups(pid)?;
                set_thread_groups(&groups).map_err(fail)?;
                // From here on the guard gives everything back, whatever fails next.
                let guard = Credentials { taken: switch };
                set_thread_res_gid(None, Gid::from_raw(gid), None).map_err(fail)?;
                set_thread_res_uid(None, Uid::from_raw(uid), None).map_err(fail)?;
                return Ok(guard);
            }
        }
        Ok(Credentials { taken: switch })
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        // Real and saved ids stayed the daemon's, so these cannot fail; if they did, the thread
        // must not go on serving requests with someone else's identity.
        let back = match self.taken {
            Switch::Nothing | Switch::Refused => return,
            Switch::Gid(_) => set_thread_res_gid(None, own_gid(), None),
            Switch::User { .. } => set_thread_res_uid(None, Uid::ROOT, None)
                .and_then(|()| set_thread_res_gid(None, own_gid(), None))
                .and_then(|()| set_thread_groups(own_groups())),
        };
        if let Err(e) = back {
            tracing::error!(errno = e.raw_os_error(), "cannot restore the daemon's credentials");
            std::process::abort();
        }
    }
}

/// Whether the daemon runs as root (asked once: a thread's identity is restored after every
/// request, so the answer never changes).
fn daemon_is_root() -> bool {
    static ROOT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ROOT.get_or_init(|| rustix::process::geteuid().is_root())
}

/// The daemon's own effective gid, which a switched thread takes back. Read once, like
/// [`own_groups`], by a thread that has not switched.
fn own_gid() -> Gid {
    static OWN: std::sync::OnceLock<Gid> = std::sync::OnceLock::new();
    *OWN.get_or_init(rustix::process::getegid)
}

/// The daemon's own supplementary groups, which a switched thread takes back. Read once, by a
/// thread that has not switched ([`Credentials::become_caller`] asks before it switches):
/// every thread has them back after each request, so they never change.
fn own_groups() -> &'static [Gid] {
    static OWN: std::sync::OnceLock<Vec<Gid>> = std::sync::OnceLock::new();
    OWN.get_or_init(|| rustix::process::getgroups().unwrap_or_default())
}

/// How many callers' status files a worker keeps open.
const STATUS_FILES: usize = 32;

thread_local! {
    /// The `/proc/<pid>/status` files of this worker's recent callers. A caller's groups are
    /// read afresh for every request (a process may change them), but with one `pread` instead
    /// of an open, a read and a close. A file kept for a task that has exited fails with
    /// `ESRCH` and is opened again: a new task that reuses the number is another file.
    static STATUS: std::cell::RefCell<lru::LruCache<u32, std::fs::File>> = std::cell::RefCell::new(
        lru::LruCache::new(std::num::NonZeroUsize::new(STATUS_FILES).unwrap_or(std::num::NonZeroUsize::MIN)),
    );
}

/// The supplementary groups of process `pid` (the `Groups:` line of `/proc/<pid>/status`).
/// `PermissionDenied` when its process is gone (the caller was killed meanwhile, and its pid may
/// be another process's by now); any other failure to read them is an error too.
fn supplementary_groups(pid: u32) -> Result<Vec<Gid>> {
    STATUS.with_borrow_mut(|open| {
        if let Some(Ok(groups)) = open.get(&pid).map(read_groups) {
            return Ok(groups);
        }
        open.pop(&pid);
        let read = std::fs::File::open(format!("/proc/{pid}/status"))
            .and_then(|status| read_groups(&status).map(|groups| (status, groups)));
        match read {
            Ok((status, groups)) => {
                open.put(pid, status);
                Ok(groups)
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => {
                tracing::debug!(pid, "refused: the caller's process is gone");
                Err(Error::PermissionDenied)
            }
            Err(e) => {
                tracing::error!(pid, error = %e, "cannot read the caller's groups");
                Err(Error::Os(e.raw_os_error().unwrap_or(libc::EIO)))
            }
        }
    })
}

/// The groups of an open status file, read from its start (`ESRCH` once its task has exited).
/// The line comes before the long memory and signal lines, so one read of a page holds it;
/// reading stops as soon as the line is whole.
fn read_groups(status: &std::fs::File) -> std::io::Result<Vec<Gid>> {
    use std::os::unix::fs::FileExt;
    let mut text = vec![0; 4096];
    let mut len = 0;
    while groups_line(&text[..len]).is_none() {
        if len == text.len() {
            text.resize(2 * len, 0);
        }
        match status.read_at(&mut text[len..], len as u64) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let ids = groups_line(&text[..len]).unwrap_or_default();
    Ok(ids.split_whitespace().filter_map(|g| g.parse().ok()).map(Gid::from_raw).collect())
}

/// The ids of the `Groups:` line of a status text, once the text holds the whole line.
fn groups_line(text: &[u8]) -> Option<&str> {
    const KEY: &[u8] = b"\nGroups:";
    let at = text.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let end = text[at..].iter().position(|&b| b == b'\n')? + at;
    std::str::from_utf8(&text[at..end]).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn who_gets_what() {
        use Switch::*;
        let pid = 77;
        let cases = [
            // (daemon root, uid, gid, pid) -> what the thread takes on
            ((false, 1000, 1000, pid), Nothing),
            ((false, 1000, 1000, 0), Nothing),
            ((true, 0, 0, pid), Nothing),
            ((true, 0, 0, 0), Nothing),
            ((true, 0, 1000, pid), Gid(1000)),
            ((true, 0, 1000, 0), Gid(1000)),
            ((true, 1000, 100, pid), User { uid: 1000, gid: 100, pid }),
            ((true, 1000, 0, pid), User { uid: 1000, gid: 0, pid }),
            ((true, 1000, 100, 0), Refused),
            ((true, NO_ID, 100, pid), Refused),
            ((true, 1000, NO_ID, pid), Refused),
            ((true, 0, NO_ID, pid), Refused),
        ];
        for ((root, uid, gid, pid), want) in cases {
            assert_eq!(Switch::for_caller(root, uid, gid, pid), want, "root {root}, {uid}:{gid}, pid {pid}");
        }
    }

    /// The thread's effective uid and gid.
    fn ids() -> (u32, u32) {
        (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw())
    }

    /// Runs `f` on a thread of its own, as a worker serves one request.
    fn on_a_worker<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        std::thread::spawn(f).join().unwrap()
    }

    #[test]
    fn a_thread_takes_the_callers_identity_and_gives_it_back() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can switch; the mount tests cover the non-root daemon
        }
        let own = ids();
        let done = on_a_worker(|| {
            let guard = Credentials::become_caller(4242, 4343, std::process::id()).unwrap();
            let inside = ids();
            drop(guard);
            (inside, ids())
        });
        assert_eq!(done, ((4242, 4343), own));
        assert_eq!(ids(), own);
    }

    #[test]
    fn a_root_caller_keeps_root_and_takes_its_gid_for_what_it_creates() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can switch
        }
        let own = ids();
        let dir = tempfile::tempdir().unwrap();
        let made = dir.path().join("made");
        let (inside, after) = on_a_worker({
            let made = made.clone();
            move || {
                // pid 0 too: a root caller's groups are never read.
                let guard = Credentials::become_caller(0, 4343, 0).unwrap();
                let inside = ids();
                std::fs::write(&made, "x").unwrap();
                drop(guard);
                (inside, ids())
            }
        });
        assert_eq!(inside, (0, 4343), "root keeps its uid, takes its gid");
        assert_eq!(after, own);
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(&made).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (0, 4343), "a file root makes gets root's gid of the moment");
    }

    #[test]
    fn a_caller_whose_groups_cannot_be_read_is_refused_and_the_thread_stays_as_it_was() {
        if !rustix::process::geteuid().is_root() {
            return; // a daemon that is not root switches nothing and refuses no one
        }
        let own = ids();
        let mut gone = std::process::Command::new("true").spawn().unwrap();
        let gone_pid = gone.id();
        gone.wait().unwrap();
        let refused = on_a_worker(move || {
            let tries = [
                (4242, 4343, 0),        // outside the daemon's pid namespace
                (4242, 4343, gone_pid), // a process that is gone
                (NO_ID, 4343, std::process::id()),
                (4242, NO_ID, std::process::id()),
            ];
            tries.map(|(uid, gid, pid)| (Credentials::become_caller(uid, gid, pid).err(), ids()))
        });
        for (error, ids_after) in refused {
            assert_eq!(error, Some(Error::PermissionDenied));
            assert_eq!(ids_after, own, "a refused caller leaves the thread as it was");
        }
    }

    fn sorted(groups: &[Gid]) -> Vec<u32> {
        let mut raw: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        raw.sort_unstable();
        raw
    }

    /// A thread that takes the supplementary groups it is sent and answers with its task id
    /// (its `/proc/<tid>/status` says its groups); it ends when the sender is dropped.
    fn caller_thread()
    -> (std::sync::mpsc::Sender<Vec<u32>>, std::sync::mpsc::Receiver<u32>, std::thread::JoinHandle<()>) {
        let (to_caller, told) = std::sync::mpsc::channel::<Vec<u32>>();
        let (to_test, done) = std::sync::mpsc::channel();
        let caller = std::thread::spawn(move || {
            for groups in told {
                let groups: Vec<Gid> = groups.into_iter().map(Gid::from_raw).collect();
                set_thread_groups(&groups).unwrap();
                let tid = rustix::thread::gettid().as_raw_nonzero().get();
                to_test.send(u32::try_from(tid).unwrap()).unwrap();
            }
        });
        (to_caller, done, caller)
    }

    #[test]
    fn a_thread_gets_the_daemons_own_groups_back_not_the_callers() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can switch
        }
        let (to_caller, told, caller) = caller_thread();
        to_caller.send(vec![777, 778]).unwrap();
        let pid = told.recv().unwrap();
        let (inside, after) = on_a_worker(move || {
            let guard = Credentials::become_caller(4242, 4343, pid).unwrap();
            let inside = sorted(&rustix::process::getgroups().unwrap());
            drop(guard);
            (inside, sorted(&rustix::process::getgroups().unwrap()))
        });
        drop(to_caller);
        caller.join().unwrap();
        assert_eq!(inside, [777, 778]);
        assert_eq!(
            after,
            sorted(&rustix::process::getgroups().unwrap()),
            "the thread kept the caller's groups"
        );
    }

    #[test]
    fn the_groups_read_from_proc_are_the_process_own() {
        let own = sorted(&rustix::process::getgroups().unwrap());
        assert_eq!(sorted(&supplementary_groups(std::process::id()).unwrap()), own);
        assert_eq!(supplementary_groups(u32::MAX), Err(Error::PermissionDenied), "no such process");
    }

    #[test]
    fn groups_a_caller_changes_are_read_afresh_from_its_kept_status_file() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can change a thread's groups
        }
        let (to_caller, done, caller) = caller_thread();
        to_caller.send(vec![777]).unwrap();
        let tid = done.recv().unwrap();
        assert_eq!(sorted(&supplementary_groups(tid).unwrap()), [777]);
        assert!(STATUS.with_borrow(|open| open.contains(&tid)));
        to_caller.send(vec![888, 889]).unwrap();
        done.recv().unwrap();
        assert_eq!(sorted(&supplementary_groups(tid).unwrap()), [888, 889], "the kept file was read afresh");
        drop(to_caller);
        caller.join().unwrap();
    }

    #[test]
    fn a_kept_status_file_of_an_exited_task_is_opened_again() {
        let mut child = std::process::Command::new("sleep").arg("60").spawn().unwrap();
        let pid = child.id();
        supplementary_groups(pid).unwrap();
        assert!(STATUS.with_borrow(|open| open.contains(&pid)), "the caller's status file is kept");
        child.kill().unwrap();
        child.wait().unwrap();
        let kept = STATUS.with_borrow(|open| open.peek(&pid).map(|f| read_groups(f).is_err()));
        assert_eq!(kept, Some(true), "the kept file of an exited task no longer reads");
        assert_eq!(supplementary_groups(pid), Err(Error::PermissionDenied), "the caller is gone");
        assert!(!STATUS.with_borrow(|open| open.contains(&pid)), "nothing kept for a task that is gone");
    }

    #[test]
    fn the_groups_line_counts_only_once_it_is_whole() {
        let text = b"Name:\tx\nGid:\t5\t5\t5\t5\nGroups:\t4 24 100\nNStgid:\t9\n";
        assert_eq!(groups_line(text), Some("\t4 24 100"));
        let cut = text.iter().position(|&b| b == b'0').unwrap();
        assert_eq!(groups_line(&text[..cut]), None, "a line cut short is read on");
        assert_eq!(groups_line(b"Name:\tx\nGid:\t5\n"), None);
        // A process without supplementary groups has the line, empty.
        assert_eq!(groups_line(b"Name:\tx\nGroups:\t\n"), Some("\t"));
    }
}
