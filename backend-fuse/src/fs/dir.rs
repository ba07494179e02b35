//! Directory listings: the first read of an open directory takes a snapshot of the merged
//! listing, readdir and readdirplus page through it (offset n = the n-th entry, `.` and `..`
//! first).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use bindfs_core::{Error, FileKind, Listing, Result, VPath};
use fuser::{FileHandle, FileType, FopenFlags, INodeNo, ReplyDirectory, ReplyDirectoryPlus, ReplyOpen};

use super::{GENERATION, Shared, errno, file_type};
use crate::LinuxNode;

/// An open directory: its listing is taken at the first read, not at open, so an open the
/// kernel answers from its own directory cache costs no listing.
#[derive(Debug)]
pub(super) struct DirHandle {
    path: VPath,
    listing: Option<Arc<Listing<LinuxNode>>>,
}

/// The listing of open directory `fh`, taken now if not yet.
fn listing(shared: &Shared, fh: FileHandle) -> Result<Arc<Listing<LinuxNode>>> {
    let path = match shared.dirs.lock().get(&fh.0) {
        Some(DirHandle { listing: Some(l), .. }) => return Ok(Arc::clone(l)),
        Some(DirHandle { path, .. }) => path.clone(),
        None => return Err(Error::Os(libc::EBADF)),
    };
    let listing = Arc::new(shared.view.list(&path)?);
    if let Some(handle) = shared.dirs.lock().get_mut(&fh.0) {
        handle.listing = Some(Arc::clone(&listing));
    }
    Ok(listing)
}

pub(super) fn opendir(shared: &Shared, ino: INodeNo, reply: ReplyOpen) {
    let opened = shared.path(ino).and_then(|path| {
        let found = shared.view.lookup(&path)?;
        if found.attr.kind != FileKind::Dir {
            return Err(Error::NotDir);
        }
        // The kernel may keep a directory's listing while its mtime holds, which it re-reads at
        // each attribute refresh (so staleness stays within the cache TTL): only for directories
        // one layer serves, whose mtime says when the listing changed.
        let r = &found.resolution;
        let cacheable = !shared.ttl().is_zero()
            && r.layers.len() == 1
            && r.chased.is_empty()
            && !r.holds_anchors
            && found.node.is_some();
        Ok((path, cacheable))
    });
    match opened {
        Ok((path, cacheable)) => {
            let fh = shared.handle();
            shared.dirs.lock().insert(fh, DirHandle { path, listing: None });
            let flags = if cacheable {
                FopenFlags::FOPEN_CACHE_DIR | FopenFlags::FOPEN_KEEP_CACHE
            } else {
                FopenFlags::empty()
            };
            reply.opened(FileHandle(fh), flags)
        }
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn readdir(shared: &Shared, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
    let listing = match listing(shared, fh) {
        Ok(l) => l,
        Err(e) => return reply.error(errno(&e)),
    };
    let entries = &listing.entries;
    let dots = [(".", FileType::Directory), ("..", FileType::Directory)];
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    for i in start..entries.len() + 2 {
        let next = i as u64 + 1;
        let full = match i {
            0 | 1 => reply.add(ino, next, dots[i].1, dots[i].0),
            _ => {
                let e = &entries[i - 2];
                // Without a lookup the view's node id is not known: `d_ino` is the store's
                // inode number (readdirplus, which the kernel uses when stats follow, gives
                // the node ids that `st_ino` shows).
                let ino = if e.ino == 0 { u64::from(u32::MAX) } else { e.ino };
                reply.add(INodeNo(ino), next, file_type(e.kind), OsStr::from_bytes(e.name.as_bytes()))
            }
        };
        if full {
            break;
        }
    }
    reply.ok()
}

pub(super) fn readdirplus(
    shared: &Shared,
    ino: INodeNo,
    fh: FileHandle,
    offset: u64,
    mut reply: ReplyDirectoryPlus,
) {
    let listing = match listing(shared, fh) {
        Ok(l) => l,
        Err(e) => return reply.error(errno(&e)),
    };
    let dir = match shared.path(ino) {
        Ok(p) => p,
        Err(e) => return reply.error(errno(&e)),
    };
    let ttl = shared.ttl();
    let start = usize::try_from(offset).unwrap_or(usize::MAX);
    if start < 2 {
        // `.` and `..`: listed, but the kernel takes no reference on them (nothing to count).
        let attr = match shared.view.getattr(&dir) {
            Ok(a) => super::file_attr(ino.0, &a),
            Err(e) => return reply.error(errno(&e)),
        };
        for (i, name) in [".", ".."].into_iter().enumerate().skip(start) {
            if reply.add(ino, i as u64 + 1, name, &ttl, &attr, GENERATION) {
                return reply.ok();
            }
        }
    }
    for i in start.max(2)..listing.entries.len() + 2 {
        // Attributes only for the entries this reply carries.
        let listed = match shared.view.listed(&listing, i - 2) {
            Ok(Some(l)) => l,
            Ok(None) => continue, // gone since it was listed
            Err(e) => return reply.error(errno(&e)),
        };
        let name = OsStr::from_bytes(listed.entry.name.as_bytes());
        let (node, attr) = match &listed.attr {
            Some(a) => {
                let path = dir.join(&listed.entry.name);
                let node = shared.inodes.remember(&path, a, listed.synthesized, listed.writable);
                (node, super::file_attr(node, a))
            }
            // No attributes (a looping link): listed without a node; the kernel looks it up
            // itself if asked, and gets the error.
            None => (0, unlinked_attr(listed.entry.kind)),
        };
        if reply.add(INodeNo(node), i as u64 + 1, name, &ttl, &attr, GENERATION) {
            // Not sent: give back the reference counted for it.
            if node != 0 {
                shared.inodes.forget(node, 1);
            }
            break;
        }
    }
    reply.ok()
}

/// Attributes for an entry listed without a node (node id 0: the kernel keeps nothing).
fn unlinked_attr(kind: FileKind) -> fuser::FileAttr {
    let t = std::time::UNIX_EPOCH;
    fuser::FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: t,
        mtime: t,
        ctime: t,
        crtime: t,
        kind: file_type(kind),
        perm: 0,
        nlink: 1,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 4096,
        flags: 0,
    }
}
