//! The FUSE inode table: node ids the kernel holds, and the virtual path each stands for.
//!
//! Identity:
//! - A directory is keyed by its virtual path. The same backing directory reachable at two
//!   virtual paths (a chain, a link to a directory the view also shows) is two inodes, because a
//!   directory the kernel sees under two names would be moved between them (dentry aliasing),
//!   and `getcwd` inside it must report the path it was entered by (rule 21).
//! - Any other object is keyed by its backing identity (device, inode) and writability, so hard
//!   links inside one backing file system are one inode with the right link count (rule 24),
//!   and a file seen through a read-only and a writable link keeps each one's mode.
//!
//! Numbers: the kernel's node id is also the `st_ino` users see. A key whose node the kernel
//! forgot keeps its number in a bounded LRU, so a file looked up again gets the number it had.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use bindfs_core::{Attr, CasePolicy, FileKind, VPath};
use lru::LruCache;
use parking_lot::Mutex;

/// The root's node id (FUSE_ROOT_ID).
pub const ROOT: u64 = 1;

/// How many names of one inode are remembered.
const MAX_NAMES: usize = 16;

/// How many forgotten keys keep their number.
const REMEMBERED: usize = 65_536;

/// What makes two lookups the same inode.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// Directories and synthesized directories: by virtual path.
    Dir(VPath),
    /// Everything else: by backing identity.
    Object { dev: u64, ino: u64, writable: bool },
}

impl Key {
    fn of(path: &VPath, attr: &Attr, synthesized: bool, writable: bool) -> Key {
        if attr.kind == FileKind::Dir || synthesized {
            Key::Dir(path.clone())
        } else {
            Key::Object { dev: attr.dev, ino: attr.ino, writable }
        }
    }
}

#[derive(Debug)]
struct Inode {
    /// The virtual path the kernel last reached this inode by.
    path: VPath,
    /// Other names the same object was reached by (hard links), so that removing one of them
    /// leaves the inode a name that still works.
    others: Vec<VPath>,
    key: Key,
    /// Lookups the kernel holds (each reply with an entry counts one; `forget` returns them).
    lookups: u64,
    /// Its last name was removed: it has no path any more (calls on it act on an open file of
    /// it, or fail), and its key is free for whatever is made at that path next.
    detached: bool,
}

#[derive(Debug)]
struct Table {
    nodes: HashMap<u64, Inode>,
    by_key: HashMap<Key, u64>,
    /// Every name of every inode the table knows.
    names: HashMap<VPath, u64>,
    forgotten: LruCache<Key, u64>,
    next: u64,
}

/// Node ids and their virtual paths.
#[derive(Debug)]
pub struct Inodes {
    table: Mutex<Table>,
}

impl Default for Inodes {
    fn default() -> Self {
        Inodes::new()
    }
}

