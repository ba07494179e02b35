//! The FUSE view: `fuser::Filesystem` over the core's operations layer.
//!
//! Thin by design: each request is decoded (node id to virtual path, `OsStr` to [`Name`]),
//! handed to [`View`], and the answer encoded. The rules live in the core; this layer only
//! adds what FUSE needs: node ids ([`crate::inodes`]), open file and directory handles, kernel
//! caching with a time to live, kernel cache invalidation when links change, passthrough of open
//! files to the kernel, and the caller's credentials for requests that create or change things.
//!
//! One file per family of operations: `entry` (names), `attr` (attributes, statfs), `dir`
//! (listings), `file` (open files) and `xattr`.

mod attr;
mod dir;
mod entry;
mod file;
mod io_mode;
mod lock;
pub mod pace;
mod xattr;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bindfs_core::{Attr, Error, FileKind, Handle, LinkId, LinkSpec, Name, Result, Timestamp, VPath, View};
use fuser::{FileAttr, FileType, Filesystem, Generation, INodeNo, KernelConfig, Notifier, Request};
use parking_lot::Mutex;

use crate::LinuxBacking;
use crate::backing::LinuxFile;
use crate::creds::Credentials;
use crate::errno::errno_of;
use crate::inodes::Inodes;

/// How the view is served.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How long the kernel may cache names and attributes (0: ask every time).
    pub cache_ttl: Duration,
    /// Hand open files to the kernel (`FUSE_PASSTHROUGH`) when it and the privileges allow.
    pub passthrough: bool,
    /// How long the worker reading requests polls for the next one after answering, when
    /// requests come that fast (0: never; see [`pace`]).
    pub poll: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { cache_ttl: Duration::from_secs(1), passthrough: true, poll: pace::DEFAULT_POLL }
    }
}

/// An open file.
#[derive(Debug)]
struct OpenFile {
    /// The core's handle: the object opened, and what the view lets be done with it.
    handle: Handle<LinuxBacking>,
    /// The node it was opened as.
    ino: u64,
}

/// The open files, by handle and by node.
#[derive(Debug, Default)]
struct OpenFiles {
    by_handle: HashMap<u64, Arc<OpenFile>>,
    /// The handles open on each node, so that a call by node finds an open file of it without
    /// going through every open file.
    by_node: HashMap<u64, Vec<u64>>,
}

impl OpenFile {
    /// The file open for I/O.
    fn file(&self) -> Result<&LinuxFile> {
        self.handle.file()
    }
}

impl OpenFiles {
    fn insert(&mut self, fh: u64, open: Arc<OpenFile>) {
        self.by_node.entry(open.ino).or_default().push(fh);
        self.by_handle.insert(fh, open);
    }

    fn remove(&mut self, fh: u64) -> Option<Arc<OpenFile>> {
        let open = self.by_handle.remove(&fh)?;
        if let Some(handles) = self.by_node.get_mut(&open.ino) {
            handles.retain(|&h| h != fh);
            if handles.is_empty() {
                self.by_node.remove(&open.ino);
            }
        }
        Some(open)
    }

    fn get(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.by_handle.get(&fh).cloned()
    }

    /// An open file of node `ino`, if it has one.
    fn of_node(&self, ino: u64) -> Option<Arc<OpenFile>> {
        let fh = self.by_node.get(&ino)?.first()?;
        self.get(*fh)
    }
}

/// State shared by the FUSE workers and the control side.
#[derive(Debug)]
pub struct Shared {
    view: View<LinuxBacking>,
    inodes: Inodes,
    files: Mutex<OpenFiles>,
    dirs: Mutex<HashMap<u64, dir::DirHandle>>,
    /// Who does the I/O of each node's open files (`io_mode`).
    io_modes: Mutex<io_mode::IoModes>,
    next_handle: AtomicU64,
    options: Options,
    /// Whether open files pass through: the kernel agreed at `init` to a daemon allowed to
    /// register backing files, and no registration was refused for lack of rights since.
    passthrough: AtomicBool,
    notifier: OnceLock<Notifier>,
    /// A descriptor of the session's `/dev/fuse` connection, for notifications fuser cannot send.
    session: OnceLock<std::os::fd::OwnedFd>,
    /// Whether lookups of missing names leave negative entries in the kernel (see `lookup`).
    negative_entries: AtomicBool,
    /// Locks taken on backing files for the view's users.
    locks: lock::Locks,
    /// Which worker waits for the next request, and how.
    pace: pace::Pace,
}

