//! Serving a view: what the command-line tool calls to mount, change links and stop.
//!
//! [`mount`] loads WinFsp, opens the on-disk layer, creates the initial links *before* the
//! volume appears (so a refused link fails the mount, not a live view), then mounts at a drive
//! letter (`X:`) or at a directory that does not exist yet, and starts WinFsp's dispatcher. The
//! returned [`Mounted`] keeps the host running and changes links on the live view.
//!
//! The volume is declared once, as NTFS-like: case-insensitive and case-preserving (the view
//! compares names under [`CasePolicy::Insensitive`]), Unicode on disk, persistent ACLs (the
//! backing's, rule 22), reparse points (links inside a backing, rule 24), 255-unit names and
//! long paths (WinFsp paths have no `MAX_PATH` limit). WinFsp may keep file information for
//! [`MountConfig::cache_ttl`]; after a link change, what it cached shows for at most that long,
//! the same bound the FUSE backend's kernel cache has. The parameters are winfsp-sys's
//! `FSP_FSCTL_VOLUME_PARAMS`, set here field by field: winfsp-rs's `VolumeParams` does not give
//! its struct out, and [`crate::sys::fsp`] creates the volume itself.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bindfs_core::{AbsPath, CasePolicy, Link, LinkId, LinkSpec, Syntax, Timestamp, VPath, View};
use winfsp_sys::FSP_FSCTL_VOLUME_PARAMS;

use crate::backing::WindowsBacking;
use crate::info::filetime_of;
use crate::ops::Ops;
use crate::sys::fsp::Volume;

/// Where and how to mount a view.
#[derive(Clone, Debug)]
pub struct MountConfig {
    /// `X:` or a directory that must not exist yet.
    pub mount_point: PathBuf,
    /// The on-disk layer: the directory whose content the view shows where no link applies.
    pub lower: PathBuf,
    /// How long WinFsp may keep file information (zero: ask every time).
    pub cache_ttl: Duration,
    /// Dispatcher threads (0: WinFsp's default).
    pub threads: u32,
}

impl MountConfig {
    /// Defaults: a one-second cache, WinFsp's thread count.
    pub fn new(mount_point: PathBuf, lower: PathBuf) -> MountConfig {
        MountConfig { mount_point, lower, cache_ttl: Duration::from_secs(1), threads: 0 }
    }
}

/// Why a mount failed.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    /// The WinFsp DLL could not be loaded (WinFsp not installed?).
    #[error("WinFsp could not be loaded: is it installed?")]
    WinFspMissing,
    /// The lower layer's path is not an absolute Windows path (`C:\...`, `\\server\share\...`).
    #[error("lower layer {0:?} is not an absolute Windows path")]
    BadLower(PathBuf),
    /// The lower layer or a link was refused (rules 2-11).
    #[error(transparent)]
    View(#[from] bindfs_core::Error),
    /// WinFsp refused to create, mount or start the volume.
    #[error("WinFsp refused to {what} (code {code:#010x})")]
    Host {
        /// The step that failed.
        what: &'static str,
        /// The NTSTATUS it gave.
        code: i32,
    },
}

/// A mounted view: dropping it (or [`Mounted::stop`]) unmounts.
pub struct Mounted {
    volume: Volume,
    view: Arc<View<WindowsBacking>>,
}

impl std::fmt::Debug for Mounted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mounted").field("links", &self.view.links().len()).finish_non_exhaustive()
    }
}

impl Mounted {
    /// Creates a link on the live view (rules 1-11).
    pub fn create_link(&self, spec: LinkSpec) -> bindfs_core::Result<LinkId> {
        self.view.create_link(spec)
    }

    /// Removes the link at `virt` (rule 17).
    pub fn remove_link(&self, virt: &VPath) -> bindfs_core::Result<Link> {
        self.view.remove_link(virt)
    }

    /// Every link, in creation order.
    pub fn links(&self) -> Vec<Link> {
        self.view.links()
    }

    /// The view, to share with threads that change its links while the volume serves (a
    /// control channel).
    pub fn shared_view(&self) -> Arc<View<WindowsBacking>> {
        Arc::clone(&self.view)
    }

    /// The view being served.
    pub fn view(&self) -> &View<WindowsBacking> {
        &self.view
    }

    /// Unmounts and stops the dispatcher.
    pub fn stop(mut self) {
        self.volume.unmount();
        self.volume.stop();
    }
}

