//! The rules of `docs/spec.md` again, on real temporary directories through
//! `View<LinuxBacking>`. The rule tests every store shares live in `bindfs_tests::store_rules`
//! and run here on the Linux store, one `#[test]` each; below them, what only the Linux store
//! can show: POSIX modes, symlinks, `openat2` and its fallback, a second file system (tmpfs)
//! and raw open flags.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

use bindfs_core::{CasePolicy, Error, FileKind, LinkSpec, OpenFlags, RenameFlags, Target};
use bindfs_fuse::LinuxBacking;
use bindfs_tests::store_rules::{Ns, OnDisk, Store, names_on_disk, p, put, read};

/// The Linux store: `LinuxBacking`, case-sensitive names, POSIX paths as link targets.
#[derive(Clone, Copy, Debug)]
struct LinuxStore;

impl Store for LinuxStore {
    type Backing = LinuxBacking;

    fn open(self, disk: &Path) -> LinuxBacking {
        LinuxBacking::open(disk).unwrap()
    }

    fn policy(self) -> CasePolicy {
        CasePolicy::Sensitive
    }

    fn target(self, path: &Path) -> Target {
        Target::host(path.to_str().unwrap()).unwrap()
    }

    fn on_disk(self, path: &Path) -> OnDisk {
        let real = fs::symlink_metadata(path).unwrap();
        OnDisk {
            ino: real.ino(),
            dev: real.dev(),
            size: real.size(),
            perm: real.mode() & 0o7777,
            nlink: real.nlink(),
            uid: real.uid(),
        }
    }
}

bindfs_tests::store_rule_tests!(LinuxStore);

#[test]
fn rule_19_removing_v_acts_on_b_even_when_b_is_named_through_a_symlink() {
    // Regression: with B given as a path ending in a symlink, removing V removed the alias
    // (or failed with ENOTDIR) instead of acting on B itself.
    let ns = Ns::new(LinuxStore);
    symlink(ns.t.join("Empty"), ns.t.join("alias")).unwrap();
    ns.link("/Dir", "alias");
    ns.view.rmdir(&p("/Dir")).unwrap();
    assert!(!ns.t.join("Empty").exists());
    symlink(ns.t.join("file.txt"), ns.t.join("falias")).unwrap();
    ns.link("/File", "falias");
    ns.view.unlink(&p("/File")).unwrap();
    assert!(!ns.t.join("file.txt").exists());
    assert!(fs::symlink_metadata(ns.t.join("falias")).unwrap().file_type().is_symlink());
    assert_eq!(ns.view.links().len(), 2);
}

/// A tmpfs mounted for one test, unmounted when dropped (lazily, so even a failing test that
/// still holds a descriptor on it does not leave it behind).
struct TmpfsMount(PathBuf);

