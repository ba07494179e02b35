//! The rules of `docs/spec.md` again, on real temporary directories through
//! `View<LinuxBacking>`: each test checks what a user sees through the view and what the real
//! files on disk hold afterwards (read with `std::fs`, never through the view). Named after the
//! rule, like `core/tests/rules.rs`, which tests the same rules on the in-memory store.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bindfs_core::{
    CasePolicy, Error, FileKind, LinkFlags, LinkSpec, OpenFlags, RenameFlags, SetAttr, Target, VPath, View,
};
use bindfs_fuse::LinuxBacking;
use tempfile::TempDir;

fn p(s: &str) -> VPath {
    VPath::parse(s).unwrap()
}

/// Writes `data` at `path`, creating the missing directories.
fn put(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

/// The names in a real directory, sorted.
fn names_on_disk(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// A view over real directories: `disk` is the on-disk layer (the directory a view would be
/// mounted over), `t` holds the backing trees. Both start as `core/tests/rules.rs`'s store:
/// `disk/Foo/{old.txt, shared.txt}`, `disk/top.txt`, `t/Target/{Cat.txt, shared.txt}`,
/// `t/Target2/Dog.txt`, `t/Empty/`, `t/file.txt`.
struct Ns {
    // Dropped first: the view holds a descriptor of `disk`.
    view: View<LinuxBacking>,
    disk: PathBuf,
    t: PathBuf,
    tmp: TempDir,
}

impl Ns {
    fn new() -> Ns {
        Ns::with_backing(|b| b)
    }

    /// Like [`Ns::new`], adjusting the backing (e.g. to force the `openat` fallback).
    fn with_backing(adjust: impl FnOnce(LinuxBacking) -> LinuxBacking) -> Ns {
        let tmp = tempfile::tempdir().unwrap();
        let (disk, t) = (tmp.path().join("disk"), tmp.path().join("t"));
        put(&disk.join("Foo/old.txt"), "on disk");
        put(&disk.join("Foo/shared.txt"), "disk version");
        put(&disk.join("top.txt"), "top");
        put(&t.join("Target/Cat.txt"), "meow");
        put(&t.join("Target/shared.txt"), "backing version");
        put(&t.join("Target2/Dog.txt"), "woof");
        fs::create_dir_all(t.join("Empty")).unwrap();
        put(&t.join("file.txt"), "a file");
        let view = View::new(adjust(LinuxBacking::open(&disk).unwrap()), CasePolicy::Sensitive);
        Ns { view, disk, t, tmp }
    }

    /// A backing path under `t`, as the absolute POSIX string a link takes.
    fn host(&self, rel: &str) -> String {
        self.t.join(rel).to_str().unwrap().to_owned()
    }

    fn spec(&self, v: &str, b: &str) -> LinkSpec {
        LinkSpec {
            virt: p(v),
            target: Target::host(&self.host(b)).unwrap(),
            flags: LinkFlags::default(),
            exceptions: vec![],
        }
    }

    fn flagged(&self, v: &str, b: &str, read_only: bool, merged: bool) -> LinkSpec {
        LinkSpec { flags: LinkFlags { read_only, merged }, ..self.spec(v, b) }
    }

    /// A link whose target is another virtual path (rule 9).
    fn chained(&self, v: &str, target: &str) -> LinkSpec {
        LinkSpec {
            virt: p(v),
            target: Target::View(p(target)),
            flags: LinkFlags::default(),
            exceptions: vec![],
        }
    }

    fn link(&self, v: &str, b: &str) {
        self.view.create_link(self.spec(v, b)).unwrap();
    }

    /// The names the view lists in `dir`, sorted.
    fn ls(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.view.readdir(&p(dir)).unwrap().iter().map(|e| e.name.to_string()).collect();
        names.sort();
        names
    }

    fn kind_listed(&self, dir: &str, name: &str) -> Option<FileKind> {
        self.view.readdir(&p(dir)).unwrap().iter().find(|e| e.name.to_string() == name).map(|e| e.kind)
    }

    /// The whole content of `path`, read through the view.
    fn cat(&self, path: &str) -> String {
        let f = self.view.open(&p(path), OpenFlags::READ).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = self.view.read(&f, out.len() as u64, &mut buf).unwrap();
            if n == 0 {
                return String::from_utf8(out).unwrap();
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    /// Creates `path` through the view and writes `data` into it.
    fn write_new(&self, path: &str, data: &str) {
        let (_, f) = self.view.create(&p(path), 0o644, OpenFlags::READ_WRITE).unwrap();
        assert_eq!(self.view.write(&f, 0, data.as_bytes()).unwrap(), data.len());
    }

    /// Replaces the content of the existing `path` through the view.
    fn write(&self, path: &str, data: &str) {
        let flags = OpenFlags { truncate: true, ..OpenFlags::READ_WRITE };
        let f = self.view.open(&p(path), flags).unwrap();
        assert_eq!(self.view.write(&f, 0, data.as_bytes()).unwrap(), data.len());
    }
}

#[test]
fn rule_05_anchorless_links_show_with_the_backing_type_and_attributes() {
    let ns = Ns::new();
    ns.link("/New", "Target");
    ns.link("/NewFile", "file.txt");
    assert!(ns.view.links().iter().all(|l| l.anchorless));
    assert_eq!(ns.ls("/"), ["Foo", "New", "NewFile", "top.txt"]);
    assert_eq!(ns.kind_listed("/", "New"), Some(FileKind::Dir));
    assert_eq!(ns.kind_listed("/", "NewFile"), Some(FileKind::File));
    for (v, b) in [("/New", "Target"), ("/NewFile", "file.txt")] {
        let real = fs::metadata(ns.t.join(b)).unwrap();
        let shown = ns.view.getattr(&p(v)).unwrap();
        assert_eq!(
            (shown.ino, shown.dev, shown.size, shown.perm, shown.nlink, shown.uid),
            (real.ino(), real.dev(), real.size(), real.mode() & 0o7777, real.nlink(), real.uid()),
            "{v}"
        );
    }
    assert_eq!(ns.ls("/New"), ["Cat.txt", "shared.txt"]);
    assert_eq!(ns.cat("/NewFile"), "a file");
    // Nothing was created on disk for the synthesized names.
    assert_eq!(names_on_disk(&ns.disk), ["Foo", "top.txt"]);
    ns.view.remove_link(&p("/New")).unwrap();
    ns.view.remove_link(&p("/NewFile")).unwrap();
    assert_eq!(ns.ls("/"), ["Foo", "top.txt"]);
    assert_eq!(ns.view.getattr(&p("/New")), Err(Error::NotFound));
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "shared.txt"]);
}

#[test]
fn rule_06_shadow_link_hides_on_disk_content_and_restores_it() {
    let ns = Ns::new();
    ns.link("/Foo", "Target2");
    assert!(!ns.view.links()[0].anchorless);
    assert_eq!(ns.ls("/Foo"), ["Dog.txt"]);
    assert_eq!(ns.view.getattr(&p("/Foo/old.txt")), Err(Error::NotFound));
    assert_eq!(ns.view.getattr(&p("/Foo")).unwrap().ino, fs::metadata(ns.t.join("Target2")).unwrap().ino());
    // Hidden, not touched.
    assert_eq!(read(&ns.disk.join("Foo/old.txt")), "on disk");
    ns.view.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ns.ls("/Foo"), ["old.txt", "shared.txt"]);
    assert_eq!(ns.cat("/Foo/old.txt"), "on disk");
    assert_eq!(ns.view.getattr(&p("/Foo")).unwrap().ino, fs::metadata(ns.disk.join("Foo")).unwrap().ino());
    assert_eq!(names_on_disk(&ns.t.join("Target2")), ["Dog.txt"]);
}

#[test]
fn rule_07_backing_type_wins() {
    let ns = Ns::new();
    ns.link("/Foo", "file.txt");
    let a = ns.view.getattr(&p("/Foo")).unwrap();
    assert_eq!((a.kind, a.ino), (FileKind::File, fs::metadata(ns.t.join("file.txt")).unwrap().ino()));
    assert_eq!(ns.kind_listed("/", "Foo"), Some(FileKind::File));
    assert_eq!(ns.cat("/Foo"), "a file");
    assert_eq!(ns.view.readdir(&p("/Foo")), Err(Error::NotDir));
    assert_eq!(ns.view.getattr(&p("/Foo/old.txt")), Err(Error::NotDir));
    assert!(fs::metadata(ns.disk.join("Foo")).unwrap().is_dir());
}

#[test]
fn rule_08_exceptions_show_on_disk_content() {
    let ns = Ns::new();
    put(&ns.disk.join("Foo/keep/deep/x.txt"), "kept");
    put(&ns.t.join("Target/keep/other.txt"), "backing");
    let mut sp = ns.spec("/Foo", "Target");
    sp.exceptions = vec![p("/Foo/keep"), p("/Foo/old.txt")];
    ns.view.create_link(sp).unwrap();
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "keep", "old.txt", "shared.txt"]);
    assert_eq!(ns.cat("/Foo/old.txt"), "on disk");
    assert_eq!(ns.cat("/Foo/shared.txt"), "backing version");
    assert_eq!(ns.ls("/Foo/keep"), ["deep"]);
    assert_eq!(ns.cat("/Foo/keep/deep/x.txt"), "kept");
    assert_eq!(ns.view.getattr(&p("/Foo/keep/other.txt")), Err(Error::NotFound));
    // Changes through an exception land in the on-disk content, not in the backing.
    ns.write("/Foo/keep/deep/x.txt", "KEPT");
    assert_eq!(read(&ns.disk.join("Foo/keep/deep/x.txt")), "KEPT");
    ns.write_new("/Foo/keep/new.txt", "n");
    assert_eq!(read(&ns.disk.join("Foo/keep/new.txt")), "n");
    assert_eq!(names_on_disk(&ns.t.join("Target/keep")), ["other.txt"]);
    // An exception whose on-disk content goes away stops showing, even if the backing has it.
    fs::remove_dir_all(ns.disk.join("Foo/keep")).unwrap();
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "old.txt", "shared.txt"]);
}

