//! The rules of `docs/spec.md` on real temporary directories through a
//! [`View`] over a real backing store, written once and run on every store: the Linux store
//! (`backend-fuse/tests/rules_on_disk.rs`) and the Windows NT-API store
//! (`backend-winfsp/tests/store_rules.rs`, under Wine in CI), so the two cannot drift apart.
//!
//! Each test checks what a user sees through the view and what the real files hold afterwards,
//! read with `std::fs` (or, for what `std` cannot read on a platform, with the store's own
//! whole-path open: see [`Store::on_disk`]), never through the view. The tests are named after
//! the rule, like `core/tests/rules.rs`, which tests the same rules on the in-memory store.
//!
//! A store's test file runs every test here, each named after it, with
//! [`store_rule_tests!`](crate::store_rule_tests), which holds the one list of them. What only
//! one store can show (Linux modes, symlinks and `openat2`; Windows drive letters,
//! case-insensitive names, reparse points, security descriptors) stays in that store's own
//! file, using [`Ns`] as its harness.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use bindfs_core::{
    Backing, CasePolicy, Error, FileKind, LinkFlags, LinkSpec, OpenFlags, RenameFlags, SetAttr, Target,
    VPath, View,
};
use tempfile::TempDir;

/// What differs between the stores the shared rule tests run on.
pub trait Store: Copy + Send + Sync + 'static {
    /// The store's [`Backing`].
    type Backing: Backing + 'static;
    /// A store whose on-disk layer is the real directory `disk` (the directory a view would be
    /// mounted over).
    fn open(self, disk: &Path) -> Self::Backing;
    /// How views over this store compare names.
    fn policy(self) -> CasePolicy;
    /// The target of a link to the real path `path`, written as a user of this platform would.
    fn target(self, path: &Path) -> Target;
    /// What the real object at `path` is, read outside the view.
    fn on_disk(self, path: &Path) -> OnDisk;
}

/// The identity and attributes of a real object, as the platform reports them outside any view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OnDisk {
    /// Inode number or file id.
    pub ino: u64,
    /// Device or volume serial number.
    pub dev: u64,
    /// Size in bytes.
    pub size: u64,
    /// Permission bits, as the store reports them (`0o7777`).
    pub perm: u32,
    /// Number of hard links.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
}

/// The view path `s`.
pub fn p(s: &str) -> VPath {
    VPath::parse(s).unwrap()
}

/// Writes `data` at `path`, creating the missing directories.
pub fn put(path: &Path, data: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, data).unwrap();
}

