//! The inode table as it was before places (every inode keeps its full path, a rename rewrites
//! every path below it), kept as the model the table is checked against.
//!
//! Two changes from that code, where it was not deterministic or kept an entry nothing could
//! see: a rename moves the entries of the name and directory maps below it (the moved ones
//! winning where they meet) instead of rebuilding the name map from every inode in hash order;
//! and a name dropped past `MAX_NAMES` leaves the name map too. In histories where no two
//! inodes share a path, the first is what the rebuild gave; the second no call can tell apart.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashMap};

use bindfs_core::{Attr, CasePolicy, VPath};
use proptest::prelude::*;

use super::{Inodes, Key, Kind, MAX_NAMES, Names, Object, PlaceId, ROOT, ROOT_PLACE, Table};

#[derive(Debug)]
struct Node {
    path: VPath,
    others: Vec<VPath>,
    key: Key,
    lookups: u64,
    detached: bool,
}

/// The full-path table.
#[derive(Debug)]
pub(super) struct Model {
    nodes: HashMap<u64, Node>,
    by_key: HashMap<Key, u64>,
    names: HashMap<VPath, u64>,
    forgotten: HashMap<Key, u64>,
    next: u64,
}

impl Model {
    pub(super) fn new() -> Model {
        let root_key = Key::Dir(VPath::root());
        let root = Node {
            path: VPath::root(),
            others: Vec::new(),
            key: root_key.clone(),
            lookups: 1,
            detached: false,
        };
        Model {
            nodes: HashMap::from([(ROOT, root)]),
            by_key: HashMap::from([(root_key, ROOT)]),
            names: HashMap::from([(VPath::root(), ROOT)]),
            forgotten: HashMap::new(),
            next: ROOT + 1,
        }
    }

    pub(super) fn path(&self, ino: u64) -> Option<VPath> {
        self.nodes.get(&ino).filter(|n| !n.detached).map(|n| n.path.clone())
    }

    pub(super) fn remember(&mut self, path: &VPath, attr: &Attr, synthesized: bool, writable: bool) -> u64 {
        let key = Kind::of(attr, synthesized, writable).key(path.clone());
        if let Some(&ino) = self.by_key.get(&key) {
            if let Some(node) = self.nodes.get_mut(&ino) {
                node.lookups += 1;
                if node.path != *path {
                    node.others.retain(|p| p != path);
                    let previous = std::mem::replace(&mut node.path, path.clone());
                    if node.others.len() < MAX_NAMES {
                        node.others.push(previous);
                    } else if self.names.get(&previous) == Some(&ino) {
                        self.names.remove(&previous);
                    }
                    self.names.insert(path.clone(), ino);
                }
                return ino;
            }
        }
        let ino = match self.forgotten.remove(&key) {
            Some(ino) => ino,
            None => {
                self.next += 1;
                self.next - 1
            }
        };
        self.by_key.insert(key.clone(), ino);
        self.names.insert(path.clone(), ino);
        self.nodes
            .insert(ino, Node { path: path.clone(), others: Vec::new(), key, lookups: 1, detached: false });
        ino
    }

    pub(super) fn forget(&mut self, ino: u64, n: u64) {
        if ino == ROOT {
            return;
        }
        let Some(node) = self.nodes.get_mut(&ino) else { return };
        node.lookups = node.lookups.saturating_sub(n);
        if node.lookups > 0 {
            return;
        }
        let Some(node) = self.nodes.remove(&ino) else { return };
        if !node.detached {
            for name in std::iter::once(&node.path).chain(&node.others) {
                if self.names.get(name) == Some(&ino) {
                    self.names.remove(name);
                }
            }
        }
        if self.by_key.get(&node.key) == Some(&ino) {
            self.by_key.remove(&node.key);
        }
        self.forgotten.insert(node.key, ino);
    }