#[test]
fn rule_09_chains_resolve_and_act_on_the_final_backing() {
    let ns = Ns::new();
    ns.link("/A", "Target");
    ns.view.create_link(ns.chained("/B", "/A")).unwrap();
    assert_eq!(ns.ls("/B"), ["Cat.txt", "shared.txt"]);
    assert_eq!(ns.cat("/B/Cat.txt"), "meow");
    ns.write("/B/Cat.txt", "purr");
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "purr");
    ns.write_new("/B/via-chain.txt", "c");
    assert_eq!(read(&ns.t.join("Target/via-chain.txt")), "c");
    // A chain into a file under another link's V.
    ns.link("/Foo", "Target2");
    ns.view.create_link(ns.chained("/D", "/Foo/Dog.txt")).unwrap();
    assert_eq!(ns.cat("/D"), "woof");
    assert_eq!(
        ns.view.getattr(&p("/D")).unwrap().ino,
        fs::metadata(ns.t.join("Target2/Dog.txt")).unwrap().ino()
    );
}

#[test]
fn rule_09_chain_through_a_read_only_link_stays_read_only() {
    let ns = Ns::new();
    ns.view.create_link(ns.flagged("/RO", "Target2", true, false)).unwrap();
    ns.view.create_link(ns.chained("/C", "/RO")).unwrap();
    assert_eq!(ns.cat("/C/Dog.txt"), "woof");
    assert_eq!(ns.view.open(&p("/C/Dog.txt"), OpenFlags::READ_WRITE).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(ns.view.unlink(&p("/C/Dog.txt")), Err(Error::ReadOnly));
    assert_eq!(ns.view.create(&p("/C/n"), 0o644, OpenFlags::READ_WRITE).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(ns.view.getattr(&p("/C/Dog.txt")).unwrap().perm & 0o222, 0);
    assert_eq!(read(&ns.t.join("Target2/Dog.txt")), "woof");
    assert_eq!(names_on_disk(&ns.t.join("Target2")), ["Dog.txt"]);
}

#[test]
fn rule_09_cycles_end_with_eloop_promptly() {
    let ns = Ns::new();
    fs::create_dir(ns.disk.join("X")).unwrap();
    fs::create_dir_all(ns.disk.join("Y/sub")).unwrap();
    // Cycles can be created (both ends exist on disk first), as on Windows.
    ns.view.create_link(ns.chained("/X", "/Y")).unwrap();
    ns.view.create_link(ns.chained("/Y", "/X")).unwrap();
    // A link into its own subtree loops too.
    fs::create_dir(ns.disk.join("Foo/sub")).unwrap();
    ns.view.create_link(ns.chained("/Foo", "/Foo/sub")).unwrap();
    let ns = Arc::new(ns);
    let (done, outcome) = mpsc::channel();
    let worker = Arc::clone(&ns);
    std::thread::spawn(move || {
        let v = &worker.view;
        let _ = done.send([
            v.getattr(&p("/X/a")).map(|_| ()),
            v.getattr(&p("/X")).map(|_| ()),
            v.readdir(&p("/Y")).map(|_| ()),
            v.open(&p("/Y/a"), OpenFlags::READ).map(|_| ()),
            v.create(&p("/X/new"), 0o644, OpenFlags::READ_WRITE).map(|_| ()),
            v.getattr(&p("/Foo/x")).map(|_| ()),
        ]);
    });
    // Not a timing assertion: a bound far above any machine's time, so a hang fails, not blocks.
    let results = outcome.recv_timeout(Duration::from_secs(300)).expect("resolving a cycle hung");
    for (i, r) in results.iter().enumerate() {
        assert_eq!(*r, Err(Error::Loop), "call {i}");
    }
    // The names of looping links still list, and nothing was created on disk.
    assert_eq!(ns.ls("/"), ["Foo", "X", "Y", "top.txt"]);
    assert!(names_on_disk(&ns.disk.join("X")).is_empty());
    assert_eq!(names_on_disk(&ns.disk.join("Y")), ["sub"]);
}

#[test]
fn rule_11_merged_shows_the_union_and_the_backing_wins() {
    let ns = Ns::new();
    put(&ns.disk.join("Foo/sub/disk.txt"), "d");
    put(&ns.t.join("Target/sub/back.txt"), "b");
    ns.view.create_link(ns.flagged("/Foo", "Target", false, true)).unwrap();
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "old.txt", "shared.txt", "sub"]);
    let listed = ns.view.readdir(&p("/Foo")).unwrap();
    assert_eq!(listed.iter().filter(|e| e.name.to_string() == "shared.txt").count(), 1);
    let shared = listed.iter().find(|e| e.name.to_string() == "shared.txt").unwrap();
    assert_eq!(shared.ino, fs::metadata(ns.t.join("Target/shared.txt")).unwrap().ino());
    assert_eq!(ns.cat("/Foo/shared.txt"), "backing version");
    assert_eq!(ns.cat("/Foo/old.txt"), "on disk");
    assert_eq!(ns.ls("/Foo/sub"), ["back.txt", "disk.txt"]);
    assert_eq!(ns.cat("/Foo/sub/disk.txt"), "d");
    // Merging copies nothing: each side keeps only its own entries.
    assert_eq!(names_on_disk(&ns.disk.join("Foo")), ["old.txt", "shared.txt", "sub"]);
    assert_eq!(names_on_disk(&ns.t.join("Target/sub")), ["back.txt"]);
    // Without MERGED the backing replaces V wholesale.
    ns.view.remove_link(&p("/Foo")).unwrap();
    ns.link("/Foo", "Target");
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "shared.txt", "sub"]);
    assert_eq!(ns.ls("/Foo/sub"), ["back.txt"]);
    // MERGED needs directories on both sides.
    let on_file = ns.flagged("/top.txt", "Target", false, true);
    assert_eq!(ns.view.create_link(on_file), Err(Error::MergedNeedsDirectory(p("/top.txt"))));
    let anchorless = ns.flagged("/New", "Target", false, true);
    assert_eq!(ns.view.create_link(anchorless), Err(Error::MergedNeedsDirectory(p("/New"))));
}

