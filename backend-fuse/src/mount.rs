//! Mounting a view over a directory.
//!
//! The directory's own content is the on-disk layer, so it is opened *before* the mount covers
//! it and reached through that descriptor ever after. The kernel checks permissions against the
//! backing attributes (`default_permissions`); a daemon running as root serves every user
//! (`allow_other`), one running as a user serves that user (mounted through `fusermount3`).
//! Several worker threads each read their own cloned `/dev/fuse` descriptor; while requests come
//! one after another only one of them reads, and it polls for the next one (see [`crate::fs::pace`]).

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
    let mut view = View::new(LinuxBacking::open(&config.mountpoint)?, CasePolicy::Sensitive);
    // Backing roots may be kept as long as the kernel keeps what it shows (0: never).
    view.set_root_cache(config.options.cache_ttl);
    // ... and so may the directories walked to below them (see View::keep_dirs); the daemon
    // lets go of both within twice that time once idle (fs::sweep_kept).
    view.keep_dirs(true);
    Ok(view)
}

/// Mounts `view` over `config.mountpoint`. The returned session serves requests once run
/// (`Session::run` blocks until unmounted); the handle changes links while it runs.
pub fn mount(
    view: View<LinuxBacking>,
    config: &MountConfig,
) -> std::io::Result<(Session<BindFs>, ViewHandle)> {
    // Modes arrive already masked by the kernel; the daemon's own umask must not mask again.
    rustix::process::umask(rustix::fs::Mode::empty());
    raise_open_file_limit();
    let root = rustix::process::geteuid().is_root();
    let mut mount_options = vec![
        MountOption::FSName("bindfs-rs".into()),
        MountOption::Subtype("bindfs-rs".into()),
        MountOption::DefaultPermissions,
    ];
    // No device files and no set-id executables through the view unless asked for (-o dev,suid):
    // backings may come from file systems mounted nodev/nosuid, which a view must not undo.
    if !config.extra.contains(&MountOption::Dev) {
        mount_options.push(MountOption::NoDev);
    }
    if !config.extra.contains(&MountOption::Suid) {
        mount_options.push(MountOption::NoSuid);
    }
    mount_options.extend(config.extra.iter().cloned());
    let mut fuse_config = Config::default();
    fuse_config.mount_options = mount_options;
    fuse_config.acl = if root { SessionACL::All } else { SessionACL::Owner };
    let workers = config.threads.max(1);
    fuse_config.n_threads = Some(workers);
    fuse_config.clone_fd = true;
    let (fs, handle) = BindFs::new(view, config.options, workers);
    let session = if root {
        match mount_as_root(&config.mountpoint, &config.extra)? {
            Some(fd) => Session::from_fd(fs, fd, SessionACL::All, fuse_config)?,
            // Refused (root of a user namespace without the right): fuser's mount, whose
            // fallback is fusermount3.
            None => Session::new(fs, &config.mountpoint, &fuse_config)?,
        }
    } else {
        let mut options =
            vec!["default_permissions".to_string(), "fsname=bindfs-rs".into(), "subtype=bindfs-rs".into()];
        options.extend(config.extra.iter().filter_map(option_text));
        let fd = fusermount(&config.mountpoint, &options.join(","))?;
        Session::from_fd(fs, fd, SessionACL::Owner, fuse_config)?
    };
    handle.set_notifier(session.notifier());
    handle.set_session_fd(std::os::fd::AsFd::as_fd(&session).try_clone_to_owned()?);
    Ok((session, handle))
}

/// Mounts `/dev/fuse` over `mountpoint` as root with the mount(2) call itself, as type
/// `fuse.bindfs-rs`, and returns the descriptor to serve. fuser's own mount names the type
/// `fuse` whatever the subtype, so root's views showed in `/proc/mounts` as `fuse` while users'
/// (mounted by fusermount3) showed as `fuse.bindfs-rs`: `umount -t`, `mount -a`'s check of what
/// is mounted and systemd's mount units look for the latter. The kernel takes `fuse.SUBTYPE`
/// for a file system that has subtypes. `None` when the kernel refuses (`EPERM`), so the caller
/// falls back to fuser's mount.
fn mount_as_root(mountpoint: &Path, extra: &[MountOption]) -> std::io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;

    use rustix::fs::{Mode, OFlags};
    use rustix::mount::MountFlags;

    // The kernel wants the root's file type only (a directory: 040000).
    let rootmode = std::fs::metadata(mountpoint)?.mode() & 0o170000;
    let fd = rustix::fs::open("/dev/fuse", OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
    let mut flags = MountFlags::empty();
    // No device files and no set-id executables unless asked for, as for fuser's mount.
    if !extra.contains(&MountOption::Dev) {
        flags |= MountFlags::NODEV;
    }
    if !extra.contains(&MountOption::Suid) {
        flags |= MountFlags::NOSUID;
    }
    let mut data = format!(
        "fd={},rootmode={rootmode:o},user_id={},group_id={},default_permissions,allow_other",
        fd.as_raw_fd(),
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw()
    );
    for option in extra {
        match option {
            MountOption::RO => flags |= MountFlags::RDONLY,
            MountOption::NoDev => flags |= MountFlags::NODEV,
            MountOption::NoSuid => flags |= MountFlags::NOSUID,
            MountOption::NoExec => flags |= MountFlags::NOEXEC,
            MountOption::NoAtime => flags |= MountFlags::NOATIME,
            MountOption::Sync => flags |= MountFlags::SYNCHRONOUS,
            MountOption::DirSync => flags |= MountFlags::DIRSYNC,
            MountOption::CUSTOM(text) => {
                data.push(',');
                data.push_str(text);
            }
            // The defaults (rw, dev, suid, exec, atime, async) set no flag.
            _ => {}
        }
    }
    let data =
        std::ffi::CString::new(data).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    match rustix::mount::mount("bindfs-rs", mountpoint, "fuse.bindfs-rs", flags, data.as_c_str()) {
        Ok(()) => Ok(Some(fd)),
        Err(rustix::io::Errno::PERM) => Ok(None),
        Err(e) => {
            let e = std::io::Error::from(e);
            Err(std::io::Error::new(e.kind(), format!("mount(2): {e}")))
        }
    }
}

