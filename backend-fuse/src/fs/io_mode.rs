//! Who does the I/O of a node's open files: the kernel on the backing file (passthrough), or the
//! daemon, with the kernel caching the pages.
//!
//! Passthrough runs reads and writes at native speed, but each open of a node not open yet
//! costs a backing-id registration and, at the last release, its removal (two `ioctl`s), and
//! the kernel opens a backing file of its own. A small file read once does not pay that back:
//! one `FUSE_READ` answered from the daemon is cheaper. So read-only opens of regular files
//! under [`CACHED_BELOW`] bytes are served by the daemon (measured in the README, Performance).
//!
//! The kernel requires every open of an inode to agree: while one open passes through, another
//! that does not is refused (`EIO` to the caller), and the reverse. So the first open of a node
//! picks its mode and the others join it until the last one is released.
//!
//! Passthrough needs more than the kernel's agreement at `init`: registering a backing file
//! (`FUSE_DEV_IOC_BACKING_OPEN`) is refused with `EPERM` unless the registering task is
//! `capable(CAP_SYS_ADMIN)`, i.e. holds that capability in the initial user namespace
//! (`fuse_backing_open`, fs/fuse/passthrough.c, "relax CAP_SYS_ADMIN once backing files are
//! visible to lsof"). A daemon run by a user has no such capability: the kernel would agree,
//! then refuse every open. So [`passthrough_refused`] is asked once at `init`, before
//! passthrough is asked of the kernel; where it cannot tell (an LSM, say), the first `EPERM`
//! turns passthrough off for the rest of the session (`file::io_mode`). Either way the view's
//! `status` and log say what the daemon really does, and no open pays a doomed `ioctl`.
//!
//! Pages the kernel cached for a node stay valid across opens as long as the backing file is
//! the same object with the same size and times: an open whose [`Stamp`] matches the one the
//! pages were read under keeps them (`FOPEN_KEEP_CACHE`, so a warm read costs no request); any
//! change, through the view or not, makes the kernel drop them at that open. That is the
//! close-to-open consistency a passthrough open gives.

use std::collections::HashMap;
use std::sync::Arc;

use bindfs_core::{Attr, FileKind, Timestamp};

/// Read-only opens of regular files smaller than this are served by the daemon.
pub const CACHED_BELOW: u64 = 64 * 1024;

/// Why this process cannot register backing files, if it knows it cannot: it lacks
/// `CAP_SYS_ADMIN` in its effective set, or it runs in a user namespace other than the initial
/// one (where the kernel checks that capability). Reads the calling thread's capabilities
/// (`capget`) and the inode of `/proc/self/ns/user`; what cannot be read counts as allowed
/// (the kernel then answers at the first open).
pub fn passthrough_refused() -> Option<&'static str> {
    use rustix::thread::{CapabilitySet, capabilities};
    use std::os::unix::fs::MetadataExt;
    if capabilities(None).is_ok_and(|caps| !caps.effective.contains(CapabilitySet::SYS_ADMIN)) {
        return Some("the daemon lacks CAP_SYS_ADMIN (a user's view; mount as root for passthrough)");
    }
    // The initial user namespace's inode number is fixed (PROC_USER_INIT_INO, linux/proc_ns.h).
    const INITIAL_USER_NS: u64 = 0xEFFF_FFFD;
    if std::fs::metadata("/proc/self/ns/user").is_ok_and(|m| m.ino() != INITIAL_USER_NS) {
        return Some("the daemon runs in a user namespace, where CAP_SYS_ADMIN does not count");
    }
    None
}

/// What an open of a node was given.
#[derive(Debug)]
pub enum Mode {
    /// The kernel does the I/O on this registered backing file.
    Passthrough(Arc<fuser::BackingId>),
    /// The daemon does the I/O; `keep_cache` when the pages the kernel holds are still valid.
    Cached { keep_cache: bool },
}

/// The backing object and its state when its pages were read: what must not have changed for
/// the kernel's cached pages to be kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: Timestamp,
    ctime: Timestamp,
}

impl Stamp {
    fn of(attr: &Attr) -> Stamp {
        Stamp { dev: attr.dev, ino: attr.ino, size: attr.size, mtime: attr.mtime, ctime: attr.ctime }
    }
}

/// The mode of a node with open files.
#[derive(Debug)]
enum Open {
    Passthrough { id: Arc<fuser::BackingId>, users: usize },
    Cached { users: usize },
}

/// The I/O mode of every node with open files, and the stamps of the nodes whose pages the
/// kernel may hold.
#[derive(Debug, Default)]
pub struct IoModes {
    open: HashMap<u64, Open>,
    stamps: HashMap<u64, Stamp>,
}

