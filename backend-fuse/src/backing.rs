//! The Linux backing store: [`Backing`] over `O_PATH` file descriptors.
//!
//! Every object the core holds is a [`LinuxNode`], an `O_PATH | O_NOFOLLOW` descriptor, so a node
//! keeps naming the same object after a rename and no path string is ever re-walked. Names are
//! resolved below a node with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
//! RESOLVE_NO_MAGICLINKS)`, a whole walk in one call, or on kernels without `openat2` with one
//! `openat(O_NOFOLLOW)` per component; either way no symlink inside a backing tree is followed,
//! and one met mid-walk is `Error::Os(ELOOP)`.
//!
//! Calls that cannot take an `O_PATH` descriptor (opening for I/O, `chmod`, `link`, extended
//! attributes) go through the descriptor's `/proc/self/fd/N` entry, as virtiofsd does. That magic
//! link resolves to the object the descriptor holds and no further, so it is safe even for a
//! symlink node: `link` and the xattr calls act on the symlink itself (Linux refuses `user.*`
//! attributes on symlinks with `EPERM`; `trusted.*` and `security.*` work). Opening and `chmod`
//! still refuse symlink nodes (`ELOOP`, [`Error::NotSupported`]): neither means anything for the
//! link itself.
//!
//! Creations (`create`, `mkdir`, `mknod`) are subject to the process umask, as every creation on
//! Linux is; a FUSE daemon that passes the caller's mode through clears its umask at start.

#![forbid(unsafe_code)]

use std::ffi::CStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use bindfs_core::{
    AbsPath, Attr, Backing, DirEntry, Error, FileKind, Name, OpenFlags, RenameFlags, Result, Root, SetAttr,
    SetTime, StatFs, Timestamp, XattrMode,
};
use rustix::fs::{self as rfs, AtFlags, FileType, Mode, OFlags, ResolveFlags, Timespec, Timestamps};
use rustix::io::Errno;
use rustix::path::DecInt;

use crate::errno::map_errno;

/// Flags of every node open: a handle, never a followed symlink, never inherited.
const NODE_FLAGS: OFlags = OFlags::PATH.union(OFlags::NOFOLLOW).union(OFlags::CLOEXEC);

/// How `openat2` may resolve a name below a node: no escape, no symlink, no magic link.
const RESOLVE: ResolveFlags =
    ResolveFlags::BENEATH.union(ResolveFlags::NO_SYMLINKS).union(ResolveFlags::NO_MAGICLINKS);

/// The empty path: with `AT_EMPTY_PATH`, "the descriptor itself".
const HERE: &CStr = c"";

/// Longest path `openat2` takes, terminating NUL included.
const PATH_MAX: usize = libc::PATH_MAX as usize;

/// Open flags the caller may not pass through [`OpenFlags::raw`]: creation belongs to
/// [`Backing::create`], the access mode to `read`/`write`, truncation and appending to
/// `truncate`/`append` (so the core's read-only check sees every open that can change a file), and `O_PATH`/`O_NOFOLLOW` would break
/// the reopen through `/proc/self/fd`.
const STRIPPED_RAW: i32 = libc::O_ACCMODE
    | libc::O_TRUNC
    | libc::O_APPEND
    | libc::O_CREAT
    | libc::O_EXCL
    | libc::O_NOCTTY
    | libc::O_PATH
    | libc::O_NOFOLLOW
    | (libc::O_TMPFILE & !libc::O_DIRECTORY);

/// A handle to an object in a backing tree: a shared `O_PATH | O_NOFOLLOW` descriptor.
///
/// Cloning is cheap (a reference count). The handle names the object, not a path: it stays valid
/// when the object is renamed, and keeps the inode alive after it is unlinked.
#[derive(Clone, Debug)]
pub struct LinuxNode(Arc<NodeFd>);

#[derive(Debug)]
struct NodeFd {
    fd: OwnedFd,
    /// The object's type, once a stat of the descriptor read it: an object's type never
    /// changes, so a check of it (is this a symlink?) after the lookup's stat costs no second
    /// `fstat`.
    kind: OnceLock<FileKind>,
}