#[test]
fn rule_12_merged_creates_in_the_backing_and_deleting_unmasks() {
    let ns = Ns::new();
    put(&ns.disk.join("Foo/only/x"), "x");
    ns.view.create_link(ns.flagged("/Foo", "Target", false, true)).unwrap();
    ns.write_new("/Foo/new.txt", "fresh");
    assert_eq!(read(&ns.t.join("Target/new.txt")), "fresh");
    assert!(!ns.disk.join("Foo/new.txt").exists());
    ns.view.mkdir(&p("/Foo/newdir"), 0o755).unwrap();
    assert!(fs::metadata(ns.t.join("Target/newdir")).unwrap().is_dir());
    assert!(!ns.disk.join("Foo/newdir").exists());
    // A new entry masks a same-name entry of V; deleting it makes V's entry visible again.
    assert_eq!(ns.cat("/Foo/shared.txt"), "backing version");
    ns.view.unlink(&p("/Foo/shared.txt")).unwrap();
    assert!(!ns.t.join("Target/shared.txt").exists());
    assert_eq!(ns.cat("/Foo/shared.txt"), "disk version");
    assert_eq!(read(&ns.disk.join("Foo/shared.txt")), "disk version");
    ns.write_new("/Foo/old2.txt", "b");
    put(&ns.disk.join("Foo/old2.txt"), "d");
    assert_eq!(ns.cat("/Foo/old2.txt"), "b");
    fs::remove_file(ns.t.join("Target/old2.txt")).unwrap();
    assert_eq!(ns.cat("/Foo/old2.txt"), "d");
    // A directory only V has is created in the backing before a file goes in it.
    ns.write_new("/Foo/only/y", "y");
    assert_eq!(read(&ns.t.join("Target/only/y")), "y");
    assert_eq!(names_on_disk(&ns.disk.join("Foo/only")), ["x"]);
    assert_eq!(ns.ls("/Foo/only"), ["x", "y"]);
}

