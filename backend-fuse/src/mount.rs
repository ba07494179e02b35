//! Mounting a view over a directory.
//!
//! The directory's own content is the on-disk layer, so it is opened *before* the mount covers
//! it and reached through that descriptor ever after. The kernel checks permissions against the
//! backing attributes (`default_permissions`); a daemon running as root serves every user
//! (`allow_other`), one running as a user serves that user (mounted through `fusermount3`).
//! Several worker threads each read their own cloned `/dev/fuse` descriptor.

use std::path::{Path, PathBuf};

use bindfs_core::{CasePolicy, View};
use fuser::{Config, MountOption, Session, SessionACL};

use crate::LinuxBacking;
use crate::fs::{BindFs, Options, ViewHandle};

/// Where and how to mount.
#[derive(Clone, Debug)]
pub struct MountConfig {
    /// The directory the view covers (and whose content is the on-disk layer).
    pub mountpoint: PathBuf,
    /// Caching and passthrough.
    pub options: Options,
    /// Extra mount options (`-o`).
    pub extra: Vec<MountOption>,
    /// FUSE worker threads.
    pub threads: usize,
}

impl MountConfig {
    /// Defaults for `mountpoint`: 1 s cache, passthrough, one worker per core (at least 2).
    pub fn new(mountpoint: &Path) -> MountConfig {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        MountConfig {
            mountpoint: mountpoint.to_path_buf(),
            options: Options::default(),
            extra: Vec::new(),
            threads: cores.max(2),
        }
    }
}

/// Parses `-o` options as `mount` writes them (`ro,noexec,...`); unknown ones go to the kernel
/// as they are.
pub fn parse_mount_options(text: &str) -> Vec<MountOption> {
    text.split(',')
        .filter(|o| !o.is_empty())
        .map(|o| match o {
            "ro" => MountOption::RO,
            "rw" => MountOption::RW,
            "dev" => MountOption::Dev,
            "nodev" => MountOption::NoDev,
            "suid" => MountOption::Suid,
            "nosuid" => MountOption::NoSuid,
            "exec" => MountOption::Exec,
            "noexec" => MountOption::NoExec,
            "atime" => MountOption::Atime,
            "noatime" => MountOption::NoAtime,
            "sync" => MountOption::Sync,
            "async" => MountOption::Async,
            "dirsync" => MountOption::DirSync,
            other => MountOption::CUSTOM(other.to_string()),
        })
        .collect()
}

/// A view over `config.mountpoint`'s current content, not yet mounted, so links can be
/// created (and refused) before anything is visible.
pub fn open_view(config: &MountConfig) -> bindfs_core::Result<View<LinuxBacking>> {
    Ok(View::new(LinuxBacking::open(&config.mountpoint)?, CasePolicy::Sensitive))
}

/// Mounts `view` over `config.mountpoint`. The returned session serves requests once run
/// (`Session::run` blocks until unmounted); the handle changes links while it runs.
pub fn mount(
    view: View<LinuxBacking>,
    config: &MountConfig,
) -> std::io::Result<(Session<BindFs>, ViewHandle)> {
    // Modes arrive already masked by the kernel; the daemon's own umask must not mask again.
    rustix::process::umask(rustix::fs::Mode::empty());
    let root = rustix::process::geteuid().is_root();
    let mut mount_options = vec![
        MountOption::FSName("bindfs-rs".into()),
        MountOption::Subtype("bindfs-rs".into()),
        MountOption::DefaultPermissions,
    ];
    if root {
        // Devices and set-id bits behave as on the backing, as through a bind mount.
        mount_options.extend([MountOption::Dev, MountOption::Suid]);
    }
    mount_options.extend(config.extra.iter().cloned());
    let mut fuse_config = Config::default();
    fuse_config.mount_options = mount_options;
    fuse_config.acl = if root { SessionACL::All } else { SessionACL::Owner };
    fuse_config.n_threads = Some(config.threads.max(1));
    fuse_config.clone_fd = true;
    let (fs, handle) = BindFs::new(view, config.options);
    let session = Session::new(fs, &config.mountpoint, &fuse_config)?;
    handle.set_notifier(session.notifier());
    Ok((session, handle))
}
