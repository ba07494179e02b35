//! Attributes: getattr, setattr (chmod, chown, truncate, utimens), statfs.

use std::time::UNIX_EPOCH;

use bindfs_core::{SetAttr, SetTime, Timestamp, report};
use fuser::{FileHandle, INodeNo, ReplyAttr, ReplyStatfs, Request, TimeOrNow};

use super::{Shared, as_caller, errno, file_attr};

pub(super) fn getattr(shared: &Shared, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
    // An open file answers for itself, even once its name is gone (unlinked while open).
    let by_file = |open: &super::OpenFile| open.file.stat().map(|a| report::attr(a, open.writable));
    let attr = match fh.map(|fh| shared.open_file(fh.0)) {
        Some(Ok(open)) => by_file(&open),
        _ => shared.on_node(ino, |p| shared.view.getattr(p), by_file),
    };
    match attr {
        Ok(a) => reply.attr(&shared.ttl(), &file_attr(ino.0, &a)),
        Err(e) => reply.error(errno(&e)),
    }
}

fn set_time(t: TimeOrNow) -> SetTime {
    match t {
        TimeOrNow::Now => SetTime::Now,
        TimeOrNow::SpecificTime(at) => {
            let (secs, nanos) = match at.duration_since(UNIX_EPOCH) {
                Ok(d) => (i64::try_from(d.as_secs()).unwrap_or(i64::MAX), d.subsec_nanos()),
                Err(before) => (-i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX), 0),
            };
            SetTime::At(Timestamp { secs, nanos })
        }
    }
}

/// A FUSE setattr as core changes.
pub(super) fn changes(
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
    size: Option<u64>,
    atime: Option<TimeOrNow>,
    mtime: Option<TimeOrNow>,
) -> SetAttr {
    SetAttr {
        perm: mode.map(|m| m & 0o7777),
        uid,
        gid,
        size,
        atime: atime.map(set_time),
        mtime: mtime.map(set_time),
        // FUSE carries neither (macOS's crtime/flags are not asked for on Linux).
        btime: None,
        win_attributes: None,
    }
}

pub(super) fn setattr(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    changes: SetAttr,
    fh: Option<FileHandle>,
    reply: ReplyAttr,
) {
    // ftruncate on an open file: its handle, which works after an unlink too; the open already
    // passed the read-only check.
    let only_size = SetAttr { size: changes.size, ..SetAttr::default() } == changes;
    let done = match (fh.map(|fh| shared.open_file(fh.0)), changes.size) {
        (Some(Ok(open)), Some(size)) if only_size && open.writable => {
            rustix::fs::ftruncate(open.file.as_fd(), size)
                .map_err(crate::errno::map_errno)
                .and_then(|()| open.file.stat())
        }
        _ => shared.on_node(
            ino,
            |p| as_caller(req, || shared.view.setattr(p, &changes)),
            |open| {
                if !open.writable {
                    return Err(bindfs_core::Error::ReadOnly);
                }
                as_caller(req, || open.file.set_attr(&changes))
            },
        ),
    };
    match done {
        Ok(a) => reply.attr(&shared.ttl(), &file_attr(ino.0, &a)),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn statfs(shared: &Shared, ino: INodeNo, reply: ReplyStatfs) {
    match shared.path(ino).and_then(|p| shared.view.statfs(&p)) {
        Ok(s) => reply.statfs(s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize),
        Err(e) => reply.error(errno(&e)),
    }
}