impl TmpfsMount {
    /// Mounts a small tmpfs at `dir`; `None` when not permitted and BINDFS_ALLOW_SKIP=1.
    fn new(dir: &Path) -> Option<TmpfsMount> {
        fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"]).arg(dir).output();
        let why = match out {
            Ok(o) if o.status.success() => return Some(TmpfsMount(dir.to_owned())),
            Ok(o) => format!("{}: {}", o.status, String::from_utf8_lossy(&o.stderr).trim()),
            Err(e) => e.to_string(),
        };
        let skip = std::env::var("BINDFS_ALLOW_SKIP").is_ok_and(|v| v == "1");
        assert!(
            skip,
            "rule 23 needs a second file system: mounting a tmpfs failed ({why}); run as root, \
             or set BINDFS_ALLOW_SKIP=1 to skip"
        );
        eprintln!("skipping rule 23: cannot mount a tmpfs ({why})");
        None
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn rule_23_moves_across_file_systems_fail_with_exdev_and_lose_nothing() {
    let ns = Ns::new(LinuxStore);
    let remote = ns.tmp.path().join("remote");
    let Some(_mounted) = TmpfsMount::new(&remote) else { return };
    put(&remote.join("share/r.txt"), "remote");
    let share = remote.join("share");
    let on_tmpfs =
        LinkSpec { target: Target::host(share.to_str().unwrap()).unwrap(), ..ns.spec("/R", "Empty") };
    ns.view.create_link(on_tmpfs).unwrap();
    ns.link("/L", "Target");
    let (r, l) = (ns.view.getattr(&p("/R")).unwrap(), ns.view.getattr(&p("/L")).unwrap());
    assert_ne!(r.dev, l.dev, "the tmpfs is a second file system");
    // statfs through V reports the backing's own file system: the 4 MiB tmpfs.
    let st = ns.view.statfs(&p("/R/r.txt")).unwrap();
    assert_eq!(st.blocks * u64::from(st.frsize), 4 << 20);

    let none = RenameFlags::default();
    assert_eq!(ns.view.rename(&p("/L/Cat.txt"), &p("/R/Cat.txt"), none), Err(Error::CrossDevice));
    assert_eq!(ns.view.rename(&p("/R/r.txt"), &p("/L/r.txt"), none), Err(Error::CrossDevice));
    assert_eq!(ns.view.rename(&p("/R/r.txt"), &p("/L/shared.txt"), none), Err(Error::CrossDevice));
    assert_eq!(ns.view.link(&p("/R/r.txt"), &p("/L/r.txt")).map(|_| ()), Err(Error::CrossDevice));
    assert_eq!(ns.view.link(&p("/L/Cat.txt"), &p("/R/Cat.txt")).map(|_| ()), Err(Error::CrossDevice));
    // Both sides intact, in the view and on disk.
    assert_eq!(ns.cat("/L/Cat.txt"), "meow");
    assert_eq!(ns.cat("/L/shared.txt"), "backing version");
    assert_eq!(ns.cat("/R/r.txt"), "remote");
    assert_eq!(ns.ls("/R"), ["r.txt"]);
    assert_eq!(names_on_disk(&share), ["r.txt"]);
    assert_eq!(read(&share.join("r.txt")), "remote");
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow");
    assert_eq!(read(&ns.t.join("Target/shared.txt")), "backing version");
    // Within one file system, across two links, a rename just works.
    ns.link("/L2", "Target2");
    ns.view.rename(&p("/L/Cat.txt"), &p("/L2/Cat.txt"), none).unwrap();
    assert_eq!(read(&ns.t.join("Target2/Cat.txt")), "meow");
    assert!(!ns.t.join("Target/Cat.txt").exists());
}

#[test]
fn rule_24_hard_links_and_symlinks_behave_as_in_b() {
    let ns = Ns::new(LinuxStore);
    symlink("../x/y", ns.t.join("Target/rel")).unwrap();
    symlink("/etc", ns.t.join("Target/etc")).unwrap();
    fs::hard_link(ns.t.join("Target/Cat.txt"), ns.t.join("Target/Cat-hard.txt")).unwrap();
    ns.link("/Foo", "Target");

    // Hard links: count and identity as in B, both for one made in B and one made through V.
    let (a, b) =
        (ns.view.getattr(&p("/Foo/Cat.txt")).unwrap(), ns.view.getattr(&p("/Foo/Cat-hard.txt")).unwrap());
    assert_eq!((a.ino, a.nlink, b.nlink), (b.ino, 2, 2));
    ns.view.link(&p("/Foo/shared.txt"), &p("/Foo/shared2.txt")).unwrap();
    let (s1, s2) =
        (ns.view.getattr(&p("/Foo/shared.txt")).unwrap(), ns.view.getattr(&p("/Foo/shared2.txt")).unwrap());
    assert_eq!((s1.ino, s1.nlink), (s2.ino, 2));
    let real = fs::metadata(ns.t.join("Target/shared2.txt")).unwrap();
    assert_eq!((real.ino(), real.nlink()), (s1.ino, 2));

    // Symlink text unchanged, in both directions.
    assert_eq!(ns.view.readlink(&p("/Foo/rel")).unwrap(), b"../x/y");
    ns.view.symlink(b"/somewhere/else", &p("/Foo/made")).unwrap();
    assert_eq!(fs::read_link(ns.t.join("Target/made")).unwrap(), Path::new("/somewhere/else"));

    // A symlink to /etc inside B is shown as a symlink and never followed by the view.
    assert_eq!(ns.view.getattr(&p("/Foo/etc")).unwrap().kind, FileKind::Symlink);
    assert_eq!(ns.kind_listed("/Foo", "etc"), Some(FileKind::Symlink));
    assert_eq!(ns.view.readlink(&p("/Foo/etc")).unwrap(), b"/etc");
    assert_eq!(ns.view.readdir(&p("/Foo/etc")), Err(Error::NotDir));
    let through = ns.view.getattr(&p("/Foo/etc/passwd"));
    assert_eq!(through, Err(Error::Os(libc::ELOOP)), "lookup followed a symlink in B");
    assert_eq!(ns.view.open(&p("/Foo/etc"), OpenFlags::READ).map(|_| ()), Err(Error::Os(libc::ELOOP)));
}

#[test]
fn security_directory_swapped_for_a_symlink_in_b_is_not_followed() {
    let openat2 = Ns::new(LinuxStore);
    let fallback = Ns::with_backing(LinuxStore, LinuxBacking::without_openat2);
    for ns in [openat2, fallback] {
        let mode = if ns.view.backing().uses_openat2() { "openat2" } else { "openat fallback" };
        put(&ns.t.join("Target/dir/passwd"), "backing content");
        ns.link("/V", "Target");
        assert_eq!(ns.cat("/V/dir/passwd"), "backing content", "{mode}");

        fs::rename(ns.t.join("Target/dir"), ns.t.join("Target/moved")).unwrap();
        symlink("/etc", ns.t.join("Target/dir")).unwrap();

        // ELOOP: "a symlink where none may be followed", never /etc/passwd's attributes.
        let got = ns.view.getattr(&p("/V/dir/passwd"));
        assert_eq!(got, Err(Error::Os(libc::ELOOP)), "{mode}: /etc/passwd exposed?");
        let opened = ns.view.open(&p("/V/dir/passwd"), OpenFlags::READ).map(|_| ());
        assert_eq!(opened, Err(Error::Os(libc::ELOOP)), "{mode}: opened /etc/passwd through V?");
        assert_eq!(ns.view.readdir(&p("/V/dir")), Err(Error::NotDir), "{mode}");
        let created = ns.view.create(&p("/V/dir/planted"), 0o644, OpenFlags::READ_WRITE).map(|_| ());
        assert!(created.is_err(), "{mode}: created a file in /etc through V");
        assert!(!Path::new("/etc/planted").exists());
        assert_eq!(ns.view.getattr(&p("/V/dir")).unwrap().kind, FileKind::Symlink, "{mode}");
        assert_eq!(ns.cat("/V/moved/passwd"), "backing content", "{mode}");
    }
}

#[test]
fn rule_13_no_open_flag_slips_past_read_only() {
    // Regression: O_TRUNC (or O_APPEND) passed among the raw flags of a read-open reached the
    // store, which truncated a file of a read-only link.
    let ns = Ns::new(LinuxStore);
    ns.view.create_link(ns.flagged("/RO", "Target", true, false)).unwrap();
    for raw in [libc::O_TRUNC, libc::O_APPEND | libc::O_TRUNC, libc::O_RDWR | libc::O_TRUNC] {
        let flags = OpenFlags { read: true, raw, ..OpenFlags::default() };
        if let Ok(f) = ns.view.open(&p("/RO/Cat.txt"), flags) {
            assert!(ns.view.write(&f, 0, b"x").is_err(), "raw {raw:#x} opened for writing");
        }
        assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow", "raw {raw:#x}");
    }
}