impl LinuxNode {
    fn new(fd: OwnedFd) -> LinuxNode {
        LinuxNode(Arc::new(NodeFd { fd, kind: OnceLock::new() }))
    }

    /// The `O_PATH` descriptor, for the FUSE layer.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }

    /// The object's type: remembered from a stat of this node, or read now.
    fn kind(&self) -> Result<FileKind> {
        match self.0.kind.get() {
            Some(kind) => Ok(*kind),
            None => self.stat().map(|st| kind_of_mode(st.st_mode)).and_then(|kind| kind),
        }
    }

    /// The object's own attributes (a symlink's, not its target's); remembers its type.
    fn stat(&self) -> Result<rfs::Stat> {
        let st = stat_fd(self.as_fd())?;
        if let Ok(kind) = kind_of_mode(st.st_mode) {
            let _ = self.0.kind.set(kind);
        }
        Ok(st)
    }
}

impl AsFd for LinuxNode {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.fd.as_fd()
    }
}

/// A file opened for I/O.
#[derive(Debug)]
pub struct LinuxFile(OwnedFd);

impl LinuxFile {
    /// The open descriptor, for the FUSE layer.
    pub fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl LinuxFile {
    /// The attributes of the open file itself (it may have no name left).
    pub fn stat(&self) -> Result<Attr> {
        attr_of(&rfs::fstat(&self.0).map_err(map_errno)?)
    }
}

fn xattr_flags(mode: XattrMode) -> rfs::XattrFlags {
    match mode {
        XattrMode::Any => rfs::XattrFlags::empty(),
        XattrMode::Create => rfs::XattrFlags::CREATE,
        XattrMode::Replace => rfs::XattrFlags::REPLACE,
    }
}

impl AsFd for LinuxFile {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

/// The Linux implementation of [`Backing`]: `O_PATH` handles, `openat2`, no symlink followed.
#[derive(Debug)]
pub struct LinuxBacking {
    /// The on-disk layer's root, opened before mounting over it.
    disk_root: LinuxNode,
    /// `/proc/self/fd`, checked to be procfs, through which nodes are reopened.
    proc_self_fd: OwnedFd,
    /// Whether the kernel has `openat2` (probed once, at construction).
    openat2: bool,
}

impl LinuxBacking {
    /// Takes the on-disk layer's root: a directory descriptor opened before mounting over it.
    ///
    /// Fails with [`Error::NotDir`] when `disk_root` is not a directory, and with
    /// [`Error::NotSupported`] when `/proc/self/fd` is not a procfs directory.
    pub fn new(disk_root: OwnedFd) -> Result<LinuxBacking> {
        let dir_flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let root = rfs::openat(&disk_root, c".", dir_flags, Mode::empty()).map_err(map_errno)?;
        let proc_self_fd = open_proc_self_fd()?;
        let openat2 = match openat2_beneath(root.as_fd(), b".") {
            Ok(_) => true,
            Err(e) => {
                tracing::info!(
                    errno = e.raw_os_error(),
                    "openat2 unavailable; resolving names one openat at a time"
                );
                false
            }
        };
        Ok(LinuxBacking { disk_root: LinuxNode::new(root), proc_self_fd, openat2 })
    }

    /// Opens the directory at `path` (following symlinks in it) as the on-disk layer's root.
    pub fn open(path: &Path) -> Result<LinuxBacking> {
        let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
        LinuxBacking::new(rfs::open(path, flags, Mode::empty()).map_err(map_errno)?)
    }

    /// Whether names are resolved with `openat2` (false: one `openat` per component).
    pub fn uses_openat2(&self) -> bool {
        self.openat2
    }

    /// Resolves names with one `openat` per component even where `openat2` exists, as on kernels
    /// older than 5.6 (to exercise that path).
    pub fn without_openat2(mut self) -> LinuxBacking {
        self.openat2 = false;
        self
    }

