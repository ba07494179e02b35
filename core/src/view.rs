//! The operations layer: every file-system call a view serves, on virtual paths, written once
//! against the [`Backing`] port so that backends only translate requests.
//!
//! Each call resolves its path under a short read lock of the link table (rule 20: links are
//! resolved when a path is used, never cached here), releases the lock, and then performs the
//! storage calls on the layer the rules pick. Link changes take the write lock.
//!
//! Choices where the spec is silent (see also [`crate::merge`]):
//! - A directory that exists only to keep a deeper link reachable is synthesized with mode
//!   `0555`, owner 0, and the view's creation time as its times; it cannot be changed, and new
//!   entries in it are refused with [`Error::ReadOnly`].
//! - A name that leads to a link shows in its parent's listing only while it can be looked up:
//!   a link whose backing is gone disappears from the listing (and `stat` says not found); one
//!   that loops stays listed, as a dangling symlink does.
//! - Renaming or removing the view root, a link's `V` (rename only: removing `V` acts on `B`,
//!   rule 19), or a directory that holds a link's `V` fails with [`Error::Busy`], as renaming a
//!   mount point does on Linux.
//! - A hard link to an entry of a read-only layer fails with [`Error::ReadOnly`].

use std::sync::Arc;

use parking_lot::RwLock;

use crate::backing::{
    Attr, Backing, DirEntry, FileKind, OpenFlags, RenameFlags, SetAttr, StatFs, Timestamp, XattrMode,
};
use crate::error::{Error, Result};
use crate::merge::{self, Anchor};
use crate::name::{CasePolicy, Name};
use crate::path::{AbsPath, VPath};
use crate::report;
use crate::resolve::{Layer, LayerRoot, Resolution};
use crate::table::{Link, LinkId, LinkSpec, LinkTable, Probe};

/// Opened backing roots, by backing path, with when each may no longer be used.
type KeptRoots<N> = std::collections::HashMap<Arc<AbsPath>, (N, std::time::Instant)>;

/// Opened directories below layer roots, by root and names, with when each may no longer be used
/// (by root first, so that a lookup by borrowed names allocates nothing).
type KeptDirs<N> =
    std::collections::HashMap<LayerRoot, std::collections::HashMap<Vec<Name>, (N, std::time::Instant)>>;

/// How many directories below layer roots a view keeps open at most.
const KEPT_DIRS_MAX: usize = 512;

/// A live namespace: a link table over a backing store.
#[derive(Debug)]
pub struct View<B: Backing> {
    backing: B,
    table: RwLock<LinkTable>,
    /// When the view was made: the times of synthesized directories.
    born: Timestamp,
    /// Opened backing roots, kept for `root_ttl` (see [`View::set_root_cache`]).
    roots: parking_lot::Mutex<KeptRoots<B::Node>>,
    /// Directories walked to below layer roots, kept as the roots are (see [`View::keep_dirs`]).
    dirs: parking_lot::Mutex<KeptDirs<B::Node>>,
    /// How many times the kept directories were forgotten (changed only under `dirs`' lock).
    dirs_forgotten: std::sync::atomic::AtomicU64,
    root_ttl: std::time::Duration,
    /// Whether directories below roots are kept too ([`View::keep_dirs`]).
    keep_dirs: bool,
}

/// What a virtual path shows, without the store handle: for callers that only report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shown {
    /// Attributes as reported at the virtual path (write bits cleared on read-only entries).
    pub attr: Attr,
    /// Whether the entry may be changed through the view.
    pub writable: bool,
    /// A directory the view makes up to keep a deeper link reachable (rules 5, 8, 15, 16).
    pub synthesized: bool,
}

/// What a virtual path shows: its attributes as the user sees them, and where they come from.
#[derive(Debug)]
pub struct Found<N> {
    /// Attributes as reported at the virtual path (write bits cleared on read-only entries).
    pub attr: Attr,
    /// The store handle; `None` for a synthesized directory.
    pub node: Option<N>,
    /// Index of the providing layer in `resolution.layers`; `None` when synthesized.
    pub layer: Option<usize>,
    /// Whether the entry may be changed through the view.
    pub writable: bool,
    /// The resolution the entry was found through.
    pub resolution: Resolution,
}

impl<N> Found<N> {
    fn layer_ref(&self) -> Option<&Layer> {
        self.layer.and_then(|i| self.resolution.layers.get(i))
    }
}

/// An opened layer root.
struct Opened<N> {
    node: N,
    kept: Kept,
}

/// Where an opened layer root came from.
enum Kept {
    /// Opened now.
    Fresh,
    /// Kept, and found still linked, with these attributes.
    Checked(Attr),
    /// Kept, not checked.
    Unchecked,
}

/// Whether a call found nothing there (or a file where a directory was needed).
fn absent(e: &Error) -> bool {
    matches!(e, Error::NotFound | Error::NotDir)
}

/// Whether a call through a kept handle calls for checking the handle: it found nothing, or the
/// handle is stale (a remote store dropped the file it was opened on). Only the kept-handle
/// paths ask this; everywhere else a stale handle is an error, never "nothing here".
fn missed(e: &Error) -> bool {
    absent(e) || matches!(e, Error::Stale)
}

/// What a path shows, given what the first layer holding it holds (its index and raw
/// attributes, or why there is none): that entry (`Some`) if it is a directory or nothing is
/// anchored below the path; else, with links or exceptions below, a synthesized directory
/// (`None`, rules 8, 15, 16). [`View::find`] and [`View::lookup_shown`] decide through it.
fn shown_entry(resolution: &Resolution, first: Result<(usize, Attr)>) -> Result<Option<(usize, Attr)>> {
    match first {
        Ok((i, raw)) if raw.kind == FileKind::Dir || !resolution.holds_anchors => return Ok(Some((i, raw))),
        Ok(_) => {}
        Err(e) if absent(&e) && resolution.holds_anchors => {}
        Err(e) => return Err(e),
    }
    if resolution.holds_anchors { Ok(None) } else { Err(Error::NotFound) }
}

