//! Names: lookup, creation of directories, special files, symlinks and hard links, removal,
//! rename.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;

use bindfs_core::{Attr, Error, FileKind, RenameFlags, Result, VPath};
use fuser::{INodeNo, ReplyEmpty, ReplyEntry, Request};

use super::{GENERATION, Shared, as_caller, errno};

/// Replies with an entry just made at `path` (always in a writable layer), from the attributes
/// the call returned: no second lookup.
fn reply_made(shared: &Shared, made: Result<(VPath, Attr)>, reply: ReplyEntry) {
    match made {
        Ok((path, attr)) => {
            let ino = shared.inodes.remember(&path, &attr, false, true);
            reply.entry(&shared.ttl(), &super::file_attr(ino, &attr), GENERATION)
        }
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn lookup(shared: &Shared, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
    let ttl = shared.ttl();
    match shared.child(parent, name).and_then(|p| shared.entry(&p)) {
        Ok((_, attr)) => reply.entry(&ttl, &attr, GENERATION),
        // A name that is not there is a negative entry the kernel keeps for the TTL, as it keeps
        // one that is: a program that probes a missing name again (a search path, an include
        // path, a lock file) asks once per TTL. A link change drops every such entry at once (a
        // new epoch, `Shared::new_epoch`); a file made in the backing meanwhile shows within the
        // TTL. Kernels without epochs get no negative entries.
        Err(Error::NotFound) if !ttl.is_zero() && shared.negative_entries.load(Ordering::Relaxed) => {
            reply.entry(&ttl, &super::absent_attr(), GENERATION)
        }
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn mkdir(
    shared: &Shared,
    req: &Request,
    parent: INodeNo,
    name: &OsStr,
    mode: u32,
    reply: ReplyEntry,
) {
    let made = shared.child(parent, name).and_then(|path| {
        let attr = as_caller(req, || shared.view.mkdir(&path, mode & 0o7777))?;
        Ok((path, attr))
    });
    reply_made(shared, made, reply)
}

pub(super) fn mknod(
    shared: &Shared,
    req: &Request,
    parent: INodeNo,
    name: &OsStr,
    mode: u32,
    rdev: u32,
    reply: ReplyEntry,
) {
    let kind = match mode & libc::S_IFMT {
        libc::S_IFIFO => FileKind::Fifo,
        libc::S_IFSOCK => FileKind::Socket,
        libc::S_IFCHR => FileKind::CharDevice,
        libc::S_IFBLK => FileKind::BlockDevice,
        _ => FileKind::File,
    };
    let made = shared.child(parent, name).and_then(|path| {
        let attr = as_caller(req, || shared.view.mknod(&path, kind, mode & 0o7777, u64::from(rdev)))?;
        Ok((path, attr))
    });
    reply_made(shared, made, reply)
}

pub(super) fn symlink(
    shared: &Shared,
    req: &Request,
    parent: INodeNo,
    name: &OsStr,
    target: &std::path::Path,
    reply: ReplyEntry,
) {
    let made = shared.child(parent, name).and_then(|path| {
        let attr = as_caller(req, || shared.view.symlink(target.as_os_str().as_bytes(), &path))?;
        Ok((path, attr))
    });
    reply_made(shared, made, reply)
}

pub(super) fn link(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    newparent: INodeNo,
    newname: &OsStr,
    reply: ReplyEntry,
) {
    let made = shared.path(ino).and_then(|existing| {
        let new = shared.child(newparent, newname)?;
        let attr = as_caller(req, || shared.view.link(&existing, &new))?;
        Ok((new, attr))
    });
    reply_made(shared, made, reply)
}

pub(super) fn remove(
    shared: &Shared,
    req: &Request,
    parent: INodeNo,
    name: &OsStr,
    dir: bool,
    reply: ReplyEmpty,
) {
    let done = shared.child(parent, name).and_then(|path| {
        as_caller(req, || if dir { shared.view.rmdir(&path) } else { shared.view.unlink(&path) })?;
        shared.inodes.unlinked(&path);
        Ok(())
    });
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn rename(
    shared: &Shared,
    req: &Request,
    from: (INodeNo, &OsStr),
    to: (INodeNo, &OsStr),
    flags: fuser::RenameFlags,
    reply: ReplyEmpty,
) {
    let flags = RenameFlags {
        no_replace: flags.contains(fuser::RenameFlags::RENAME_NOREPLACE),
        exchange: flags.contains(fuser::RenameFlags::RENAME_EXCHANGE),
    };
    let done = shared.child(from.0, from.1).and_then(|old| {
        let new = shared.child(to.0, to.1)?;
        as_caller(req, || shared.view.rename(&old, &new, flags))?;
        if flags.exchange {
            shared.inodes.exchanged(&old, &new);
        } else {
            // The entry the rename replaced, if any, lost that name.
            shared.inodes.unlinked(&new);
            shared.inodes.renamed(&old, &new);
        }
        Ok(())
    });
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}
