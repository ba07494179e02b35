//! Extended attributes.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use bindfs_core::{Error, XattrMode};
use fuser::{INodeNo, ReplyEmpty, ReplyXattr, Request};

use super::{Shared, as_caller, errno};

/// Answers a size query (`size == 0`) with the length, else the data if it fits.
fn reply_sized(data: &[u8], size: u32, reply: ReplyXattr) {
    match u32::try_from(data.len()) {
        Ok(len) if size == 0 => reply.size(len),
        Ok(len) if len <= size => reply.data(data),
        _ => reply.error(fuser::Errno::from_i32(libc::ERANGE)),
    }
}

/// Runs `by_file` on an open file of node `ino` when it has one, else `by_path` on its path
/// (see [`Shared::on_node`]), for calls that only read. An open file is the node's object
/// itself, so asking its descriptor gives what the path would while it names that object, and
/// the object's own answer when the name was taken by another since; it also spares a walk
/// from the layer root (the kernel asks `security.capability` at every write).
fn reading<T>(
    shared: &Shared,
    ino: INodeNo,
    by_path: impl FnOnce(&bindfs_core::VPath) -> bindfs_core::Result<T>,
    by_file: impl Fn(&super::OpenFile) -> bindfs_core::Result<T>,
) -> bindfs_core::Result<T> {
    match shared.node_file(ino) {
        Some(open) => by_file(&open),
        None => shared.on_node(ino, by_path, by_file),
    }
}

pub(super) fn get(shared: &Shared, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
    match reading(
        shared,
        ino,
        |p| shared.view.getxattr(p, name.as_bytes()),
        |f| shared.view.handle_get_xattr(&f.handle, name.as_bytes()),
    ) {
        Ok(value) => reply_sized(&value, size, reply),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn list(shared: &Shared, req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
    // As the caller: the store leaves out names the caller may not see (trusted.*).
    let names = as_caller(req, || {
        reading(shared, ino, |p| shared.view.listxattr(p), |f| shared.view.handle_list_xattr(&f.handle))
    });
    match names {
        Ok(names) => {
            let mut packed = Vec::new();
            for name in names {
                packed.extend_from_slice(&name);
                packed.push(0);
            }
            reply_sized(&packed, size, reply)
        }
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn set(
    shared: &Shared,
    req: &Request,
    ino: INodeNo,
    name: &OsStr,
    value: &[u8],
    flags: i32,
    reply: ReplyEmpty,
) {
    let mode = match flags {
        0 => Ok(XattrMode::Any),
        libc::XATTR_CREATE => Ok(XattrMode::Create),
        libc::XATTR_REPLACE => Ok(XattrMode::Replace),
        _ => Err(Error::InvalidArgument),
    };
    let done = mode.and_then(|mode| {
        shared.on_node(
            ino,
            |p| as_caller(req, || shared.view.setxattr(p, name.as_bytes(), value, mode)),
            |f| as_caller(req, || shared.view.handle_set_xattr(&f.handle, name.as_bytes(), value, mode)),
        )
    });
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn remove(shared: &Shared, req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
    let done = shared.on_node(
        ino,
        |p| as_caller(req, || shared.view.removexattr(p, name.as_bytes())),
        |f| as_caller(req, || shared.view.handle_remove_xattr(&f.handle, name.as_bytes())),
    );
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}
