//! Open files: open, create, and the I/O the daemon does itself when the kernel does not pass it
//! through (read, write, fsync, fallocate, lseek, copy_file_range).
//!
//! With passthrough (kernel >= 6.9, daemon with CAP_SYS_ADMIN), the kernel reads, writes and maps
//! the backing file directly and these handlers only see the opens: I/O runs at native speed.

use std::ffi::OsStr;
use std::sync::Arc;

use bindfs_core::{Error, Handle, OpenFlags, Result, VPath};
use fuser::{
    FileHandle, FopenFlags, INodeNo, ReplyCreate, ReplyData, ReplyEmpty, ReplyLseek, ReplyOpen, ReplyWrite,
    Request,
};
use rustix::fs::{FallocateFlags, SeekFrom};

use super::io_mode::Mode;
use super::{GENERATION, OpenFile, Shared, as_caller, errno};
use crate::LinuxBacking;
use crate::backing::LinuxFile;
use crate::errno::map_errno;

/// Open flags from the kernel as core flags; the rest travel in `raw` (the store filters them).
fn open_flags(flags: i32) -> OpenFlags {
    let acc = flags & libc::O_ACCMODE;
    OpenFlags {
        read: acc != libc::O_WRONLY,
        write: acc != libc::O_RDONLY,
        truncate: flags & libc::O_TRUNC != 0,
        append: flags & libc::O_APPEND != 0,
        raw: flags & !(libc::O_ACCMODE | libc::O_TRUNC | libc::O_APPEND),
    }
}

/// The I/O mode of a new open of node `ino` (see `io_mode`), registering `file` as its backing
/// file when it passes through. A registration refused with `EPERM` (the daemon may not
/// register any: `io_mode::passthrough_refused` could not tell) turns passthrough off for the
/// session, so later opens try no more and `status` tells the truth.
fn io_mode(
    shared: &Shared,
    ino: u64,
    handle: &Handle<LinuxBacking>,
    read_only: bool,
    register: impl FnOnce(&LinuxFile) -> std::io::Result<fuser::BackingId>,
) -> Mode {
    use std::sync::atomic::Ordering;
    let passthrough = shared.passthrough.load(Ordering::Relaxed);
    let file = handle.file().ok().filter(|_| passthrough);
    let register = file.map(|f| {
        move || {
            let registered = register(f);
            let refused = registered.as_ref().err().filter(|e| e.raw_os_error() == Some(libc::EPERM));
            if let Some(e) = refused.filter(|_| shared.passthrough.swap(false, Ordering::Relaxed)) {
                tracing::warn!(
                    "passthrough refused ({e}): the daemon does the I/O of every open file from now on"
                );
            }
            registered
        }
    });
    shared.io_modes.lock().open(ino, handle.opened_attr(), read_only, register)
}

/// Keeps an open file and returns its handle.
fn keep(shared: &Shared, ino: u64, handle: Handle<LinuxBacking>) -> u64 {
    let fh = shared.handle();
    shared.files.lock().insert(fh, Arc::new(OpenFile { handle, ino }));
    fh
}

/// The open flags that tell the kernel to keep the pages it holds.
fn fopen_flags(keep_cache: bool) -> FopenFlags {
    if keep_cache { FopenFlags::FOPEN_KEEP_CACHE } else { FopenFlags::empty() }
}

pub(super) fn open(shared: &Shared, req: &Request, ino: INodeNo, flags: fuser::OpenFlags, reply: ReplyOpen) {
    // As the caller, so the store checks the caller's rights (ACLs included), and only the very
    // object the kernel checked: a name swapped in the backing meanwhile is ESTALE (the kernel
    // then looks it up afresh), never a file the caller may not open.
    let opened = shared.path(ino).and_then(|path| {
        let handle = as_caller(req, || shared.view.open(&path, open_flags(flags.0)))?;
        // The file is reopened from the very node these attributes were read from.
        let attr = handle.opened_attr();
        if shared.inodes.identity(ino.0).is_some_and(|expected| (attr.dev, attr.ino) != expected) {
            return Err(Error::Stale);
        }
        Ok(handle)
    });
    let handle = match opened {
        Ok(h) => h,
        Err(e) => return reply.error(errno(&e)),
    };
    let read_only = flags.0 & libc::O_ACCMODE == libc::O_RDONLY;
    match io_mode(shared, ino.0, &handle, read_only, |file| reply.open_backing(file.as_fd())) {
        Mode::Passthrough(id) => {
            let fh = keep(shared, ino.0, handle);
            reply.opened_passthrough(FileHandle(fh), FopenFlags::empty(), &id)
        }
        Mode::Cached { keep_cache } => {
            let fh = keep(shared, ino.0, handle);
            reply.opened(FileHandle(fh), fopen_flags(keep_cache))
        }
    }
}

