//! Attributes: getattr, setattr (chmod, chown, truncate, utimens), statfs.

use std::time::UNIX_EPOCH;

use bindfs_core::{SetAttr, SetTime, Timestamp};
use fuser::{FileHandle, INodeNo, ReplyAttr, ReplyStatfs, Request, TimeOrNow};

use super::{Shared, as_caller, errno, file_attr};

pub(super) fn getattr(shared: &Shared, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
    // An open file answers for itself, even once its name is gone (unlinked while open).
    let by_file = |open: &super::OpenFile| shared.view.handle_attr(&open.handle);
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
    // The kernel's own removal of set-id bits runs with the daemon's rights (see `drops_set_id`);
    // every other change as the caller.
    let as_who = |f: &dyn Fn() -> bindfs_core::Result<bindfs_core::Attr>| {
        if drops_set_id(shared, req, ino, fh, &changes) { f() } else { as_caller(req, f) }
    };
    // With a handle (ftruncate): on the object it has open, which its names may no longer
    // lead to (renamed, unlinked); the core decides what the handle may change.
    let done = match fh.map(|fh| shared.open_file(fh.0)) {
        Some(Ok(open)) => as_who(&|| shared.view.handle_set_attr(&open.handle, &changes)),
        _ => shared.on_node(
            ino,
            |p| as_who(&|| shared.view.setattr(p, &changes)),
            |open| as_who(&|| shared.view.handle_set_attr(&open.handle, &changes)),
        ),
    };
    match done {
        Ok(a) => reply.attr(&shared.ttl(), &file_attr(ino.0, &a)),
        Err(e) => reply.error(errno(&e)),
    }
}

/// Set-user-ID and set-group-ID.
const SET_ID: u32 = 0o6000;

/// Whether `changes` is the kernel dropping the set-id bits of a file that a non-owner writes
/// or truncates (`file_remove_privs`): the kernel asks for a chmod as that writer, forced past
/// its own owner check, and the writer could not chmod on B, where the file system drops the
/// bits itself (pjdfstest chmod/12.t). With `default_permissions` the kernel refuses any other
/// chmod by a non-owner before it reaches the daemon, so a mode change from a caller who is
/// neither root nor the owner, that only clears set-id bits, is that removal; dropping the bits
/// only ever takes rights away.
fn drops_set_id(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    fh: Option<FileHandle>,
    changes: &SetAttr,
) -> bool {
    let SetAttr { perm: Some(new), uid: None, gid: None, size: None, atime: None, mtime: None, .. } =
        *changes
    else {
        return false;
    };
    if req.uid() == 0 || changes.btime.is_some() || changes.win_attributes.is_some() {
        return false;
    }
    let by_file = |open: &super::OpenFile| shared.view.handle_attr(&open.handle);
    let attr = match fh.map(|fh| shared.open_file(fh.0)) {
        Some(Ok(open)) => by_file(&open),
        _ => shared.on_node(ino, |p| shared.view.getattr(p), by_file),
    };
    let Ok(attr) = attr else { return false };
    let old = attr.perm & 0o7777;
    attr.uid != req.uid() && new & !SET_ID == old & !SET_ID && new & SET_ID != old & SET_ID && new & !old == 0
}

pub(super) fn statfs(shared: &Shared, ino: INodeNo, reply: ReplyStatfs) {
    match shared.path(ino).and_then(|p| shared.view.statfs(&p)) {
        Ok(s) => reply.statfs(s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize),
        Err(e) => reply.error(errno(&e)),
    }
}