/// The names in a real directory, sorted.
pub fn names_on_disk(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The content of a real file.
pub fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// A view over real directories: `disk` is the on-disk layer (the directory a view would be
/// mounted over), `t` holds the backing trees. Both start as `core/tests/rules.rs`'s store:
/// `disk/Foo/{old.txt, shared.txt}`, `disk/top.txt`, `t/Target/{Cat.txt, shared.txt}`,
/// `t/Target2/Dog.txt`, `t/Empty/`, `t/file.txt`.
#[derive(Debug)]
pub struct Ns<S: Store> {
    // Dropped first: the view holds a handle of `disk`.
    /// The view over `disk`.
    pub view: View<S::Backing>,
    /// The on-disk layer.
    pub disk: PathBuf,
    /// The backing trees.
    pub t: PathBuf,
    /// The temporary directory holding both.
    pub tmp: TempDir,
    /// The store the view runs on.
    pub store: S,
}

impl<S: Store> Ns<S> {
    /// The tree above, and a view over `disk` on `store`.
    pub fn new(store: S) -> Ns<S> {
        Ns::with_backing(store, |b| b)
    }

    /// Like [`Ns::new`], adjusting the backing (e.g. to force Linux's `openat` fallback).
    pub fn with_backing(store: S, adjust: impl FnOnce(S::Backing) -> S::Backing) -> Ns<S> {
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
        let view = View::new(adjust(store.open(&disk)), store.policy());
        Ns { view, disk, t, tmp, store }
    }

    /// What the real object at `path` is (see [`Store::on_disk`]).
    pub fn on_disk(&self, path: &Path) -> OnDisk {
        self.store.on_disk(path)
    }

    /// A link from `v` to the backing path `b` under `t`.
    pub fn spec(&self, v: &str, b: &str) -> LinkSpec {
        LinkSpec {
            virt: p(v),
            target: self.store.target(&self.t.join(b)),
            flags: LinkFlags::default(),
            exceptions: vec![],
        }
    }

    /// Like [`Ns::spec`], with flags.
    pub fn flagged(&self, v: &str, b: &str, read_only: bool, merged: bool) -> LinkSpec {
        LinkSpec { flags: LinkFlags { read_only, merged }, ..self.spec(v, b) }
    }

    /// A link whose target is another virtual path (rule 9).
    pub fn chained(&self, v: &str, target: &str) -> LinkSpec {
        LinkSpec {
            virt: p(v),
            target: Target::View(p(target)),
            flags: LinkFlags::default(),
            exceptions: vec![],
        }
    }

    /// Creates the link [`Ns::spec`] describes.
    pub fn link(&self, v: &str, b: &str) {
        self.view.create_link(self.spec(v, b)).unwrap();
    }

    /// The names the view lists in `dir`, sorted.
    pub fn ls(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> =
            self.view.readdir(&p(dir)).unwrap().iter().map(|e| e.name.to_string()).collect();
        names.sort();
        names
    }

    /// The kind the view lists for `name` in `dir`.
    pub fn kind_listed(&self, dir: &str, name: &str) -> Option<FileKind> {
        self.view.readdir(&p(dir)).unwrap().iter().find(|e| e.name.to_string() == name).map(|e| e.kind)
    }

    /// The whole content of `path`, read through the view.
    pub fn cat(&self, path: &str) -> String {
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
    pub fn write_new(&self, path: &str, data: &str) {
        let (_, f) = self.view.create(&p(path), 0o644, OpenFlags::READ_WRITE).unwrap();
        assert_eq!(self.view.write(&f, 0, data.as_bytes()).unwrap(), data.len());
    }

    /// Replaces the content of the existing `path` through the view.
    pub fn write(&self, path: &str, data: &str) {
        let flags = OpenFlags { truncate: true, ..OpenFlags::READ_WRITE };
        let f = self.view.open(&p(path), flags).unwrap();
        assert_eq!(self.view.write(&f, 0, data.as_bytes()).unwrap(), data.len());
    }
}

/// Rule 5: an anchorless link is synthesized with B's type and attributes and goes on removal.
pub fn rule_05_anchorless_links_show_with_the_backing_type_and_attributes<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/New", "Target");
    ns.link("/NewFile", "file.txt");
    assert!(ns.view.links().iter().all(|l| l.anchorless));
    assert_eq!(ns.ls("/"), ["Foo", "New", "NewFile", "top.txt"]);
    assert_eq!(ns.kind_listed("/", "New"), Some(FileKind::Dir));
    assert_eq!(ns.kind_listed("/", "NewFile"), Some(FileKind::File));
    for (v, b) in [("/New", "Target"), ("/NewFile", "file.txt")] {
        let real = ns.on_disk(&ns.t.join(b));
        let shown = ns.view.getattr(&p(v)).unwrap();
        assert_eq!(
            (shown.ino, shown.dev, shown.size, shown.perm, shown.nlink, shown.uid),
            (real.ino, real.dev, real.size, real.perm, real.nlink, real.uid),
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

/// Rule 6: a shadow link hides V's on-disk content, untouched, until removed.
pub fn rule_06_shadow_link_hides_on_disk_content_and_restores_it<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/Foo", "Target2");
    assert!(!ns.view.links()[0].anchorless);
    assert_eq!(ns.ls("/Foo"), ["Dog.txt"]);
    assert_eq!(ns.view.getattr(&p("/Foo/old.txt")), Err(Error::NotFound));
    assert_eq!(ns.view.getattr(&p("/Foo")).unwrap().ino, ns.on_disk(&ns.t.join("Target2")).ino);
    // Hidden, not touched.
    assert_eq!(read(&ns.disk.join("Foo/old.txt")), "on disk");
    ns.view.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ns.ls("/Foo"), ["old.txt", "shared.txt"]);
    assert_eq!(ns.cat("/Foo/old.txt"), "on disk");
    assert_eq!(ns.view.getattr(&p("/Foo")).unwrap().ino, ns.on_disk(&ns.disk.join("Foo")).ino);
    assert_eq!(names_on_disk(&ns.t.join("Target2")), ["Dog.txt"]);
}

/// Rule 7: a file B over an on-disk directory V makes V that file.
pub fn rule_07_backing_type_wins<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/Foo", "file.txt");
    let a = ns.view.getattr(&p("/Foo")).unwrap();
    assert_eq!((a.kind, a.ino), (FileKind::File, ns.on_disk(&ns.t.join("file.txt")).ino));
    assert_eq!(ns.kind_listed("/", "Foo"), Some(FileKind::File));
    assert_eq!(ns.cat("/Foo"), "a file");
    assert_eq!(ns.view.readdir(&p("/Foo")), Err(Error::NotDir));
    assert_eq!(ns.view.getattr(&p("/Foo/old.txt")), Err(Error::NotDir));
    assert!(fs::metadata(ns.disk.join("Foo")).unwrap().is_dir());
}

/// Rule 8: exceptions show, and change, the on-disk content below V.
pub fn rule_08_exceptions_show_on_disk_content<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 9: a link to another link's V reads and writes the final backing.
pub fn rule_09_chains_resolve_and_act_on_the_final_backing<S: Store>(store: S) {
    let ns = Ns::new(store);
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
    assert_eq!(ns.view.getattr(&p("/D")).unwrap().ino, ns.on_disk(&ns.t.join("Target2/Dog.txt")).ino);
}

/// Rule 9 with rule 13: a chain through a read-only link is read-only.
pub fn rule_09_chain_through_a_read_only_link_stays_read_only<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 9: resolving a cycle of links fails with `Loop`, never hangs.
pub fn rule_09_cycles_end_with_eloop_promptly<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 11: MERGED shows the union, B wins a name clash, and needs directories.
pub fn rule_11_merged_shows_the_union_and_the_backing_wins<S: Store>(store: S) {
    let ns = Ns::new(store);
    put(&ns.disk.join("Foo/sub/disk.txt"), "d");
    put(&ns.t.join("Target/sub/back.txt"), "b");
    ns.view.create_link(ns.flagged("/Foo", "Target", false, true)).unwrap();
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "old.txt", "shared.txt", "sub"]);
    let listed = ns.view.readdir(&p("/Foo")).unwrap();
    assert_eq!(listed.iter().filter(|e| e.name.to_string() == "shared.txt").count(), 1);
    let shared = listed.iter().find(|e| e.name.to_string() == "shared.txt").unwrap();
    assert_eq!(shared.ino, ns.on_disk(&ns.t.join("Target/shared.txt")).ino);
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