#[test]
fn rule_13_read_only_refuses_changes_and_clears_write_bits() {
    let ns = Ns::new();
    ns.view.create_link(ns.flagged("/Foo", "Target", true, false)).unwrap();
    let ro = Err(Error::ReadOnly);
    let v = &ns.view;
    assert_eq!(v.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).map(|_| ()), ro);
    let write_only = OpenFlags { read: false, write: true, ..OpenFlags::default() };
    assert_eq!(v.open(&p("/Foo/Cat.txt"), write_only).map(|_| ()), ro);
    let trunc = OpenFlags { truncate: true, ..OpenFlags::READ };
    assert_eq!(v.open(&p("/Foo/Cat.txt"), trunc).map(|_| ()), ro);
    assert_eq!(v.create(&p("/Foo/n"), 0o644, OpenFlags::READ_WRITE).map(|_| ()), ro);
    assert_eq!(v.mkdir(&p("/Foo/d"), 0o755).map(|_| ()), ro);
    assert_eq!(v.symlink(b"x", &p("/Foo/s")).map(|_| ()), ro);
    assert_eq!(v.unlink(&p("/Foo/Cat.txt")), ro);
    assert_eq!(v.rename(&p("/Foo/Cat.txt"), &p("/Foo/Cat2.txt"), RenameFlags::default()), ro);
    assert_eq!(v.rename(&p("/Foo/Cat.txt"), &p("/Cat.txt"), RenameFlags::default()), ro);
    assert_eq!(v.rename(&p("/top.txt"), &p("/Foo/top.txt"), RenameFlags::default()), ro);
    assert_eq!(v.link(&p("/Foo/Cat.txt"), &p("/cat-link")).map(|_| ()), ro);
    let chmod = SetAttr { perm: Some(0o600), ..SetAttr::default() };
    assert_eq!(v.setattr(&p("/Foo/Cat.txt"), &chmod).map(|_| ()), ro);
    let truncate = SetAttr { size: Some(0), ..SetAttr::default() };
    assert_eq!(v.setattr(&p("/Foo/Cat.txt"), &truncate).map(|_| ()), ro);
    assert_eq!(v.rmdir(&p("/Foo")), ro);
    // The mode shows no write bits; the real file keeps its own.
    let real = fs::metadata(ns.t.join("Target/Cat.txt")).unwrap().permissions().mode() & 0o7777;
    assert_ne!(real & 0o200, 0);
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")).unwrap().perm, real & !0o222);
    assert_eq!(v.getattr(&p("/Foo")).unwrap().perm & 0o222, 0);
    // Nothing changed on disk.
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow");
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(read(&ns.disk.join("top.txt")), "top");
    assert!(!ns.disk.join("cat-link").exists());
    // Reading works, and B itself stays writable: its changes show through V.
    assert_eq!(ns.cat("/Foo/Cat.txt"), "meow");
    fs::write(ns.t.join("Target/Cat.txt"), "purr").unwrap();
    assert_eq!(ns.cat("/Foo/Cat.txt"), "purr");
}

