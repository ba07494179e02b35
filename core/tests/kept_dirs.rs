//! Kept directories and roots (View::keep_dirs, View::set_root_cache) against what other
//! requests and other clients do to them: a rename through the view that runs while a walk to
//! the renamed directory is under way, and a directory or link root replaced on a remote store,
//! whose kept handle goes stale. A stale handle that is not kept is an error, not an absence.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use bindfs_core::fake::{FakeBacking, FakeFile, FakeNode};
use bindfs_core::*;

/// Runs once, at the next `stat`: what another request does in the middle of this one.
type Hook = Box<dyn FnOnce() + Send>;

/// The in-memory store, with a hook in `stat` (which `in_dir` calls between its walk and
/// keeping the directory), and handles that answer as a remote store's do once the file they
/// were opened on is gone (`ESTALE` on NFS): every call on such a handle, or in such a
/// directory, fails with [`Error::Stale`].
struct W {
    store: FakeBacking,
    hook: Mutex<Option<Hook>>,
    stale: Mutex<Vec<FakeNode>>,
}

impl std::fmt::Debug for W {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.store.fmt(f)
    }
}

impl W {
    fn new(store: FakeBacking) -> W {
        W { store, hook: Mutex::new(None), stale: Mutex::new(Vec::new()) }
    }

    fn live(&self, n: &FakeNode) -> Result<()> {
        if self.stale.lock().unwrap().contains(n) {
            return Err(Error::Stale);
        }
        Ok(())
    }
}

impl Backing for W {
    type Node = FakeNode;
    type File = FakeFile;
    fn open_disk_root(&self) -> Result<FakeNode> {
        self.store.open_disk_root()
    }
    fn open_host(&self, p: &AbsPath) -> Result<FakeNode> {
        self.store.open_host(p)
    }
    fn lookup(&self, d: &FakeNode, n: &Name) -> Result<FakeNode> {
        self.live(d)?;
        self.store.lookup(d, n)
    }
    fn stat(&self, n: &FakeNode) -> Result<Attr> {
        let hook = self.hook.lock().unwrap().take();
        if let Some(h) = hook {
            h();
        }
        self.live(n)?;
        self.store.stat(n)
    }
    fn read_dir(&self, d: &FakeNode) -> Result<Vec<DirEntry>> {
        self.live(d)?;
        self.store.read_dir(d)
    }
    fn set_attr(&self, n: &FakeNode, c: &SetAttr) -> Result<Attr> {
        self.live(n)?;
        self.store.set_attr(n, c)
    }
    fn open(&self, n: &FakeNode, f: OpenFlags) -> Result<FakeFile> {
        self.live(n)?;
        self.store.open(n, f)
    }
    fn file_node(&self, f: &FakeFile) -> Result<FakeNode> {
        self.store.file_node(f)
    }
    fn set_len(&self, f: &FakeFile, size: u64) -> Result<()> {
        self.store.set_len(f, size)
    }
    fn create(&self, d: &FakeNode, n: &Name, p: u32, f: OpenFlags) -> Result<(Attr, FakeFile)> {
        self.live(d)?;
        self.store.create(d, n, p, f)
    }
    fn read(&self, f: &FakeFile, o: u64, b: &mut [u8]) -> Result<usize> {
        self.store.read(f, o, b)
    }
    fn write(&self, f: &FakeFile, o: u64, b: &[u8]) -> Result<usize> {
        self.store.write(f, o, b)
    }
    fn mkdir(&self, d: &FakeNode, n: &Name, p: u32) -> Result<FakeNode> {
        self.live(d)?;
        self.store.mkdir(d, n, p)
    }
    fn mknod(&self, d: &FakeNode, n: &Name, k: FileKind, p: u32, r: u64) -> Result<FakeNode> {
        self.store.mknod(d, n, k, p, r)
    }
    fn symlink(&self, d: &FakeNode, n: &Name, t: &[u8]) -> Result<FakeNode> {
        self.store.symlink(d, n, t)
    }
    fn link(&self, x: &FakeNode, d: &FakeNode, n: &Name) -> Result<FakeNode> {
        self.store.link(x, d, n)
    }
    fn unlink(&self, d: &FakeNode, n: &Name) -> Result<()> {
        self.live(d)?;
        self.store.unlink(d, n)
    }
    fn rmdir(&self, d: &FakeNode, n: &Name) -> Result<()> {
        self.live(d)?;
        self.store.rmdir(d, n)
    }
    fn rename(&self, a: &FakeNode, an: &Name, b: &FakeNode, bn: &Name, f: RenameFlags) -> Result<()> {
        self.store.rename(a, an, b, bn, f)
    }
    fn readlink(&self, n: &FakeNode) -> Result<Vec<u8>> {
        self.store.readlink(n)
    }
    fn statfs(&self, n: &FakeNode) -> Result<StatFs> {
        self.store.statfs(n)
    }
    fn get_xattr(&self, n: &FakeNode, x: &[u8]) -> Result<Vec<u8>> {
        self.store.get_xattr(n, x)
    }
    fn list_xattr(&self, n: &FakeNode) -> Result<Vec<Vec<u8>>> {
        self.store.list_xattr(n)
    }
    fn set_xattr(&self, n: &FakeNode, x: &[u8], v: &[u8], m: XattrMode) -> Result<()> {
        self.store.set_xattr(n, x, v, m)
    }
    fn remove_xattr(&self, n: &FakeNode, x: &[u8]) -> Result<()> {
        self.store.remove_xattr(n, x)
    }
}