/// Rule 12: under MERGED new entries go to B, and deleting B's entry unmasks V's.
pub fn rule_12_merged_creates_in_the_backing_and_deleting_unmasks<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 13: READ_ONLY refuses every change through V and shows no write bits.
pub fn rule_13_read_only_refuses_changes_and_clears_write_bits<S: Store>(store: S) {
    let ns = Ns::new(store);
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
    let real = ns.on_disk(&ns.t.join("Target/Cat.txt")).perm;
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

/// Rule 14: READ_ONLY with MERGED keeps V's own entries writable.
pub fn rule_14_read_only_merged_keeps_on_disk_entries_writable<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.view.create_link(ns.flagged("/Foo", "Target", true, true)).unwrap();
    assert_eq!(ns.view.unlink(&p("/Foo/Cat.txt")), Err(Error::ReadOnly));
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().perm & 0o222, 0);
    assert_eq!(ns.view.getattr(&p("/Foo/shared.txt")).unwrap().perm & 0o222, 0);
    let real_old = ns.on_disk(&ns.disk.join("Foo/old.txt")).perm;
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

/// Rule 15: each path is served by its deepest link.
pub fn rule_15_deepest_link_serves_each_path<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 16: a later link never hides an earlier V, in either order.
pub fn rule_16_later_links_win_but_never_hide_an_earlier_v<S: Store>(store: S) {
    for reverse in [false, true] {
        let ns = Ns::new(store);
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
    let ns = Ns::new(store);
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

/// Rule 17: removal needs a link, goes deepest first and removes no file.
pub fn rule_17_remove_needs_a_link_and_goes_deepest_first<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 18: files opened through a link keep working after its removal.
pub fn rule_18_open_handles_survive_link_removal<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 18: a directory opened through a link keeps listing the directory it opened, after
/// the link is removed and after that directory is renamed in B.
pub fn rule_18_an_open_directory_keeps_listing_what_it_opened<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/Foo", "Target");
    let names = |dir| {
        let mut names: Vec<String> =
            ns.view.list_open(dir).unwrap().entries.iter().map(|e| e.name.to_string()).collect();
        names.sort();
        names
    };
    let dir = ns.view.open_dir(&p("/Foo")).unwrap();
    ns.view.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ns.ls("/Foo"), ["old.txt", "shared.txt"]);
    assert_eq!(names(&dir), ["Cat.txt", "shared.txt"]);
    // Listed afresh each time: changes in B show; a rename of B does not lose it.
    put(&ns.t.join("Target/new.txt"), "n");
    fs::rename(ns.t.join("Target"), ns.t.join("Moved")).unwrap();
    assert_eq!(names(&dir), ["Cat.txt", "new.txt", "shared.txt"]);
    assert_eq!(names_on_disk(&ns.disk.join("Foo")), ["old.txt", "shared.txt"]);
}

