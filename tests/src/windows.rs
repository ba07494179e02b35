//! The Windows mount driver of the shared rule scenarios: a WinFsp view at `view\` (a directory
//! that must not exist before the mount) over the on-disk layer `disk\`, made with the
//! `bindfs-rs` binary like a user would (`mount VIEW --lower DISK`).
//!
//! The scenarios need WinFsp. Where it is missing they skip, unless `BINDFS_REQUIRE_WINFSP=1`
//! (set by the Windows workflow): then a missing WinFsp fails them.
//!
//! Paths are long and canonical from the start (the runner's temp directory may be given in 8.3
//! form, `C:\Users\RUNNER~1\...`), and rule 21 asks the volume for a file's name without
//! the volume's own name ([`path_in_volume`]): a WinFsp volume mounted at a directory has no DOS
//! name, so `canonicalize` (GetFinalPathNameByHandle with VOLUME_NAME_DOS) fails there.

use std::fs::File;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use windows::Win32::Storage::FileSystem::{
    FILE_FLAG_BACKUP_SEMANTICS, FILE_GENERIC_READ, FILE_GENERIC_WRITE, FILE_NAME_NORMALIZED,
    FILE_WRITE_ATTRIBUTES, GETFINALPATHNAMEBYHANDLE_FLAGS, VOLUME_NAME_NONE,
};

use crate::scenarios::{At, Driver, Failure};
use crate::{bindfs, bindfs_ok};

/// The access of a held file: reading, and changing its attributes and DACL.
const HOLD_ACCESS: u32 = FILE_GENERIC_READ.0 | FILE_WRITE_ATTRIBUTES.0 | 0x0004_0000; // WRITE_DAC

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

/// Sets the reparse point `data` (a whole `REPARSE_DATA_BUFFER`, or `REPARSE_GUID_DATA_BUFFER`
/// for a tag without the Microsoft bit) on the file or directory at `path`, as
/// `FSCTL_SET_REPARSE_POINT` does (Wine 8 answers `ERROR_NOT_SUPPORTED`).
pub fn set_reparse_point(path: &Path, data: &[u8]) -> std::io::Result<()> {
    const FILE_FLAG_OPEN_REPARSE_POINT: u32 = 0x0020_0000;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(FILE_FLAG_BACKUP_SEMANTICS.0 | FILE_FLAG_OPEN_REPARSE_POINT)
        .open(path)?;
    crate::sys::set_reparse_point_of(&file, data)
}

/// The reparse data of a junction to the absolute path `target` (`C:\dir`), as `mklink /J`
/// writes it: `\??\` and the path as the substitute name, the path as the print name.
pub fn junction_data(target: &Path) -> Vec<u8> {
    const IO_REPARSE_TAG_MOUNT_POINT: u32 = 0xA000_0003;
    let print: Vec<u16> = target.as_os_str().encode_wide().collect();
    let substitute: Vec<u16> = "\\??\\".encode_utf16().chain(print.iter().copied()).collect();
    // Offsets and lengths in bytes; each name is followed by a NUL.
    let (sub_len, print_len) = (substitute.len() * 2, print.len() * 2);
    let mut names = Vec::new();
    for unit in substitute.iter().chain([&0]).chain(print.iter()).chain([&0]) {
        names.extend(unit.to_le_bytes());
    }
    let header = [0u16, sub_len as u16, (sub_len + 2) as u16, print_len as u16];
    let mut data = IO_REPARSE_TAG_MOUNT_POINT.to_le_bytes().to_vec();
    data.extend(((8 + names.len()) as u16).to_le_bytes());
    data.extend([0, 0]);
    for h in header {
        data.extend(h.to_le_bytes());
    }
    data.extend(names);
    data
}

/// The path of open `file` inside its volume, normalized (`\Foo\Cat.txt`): the name the file
/// system reports for it, without the volume's name.
pub fn path_in_volume(file: &File) -> std::io::Result<String> {
    let mut buf = vec![0u16; 1024];
    let flags = GETFINALPATHNAMEBYHANDLE_FLAGS(FILE_NAME_NORMALIZED.0 | VOLUME_NAME_NONE.0);
    loop {
        let n = crate::sys::final_path_name(file, &mut buf, flags) as usize;
        if n == 0 {
            return Err(std::io::Error::last_os_error());
        }
        if n < buf.len() {
            return Ok(String::from_utf16_lossy(&buf[..n]));
        }
        buf.resize(n + 1, 0);
    }
}

pub use crate::sys::{security_of, set_dacl, under_wine};

/// One entry of a directory page, as the kernel reads `FSP_FSCTL_DIR_INFO`.
#[derive(Debug, PartialEq, Eq)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// `FILE_ATTRIBUTE_*`.
    pub attributes: u32,
    /// The reparse tag (`FSP_FSCTL_FILE_INFO::ReparseTag`, FindFirstFile's `dwReserved0`).
    pub tag: u32,
    /// `FileSize`.
    pub size: u64,
}