    pub(super) fn unlinked(&mut self, path: &VPath) {
        let Some(ino) = self.names.remove(path) else { return };
        let Some(node) = self.nodes.get_mut(&ino) else { return };
        node.others.retain(|p| p != path);
        if node.path == *path {
            match node.others.pop() {
                Some(next) => node.path = next,
                None => {
                    node.detached = true;
                    if self.by_key.get(&node.key) == Some(&ino) {
                        self.by_key.remove(&node.key);
                    }
                }
            }
        }
    }

    pub(super) fn renamed(&mut self, from: &VPath, to: &VPath) {
        self.remap(|path| path.strip_prefix(from, CasePolicy::Sensitive).map(|rest| to.join_all(rest)))
    }

    pub(super) fn exchanged(&mut self, a: &VPath, b: &VPath) {
        self.remap(|path| {
            let swap = |from: &VPath, to: &VPath| {
                path.strip_prefix(from, CasePolicy::Sensitive).map(|r| to.join_all(r))
            };
            swap(a, b).or_else(|| swap(b, a))
        })
    }

    fn remap(&mut self, map: impl Fn(&VPath) -> Option<VPath>) {
        for node in self.nodes.values_mut().filter(|n| !n.detached) {
            for other in &mut node.others {
                if let Some(moved) = map(other) {
                    *other = moved;
                }
            }
            if let Some(moved) = map(&node.path) {
                if let Key::Dir(_) = node.key {
                    node.key = Key::Dir(moved.clone());
                }
                node.path = moved;
            }
        }
        let names = std::mem::take(&mut self.names);
        self.names = remap_keys(names, |p| map(p));
        let by_key = std::mem::take(&mut self.by_key);
        self.by_key = remap_keys(by_key, |key| match key {
            Key::Dir(p) => map(p).map(Key::Dir),
            Key::Object(_) => None,
        });
    }

    pub(super) fn children_of(&self, dir: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        let below =
            |n: &&Node| n.path.depth() == dir.depth() + 1 && n.path.starts_with(dir, CasePolicy::Sensitive);
        let nodes = self.nodes.iter().filter(|(_, n)| !n.detached && below(n));
        nodes.filter_map(|(&ino, n)| n.path.file_name().map(|name| (ino, name.clone()))).collect()
    }

    pub(super) fn dirs_at_or_below(&self, path: &VPath) -> Vec<u64> {
        let dir_below = |n: &Node| {
            !n.detached && matches!(n.key, Key::Dir(_)) && n.path.starts_with(path, CasePolicy::Sensitive)
        };
        self.nodes.iter().filter(|(_, n)| dir_below(n)).map(|(&ino, _)| ino).collect()
    }

    pub(super) fn names_below(&self, path: &VPath) -> Vec<(u64, bindfs_core::Name)> {
        self.nodes
            .values()
            .filter(|n| !n.detached)
            .flat_map(|n| std::iter::once(&n.path).chain(&n.others))
            .filter(|p| p.depth() > path.depth() && p.starts_with(path, CasePolicy::Sensitive))
            .filter_map(|p| Some((*self.by_key.get(&Key::Dir(p.parent()?))?, p.file_name()?.clone())))
            .collect()
    }

    pub(super) fn identity(&self, ino: u64) -> Option<(u64, u64)> {
        match self.nodes.get(&ino)?.key {
            Key::Object(Object { dev, ino, .. }) => Some((dev, ino)),
            Key::Dir(_) => None,
        }
    }

    pub(super) fn dir_ino(&self, path: &VPath) -> Option<u64> {
        self.by_key.get(&Key::Dir(path.clone())).copied()
    }

    pub(super) fn len(&self) -> usize {
        self.nodes.len()
    }
}

/// `map` with each key `f` moves given its new key, moved entries replacing those they meet.
fn remap_keys<K: Clone + Eq + std::hash::Hash>(
    map: HashMap<K, u64>,
    f: impl Fn(&K) -> Option<K>,
) -> HashMap<K, u64> {
    let (mut kept, mut moved) = (HashMap::new(), Vec::new());
    for (k, v) in map {
        match f(&k) {
            Some(new) => moved.push((new, v)),
            None => {
                kept.insert(k, v);
            }
        }
    }
    kept.extend(moved);
    kept
}

