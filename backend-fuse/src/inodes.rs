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
//!
//! Paths: an inode does not store its path. The table keeps a tree of *places*, one per virtual
//! path some inode is known by (and each ancestor of one), each holding its parent place and its
//! name, as the kernel's dentries do; an inode holds its places, and its path is found by walking
//! parents. A rename unhooks one place and hooks it under its new parent, so everything below
//! follows at once: it costs the depth of the two paths (plus, when the destination already has
//! known names below it, the names the two subtrees share), not the number of inodes known
//! (issue 12: rsync and untar rename often among many). A directory's key is the place it holds,
//! so it moves with it; the per-place children answer the link-change queries from the subtree
//! concerned.

use std::collections::HashMap;
use std::num::NonZeroUsize;

use bindfs_core::{Attr, FileKind, Name, VPath};
use lru::LruCache;
use parking_lot::Mutex;

#[cfg(test)]
mod model;

/// The root's node id (FUSE_ROOT_ID).
pub const ROOT: u64 = 1;

/// How many names of one inode are remembered.
const MAX_NAMES: usize = 16;

/// How many forgotten keys keep their number.
const REMEMBERED: usize = 65_536;

/// A backing object seen through a link of one writability: what keys every inode but a
/// directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Object {
    dev: u64,
    ino: u64,
    writable: bool,
}

/// What makes two lookups the same inode, as a forgotten number is remembered by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    /// Directories and synthesized directories: by virtual path.
    Dir(VPath),
    /// Everything else: by backing identity.
    Object(Object),
}

/// What kind of key an inode has: a directory's path is the place it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Dir,
    Object(Object),
}

impl Kind {
    fn of(attr: &Attr, synthesized: bool, writable: bool) -> Kind {
        if attr.kind == FileKind::Dir || synthesized {
            Kind::Dir
        } else {
            Kind::Object(Object { dev: attr.dev, ino: attr.ino, writable })
        }
    }

    fn key(self, path: VPath) -> Key {
        match self {
            Kind::Dir => Key::Dir(path),
            Kind::Object(object) => Key::Object(object),
        }
    }
}

/// Index of a place in `Places::slots`.
type PlaceId = usize;

/// The root's place.
const ROOT_PLACE: PlaceId = 0;

/// One virtual path an inode is known by, or an ancestor of one: a name in its parent place.
#[derive(Debug, Default)]
struct Place {
    /// The place this one is a name in (the root's is itself).
    parent: PlaceId,
    /// Its name there (`None` for the root).
    name: Option<Name>,
    children: HashMap<Name, PlaceId>,
    /// Inodes whose current name this is.
    current: Vec<u64>,
    /// Inodes for which this is one of their other names (hard links), once per name held.
    other: Vec<u64>,
    /// The inode a removal of this name takes it from: the last one found by it.
    named: Option<u64>,
    /// The directory inode keyed by this path.
    dir: Option<u64>,
}

impl Place {
    /// Whether nothing is known by this path or below it, so the place can go.
    fn unused(&self) -> bool {
        self.children.is_empty()
            && self.current.is_empty()
            && self.other.is_empty()
            && self.named.is_none()
            && self.dir.is_none()
    }
}

/// Takes one `ino` out of `list` (a list of holders, each once per name held).
fn take_one(list: &mut Vec<u64>, ino: u64) {
    if let Some(i) = list.iter().position(|&x| x == ino) {
        list.swap_remove(i);
    }
}

/// The tree of places, in slots (a lookup walks one per name, so no hashing of ids); a
/// removed place's slot is reused.
#[derive(Debug)]
struct Places {
    slots: Vec<Option<Place>>,
    free: Vec<PlaceId>,
}

impl Places {
    fn new() -> Places {
        Places { slots: vec![Some(Place::default())], free: Vec::new() }
    }

    fn get(&self, id: PlaceId) -> Option<&Place> {
        self.slots.get(id)?.as_ref()
    }

    fn get_mut(&mut self, id: PlaceId) -> Option<&mut Place> {
        self.slots.get_mut(id)?.as_mut()
    }

