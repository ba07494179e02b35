//! Shared harness for the end-to-end tests of bindfs-rs: each test gets a fresh directory with
//! an on-disk tree (`disk/`, the mount point) and backing trees (`t/`), mounts a real view over
//! `disk/` with the `bindfs-rs` binary, and unmounts it when dropped.
//!
//! Mount tests need `/dev/fuse`. Where it is missing they skip (printing why), unless
//! `BINDFS_REQUIRE_FUSE=1` is set, as `.ci/run` does: then a missing `/dev/fuse` fails the test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod scenarios;
pub mod store;
pub mod store_rules;
pub mod sys;
#[cfg(windows)]
pub mod windows;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `bindfs-rs` binary next to the test executable (`target/<profile>/bindfs-rs`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>");
    let bin = profile_dir.join(if cfg!(windows) { "bindfs-rs.exe" } else { "bindfs-rs" });
    assert!(bin.exists(), "{} not found: build it first (cargo build -p bindfs-rs)", bin.display());
    bin
}

/// Whether mount tests can run here; panics when they must (`BINDFS_REQUIRE_FUSE=1`) but cannot.
pub fn fuse_available() -> bool {
    let present = Path::new("/dev/fuse").exists();
    if !present {
        assert!(
            std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(),
            "/dev/fuse is missing, and BINDFS_REQUIRE_FUSE forbids skipping mount tests"
        );
        eprintln!("skipped: /dev/fuse is missing");
    }
    present
}

/// Runs `bindfs-rs` with `args`.
pub fn bindfs(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().expect("run bindfs-rs")
}

/// Runs `bindfs-rs` with `args`: its stdout on success, its stderr on failure.
pub fn bindfs_result(args: &[&str]) -> Result<String, String> {
    let out = bindfs(args);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if out.status.success() { Ok(text(&out.stdout)) } else { Err(text(&out.stderr)) }
}