#[test]
fn rule_14_read_only_merged_keeps_on_disk_entries_writable() {
    let ns = Ns::new();
    ns.view.create_link(ns.flagged("/Foo", "Target", true, true)).unwrap();
    assert_eq!(ns.view.unlink(&p("/Foo/Cat.txt")), Err(Error::ReadOnly));
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().perm & 0o222, 0);
    assert_eq!(ns.view.getattr(&p("/Foo/shared.txt")).unwrap().perm & 0o222, 0);
    let real_old = fs::metadata(ns.disk.join("Foo/old.txt")).unwrap().mode() & 0o7777;
    assert_eq!(ns.view.getattr(&p("/Foo/old.txt")).unwrap().perm, real_old);
    ns.write("/Foo/old.txt", "ON DISK");
    assert_eq!(read(&ns.disk.join("Foo/old.txt")), "ON DISK");
    // New entries go to the first writable layer: V's own content.
    ns.write_new("/Foo/new.txt", "n");
    assert_eq!(read(&ns.disk.join("Foo/new.txt")), "n");
    assert!(!ns.t.join("Target/new.txt").exists());
    ns.view.unlink(&p("/Foo/old.txt")).unwrap();
    assert!(!ns.disk.join("Foo/old.txt").exists());
    // The masked on-disk shared.txt is untouched; the backing's copy is unchanged.
    assert_eq!(read(&ns.disk.join("Foo/shared.txt")), "disk version");
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow");
}