fn p(s: &str) -> VPath {
    VPath::parse(s).unwrap()
}

/// A view keeping directories for an hour, with link /Foo to /t/Target, which holds directory
/// `d` and the files `files`.
fn view_keeping_dirs(files: &[&str]) -> View<W> {
    let s = FakeBacking::new("/vol");
    s.mkdir_p("/vol");
    s.mkdir_p("/t/Target/d");
    files.iter().for_each(|f| s.write_file(f, b"1"));
    let mut v = View::new(W::new(s), CasePolicy::Sensitive);
    v.set_root_cache(std::time::Duration::from_secs(3600));
    v.keep_dirs(true);
    let spec = LinkSpec {
        virt: p("/Foo"),
        target: Target::host("/t/Target").unwrap(),
        flags: LinkFlags::default(),
        exceptions: vec![],
    };
    v.create_link(spec).unwrap();
    v
}

#[test]
fn rule_20_a_directory_renamed_during_a_walk_to_it_is_not_kept_under_its_old_name() {
    let v = Arc::new(view_keeping_dirs(&[]));
    let other = Arc::clone(&v);
    *v.backing().hook.lock().unwrap() = Some(Box::new(move || {
        other.rename(&p("/Foo/d"), &p("/Foo/e"), RenameFlags::default()).unwrap();
    }));
    assert_eq!(v.getattr(&p("/Foo/d/x")).map(|_| ()), Err(Error::NotFound));
    v.mkdir(&p("/Foo/d"), 0o755).unwrap();
    let (_, f) = v.create(&p("/Foo/d/f"), 0o644, OpenFlags::READ_WRITE).unwrap();
    v.write(&f, 0, b"data").unwrap();
    assert_eq!(v.backing().store.kind("/t/Target/d/f"), Some(FileKind::File));
    assert_eq!(v.backing().store.kind("/t/Target/e/f"), None);
}

/// Keeps the handle of backing directory `dir` (shown at `virt`, holding `old`), has another
/// client of the share replace the directory with one holding `new` (the kept handle is then
/// stale), and checks that the view shows the new directory at once.
fn replaced_remotely(v: &View<W>, virt: &str, dir: &str) {
    assert!(v.getattr(&p(&format!("{virt}/old"))).is_ok());
    let store = &v.backing().store;
    let kept = store.open_host(&AbsPath::parse(dir, Syntax::Posix).unwrap()).unwrap();
    store.remove_all(dir);
    store.mkdir_p(dir);
    store.write_file(&format!("{dir}/new"), b"2");
    v.backing().stale.lock().unwrap().push(kept);
    assert_eq!(v.getattr(&p(&format!("{virt}/old"))).map(|_| ()), Err(Error::NotFound));
    assert!(v.getattr(&p(&format!("{virt}/new"))).is_ok());
}

#[test]
fn rule_20_a_kept_directory_whose_handle_went_stale_is_walked_to_again() {
    let v = view_keeping_dirs(&["/t/Target/d/old"]);
    replaced_remotely(&v, "/Foo/d", "/t/Target/d");
    let (_, f) = v.create(&p("/Foo/d/f"), 0o644, OpenFlags::READ_WRITE).unwrap();
    v.write(&f, 0, b"data").unwrap();
    assert_eq!(v.backing().store.read_file("/t/Target/d/f").as_deref(), Some(&b"data"[..]));
}

#[test]
fn rule_20_a_kept_link_root_whose_handle_went_stale_is_opened_again() {
    let v = view_keeping_dirs(&["/t/Target/old"]);
    replaced_remotely(&v, "/Foo", "/t/Target");
    v.unlink(&p("/Foo/new")).unwrap();
    assert_eq!(v.backing().store.kind("/t/Target/new"), None);
}

#[test]
fn a_stale_handle_is_an_error_not_an_absent_name() {
    // Not kept, so nothing to open again: the store's answer is the caller's.
    let s = FakeBacking::new("/vol");
    s.mkdir_p("/vol/V");
    s.mkdir_p("/t/B");
    let v = View::new(W::new(s), CasePolicy::Sensitive);
    let at_v = v.backing().store.open_host(&AbsPath::parse("/vol/V", Syntax::Posix).unwrap()).unwrap();
    v.backing().stale.lock().unwrap().push(at_v);
    let spec = LinkSpec {
        virt: p("/V"),
        target: Target::host("/t/B").unwrap(),
        flags: LinkFlags::default(),
        exceptions: vec![],
    };
    // A stale V is not an anchorless one.
    assert_eq!(v.create_link(spec).map(|_| ()), Err(Error::Stale));
    assert_eq!(v.getattr(&p("/V")).map(|_| ()), Err(Error::Stale));
}
