//! Directory listings: opendir takes a snapshot of the merged listing, readdir and readdirplus
//! page through it (offset n = the n-th entry, `.` and `..` first).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use fuser::{FileHandle, FileType, FopenFlags, INodeNo, ReplyDirectory, ReplyDirectoryPlus, ReplyOpen};

use super::{GENERATION, Shared, errno, file_type};

pub(super) fn opendir(shared: &Shared, ino: INodeNo, reply: ReplyOpen) {
    match shared.path(ino).and_then(|p| shared.view.readdir(&p)) {
        Ok(entries) => {
            let fh = shared.handle();
            shared.dirs.lock().insert(fh, Arc::new(entries));
            reply.opened(FileHandle(fh), FopenFlags::empty())
        }
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn readdir(shared: &Shared, ino: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
    let Some(entries) = shared.dirs.lock().get(&fh.0).cloned() else {
        return reply.error(fuser::Errno::EBADF);
    };
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
    let Some(entries) = shared.dirs.lock().get(&fh.0).cloned() else {
        return reply.error(fuser::Errno::EBADF);
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
    for i in start.max(2)..entries.len() + 2 {
        let e = &entries[i - 2];
        let path = dir.join(&e.name);
        // An entry that vanished since opendir is skipped, as a fresh listing would.
        let Ok((node, attr)) = shared.entry(&path) else { continue };
        if reply.add(
            INodeNo(node),
            i as u64 + 1,
            OsStr::from_bytes(e.name.as_bytes()),
            &ttl,
            &attr,
            GENERATION,
        ) {
            // Not sent: give back the reference the lookup counted.
            shared.inodes.forget(node, 1);
            break;
        }
    }
    reply.ok()
}