#[test]
fn rule_15_deepest_link_serves_each_path() {
    let ns = Ns::new();
    ns.link("/Foo/Bar", "Target");
    ns.link("/Foo", "Target2");
    assert_eq!(ns.ls("/Foo"), ["Bar", "Dog.txt"]);
    assert_eq!(ns.ls("/Foo/Bar"), ["Cat.txt", "shared.txt"]);
    ns.write_new("/Foo/Bar/deep.txt", "1");
    ns.write_new("/Foo/shallow.txt", "2");
    assert_eq!(read(&ns.t.join("Target/deep.txt")), "1");
    assert_eq!(read(&ns.t.join("Target2/shallow.txt")), "2");
    // The outer backing did not grow a Bar (rule 10).
    assert_eq!(names_on_disk(&ns.t.join("Target2")), ["Dog.txt", "shallow.txt"]);
}

#[test]
fn rule_16_later_links_win_but_never_hide_an_earlier_v() {
    for reverse in [false, true] {
        let ns = Ns::new();
        put(&ns.t.join("WithBar/Bar"), "a file named Bar");
        let (outer, inner) = (ns.spec("/Foo", "WithBar"), ns.spec("/Foo/Bar", "Target"));
        let order = if reverse { [inner, outer] } else { [outer, inner] };
        for s in order {
            ns.view.create_link(s).unwrap();
        }
        assert_eq!(ns.view.getattr(&p("/Foo/Bar")).unwrap().kind, FileKind::Dir, "reverse={reverse}");
        assert_eq!(ns.kind_listed("/Foo", "Bar"), Some(FileKind::Dir), "reverse={reverse}");
        assert_eq!(ns.ls("/Foo"), ["Bar"]);
        assert_eq!(ns.ls("/Foo/Bar"), ["Cat.txt", "shared.txt"]);
        assert_eq!(read(&ns.t.join("WithBar/Bar")), "a file named Bar");
    }
    // A directory that exists only to hold a deeper link is synthesized, read-only.
    let ns = Ns::new();
    put(&ns.disk.join("Foo/Mid/Deep/x"), "x");
    ns.link("/Foo/Mid/Deep", "Target");
    ns.link("/Foo", "Target2");
    assert_eq!(ns.ls("/Foo"), ["Dog.txt", "Mid"]);
    let mid = ns.view.getattr(&p("/Foo/Mid")).unwrap();
    assert_eq!((mid.kind, mid.perm), (FileKind::Dir, 0o555));
    assert_eq!(ns.cat("/Foo/Mid/Deep/Cat.txt"), "meow");
    assert_eq!(ns.view.rmdir(&p("/Foo/Mid")), Err(Error::NotEmpty));
    assert!(!ns.t.join("Target2/Mid").exists());
}