impl Inodes {
    /// A table holding only the root.
    pub fn new() -> Inodes {
        let mut nodes = HashMap::new();
        let root_key = Key::Dir(VPath::root());
        nodes.insert(
            ROOT,
            Inode {
                path: VPath::root(),
                others: Vec::new(),
                key: root_key.clone(),
                lookups: 1,
                detached: false,
            },
        );
        let mut by_key = HashMap::new();
        by_key.insert(root_key, ROOT);
        let capacity = NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN);
        let table = Table {
            nodes,
            by_key,
            names: HashMap::from([(VPath::root(), ROOT)]),
            forgotten: LruCache::new(capacity),
            next: ROOT + 1,
        };
        Inodes { table: Mutex::new(table) }
    }

    /// The virtual path of node `ino`.
    pub fn path(&self, ino: u64) -> Option<VPath> {
        self.table.lock().nodes.get(&ino).filter(|n| !n.detached).map(|n| n.path.clone())
    }

    /// The node id for what a lookup of `path` found, counting one kernel reference.
    pub fn remember(&self, path: &VPath, attr: &Attr, synthesized: bool, writable: bool) -> u64 {
        let key = Key::of(path, attr, synthesized, writable);
        let mut t = self.table.lock();
        if let Some(&ino) = t.by_key.get(&key) {
            let Table { nodes, names, .. } = &mut *t;
            if let Some(node) = nodes.get_mut(&ino) {
                node.lookups += 1;
                if node.path != *path {
                    // Another name of the same object (a hard link): keep both.
                    node.others.retain(|p| p != path);
                    let previous = std::mem::replace(&mut node.path, path.clone());
                    if node.others.len() < MAX_NAMES {
                        node.others.push(previous);
                    }
                    names.insert(path.clone(), ino);
                }
                return ino;
            }
        }
        let ino = match t.forgotten.pop(&key) {
            Some(ino) => ino,
            None => {
                let ino = t.next;
                t.next += 1;
                ino
            }
        };
        t.by_key.insert(key.clone(), ino);
        t.names.insert(path.clone(), ino);
        t.nodes
            .insert(ino, Inode { path: path.clone(), others: Vec::new(), key, lookups: 1, detached: false });
        ino
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let mut t = self.table.lock();
        let Some(node) = t.nodes.get_mut(&ino) else { return };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups > 0 {
            return;
        }
        if let Some(node) = t.nodes.remove(&ino) {
            for name in std::iter::once(&node.path).chain(&node.others) {
                if t.names.get(name) == Some(&ino) {
                    t.names.remove(name);
                }
            }
            // A rename may have given the key to another inode since: leave that one alone.
            if t.by_key.get(&node.key) == Some(&ino) {
                t.by_key.remove(&node.key);
            }
            t.forgotten.put(node.key, ino);
        }
    }

    /// The name `path` was removed (unlink, rmdir, or replaced by a rename): an inode known by
    /// other names (hard links) goes on by one of them; one without is detached, so nothing
    /// done to it can reach what is made at that path next, and a new directory there gets a
    /// new node.
    pub fn unlinked(&self, path: &VPath) {
        let mut t = self.table.lock();
        let Some(ino) = t.names.remove(path) else { return };
        let Table { nodes, by_key, .. } = &mut *t;
        let Some(node) = nodes.get_mut(&ino) else { return };
        node.others.retain(|p| p != path);
        if node.path == *path {
            match node.others.pop() {
                Some(next) => node.path = next,
                None => {
                    node.detached = true;
                    if by_key.get(&node.key) == Some(&ino) {
                        by_key.remove(&node.key);
                    }
                }
            }
        }
    }

    /// `from` was renamed to `to`: the inodes at and below it now stand for the new paths.
    pub fn renamed(&self, from: &VPath, to: &VPath) {
        self.remap(|path| path.strip_prefix(from, CasePolicy::Sensitive).map(|rest| to.join_all(rest)))
    }

    /// `a` and `b` were exchanged (`RENAME_EXCHANGE`): the subtrees swap paths.
    pub fn exchanged(&self, a: &VPath, b: &VPath) {
        self.remap(|path| {
            let swap = |from: &VPath, to: &VPath| {
                path.strip_prefix(from, CasePolicy::Sensitive).map(|r| to.join_all(r))
            };
            swap(a, b).or_else(|| swap(b, a))
        })
    }

    /// Gives every inode the path `map` returns for its path (`None`: unchanged). Directories
    /// are re-keyed all at once, so two of them swapping paths never collide.
    fn remap(&self, map: impl Fn(&VPath) -> Option<VPath>) {
        let mut t = self.table.lock();
        let Table { nodes, by_key, names, .. } = &mut *t;
        let mut rekeyed = Vec::new();
        let mut moved_any = false;
        for (ino, node) in nodes.iter_mut().filter(|(_, n)| !n.detached) {
            for other in &mut node.others {
                if let Some(moved) = map(other) {
                    *other = moved;
                    moved_any = true;
                }
            }
            let Some(moved) = map(&node.path) else { continue };
            if let Key::Dir(_) = node.key {
                if by_key.get(&node.key) == Some(ino) {
                    by_key.remove(&node.key);
                }
                node.key = Key::Dir(moved.clone());
                rekeyed.push((node.key.clone(), *ino));
            }
            moved_any = true;
            node.path = moved;
        }
        by_key.extend(rekeyed);
        if moved_any {
            *names = all_names(nodes);
        }
    }

    /// The known inodes whose path is directly below `dir`, with their names (for kernel cache
    /// invalidation when a link at the view root changes).
    pub fn children_of(&self, dir: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        let t = self.table.lock();
        t.nodes
            .iter()
            .filter(|(_, n)| {
                !n.detached
                    && n.path.depth() == dir.depth() + 1
                    && n.path.starts_with(dir, CasePolicy::Sensitive)
            })
            .filter_map(|(&ino, n)| n.path.file_name().map(|name| (ino, name.clone())))
            .collect()
    }

    /// The known directories at or below `path` (their cached listings and attributes change
    /// when a link there changes).
    pub fn dirs_at_or_below(&self, path: &VPath) -> Vec<u64> {
        let t = self.table.lock();
        t.nodes
            .iter()
            .filter(|(_, n)| {
                !n.detached && matches!(n.key, Key::Dir(_)) && n.path.starts_with(path, CasePolicy::Sensitive)
            })
            .map(|(&ino, _)| ino)
            .collect()
    }

    /// Every name the kernel may have cached strictly below `path`, as (node id of its
    /// directory, name): a link change there must drop them, even names of files still open
    /// (whose entries the kernel keeps while they are in use).
    pub fn names_below(&self, path: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        let t = self.table.lock();
        t.nodes
            .values()
            .filter(|n| !n.detached)
            .flat_map(|n| std::iter::once(&n.path).chain(&n.others))
            .filter(|p| p.depth() > path.depth() && p.starts_with(path, CasePolicy::Sensitive))
            .filter_map(|p| {
                let dir = t.by_key.get(&Key::Dir(p.parent()?)).copied()?;
                Some((dir, p.file_name()?.clone()))
            })
            .collect()
    }

    /// The backing identity (device, inode) node `ino` stands for, when it is not a directory.
    pub fn identity(&self, ino: u64) -> Option<(u64, u64)> {
        match self.table.lock().nodes.get(&ino)?.key {
            Key::Object { dev, ino, .. } => Some((dev, ino)),
            Key::Dir(_) => None,
        }
    }

    /// The node id of the directory at `path`, if the kernel knows it.
    pub fn dir_ino(&self, path: &VPath) -> Option<u64> {
        self.table.lock().by_key.get(&Key::Dir(path.clone())).copied()
    }

    /// Number of inodes the kernel holds.
    pub fn len(&self) -> usize {
        self.table.lock().nodes.len()
    }

    /// Whether only the root is known.
    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }
}

