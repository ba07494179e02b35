//! Names: creating, removing, renaming and linking entries (rules 12, 14, 19).

use crate::backing::{Attr, Backing, FileKind, RenameFlags};
use crate::error::{Error, Result};
use crate::merge::{self};
use crate::name::Name;
use crate::path::VPath;
use crate::report;
use crate::resolve::Layer;

use super::{View, is_missing};

impl<B: Backing> View<B> {
    /// Checks that `path` can be created and runs `make` (a store call that fails if the name
    /// exists) on where: the directory in the chosen layer and the name (rules 12, 14).
    pub(super) fn make_new<T>(&self, path: &VPath, make: impl Fn(&B::Node, &Name) -> Result<T>) -> Result<T> {
        if path.is_root() {
            return Err(Error::Exists);
        }
        // One writable layer, nothing anchored here: the store's own exclusive create is the
        // rules' check (no lookup first). Anything else, or a missing parent, takes the full way.
        if let Some(layer) = self.single_layer(path)?.filter(|l| l.writable) {
            match self.at_location(&layer, &make) {
                Err(e) if is_missing(&e) => {}
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
    pub(super) fn single_layer(&self, path: &VPath) -> Result<Option<Layer>> {
        let resolution = self.resolve(path)?;
        if resolution.layers.len() == 1 && !resolution.holds_anchors && resolution.link_root.is_none() {
            Ok(resolution.layers.into_iter().next())
        } else {
            Ok(None)
        }
    }

    /// The parent of a new entry must be a directory the view can change: not a synthesized one.
    pub(super) fn check_new_parent(&self, path: &VPath) -> Result<()> {
        let parent = self.lookup(&path.parent().unwrap_or_default())?;
        if parent.attr.kind != FileKind::Dir {
            return Err(Error::NotDir);
        }
        if parent.node.is_none() {
            return Err(Error::ReadOnly);
        }
        Ok(())
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

    pub(super) fn remove(&self, path: &VPath, dir: bool) -> Result<()> {
        let done = self.remove_entry(path, dir);
        if dir && done.is_ok() {
            self.forget_dirs();
        }
        done
    }

    pub(super) fn remove_entry(&self, path: &VPath, dir: bool) -> Result<()> {
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
                Err(e) if is_missing(&e) => {}
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
}