pub(super) fn create(
    shared: &Shared,
    req: &Request,
    parent: INodeNo,
    name: &OsStr,
    mode: u32,
    flags: i32,
    reply: ReplyCreate,
) {
    let created = shared.child(parent, name).and_then(|path: VPath| {
        let (attr, handle) = as_caller(req, || shared.view.create(&path, mode & 0o7777, open_flags(flags)))?;
        // Made in a writable layer; its attributes came back with it: no second lookup.
        let ino = shared.inodes.remember(&path, &attr, false, true);
        Ok((ino, super::file_attr(ino, &attr), handle))
    });
    let (ino, attr, handle) = match created {
        Ok(c) => c,
        Err(e) => return reply.error(errno(&e)),
    };
    let ttl = shared.ttl();
    // A new file is written before it is read: it passes through whatever its size.
    match io_mode(shared, ino, &handle, false, |file| reply.open_backing(file.as_fd())) {
        Mode::Passthrough(id) => {
            let fh = keep(shared, ino, handle);
            reply.created_passthrough(&ttl, &attr, GENERATION, FileHandle(fh), FopenFlags::empty(), &id)
        }
        Mode::Cached { keep_cache } => {
            let fh = keep(shared, ino, handle);
            reply.created(&ttl, &attr, GENERATION, FileHandle(fh), fopen_flags(keep_cache))
        }
    }
}

pub(super) fn release(shared: &Shared, fh: FileHandle) {
    let Some(open) = shared.files.lock().remove(fh.0) else { return };
    shared.io_modes.lock().release(open.ino);
}

pub(super) fn read(shared: &Shared, fh: FileHandle, offset: u64, size: u32, reply: ReplyData) {
    let done = shared.open_file(fh.0).and_then(|open| {
        let mut buf = vec![0; size as usize];
        let n = shared.view.read(&open.handle, offset, &mut buf)?;
        buf.truncate(n);
        Ok(buf)
    });
    match done {
        Ok(data) => reply.data(&data),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn write(shared: &Shared, fh: FileHandle, offset: u64, data: &[u8], reply: ReplyWrite) {
    match shared.open_file(fh.0).and_then(|open| shared.view.write(&open.handle, offset, data)) {
        Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
        Err(e) => reply.error(errno(&e)),
    }
}

fn with_fd(
    shared: &Shared,
    fh: FileHandle,
    f: impl FnOnce(&LinuxFile) -> rustix::io::Result<()>,
) -> Result<()> {
    let open = shared.open_file(fh.0)?;
    f(open.file()?).map_err(map_errno)
}

fn reply_empty(done: Result<()>, reply: ReplyEmpty) {
    match done {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn fsync(shared: &Shared, fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
    let done = with_fd(shared, fh, |f| {
        if datasync { rustix::fs::fdatasync(f.as_fd()) } else { rustix::fs::fsync(f.as_fd()) }
    });
    reply_empty(done, reply)
}

pub(super) fn fallocate(
    shared: &Shared,
    fh: FileHandle,
    offset: u64,
    length: u64,
    mode: i32,
    reply: ReplyEmpty,
) {
    let flags = FallocateFlags::from_bits_retain(mode as u32);
    let done = with_fd(shared, fh, |f| rustix::fs::fallocate(f.as_fd(), flags, offset, length));
    reply_empty(done, reply)
}

pub(super) fn lseek(shared: &Shared, fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
    let done = shared.open_file(fh.0).and_then(|open| {
        let to = match (whence, u64::try_from(offset)) {
            (libc::SEEK_DATA, Ok(o)) => SeekFrom::Data(o),
            (libc::SEEK_HOLE, Ok(o)) => SeekFrom::Hole(o),
            (libc::SEEK_SET, Ok(o)) => SeekFrom::Start(o),
            (libc::SEEK_END, _) => SeekFrom::End(offset),
            (libc::SEEK_CUR, _) => SeekFrom::Current(offset),
            _ => return Err(Error::InvalidArgument),
        };
        rustix::fs::seek(open.file()?.as_fd(), to).map_err(map_errno)
    });
    match done {
        Ok(at) => reply.offset(i64::try_from(at).unwrap_or(i64::MAX)),
        Err(e) => reply.error(errno(&e)),
    }
}

pub(super) fn copy_file_range(
    shared: &Shared,
    from: (FileHandle, u64),
    to: (FileHandle, u64),
    len: u64,
    reply: ReplyWrite,
) {
    let done = shared.open_file(from.0.0).and_then(|src| {
        let dst = shared.open_file(to.0.0)?;
        let (mut off_in, mut off_out) = (from.1, to.1);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        rustix::fs::copy_file_range(
            src.file()?.as_fd(),
            Some(&mut off_in),
            dst.file()?.as_fd(),
            Some(&mut off_out),
            len,
        )
        .map_err(map_errno)
    });
    match done {
        Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
        Err(e) => reply.error(errno(&e)),
    }
}
