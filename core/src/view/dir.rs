//! Listings: the union of a directory's layers and the names of links and exceptions below it
//! (rules 9, 11, 18).

use crate::backing::{Attr, Backing, DirEntry, FileKind};
use crate::error::{Error, Result};
use crate::merge::{self, Anchor};
use crate::name::{CasePolicy, Name};
use crate::path::VPath;
use crate::report;

use super::{Entry, View, is_missing};

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
pub(super) enum Source {
    /// A layer's directory (index into `Listing::dirs`).
    Layer(usize),
    /// The name of a link or exception, with what its lookup showed (attributes, writable,
    /// synthesized), if it succeeded.
    Anchor(Option<(Attr, bool, bool)>),
}

/// What [`View::list`] is made of.
pub(super) struct Gathered<N> {
    dirs: Vec<(N, bool)>,
    union: Vec<(usize, DirEntry)>,
    anchors: Vec<(Name, Result<Entry<N>>)>,
}

/// How the name of a link or exception shows in a listing, given what its lookup found.
pub(super) fn anchor<N>(
    listing: &[DirEntry],
    policy: CasePolicy,
    name: Name,
    found: Result<Entry<N>>,
) -> Anchor {
    match found {
        Ok(f) => Anchor::Shows(DirEntry { name, kind: f.attr.kind, ino: f.attr.ino }),
        // Listed names can be looked up: a link whose backing is gone does not show.
        Err(e) if is_missing(&e) => Anchor::Hidden(name),
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

    pub(super) fn list_gathered(&self, gathered: Gathered<B::Node>) -> Result<Listing<B::Node>> {
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
                    Err(e) if is_missing(&e) => Ok(None),
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
    pub(super) fn gather_open(&self, dir: &OpenDir<B::Node>) -> Result<Gathered<B::Node>> {
        let mut listings = Vec::with_capacity(dir.dirs.len());
        for (node, _) in &dir.dirs {
            listings.push(self.backing.read_dir(node)?);
        }
        let union = merge::union_indexed(self.policy(), listings);
        let anchors =
            dir.anchors.iter().map(|name| (name.clone(), self.lookup(&dir.path.join(name)))).collect();
        Ok(Gathered { dirs: dir.dirs.clone(), union, anchors })
    }
}
