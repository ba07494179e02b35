//! Kept directories (View::keep_dirs) against a rename through the view that runs while a
//! walk to the renamed directory is under way: the walk must not be kept under the old name.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use bindfs_core::fake::{FakeBacking, FakeFile, FakeNode};
use bindfs_core::*;

/// Runs once, at the next `stat`: what another request does in the middle of this one.
type Hook = Box<dyn FnOnce() + Send>;
static HOOK: Mutex<Option<Hook>> = Mutex::new(None);

/// The in-memory store, with a hook in `stat` (which `in_dir` calls between its walk and
/// keeping the directory).
#[derive(Debug)]
struct W(FakeBacking);

impl Backing for W {
    type Node = FakeNode;
    type File = FakeFile;
    fn open_disk_root(&self) -> Result<FakeNode> {
        self.0.open_disk_root()
    }
    fn open_host(&self, p: &AbsPath) -> Result<FakeNode> {
        self.0.open_host(p)
    }
    fn lookup(&self, d: &FakeNode, n: &Name) -> Result<FakeNode> {
        self.0.lookup(d, n)
    }
    fn stat(&self, n: &FakeNode) -> Result<Attr> {
        let hook = HOOK.lock().unwrap().take();
        if let Some(h) = hook {
            h();
        }
        self.0.stat(n)
    }
    fn read_dir(&self, d: &FakeNode) -> Result<Vec<DirEntry>> {
        self.0.read_dir(d)
    }
    fn set_attr(&self, n: &FakeNode, c: &SetAttr) -> Result<Attr> {
        self.0.set_attr(n, c)
    }
    fn open(&self, n: &FakeNode, f: OpenFlags) -> Result<FakeFile> {
        self.0.open(n, f)
    }
    fn create(&self, d: &FakeNode, n: &Name, p: u32, f: OpenFlags) -> Result<(Attr, FakeFile)> {
        self.0.create(d, n, p, f)
    }
    fn read(&self, f: &FakeFile, o: u64, b: &mut [u8]) -> Result<usize> {
        self.0.read(f, o, b)
    }
    fn write(&self, f: &FakeFile, o: u64, b: &[u8]) -> Result<usize> {
        self.0.write(f, o, b)
    }
    fn mkdir(&self, d: &FakeNode, n: &Name, p: u32) -> Result<FakeNode> {
        self.0.mkdir(d, n, p)
    }
    fn mknod(&self, d: &FakeNode, n: &Name, k: FileKind, p: u32, r: u64) -> Result<FakeNode> {
        self.0.mknod(d, n, k, p, r)
    }
    fn symlink(&self, d: &FakeNode, n: &Name, t: &[u8]) -> Result<FakeNode> {
        self.0.symlink(d, n, t)
    }
    fn link(&self, x: &FakeNode, d: &FakeNode, n: &Name) -> Result<FakeNode> {
        self.0.link(x, d, n)
    }
    fn unlink(&self, d: &FakeNode, n: &Name) -> Result<()> {
        self.0.unlink(d, n)
    }
    fn rmdir(&self, d: &FakeNode, n: &Name) -> Result<()> {
        self.0.rmdir(d, n)
    }
    fn rename(&self, a: &FakeNode, an: &Name, b: &FakeNode, bn: &Name, f: RenameFlags) -> Result<()> {
        self.0.rename(a, an, b, bn, f)
    }
    fn readlink(&self, n: &FakeNode) -> Result<Vec<u8>> {
        self.0.readlink(n)
    }
    fn statfs(&self, n: &FakeNode) -> Result<StatFs> {
        self.0.statfs(n)
    }
    fn get_xattr(&self, n: &FakeNode, x: &[u8]) -> Result<Vec<u8>> {
        self.0.get_xattr(n, x)
    }
    fn list_xattr(&self, n: &FakeNode) -> Result<Vec<Vec<u8>>> {
        self.0.list_xattr(n)
    }
    fn set_xattr(&self, n: &FakeNode, x: &[u8], v: &[u8], m: XattrMode) -> Result<()> {
        self.0.set_xattr(n, x, v, m)
    }
    fn remove_xattr(&self, n: &FakeNode, x: &[u8]) -> Result<()> {
        self.0.remove_xattr(n, x)
    }
}

fn p(s: &str) -> VPath {
    VPath::parse(s).unwrap()
}

#[test]
fn rule_20_a_directory_renamed_during_a_walk_to_it_is_not_kept_under_its_old_name() {
    let s = FakeBacking::new("/vol");
    s.mkdir_p("/vol");
    s.mkdir_p("/t/Target/d");
    let mut v = View::new(W(s), CasePolicy::Sensitive);
    v.set_root_cache(std::time::Duration::from_secs(3600));
    v.keep_dirs(true);
    let v = Arc::new(v);
    let spec = LinkSpec {
        virt: p("/Foo"),
        target: Target::host("/t/Target").unwrap(),
        flags: LinkFlags::default(),
        exceptions: vec![],
    };
    v.create_link(spec).unwrap();
    let other = Arc::clone(&v);
    *HOOK.lock().unwrap() = Some(Box::new(move || {
        other.rename(&p("/Foo/d"), &p("/Foo/e"), RenameFlags::default()).unwrap();
    }));
    assert_eq!(v.getattr(&p("/Foo/d/x")).map(|_| ()), Err(Error::NotFound));
    v.mkdir(&p("/Foo/d"), 0o755).unwrap();
    let (_, f) = v.create(&p("/Foo/d/f"), 0o644, OpenFlags::READ_WRITE).unwrap();
    v.write(&f, 0, b"data").unwrap();
    assert_eq!(v.backing().0.kind("/t/Target/d/f"), Some(FileKind::File));
    assert_eq!(v.backing().0.kind("/t/Target/e/f"), None);
}
