//! An in-memory [`Backing`] for fast tests of the rules, with no OS underneath.
//!
//! One tree holds every host path (`/t/Target`, `/vol` ...); the on-disk layer is a directory
//! of it named at construction. [`FakeBacking::new_device`] makes a directory the root of a
//! separate file system, so renames and hard links across it fail with
//! [`Error::CrossDevice`] as on a real system (rule 23). Removed objects stay readable through
//! handles opened before (rule 18). Host paths are walked without following symlinks. Objects
//! keep a creation time and Windows attribute bits, so the core's handling of them is tested.
//!
//! The fixture methods (`write_file`, `mkdir_p`, ...) act on host paths directly, as a test
//! changing the backing behind the view's back would; they panic on misuse, since they are
//! for tests only.

use std::collections::{BTreeMap, HashMap};

use parking_lot::Mutex;

use crate::backing::{
    Attr, Backing, DirEntry, FileKind, OpenFlags, RenameFlags, SetAttr, SetTime, StatFs, Timestamp, XattrMode,
};
use crate::error::{Error, Result};
use crate::name::{CasePolicy, Name};
use crate::path::{AbsPath, Syntax};

/// A handle to an object of the fake store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FakeNode(u64);

/// An open file of the fake store.
#[derive(Debug)]
pub struct FakeFile {
    node: u64,
    flags: OpenFlags,
}

#[derive(Debug)]
enum Content {
    /// Children keyed by the case policy's key: (stored name, node).
    Dir(BTreeMap<Vec<u8>, (Name, u64)>),
    File(Vec<u8>),
    Symlink(Vec<u8>),
    Special(FileKind, u64),
}

#[derive(Debug)]
struct Obj {
    content: Content,
    perm: u32,
    uid: u32,
    gid: u32,
    nlink: u64,
    dev: u64,
    mtime: Timestamp,
    ctime: Timestamp,
    atime: Timestamp,
    btime: Timestamp,
    win_attributes: u32,
    xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
}

#[derive(Debug)]
struct Tree {
    objs: HashMap<u64, Obj>,
    next_ino: u64,
    next_dev: u64,
    clock: i64,
}

const ROOT: u64 = 1;

/// An in-memory store; see the module documentation.
#[derive(Debug)]
pub struct FakeBacking {
    tree: Mutex<Tree>,
    disk_root: AbsPath,
    policy: CasePolicy,
}

fn abs(path: &str) -> AbsPath {
    match AbsPath::parse(path, Syntax::Posix) {
        Ok(p) => p,
        Err(e) => panic!("fake store: invalid path {path:?}: {e}"),
    }
}

impl Tree {
    fn tick(&mut self) -> Timestamp {
        self.clock += 1;
        Timestamp { secs: self.clock, nanos: 0 }
    }

    fn obj(&self, id: u64) -> Result<&Obj> {
        self.objs.get(&id).ok_or(Error::NotFound)
    }

    fn obj_mut(&mut self, id: u64) -> Result<&mut Obj> {
        self.objs.get_mut(&id).ok_or(Error::NotFound)
    }

    fn children(&self, dir: u64) -> Result<&BTreeMap<Vec<u8>, (Name, u64)>> {
        match &self.obj(dir)?.content {
            Content::Dir(c) => Ok(c),
            _ => Err(Error::NotDir),
        }
    }

    fn children_mut(&mut self, dir: u64) -> Result<&mut BTreeMap<Vec<u8>, (Name, u64)>> {
        match &mut self.obj_mut(dir)?.content {
            Content::Dir(c) => Ok(c),
            _ => Err(Error::NotDir),
        }
    }