/// One entry of a listing with what a lookup of it shows ([`View::readdir_plus`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedEntry {
    /// The entry.
    pub entry: DirEntry,
    /// Its attributes as the user sees them; `None` when a lookup fails (a looping link).
    pub attr: Option<Attr>,
    /// Whether it may be changed through the view.
    pub writable: bool,
    /// Whether it is a directory the view synthesizes.
    pub synthesized: bool,
}

/// A directory opened for listing; see [`View::open_dir`].
#[derive(Debug)]
pub struct OpenDir<N> {
    path: VPath,
    dirs: Vec<(N, bool)>,
    anchors: Vec<Name>,
    single_layer: bool,
}

impl<N> OpenDir<N> {
    /// Whether one layer's directory holds the whole listing (no merge, no link or exception
    /// below): then that directory's own change time says when the listing changed.
    pub fn single_layer(&self) -> bool {
        self.single_layer
    }
}

/// A directory listing; see [`View::list`].
#[derive(Debug)]
pub struct Listing<N> {
    /// The entries, as [`View::readdir`] returns them.
    pub entries: Vec<DirEntry>,
    /// Where each entry comes from, in the same order.
    sources: Vec<Source>,
    /// The directory of each listed layer, with its writability.
    dirs: Vec<(N, bool)>,
}

/// Where a listed entry comes from.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// A layer's directory (index into `Listing::dirs`).
    Layer(usize),
    /// The name of a link or exception, with what its lookup showed (attributes, writable,
    /// synthesized), if it succeeded.
    Anchor(Option<(Attr, bool, bool)>),
}

/// What [`View::list`] is made of.
struct Gathered<N> {
    dirs: Vec<(N, bool)>,
    union: Vec<(usize, DirEntry)>,
    anchors: Vec<(Name, Result<Found<N>>)>,
}

/// How the name of a link or exception shows in a listing, given what its lookup found.
fn anchor<N>(listing: &[DirEntry], policy: CasePolicy, name: Name, found: Result<Found<N>>) -> Anchor {
    match found {
        Ok(f) => Anchor::Shows(DirEntry { name, kind: f.attr.kind, ino: f.attr.ino }),
        // Listed names can be looked up: a link whose backing is gone does not show.
        Err(e) if absent(&e) => Anchor::Hidden(name),
        // One that fails otherwise (a cycle, a denied backing) shows, as a dangling symlink
        // does, with the type its layers give the name, if any.
        Err(_) => {
            let listed = listing.iter().find(|e| policy.same(e.name.as_bytes(), name.as_bytes()));
            let kind = listed.map_or(FileKind::Dir, |e| e.kind);
            Anchor::Shows(DirEntry { name, kind, ino: listed.map_or(0, |e| e.ino) })
        }
    }
}

impl<B: Backing> View<B> {
    /// A view over `backing` with no links, comparing names under `policy`.
    pub fn new(backing: B, policy: CasePolicy) -> View<B> {
        let since_epoch =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let born = Timestamp { secs: since_epoch.as_secs() as i64, nanos: since_epoch.subsec_nanos() };
        View {
            backing,
            table: RwLock::new(LinkTable::new(policy)),
            born,
            roots: parking_lot::Mutex::new(std::collections::HashMap::new()),
            dirs: parking_lot::Mutex::new(std::collections::HashMap::new()),
            dirs_forgotten: std::sync::atomic::AtomicU64::new(0),
            root_ttl: std::time::Duration::ZERO,
            keep_dirs: false,
        }
    }

    /// Keeps each link's opened backing root for up to `ttl` instead of opening `B`'s path for
    /// every call (zero, the default: open it every time). A kept root whose object is no longer
    /// linked (B removed) is opened again at once, so nothing is ever created in a removed
    /// directory; a B renamed away and replaced is followed for at most `ttl`, the same bound a
    /// mount's kernel cache puts on what a user sees.
    pub fn set_root_cache(&mut self, ttl: std::time::Duration) {
        self.root_ttl = ttl;
    }

    /// Keeps the directories walked to below a root as well, for the same time (at most
    /// [`KEPT_DIRS_MAX`]), so that a call on a name costs one store call on its directory instead
    /// of a walk from the root, a handle and its release. A kept directory is used unchecked; a
    /// miss in it has it checked (one `stat`), and a removed one is walked to again, so nothing
    /// is ever created in a removed directory. Renaming or removing a directory through the view
    /// forgets them all at once; one renamed away and replaced behind the view's back is followed
    /// for at most the cache time, as a kept root is. What is kept past its time is let go by
    /// [`View::drop_expired`], or when it is next looked for.
    ///
    /// For stores where an open handle stands in no one's way: on Linux a held directory can
    /// still be renamed and removed by others, and only a file system mounted below it cannot be
    /// unmounted (without `-l`) until it is let go. The Windows backend leaves this off: a
    /// handle there can keep a removed name in place until it is closed.
    pub fn keep_dirs(&mut self, keep: bool) {
        self.keep_dirs = keep;
    }

    /// Lets go of kept roots and directories whose time is over (for a timer to call, so that
    /// an idle view holds nothing open below its links for longer than the cache time).
    pub fn drop_expired(&self) {
        let now = std::time::Instant::now();
        self.roots.lock().retain(|_, (_, until)| *until > now);
        self.dirs.lock().retain(|_, below| {
            below.retain(|_, (_, until)| *until > now);
            !below.is_empty()
        });
    }