    fn insert(&mut self, place: Place) -> PlaceId {
        match self.free.pop() {
            Some(id) => {
                if let Some(slot) = self.slots.get_mut(id) {
                    *slot = Some(place);
                }
                id
            }
            None => {
                self.slots.push(Some(place));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, id: PlaceId) -> Option<Place> {
        // The root's slot is never freed: every walk starts there.
        if id == ROOT_PLACE {
            return None;
        }
        let place = self.slots.get_mut(id)?.take()?;
        self.free.push(id);
        Some(place)
    }

    /// Whether place `id` is the place of `path`: its names, read upwards, are the path's.
    fn is(&self, id: PlaceId, path: &VPath) -> bool {
        let mut at = id;
        for name in path.names().iter().rev() {
            match self.get(at) {
                Some(place) if place.name.as_ref() == Some(name) && at != ROOT_PLACE => at = place.parent,
                _ => return false,
            }
        }
        at == ROOT_PLACE
    }

    /// The place of `path`, if anything is known by it or below it.
    fn find(&self, path: &VPath) -> Option<PlaceId> {
        path.names().iter().try_fold(ROOT_PLACE, |at, name| self.get(at)?.children.get(name).copied())
    }

    /// The place of `path`, made with its missing ancestors.
    fn make(&mut self, path: &VPath) -> PlaceId {
        path.names().iter().fold(ROOT_PLACE, |at, name| self.child(at, name))
    }

    /// The place `name` in `parent`, made when missing.
    fn child(&mut self, parent: PlaceId, name: &Name) -> PlaceId {
        if let Some(&id) = self.get(parent).and_then(|p| p.children.get(name)) {
            return id;
        }
        let id = self.insert(Place { parent, name: Some(name.clone()), ..Place::default() });
        if let Some(p) = self.get_mut(parent) {
            p.children.insert(name.clone(), id);
        }
        id
    }

    /// The path of place `id`: the names on the way up to the root.
    fn path(&self, id: PlaceId) -> Option<VPath> {
        let mut names = Vec::new();
        let mut at = id;
        while at != ROOT_PLACE {
            let place = self.get(at)?;
            names.push(place.name.clone()?);
            // More steps than places: a loop, which would be a bug; no path rather than a hang.
            if names.len() > self.slots.len() {
                return None;
            }
            at = place.parent;
        }
        names.reverse();
        Some(VPath::from_names(names))
    }

    /// Takes place `id` (not the root) out of its parent, which it returns; the place keeps
    /// everything below it until it is hooked in again.
    fn unhook(&mut self, id: PlaceId) -> Option<PlaceId> {
        let place = self.get(id)?;
        let (parent, name) = (place.parent, place.name.clone()?);
        let siblings = &mut self.get_mut(parent)?.children;
        if siblings.get(&name) == Some(&id) {
            siblings.remove(&name);
        }
        Some(parent)
    }

    /// Removes place `id` and each ancestor left with nothing known by it or below it.
    fn prune(&mut self, mut id: PlaceId) {
        while id != ROOT_PLACE {
            match self.get(id) {
                Some(place) if place.unused() => {}
                _ => return,
            }
            let Some(place) = self.remove(id) else { return };
            if let (Some(parent), Some(name)) = (self.get_mut(place.parent), place.name) {
                if parent.children.get(&name) == Some(&id) {
                    parent.children.remove(&name);
                }
            }
            id = place.parent;
        }
    }
}

/// Which names an inode has.
#[derive(Debug)]
enum Names {
    /// The place the kernel last reached it by, and the other places the same object was
    /// reached by (hard links), so that removing one of them leaves it a name that still works.
    At { current: PlaceId, others: Vec<PlaceId> },
    /// Its last name, `last`, was removed: it has no path any more (calls on it act on an open
    /// file of it, or fail), and its key is free for whatever is made at that path next.
    Detached { last: VPath },
}

#[derive(Debug)]
struct Inode {
    kind: Kind,
    names: Names,
    /// Lookups the kernel holds (each reply with an entry counts one; `forget` returns them).
    lookups: u64,
}

#[derive(Debug)]
struct Table {
    nodes: HashMap<u64, Inode>,
    places: Places,
    /// The inode of each object key (directories are found by their place).
    objects: HashMap<Object, u64>,
    forgotten: LruCache<Key, u64>,
    next: u64,
}

impl Table {
    fn new() -> Table {
        let mut places = Places::new();
        if let Some(root) = places.get_mut(ROOT_PLACE) {
            root.current.push(ROOT);
            root.named = Some(ROOT);
            root.dir = Some(ROOT);
        }
        let root = Inode {
            kind: Kind::Dir,
            names: Names::At { current: ROOT_PLACE, others: Vec::new() },
            lookups: 1,
        };
        let capacity = NonZeroUsize::new(REMEMBERED).unwrap_or(NonZeroUsize::MIN);
        Table {
            nodes: HashMap::from([(ROOT, root)]),
            places,
            objects: HashMap::new(),
            forgotten: LruCache::new(capacity),
            next: ROOT + 1,
        }
    }

    fn remember(&mut self, path: &VPath, attr: &Attr, synthesized: bool, writable: bool) -> u64 {
        let kind = Kind::of(attr, synthesized, writable);
        let known = match kind {
            Kind::Dir => self.places.find(path).and_then(|id| self.places.get(id)?.dir),
            Kind::Object(object) => self.objects.get(&object).copied(),
        };
        if let Some(ino) = known.filter(|ino| self.nodes.contains_key(ino)) {
            self.found_again(ino, path);
            return ino;
        }
        let ino = match self.forgotten.pop(&kind.key(path.clone())) {
            Some(ino) => ino,
            None => {
                let ino = self.next;
                self.next += 1;
                ino
            }
        };
        let at = self.places.make(path);
        if let Some(place) = self.places.get_mut(at) {
            place.current.push(ino);
            place.named = Some(ino);
            if kind == Kind::Dir {
                place.dir = Some(ino);
            }
        }
        if let Kind::Object(object) = kind {
            self.objects.insert(object, ino);
        }
        self.nodes
            .insert(ino, Inode { kind, names: Names::At { current: at, others: Vec::new() }, lookups: 1 });
        ino
    }

    /// Inode `ino` was found again, by `path`.
    fn found_again(&mut self, ino: u64, path: &VPath) {
        let Table { nodes, places, .. } = self;
        let Some(node) = nodes.get_mut(&ino) else { return };
        node.lookups += 1;
        let Names::At { current, others } = &mut node.names else { return };
        // A directory is found by its place, so only another object's name can be new.
        if places.is(*current, path) {
            return;
        }
        // Another name of the same object (a hard link): keep both.
        let at = places.make(path);
        let held = others.iter().filter(|&&o| o == at).count();
        others.retain(|&o| o != at);
        let previous = std::mem::replace(current, at);
        let kept = others.len() < MAX_NAMES;
        if kept {
            others.push(previous);
        }
        if let Some(place) = places.get_mut(at) {
            for _ in 0..held {
                take_one(&mut place.other, ino);
            }
            place.current.push(ino);
            place.named = Some(ino);
        }
        if let Some(place) = places.get_mut(previous) {
            take_one(&mut place.current, ino);
            if kept {
                place.other.push(ino);
            } else if place.named == Some(ino) {
                // A name no longer remembered is no longer this inode's to lose.
                place.named = None;
            }
        }
        if !kept {
            places.prune(previous);
        }
    }

    fn forget(&mut self, ino: u64, n: u64) -> bool {
        let Some(node) = self.nodes.get_mut(&ino) else { return false };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups > 0 {
            return false;
        }
        let Some(node) = self.nodes.remove(&ino) else { return false };
        let key = match node.names {
            Names::At { current, others } => {
                let path = self.places.path(current);
                // An other name may be the current one too, since a rename merged them.
                for (at, is_current) in
                    std::iter::once((current, true)).chain(others.into_iter().map(|o| (o, false)))
                {
                    let Some(place) = self.places.get_mut(at) else { continue };
                    if is_current {
                        take_one(&mut place.current, ino);
                    } else {
                        take_one(&mut place.other, ino);
                    }
                    if place.named == Some(ino) {
                        place.named = None;
                    }
                    if place.dir == Some(ino) {
                        place.dir = None;
                    }
                    self.places.prune(at);
                }
                path.map(|path| node.kind.key(path))
            }
            Names::Detached { last } => Some(node.kind.key(last)),
        };
        if let Kind::Object(object) = node.kind {
            // A rename may have given the key to another inode since: leave that one alone.
            if self.objects.get(&object) == Some(&ino) {
                self.objects.remove(&object);
            }
        }
        if let Some(key) = key {
            self.forgotten.put(key, ino);
        }
        true
    }

    fn unlinked(&mut self, path: &VPath) {
        let Some(at) = self.places.find(path) else { return };
        let Table { nodes, places, objects, .. } = self;
        let Some(ino) = places.get_mut(at).and_then(|place| place.named.take()) else { return };
        if let Some(node) = nodes.get_mut(&ino) {
            if let Names::At { current, others } = &mut node.names {
                let held = others.iter().filter(|&&o| o == at).count();
                others.retain(|&o| o != at);
                if let Some(place) = places.get_mut(at) {
                    for _ in 0..held {
                        take_one(&mut place.other, ino);
                    }
                }
                if *current == at {
                    if let Some(place) = places.get_mut(at) {
                        take_one(&mut place.current, ino);
                    }
                    match others.pop() {
                        Some(next) => {
                            *current = next;
                            if let Some(place) = places.get_mut(next) {
                                take_one(&mut place.other, ino);
                                place.current.push(ino);
                            }
                        }
                        None => {
                            match node.kind {
                                Kind::Dir => {
                                    if let Some(place) = places.get_mut(at).filter(|p| p.dir == Some(ino)) {
                                        place.dir = None;
                                    }
                                }
                                Kind::Object(object) => {
                                    if objects.get(&object) == Some(&ino) {
                                        objects.remove(&object);
                                    }
                                }
                            }
                            node.names = Names::Detached { last: path.clone() };
                        }
                    }
                }
            }
        }
        places.prune(at);
    }

    /// Moves the places of `moves` (from, to) at once: each is unhooked first, in order, then
    /// hooked in at its destination, so two subtrees can swap.
    fn relocate(&mut self, moves: &[(&VPath, &VPath)]) {
        // The root is no name in a directory: the kernel never renames it.
        if moves.iter().any(|(from, to)| from.is_root() || to.is_root()) {
            return;
        }
        let mut unhooked = Vec::new();
        for &(from, to) in moves {
            // Found after the moves before it, so a destination already unhooked is not found.
            let Some(id) = self.places.find(from) else { continue };
            if let Some(parent) = self.places.unhook(id) {
                unhooked.push((id, parent, to));
            }
        }
        for &(id, _, to) in &unhooked {
            let (Some(parent), Some(name)) = (to.parent(), to.file_name()) else { continue };
            let parent = self.places.make(&parent);
            self.hook(id, parent, name);
        }
        for (_, old_parent, _) in unhooked {
            self.places.prune(old_parent);
        }
    }

    /// Hooks place `id` in as `name` in `parent`. When `parent` already has a place of that
    /// name (names known below the destination), the two subtrees merge, the moved one's
    /// keys winning: their names are what the rename made.
    fn hook(&mut self, id: PlaceId, parent: PlaceId, name: &Name) {
        let existing = self.places.get(parent).and_then(|p| p.children.get(name).copied());
        let Some(existing) = existing else {
            if let Some(place) = self.places.get_mut(id) {
                place.parent = parent;
                place.name = Some(name.clone());
            }
            if let Some(p) = self.places.get_mut(parent) {
                p.children.insert(name.clone(), id);
            }
            return;
        };
        let mut pairs = vec![(id, existing)];
        while let Some((from, into)) = pairs.pop() {
            let Some(moved) = self.places.remove(from) else { continue };
            for (name, child) in moved.children {
                let same = self.places.get(into).and_then(|p| p.children.get(&name).copied());
                match same {
                    Some(same) => pairs.push((child, same)),
                    None => {
                        if let Some(c) = self.places.get_mut(child) {
                            c.parent = into;
                        }
                        if let Some(p) = self.places.get_mut(into) {
                            p.children.insert(name, child);
                        }
                    }
                }
            }
            for &ino in &moved.current {
                if let Some(Inode { names: Names::At { current, .. }, .. }) = self.nodes.get_mut(&ino) {
                    *current = into;
                }
            }
            for &ino in &moved.other {
                if let Some(Inode { names: Names::At { others, .. }, .. }) = self.nodes.get_mut(&ino) {
                    if let Some(o) = others.iter_mut().find(|o| **o == from) {
                        *o = into;
                    }
                }
            }
            let Some(place) = self.places.get_mut(into) else { continue };
            place.current.extend(moved.current);
            place.other.extend(moved.other);
            if moved.named.is_some() {
                place.named = moved.named;
            }
            if moved.dir.is_some() {
                place.dir = moved.dir;
            }
        }
    }

    /// The places strictly below `path`, each with its parent, parents first.
    fn below(&self, path: &VPath) -> Vec<(PlaceId, &Place)> {
        let mut found = Vec::new();
        let Some(top) = self.places.find(path) else { return found };
        let mut pending = vec![top];
        while let Some(id) = pending.pop() {
            let Some(place) = self.places.get(id) else { continue };
            for &child in place.children.values() {
                if let Some(c) = self.places.get(child) {
                    found.push((id, c));
                    pending.push(child);
                }
            }
        }
        found
    }
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
        Inodes { table: Mutex::new(Table::new()) }
    }

    /// The virtual path of node `ino`.
    pub fn path(&self, ino: u64) -> Option<VPath> {
        let t = self.table.lock();
        match t.nodes.get(&ino)?.names {
            Names::At { current, .. } => t.places.path(current),
            Names::Detached { .. } => None,
        }
    }

    /// The node id for what a lookup of `path` found, counting one kernel reference.
    pub fn remember(&self, path: &VPath, attr: &Attr, synthesized: bool, writable: bool) -> u64 {
        self.table.lock().remember(path, attr, synthesized, writable)
    }

    /// The kernel dropped `n` references to `ino`; whether that was its last.
    pub fn forget(&self, ino: u64, n: u64) -> bool {
        ino != ROOT && self.table.lock().forget(ino, n)
    }

    /// The name `path` was removed (unlink, rmdir, or replaced by a rename): an inode known by
    /// other names (hard links) goes on by one of them; one without is detached, so nothing
    /// done to it can reach what is made at that path next, and a new directory there gets a
    /// new node.
    pub fn unlinked(&self, path: &VPath) {
        self.table.lock().unlinked(path);
    }

    /// `from` was renamed to `to`: the inodes at and below it now stand for the new paths.
    pub fn renamed(&self, from: &VPath, to: &VPath) {
        if from != to {
            self.table.lock().relocate(&[(from, to)]);
        }
    }

    /// `a` and `b` were exchanged (`RENAME_EXCHANGE`): the subtrees swap paths.
    pub fn exchanged(&self, a: &VPath, b: &VPath) {
        if a != b {
            self.table.lock().relocate(&[(a, b), (b, a)]);
        }
    }

    /// The known inodes whose path is directly below `dir`, with their names (for kernel cache
    /// invalidation when a link at the view root changes).
    pub fn children_of(&self, dir: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        let t = self.table.lock();
        let Some(place) = t.places.find(dir).and_then(|id| t.places.get(id)) else { return Vec::new() };
        let children = place.children.values().filter_map(|&id| t.places.get(id));
        children.flat_map(|c| c.current.iter().filter_map(|&ino| Some((ino, c.name.clone()?)))).collect()
    }

    /// The known directories at or below `path` (their cached listings and attributes change
    /// when a link there changes).
    pub fn dirs_at_or_below(&self, path: &VPath) -> Vec<u64> {
        let t = self.table.lock();
        let Some(top) = t.places.find(path).and_then(|id| t.places.get(id)) else { return Vec::new() };
        let places = std::iter::once(top).chain(t.below(path).into_iter().map(|(_, place)| place));
        places
            .flat_map(|place| &place.current)
            .filter(|ino| t.nodes.get(ino).is_some_and(|n| n.kind == Kind::Dir))
            .copied()
            .collect()
    }

    /// Every name the kernel may have cached strictly below `path`, as (node id of its
    /// directory, name): a link change there must drop them, even names of files still open
    /// (whose entries the kernel keeps while they are in use).
    pub fn names_below(&self, path: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        let t = self.table.lock();
        let mut names = Vec::new();
        for (parent, place) in t.below(path) {
            let (Some(dir), Some(name)) = (t.places.get(parent).and_then(|p| p.dir), &place.name) else {
                continue;
            };
            let held = place.current.len() + place.other.len();
            names.extend(std::iter::repeat_n((dir, name.clone()), held));
        }
        names
    }

    /// The backing identity (device, inode) node `ino` stands for, when it is not a directory.
    pub fn identity(&self, ino: u64) -> Option<(u64, u64)> {
        match self.table.lock().nodes.get(&ino)?.kind {
            Kind::Object(Object { dev, ino, .. }) => Some((dev, ino)),
            Kind::Dir => None,
        }
    }

    /// The node id of the directory at `path`, if the kernel knows it.
    pub fn dir_ino(&self, path: &VPath) -> Option<u64> {
        let t = self.table.lock();
        t.places.get(t.places.find(path)?)?.dir
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

    /// Issue 12: a rename among 100 000 known inodes moves what was below the renamed
    /// directory and nothing else.
    #[test]
    fn renaming_a_directory_among_100_000_inodes_moves_its_subtree_only() {
        let t = Inodes::new();
        // The kernel knows a directory's parent before it: /tree, then its 1000 directories.
        let tree = t.remember(&p("/tree"), &attr(FileKind::Dir, 1_000_000), false, true);
        let mut dirs = Vec::new();
        let mut files = Vec::new();
        for d in 0..1000u64 {
            dirs.push(t.remember(&p(&format!("/tree/d{d}")), &attr(FileKind::Dir, d), false, true));
            for f in 0..100u64 {
                let path = p(&format!("/tree/d{d}/f{f}"));
                files.push(t.remember(&path, &attr(FileKind::File, 10_000 + d * 100 + f), false, true));
            }
        }
        // Plus /tree and the root.
        assert_eq!(t.len(), 1000 + 100_000 + 2);
        t.renamed(&p("/tree/d500"), &p("/moved"));
        assert_eq!(t.path(dirs[500]), Some(p("/moved")));
        assert_eq!((t.dir_ino(&p("/moved")), t.dir_ino(&p("/tree/d500"))), (Some(dirs[500]), None));
        for d in 0..1000 {
            for f in 0..100 {
                let expected = if d == 500 { format!("/moved/f{f}") } else { format!("/tree/d{d}/f{f}") };
                assert_eq!(t.path(files[d * 100 + f]), Some(p(&expected)));
            }
            if d != 500 {
                assert_eq!(t.path(dirs[d]), Some(p(&format!("/tree/d{d}"))));
                assert_eq!(t.dir_ino(&p(&format!("/tree/d{d}"))), Some(dirs[d]));
            }
        }
        let moved = t.children_of(&p("/moved"));
        assert_eq!(moved.len(), 100);
        assert!(moved.iter().all(|(ino, name)| files[500 * 100..501 * 100].contains(ino)
            && t.path(*ino) == Some(p("/moved").join(name))));
        assert_eq!(t.children_of(&p("/tree")).len(), 999);
        assert_eq!((t.path(tree), t.dir_ino(&p("/tree"))), (Some(p("/tree")), Some(tree)));
        assert_eq!(t.dirs_at_or_below(&p("/moved")), vec![dirs[500]]);
        // The same file looked up at its new path is the same node, with no second name.
        let f7 = t.remember(&p("/moved/f7"), &attr(FileKind::File, 10_000 + 500 * 100 + 7), false, true);
        assert_eq!(f7, files[500 * 100 + 7]);
        assert_eq!(t.names_below(&p("/moved")).len(), 100);
    }
}
