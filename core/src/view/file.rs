//! Calls on an entry by its path: attributes, symlink text, statistics, extended attributes
//! and security descriptors (an open entry's are in [`super::handle`]).

use crate::backing::{Attr, Backing, SetAttr, StatFs, XattrMode};
use crate::error::{Error, Result};
use crate::path::VPath;
use crate::report;

use super::View;

impl<B: Backing> View<B> {
    // ---- attributes

    /// Changes attributes (chmod, chown, truncate, utimens) of `path`.
    pub fn setattr(&self, path: &VPath, changes: &SetAttr) -> Result<Attr> {
        let (_, node) = self.writable_node(path)?;
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
        let (_, node) = self.writable_node(path)?;
        self.backing.set_xattr(&node, name, value, mode)
    }

    /// Removes extended attribute `name` of `path`.
    pub fn removexattr(&self, path: &VPath, name: &[u8]) -> Result<()> {
        let (_, node) = self.writable_node(path)?;
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
        let (_, node) = self.writable_node(path)?;
        self.backing.set_security(&node, parts, descriptor)
    }
}