    /// Forgets every kept directory (a directory was renamed or removed through the view), and
    /// every walk under way: one that began before cannot be kept ([`View::in_dir`]).
    fn forget_dirs(&self) {
        let mut dirs = self.dirs.lock();
        dirs.clear();
        self.dirs_forgotten.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The backing store.
    pub fn backing(&self) -> &B {
        &self.backing
    }

    /// The case policy of the view.
    pub fn policy(&self) -> CasePolicy {
        self.table.read().policy()
    }

    /// The link table's generation (bumped by every link change).
    pub fn generation(&self) -> u64 {
        self.table.read().generation()
    }

    // ---- links

    /// Creates a link (rules 1-11); the new link shows at once.
    pub fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
        let mut table = self.table.write();
        table.create(spec, &ViewProbe(self))
    }

    /// Removes the link at `virt` (rule 17).
    pub fn remove_link(&self, virt: &VPath) -> Result<Link> {
        self.table.write().remove(virt)
    }

    /// Every link in creation order.
    pub fn links(&self) -> Vec<Link> {
        self.table.read().list().into_iter().cloned().collect()
    }

    /// The layers serving `path` now.
    pub fn resolve(&self, path: &VPath) -> Result<Resolution> {
        self.table.read().resolve(path)
    }

    // ---- lookups

    /// What `path` shows: attributes and the providing layer.
    pub fn lookup(&self, path: &VPath) -> Result<Found<B::Node>> {
        let resolution = self.resolve(path)?;
        self.find(resolution)
    }

    /// Attributes of `path` as the user sees them.
    pub fn getattr(&self, path: &VPath) -> Result<Attr> {
        Ok(self.lookup_shown(path)?.attr)
    }

    /// What `path` shows, as [`View::lookup`] finds it, without opening the object itself: one
    /// `stat` of the name in its directory.
    pub fn lookup_shown(&self, path: &VPath) -> Result<Shown> {
        let resolution = self.resolve(path)?;
        Ok(match shown_entry(&resolution, self.first_attr(&resolution))? {
            Some((i, raw)) => {
                let writable = resolution.layers[i].writable;
                Shown { attr: report::attr(raw, writable), writable, synthesized: false }
            }
            None => Shown { attr: report::synthetic_dir(self.born), writable: false, synthesized: true },
        })
    }

