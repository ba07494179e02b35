//! Open handles: what an open through the view holds, and every call on it. A call on a handle
//! acts on the object opened, through the store's handle to it (never by its path, which an
//! ancestor's rename may have given to something else since, rule 18), and the rules for
//! changing or removing it (rule 13, the removal rules of [`crate::view`]) are decided here
//! once, for every backend.

use std::fmt;

use parking_lot::Mutex;

use crate::backing::{Attr, Backing, FileKind, OpenFlags, SetAttr, XattrMode};
use crate::error::{Error, Result};
use crate::path::VPath;
use crate::report;

use super::View;

/// An entry opened through the view ([`View::open`], [`View::create`], [`View::hold`]).
pub struct Handle<B: Backing> {
    /// The object opened; `None` for a directory the view synthesizes, which has none.
    node: Option<B::Node>,
    /// The object opened for I/O (by [`View::open`] and [`View::create`]).
    file: Option<B::File>,
    /// The attributes it showed when opened, read from the object opened.
    opened: Attr,
    /// Whether the entry may be changed through the view (rule 13), decided at the open.
    writable: bool,
    /// Whether `file` was opened for writing.
    writes: bool,
    /// The virtual path it was opened at, moved by renames through it.
    path: Mutex<VPath>,
}

impl<B: Backing> fmt::Debug for Handle<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("path", &*self.path.lock())
            .field("node", &self.node)
            .field("file", &self.file)
            .field("opened", &self.opened)
            .field("writable", &self.writable)
            .finish()
    }
}

impl<B: Backing> Handle<B> {
    /// The file open for I/O; [`Error::IsDir`] for a handle opened without I/O.
    pub fn file(&self) -> Result<&B::File> {
        self.file.as_ref().ok_or(Error::IsDir)
    }

    /// The object opened; `None` for a directory the view synthesizes.
    pub fn node(&self) -> Option<&B::Node> {
        self.node.as_ref()
    }

    /// The attributes the entry showed when it was opened, read from the object opened (its
    /// kind, and its identity, `dev` and `ino`, stay what they were).
    pub fn opened_attr(&self) -> &Attr {
        &self.opened
    }

    /// Whether the entry may be changed through the view (rule 13).
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// Whether it is a directory the view synthesizes.
    pub fn synthesized(&self) -> bool {
        self.node.is_none()
    }

    /// The virtual path it was opened at, or renamed to through [`View::rename_handle`].
    pub fn path(&self) -> VPath {
        self.path.lock().clone()
    }

    /// The object, when the view lets it be changed (rule 13; a synthesized directory never).
    fn writable_node(&self) -> Result<&B::Node> {
        match &self.node {
            Some(node) if self.writable => Ok(node),
            _ => Err(Error::ReadOnly),
        }
    }
}

impl<B: Backing> View<B> {
    /// Opens `path` for I/O; opens that can modify are refused on read-only entries (rule 13).
    /// The handle holds the very object whose attributes the lookup read.
    pub fn open(&self, path: &VPath, flags: OpenFlags) -> Result<Handle<B>> {
        let found = self.lookup(path)?;
        let Some(node) = found.node else { return Err(Error::IsDir) };
        if flags.modifies() && !found.writable {
            return Err(Error::ReadOnly);
        }
        let file = self.backing.open(&node, flags)?;
        Ok(Handle {
            node: Some(node),
            file: Some(file),
            opened: found.attr,
            writable: found.writable,
            writes: flags.write,
            path: Mutex::new(path.clone()),
        })
    }

    /// Opens what `path` shows without opening it for I/O (a directory, a synthesized one
    /// included), for calls on the entry itself.
    pub fn hold(&self, path: &VPath) -> Result<Handle<B>> {
        let found = self.lookup(path)?;
        Ok(Handle {
            node: found.node,
            file: None,
            opened: found.attr,
            writable: found.writable,
            writes: false,
            path: Mutex::new(path.clone()),
        })
    }

    /// Creates regular file `path` (failing if it exists) and opens it; its attributes as shown.
    pub fn create(&self, path: &VPath, perm: u32, flags: OpenFlags) -> Result<(Attr, Handle<B>)> {
        let (raw, file) = self.make_new(path, |dir, name| self.backing.create(dir, name, perm, flags))?;
        let attr = report::attr(raw, true);
        let handle = Handle {
            node: Some(self.backing.file_node(&file)?),
            file: Some(file),
            opened: attr,
            writable: true,
            writes: flags.write,
            path: Mutex::new(path.clone()),
        };
        Ok((attr, handle))
    }

    /// Reads from an open file.
    pub fn read(&self, handle: &Handle<B>, offset: u64, buf: &mut [u8]) -> Result<usize> {
        self.backing.read(handle.file()?, offset, buf)
    }