/// The handle the daemon keeps to change links on a live view.
#[derive(Clone, Debug)]
pub struct ViewHandle(Arc<Shared>);

/// The `fuser` file system.
#[derive(Debug)]
pub struct BindFs(Arc<Shared>);

impl BindFs {
    /// A FUSE file system serving `view`, and a handle to change its links while it runs.
    pub fn new(view: View<LinuxBacking>, options: Options, workers: usize) -> (BindFs, ViewHandle) {
        let shared = Arc::new(Shared {
            view,
            inodes: Inodes::new(),
            files: Mutex::new(OpenFiles::default()),
            dirs: Mutex::new(HashMap::new()),
            io_modes: Mutex::new(io_mode::IoModes::default()),
            next_handle: AtomicU64::new(1),
            options,
            passthrough: AtomicBool::new(false),
            notifier: OnceLock::new(),
            session: OnceLock::new(),
            negative_entries: AtomicBool::new(false),
            locks: lock::Locks::default(),
            pace: pace::Pace::new(workers, options.poll),
        });
        if !options.cache_ttl.is_zero() {
            sweep_kept(Arc::downgrade(&shared), options.cache_ttl.max(Duration::from_millis(100)));
        }
        (BindFs(Arc::clone(&shared)), ViewHandle(shared))
    }
}

