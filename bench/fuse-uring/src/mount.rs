//! Mounting the benchmark's own FUSE file system, and undoing it on every way out.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{MountFlags, UnmountFlags};

/// A FUSE mount of the connection behind an open /dev/fuse; unmounted (lazily if busy) on drop.
#[derive(Debug)]
pub struct Mount {
    path: PathBuf,
    mounted: bool,
}

impl Mount {
    /// Mounts the connection of `dev` on `path` (an existing empty directory), root-owned.
    pub fn new(path: &Path, dev: &OwnedFd) -> io::Result<Self> {
        let data = CString::new(format!("fd={},rootmode=40000,user_id=0,group_id=0", dev.as_raw_fd()))
            .map_err(io::Error::other)?;
        rustix::mount::mount(
            "fuse-uring-bench",
            path,
            "fuse",
            MountFlags::NOSUID | MountFlags::NODEV,
            data.as_c_str(),
        )?;
        Ok(Self { path: path.to_owned(), mounted: true })
    }

    /// Unmounts; a busy mount is detached instead, so this never blocks on a stuck user.
    pub fn unmount(&mut self) -> io::Result<()> {
        if !self.mounted {
            return Ok(());
        }
        self.mounted = false;
        match rustix::mount::unmount(&self.path, UnmountFlags::empty()) {
            Ok(()) => Ok(()),
            Err(Errno::BUSY) => Ok(rustix::mount::unmount(&self.path, UnmountFlags::DETACH)?),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        if self.mounted {
            self.mounted = false;
            // Best effort on an error path: detach, whatever still uses it.
            let _ = rustix::mount::unmount(&self.path, UnmountFlags::DETACH);
        }
    }
}