/// Rule 19: calls through V act on B; removing V removes B and keeps the link.
pub fn rule_19_calls_through_v_act_on_b_and_removing_v_keeps_the_link<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 19: a directory through V opens as in B: for reading, not for writing (`IsDir`).
pub fn rule_19_a_directory_opens_for_reading_only<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/Foo", "Target");
    let write_only = OpenFlags { read: false, write: true, ..OpenFlags::default() };
    let truncate = OpenFlags { truncate: true, ..OpenFlags::READ };
    for (path, what) in [("/Foo", "a linked directory"), ("/Foo/Sub", "a directory in B"), ("/", "the root")]
    {
        if path == "/Foo/Sub" {
            fs::create_dir(ns.t.join("Target/Sub")).unwrap();
        }
        for flags in [OpenFlags::READ_WRITE, write_only, truncate] {
            let opened = ns.view.open(&p(path), flags).map(|_| ());
            assert_eq!(opened, Err(Error::IsDir), "{what} opened with {flags:?}");
        }
        assert!(ns.view.open(&p(path), OpenFlags::READ).is_ok(), "{what}");
    }
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "Sub", "shared.txt"]);
}

/// Rule 19: removing a file V removes the file B, renaming it renames B, and the link stays.
pub fn rule_19_removing_a_file_v_removes_b_and_keeps_the_link<S: Store>(store: S) {
    let ns = Ns::new(store);
    ns.link("/File", "file.txt");
    ns.link("/Foo/top.txt", "Target/Cat.txt");
    assert_eq!(ns.cat("/Foo/top.txt"), "meow");
    ns.view.unlink(&p("/File")).unwrap();
    assert!(!ns.t.join("file.txt").exists());
    ns.view.unlink(&p("/Foo/top.txt")).unwrap();
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["shared.txt"]);
    // The on-disk files V shadowed, and the links, stay.
    assert_eq!(read(&ns.disk.join("top.txt")), "top");
    assert_eq!(ns.view.links().len(), 2);
    assert_eq!(ns.view.getattr(&p("/File")), Err(Error::NotFound));
    assert_eq!(ns.view.getattr(&p("/Foo/top.txt")), Err(Error::NotFound));
    // B made again: served again (rule 20).
    put(&ns.t.join("file.txt"), "again");
    assert_eq!(ns.cat("/File"), "again");
}

/// Rule 20: links resolve when a path is opened: B gone, back, replaced.
pub fn rule_20_resolution_happens_at_open_time<S: Store>(store: S) {
    let ns = Ns::new(store);
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
    // Moved aside first: Windows refuses to rename over a file open elsewhere unless the file
    // system offers POSIX rename semantics (NTFS does, Wine does not).
    put(&ns.t.join("Target/Cat.txt.tmp"), "replaced");
    fs::rename(ns.t.join("Target/Cat.txt"), ns.t.join("Cat.txt.old")).unwrap();
    fs::rename(ns.t.join("Target/Cat.txt.tmp"), ns.t.join("Target/Cat.txt")).unwrap();
    let after = ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().ino;
    assert_ne!(after, before);
    assert_eq!(after, ns.on_disk(&ns.t.join("Target/Cat.txt")).ino);
    assert_eq!(ns.cat("/Foo/Cat.txt"), "replaced");
    let mut buf = [0u8; 16];
    let n = ns.view.read(&old, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"again");
}