    /// The entry `name` of `dir` as an `O_PATH` descriptor, never following it.
    fn lookup_fd(&self, dir: BorrowedFd<'_>, name: &Name) -> Result<OwnedFd> {
        let fd = if self.openat2 {
            openat2_beneath(dir, name.as_bytes())
        } else {
            // One component, no '/': O_NOFOLLOW covers the only name resolved.
            rfs::openat(dir, name.as_bytes(), NODE_FLAGS, Mode::empty())
        };
        fd.map_err(map_errno)
    }

    /// The object `fd` holds, reached through its `/proc/self/fd` magic link (which resolves to
    /// the object and no further).
    /// A new open file description of `file`'s object (for locks, which belong to one).
    pub fn reopen_file(&self, file: &LinuxFile, flags: OFlags) -> Result<OwnedFd> {
        self.reopen(file.as_fd(), flags)
    }

    fn reopen(&self, fd: BorrowedFd<'_>, flags: OFlags) -> Result<OwnedFd> {
        rfs::openat(&self.proc_self_fd, DecInt::from_fd(fd), flags | OFlags::CLOEXEC, Mode::empty())
            .map_err(map_errno)
    }

    /// [`Backing::walk`] without `openat2`: one lookup per name. A symlink met mid-walk is
    /// `ELOOP`, as `RESOLVE_NO_SYMLINKS` reports it, not the `ENOTDIR` of using it as a directory.
    fn walk_per_component(&self, start: &LinuxNode, rel: &[Name]) -> Result<LinuxNode> {
        let mut node = start.clone();
        for (i, name) in rel.iter().enumerate() {
            node = match self.lookup(&node, name) {
                Err(Error::NotDir) if i > 0 && node.kind()? == FileKind::Symlink => {
                    return Err(Error::Os(libc::ELOOP));
                }
                found => found?,
            };
        }
        Ok(node)
    }
}

impl Backing for LinuxBacking {
    type Node = LinuxNode;
    type File = LinuxFile;

    fn open_disk_root(&self) -> Result<LinuxNode> {
        Ok(self.disk_root.clone())
    }