#[test]
fn rule_17_remove_needs_a_link_and_goes_deepest_first() {
    let ns = Ns::new();
    assert_eq!(ns.view.remove_link(&p("/Foo")).map(|_| ()), Err(Error::NoSuchLink(p("/Foo"))));
    ns.link("/A", "Target");
    ns.link("/A/B", "Target2");
    assert_eq!(
        ns.view.remove_link(&p("/A")).map(|_| ()),
        Err(Error::HasNestedLinks { link: p("/A"), nested: p("/A/B") })
    );
    assert_eq!(ns.ls("/A"), ["B", "Cat.txt", "shared.txt"]);
    ns.view.remove_link(&p("/A/B")).unwrap();
    ns.view.remove_link(&p("/A")).unwrap();
    assert!(ns.view.links().is_empty());
    assert_eq!(ns.ls("/"), ["Foo", "top.txt"]);
    // Removing links never removes files.
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(names_on_disk(&ns.t.join("Target2")), ["Dog.txt"]);
}

#[test]
fn rule_18_open_handles_survive_link_removal() {
    let ns = Ns::new();
    ns.link("/Foo", "Target");
    let f = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).unwrap();
    let r = ns.view.open(&p("/Foo/shared.txt"), OpenFlags::READ).unwrap();
    ns.view.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ns.ls("/Foo"), ["old.txt", "shared.txt"]);
    assert_eq!(ns.view.write(&f, 0, b"MEOW").unwrap(), 4);
    let mut buf = [0u8; 16];
    let n = ns.view.read(&f, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"MEOW");
    let n = ns.view.read(&r, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"backing version");
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "MEOW");
    assert_eq!(read(&ns.disk.join("Foo/shared.txt")), "disk version");
}