    fn new_obj(&mut self, dir: u64, content: Content, perm: u32) -> Result<u64> {
        let dev = self.obj(dir)?.dev;
        let now = self.tick();
        let id = self.next_ino;
        self.next_ino += 1;
        let nlink = if matches!(content, Content::Dir(_)) { 2 } else { 1 };
        self.objs.insert(
            id,
            Obj {
                content,
                perm,
                uid: 0,
                gid: 0,
                nlink,
                dev,
                mtime: now,
                ctime: now,
                atime: now,
                btime: now,
                win_attributes: 0,
                xattrs: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    fn attach(&mut self, policy: CasePolicy, dir: u64, name: &Name, id: u64) -> Result<()> {
        let key = policy.key(name.as_bytes()).into_owned();
        // A removed directory takes no new entries (Linux: ENOENT).
        if self.obj(dir)?.nlink == 0 {
            return Err(Error::NotFound);
        }
        let now = self.tick();
        let children = self.children_mut(dir)?;
        if children.contains_key(&key) {
            return Err(Error::Exists);
        }
        children.insert(key, (name.clone(), id));
        let d = self.obj_mut(dir)?;
        d.mtime = now;
        Ok(())
    }

    fn detach(&mut self, policy: CasePolicy, dir: u64, name: &Name) -> Result<u64> {
        let key = policy.key(name.as_bytes()).into_owned();
        let now = self.tick();
        let (_, id) = self.children_mut(dir)?.remove(&key).ok_or(Error::NotFound)?;
        self.obj_mut(dir)?.mtime = now;
        Ok(id)
    }

    fn lookup(&self, policy: CasePolicy, dir: u64, name: &Name) -> Result<u64> {
        let key = policy.key(name.as_bytes());
        self.children(dir)?.get(key.as_ref()).map(|(_, id)| *id).ok_or(Error::NotFound)
    }

    fn walk(&self, policy: CasePolicy, path: &AbsPath) -> Result<u64> {
        let mut id = ROOT;
        for name in path.path.names() {
            id = self.lookup(policy, id, name)?;
        }
        Ok(id)
    }

    /// Whether directory `dir` is `ancestor` or lies below it.
    fn is_within(&self, dir: u64, ancestor: u64) -> bool {
        if dir == ancestor {
            return true;
        }
        match self.children(ancestor) {
            Ok(children) => children.values().any(|(_, c)| self.is_within(dir, *c)),
            Err(_) => false,
        }
    }

    fn kind(&self, id: u64) -> Result<FileKind> {
        Ok(match &self.obj(id)?.content {
            Content::Dir(_) => FileKind::Dir,
            Content::File(_) => FileKind::File,
            Content::Symlink(_) => FileKind::Symlink,
            Content::Special(k, _) => *k,
        })
    }

    /// Unlinks `id` and everything below it, as removing a tree does: a removed directory has no
    /// entries left, whoever still holds it.
    fn unlinked_tree(&mut self, id: u64) -> Result<()> {
        let below: Vec<u64> = match &mut self.obj_mut(id)?.content {
            Content::Dir(children) => std::mem::take(children).into_values().map(|(_, c)| c).collect(),
            _ => Vec::new(),
        };
        for child in below {
            self.unlinked_tree(child)?;
        }
        self.unlinked(id)
    }

    fn unlinked(&mut self, id: u64) -> Result<()> {
        let now = self.tick();
        let o = self.obj_mut(id)?;
        o.nlink = if matches!(o.content, Content::Dir(_)) { 0 } else { o.nlink.saturating_sub(1) };
        o.ctime = now;
        Ok(())
    }
}

impl FakeBacking {
    /// An empty store whose on-disk layer is the directory `disk_root` (created), comparing
    /// names case-sensitively.
    pub fn new(disk_root: &str) -> FakeBacking {
        FakeBacking::with_policy(disk_root, CasePolicy::Sensitive)
    }

    /// Like [`FakeBacking::new`] with a case policy (insensitive, case-preserving stores model
    /// NTFS for Windows views).
    pub fn with_policy(disk_root: &str, policy: CasePolicy) -> FakeBacking {
        let mut objs = HashMap::new();
        objs.insert(
            ROOT,
            Obj {
                content: Content::Dir(BTreeMap::new()),
                perm: 0o755,
                uid: 0,
                gid: 0,
                nlink: 2,
                dev: 1,
                mtime: Timestamp::default(),
                ctime: Timestamp::default(),
                atime: Timestamp::default(),
                btime: Timestamp::default(),
                win_attributes: 0,
                xattrs: BTreeMap::new(),
            },
        );
        let store = FakeBacking {
            tree: Mutex::new(Tree { objs, next_ino: 2, next_dev: 2, clock: 0 }),
            disk_root: abs(disk_root),
            policy,
        };
        store.mkdir_p(disk_root);
        store
    }

    /// Creates directory `path` and its missing parents.
    pub fn mkdir_p(&self, path: &str) {
        let p = abs(path);
        let mut t = self.tree.lock();
        let mut id = ROOT;
        for name in p.path.names() {
            id = match t.lookup(self.policy, id, name) {
                Ok(c) => c,
                Err(_) => {
                    let c = t.new_obj(id, Content::Dir(BTreeMap::new()), 0o755);
                    let c = c.unwrap_or_else(|e| panic!("fake store: mkdir {path}: {e}"));
                    if let Err(e) = t.attach(self.policy, id, name, c) {
                        panic!("fake store: mkdir {path}: {e}");
                    }
                    c
                }
            };
        }
    }

    /// Makes `path` (created if missing) the root of a separate file system.
    pub fn new_device(&self, path: &str) {
        self.mkdir_p(path);
        let mut t = self.tree.lock();
        let dev = t.next_dev;
        t.next_dev += 1;
        let id = t.walk(self.policy, &abs(path)).unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
        if let Ok(o) = t.obj_mut(id) {
            o.dev = dev;
        }
    }

    fn parent_and_name(&self, path: &str) -> (AbsPath, Name) {
        let p = abs(path);
        let Some(name) = p.path.file_name().cloned() else { panic!("fake store: {path} has no name") };
        let parent = AbsPath { root: p.root.clone(), path: p.path.parent().unwrap_or_default() };
        (parent, name)
    }

    /// Writes a file (replacing its content, or creating it and its parent directories).
    pub fn write_file(&self, path: &str, data: &[u8]) {
        let (parent, name) = self.parent_and_name(path);
        self.mkdir_p(&parent.to_string());
        let mut t = self.tree.lock();
        let dir = t.walk(self.policy, &parent).unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
        match t.lookup(self.policy, dir, &name) {
            Ok(id) => match t.obj_mut(id).map(|o| &mut o.content) {
                Ok(Content::File(d)) => *d = data.to_vec(),
                _ => panic!("fake store: {path} is not a file"),
            },
            Err(_) => {
                let id = t.new_obj(dir, Content::File(data.to_vec()), 0o644);
                let id = id.unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
                if let Err(e) = t.attach(self.policy, dir, &name, id) {
                    panic!("fake store: {path}: {e}");
                }
            }
        }
    }

    /// Creates a symlink at `path` holding `target`.
    pub fn make_symlink(&self, path: &str, target: &str) {
        let (parent, name) = self.parent_and_name(path);
        self.mkdir_p(&parent.to_string());
        let mut t = self.tree.lock();
        let dir = t.walk(self.policy, &parent).unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
        let id = t.new_obj(dir, Content::Symlink(target.as_bytes().to_vec()), 0o777);
        let id = id.unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
        if let Err(e) = t.attach(self.policy, dir, &name, id) {
            panic!("fake store: {path}: {e}");
        }
    }

    /// The content of file `path`, `None` if it is not a file.
    pub fn read_file(&self, path: &str) -> Option<Vec<u8>> {
        let t = self.tree.lock();
        let id = t.walk(self.policy, &abs(path)).ok()?;
        match &t.obj(id).ok()?.content {
            Content::File(d) => Some(d.clone()),
            _ => None,
        }
    }

    /// The kind of object at `path`, `None` if nothing is there.
    pub fn kind(&self, path: &str) -> Option<FileKind> {
        let t = self.tree.lock();
        t.walk(self.policy, &abs(path)).and_then(|id| t.kind(id)).ok()
    }

    /// The names in directory `path`, sorted (empty if it is not a directory).
    pub fn names(&self, path: &str) -> Vec<String> {
        let t = self.tree.lock();
        let Ok(id) = t.walk(self.policy, &abs(path)) else { return Vec::new() };
        let mut names: Vec<String> = match t.children(id) {
            Ok(c) => c.values().map(|(n, _)| n.to_string()).collect(),
            Err(_) => Vec::new(),
        };
        names.sort();
        names
    }

    /// Removes `path` and everything below it; nothing happens if it does not exist.
    pub fn remove_all(&self, path: &str) {
        let (parent, name) = self.parent_and_name(path);
        let mut t = self.tree.lock();
        let Ok(dir) = t.walk(self.policy, &parent) else { return };
        if let Ok(id) = t.detach(self.policy, dir, &name) {
            let _ = t.unlinked_tree(id);
        }
    }

    /// Sets the permission bits of `path`.
    pub fn set_perm(&self, path: &str, perm: u32) {
        let mut t = self.tree.lock();
        let id = t.walk(self.policy, &abs(path)).unwrap_or_else(|e| panic!("fake store: {path}: {e}"));
        if let Ok(o) = t.obj_mut(id) {
            o.perm = perm;
        }
    }

    /// The attributes of `path` in the store itself (not through a view).
    pub fn attr_of(&self, path: &str) -> Option<Attr> {
        let id = self.tree.lock().walk(self.policy, &abs(path)).ok()?;
        self.stat(&FakeNode(id)).ok()
    }
}

impl Backing for FakeBacking {
    type Node = FakeNode;
    type File = FakeFile;

    fn open_disk_root(&self) -> Result<FakeNode> {
        self.tree.lock().walk(self.policy, &self.disk_root).map(FakeNode)
    }

    fn disk_root_path(&self) -> Option<AbsPath> {
        Some(self.disk_root.clone())
    }

    fn open_host(&self, path: &AbsPath) -> Result<FakeNode> {
        self.tree.lock().walk(self.policy, path).map(FakeNode)
    }

    fn lookup(&self, dir: &FakeNode, name: &Name) -> Result<FakeNode> {
        self.tree.lock().lookup(self.policy, dir.0, name).map(FakeNode)
    }

    fn stored_name(&self, dir: &FakeNode, name: &Name) -> Result<Name> {
        let t = self.tree.lock();
        let key = self.policy.key(name.as_bytes());
        t.children(dir.0)?.get(key.as_ref()).map(|(n, _)| n.clone()).ok_or(Error::NotFound)
    }

    fn stat(&self, node: &FakeNode) -> Result<Attr> {
        let t = self.tree.lock();
        let o = t.obj(node.0)?;
        let (size, rdev) = match &o.content {
            Content::Dir(c) => (c.len() as u64, 0),
            Content::File(d) => (d.len() as u64, 0),
            Content::Symlink(s) => (s.len() as u64, 0),
            Content::Special(_, r) => (0, *r),
        };
        Ok(Attr {
            kind: t.kind(node.0)?,
            perm: o.perm,
            nlink: o.nlink,
            uid: o.uid,
            gid: o.gid,
            size,
            blocks: size.div_ceil(512),
            blksize: 4096,
            rdev,
            dev: o.dev,
            ino: node.0,
            atime: o.atime,
            mtime: o.mtime,
            ctime: o.ctime,
            btime: Some(o.btime),
            win_attributes: o.win_attributes,
            reparse_tag: 0,
        })
    }

    fn read_dir(&self, dir: &FakeNode) -> Result<Vec<DirEntry>> {
        let t = self.tree.lock();
        let mut out = Vec::new();
        for (name, id) in t.children(dir.0)?.values() {
            out.push(DirEntry { name: name.clone(), kind: t.kind(*id)?, ino: *id });
        }
        Ok(out)
    }

    fn set_attr(&self, node: &FakeNode, changes: &SetAttr) -> Result<Attr> {
        {
            let mut t = self.tree.lock();
            let now = t.tick();
            let o = t.obj_mut(node.0)?;
            if let Some(size) = changes.size {
                match &mut o.content {
                    Content::File(d) => {
                        d.resize(usize::try_from(size).map_err(|_| Error::InvalidArgument)?, 0)
                    }
                    Content::Dir(_) => return Err(Error::IsDir),
                    _ => return Err(Error::InvalidArgument),
                }
                o.mtime = now;
            }
            if let Some(perm) = changes.perm {
                o.perm = perm & 0o7777;
            }
            if let Some(uid) = changes.uid {
                o.uid = uid;
            }
            if let Some(gid) = changes.gid {
                o.gid = gid;
            }
            let at = |s: SetTime| match s {
                SetTime::Now => now,
                SetTime::At(t) => t,
            };
            if let Some(a) = changes.atime {
                o.atime = at(a);
            }
            if let Some(m) = changes.mtime {
                o.mtime = at(m);
            }
            if let Some(b) = changes.btime {
                o.btime = at(b);
            }
            if let Some(w) = changes.win_attributes {
                o.win_attributes = w & crate::backing::win_attr::SETTABLE;
            }
            o.ctime = now;
        }
        self.stat(node)
    }

    fn open(&self, node: &FakeNode, flags: OpenFlags) -> Result<FakeFile> {
        let mut t = self.tree.lock();
        let now = t.tick();
        let o = t.obj_mut(node.0)?;
        match &mut o.content {
            Content::Symlink(_) => return Err(Error::NotSupported),
            Content::Dir(_) if flags.modifies() => return Err(Error::IsDir),
            Content::File(d) if flags.truncate => {
                d.clear();
                o.mtime = now;
            }
            _ => {}
        }
        Ok(FakeFile { node: node.0, flags })
    }

    fn create(&self, dir: &FakeNode, name: &Name, perm: u32, flags: OpenFlags) -> Result<(Attr, FakeFile)> {
        let id = {
            let mut t = self.tree.lock();
            if t.lookup(self.policy, dir.0, name).is_ok() {
                return Err(Error::Exists);
            }
            let id = t.new_obj(dir.0, Content::File(Vec::new()), perm & 0o7777)?;
            t.attach(self.policy, dir.0, name, id)?;
            id
        };
        Ok((self.stat(&FakeNode(id))?, FakeFile { node: id, flags }))
    }

    fn file_node(&self, file: &FakeFile) -> Result<FakeNode> {
        Ok(FakeNode(file.node))
    }

    fn set_len(&self, file: &FakeFile, size: u64) -> Result<()> {
        if !file.flags.write {
            return Err(Error::InvalidArgument);
        }
        self.set_attr(&FakeNode(file.node), &SetAttr { size: Some(size), ..SetAttr::default() }).map(|_| ())
    }

    fn read(&self, file: &FakeFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        let t = self.tree.lock();
        match &t.obj(file.node)?.content {
            Content::File(d) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(d.len());
                let n = buf.len().min(d.len() - start);
                buf[..n].copy_from_slice(&d[start..start + n]);
                Ok(n)
            }
            Content::Dir(_) => Err(Error::IsDir),
            _ => Err(Error::InvalidArgument),
        }
    }

    fn write(&self, file: &FakeFile, offset: u64, data: &[u8]) -> Result<usize> {
        if !file.flags.write {
            return Err(Error::PermissionDenied);
        }
        let mut t = self.tree.lock();
        let now = t.tick();
        let o = t.obj_mut(file.node)?;
        let Content::File(d) = &mut o.content else { return Err(Error::InvalidArgument) };
        let start = if file.flags.append {
            d.len()
        } else {
            usize::try_from(offset).map_err(|_| Error::InvalidArgument)?
        };
        let end = start.checked_add(data.len()).ok_or(Error::InvalidArgument)?;
        if d.len() < end {
            d.resize(end, 0);
        }
        d[start..end].copy_from_slice(data);
        o.mtime = now;
        Ok(data.len())
    }

    fn mkdir(&self, dir: &FakeNode, name: &Name, perm: u32) -> Result<FakeNode> {
        let mut t = self.tree.lock();
        if t.lookup(self.policy, dir.0, name).is_ok() {
            return Err(Error::Exists);
        }
        let id = t.new_obj(dir.0, Content::Dir(BTreeMap::new()), perm & 0o7777)?;
        t.attach(self.policy, dir.0, name, id)?;
        Ok(FakeNode(id))
    }

    fn mknod(&self, dir: &FakeNode, name: &Name, kind: FileKind, perm: u32, rdev: u64) -> Result<FakeNode> {
        let content = match kind {
            FileKind::File => Content::File(Vec::new()),
            FileKind::Dir | FileKind::Symlink => return Err(Error::InvalidArgument),
            other => Content::Special(other, rdev),
        };
        let mut t = self.tree.lock();
        if t.lookup(self.policy, dir.0, name).is_ok() {
            return Err(Error::Exists);
        }
        let id = t.new_obj(dir.0, content, perm & 0o7777)?;
        t.attach(self.policy, dir.0, name, id)?;
        Ok(FakeNode(id))
    }

    fn symlink(&self, dir: &FakeNode, name: &Name, target: &[u8]) -> Result<FakeNode> {
        let mut t = self.tree.lock();
        if t.lookup(self.policy, dir.0, name).is_ok() {
            return Err(Error::Exists);
        }
        let id = t.new_obj(dir.0, Content::Symlink(target.to_vec()), 0o777)?;
        t.attach(self.policy, dir.0, name, id)?;
        Ok(FakeNode(id))
    }

    fn link(&self, node: &FakeNode, dir: &FakeNode, name: &Name) -> Result<FakeNode> {
        let mut t = self.tree.lock();
        if t.kind(node.0)? == FileKind::Dir {
            return Err(Error::PermissionDenied);
        }
        if t.obj(node.0)?.dev != t.obj(dir.0)?.dev {
            return Err(Error::CrossDevice);
        }
        t.attach(self.policy, dir.0, name, node.0)?;
        let now = t.tick();
        let o = t.obj_mut(node.0)?;
        o.nlink += 1;
        o.ctime = now;
        Ok(*node)
    }

    fn unlink(&self, dir: &FakeNode, name: &Name) -> Result<()> {
        let mut t = self.tree.lock();
        let id = t.lookup(self.policy, dir.0, name)?;
        if t.kind(id)? == FileKind::Dir {
            return Err(Error::IsDir);
        }
        t.detach(self.policy, dir.0, name)?;
        t.unlinked(id)
    }

    fn rmdir(&self, dir: &FakeNode, name: &Name) -> Result<()> {
        let mut t = self.tree.lock();
        let id = t.lookup(self.policy, dir.0, name)?;
        if !t.children(id)?.is_empty() {
            return Err(Error::NotEmpty);
        }
        t.detach(self.policy, dir.0, name)?;
        t.unlinked(id)
    }

    fn rename(
        &self,
        dir: &FakeNode,
        name: &Name,
        new_dir: &FakeNode,
        new_name: &Name,
        flags: RenameFlags,
    ) -> Result<()> {
        let policy = self.policy;
        let mut t = self.tree.lock();
        let src = t.lookup(policy, dir.0, name)?;
        if t.obj(dir.0)?.dev != t.obj(new_dir.0)?.dev {
            return Err(Error::CrossDevice);
        }
        let dst = match t.lookup(policy, new_dir.0, new_name) {
            Ok(id) => Some(id),
            Err(Error::NotFound) => None,
            Err(e) => return Err(e),
        };
        if dst == Some(src) {
            let same_name = dir == new_dir && policy.same(name.as_bytes(), new_name.as_bytes());
            if same_name && name != new_name {
                // A case-only rename on an insensitive store: respell the name.
                t.detach(policy, dir.0, name)?;
                return t.attach(policy, new_dir.0, new_name, src);
            }
            // Two names of one file (hard links): POSIX says do nothing.
            return Ok(());
        }
        if t.kind(src)? == FileKind::Dir && t.is_within(new_dir.0, src) {
            return Err(Error::InvalidArgument); // a directory into itself
        }
        if flags.exchange {
            let Some(dst) = dst else { return Err(Error::NotFound) };
            t.detach(policy, dir.0, name)?;
            t.detach(policy, new_dir.0, new_name)?;
            t.attach(policy, dir.0, name, dst)?;
            return t.attach(policy, new_dir.0, new_name, src);
        }
        if let Some(dst) = dst {
            if flags.no_replace {
                return Err(Error::Exists);
            }
            let (sk, dk) = (t.kind(src)?, t.kind(dst)?);
            match (sk == FileKind::Dir, dk == FileKind::Dir) {
                (true, false) => return Err(Error::NotDir),
                (false, true) => return Err(Error::IsDir),
                (true, true) if !t.children(dst)?.is_empty() => return Err(Error::NotEmpty),
                _ => {}
            }
            t.detach(policy, new_dir.0, new_name)?;
            t.unlinked(dst)?;
        }
        t.detach(policy, dir.0, name)?;
        t.attach(policy, new_dir.0, new_name, src)
    }

    fn readlink(&self, node: &FakeNode) -> Result<Vec<u8>> {
        match &self.tree.lock().obj(node.0)?.content {
            Content::Symlink(s) => Ok(s.clone()),
            _ => Err(Error::InvalidArgument),
        }
    }

    fn statfs(&self, node: &FakeNode) -> Result<StatFs> {
        let t = self.tree.lock();
        t.obj(node.0)?;
        let used = t.objs.len() as u64;
        Ok(StatFs {
            blocks: 1 << 20,
            bfree: 1 << 19,
            bavail: 1 << 19,
            files: 1 << 20,
            ffree: (1 << 20) - used,
            bsize: 4096,
            frsize: 4096,
            namelen: 255,
        })
    }

    fn get_xattr(&self, node: &FakeNode, name: &[u8]) -> Result<Vec<u8>> {
        self.tree.lock().obj(node.0)?.xattrs.get(name).cloned().ok_or(Error::NoAttribute)
    }

    fn list_xattr(&self, node: &FakeNode) -> Result<Vec<Vec<u8>>> {
        Ok(self.tree.lock().obj(node.0)?.xattrs.keys().cloned().collect())
    }

    fn set_xattr(&self, node: &FakeNode, name: &[u8], value: &[u8], mode: XattrMode) -> Result<()> {
        let mut t = self.tree.lock();
        let o = t.obj_mut(node.0)?;
        let exists = o.xattrs.contains_key(name);
        match mode {
            XattrMode::Create if exists => return Err(Error::Exists),
            XattrMode::Replace if !exists => return Err(Error::NoAttribute),
            _ => {}
        }
        o.xattrs.insert(name.to_vec(), value.to_vec());
        Ok(())
    }

    fn remove_xattr(&self, node: &FakeNode, name: &[u8]) -> Result<()> {
        self.tree.lock().obj_mut(node.0)?.xattrs.remove(name).map(|_| ()).ok_or(Error::NoAttribute)
    }
}