/// Lets go, once per cache time (at most every 100 ms), of the backing roots and directories the view keeps open past
/// their time, so that an idle view holds nothing open below its links (a file system there can
/// be unmounted) for longer than twice the cache time. Ends with the view.
fn sweep_kept(shared: std::sync::Weak<Shared>, every: Duration) {
    let sweep = move || {
        loop {
            std::thread::sleep(every);
            match shared.upgrade() {
                Some(shared) => shared.view.drop_expired(),
                None => break,
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name("bindfs-sweep".into()).spawn(sweep) {
        tracing::warn!("no thread to let go of kept directories: {e}");
    }
}

impl ViewHandle {
    /// The view being served.
    pub fn view(&self) -> &View<LinuxBacking> {
        &self.0.view
    }

    /// How long the kernel may cache what the view shows.
    pub fn cache_ttl(&self) -> Duration {
        self.0.options.cache_ttl
    }

    /// Whether open files pass through to the kernel (known once the session started; see
    /// `io_mode`).
    pub fn passthrough(&self) -> bool {
        self.0.passthrough.load(Ordering::Relaxed)
    }

    /// Gives the workers a descriptor of the session's connection, to poll for requests.
    pub fn set_session_fd(&self, fd: std::os::fd::OwnedFd) {
        if let Ok(dup) = fd.try_clone() {
            let _ = self.0.session.set(dup);
        }
        self.0.pace.set_fd(fd);
        // Missing names are cached only where a link change can make the kernel drop them all
        // (see `lookup`): a first new epoch, before anything is cached, tells.
        let epochs = self.0.new_epoch();
        self.0.negative_entries.store(epochs, Ordering::Relaxed);
        if !epochs {
            tracing::info!(
                "the kernel has no FUSE_NOTIFY_INC_EPOCH (Linux 6.16+): missing names are not cached"
            );
        }
    }

    /// Gives the handle the session's notifier, so link changes reach the kernel's caches.
    pub fn set_notifier(&self, notifier: Notifier) {
        let _ = self.0.notifier.set(notifier);
    }

    /// Creates a link and makes the kernel forget what it cached about its path.
    pub fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
        let virt = spec.virt.clone();
        let id = self.0.view.create_link(spec)?;
        self.0.invalidate(&virt);
        self.0.new_epoch();
        Ok(id)
    }

    /// Removes a link and makes the kernel forget what it cached about its path.
    pub fn remove_link(&self, virt: &VPath) -> Result<bindfs_core::Link> {
        let link = self.0.view.remove_link(virt)?;
        self.0.invalidate(virt);
        self.0.new_epoch();
        Ok(link)
    }
}

impl Shared {
    /// Drops the kernel's cached entry for `virt` (and so everything cached below it) and the
    /// parent's cached listing, so a link change shows at once.
    fn invalidate(&self, virt: &VPath) {
        let Some(notifier) = self.notifier.get() else { return };
        let entries = match self.topmost_uncached(virt) {
            Some((parent, name)) => vec![(parent, name)],
            // A link at the root: every name the kernel knows below it.
            None => {
                self.inodes.children_of(virt).into_iter().map(|(_, n)| (crate::inodes::ROOT, n)).collect()
            }
        };
        for (parent, name) in entries {
            // ENOENT: the kernel had nothing cached there; nothing to drop.
            let _ = notifier.inval_entry(INodeNo(parent), OsStr::from_bytes(name.as_bytes()));
        }
        let dir = virt.parent().unwrap_or_default();
        if let Some(ino) = self.inodes.dir_ino(&dir) {
            let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
        }
        // Directories at and below V keep their node ids (they are keyed by path), so a dentry
        // dropped above is not enough: their cached listings and attributes must go too, or a
        // directory in use (a working directory, an open handle) would go on showing the old
        // content.
        for ino in self.inodes.dirs_at_or_below(virt) {
            let _ = notifier.inval_inode(INodeNo(ino), 0, 0);
        }
        // Entries the kernel keeps because they are in use (an open file below V) survive the
        // drop above and would go on resolving to what the old link showed.
        for (dir, name) in self.inodes.names_below(virt) {
            let _ = notifier.inval_entry(INodeNo(dir), OsStr::from_bytes(name.as_bytes()));
        }
    }

    /// Makes every name the kernel has cached invalid at its next use, negative ones and those a
    /// lookup in flight is about to cache included (`FUSE_NOTIFY_INC_EPOCH`, Linux 6.16+): the
    /// kernel tags each entry with the epoch its lookup began in. The drops of [`Shared::invalidate`]
    /// reach only the names the daemon knows, and an entry made from an answer given just before a
    /// link change would otherwise outlive it. False where the kernel cannot.
    fn new_epoch(&self) -> bool {
        const FUSE_NOTIFY_INC_EPOCH: i32 = 8;
        let Some(fd) = self.session.get() else { return false };
        // An unsolicited notification: `fuse_out_header` alone, with unique 0 and the code in
        // the error field.
        let mut message = [0u8; 16];
        message[0..4].copy_from_slice(&16u32.to_ne_bytes());
        message[4..8].copy_from_slice(&FUSE_NOTIFY_INC_EPOCH.to_ne_bytes());
        rustix::io::write(fd, &message).is_ok_and(|n| n == message.len())
    }

    /// The entry that holds what the kernel may cache of `virt`: `virt`'s own name in its
    /// parent when the kernel knows the parent, else that of the nearest ancestor it knows
    /// nothing of (a negative entry there hides everything below it). `None` for the root.
    fn topmost_uncached(&self, virt: &VPath) -> Option<(u64, bindfs_core::Name)> {
        let mut path = virt.clone();
        loop {
            let (parent, name) = (path.parent()?, path.file_name()?.clone());
            if let Some(ino) = self.inodes.dir_ino(&parent) {
                return Some((ino, name));
            }
            path = parent;
        }
    }

    fn ttl(&self) -> Duration {
        self.options.cache_ttl
    }

    /// The virtual path of node `ino`.
    fn path(&self, ino: INodeNo) -> Result<VPath> {
        self.inodes.path(ino.0).ok_or(Error::NotFound)
    }

    /// The virtual path of `name` in directory node `parent`.
    fn child(&self, parent: INodeNo, name: &OsStr) -> Result<VPath> {
        let name = Name::posix(name.as_bytes()).map_err(|_| Error::InvalidArgument)?;
        Ok(self.path(parent)?.join(&name))
    }

    /// Looks `path` up, counts a kernel reference, and returns its node id and attributes.
    fn entry(&self, path: &VPath) -> Result<(u64, FileAttr)> {
        let shown = self.view.lookup_shown(path)?;
        let ino = self.inodes.remember(path, &shown.attr, shown.synthesized, shown.writable);
        Ok((ino, file_attr(ino, &shown.attr)))
    }

    fn handle(&self) -> u64 {
        self.next_handle.fetch_add(1, Ordering::Relaxed)
    }

    fn open_file(&self, fh: u64) -> Result<Arc<OpenFile>> {
        self.files.lock().get(fh).ok_or(Error::Os(libc::EBADF))
    }

    /// An open file of node `ino`, if it has one. Its descriptor is the very object the node
    /// stands for: the node is the object's identity (see [`crate::inodes`]), and an open file
    /// is kept under a node only once it is known to be that object (`open` checks it,
    /// `create` made it).
    fn node_file(&self, ino: INodeNo) -> Option<Arc<OpenFile>> {
        self.files.lock().of_node(ino.0)
    }

    /// Runs `by_path` on node `ino`'s path. When every name of the node is gone (a file
    /// unlinked while open, then reached by `fstat`, `fchmod` ... which the kernel sends by
    /// node, without the handle), runs `by_file` on an open file of the node instead, so the
    /// call acts on the file as it would natively.
    fn on_node<T>(
        &self,
        ino: INodeNo,
        by_path: impl FnOnce(&VPath) -> Result<T>,
        by_file: impl FnOnce(&OpenFile) -> Result<T>,
    ) -> Result<T> {
        match self.path(ino).and_then(|p| by_path(&p)) {
            Err(Error::NotFound) => match self.node_file(ino) {
                Some(open) => by_file(&open),
                None => Err(Error::NotFound),
            },
            other => other,
        }
    }
}

/// A core error as the errno FUSE returns.
fn errno(e: &Error) -> fuser::Errno {
    fuser::Errno::from_i32(errno_of(e))
}

/// Runs `f` with the caller's credentials (for opens, listings and requests that create or
/// change things).
fn as_caller<T>(req: &Request, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let _guard = Credentials::become_caller(req.uid(), req.gid(), req.pid())?;
    f()
}

fn system_time(t: Timestamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(t.nanos));
    match u64::try_from(t.secs) {
        Ok(secs) => UNIX_EPOCH + Duration::from_secs(secs) + nanos,
        Err(_) => UNIX_EPOCH - Duration::from_secs(t.secs.unsigned_abs()) + nanos,
    }
}

fn file_type(kind: FileKind) -> FileType {
    match kind {
        FileKind::File => FileType::RegularFile,
        FileKind::Dir => FileType::Directory,
        FileKind::Symlink => FileType::Symlink,
        FileKind::Fifo => FileType::NamedPipe,
        FileKind::Socket => FileType::Socket,
        FileKind::CharDevice => FileType::CharDevice,
        FileKind::BlockDevice => FileType::BlockDevice,
    }
}

/// Core attributes as FUSE attributes of node `ino`. fuser sends `attr.ino` as the node id, so
/// `st_ino` is the view's node id: unique in the view, shared by hard links (see
/// [`crate::inodes`]).
/// What a negative entry carries: node id 0, which tells the kernel the name is absent (it
/// reads none of the attributes).
fn absent_attr() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: SystemTime::UNIX_EPOCH,
        mtime: SystemTime::UNIX_EPOCH,
        ctime: SystemTime::UNIX_EPOCH,
        crtime: SystemTime::UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

fn file_attr(ino: u64, a: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(ino),
        size: a.size,
        blocks: a.blocks,
        atime: system_time(a.atime),
        mtime: system_time(a.mtime),
        ctime: system_time(a.ctime),
        crtime: system_time(a.ctime),
        kind: file_type(a.kind),
        perm: (a.perm & 0o7777) as u16,
        nlink: u32::try_from(a.nlink).unwrap_or(u32::MAX),
        uid: a.uid,
        gid: a.gid,
        rdev: a.rdev as u32,
        blksize: a.blksize,
        flags: 0,
    }
}