/// The entries of a page of `len` bytes, and whether it ends the listing (a zero-size entry
/// after the last: `FspFileSystemAddDirInfo(NULL, ...)`).
pub fn dir_page(page: &[u8], len: u32) -> (Vec<Listed>, bool) {
    // FSP_FSCTL_DIR_INFO: UINT16 Size, FSP_FSCTL_FILE_INFO at 8, the name at 104; entries are
    // 8-aligned.
    let page = &page[..len as usize];
    let (mut out, mut at) = (Vec::new(), 0usize);
    while at + 2 <= page.len() {
        let size = usize::from(u16::from_le_bytes([page[at], page[at + 1]]));
        if size == 0 {
            return (out, true);
        }
        let u32_at = |o: usize| u32::from_le_bytes(page[at + o..at + o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(page[at + o..at + o + 8].try_into().unwrap());
        let units: Vec<u16> =
            page[at + 104..at + size].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        out.push(Listed {
            name: String::from_utf16_lossy(&units),
            attributes: u32_at(8),
            tag: u32_at(8 + 4),
            size: u64_at(8 + 16),
        });
        at += size.div_ceil(8) * 8;
    }
    (out, false)
}

/// Opens a file or a directory for its name only.
fn open_any(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().read(true).custom_flags(FILE_FLAG_BACKUP_SEMANTICS.0).open(path)
}

/// `path` in its long, canonical spelling, without the `\\?\` prefix for a drive path.
fn long_path(path: &Path) -> PathBuf {
    let Ok(real) = std::fs::canonicalize(path) else { return path.to_path_buf() };
    let text = real.to_string_lossy();
    match text.strip_prefix(r"\\?\") {
        Some(rest) if rest.as_bytes().get(1) == Some(&b':') => PathBuf::from(rest),
        _ => real.clone(),
    }
}

/// A fresh tree with `disk\` and `t\`, and a view at `view\` when mounted.
#[derive(Debug)]
pub struct WinEnv {
    /// Removes the tree when the test ends.
    _tmp: tempfile::TempDir,
    /// `tmp`'s path, long and canonical.
    root: PathBuf,
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
        let root = long_path(tmp.path());
        Some(WinEnv { _tmp: tmp, root, mounted: false })
    }

    fn view(&self) -> PathBuf {
        self.root.join("view")
    }

    fn under(base: PathBuf, rel: &str) -> PathBuf {
        rel.split('/').filter(|n| !n.is_empty()).fold(base, |p, n| p.join(n))
    }
}

impl Driver for WinEnv {
    fn path(&self, at: At) -> PathBuf {
        match at {
            At::Disk(rel) => Self::under(self.root.join("disk"), rel),
            At::Backing(rel) => Self::under(self.root.join("t"), rel),
            At::View(rel) => Self::under(self.view(), rel),
        }
    }

    fn mount(&mut self, exact: bool) {
        let (view, disk) = (self.view(), self.root.join("disk"));
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

    /// Held with the right to change attributes and the DACL too, so that a change refused by a
    /// read-only link reaches the view and is refused there, not by the handle's access.
    fn hold(&self, rel: &'static str) -> std::io::Result<Box<dyn crate::scenarios::Held>> {
        let path = self.path(At::View(rel));
        Ok(Box::new(std::fs::OpenOptions::new().read(true).access_mode(HOLD_ACCESS).open(path)?))
    }

    fn hold_to_change(&self, rel: &'static str) -> std::io::Result<Box<dyn crate::scenarios::Held>> {
        let path = self.path(At::View(rel));
        let access = HOLD_ACCESS | FILE_GENERIC_WRITE.0;
        Ok(Box::new(std::fs::OpenOptions::new().read(true).write(true).access_mode(access).open(path)?))
    }

    /// The volume's name for the open file is the virtual path below the mount point (rule 21).
    fn reports_its_path(&self, rel: &'static str) -> Result<(), String> {
        let file = open_any(&self.path(At::View(rel))).map_err(|e| e.to_string())?;
        let seen = path_in_volume(&file).map_err(|e| e.to_string())?;
        let expected = format!("\\{}", rel.replace('/', "\\"));
        if seen == expected { Ok(()) } else { Err(format!("reported {seen}, not {expected}")) }
    }
}

impl Drop for WinEnv {
    fn drop(&mut self) {
        if self.mounted {
            let _ = bindfs(&["unmount", self.view().to_str().unwrap_or_default()]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_file_reports_its_path_inside_its_volume() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = long_path(tmp.path());
        std::fs::create_dir(dir.join("Sub")).unwrap();
        std::fs::write(dir.join(r"Sub\Cat.txt"), "meow").unwrap();
        let seen = path_in_volume(&open_any(&dir.join(r"Sub\Cat.txt")).unwrap()).unwrap();
        let whole = dir.join(r"Sub\Cat.txt").to_string_lossy().into_owned();
        // `C:\x\Sub\Cat.txt` is `\x\Sub\Cat.txt` on volume C:.
        assert_eq!(seen, whole[2..], "{whole}");
        let seen_dir = path_in_volume(&open_any(&dir.join("Sub")).unwrap()).unwrap();
        assert!(seen_dir.ends_with(r"\Sub") && seen_dir.starts_with('\\'), "{seen_dir}");
    }
}
