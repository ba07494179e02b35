//! The kept roots and directories: opened backing roots and directories below them, kept for
//! the cache time so that a call on a name costs one store call (see [`View::set_root_cache`]
//! and [`View::keep_dirs`]).

use std::sync::Arc;

use crate::backing::{Attr, Backing, FileKind};
use crate::error::{Error, Result};
use crate::name::Name;
use crate::path::AbsPath;
use crate::resolve::{Layer, LayerRoot};

use super::{View, is_missing};

/// Opened backing roots, by backing path, with when each may no longer be used.
pub(super) type KeptRoots<N> = std::collections::HashMap<Arc<AbsPath>, (N, std::time::Instant)>;

/// Opened directories below layer roots, by root and names, with when each may no longer be used
/// (by root first, so that a lookup by borrowed names allocates nothing).
pub(super) type KeptDirs<N> =
    std::collections::HashMap<LayerRoot, std::collections::HashMap<Vec<Name>, (N, std::time::Instant)>>;

/// How many directories below layer roots a view keeps open at most.
pub(super) const KEPT_DIRS_MAX: usize = 512;

/// An opened layer root.
pub(super) struct Opened<N> {
    node: N,
    kept: Kept,
}

/// Where an opened layer root came from.
pub(super) enum Kept {
    /// Opened now.
    Fresh,
    /// Kept, and found still linked, with these attributes.
    Checked(Attr),
    /// Kept, not checked.
    Unchecked,
}

/// Whether a call through a kept handle calls for checking the handle: it found nothing, or the
/// handle is stale (a remote store dropped the file it was opened on). Only the kept-handle
/// paths ask this; everywhere else a stale handle is an error, never "nothing here".
pub(super) fn is_miss(e: &Error) -> bool {
    is_missing(e) || matches!(e, Error::Stale)
}
impl<B: Backing> View<B> {
    /// Keeps each link's opened backing root for up to `ttl` instead of opening `B`'s path for
    /// every call (zero, the default: open it every time). A kept root whose object is no longer
    /// linked (B removed) is opened again at once, so nothing is ever created in a removed
    /// directory; a B renamed away and replaced is followed for at most `ttl`, the same bound a
    /// mount's kernel cache puts on what a user sees.
    pub fn set_root_cache(&mut self, ttl: std::time::Duration) {
        self.root_ttl = ttl;
    }

    /// Keeps the directories walked to below a root as well, for the same time (at most
    /// `KEPT_DIRS_MAX`, 512), so that a call on a name costs one store call on its directory instead
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
    pub(super) fn forget_dirs(&self) {
        let mut dirs = self.dirs.lock();
        dirs.clear();
        self.dirs_forgotten.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    pub(super) fn open_root(&self, root: &LayerRoot) -> Result<B::Node> {
        self.root(root, true).map(|r| r.node)
    }

    /// Opens a layer's root. A kept root is checked to be still linked when `check` is set;
    /// unchecked, it may be a removed directory, which has no entries and takes none, so that
    /// every call below it fails with [`Error::NotFound`] (see [`View::below_root`]).
    pub(super) fn root(&self, root: &LayerRoot, check: bool) -> Result<Opened<B::Node>> {
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
    pub(super) fn below_root<T>(&self, root: &LayerRoot, f: impl Fn(&B::Node) -> Result<T>) -> Result<T> {
        let opened = self.root(root, false)?;
        match f(&opened.node) {
            Err(e) if is_miss(&e) && matches!(opened.kept, Kept::Unchecked) => {
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

    pub(super) fn open_layer_node(&self, layer: &Layer) -> Result<B::Node> {
        self.layer_node(layer).map(|(node, _)| node)
    }

    /// A layer's node, with its attributes when opening it read them (a kept root checked).
    pub(super) fn layer_node(&self, layer: &Layer) -> Result<(B::Node, Option<Attr>)> {
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
    pub(super) fn in_dir<T>(
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
                Err(e) if is_miss(&e) => match self.backing.stat(&node) {
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
}