/// Raises the daemon's soft limit on open descriptors to its hard limit: every open file through
/// the view, every lock holder and every kept directory (up to 512) holds one, and the usual
/// soft limit of 1024 would leave users `EMFILE` long before the machine runs short.
fn raise_open_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current < limit.maximum {
        let raised = rustix::process::Rlimit { current: limit.maximum, maximum: limit.maximum };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!("open file limit stays at {:?}: {e}", limit.current);
        }
    }
}

/// A mount option as `mount -o` writes it (for fusermount3).
fn option_text(o: &MountOption) -> Option<String> {
    Some(match o {
        MountOption::RO => "ro".into(),
        MountOption::RW => "rw".into(),
        MountOption::Dev => "dev".into(),
        MountOption::NoDev => "nodev".into(),
        MountOption::Suid => "suid".into(),
        MountOption::NoSuid => "nosuid".into(),
        MountOption::Exec => "exec".into(),
        MountOption::NoExec => "noexec".into(),
        MountOption::Atime => "atime".into(),
        MountOption::NoAtime => "noatime".into(),
        MountOption::Sync => "sync".into(),
        MountOption::Async => "async".into(),
        MountOption::DirSync => "dirsync".into(),
        MountOption::CUSTOM(text) => text.clone(),
        _ => return None,
    })
}

/// Mounts through the setuid helper `fusermount3`, for a daemon that is not root: it opens
/// `/dev/fuse`, mounts, and hands the descriptor back over a socket (`_FUSE_COMMFD`,
/// `SCM_RIGHTS`). Done here rather than left to fuser, which gives up when the user cannot open
/// `/dev/fuse` itself (a mode-0600 device, as in some containers).
fn fusermount(mountpoint: &Path, options: &str) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::IoSliceMut;
    use std::mem::MaybeUninit;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;
    use std::process::{Command, Stdio};

    use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};

    let (ours, theirs) = UnixStream::pair()?;
    // The helper's end must survive its exec.
    rustix::io::fcntl_setfd(&theirs, rustix::io::FdFlags::empty())?;
    let child = Command::new("fusermount3")
        .arg("-o")
        .arg(options)
        .arg("--")
        .arg(mountpoint)
        .env("_FUSE_COMMFD", theirs.as_raw_fd().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| std::io::Error::new(e.kind(), format!("fusermount3: {e} (install fuse3)")))?;
    drop(theirs);
    let mut byte = [0u8; 1];
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received =
        rustix::net::recvmsg(&ours, &mut [IoSliceMut::new(&mut byte)], &mut control, RecvFlags::CMSG_CLOEXEC);
    let fd = match received {
        Ok(_) => control.drain().find_map(|m| match m {
            RecvAncillaryMessage::ScmRights(mut fds) => fds.next(),
            _ => None,
        }),
        Err(_) => None,
    };
    let output = child.wait_with_output()?;
    fd.ok_or_else(|| {
        let text = String::from_utf8_lossy(&output.stderr);
        let line =
            text.lines().next().unwrap_or("no descriptor received").trim_start_matches("fusermount3: ");
        std::io::Error::other(format!("fusermount3: {line}"))
    })
}

/// Unmounts the view at `mountpoint` as its daemon may: `umount2` as root, `fusermount3 -u`
/// otherwise.
pub fn unmount(mountpoint: &Path) -> std::io::Result<()> {
    if rustix::process::geteuid().is_root() {
        return rustix::mount::unmount(mountpoint, rustix::mount::UnmountFlags::empty()).map_err(Into::into);
    }
    let status = std::process::Command::new("fusermount3").arg("-u").arg("--").arg(mountpoint).status()?;
    if status.success() { Ok(()) } else { Err(std::io::Error::other("fusermount3 -u failed")) }
}

/// Detaches the view at `mountpoint` at once (`umount -l`): `umount2(MNT_DETACH)` as root,
/// `fusermount3 -u -z` otherwise. The daemon serves the files still open in it and ends when
/// the last one is closed.
pub fn unmount_lazy(mountpoint: &Path) -> std::io::Result<()> {
    if rustix::process::geteuid().is_root() {
        return rustix::mount::unmount(mountpoint, rustix::mount::UnmountFlags::DETACH).map_err(Into::into);
    }
    let status =
        std::process::Command::new("fusermount3").arg("-u").arg("-z").arg("--").arg(mountpoint).status()?;
    if status.success() { Ok(()) } else { Err(std::io::Error::other("fusermount3 -u -z failed")) }
}