/// Every name of every inode that has one.
fn all_names(nodes: &HashMap<u64, Inode>) -> HashMap<VPath, u64> {
    let mut names = HashMap::new();
    for (&ino, node) in nodes.iter().filter(|(_, n)| !n.detached) {
        for name in std::iter::once(&node.path).chain(&node.others) {
            names.insert(name.clone(), ino);
        }
    }
    names
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bindfs_core::Timestamp;

    fn attr(kind: FileKind, ino: u64) -> Attr {
        let base = bindfs_core::report::synthetic_dir(Timestamp::default());
        Attr { kind, perm: 0o644, nlink: 1, dev: 7, ino, ..base }
    }

    fn p(s: &str) -> VPath {
        VPath::parse(s).unwrap()
    }

    #[test]
    fn hard_links_share_an_inode_directories_do_not() {
        let t = Inodes::new();
        let a = t.remember(&p("/a"), &attr(FileKind::File, 10), false, true);
        let b = t.remember(&p("/b"), &attr(FileKind::File, 10), false, true);
        assert_eq!(a, b);
        // Removing the name last used leaves the inode the other one.
        t.unlinked(&p("/b"));
        assert_eq!(t.path(a), Some(p("/a")));
        let ro = t.remember(&p("/ro/a"), &attr(FileKind::File, 10), false, false);
        assert_ne!(a, ro);
        let d1 = t.remember(&p("/d1"), &attr(FileKind::Dir, 20), false, true);
        let d2 = t.remember(&p("/d2"), &attr(FileKind::Dir, 20), false, true);
        assert_ne!(d1, d2);
        assert_eq!(t.path(d2), Some(p("/d2")));
    }

    #[test]
    fn numbers_survive_forget_and_renames_move_subtrees() {
        let t = Inodes::new();
        let f = t.remember(&p("/d/f"), &attr(FileKind::File, 10), false, true);
        t.forget(f, 1);
        assert_eq!(t.path(f), None);
        assert_eq!(t.remember(&p("/d/f"), &attr(FileKind::File, 10), false, true), f);
        let d = t.remember(&p("/d"), &attr(FileKind::Dir, 20), false, true);
        t.renamed(&p("/d"), &p("/e"));
        assert_eq!(t.path(d), Some(p("/e")));
        assert_eq!(t.path(f), Some(p("/e/f")));
        assert_eq!(t.dir_ino(&p("/e")), Some(d));
        assert_eq!(t.dir_ino(&p("/d")), None);
        assert_eq!(t.remember(&p("/e"), &attr(FileKind::Dir, 20), false, true), d);
        let g = t.remember(&p("/g"), &attr(FileKind::Dir, 30), false, true);
        t.exchanged(&p("/e"), &p("/g"));
        assert_eq!((t.path(d), t.path(f), t.path(g)), (Some(p("/g")), Some(p("/g/f")), Some(p("/e"))));
        assert_eq!((t.dir_ino(&p("/g")), t.dir_ino(&p("/e"))), (Some(d), Some(g)));
        // A directory removed while the kernel holds it: its node has no path, and a new
        // directory at the same path is a new node.
        t.unlinked(&p("/e"));
        assert_eq!(t.path(g), None);
        assert_ne!(t.remember(&p("/e"), &attr(FileKind::Dir, 31), false, true), g);
        t.forget(ROOT, 10);
        assert_eq!(t.path(ROOT), Some(VPath::root()));
    }
}