    /// Writes to an open file.
    pub fn write(&self, handle: &Handle<B>, offset: u64, data: &[u8]) -> Result<usize> {
        self.backing.write(handle.file()?, offset, data)
    }

    /// The attributes the open entry shows now, read from its own object (it may have no name
    /// left).
    pub fn handle_attr(&self, handle: &Handle<B>) -> Result<Attr> {
        match &handle.node {
            Some(node) => Ok(report::attr(self.backing.stat(node)?, handle.writable)),
            None => Ok(report::synthetic_dir(self.born)),
        }
    }

    /// Changes attributes of the open entry (refused on read-only entries, rule 13). A size
    /// alone on a file opened for writing is set through the open file: opening it for writing
    /// was the right to change its size, whatever its mode says now (as `ftruncate` does).
    pub fn handle_set_attr(&self, handle: &Handle<B>, changes: &SetAttr) -> Result<Attr> {
        let node = handle.writable_node()?;
        let only_size = SetAttr { size: changes.size, ..SetAttr::default() } == *changes;
        let raw = match (&handle.file, changes.size) {
            (Some(file), Some(size)) if only_size && handle.writes => {
                self.backing.set_len(file, size)?;
                self.backing.stat(node)?
            }
            _ => self.backing.set_attr(node, changes)?,
        };
        Ok(report::attr(raw, true))
    }

    /// The value of extended attribute `name` of the open entry.
    pub fn handle_get_xattr(&self, handle: &Handle<B>, name: &[u8]) -> Result<Vec<u8>> {
        match &handle.node {
            Some(node) => self.backing.get_xattr(node, name),
            None => Err(Error::NoAttribute),
        }
    }

    /// The extended attribute names of the open entry.
    pub fn handle_list_xattr(&self, handle: &Handle<B>) -> Result<Vec<Vec<u8>>> {
        match &handle.node {
            Some(node) => self.backing.list_xattr(node),
            None => Ok(Vec::new()),
        }
    }

    /// Sets extended attribute `name` of the open entry (refused on read-only entries).
    pub fn handle_set_xattr(
        &self,
        handle: &Handle<B>,
        name: &[u8],
        value: &[u8],
        mode: XattrMode,
    ) -> Result<()> {
        self.backing.set_xattr(handle.writable_node()?, name, value, mode)
    }

    /// Removes extended attribute `name` of the open entry (refused on read-only entries).
    pub fn handle_remove_xattr(&self, handle: &Handle<B>, name: &[u8]) -> Result<()> {
        self.backing.remove_xattr(handle.writable_node()?, name)
    }

    /// The security descriptor of the open entry as its store holds it (rule 22); `None` for a
    /// directory the view synthesizes.
    pub fn handle_get_security(&self, handle: &Handle<B>) -> Result<Option<Vec<u8>>> {
        match &handle.node {
            Some(node) => self.backing.get_security(node).map(Some),
            None => Ok(None),
        }
    }

    /// Changes the security descriptor of the open entry (refused on read-only entries and
    /// synthesized directories, rule 13).
    pub fn handle_set_security(&self, handle: &Handle<B>, parts: u32, descriptor: &[u8]) -> Result<()> {
        self.backing.set_security(handle.writable_node()?, parts, descriptor)
    }

    /// Whether the entry open as `handle`, named `path` now, may be removed, with the error a
    /// removal of it through the view gives ([`View::unlink`], [`View::rmdir`]): the root is
    /// busy, a synthesized directory holds a link (not empty), a read-only entry refuses
    /// (rule 13), a directory must be empty. For stores that remove through the open object
    /// (delete on close), which decide it before the object goes.
    pub fn handle_check_remove<'h>(&self, handle: &'h Handle<B>, path: &VPath) -> Result<&'h B::Node> {
        if path.is_root() {
            return Err(Error::Busy);
        }
        let Some(node) = &handle.node else { return Err(Error::NotEmpty) };
        if !handle.writable {
            return Err(Error::ReadOnly);
        }
        if handle.opened.kind == FileKind::Dir && !self.readdir(path)?.is_empty() {
            return Err(Error::NotEmpty);
        }
        Ok(node)
    }

    /// Renames the entry open as `handle` from `from` (its name now) to `to`, as
    /// [`View::rename`] does, and moves the handle's path with it.
    pub fn rename_handle(
        &self,
        handle: &Handle<B>,
        from: &VPath,
        to: &VPath,
        flags: crate::backing::RenameFlags,
    ) -> Result<()> {
        self.rename(from, to, flags)?;
        *handle.path.lock() = to.clone();
        Ok(())
    }
}