const GENERATION: Generation = Generation(0);

impl Filesystem for BindFs {
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: fuser::FileHandle,
        _flags: fuser::IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: fuser::ReplyIoctl,
    ) {
        let _turn = self.0.pace.turn();
        // What fuser would answer, with the worker's turn taken (programs ask every new
        // descriptor whether it is a terminal).
        reply.error(fuser::Errno::ENOSYS);
    }

    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        use fuser::InitFlags as F;
        let wanted = F::FUSE_ASYNC_READ
            | F::FUSE_PARALLEL_DIROPS
            | F::FUSE_DO_READDIRPLUS
            | F::FUSE_READDIRPLUS_AUTO
            | F::FUSE_CACHE_SYMLINKS
            | F::FUSE_ATOMIC_O_TRUNC
            | F::FUSE_BIG_WRITES
            | F::FUSE_MAX_PAGES
            // Locks come to the daemon, which takes them on the backing files (`lock`).
            | F::FUSE_POSIX_LOCKS
            | F::FUSE_FLOCK_LOCKS;
        let _ = config.add_capabilities(wanted & config.capabilities());
        let _ = config.set_max_write(1 << 20);
        let _ = config.set_max_readahead(1 << 20);
        // Asked of the kernel only when the daemon may register backing files (`io_mode`):
        // a view that cannot use passthrough keeps no stacking depth and says so.
        if !self.0.options.passthrough || !config.capabilities().contains(F::FUSE_PASSTHROUGH) {
            return Ok(());
        }
        if let Some(why) = io_mode::passthrough_refused() {
            tracing::info!("open files do not pass through to the kernel: {why}; the daemon does their I/O");
        } else if config.add_capabilities(F::FUSE_PASSTHROUGH).is_ok()
            // Backing files may sit on one stacked file system (overlayfs, another FUSE).
            && config.set_max_stack_depth(2).is_ok()
        {
            self.0.passthrough.store(true, Ordering::Relaxed);
            tracing::info!("open files pass through to the kernel");
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: fuser::ReplyEntry) {
        let _turn = self.0.pace.turn();
        entry::lookup(&self.0, parent, name, reply)
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if self.0.inodes.forget(ino.0, nlookup) {
            self.0.io_modes.lock().forgotten(ino.0);
        }
        self.0.pace.after_forget();
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<fuser::FileHandle>, reply: fuser::ReplyAttr) {
        let _turn = self.0.pace.turn();
        attr::getattr(&self.0, ino, fh, reply)
    }

    fn setattr(
        &self,
        req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<fuser::TimeOrNow>,
        mtime: Option<fuser::TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<fuser::FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: fuser::ReplyAttr,
    ) {
        let _turn = self.0.pace.turn();
        let changes = attr::changes(mode, uid, gid, size, atime, mtime);
        attr::setattr(&self.0, req, ino, changes, fh, reply)
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: fuser::ReplyData) {
        let _turn = self.0.pace.turn();
        match self.0.path(ino).and_then(|p| self.0.view.readlink(&p)) {
            Ok(target) => reply.data(&target),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: fuser::ReplyEntry,
    ) {
        let _turn = self.0.pace.turn();
        entry::mknod(&self.0, req, parent, name, mode, rdev, reply)
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: fuser::ReplyEntry,
    ) {
        let _turn = self.0.pace.turn();
        entry::mkdir(&self.0, req, parent, name, mode, reply)
    }

    fn unlink(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: fuser::ReplyEmpty) {
        let _turn = self.0.pace.turn();
        entry::remove(&self.0, req, parent, name, false, reply)
    }

    fn rmdir(&self, req: &Request, parent: INodeNo, name: &OsStr, reply: fuser::ReplyEmpty) {
        let _turn = self.0.pace.turn();
        entry::remove(&self.0, req, parent, name, true, reply)
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &std::path::Path,
        reply: fuser::ReplyEntry,
    ) {
        let _turn = self.0.pace.turn();
        entry::symlink(&self.0, req, parent, link_name, target, reply)
    }

    fn rename(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: fuser::RenameFlags,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        entry::rename(&self.0, req, (parent, name), (newparent, newname), flags, reply)
    }

    fn link(
        &self,
        req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: fuser::ReplyEntry,
    ) {
        let _turn = self.0.pace.turn();
        entry::link(&self.0, req, ino, newparent, newname, reply)
    }

    fn open(&self, req: &Request, ino: INodeNo, flags: fuser::OpenFlags, reply: fuser::ReplyOpen) {
        let _turn = self.0.pace.turn();
        file::open(&self.0, req, ino, flags, reply)
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        offset: u64,
        size: u32,
        _flags: fuser::OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: fuser::ReplyData,
    ) {
        let _turn = self.0.pace.turn();
        file::read(&self.0, fh, offset, size, reply)
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: fuser::WriteFlags,
        _flags: fuser::OpenFlags,
        _lock_owner: Option<fuser::LockOwner>,
        reply: fuser::ReplyWrite,
    ) {
        let _turn = self.0.pace.turn();
        file::write(&self.0, fh, offset, data, reply)
    }

    fn flush(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: fuser::FileHandle,
        lock_owner: fuser::LockOwner,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        // Nothing to write back (I/O goes to the backing file at once); a process closing a
        // descriptor gives up its record locks on the file.
        self.0.locks.flush(ino, lock_owner);
        reply.ok()
    }

    fn release(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: fuser::FileHandle,
        _flags: fuser::OpenFlags,
        lock_owner: Option<fuser::LockOwner>,
        _flush: bool,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        self.0.locks.release(ino, fh, lock_owner);
        file::release(&self.0, fh);
        reply.ok()
    }

    fn getlk(
        &self,
        _req: &Request,
        ino: INodeNo,
        fh: fuser::FileHandle,
        lock_owner: fuser::LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        _pid: u32,
        reply: fuser::ReplyLock,
    ) {
        let _turn = self.0.pace.turn();
        lock::getlk(&self.0, ino, fh, lock_owner, (start, end), typ, reply)
    }

    fn setlk(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: fuser::FileHandle,
        lock_owner: fuser::LockOwner,
        start: u64,
        end: u64,
        typ: i32,
        pid: u32,
        sleep: bool,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        lock::setlk(&self.0, req, ino, fh, lock_owner, (start, end), typ, pid, sleep, reply)
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        datasync: bool,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        file::fsync(&self.0, fh, datasync, reply)
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: fuser::OpenFlags, reply: fuser::ReplyOpen) {
        let _turn = self.0.pace.turn();
        dir::opendir(&self.0, ino, reply)
    }

    fn readdir(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: fuser::FileHandle,
        offset: u64,
        reply: fuser::ReplyDirectory,
    ) {
        let _turn = self.0.pace.turn();
        dir::readdir(&self.0, req, ino, fh, offset, reply)
    }

    fn readdirplus(
        &self,
        req: &Request,
        ino: INodeNo,
        fh: fuser::FileHandle,
        offset: u64,
        reply: fuser::ReplyDirectoryPlus,
    ) {
        let _turn = self.0.pace.turn();
        dir::readdirplus(&self.0, req, ino, fh, offset, reply)
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        _flags: fuser::OpenFlags,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        self.0.dirs.lock().remove(&fh.0);
        reply.ok()
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: fuser::FileHandle,
        _datasync: bool,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        reply.ok()
    }

    fn statfs(&self, _req: &Request, ino: INodeNo, reply: fuser::ReplyStatfs) {
        let _turn = self.0.pace.turn();
        attr::statfs(&self.0, ino, reply)
    }

    fn setxattr(
        &self,
        req: &Request,
        ino: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        xattr::set(&self.0, req, ino, name, value, flags, reply)
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: fuser::ReplyXattr) {
        let _turn = self.0.pace.turn();
        xattr::get(&self.0, ino, name, size, reply)
    }

    fn listxattr(&self, req: &Request, ino: INodeNo, size: u32, reply: fuser::ReplyXattr) {
        let _turn = self.0.pace.turn();
        xattr::list(&self.0, req, ino, size, reply)
    }

    fn removexattr(&self, req: &Request, ino: INodeNo, name: &OsStr, reply: fuser::ReplyEmpty) {
        let _turn = self.0.pace.turn();
        xattr::remove(&self.0, req, ino, name, reply)
    }

    fn access(&self, _req: &Request, ino: INodeNo, _mask: fuser::AccessFlags, reply: fuser::ReplyEmpty) {
        let _turn = self.0.pace.turn();
        // Permissions are the kernel's (default_permissions); this only says the path exists.
        match self.0.path(ino).and_then(|p| self.0.view.getattr(&p)) {
            Ok(_) => reply.ok(),
            Err(e) => reply.error(errno(&e)),
        }
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: fuser::ReplyCreate,
    ) {
        let _turn = self.0.pace.turn();
        file::create(&self.0, req, parent, name, mode, flags, reply)
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        offset: u64,
        length: u64,
        mode: i32,
        reply: fuser::ReplyEmpty,
    ) {
        let _turn = self.0.pace.turn();
        file::fallocate(&self.0, fh, offset, length, mode, reply)
    }

    fn lseek(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: fuser::FileHandle,
        offset: i64,
        whence: i32,
        reply: fuser::ReplyLseek,
    ) {
        let _turn = self.0.pace.turn();
        file::lseek(&self.0, fh, offset, whence, reply)
    }

    fn copy_file_range(
        &self,
        _req: &Request,
        _ino_in: INodeNo,
        fh_in: fuser::FileHandle,
        offset_in: u64,
        _ino_out: INodeNo,
        fh_out: fuser::FileHandle,
        offset_out: u64,
        len: u64,
        _flags: fuser::CopyFileRangeFlags,
        reply: fuser::ReplyWrite,
    ) {
        let _turn = self.0.pace.turn();
        file::copy_file_range(&self.0, (fh_in, offset_in), (fh_out, offset_out), len, reply)
    }
}
