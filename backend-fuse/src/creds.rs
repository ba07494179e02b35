//! Running a request as its caller: per-thread credentials behind a guard (rule 22).
//!
//! A daemon running as root switches the *thread's* effective uid and gid and its supplementary
//! groups to the caller's for opens, directory listings, attribute listings and requests that
//! create or change things, so new files belong to the caller and the backing's permissions
//! (ACLs included) apply as they would to the caller directly. The raw per-thread syscalls are
//! used (glibc's `setresuid` would change every thread of the process).
//! Order matters: groups and gid while still root, then uid; back in reverse. A guard restores
//! root when dropped, so no early return can leave a worker thread with a user's identity.

use rustix::process::{Gid, Uid};
use rustix::thread::{set_thread_groups, set_thread_res_gid, set_thread_res_uid};

use bindfs_core::{Error, Result};

/// Restores the daemon's credentials when dropped.
#[derive(Debug)]
#[must_use = "the caller's credentials last as long as the guard"]
pub struct Credentials {
    /// The daemon's own supplementary groups, when the thread switched.
    restore: Option<&'static [Gid]>,
}

impl Credentials {
    /// Takes on the credentials of the caller `uid`/`gid` (with the groups of process `pid`) on
    /// this thread, when the daemon runs as root and the caller is someone else; otherwise a
    /// no-op guard. Refused when the caller's groups cannot be read: running without them could
    /// grant what one of them denies.
    pub fn become_caller(uid: u32, gid: u32, pid: u32) -> Result<Credentials> {
        if !daemon_is_root() || uid == 0 {
            return Ok(Credentials { restore: None });
        }
        // Taken while this thread still has the daemon's identity: what it gets back.
        let own = own_groups();
        let groups = supplementary_groups(pid)?;
        let fail = |e: rustix::io::Errno| {
            tracing::error!(errno = e.raw_os_error(), uid, gid, "cannot switch to the caller's credentials");
            Error::PermissionDenied
        };
        set_thread_groups(&groups).map_err(fail)?;
        let guard = Credentials { restore: Some(own) };
        set_thread_res_gid(None, Gid::from_raw(gid), None).map_err(fail)?;
        set_thread_res_uid(None, Uid::from_raw(uid), None).map_err(fail)?;
        Ok(guard)
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        let Some(own) = self.restore.take() else { return };
        // Real and saved ids stayed root, so these cannot fail; if they did, the thread must not
        // go on serving requests with someone else's identity.
        let back = set_thread_res_uid(None, Uid::ROOT, None)
            .and_then(|()| set_thread_res_gid(None, Gid::ROOT, None))
            .and_then(|()| set_thread_groups(own));
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
/// None for a task that has exited, and none for pid 0: a caller the kernel cannot name in the
/// daemon's pid namespace (a container's process on a view mounted outside it). Any other
/// failure to read them is an error.
fn supplementary_groups(pid: u32) -> Result<Vec<Gid>> {
    if pid == 0 {
        return Ok(Vec::new());
    }
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
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ESRCH)) => Ok(Vec::new()),
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
    fn a_thread_takes_the_callers_identity_and_gives_it_back() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can switch; the mount tests cover the non-root daemon
        }
        let done = std::thread::spawn(|| {
            let guard = Credentials::become_caller(4242, 4343, std::process::id()).unwrap();
            let inside = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
            drop(guard);
            let after = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
            (inside, after)
        })
        .join()
        .unwrap();
        assert_eq!(done, ((4242, 4343), (0, 0)));
        assert_eq!(rustix::process::geteuid().as_raw(), 0);
    }

    fn sorted(groups: &[Gid]) -> Vec<u32> {
        let mut raw: Vec<u32> = groups.iter().map(|g| g.as_raw()).collect();
        raw.sort_unstable();
        raw
    }

    /// A child process (`sleep 60`) with the supplementary groups `groups`.
    fn child_in(groups: &[u32]) -> std::process::Child {
        use std::os::unix::process::CommandExt;
        let groups: Vec<libc::gid_t> = groups.to_vec();
        let mut command = std::process::Command::new("sleep");
        command.arg("60");
        // SAFETY: between fork and exec the closure makes one system call, on memory allocated
        // before the fork.
        unsafe {
            command.pre_exec(move || {
                if libc::setgroups(groups.len(), groups.as_ptr()) == 0 {
                    Ok(())
                } else {
                    Err(std::io::Error::last_os_error())
                }
            });
        }
        command.spawn().unwrap()
    }

    #[test]
    fn a_thread_gets_the_daemons_own_groups_back_not_the_callers() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can switch
        }
        let mut caller = child_in(&[777, 778]);
        let pid = caller.id();
        let (inside, after) = std::thread::spawn(move || {
            let guard = Credentials::become_caller(4242, 4343, pid).unwrap();
            let inside = sorted(&rustix::process::getgroups().unwrap());
            drop(guard);
            (inside, sorted(&rustix::process::getgroups().unwrap()))
        })
        .join()
        .unwrap();
        caller.kill().unwrap();
        caller.wait().unwrap();
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
        assert_eq!(supplementary_groups(u32::MAX).unwrap(), [], "no such process: no groups");
        assert_eq!(supplementary_groups(0).unwrap(), [], "a caller outside the pid namespace: no groups");
    }

    #[test]
    fn groups_a_caller_changes_are_read_afresh_from_its_kept_status_file() {
        if !rustix::process::geteuid().is_root() {
            return; // only root can change a thread's groups
        }
        let (to_caller, told) = std::sync::mpsc::channel::<Vec<u32>>();
        let (to_test, done) = std::sync::mpsc::channel();
        let caller = std::thread::spawn(move || {
            for groups in told {
                let groups: Vec<Gid> = groups.into_iter().map(Gid::from_raw).collect();
                set_thread_groups(&groups).unwrap();
                to_test.send(rustix::thread::gettid().as_raw_nonzero().get()).unwrap();
            }
        });
        to_caller.send(vec![777]).unwrap();
        let tid = u32::try_from(done.recv().unwrap()).unwrap();
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
        assert_eq!(supplementary_groups(pid).unwrap(), []);
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