/// Rule 21: an entry reached through V is named by its virtual path, never B's.
pub fn rule_21_canonical_path_is_the_virtual_path<S: Store>(store: S) {
    let ns = Ns::new(store);
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

/// Rule 24: a hard link made in B keeps its count and identity through V.
pub fn rule_24_hard_links_made_in_b_keep_their_count_and_identity<S: Store>(store: S) {
    let ns = Ns::new(store);
    fs::hard_link(ns.t.join("Target/Cat.txt"), ns.t.join("Target/Cat-hard.txt")).unwrap();
    ns.link("/Foo", "Target");
    let (a, b) =
        (ns.view.getattr(&p("/Foo/Cat.txt")).unwrap(), ns.view.getattr(&p("/Foo/Cat-hard.txt")).unwrap());
    let real = ns.on_disk(&ns.t.join("Target/Cat-hard.txt"));
    assert_eq!((a.ino, a.nlink, b.ino, b.nlink), (real.ino, 2, real.ino, 2));
    assert_eq!(ns.ls("/Foo"), ["Cat-hard.txt", "Cat.txt", "shared.txt"]);
    // Written through one name, read through the other, in the view and on disk.
    ns.write("/Foo/Cat-hard.txt", "purr");
    assert_eq!(ns.cat("/Foo/Cat.txt"), "purr");
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "purr");
}

/// One `#[test]` per shared rule test of this file on the store `$store`, each named after it:
/// `store_rule_tests!(LinuxStore);`. The macro holds the only list of these tests, so every
/// store runs all of them; a unit test below checks the list against the functions here.
#[macro_export]
macro_rules! store_rule_tests {
    ($store:expr) => {
        $crate::store_rule_tests!(@list tests $store);
    };
    // The one list, handed to the arm named by `$then`.
    (@list $then:ident $($arg:tt)*) => {
        $crate::store_rule_tests! { @$then $($arg)*;
            rule_05_anchorless_links_show_with_the_backing_type_and_attributes,
            rule_06_shadow_link_hides_on_disk_content_and_restores_it,
            rule_07_backing_type_wins,
            rule_08_exceptions_show_on_disk_content,
            rule_09_chains_resolve_and_act_on_the_final_backing,
            rule_09_chain_through_a_read_only_link_stays_read_only,
            rule_09_cycles_end_with_eloop_promptly,
            rule_11_merged_shows_the_union_and_the_backing_wins,
            rule_12_merged_creates_in_the_backing_and_deleting_unmasks,
            rule_13_read_only_refuses_changes_and_clears_write_bits,
            rule_14_read_only_merged_keeps_on_disk_entries_writable,
            rule_15_deepest_link_serves_each_path,
            rule_16_later_links_win_but_never_hide_an_earlier_v,
            rule_17_remove_needs_a_link_and_goes_deepest_first,
            rule_18_open_handles_survive_link_removal,
            rule_18_an_open_directory_keeps_listing_what_it_opened,
            rule_19_calls_through_v_act_on_b_and_removing_v_keeps_the_link,
            rule_19_a_directory_opens_for_reading_only,
            rule_19_removing_a_file_v_removes_b_and_keeps_the_link,
            rule_20_resolution_happens_at_open_time,
            rule_21_canonical_path_is_the_virtual_path,
            rule_24_hard_links_made_in_b_keep_their_count_and_identity,
        }
    };
    (@tests $store:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::store_rules::$name($store);
            }
        )*
    };
    (@names; $($name:ident),* $(,)?) => {
        &[$(stringify!($name)),*]
    };
}

/// Every test above, by name (the list [`store_rule_tests!`](crate::store_rule_tests) runs).
pub const RULE_TESTS: &[&str] = crate::store_rule_tests!(@list names);

#[cfg(test)]
mod tests {
    /// [`super::RULE_TESTS`] names every public test function of this file, and nothing else.
    #[test]
    fn the_list_names_every_shared_rule_test() {
        let source = include_str!("store_rules.rs");
        let mut defined: Vec<&str> = source
            .lines()
            .filter_map(|l| l.strip_prefix("pub fn "))
            .filter_map(|l| l.split(['<', '(']).next())
            .filter(|n| n.starts_with("rule_"))
            .collect();
        let mut listed = super::RULE_TESTS.to_vec();
        defined.sort_unstable();
        listed.sort_unstable();
        assert_eq!(defined, listed);
    }
}
