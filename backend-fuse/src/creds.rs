//! Running a request as its caller: per-thread credentials behind a guard (rule 22).
//!
//! A daemon running as root switches the *thread's* effective uid and gid and its supplementary
//! groups to the caller's for requests that create or change things, so new files belong to the
//! caller and the backing's permissions apply as they would to the caller directly. The raw
//! per-thread syscalls are used (glibc's `setresuid` would change every thread of the process).
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
    restore: Option<Vec<Gid>>,
}

impl Credentials {
    /// Takes on the credentials of the caller `uid`/`gid` (with the groups of process `pid`) on
    /// this thread, when the daemon runs as root and the caller is someone else; otherwise a
    /// no-op guard.
    pub fn become_caller(uid: u32, gid: u32, pid: u32) -> Result<Credentials> {
        if !daemon_is_root() || uid == 0 {
            return Ok(Credentials { restore: None });
        }
        let groups = supplementary_groups(pid);
        let own = rustix::process::getgroups().unwrap_or_default();
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
            .and_then(|()| set_thread_groups(&own));
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

/// The supplementary groups of process `pid` (from `/proc/<pid>/status`); none if it is gone.
fn supplementary_groups(pid: u32) -> Vec<Gid> {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else { return Vec::new() };
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|ids| ids.split_whitespace().filter_map(|g| g.parse().ok()).map(Gid::from_raw).collect())
        .unwrap_or_default()
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
}