impl Table {
    /// Checks the tree of places against the inodes: parents and children agree, every place
    /// is in use, every name an inode holds is listed at its place and nowhere else.
    fn check(&self) {
        let mut held: BTreeMap<(PlaceId, u64, bool), usize> = BTreeMap::new();
        for (&ino, node) in &self.nodes {
            if let Names::At { current, others } = &node.names {
                *held.entry((*current, ino, true)).or_default() += 1;
                for &o in others {
                    *held.entry((o, ino, false)).or_default() += 1;
                }
            }
        }
        let mut listed: BTreeMap<(PlaceId, u64, bool), usize> = BTreeMap::new();
        let slots = self.places.slots.iter().enumerate();
        for (id, place) in slots.filter_map(|(id, slot)| Some((id, slot.as_ref()?))) {
            if id != ROOT_PLACE {
                assert!(!place.unused(), "place {id} is unused");
                let parent = self.places.get(place.parent).unwrap();
                assert_eq!(parent.children.get(place.name.as_ref().unwrap()), Some(&id));
            }
            for (name, child) in &place.children {
                let c = self.places.get(*child).unwrap();
                assert_eq!((c.parent, c.name.as_ref()), (id, Some(name)));
            }
            for &ino in &place.current {
                *listed.entry((id, ino, true)).or_default() += 1;
            }
            for &ino in &place.other {
                *listed.entry((id, ino, false)).or_default() += 1;
            }
            for ino in place.named.iter().chain(&place.dir) {
                assert!(held.contains_key(&(id, *ino, true)) || held.contains_key(&(id, *ino, false)));
            }
        }
        assert_eq!(held, listed);
    }
}

/// One call on the table; paths index `PATHS`, inodes index the node ids handed out so far.
#[derive(Clone, Debug)]
pub(super) enum Op {
    Remember { path: usize, dir: bool, synthesized: bool, object: u64, writable: bool },
    Forget { node: usize, n: u64 },
    Unlinked { path: usize },
    Renamed { from: usize, to: usize },
    Exchanged { a: usize, b: usize },
}

/// Every path of up to three names from {a, b, c}: few enough that names meet often.
fn paths() -> Vec<VPath> {
    let mut out = vec![VPath::root()];
    let mut level = vec![VPath::root()];
    for _ in 0..3 {
        let next: Vec<VPath> = level
            .iter()
            .flat_map(|p| ["a", "b", "c"].map(|n| p.join(&bindfs_core::Name::posix(n).unwrap())))
            .collect();
        out.extend(next.iter().cloned());
        level = next;
    }
    out
}

fn op() -> impl Strategy<Value = Op> {
    let n = 40usize;
    prop_oneof![
        4 => (0..n, any::<bool>(), prop::bool::weighted(0.1), 0u64..4, prop::bool::weighted(0.8))
            .prop_map(|(path, dir, synthesized, object, writable)| Op::Remember { path, dir, synthesized, object, writable }),
        1 => (0..64usize, 1u64..3).prop_map(|(node, n)| Op::Forget { node, n }),
        1 => (0..n).prop_map(|path| Op::Unlinked { path }),
        2 => (1..n, 1..n).prop_map(|(from, to)| Op::Renamed { from, to }),
        1 => (1..n, 1..n).prop_map(|(a, b)| Op::Exchanged { a, b }),
    ]
}

fn attr(dir: bool, object: u64) -> Attr {
    let base = bindfs_core::report::synthetic_dir(bindfs_core::Timestamp::default());
    let kind = if dir { bindfs_core::FileKind::Dir } else { bindfs_core::FileKind::File };
    Attr { kind, perm: 0o644, nlink: 1, dev: 7, ino: 100 + object, ..base }
}

fn sorted<T: Ord>(mut v: Vec<T>) -> Vec<T> {
    v.sort();
    v
}