#[test]
fn rule_19_calls_through_v_act_on_b_and_removing_v_keeps_the_link() {
    let ns = Ns::new();
    ns.link("/Foo", "Empty");
    ns.write_new("/Foo/a", "12345");
    assert_eq!(read(&ns.t.join("Empty/a")), "12345");
    ns.view.rename(&p("/Foo/a"), &p("/Foo/b"), RenameFlags::default()).unwrap();
    assert_eq!(names_on_disk(&ns.t.join("Empty")), ["b"]);
    let truncate = SetAttr { size: Some(2), ..SetAttr::default() };
    assert_eq!(ns.view.setattr(&p("/Foo/b"), &truncate).unwrap().size, 2);
    assert_eq!(read(&ns.t.join("Empty/b")), "12");
    ns.view.mkdir(&p("/Foo/d"), 0o755).unwrap();
    assert_eq!(ns.view.rmdir(&p("/Foo")), Err(Error::NotEmpty));
    ns.view.rmdir(&p("/Foo/d")).unwrap();
    ns.view.unlink(&p("/Foo/b")).unwrap();
    assert!(names_on_disk(&ns.t.join("Empty")).is_empty());
    // Removing V removes B's directory; the link and V's on-disk directory stay.
    ns.view.rmdir(&p("/Foo")).unwrap();
    assert!(!ns.t.join("Empty").exists());
    assert_eq!(names_on_disk(&ns.disk.join("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(ns.view.links().len(), 1);
    assert_eq!(ns.view.getattr(&p("/Foo")), Err(Error::NotFound));
    assert_eq!(ns.view.rename(&p("/Foo"), &p("/Other"), RenameFlags::default()), Err(Error::Busy));
}

#[test]
fn rule_19_removing_v_acts_on_b_even_when_b_is_named_through_a_symlink() {
    // Regression: with B given as a path ending in a symlink, removing V removed the alias
    // (or failed with ENOTDIR) instead of acting on B itself.
    let ns = Ns::new();
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

#[test]
fn rule_20_resolution_happens_at_open_time() {
    let ns = Ns::new();
    ns.link("/Foo", "Target");
    fs::remove_dir_all(ns.t.join("Target")).unwrap();
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
    assert_eq!(ns.view.getattr(&p("/Foo")), Err(Error::NotFound));
    assert_eq!(ns.view.readdir(&p("/Foo")), Err(Error::NotFound));
    assert_eq!(ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ).map(|_| ()), Err(Error::NotFound));
    // Re-created: served again without re-linking.
    put(&ns.t.join("Target/Cat.txt"), "again");
    assert_eq!(ns.ls("/Foo"), ["Cat.txt"]);
    assert_eq!(ns.cat("/Foo/Cat.txt"), "again");
    // Replaced (a new inode under the same name): the next open sees the new file, while a
    // handle opened before keeps the old one.
    let old = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ).unwrap();
    let before = ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().ino;
    put(&ns.t.join("Target/Cat.txt.tmp"), "replaced");
    fs::rename(ns.t.join("Target/Cat.txt.tmp"), ns.t.join("Target/Cat.txt")).unwrap();
    let after = ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().ino;
    assert_ne!(after, before);
    assert_eq!(after, fs::metadata(ns.t.join("Target/Cat.txt")).unwrap().ino());
    assert_eq!(ns.cat("/Foo/Cat.txt"), "replaced");
    let mut buf = [0u8; 16];
    let n = ns.view.read(&old, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"again");
}

#[test]
fn rule_21_canonical_path_is_the_virtual_path() {
    let ns = Ns::new();
    put(&ns.t.join("Target/Sub/Deep.TXT"), "deep");
    ns.link("/Foo/Linked", "Target");
    for v in ["/Foo/Linked", "/Foo/Linked/Sub", "/Foo/Linked/Sub/Deep.TXT", "/Foo/old.txt"] {
        let canonical = ns.view.canonical_path(&p(v)).unwrap();
        assert_eq!(canonical, p(v));
        assert!(!canonical.to_string().contains(ns.tmp.path().to_str().unwrap()), "{canonical}");
    }
    ns.link("/Alias", "Target/Sub");
    assert_eq!(ns.view.canonical_path(&p("/Alias/Deep.TXT")).unwrap(), p("/Alias/Deep.TXT"));
    assert_eq!(ns.view.canonical_path(&p("/Foo/Linked/none")), Err(Error::NotFound));
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
    let ns = Ns::new();
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
    let ns = Ns::new();
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

/// Security: a directory inside B swapped for a symlink to /etc after the link was made does not
/// expose /etc through V, with `openat2` and with the per-component fallback.
#[test]
fn security_directory_swapped_for_a_symlink_in_b_is_not_followed() {
    let openat2 = Ns::new();
    let fallback = Ns::with_backing(LinuxBacking::without_openat2);
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
    let ns = Ns::new();
    ns.view.create_link(ns.flagged("/RO", "Target", true, false)).unwrap();
    for raw in [libc::O_TRUNC, libc::O_APPEND | libc::O_TRUNC, libc::O_RDWR | libc::O_TRUNC] {
        let flags = OpenFlags { read: true, raw, ..OpenFlags::default() };
        if let Ok(f) = ns.view.open(&p("/RO/Cat.txt"), flags) {
            assert!(ns.view.write(&f, 0, b"x").is_err(), "raw {raw:#x} opened for writing");
        }
        assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow", "raw {raw:#x}");
    }
}