    fn open_host(&self, path: &AbsPath) -> Result<LinuxNode> {
        if path.root != Root::Posix {
            return Err(Error::NotSupported);
        }
        // The administrator's own path: symlinks in it, the last one included, are followed.
        let fd = rfs::open(path.to_host_bytes(), OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(map_errno)?;
        Ok(LinuxNode::new(fd))
    }

    /// The directory holding the object `path` names and its name there. When `path` ends in
    /// a symlink, that is the link's target: removing `V` acts on `B` itself (rule 19), never on
    /// an alias of it.
    fn open_host_parent(&self, path: &AbsPath) -> Result<(LinuxNode, Name)> {
        if path.root != Root::Posix {
            return Err(Error::NotSupported);
        }
        let host = std::ffi::OsStr::from_bytes(&path.to_host_bytes()).to_owned();
        let real = std::fs::canonicalize(host).map_err(|e| map_io(&e))?;
        let (Some(parent), Some(name)) = (real.parent(), real.file_name()) else {
            return Err(Error::Busy); // `B` is the root directory itself
        };
        let fd = rfs::open(parent, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(map_errno)?;
        Ok((LinuxNode::new(fd), Name::posix(name.as_bytes())?))
    }

    fn lookup(&self, dir: &LinuxNode, name: &Name) -> Result<LinuxNode> {
        self.lookup_fd(dir.as_fd(), name).map(LinuxNode::new)
    }

    fn walk(&self, start: &LinuxNode, rel: &[Name]) -> Result<LinuxNode> {
        if !self.openat2 {
            return self.walk_per_component(start, rel);
        }
        let mut node = start.clone();
        for run in joined_runs(rel) {
            node = LinuxNode::new(openat2_beneath(node.as_fd(), &run).map_err(map_errno)?);
        }
        Ok(node)
    }

    fn stat_child(&self, dir: &LinuxNode, name: &Name) -> Result<Attr> {
        // One component, AT_SYMLINK_NOFOLLOW: nothing is followed.
        attr_of(&rfs::statat(dir.as_fd(), name.as_bytes(), AtFlags::SYMLINK_NOFOLLOW).map_err(map_errno)?)
    }

    fn stat(&self, node: &LinuxNode) -> Result<Attr> {
        attr_of(&node.stat()?)
    }

    fn read_dir(&self, dir: &LinuxNode) -> Result<Vec<DirEntry>> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let fd = rfs::openat(dir.as_fd(), c".", flags, Mode::empty()).map_err(map_errno)?;
        let mut stream = rfs::Dir::new(fd).map_err(map_errno)?;
        let mut entries = Vec::new();
        while let Some(entry) = stream.read() {
            let entry = entry.map_err(map_errno)?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let kind = match kind_of(entry.file_type()) {
                Some(kind) => kind,
                // DT_UNKNOWN: the file system does not say; ask the entry itself, unfollowed.
                None => {
                    let dir_fd = stream.fd().map_err(map_errno)?;
                    match rfs::statat(dir_fd, entry.file_name(), AtFlags::SYMLINK_NOFOLLOW) {
                        Ok(st) => kind_of_mode(st.st_mode)?,
                        Err(Errno::NOENT) => continue, // removed since it was listed
                        Err(e) => return Err(map_errno(e)),
                    }
                }
            };
            entries.push(DirEntry { name: Name::posix(bytes)?, kind, ino: entry.ino() });
        }
        Ok(entries)
    }

    fn set_attr(&self, node: &LinuxNode, changes: &SetAttr) -> Result<Attr> {
        let fd = node.as_fd();
        let kind = node.kind()?;
        // Refuse before changing anything, so a refused request changes nothing.
        refuse_windows_only(changes)?;
        if changes.perm.is_some() && kind == FileKind::Symlink {
            // Linux has no mode on symlinks (fchmodat(AT_SYMLINK_NOFOLLOW) says EOPNOTSUPP).
            return Err(Error::NotSupported);
        }
        if changes.size.is_some() {
            match kind {
                FileKind::File => {}
                FileKind::Dir => return Err(Error::IsDir),
                _ => return Err(Error::InvalidArgument),
            }
        }

        // Owner before mode: chown clears set-id bits, and a requested mode must survive it.
        let uid = changes.uid.filter(|&u| u != u32::MAX).map(rfs::Uid::from_raw);
        let gid = changes.gid.filter(|&g| g != u32::MAX).map(rfs::Gid::from_raw);
        if uid.is_some() || gid.is_some() {
            rfs::chownat(fd, HERE, uid, gid, AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW)
                .map_err(map_errno)?;
        }
        if let Some(perm) = changes.perm {
            let mode = Mode::from_raw_mode(perm & 0o7777);
            rfs::chmodat(&self.proc_self_fd, DecInt::from_fd(fd), mode, AtFlags::empty())
                .map_err(map_errno)?;
        }
        if let Some(size) = changes.size {
            let file = self.reopen(fd, OFlags::WRONLY | OFlags::NONBLOCK)?;
            rfs::ftruncate(&file, size).map_err(map_errno)?;
        }
        if changes.atime.is_some() || changes.mtime.is_some() {
            let times = Timestamps {
                last_access: timespec(changes.atime),
                last_modification: timespec(changes.mtime),
            };
            let flags = AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW;
            match rfs::utimensat(fd, HERE, &times, flags) {
                // Kernels before 5.8 lack AT_EMPTY_PATH here; the magic link reaches non-symlinks.
                Err(Errno::INVAL) if kind != FileKind::Symlink => {
                    rfs::utimensat(&self.proc_self_fd, DecInt::from_fd(fd), &times, AtFlags::empty())
                }
                other => other,
            }
            .map_err(map_errno)?;
        }
        self.stat(node)
    }

    fn open(&self, node: &LinuxNode, flags: OpenFlags) -> Result<LinuxFile> {
        // The node's type cannot change, so this check cannot race: a symlink node is never
        // opened (the magic link would give the link, and I/O on it means following it). The
        // lookup that found the node has read its type already.
        if node.kind()? == FileKind::Symlink {
            return Err(Error::Os(libc::ELOOP));
        }
        self.reopen(node.as_fd(), io_flags(flags)).map(LinuxFile)
    }

    fn create(&self, dir: &LinuxNode, name: &Name, perm: u32, flags: OpenFlags) -> Result<(Attr, LinuxFile)> {
        let flags = (io_flags(flags) - OFlags::DIRECTORY)
            | OFlags::CREATE
            | OFlags::EXCL
            | OFlags::NOFOLLOW
            | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(perm & 0o7777);
        let file = LinuxFile(rfs::openat(dir.as_fd(), name.as_bytes(), flags, mode).map_err(map_errno)?);
        // The attributes of exactly the file created, whatever happens to the name meanwhile,
        // from the open file: no O_PATH reopen through /proc (an openat and a close) for them.
        Ok((file.stat()?, file))
    }

    fn file_node(&self, file: &LinuxFile) -> Result<LinuxNode> {
        // A second descriptor of the open file: node calls reach the object through it (by
        // `AT_EMPTY_PATH` or its `/proc/self/fd` link) as through an `O_PATH` one.
        rustix::io::fcntl_dupfd_cloexec(&file.0, 0).map(LinuxNode::new).map_err(map_errno)
    }

    fn set_len(&self, file: &LinuxFile, size: u64) -> Result<()> {
        rfs::ftruncate(&file.0, size).map_err(map_errno)
    }

    fn read(&self, file: &LinuxFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        loop {
            match rustix::io::pread(&file.0, &mut *buf, offset) {
                Err(Errno::INTR) => continue,
                done => return done.map_err(map_errno),
            }
        }
    }

    fn write(&self, file: &LinuxFile, offset: u64, data: &[u8]) -> Result<usize> {
        loop {
            match rustix::io::pwrite(&file.0, data, offset) {
                Err(Errno::INTR) => continue,
                done => return done.map_err(map_errno),
            }
        }
    }

    fn mkdir(&self, dir: &LinuxNode, name: &Name, perm: u32) -> Result<LinuxNode> {
        rfs::mkdirat(dir.as_fd(), name.as_bytes(), Mode::from_raw_mode(perm & 0o7777)).map_err(map_errno)?;
        self.lookup(dir, name)
    }

    fn mknod(&self, dir: &LinuxNode, name: &Name, kind: FileKind, perm: u32, rdev: u64) -> Result<LinuxNode> {
        let file_type = match kind {
            FileKind::File => FileType::RegularFile,
            FileKind::Fifo => FileType::Fifo,
            FileKind::Socket => FileType::Socket,
            FileKind::CharDevice => FileType::CharacterDevice,
            FileKind::BlockDevice => FileType::BlockDevice,
            FileKind::Dir | FileKind::Symlink => return Err(Error::InvalidArgument),
        };
        let mode = Mode::from_raw_mode(perm & 0o7777);
        rfs::mknodat(dir.as_fd(), name.as_bytes(), file_type, mode, rdev).map_err(map_errno)?;
        self.lookup(dir, name)
    }

    fn symlink(&self, dir: &LinuxNode, name: &Name, target: &[u8]) -> Result<LinuxNode> {
        rfs::symlinkat(target, dir.as_fd(), name.as_bytes()).map_err(map_errno)?;
        self.lookup(dir, name)
    }

    fn link(&self, node: &LinuxNode, dir: &LinuxNode, name: &Name) -> Result<LinuxNode> {
        // Through the magic link (followed, so to the object itself, symlinks included); the
        // AT_EMPTY_PATH form would need CAP_DAC_READ_SEARCH.
        let old = DecInt::from_fd(node.as_fd());
        rfs::linkat(&self.proc_self_fd, old, dir.as_fd(), name.as_bytes(), AtFlags::SYMLINK_FOLLOW)
            .map_err(map_errno)?;
        self.lookup(dir, name)
    }

    fn unlink(&self, dir: &LinuxNode, name: &Name) -> Result<()> {
        rfs::unlinkat(dir.as_fd(), name.as_bytes(), AtFlags::empty()).map_err(map_errno)
    }

    fn rmdir(&self, dir: &LinuxNode, name: &Name) -> Result<()> {
        rfs::unlinkat(dir.as_fd(), name.as_bytes(), AtFlags::REMOVEDIR).map_err(map_errno)
    }

    fn rename(
        &self,
        dir: &LinuxNode,
        name: &Name,
        new_dir: &LinuxNode,
        new_name: &Name,
        flags: RenameFlags,
    ) -> Result<()> {
        let (old, new) = (name.as_bytes(), new_name.as_bytes());
        let done = match (flags.no_replace, flags.exchange) {
            (false, false) => rfs::renameat(dir.as_fd(), old, new_dir.as_fd(), new),
            (true, false) => {
                rfs::renameat_with(dir.as_fd(), old, new_dir.as_fd(), new, rfs::RenameFlags::NOREPLACE)
            }
            (false, true) => {
                rfs::renameat_with(dir.as_fd(), old, new_dir.as_fd(), new, rfs::RenameFlags::EXCHANGE)
            }
            (true, true) => return Err(Error::InvalidArgument),
        };
        done.map_err(map_errno)
    }

    fn readlink(&self, node: &LinuxNode) -> Result<Vec<u8>> {
        match rfs::readlinkat(node.as_fd(), HERE, Vec::new()) {
            Ok(target) => Ok(target.into_bytes()),
            // readlinkat(fd, "") of a non-symlink says ENOENT; readlink(2) of one says EINVAL.
            Err(Errno::NOENT) if node.kind()? != FileKind::Symlink => Err(Error::InvalidArgument),
            Err(e) => Err(map_errno(e)),
        }
    }

    fn statfs(&self, node: &LinuxNode) -> Result<StatFs> {
        let st = rfs::fstatvfs(node.as_fd()).map_err(map_errno)?;
        let narrow = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(StatFs {
            blocks: st.f_blocks,
            bfree: st.f_bfree,
            bavail: st.f_bavail,
            files: st.f_files,
            ffree: st.f_ffree,
            bsize: narrow(st.f_bsize),
            frsize: narrow(st.f_frsize),
            namelen: narrow(st.f_namemax),
        })
    }

    fn get_xattr(&self, node: &LinuxNode, name: &[u8]) -> Result<Vec<u8>> {
        let path = proc_path(node.as_fd());
        sized(|| rfs::getxattr_query(&path, name), |buf| rfs::getxattr(&path, name, buf))
    }

    fn list_xattr(&self, node: &LinuxNode) -> Result<Vec<Vec<u8>>> {
        let path = proc_path(node.as_fd());
        sized(|| rfs::listxattr_query(&path), |buf| rfs::listxattr(&path, buf)).map(|l| names(&l))
    }

    fn set_xattr(&self, node: &LinuxNode, name: &[u8], value: &[u8], mode: XattrMode) -> Result<()> {
        rfs::setxattr(proc_path(node.as_fd()), name, value, xattr_flags(mode)).map_err(map_errno)
    }

    fn remove_xattr(&self, node: &LinuxNode, name: &[u8]) -> Result<()> {
        rfs::removexattr(proc_path(node.as_fd()), name).map_err(map_errno)
    }
}

/// A `std::io::Error` from the standard library as a core error, through its errno.
fn map_io(e: &std::io::Error) -> Error {
    match e.raw_os_error() {
        Some(code) => map_errno(Errno::from_raw_os_error(code)),
        None => Error::Os(libc::EIO),
    }
}

/// A value whose size is asked first (the xattr calls), asked again if it grew in between.
fn sized(
    query: impl Fn() -> rustix::io::Result<usize>,
    read: impl Fn(&mut [u8]) -> rustix::io::Result<usize>,
) -> Result<Vec<u8>> {
    loop {
        let size = query().map_err(map_errno)?;
        let mut value = vec![0; size];
        match read(&mut value[..]) {
            Ok(len) => {
                value.truncate(len);
                return Ok(value);
            }
            Err(Errno::RANGE) => continue,
            Err(e) => return Err(map_errno(e)),
        }
    }
}

/// The names of a NUL-separated xattr name list.
fn names(list: &[u8]) -> Vec<Vec<u8>> {
    list.split(|&b| b == 0).filter(|n| !n.is_empty()).map(<[u8]>::to_vec).collect()
}

/// `openat2` of `rel` below `dir`, never following a symlink, retried on the `EAGAIN` the kernel
/// may give when a concurrent rename makes it unsure of a result.
fn openat2_beneath(dir: BorrowedFd<'_>, rel: &[u8]) -> rustix::io::Result<OwnedFd> {
    let mut tries = 0;
    loop {
        match rfs::openat2(dir, rel, NODE_FLAGS, Mode::empty(), RESOLVE) {
            Err(Errno::AGAIN) if tries < 8 => tries += 1,
            done => return done,
        }
    }
}

/// `/proc/self/fd`, refused unless it is really procfs (the reopen trick trusts it).
fn open_proc_self_fd() -> Result<OwnedFd> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rfs::open(c"/proc/self/fd", flags, Mode::empty()).map_err(|e| {
        tracing::error!(errno = e.raw_os_error(), "cannot open /proc/self/fd; is /proc mounted?");
        Error::NotSupported
    })?;
    let fs = rfs::fstatfs(&fd).map_err(map_errno)?;
    if fs.f_type != rfs::PROC_SUPER_MAGIC {
        tracing::error!("/proc/self/fd is not on procfs");
        return Err(Error::NotSupported);
    }
    Ok(fd)
}

/// The `/proc/self/fd/N` path of `fd`, for calls that take only a path (the xattr family). It
/// names the object `fd` holds, symlinks included, without resolving anything further.
fn proc_path(fd: BorrowedFd<'_>) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// `rel` joined with '/' into runs that each fit in `PATH_MAX`, for one `openat2` per run.
fn joined_runs(rel: &[Name]) -> Vec<Vec<u8>> {
    let mut runs = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    for name in rel {
        let name = name.as_bytes();
        if !run.is_empty() && run.len() + 1 + name.len() >= PATH_MAX {
            runs.push(std::mem::take(&mut run));
        }
        if !run.is_empty() {
            run.push(b'/');
        }
        run.extend_from_slice(name);
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// Refuses what Linux cannot set: a creation time, and any Windows attribute bit. Asking for
/// none of the bits (`Some(0)`) is already true of every Linux file, so it is no refusal.
fn refuse_windows_only(changes: &SetAttr) -> Result<()> {
    let bits = changes.win_attributes.unwrap_or(0) & bindfs_core::win_attr::SETTABLE;
    if changes.btime.is_some() || bits != 0 { Err(Error::NotSupported) } else { Ok(()) }
}

/// The descriptor's own attributes (a symlink's, not its target's).
fn stat_fd(fd: BorrowedFd<'_>) -> Result<rfs::Stat> {
    rfs::statat(fd, HERE, AtFlags::EMPTY_PATH | AtFlags::SYMLINK_NOFOLLOW).map_err(map_errno)
}

fn kind_of(file_type: FileType) -> Option<FileKind> {
    Some(match file_type {
        FileType::RegularFile => FileKind::File,
        FileType::Directory => FileKind::Dir,
        FileType::Symlink => FileKind::Symlink,
        FileType::Fifo => FileKind::Fifo,
        FileType::Socket => FileKind::Socket,
        FileType::CharacterDevice => FileKind::CharDevice,
        FileType::BlockDevice => FileKind::BlockDevice,
        FileType::Unknown => return None,
    })
}

fn kind_of_mode(mode: u32) -> Result<FileKind> {
    // A mode with no known type is a store we do not understand: an I/O error, not "absent".
    kind_of(FileType::from_raw_mode(mode)).ok_or(Error::Os(libc::EIO))
}

/// `struct stat` → [`Attr`].
// Field widths and signedness differ between architectures (`st_nlink` is u32 on aarch64, u64
// on x86_64; `st_blksize` is i32 or i64), so the casts are needed on some and no-ops on others.
#[allow(clippy::unnecessary_cast)]
fn attr_of(st: &rfs::Stat) -> Result<Attr> {
    let time = |secs: i64, nanos: u64| Timestamp { secs, nanos: nanos as u32 };
    Ok(Attr {
        kind: kind_of_mode(st.st_mode as u32)?,
        perm: st.st_mode as u32 & 0o7777,
        nlink: st.st_nlink as u64,
        uid: st.st_uid as u32,
        gid: st.st_gid as u32,
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        blksize: st.st_blksize as u32,
        rdev: st.st_rdev as u64,
        dev: st.st_dev as u64,
        ino: st.st_ino as u64,
        atime: time(st.st_atime as i64, st.st_atime_nsec as u64),
        mtime: time(st.st_mtime as i64, st.st_mtime_nsec as u64),
        ctime: time(st.st_ctime as i64, st.st_ctime_nsec as u64),
        // `stat` has no birth time; `statx` would cost a second call per stat for a time that
        // FUSE cannot hand to the kernel anyway.
        btime: None,
        win_attributes: 0,
        reparse_tag: 0,
    })
}

/// A [`SetAttr`] time as `utimensat` takes it.
fn timespec(time: Option<SetTime>) -> Timespec {
    match time {
        None => Timespec { tv_sec: 0, tv_nsec: rfs::UTIME_OMIT },
        Some(SetTime::Now) => Timespec { tv_sec: 0, tv_nsec: rfs::UTIME_NOW },
        Some(SetTime::At(t)) => Timespec { tv_sec: t.secs, tv_nsec: t.nanos.into() },
    }
}

/// [`OpenFlags`] as `open` flags (without `O_CLOEXEC`, which every open adds).
///
/// The access mode comes from `read`/`write` only (neither: read-only); `append` does not imply
/// write access, exactly as `O_APPEND` does not.
fn io_flags(flags: OpenFlags) -> OFlags {
    let access = match (flags.read, flags.write) {
        (_, false) => OFlags::RDONLY,
        (false, true) => OFlags::WRONLY,
        (true, true) => OFlags::RDWR,
    };
    let mut out = access | OFlags::from_bits_retain((flags.raw & !STRIPPED_RAW) as u32);
    if flags.truncate {
        out |= OFlags::TRUNC;
    }
    if flags.append {
        out |= OFlags::APPEND;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn open_flags_map_to_access_modes_and_strip_creation() {
        let rw = io_flags(OpenFlags::READ_WRITE);
        assert_eq!(rw & OFlags::ACCMODE, OFlags::RDWR);
        let w = io_flags(OpenFlags { write: true, truncate: true, ..OpenFlags::default() });
        assert_eq!(w & OFlags::ACCMODE, OFlags::WRONLY);
        assert!(w.contains(OFlags::TRUNC));
        let raw =
            libc::O_CREAT | libc::O_EXCL | libc::O_PATH | libc::O_NOFOLLOW | libc::O_SYNC | libc::O_RDWR;
        let r = io_flags(OpenFlags { read: true, append: true, raw, ..OpenFlags::default() });
        assert_eq!(r & OFlags::ACCMODE, OFlags::RDONLY);
        assert!(r.contains(OFlags::APPEND | OFlags::SYNC));
        assert!(!r.intersects(OFlags::CREATE | OFlags::EXCL | OFlags::PATH | OFlags::NOFOLLOW));
        let tmp = io_flags(OpenFlags { read: true, raw: libc::O_TMPFILE, ..OpenFlags::default() });
        assert_eq!(tmp, OFlags::RDONLY | OFlags::DIRECTORY);
    }

    #[test]
    fn long_walks_are_split_into_runs_that_fit_path_max() {
        let long = Name::posix(vec![b'a'; 200]).unwrap();
        let rel = vec![long; 50];
        let runs = joined_runs(&rel);
        assert!(runs.len() > 1);
        assert!(runs.iter().all(|r| r.len() < PATH_MAX));
        let total: usize = runs.iter().map(|r| r.split(|&b| b == b'/').count()).sum();
        assert_eq!(total, 50);
        assert_eq!(joined_runs(&[]), Vec::<Vec<u8>>::new());
        let ab = [Name::posix("a").unwrap(), Name::posix("b").unwrap()];
        assert_eq!(joined_runs(&ab), vec![b"a/b".to_vec()]);
    }
}
