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
//! - A removal through an open handle ([`View::handle_check_remove`]) is refused with the
//!   errors a removal by name gets: the root is busy, a synthesized directory is not empty.
//!
//! One file per concern: this one holds the view, its lookups and names; `kept` the kept roots
//! and directories; `place` where an entry lives in a layer; `entry` (create, remove, rename,
//! link), `dir` (listings), `file` (calls on the entry a path shows) and `handle` (open handles
//! and every call on them).

mod dir;
mod entry;
mod file;
mod handle;
mod kept;
mod place;
mod which;

use parking_lot::RwLock;

use crate::backing::{Attr, Backing, FileKind, Timestamp};
use crate::error::{Error, Result};
use crate::name::{CasePolicy, Name};
use crate::path::{AbsPath, VPath};
use crate::report;
use crate::resolve::{Layer, Resolution};
use crate::table::{Link, LinkId, LinkSpec, LinkTable, Probe};

pub use dir::{ListedEntry, Listing, OpenDir};
pub use handle::Handle;
use kept::{KeptDirs, KeptRoots};
pub use which::{Holder, Served, Which};

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
pub struct EntryAttr {
    /// Attributes as reported at the virtual path (write bits cleared on read-only entries).
    pub attr: Attr,
    /// Whether the entry may be changed through the view.
    pub writable: bool,
    /// A directory the view makes up to keep a deeper link reachable (rules 5, 8, 15, 16).
    pub synthesized: bool,
}

/// What a virtual path shows: its attributes as the user sees them, and where they come from.
#[derive(Debug)]
pub struct Entry<N> {
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

impl<N> Entry<N> {
    fn layer_ref(&self) -> Option<&Layer> {
        self.layer.and_then(|i| self.resolution.layers.get(i))
    }
}

/// Whether a call found nothing there (or a file where a directory was needed).
fn is_missing(e: &Error) -> bool {
    matches!(e, Error::NotFound | Error::NotDir)
}

/// What a path shows, given what the first layer holding it holds (its index and raw
/// attributes, or why there is none): that entry (`Some`) if it is a directory or nothing is
/// anchored below the path; else, with links or exceptions below, a synthesized directory
/// (`None`, rules 8, 15, 16). [`View::find`] and [`View::lookup_shown`] decide through it.
fn shown_entry(resolution: &Resolution, first: Result<(usize, Attr)>) -> Result<Option<(usize, Attr)>> {
    match first {
        Ok((i, raw)) if raw.kind == FileKind::Dir || !resolution.holds_anchors => return Ok(Some((i, raw))),
        Ok(_) => {}
        Err(e) if is_missing(&e) && resolution.holds_anchors => {}
        Err(e) => return Err(e),
    }
    if resolution.holds_anchors { Ok(None) } else { Err(Error::NotFound) }
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

    /// Lets go of kept roots and directories whose time is over (for a timer to call, so that
    /// The backing store.
    pub fn backing(&self) -> &B {
        &self.backing
    }

    /// How long opened backing roots are kept ([`View::set_root_cache`]): the view's cache time.
    pub fn cache_time(&self) -> std::time::Duration {
        self.root_ttl
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

    /// Tries `steps` on a copy of the link table, against the namespace as it is now, and
    /// changes nothing: the index of the first step the rules refuse, with why. `link apply`
    /// checks a whole plan this way before making any change.
    pub fn check_steps(&self, steps: &[crate::plan::Step]) -> std::result::Result<(), (usize, Error)> {
        let mut table = self.table.read().clone();
        for (i, step) in steps.iter().enumerate() {
            let done = match step {
                crate::plan::Step::Remove(virt) => table.remove(virt).map(|_| ()),
                crate::plan::Step::Create(spec) => table.create(spec.clone(), &ViewProbe(self)).map(|_| ()),
            };
            done.map_err(|e| (i, e))?;
        }
        Ok(())
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
    pub fn lookup(&self, path: &VPath) -> Result<Entry<B::Node>> {
        let resolution = self.resolve(path)?;
        self.find(resolution)
    }

    /// Attributes of `path` as the user sees them.
    pub fn getattr(&self, path: &VPath) -> Result<Attr> {
        Ok(self.lookup_shown(path)?.attr)
    }

    /// What `path` shows, as [`View::lookup`] finds it, without opening the object itself: one
    /// `stat` of the name in its directory.
    pub fn lookup_shown(&self, path: &VPath) -> Result<EntryAttr> {
        let resolution = self.resolve(path)?;
        Ok(match shown_entry(&resolution, self.first_attr(&resolution))? {
            Some((i, raw)) => {
                let writable = resolution.layers[i].writable;
                EntryAttr { attr: report::attr(raw, writable), writable, synthesized: false }
            }
            None => EntryAttr { attr: report::synthetic_dir(self.born), writable: false, synthesized: true },
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

    fn lookup_in(&self, table: &LinkTable, path: &VPath) -> Result<Entry<B::Node>> {
        self.find(table.resolve(path)?)
    }

    /// The first layer holding the path. A layer where an ancestor of the path is not a
    /// directory masks every layer below it (rule 11: what a file hides stays hidden). A path
    /// that holds links or exceptions below it is a directory whatever the layers hold there:
    /// synthesized if they hold none (rules 8, 15, 16).
    fn find(&self, resolution: Resolution) -> Result<Entry<B::Node>> {
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
                Entry { attr, node, layer: Some(i), writable, resolution }
            }
            None => {
                let attr = report::synthetic_dir(self.born);
                Entry { attr, node: None, layer: None, writable: false, resolution }
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
    /// The name an entry reached at `path` reports: the same virtual path, each component
    /// spelled as the view holds it (rule 21). Fails with [`Error::NotFound`] when `path` does
    /// not exist.
    pub fn canonical_path(&self, path: &VPath) -> Result<VPath> {
        let mut out = VPath::root();
        for name in path.names() {
            let here = out.join(name);
            let spelled = self.table.read().spelled(&here);
            let stored = match spelled {
                Some(n) => n,
                None => self.stored_name_in(&out, name)?,
            };
            out = out.join(&stored);
        }
        self.lookup(&out)?;
        Ok(out)
    }

    /// The store's spelling of `name` in the first layer of `dir` that holds it.
    fn stored_name_in(&self, dir: &VPath, name: &Name) -> Result<Name> {
        let resolution = self.resolve(dir)?;
        for layer in &resolution.layers {
            let Ok(node) = self.open_layer_node(layer) else { continue };
            if self.backing.lookup(&node, name).is_ok() {
                return self.backing.stored_name(&node, name);
            }
        }
        Err(Error::NotFound)
    }

    fn writable_node(&self, path: &VPath) -> Result<(Entry<B::Node>, B::Node)> {
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
}

/// Answers the link table's questions from the namespace as a given table shapes it.
struct ViewProbe<'a, B: Backing>(&'a View<B>);

impl<B: Backing> Probe for ViewProbe<'_, B> {
    fn kind_in_view(&self, table: &LinkTable, path: &VPath) -> Result<Option<FileKind>> {
        match self.0.lookup_in(table, path) {
            Ok(found) => Ok(Some(found.attr.kind)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn kind_on_host(&self, path: &AbsPath) -> Result<Option<FileKind>> {
        let backing = &self.0.backing;
        match backing.open_host(path).and_then(|n| backing.stat(&n)) {
            Ok(attr) => Ok(Some(attr.kind)),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