impl IoModes {
    /// The mode for a new open of node `ino`, whose backing object has `attr` now. A node
    /// already open keeps its mode; otherwise a small file opened read-only is cached, and the
    /// rest pass through when `register` (given only with passthrough on) gives a backing id.
    pub fn open(
        &mut self,
        ino: u64,
        attr: &Attr,
        read_only: bool,
        register: Option<impl FnOnce() -> std::io::Result<fuser::BackingId>>,
    ) -> Mode {
        match self.open.get_mut(&ino) {
            Some(Open::Passthrough { id, users }) => {
                *users += 1;
                return Mode::Passthrough(Arc::clone(id));
            }
            Some(Open::Cached { users }) => *users += 1,
            None => {
                let small = attr.kind == FileKind::File && attr.size < CACHED_BELOW;
                if let Some(register) = register.filter(|_| !(read_only && small)) {
                    match register() {
                        Ok(id) => {
                            let id = Arc::new(id);
                            self.open.insert(ino, Open::Passthrough { id: Arc::clone(&id), users: 1 });
                            return Mode::Passthrough(id);
                        }
                        Err(e) => {
                            tracing::debug!(ino, error = %e, "passthrough refused; the daemon does this file's I/O");
                        }
                    }
                }
                self.open.insert(ino, Open::Cached { users: 1 });
            }
        }
        let stamp = Stamp::of(attr);
        let keep_cache = self.stamps.insert(ino, stamp) == Some(stamp);
        Mode::Cached { keep_cache }
    }

    /// An open file of node `ino` was released.
    pub fn release(&mut self, ino: u64) {
        let users = match self.open.get_mut(&ino) {
            Some(Open::Passthrough { users, .. } | Open::Cached { users }) => users,
            None => return,
        };
        *users -= 1;
        if *users == 0 {
            // A passthrough node's backing id goes with it (dropping the id unregisters it).
            self.open.remove(&ino);
        }
    }

    /// The kernel forgot node `ino`, and its pages with it.
    pub fn forgotten(&mut self, ino: u64) {
        self.stamps.remove(&ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(size: u64, mtime_secs: i64) -> Attr {
        let mut a = bindfs_core::report::unresolved(FileKind::File);
        a.size = size;
        a.mtime = Timestamp { secs: mtime_secs, nanos: 0 };
        a
    }

    fn no_passthrough() -> Option<fn() -> std::io::Result<fuser::BackingId>> {
        None
    }

    #[test]
    fn an_unchanged_file_keeps_its_pages_from_the_second_open_on() {
        let mut modes = IoModes::default();
        let a = attr(10, 1);
        assert!(matches!(modes.open(2, &a, true, no_passthrough()), Mode::Cached { keep_cache: false }));
        modes.release(2);
        assert!(matches!(modes.open(2, &a, true, no_passthrough()), Mode::Cached { keep_cache: true }));
    }

    #[test]
    fn a_changed_file_drops_its_pages_at_the_next_open() {
        let mut modes = IoModes::default();
        modes.open(2, &attr(10, 1), true, no_passthrough());
        modes.release(2);
        assert!(matches!(
            modes.open(2, &attr(10, 2), true, no_passthrough()),
            Mode::Cached { keep_cache: false }
        ));
        modes.release(2);
        assert!(matches!(
            modes.open(2, &attr(11, 2), true, no_passthrough()),
            Mode::Cached { keep_cache: false }
        ));
    }

    #[test]
    fn a_forgotten_node_starts_without_pages() {
        let mut modes = IoModes::default();
        let a = attr(10, 1);
        modes.open(2, &a, true, no_passthrough());
        modes.release(2);
        modes.forgotten(2);
        assert!(matches!(modes.open(2, &a, true, no_passthrough()), Mode::Cached { keep_cache: false }));
    }

    #[test]
    fn a_writer_joins_the_cached_mode_of_a_node_open_for_reading() {
        let mut modes = IoModes::default();
        let a = attr(10, 1);
        modes.open(2, &a, true, no_passthrough());
        // Registration would be wrong here: the kernel refuses a passthrough open beside a
        // cached one.
        let registered = std::cell::Cell::new(false);
        let register = || -> std::io::Result<fuser::BackingId> {
            registered.set(true);
            Err(std::io::Error::other("no backing id in a unit test"))
        };
        assert!(matches!(modes.open(2, &a, false, Some(register)), Mode::Cached { keep_cache: true }));
        assert!(!registered.get());
    }
}