fn volume_params(config: &MountConfig) -> FSP_FSCTL_VOLUME_PARAMS {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let created = filetime_of(Timestamp { secs: now.as_secs() as i64, nanos: now.subsec_nanos() });
    let ttl = u32::try_from(config.cache_ttl.as_millis()).unwrap_or(u32::MAX);
    let mut p = FSP_FSCTL_VOLUME_PARAMS {
        // The whole (V1) struct is given: its size says so (0 would mean the V0 prefix only).
        Version: size_of::<FSP_FSCTL_VOLUME_PARAMS>() as u16,
        SectorSize: 4096,
        SectorsPerAllocationUnit: 1,
        MaxComponentLength: 255,
        VolumeCreationTime: created,
        VolumeSerialNumber: (created / 10_000_000) as u32,
        FileInfoTimeout: ttl,
        ..FSP_FSCTL_VOLUME_PARAMS::default()
    };
    let name: Vec<u16> = "bindfs".encode_utf16().collect();
    p.FileSystemName[..name.len()].copy_from_slice(&name);
    // File contexts are the pointers `fsp` hands out, kept by WinFsp in UserContext2.
    p.set_UmFileContextIsUserContext2(1);
    p.set_UmFileContextIsFullContext(0);
    p.set_CaseSensitiveSearch(0);
    p.set_CasePreservedNames(1);
    p.set_UnicodeOnDisk(1);
    p.set_PersistentAcls(1);
    p.set_ReparsePoints(1);
    p.set_ReparsePointsAccessCheck(0);
    // A link's FileInfo has no directory bit (the core's Symlink kind does not say what it
    // points to), so opening a directory link with FILE_DIRECTORY_FILE (RemoveDirectory on
    // a junction) must not be refused for it: as WinFsp-FUSE does.
    p.set_UmNoReparsePointsDirCheck(1);
    p.set_NamedStreams(0);
    p.set_HardLinks(0);
    p.set_ExtendedAttributes(0);
    p.set_PostCleanupWhenModifiedOnly(1);
    p.set_PassQueryDirectoryPattern(1);
    // WinFsp posts every disposition change to SetDelete (no
    // `PostDispositionWhenNecessaryOnly`: with it the kernel marks files itself, so a sharing
    // conflict on the backing object would only show at cleanup, where it cannot be
    // reported), and lets kernel-mode opens (filters, the I/O manager's own) through.
    p.set_AllowOpenInKernelMode(1);
    p.set_FlushAndPurgeOnCleanup(1);
    // As winfsp-rs declared every volume when it created ours (see WinFsp issue #55).
    p.set_AlwaysUseDoubleBuffering(1);
    p
}

/// What the service enables if its token holds them, as ntptfs does: backup and restore (the
/// store opens with `FILE_OPEN_FOR_BACKUP_INTENT`, and a created file's owner is the caller),
/// security (SACLs), and symbolic-link creation.
///
/// Restore lets the service write any owner, which the kernel would refuse most callers. That
/// is safe because the view checks owners first, as NTFS does for the caller itself
/// ([`crate::owner`]): `SetSecurity` and `Create` refuse an owner that is neither the caller's
/// user nor one of its token's owner groups, unless the caller has restore enabled.
const PRIVILEGES: [&str; 4] =
    ["SeSecurityPrivilege", "SeBackupPrivilege", "SeRestorePrivilege", "SeCreateSymbolicLinkPrivilege"];

/// Enables [`PRIVILEGES`], saying which stay off: the view still runs, with what the token
/// allows.
fn enable_privileges() {
    match crate::sys::enable_privileges(&PRIVILEGES) {
        Ok(enabled) => {
            let off: Vec<&str> =
                PRIVILEGES.iter().zip(enabled).filter(|(_, on)| !on).map(|(name, _)| *name).collect();
            if !off.is_empty() {
                tracing::warn!(privileges = ?off, "not held: backup opens, owners or SACLs may be refused");
            }
        }
        Err(e) => tracing::warn!(error = %e, "privileges could not be enabled"),
    }
}

/// Mounts a view of `config.lower` at `config.mount_point` with `links` created first.
pub fn mount(config: &MountConfig, links: Vec<LinkSpec>) -> Result<Mounted, MountError> {
    enable_privileges();
    // The binaries delay-load WinFsp (see `cli/build.rs`): the DLL must be loaded, from WinFsp's
    // install directory, before the first call into it.
    if !crate::sys::load_winfsp() {
        return Err(MountError::WinFspMissing);
    }
    winfsp::winfsp_init().map_err(|_| MountError::WinFspMissing)?;
    let lower_text = config.lower.to_str().ok_or_else(|| MountError::BadLower(config.lower.clone()))?;
    let lower = AbsPath::parse(lower_text, Syntax::Windows)
        .map_err(|_| MountError::BadLower(config.lower.clone()))?;
    let mut view = View::new(WindowsBacking::open(&lower)?, CasePolicy::Insensitive);
    view.set_root_cache(config.cache_ttl);
    for spec in links {
        view.create_link(spec)?;
    }
    let view = Arc::new(view);
    let ops = Ops::new(Arc::clone(&view))?;
    let refused = |what: &'static str| move |code: i32| MountError::Host { what, code };
    // Dropped on a failure below, the volume removes what was set up.
    let mut volume = Volume::create(&volume_params(config), ops).map_err(refused("create the volume"))?;
    volume.mount(config.mount_point.as_os_str()).map_err(refused("mount it"))?;
    volume.start(config.threads).map_err(refused("start the dispatcher"))?;
    Ok(Mounted { volume, view })
}