/// Runs `ops` on the table and the model, comparing every answer after each.
pub(super) fn run(ops: &[Op]) {
    let paths = paths();
    let (table, mut model) = (Inodes::new(), Model::new());
    let mut handed = vec![ROOT];
    for op in ops {
        match *op {
            Op::Remember { path, dir, synthesized, object, writable } => {
                let (p, a) = (&paths[path], attr(dir, object));
                let ino = table.remember(p, &a, synthesized, writable);
                assert_eq!(ino, model.remember(p, &a, synthesized, writable), "{op:?}");
                handed.push(ino);
            }
            Op::Forget { node, n } => {
                let ino = handed[node % handed.len()];
                table.forget(ino, n);
                model.forget(ino, n);
            }
            Op::Unlinked { path } => {
                table.unlinked(&paths[path]);
                model.unlinked(&paths[path]);
            }
            Op::Renamed { from, to } => {
                table.renamed(&paths[from], &paths[to]);
                model.renamed(&paths[from], &paths[to]);
            }
            Op::Exchanged { a, b } => {
                let (a, b) = (&paths[a], &paths[b]);
                // The kernel refuses to exchange a directory with one inside it.
                if a.starts_with(b, CasePolicy::Sensitive) || b.starts_with(a, CasePolicy::Sensitive) {
                    continue;
                }
                table.exchanged(a, b);
                model.exchanged(a, b);
            }
        }
        table.table.lock().check();
        assert_eq!(table.len(), model.len(), "after {op:?}");
        for &ino in &handed {
            assert_eq!(table.path(ino), model.path(ino), "path of {ino} after {op:?}");
            assert_eq!(table.identity(ino), model.identity(ino), "identity of {ino} after {op:?}");
        }
        for p in &paths {
            assert_eq!(table.dir_ino(p), model.dir_ino(p), "dir_ino({p}) after {op:?}");
            assert_eq!(
                sorted(table.children_of(p)),
                sorted(model.children_of(p)),
                "children_of({p}) after {op:?}"
            );
            let (dirs, model_dirs) = (table.dirs_at_or_below(p), model.dirs_at_or_below(p));
            assert_eq!(sorted(dirs), sorted(model_dirs), "dirs_at_or_below({p}) after {op:?}");
            assert_eq!(
                sorted(table.names_below(p)),
                sorted(model.names_below(p)),
                "names_below({p}) after {op:?}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any sequence of calls: the table answers as the full-path model does.
    #[test]
    fn table_answers_as_the_full_path_model(ops in prop::collection::vec(op(), 1..60)) {
        run(&ops);
    }
}

/// More hard links of one object than `MAX_NAMES`, then their removal, with renames between.
#[test]
fn more_names_than_remembered_answer_as_the_model() {
    let mut ops: Vec<Op> = (1..40)
        .map(|path| Op::Remember { path, dir: false, synthesized: false, object: 1, writable: true })
        .collect();
    ops.push(Op::Renamed { from: 1, to: 2 });
    ops.push(Op::Exchanged { a: 2, b: 3 });
    ops.extend((1..40).map(|path| Op::Unlinked { path }));
    ops.extend((1..40).map(|path| Op::Remember {
        path,
        dir: path % 2 == 0,
        synthesized: false,
        object: 2,
        writable: true,
    }));
    ops.push(Op::Renamed { from: 3, to: 1 });
    ops.extend((0..50).map(|node| Op::Forget { node, n: 2 }));
    run(&ops);
}

/// Found by the property test: a rename brings an inode's other name onto its current one;
/// forgetting it then must let go of both.
#[test]
fn a_name_renamed_onto_another_of_the_same_inode_is_let_go_of_with_it() {
    let link = |path| Op::Remember { path, dir: false, synthesized: false, object: 2, writable: true };
    // /b/c/b and /a/b: one file; /a/b goes to /c/c/a, then /b/c/b onto it.
    let ops = [
        link(29),
        link(5),
        Op::Forget { node: 1, n: 1 },
        Op::Renamed { from: 5, to: 37 },
        Op::Renamed { from: 29, to: 37 },
        Op::Forget { node: 1, n: 1 },
    ];
    run(&ops);
}