/// Runs `bindfs-rs` and panics with its stderr unless it succeeds.
pub fn bindfs_ok(args: &[&str]) {
    let out = bindfs(args);
    assert!(out.status.success(), "bindfs-rs {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Writes `data` at `path`, creating missing directories.
pub fn put(path: &Path, data: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
}

/// The names in a directory, sorted.
pub fn ls(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// The content of a file.
pub fn cat(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// The errno of a failed call, for asserting on it.
pub fn errno<T: std::fmt::Debug>(r: std::io::Result<T>) -> i32 {
    r.expect_err("call should fail").raw_os_error().unwrap_or(0)
}

/// A fresh tree, and a view mounted over its `disk/` directory.
#[derive(Debug)]
pub struct Env {
    tmp: tempfile::TempDir,
    mounted: bool,
}

impl Env {
    /// A fresh tree: `disk/` (the mount point, with whatever `setup` puts there) and `t/`.
    /// `None` when mount tests cannot run here (see [`fuse_available`]).
    pub fn new() -> Option<Env> {
        if !fuse_available() {
            return None;
        }
        // Under /tmp so that other users (rule 22 tests) can reach it.
        let tmp = tempfile::Builder::new().prefix("bindfs-e2e-").tempdir_in("/tmp").unwrap();
        std::fs::create_dir_all(tmp.path().join("disk")).unwrap();
        std::fs::create_dir_all(tmp.path().join("t")).unwrap();
        Some(Env { tmp, mounted: false })
    }

    /// The temporary root.
    pub fn root(&self) -> &Path {
        self.tmp.path()
    }

    /// The mount point (also the on-disk content before mounting).
    pub fn mnt(&self) -> PathBuf {
        self.tmp.path().join("disk")
    }

    /// A path inside the view (`rel` without a leading slash; "" for the root).
    pub fn v(&self, rel: &str) -> PathBuf {
        if rel.is_empty() { self.mnt() } else { self.mnt().join(rel) }
    }

    /// A path in the backing trees.
    pub fn t(&self, rel: &str) -> PathBuf {
        self.tmp.path().join("t").join(rel)
    }

    /// A copy of the `bindfs-rs` binary that other users may run: `bin/bindfs-rs` under the
    /// temporary root, which the test must open to them (as it does for the view). The build's
    /// own binary may be out of their reach: a clone in a directory only its owner may enter
    /// (`/root` is 0700 on Debian) makes their `execve` of [`binary`] fail with `EACCES`.
    ///
    /// `install` copies it in a child process, so that no descriptor open for writing on the
    /// copy is ever held by this process: a process that another test thread forked meanwhile
    /// would inherit it, and running the copy would fail with `ETXTBSY`.
    #[cfg(target_os = "linux")]
    pub fn binary_for_others(&self) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.tmp.path().join("bin");
        let copy = dir.join("bindfs-rs");
        if !copy.exists() {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
            let out =
                Command::new("install").arg("-m").arg("0755").arg(binary()).arg(&copy).output().unwrap();
            assert!(
                out.status.success(),
                "install {}: {}",
                copy.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        copy
    }

    /// Mounts the view with extra `mount` arguments (e.g. `--cache-ttl 0`).
    pub fn mount(&mut self, extra: &[&str]) {
        let mnt = self.mnt();
        let mut args = vec!["mount", mnt.to_str().unwrap()];
        args.extend_from_slice(extra);
        bindfs_ok(&args);
        self.mounted = true;
    }

    /// `bindfs-rs link create VIRTUAL BACKING [flags...]`; the result.
    pub fn try_link(&self, virt: &Path, backing: &Path, flags: &[&str]) -> Output {
        let mut args = vec!["link", "create", virt.to_str().unwrap(), backing.to_str().unwrap()];
        args.extend_from_slice(flags);
        bindfs(&args)
    }

    /// Like [`Env::try_link`], panicking on failure.
    pub fn link(&self, virt: &Path, backing: &Path, flags: &[&str]) {
        let out = self.try_link(virt, backing, flags);
        assert!(
            out.status.success(),
            "link {virt:?} -> {backing:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `bindfs-rs link remove VIRTUAL`; the result.
    pub fn try_unlink(&self, virt: &Path) -> Output {
        bindfs(&["link", "remove", virt.to_str().unwrap()])
    }

    /// Unmounts the view now.
    pub fn unmount(&mut self) {
        if self.mounted {
            let mnt = self.mnt();
            // Another test thread forking a process (between its fork and exec) holds copies of
            // this process's descriptors for a moment, which makes the mount busy: retry briefly.
            let mut tries = 0;
            let done = loop {
                match bindfs_result(&["unmount", mnt.to_str().unwrap()]) {
                    Err(e) if e.contains("busy") && tries < 40 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    other => break other,
                }
            };
            assert!(done.is_ok(), "bindfs-rs unmount {}: {done:?}", mnt.display());
            self.mounted = false;
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if self.mounted {
            let mnt = self.mnt();
            let done = bindfs(&["unmount", mnt.to_str().unwrap_or_default()]);
            if !done.status.success() {
                // Busy (a failed test left a file open): detach, so the tree can go.
                let _ = Command::new("umount").arg("-l").arg(&mnt).status();
            }
        }
    }
}

/// The Linux mount driver of the shared rule scenarios: a FUSE view over `disk/`.
impl scenarios::Driver for Env {
    fn path(&self, at: scenarios::At) -> PathBuf {
        match at {
            scenarios::At::Disk(rel) | scenarios::At::View(rel) => self.v(rel),
            scenarios::At::Backing(rel) => self.t(rel),
        }
    }

    fn mount(&mut self, exact: bool) {
        Env::mount(self, if exact { &["--cache-ttl", "0"] } else { &[] });
    }

    fn unmount(&mut self) {
        Env::unmount(self);
    }

    fn mounted(&self) -> bool {
        self.mounted
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        bindfs_result(args)
    }

    fn is(&self, e: &std::io::Error, failure: scenarios::Failure) -> bool {
        const ENOENT: i32 = 2;
        const EROFS: i32 = 30;
        const EEXIST: i32 = 17;
        const ENOTEMPTY: i32 = 39;
        let code = e.raw_os_error();
        match failure {
            scenarios::Failure::NotFound => code == Some(ENOENT),
            scenarios::Failure::ReadOnly => code == Some(EROFS),
            scenarios::Failure::NotEmpty => code == Some(ENOTEMPTY) || code == Some(EEXIST),
        }
    }
}

/// The unprivileged user of the tests (rule 22, hostile users).
#[cfg(target_os = "linux")]
pub const NOBODY: u32 = 65534;

/// Runs `program args` as uid/gid [`NOBODY`] (without supplementary groups), in the C locale.
#[cfg(target_os = "linux")]
pub fn as_nobody(program: &Path, args: &[&str]) -> Output {
    as_nobody_in(&[], program, args)
}

/// Runs `program args` as uid/gid [`NOBODY`] with the supplementary groups `groups`, in the C
/// locale.
#[cfg(target_os = "linux")]
pub fn as_nobody_in(groups: &[u32], program: &Path, args: &[&str]) -> Output {
    as_user(NOBODY, NOBODY, groups, program, args)
}

/// Runs `program args` as `uid`/`gid` with the supplementary groups `groups`, in the C locale.
#[cfg(target_os = "linux")]
pub fn as_user(uid: u32, gid: u32, groups: &[u32], program: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(program);
    command.args(args).current_dir("/").env("LC_ALL", "C").env_remove("XDG_RUNTIME_DIR");
    sys::run_as(&mut command, uid, gid, groups);
    command.output().unwrap()
}

/// `sh -c SCRIPT sh ARGS...` as [`NOBODY`].
#[cfg(target_os = "linux")]
pub fn sh_as_nobody(script: &str, args: &[&Path]) -> Output {
    sh_as_nobody_in(&[], script, args)
}

/// `sh -c SCRIPT sh ARGS...` as [`NOBODY`] with the supplementary groups `groups`.
#[cfg(target_os = "linux")]
pub fn sh_as_nobody_in(groups: &[u32], script: &str, args: &[&Path]) -> Output {
    let mut all = vec!["-c", script, "sh"];
    all.extend(args.iter().map(|p| p.to_str().unwrap()));
    as_nobody_in(groups, Path::new("/bin/sh"), &all)
}

#[cfg(target_os = "linux")]
pub use sys::whole_file_lock;
