//! Directory listings: the first read of an open directory takes a snapshot of the merged
//! listing, readdir and readdirplus page through it (offset n = the n-th entry, `.` and `..`
//! first).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use bindfs_core::{Error, Listing, OpenDir, Result};
use fuser::{
    FileHandle, FileType, FopenFlags, INodeNo, ReplyDirectory, ReplyDirectoryPlus, ReplyOpen, Request,
};

use super::{GENERATION, Shared, as_caller, errno, file_type};
use crate::LinuxNode;

/// An open directory: its layers are opened at open (so the handle lists what it opened, even
/// after a link changes: rule 18), its listing is taken at the first read (so an open the kernel
/// answers from its own directory cache costs no listing).
#[derive(Debug)]
pub(super) struct DirHandle {
    dir: Arc<OpenDir<LinuxNode>>,
    listing: Option<Arc<Listing<LinuxNode>>>,
}

/// The listing of open directory `fh`, taken now if not yet.
fn listing(shared: &Shared, req: &Request, fh: FileHandle) -> Result<Arc<Listing<LinuxNode>>> {
    let dir = match shared.dirs.lock().get(&fh.0) {
        Some(DirHandle { listing: Some(l), .. }) => return Ok(Arc::clone(l)),
        Some(DirHandle { dir, .. }) => Arc::clone(dir),
        None => return Err(Error::Os(libc::EBADF)),
    };
    // Read as the caller: the store checks the caller's right to list (ACLs included).
    let listing = Arc::new(as_caller(req, || shared.view.list_open(&dir))?);
    if let Some(handle) = shared.dirs.lock().get_mut(&fh.0) {
        handle.listing = Some(Arc::clone(&listing));
    }
    Ok(listing)
}

pub(super) fn opendir(shared: &Shared, ino: INodeNo, reply: ReplyOpen) {
    match shared.path(ino).and_then(|path| shared.view.open_dir(&path)) {
        Ok(dir) => {
            // The kernel may keep a listing while the directory's mtime holds, which it re-reads
            // at each attribute refresh (so staleness stays within the cache TTL): only for a
            // directory one layer serves, whose mtime says when its listing changed.
            let cacheable = !shared.ttl().is_zero() && dir.single_layer();
            let fh = shared.handle();
            shared.dirs.lock().insert(fh, DirHandle { dir: Arc::new(dir), listing: None });
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

pub(super) fn readdir(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    fh: FileHandle,
    offset: u64,
    mut reply: ReplyDirectory,
) {
    let listing = match listing(shared, req, fh) {
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
    req: &Request,
    ino: INodeNo,
    fh: FileHandle,
    offset: u64,
    mut reply: ReplyDirectoryPlus,
) {
    let listing = match listing(shared, req, fh) {
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
        if listing.entries.len() > PLUS_AT_START_MAX {
            // The kernel asks for attributes at offset 0 whatever the caller wants. For a large
            // directory they would cover one reply's worth of its entries, at one cold inode
            // read each, which a names-only listing (find, scandir, ls) never needs. The
            // kernel asks plain READDIR next, and switches back to READDIRPLUS by itself once
            // the caller looks entries up.
            return reply.ok();
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
        let path = dir.join(&listed.entry.name);
        let (node, attr, entry_ttl) = match &listed.attr {
            Some(a) => {
                let node = shared.inodes.remember(&path, a, listed.synthesized, listed.writable);
                (node, super::file_attr(node, a), ttl)
            }
            // No attributes (a looping link): a node whose entry and attributes the kernel may
            // not keep, so every use of the name comes back here and gets its error.
            None => {
                let placeholder = bindfs_core::report::unresolved(listed.entry.kind);
                let node = shared.inodes.remember(&path, &placeholder, true, false);
                (node, super::file_attr(node, &placeholder), std::time::Duration::ZERO)
            }
        };
        if reply.add(INodeNo(node), i as u64 + 1, name, &entry_ttl, &attr, GENERATION) {
            // Not sent: give back the reference counted for it.
            shared.inodes.forget(node, 1);
            break;
        }
    }
    reply.ok()
}

/// Above this many entries, the first READDIRPLUS reply of a listing carries only `.` and `..`.
/// A directory of up to this size is usually listed to be looked at whole (`ls -l`, a walk that
/// stats), and one reply with attributes saves a lookup per entry.
const PLUS_AT_START_MAX: usize = 1024;
