//! The Windows mount driver of the shared rule scenarios: a WinFsp view at `view\` (a directory
//! that must not exist before the mount) over the on-disk layer `disk\`, made with the
//! `bindfs-rs` binary like a user would (`mount VIEW --lower DISK`).
//!
//! The scenarios need WinFsp. Where it is missing they skip, unless `BINDFS_REQUIRE_WINFSP=1`
//! (set by the Windows workflow): then a missing WinFsp fails them.

use std::path::PathBuf;

use crate::scenarios::{At, Driver, Failure};
use crate::{bindfs, bindfs_ok};

/// Whether WinFsp is installed; panics when it must be (`BINDFS_REQUIRE_WINFSP=1`) but is not.
pub fn winfsp_available() -> bool {
    let base = std::env::var_os("ProgramFiles(x86)")
        .map_or_else(|| PathBuf::from(r"C:\Program Files (x86)"), PathBuf::from);
    let present = base.join(r"WinFsp\bin\winfsp-x64.dll").exists();
    if !present {
        assert!(
            std::env::var_os("BINDFS_REQUIRE_WINFSP").is_none(),
            "WinFsp is not installed, and BINDFS_REQUIRE_WINFSP forbids skipping mount tests"
        );
        eprintln!("skipped: WinFsp is not installed");
    }
    present
}

/// A fresh tree with `disk\` and `t\`, and a view at `view\` when mounted.
#[derive(Debug)]
pub struct WinEnv {
    tmp: tempfile::TempDir,
    mounted: bool,
}

impl WinEnv {
    /// A fresh tree, or `None` where WinFsp is missing (see [`winfsp_available`]).
    pub fn new() -> Option<WinEnv> {
        if !winfsp_available() {
            return None;
        }
        let tmp = tempfile::Builder::new().prefix("bindfs-e2e-").tempdir().ok()?;
        std::fs::create_dir_all(tmp.path().join("disk")).ok()?;
        std::fs::create_dir_all(tmp.path().join("t")).ok()?;
        Some(WinEnv { tmp, mounted: false })
    }

    fn view(&self) -> PathBuf {
        self.tmp.path().join("view")
    }

    fn under(base: PathBuf, rel: &str) -> PathBuf {
        rel.split('/').filter(|n| !n.is_empty()).fold(base, |p, n| p.join(n))
    }
}

impl Driver for WinEnv {
    fn path(&self, at: At) -> PathBuf {
        match at {
            At::Disk(rel) => Self::under(self.tmp.path().join("disk"), rel),
            At::Backing(rel) => Self::under(self.tmp.path().join("t"), rel),
            At::View(rel) => Self::under(self.view(), rel),
        }
    }

    fn mount(&mut self, exact: bool) {
        let (view, disk) = (self.view(), self.tmp.path().join("disk"));
        let mut args =
            vec!["mount", view.to_str().unwrap_or_default(), "--lower", disk.to_str().unwrap_or_default()];
        if exact {
            args.extend(["--cache-ttl", "0"]);
        }
        bindfs_ok(&args);
        self.mounted = true;
    }

    fn unmount(&mut self) {
        if self.mounted {
            bindfs_ok(&["unmount", self.view().to_str().unwrap_or_default()]);
            self.mounted = false;
        }
    }

    fn mounted(&self) -> bool {
        self.mounted
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        crate::bindfs_result(args)
    }

    fn is(&self, e: &std::io::Error, failure: Failure) -> bool {
        // Win32 error codes (winerror.h).
        const FILE_NOT_FOUND: i32 = 2;
        const PATH_NOT_FOUND: i32 = 3;
        const ACCESS_DENIED: i32 = 5;
        const WRITE_PROTECT: i32 = 19;
        const DIR_NOT_EMPTY: i32 = 145;
        let code = e.raw_os_error();
        match failure {
            Failure::NotFound => matches!(code, Some(FILE_NOT_FOUND | PATH_NOT_FOUND)),
            // STATUS_MEDIA_WRITE_PROTECTED reaches programs as ERROR_WRITE_PROTECT; a read-only
            // file refused by its attribute as ERROR_ACCESS_DENIED.
            Failure::ReadOnly => matches!(code, Some(WRITE_PROTECT | ACCESS_DENIED)),
            Failure::NotEmpty => code == Some(DIR_NOT_EMPTY),
        }
    }
}

impl Drop for WinEnv {
    fn drop(&mut self) {
        if self.mounted {
            let _ = bindfs(&["unmount", self.view().to_str().unwrap_or_default()]);
        }
    }
}
