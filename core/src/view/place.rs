//! Where an entry lives in a layer: the directory and name a store call acts on, created
//! when a layer lacks them (copy-up of directories).

use crate::backing::Backing;
use crate::error::{Error, Result};
use crate::name::Name;
use crate::path::VPath;
use crate::resolve::{Layer, LayerRoot};

use super::{View, is_missing};

impl<B: Backing> View<B> {
    /// The directory holding a layer's location and the name there: for a link's backing root,
    /// the parent of `B` (rule 19: removing `V` acts on `B`).
    pub(super) fn location(&self, layer: &Layer) -> Result<(B::Node, Name)> {
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
    pub(super) fn at_location<T>(
        &self,
        layer: &Layer,
        op: impl Fn(&B::Node, &Name) -> Result<T>,
    ) -> Result<T> {
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
    pub(super) fn location_creating(&self, layer: &Layer, path: &VPath) -> Result<(B::Node, Name)> {
        match self.location(layer) {
            Err(e) if is_missing(&e) && !layer.rel.is_empty() => {}
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
}