    /// Like [`View::first_node`], with the attributes of what the first layer holds, not a
    /// handle to it.
    fn first_attr(&self, resolution: &Resolution) -> Result<(usize, Attr)> {
        for (i, layer) in resolution.layers.iter().enumerate() {
            match self.layer_attr(layer) {
                Ok(attr) => return Ok((i, attr)),
                Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::NotFound)
    }

    /// The attributes of what a layer holds at its location.
    fn layer_attr(&self, layer: &Layer) -> Result<Attr> {
        if let Some((name, dir)) = layer.rel.split_last() {
            if let Some(done) = self.in_dir(&layer.root, dir, |d| self.backing.stat_child(d, name)) {
                return done;
            }
        }
        match self.layer_node(layer)? {
            (_, Some(attr)) => Ok(attr),
            (node, None) => self.backing.stat(&node),
        }
    }

    fn lookup_in(&self, table: &LinkTable, path: &VPath) -> Result<Found<B::Node>> {
        self.find(table.resolve(path)?)
    }

    /// The first layer holding the path. A layer where an ancestor of the path is not a
    /// directory masks every layer below it (rule 11: what a file hides stays hidden). A path
    /// that holds links or exceptions below it is a directory whatever the layers hold there:
    /// synthesized if they hold none (rules 8, 15, 16).
    fn find(&self, resolution: Resolution) -> Result<Found<B::Node>> {
        let mut node = None;
        let first = self.first_node(&resolution).and_then(|(i, found, checked)| {
            let raw = match checked {
                Some(raw) => raw,
                None => self.backing.stat(&found)?,
            };
            node = Some(found);
            Ok((i, raw))
        });
        Ok(match shown_entry(&resolution, first)? {
            Some((i, raw)) => {
                let writable = resolution.layers[i].writable;
                let attr = report::attr(raw, writable);
                Found { attr, node, layer: Some(i), writable, resolution }
            }
            None => {
                let attr = report::synthetic_dir(self.born);
                Found { attr, node: None, layer: None, writable: false, resolution }
            }
        })
    }

    /// The first layer holding the path: its index, its node, and the node's attributes when
    /// opening it already read them.
    fn first_node(&self, resolution: &Resolution) -> Result<(usize, B::Node, Option<Attr>)> {
        for (i, layer) in resolution.layers.iter().enumerate() {
            match self.layer_node(layer) {
                Ok((node, attr)) => return Ok((i, node, attr)),
                Err(Error::NotFound) => {}
                Err(e) => return Err(e),
            }
        }
        Err(Error::NotFound)
    }

    /// Opens a layer's root, checking that a kept root is still linked.
    fn open_root(&self, root: &LayerRoot) -> Result<B::Node> {
        self.root(root, true).map(|r| r.node)
    }

    /// Opens a layer's root. A kept root is checked to be still linked when `check` is set;
    /// unchecked, it may be a removed directory, which has no entries and takes none, so that
    /// every call below it fails with [`Error::NotFound`] (see [`View::below_root`]).
    fn root(&self, root: &LayerRoot, check: bool) -> Result<Opened<B::Node>> {
        let fresh = |node| Opened { node, kept: Kept::Fresh };
        match root {
            LayerRoot::Disk => self.backing.open_disk_root().map(fresh),
            LayerRoot::Host(p) if self.root_ttl.is_zero() => self.backing.open_host(p).map(fresh),
            LayerRoot::Host(p) => {
                let now = std::time::Instant::now();
                let kept = self.roots.lock().get(p).filter(|(_, until)| *until > now).map(|(n, _)| n.clone());
                if let Some(node) = kept {
                    if !check {
                        return Ok(Opened { node, kept: Kept::Unchecked });
                    }
                    match self.backing.stat(&node) {
                        Ok(attr) if attr.nlink > 0 => return Ok(Opened { node, kept: Kept::Checked(attr) }),
                        _ => {}
                    }
                }
                let node = self.backing.open_host(p);
                let mut roots = self.roots.lock();
                match &node {
                    Ok(n) => {
                        roots.insert(Arc::clone(p), (n.clone(), now + self.root_ttl));
                    }
                    Err(_) => {
                        roots.remove(p);
                    }
                }
                node.map(fresh)
            }
        }
    }

    /// Runs `f` below a layer's root, trusting a kept root without checking it first: below a
    /// removed directory every call fails with [`Error::NotFound`] (below a removed file, with
    /// [`Error::NotDir`]; on a remote store, with [`Error::Stale`]), so only such a failure
    /// makes the root checked, and `f` run again on a fresh one if it was removed. A call that
    /// succeeds costs no check, a miss one `stat`, as every call did before.
    fn below_root<T>(&self, root: &LayerRoot, f: impl Fn(&B::Node) -> Result<T>) -> Result<T> {
        let opened = self.root(root, false)?;
        match f(&opened.node) {
            Err(e) if missed(&e) && matches!(opened.kept, Kept::Unchecked) => {
                let again = self.root(root, true)?;
                match again.kept {
                    // Still linked: the miss stands.
                    Kept::Checked(_) => Err(e),
                    Kept::Fresh | Kept::Unchecked => f(&again.node),
                }
            }
            done => done,
        }
    }

    pub(crate) fn open_layer_node(&self, layer: &Layer) -> Result<B::Node> {
        self.layer_node(layer).map(|(node, _)| node)
    }

    /// A layer's node, with its attributes when opening it read them (a kept root checked).
    fn layer_node(&self, layer: &Layer) -> Result<(B::Node, Option<Attr>)> {
        if layer.rel.is_empty() {
            // The root itself is the answer: it must be checked, and the check's attributes
            // serve the caller.
            let opened = self.root(&layer.root, true)?;
            let attr = match opened.kept {
                Kept::Checked(attr) => Some(attr),
                Kept::Fresh | Kept::Unchecked => None,
            };
            return Ok((opened.node, attr));
        }
        if let Some((name, dir)) = layer.rel.split_last() {
            if let Some(done) = self.in_dir(&layer.root, dir, |d| self.backing.lookup(d, name)) {
                return done.map(|node| (node, None));
            }
        }
        self.below_root(&layer.root, |root| self.backing.walk(root, &layer.rel)).map(|node| (node, None))
    }

    /// Runs `f` on directory `dir` below `root`: a kept one, or one walked to now and kept if it
    /// is a directory (see [`View::keep_dirs`]). `None` when nothing is kept (no cache time, not
    /// asked for, or `dir` is the root itself, which [`View::below_root`] serves) or when `dir`
    /// is not a directory: the caller then walks the whole way, as without the cache, so that
    /// what it meets on the way (a file, a symlink) fails as it always did.
    ///
    /// A kept directory is used unchecked. Only a miss in it (`f` finds nothing, or the handle
    /// is stale) has it checked, with one `stat`: still linked, the miss stands; removed (or
    /// stale), it is forgotten and walked to again, so nothing is ever created in a removed
    /// directory. One renamed away and replaced by something else is followed until its time is
    /// over, as a kept root is.
    fn in_dir<T>(
        &self,
        root: &LayerRoot,
        dir: &[Name],
        f: impl Fn(&B::Node) -> Result<T>,
    ) -> Option<Result<T>> {
        if dir.is_empty() || self.root_ttl.is_zero() || !self.keep_dirs {
            return None;
        }
        let now = std::time::Instant::now();
        let kept = {
            let dirs = self.dirs.lock();
            dirs.get(root)
                .and_then(|below| below.get(dir))
                .filter(|(_, until)| *until > now)
                .map(|(n, _)| n.clone())
        };
        if let Some(node) = kept {
            match f(&node) {
                Err(e) if missed(&e) => match self.backing.stat(&node) {
                    Ok(attr) if attr.nlink > 0 => return Some(Err(e)),
                    _ => {
                        if let Some(below) = self.dirs.lock().get_mut(root) {
                            below.remove(dir);
                        }
                    }
                },
                done => return Some(done),
            }
        }
        // A directory renamed through the view while this walk runs must not be kept under the
        // name it had: the walk is kept only if nothing was forgotten meanwhile.
        let forgotten = self.dirs_forgotten.load(std::sync::atomic::Ordering::Relaxed);
        let node = match self.below_root(root, |r| self.backing.walk(r, dir)) {
            Ok(node) => node,
            Err(e) => return Some(Err(e)),
        };
        if !matches!(self.backing.stat(&node), Ok(attr) if attr.kind == FileKind::Dir) {
            return None;
        }
        {
            let mut dirs = self.dirs.lock();
            if self.dirs_forgotten.load(std::sync::atomic::Ordering::Relaxed) == forgotten {
                let kept = |dirs: &KeptDirs<B::Node>| {
                    dirs.values().map(std::collections::HashMap::len).sum::<usize>()
                };
                if kept(&dirs) >= KEPT_DIRS_MAX {
                    dirs.retain(|_, below| {
                        below.retain(|_, (_, until)| *until > now);
                        !below.is_empty()
                    });
                    if kept(&dirs) >= KEPT_DIRS_MAX {
                        dirs.clear();
                    }
                }
                dirs.entry(root.clone())
                    .or_default()
                    .insert(dir.to_vec(), (node.clone(), now + self.root_ttl));
            }
        }
        Some(f(&node))
    }

    /// The directory holding a layer's location and the name there: for a link's backing root,
    /// the parent of `B` (rule 19: removing `V` acts on `B`).
    fn location(&self, layer: &Layer) -> Result<(B::Node, Name)> {
        match layer.rel.split_last() {
            Some((name, dir)) => {
                let root = self.open_root(&layer.root)?;
                let node = if dir.is_empty() { root } else { self.backing.walk(&root, dir)? };
                Ok((node, name.clone()))
            }
            None => match &layer.root {
                LayerRoot::Disk => Err(Error::Busy),
                LayerRoot::Host(p) => self.backing.open_host_parent(p),
            },
        }
    }

    /// Runs `op` on [`View::location`]'s directory and name, trusting a kept root (see
    /// [`View::below_root`]): for the fast paths, which take the full way on a miss.
    fn at_location<T>(&self, layer: &Layer, op: impl Fn(&B::Node, &Name) -> Result<T>) -> Result<T> {
        match layer.rel.split_last() {
            Some((name, dir)) => self.in_dir(&layer.root, dir, |d| op(d, name)).unwrap_or_else(|| {
                self.below_root(&layer.root, |root| {
                    if dir.is_empty() { op(root, name) } else { op(&self.backing.walk(root, dir)?, name) }
                })
            }),
            None => {
                let (dir, name) = self.location(layer)?;
                op(&dir, &name)
            }
        }
    }

    /// Like [`View::location`], creating the directories the layer lacks below its root with
    /// the modes the view shows for them (copy-up of directories, see [`crate::merge`]).
    fn location_creating(&self, layer: &Layer, path: &VPath) -> Result<(B::Node, Name)> {
        match self.location(layer) {
            Err(e) if absent(&e) && !layer.rel.is_empty() => {}
            other => return other,
        }
        let Some((name, dirs)) = layer.rel.split_last() else { return Err(Error::NotFound) };
        let mut node = self.open_root(&layer.root)?;
        for (i, dir) in dirs.iter().enumerate() {
            node = match self.backing.lookup(&node, dir) {
                Ok(n) => n,
                Err(Error::NotFound) => {
                    // The virtual directory this component corresponds to (rel is a path tail).
                    let from_end = dirs.len() - i;
                    let perm = path
                        .depth()
                        .checked_sub(from_end + 1)
                        .map(|keep| VPath::from_names(path.names()[..=keep].to_vec()))
                        .and_then(|v| self.getattr(&v).ok())
                        // No virtual counterpart (a chain's longer layer path): owner only.
                        .map_or(0o700, |a| a.perm | 0o200);
                    self.backing.mkdir(&node, dir, perm & 0o7777)?
                }
                Err(e) => return Err(e),
            };
        }
        Ok((node, name.clone()))
    }

    /// Checks that `path` can be created and runs `make` (a store call that fails if the name
    /// exists) on where: the directory in the chosen layer and the name (rules 12, 14).
    fn make_new<T>(&self, path: &VPath, make: impl Fn(&B::Node, &Name) -> Result<T>) -> Result<T> {
        if path.is_root() {
            return Err(Error::Exists);
        }
        // One writable layer, nothing anchored here: the store's own exclusive create is the
        // rules' check (no lookup first). Anything else, or a missing parent, takes the full way.
        if let Some(layer) = self.single_layer(path)?.filter(|l| l.writable) {
            match self.at_location(&layer, &make) {
                Err(e) if absent(&e) => {}
                done => return done,
            }
        }
        match self.lookup(path) {
            Ok(_) => return Err(Error::Exists),
            Err(Error::NotFound) => {}
            Err(e) => return Err(e),
        }
        self.check_new_parent(path)?;
        let resolution = self.resolve(path)?;
        let layer = &resolution.layers[merge::create_layer(&resolution.layers)?];
        let (dir, name) = self.location_creating(layer, path)?;
        make(&dir, &name)
    }

    /// The one layer serving `path` when nothing else can show there: a single layer and no
    /// link or exception at or below the path.
    fn single_layer(&self, path: &VPath) -> Result<Option<Layer>> {
        let resolution = self.resolve(path)?;
        if resolution.layers.len() == 1 && !resolution.holds_anchors && resolution.link_root.is_none() {
            Ok(resolution.layers.into_iter().next())
        } else {
            Ok(None)
        }
    }

    /// The parent of a new entry must be a directory the view can change: not a synthesized one.
    fn check_new_parent(&self, path: &VPath) -> Result<()> {
        let parent = self.lookup(&path.parent().unwrap_or_default())?;
        if parent.attr.kind != FileKind::Dir {
            return Err(Error::NotDir);
        }
        if parent.node.is_none() {
            return Err(Error::ReadOnly);
        }
        Ok(())
    }

    fn changeable(&self, path: &VPath) -> Result<(Found<B::Node>, B::Node)> {
        let found = self.lookup(path)?;
        match (&found.node, found.writable) {
            (Some(node), true) => {
                let node = node.clone();
                Ok((found, node))
            }
            _ => Err(Error::ReadOnly),
        }
    }

    /// The node `path` shows, `None` for a synthesized directory.
    fn node_of(&self, path: &VPath) -> Result<Option<B::Node>> {
        let resolution = self.resolve(path)?;
        if resolution.holds_anchors {
            return Ok(self.find(resolution)?.node);
        }
        // Nothing anchored here: the first layer holding the path provides it, whatever its
        // kind, so its attributes are not needed.
        Ok(Some(self.first_node(&resolution)?.1))
    }

    // ---- directories

    /// The listing of directory `path`: the union of its layers plus synthesized entries.
    pub fn readdir(&self, path: &VPath) -> Result<Vec<DirEntry>> {
        Ok(self.list(path)?.entries)
    }

    /// Like [`View::readdir`], with what a lookup of each entry would show (readdirplus);
    /// entries gone since they were listed are left out.
    pub fn readdir_plus(&self, path: &VPath) -> Result<Vec<ListedEntry>> {
        let listing = self.list(path)?;
        let mut out = Vec::with_capacity(listing.entries.len());
        for i in 0..listing.entries.len() {
            out.extend(self.listed(&listing, i)?);
        }
        Ok(out)
    }

    /// The listing of directory `path`, able to tell entry by entry what a lookup would show
    /// ([`View::listed`]), so a reader that wants attributes for part of it pays for that part.
    pub fn list(&self, path: &VPath) -> Result<Listing<B::Node>> {
        self.list_open(&self.open_dir(path)?)
    }

    fn list_gathered(&self, gathered: Gathered<B::Node>) -> Result<Listing<B::Node>> {
        let policy = self.policy();
        let mut listing: Vec<(DirEntry, Source)> =
            gathered.union.into_iter().map(|(layer, e)| (e, Source::Layer(layer))).collect();
        let names: Vec<DirEntry> = if gathered.anchors.is_empty() {
            Vec::new()
        } else {
            listing.iter().map(|(e, _)| e.clone()).collect()
        };
        let overlays = gathered
            .anchors
            .into_iter()
            .map(|(name, found)| {
                let shown = found.as_ref().ok().map(|f| (f.attr, f.writable, f.node.is_none()));
                (anchor(&names, policy, name, found), Source::Anchor(shown))
            })
            .collect();
        merge::overlay(policy, &mut listing, overlays);
        let (entries, sources) = listing.into_iter().unzip();
        Ok(Listing { entries, sources, dirs: gathered.dirs })
    }

    /// What a lookup of entry `i` of `listing` shows, `None` if it is gone since. A plain entry
    /// is stat'ed in the layer that lists it (one call, no new resolution: a name that is not a
    /// link's `V` or an exception resolves through its directory's layers); the names of links
    /// and exceptions were looked up when listed.
    pub fn listed(&self, listing: &Listing<B::Node>, i: usize) -> Result<Option<ListedEntry>> {
        let (Some(entry), Some(source)) = (listing.entries.get(i), listing.sources.get(i)) else {
            return Ok(None);
        };
        let entry = entry.clone();
        match *source {
            Source::Layer(layer) => {
                let Some((dir, writable)) = listing.dirs.get(layer) else { return Ok(None) };
                match self.backing.stat_child(dir, &entry.name) {
                    Ok(raw) => Ok(Some(ListedEntry {
                        attr: Some(report::attr(raw, *writable)),
                        writable: *writable,
                        synthesized: false,
                        entry,
                    })),
                    Err(e) if absent(&e) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            Source::Anchor(Some((attr, writable, synthesized))) => {
                Ok(Some(ListedEntry { entry, attr: Some(attr), writable, synthesized }))
            }
            Source::Anchor(None) => {
                Ok(Some(ListedEntry { entry, attr: None, writable: false, synthesized: false }))
            }
        }
    }

    /// Opens directory `path` for listing: its layers' directories and the names of links and
    /// exceptions below it, as they are now. A listing taken from it later shows what was
    /// opened, even if a link changed meanwhile (rule 18, for directory handles).
    pub fn open_dir(&self, path: &VPath) -> Result<OpenDir<B::Node>> {
        let (resolution, mut anchors) = {
            let table = self.table.read();
            (table.resolve(path)?, table.anchors_below(path))
        };
        let policy = self.policy();
        let mut dirs = Vec::new();
        let mut found = false;
        for layer in &resolution.layers {
            let node = match self.open_layer_node(layer) {
                Ok(n) => n,
                Err(Error::NotFound) => continue,
                // An ancestor that is not a directory here masks the layers below (see find).
                Err(Error::NotDir) => break,
                Err(e) => return Err(e),
            };
            let is_dir = self.backing.stat(&node)?.kind == FileKind::Dir;
            if !found && !is_dir {
                if resolution.holds_anchors {
                    break; // synthesized: only what lies below shows
                }
                return Err(Error::NotDir);
            }
            found = true;
            if is_dir {
                dirs.push((node, layer.writable));
            }
        }
        if !found && !resolution.holds_anchors {
            return Err(Error::NotFound);
        }
        // Names a chain leads to show too (rule 9): the chased paths' own links and exceptions.
        {
            let table = self.table.read();
            for chased in &resolution.chased {
                for name in table.anchors_below(chased) {
                    if !anchors.iter().any(|a| policy.same(a.as_bytes(), name.as_bytes())) {
                        anchors.push(name);
                    }
                }
            }
        }
        let single_layer = dirs.len() == 1 && anchors.is_empty() && !resolution.holds_anchors;
        Ok(OpenDir { path: path.clone(), dirs, anchors, single_layer })
    }

    /// The listing of an open directory ([`View::open_dir`]).
    pub fn list_open(&self, dir: &OpenDir<B::Node>) -> Result<Listing<B::Node>> {
        self.list_gathered(self.gather_open(dir)?)
    }

    /// The union of an open directory's layer listings (each entry with the index of its
    /// directory), and the names of links and exceptions below it with what a lookup finds.
    fn gather_open(&self, dir: &OpenDir<B::Node>) -> Result<Gathered<B::Node>> {
        let mut listings = Vec::with_capacity(dir.dirs.len());
        for (node, _) in &dir.dirs {
            listings.push(self.backing.read_dir(node)?);
        }
        let union = merge::union_indexed(self.policy(), listings);
        let anchors =
            dir.anchors.iter().map(|name| (name.clone(), self.lookup(&dir.path.join(name)))).collect();
        Ok(Gathered { dirs: dir.dirs.clone(), union, anchors })
    }

    /// Creates directory `path`.
    pub fn mkdir(&self, path: &VPath, perm: u32) -> Result<Attr> {
        let node = self.make_new(path, |dir, name| self.backing.mkdir(dir, name, perm))?;
        Ok(report::attr(self.backing.stat(&node)?, true))
    }

    /// Creates a special file (fifo, socket, device) at `path`.
    pub fn mknod(&self, path: &VPath, kind: FileKind, perm: u32, rdev: u64) -> Result<Attr> {
        let node = self.make_new(path, |dir, name| self.backing.mknod(dir, name, kind, perm, rdev))?;
        Ok(report::attr(self.backing.stat(&node)?, true))
    }

    /// Creates symlink `path` holding `target` unchanged (rule 24).
    pub fn symlink(&self, target: &[u8], path: &VPath) -> Result<Attr> {
        let node = self.make_new(path, |dir, name| self.backing.symlink(dir, name, target))?;
        Ok(report::attr(self.backing.stat(&node)?, true))
    }

    /// Removes the non-directory `path`, in the layer that provides it.
    pub fn unlink(&self, path: &VPath) -> Result<()> {
        self.remove(path, false)
    }

    /// Removes the empty directory `path`, in the layer that provides it.
    pub fn rmdir(&self, path: &VPath) -> Result<()> {
        self.remove(path, true)
    }

    fn remove(&self, path: &VPath, dir: bool) -> Result<()> {
        let done = self.remove_entry(path, dir);
        if dir && done.is_ok() {
            self.forget_dirs();
        }
        done
    }

    fn remove_entry(&self, path: &VPath, dir: bool) -> Result<()> {
        if path.is_root() {
            return Err(Error::Busy);
        }
        // One writable layer, nothing anchored at or below: the store's unlink/rmdir checks
        // (EISDIR, ENOTEMPTY) are the rules'. A miss takes the full way, which tells a name
        // that is not there from a kept root that was removed.
        if let Some(layer) = self.single_layer(path)?.filter(|l| l.writable) {
            let done = self.at_location(&layer, |parent, name| {
                if dir { self.backing.rmdir(parent, name) } else { self.backing.unlink(parent, name) }
            });
            match done {
                Err(e) if absent(&e) => {}
                done => return done,
            }
        }
        let found = self.lookup(path)?;
        let Some(layer) = found.layer_ref() else {
            // A synthesized directory: it holds a link, so it is not empty.
            return Err(if dir { Error::NotEmpty } else { Error::IsDir });
        };
        if !found.writable {
            return Err(Error::ReadOnly);
        }
        let is_dir = found.attr.kind == FileKind::Dir;
        match (dir, is_dir) {
            (true, false) => return Err(Error::NotDir),
            (false, true) => return Err(Error::IsDir),
            (true, true) if !self.readdir(path)?.is_empty() => return Err(Error::NotEmpty),
            _ => {}
        }
        let (parent, name) = self.location(layer)?;
        if dir { self.backing.rmdir(&parent, &name) } else { self.backing.unlink(&parent, &name) }
    }

    /// Renames `from` to `to` (see [`crate::merge`] for which layer the result lands in).
    pub fn rename(&self, from: &VPath, to: &VPath, flags: RenameFlags) -> Result<()> {
        {
            let table = self.table.read();
            for p in [from, to] {
                let on = table.links_on(p);
                if p.is_root() || on.exact.is_some() || on.holds_anchors {
                    return Err(Error::Busy);
                }
            }
        }
        if from.names() == to.names() {
            self.lookup(from)?;
            return Ok(());
        }
        let src = self.lookup(from)?;
        let Some(src_layer) = src.layer_ref() else { return Err(Error::Busy) };
        if !src.writable {
            return Err(Error::ReadOnly);
        }
        let (src_dir, src_name) = self.location(src_layer)?;
        let same_entry = from.same(to, self.policy());
        if to.starts_with(from, self.policy()) && !same_entry {
            return Err(Error::InvalidArgument); // a directory into itself
        }
        let dest = if same_entry { Err(Error::NotFound) } else { self.lookup(to) };
        let moves_dir =
            src.attr.kind == FileKind::Dir || matches!(&dest, Ok(found) if found.attr.kind == FileKind::Dir);
        let (dst_dir, dst_name) = match dest {
            Ok(found) => {
                if flags.no_replace {
                    return Err(Error::Exists);
                }
                let Some(shown) = found.layer else { return Err(Error::Busy) };
                let layers = &found.resolution.layers;
                if flags.exchange {
                    // Both names keep their layers: each entry moves to where the other was.
                    if !found.writable {
                        return Err(Error::ReadOnly);
                    }
                    self.location(&layers[shown])?
                } else {
                    // The replaced entry may live in another layer than the result: check what
                    // replacing it means here, as the store would in one layer.
                    match (src.attr.kind == FileKind::Dir, found.attr.kind == FileKind::Dir) {
                        (true, false) => return Err(Error::NotDir),
                        (false, true) => return Err(Error::IsDir),
                        (true, true) if !self.readdir(to)?.is_empty() => return Err(Error::NotEmpty),
                        _ => {}
                    }
                    let target = &layers[merge::replace_layer(layers, shown, src_layer)?];
                    if target == &layers[shown] {
                        self.location(target)?
                    } else {
                        self.location_creating(target, to)?
                    }
                }
            }
            Err(Error::NotFound) if !flags.exchange => {
                self.check_new_parent(to)?;
                let resolution = self.resolve(to)?;
                let layer = &resolution.layers[merge::move_layer(&resolution.layers, src_layer)?];
                self.location_creating(layer, to)?
            }
            Err(e) => return Err(e),
        };
        let done = self.backing.rename(&src_dir, &src_name, &dst_dir, &dst_name, flags);
        if moves_dir {
            // Kept directories are known by their names, which this may have changed.
            self.forget_dirs();
        }
        done
    }

    /// Makes `new` a hard link to `existing`.
    pub fn link(&self, existing: &VPath, new: &VPath) -> Result<Attr> {
        let src = self.lookup(existing)?;
        let (Some(src_layer), Some(node)) = (src.layer_ref(), src.node.as_ref()) else {
            return Err(Error::PermissionDenied);
        };
        if !src.writable {
            return Err(Error::ReadOnly);
        }
        if new.is_root() || self.lookup(new).is_ok() {
            return Err(Error::Exists);
        }
        self.check_new_parent(new)?;
        let resolution = self.resolve(new)?;
        let layer = &resolution.layers[merge::move_layer(&resolution.layers, src_layer)?];
        let (dir, name) = self.location_creating(layer, new)?;
        let linked = self.backing.link(node, &dir, &name)?;
        Ok(report::attr(self.backing.stat(&linked)?, true))
    }

    // ---- files

    /// Opens `path` for I/O; opens that can modify are refused on read-only entries (rule 13).
    pub fn open(&self, path: &VPath, flags: OpenFlags) -> Result<B::File> {
        Ok(self.open_entry(path, flags)?.0)
    }

    /// Like [`View::open`], also returning what the open file is: its attributes as shown (the
    /// object opened is the one they were read from) and whether it may be changed through the
    /// view.
    pub fn open_entry(&self, path: &VPath, flags: OpenFlags) -> Result<(B::File, Attr, bool)> {
        let found = self.lookup(path)?;
        let Some(node) = &found.node else { return Err(Error::IsDir) };
        if flags.modifies() && !found.writable {
            return Err(Error::ReadOnly);
        }
        Ok((self.backing.open(node, flags)?, found.attr, found.writable))
    }

    /// Creates regular file `path` (failing if it exists) and opens it.
    pub fn create(&self, path: &VPath, perm: u32, flags: OpenFlags) -> Result<(Attr, B::File)> {
        let (raw, file) = self.make_new(path, |dir, name| self.backing.create(dir, name, perm, flags))?;
        Ok((report::attr(raw, true), file))
    }

    /// Reads from an open file.
    pub fn read(&self, file: &B::File, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.backing.read(file, offset, buf)
    }

    /// Writes to an open file.
    pub fn write(&self, file: &B::File, offset: u64, data: &[u8]) -> Result<usize> {
        self.backing.write(file, offset, data)
    }

    /// Changes attributes (chmod, chown, truncate, utimens) of `path`.
    pub fn setattr(&self, path: &VPath, changes: &SetAttr) -> Result<Attr> {
        let (_, node) = self.changeable(path)?;
        Ok(report::attr(self.backing.set_attr(&node, changes)?, true))
    }

    /// The target text of symlink `path`, unchanged (rule 24).
    pub fn readlink(&self, path: &VPath) -> Result<Vec<u8>> {
        match self.node_of(path)? {
            Some(node) => self.backing.readlink(&node),
            None => Err(Error::InvalidArgument),
        }
    }

    /// File-system statistics of the store that provides `path`.
    pub fn statfs(&self, path: &VPath) -> Result<StatFs> {
        match self.node_of(path)? {
            Some(node) => self.backing.statfs(&node),
            None => self.backing.statfs(&self.backing.open_disk_root()?),
        }
    }

    // ---- extended attributes

    /// The value of extended attribute `name` of `path`.
    pub fn getxattr(&self, path: &VPath, name: &[u8]) -> Result<Vec<u8>> {
        match self.node_of(path)? {
            Some(node) => self.backing.get_xattr(&node, name),
            None => Err(Error::NoAttribute),
        }
    }

    /// The extended attribute names of `path`.
    pub fn listxattr(&self, path: &VPath) -> Result<Vec<Vec<u8>>> {
        match self.node_of(path)? {
            Some(node) => self.backing.list_xattr(&node),
            None => Ok(Vec::new()),
        }
    }

    /// Sets extended attribute `name` of `path`.
    pub fn setxattr(&self, path: &VPath, name: &[u8], value: &[u8], mode: XattrMode) -> Result<()> {
        let (_, node) = self.changeable(path)?;
        self.backing.set_xattr(&node, name, value, mode)
    }

    /// Removes extended attribute `name` of `path`.
    pub fn removexattr(&self, path: &VPath, name: &[u8]) -> Result<()> {
        let (_, node) = self.changeable(path)?;
        self.backing.remove_xattr(&node, name)
    }

    // ---- security descriptors (stores with Windows ACLs)

    /// The security descriptor of `path` as its store holds it (rule 22: B's security applies
    /// at V); `None` for a directory the view synthesizes, which has none in any store.
    pub fn get_security(&self, path: &VPath) -> Result<Option<Vec<u8>>> {
        match self.node_of(path)? {
            Some(node) => self.backing.get_security(&node).map(Some),
            None => Ok(None),
        }
    }

    /// Changes the security descriptor of `path` in its store; refused on read-only entries
    /// (rule 13) and synthesized directories.
    pub fn set_security(&self, path: &VPath, parts: u32, descriptor: &[u8]) -> Result<()> {
        let (_, node) = self.changeable(path)?;
        self.backing.set_security(&node, parts, descriptor)
    }

    pub(crate) fn table(&self) -> parking_lot::RwLockReadGuard<'_, LinkTable> {
        self.table.read()
    }
}

/// Answers the link table's questions from the namespace as a given table shapes it.
struct ViewProbe<'a, B: Backing>(&'a View<B>);

impl<B: Backing> Probe for ViewProbe<'_, B> {
    fn kind_in_view(&self, table: &LinkTable, path: &VPath) -> Result<Option<FileKind>> {
        match self.0.lookup_in(table, path) {
            Ok(found) => Ok(Some(found.attr.kind)),
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn kind_on_host(&self, path: &AbsPath) -> Result<Option<FileKind>> {
        let backing = &self.0.backing;
        match backing.open_host(path).and_then(|n| backing.stat(&n)) {
            Ok(attr) => Ok(Some(attr.kind)),
            Err(e) if absent(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
