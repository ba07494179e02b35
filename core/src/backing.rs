//! The backing port: the small trait through which the core touches real storage.
//!
//! Every method works on *handles* (`Node`), one component at a time, so an implementation never
//! walks a path string from a privileged context: the Linux implementation holds `O_PATH` file
//! descriptors and opens with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, the Windows one
//! opens relative to a kept root `HANDLE` with `FILE_OPEN_REPARSE_POINT`. No method may follow a
//! symbolic link or reparse point inside a backing tree. Only [`Backing::open_host`] resolves a
//! whole path: the backing path an administrator named when creating a link.
//!
//! The core decides *which* layer and *which* name; the port only performs the call there.
//!
//! Attributes are the union of what the stores have, kept platform-neutral: [`Attr::btime`] is
//! the creation (birth) time where a store keeps one (Windows always; the Linux store reports
//! `None`), and [`Attr::win_attributes`] carries the Windows file-attribute bits that the kind
//! and the mode cannot say ([`win_attr`]: hidden, system, archive, temporary, and the directory
//! bit of a junction, which the core shows as a symlink). The core only carries and guards them
//! (a read-only link refuses setting them like any other change, rule 13); the Windows store
//! reads and writes them, and a store without them reports 0 and refuses setting them with
//! [`crate::Error::NotSupported`] only when a caller asks.

use std::fmt;

use crate::error::Result;
use crate::name::Name;
use crate::path::AbsPath;

/// The type of a file-system object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
}

/// A point in time as seconds and nanoseconds since the Unix epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z (negative before it).
    pub secs: i64,
    /// Nanoseconds within the second (0..1e9).
    pub nanos: u32,
}

/// Windows file-attribute bits (`FILE_ATTRIBUTE_*`, same values) that [`Attr::win_attributes`]
/// and [`SetAttr::win_attributes`] carry. The core defines the values (not an OS crate) so it
/// stays free of OS code.
pub mod win_attr {
    /// `FILE_ATTRIBUTE_HIDDEN`.
    pub const HIDDEN: u32 = 0x0000_0002;
    /// `FILE_ATTRIBUTE_SYSTEM`.
    pub const SYSTEM: u32 = 0x0000_0004;
    /// `FILE_ATTRIBUTE_DIRECTORY`: only on a [`super::FileKind::Symlink`] that is a directory
    /// junction or directory symlink (a [`super::FileKind::Dir`] needs no bit to say it).
    pub const DIRECTORY: u32 = 0x0000_0010;
    /// `FILE_ATTRIBUTE_ARCHIVE`.
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// `FILE_ATTRIBUTE_TEMPORARY`.
    pub const TEMPORARY: u32 = 0x0000_0100;
    /// The bits a caller may set through [`super::SetAttr::win_attributes`].
    pub const SETTABLE: u32 = HIDDEN | SYSTEM | ARCHIVE | TEMPORARY;
}

/// The attributes of a file-system object, as its store reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr {
    /// File type.
    pub kind: FileKind,
    /// Permission bits, including set-id and sticky bits (`0o7777`).
    pub perm: u32,
    /// Number of hard links.
    pub nlink: u64,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes.
    pub size: u64,
    /// Allocated 512-byte blocks.
    pub blocks: u64,
    /// Preferred I/O block size.
    pub blksize: u32,
    /// Device number for device files.
    pub rdev: u64,
    /// Device (file system) the object lives on; with `ino`, its identity.
    pub dev: u64,
    /// Inode number within `dev`.
    pub ino: u64,
    /// Last access.
    pub atime: Timestamp,
    /// Last content change.
    pub mtime: Timestamp,
    /// Last status change.
    pub ctime: Timestamp,
    /// Creation (birth) time; `None` where the store cannot tell.
    pub btime: Option<Timestamp>,
    /// The store's Windows file attributes beyond what `kind` and `perm` say, as
    /// [`win_attr`] bits: HIDDEN, SYSTEM, ARCHIVE, TEMPORARY, and DIRECTORY on a symlink that
    /// is a directory junction or directory symlink. 0 on stores without them.
    pub win_attributes: u32,
    /// The store's reparse tag of a [`FileKind::Symlink`] object (a Windows symlink's or
    /// junction's own tag, so each shows as what it is); 0 for other kinds and on stores
    /// without tags, where a link shows as a symbolic link.
    pub reparse_tag: u32,
}

/// One entry of a directory listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirEntry {
    /// The entry's name, exactly as the store holds it.
    pub name: Name,
    /// Its type.
    pub kind: FileKind,
    /// The store's inode number (0 when unknown, e.g. a synthesized entry).
    pub ino: u64,
}

/// A time to set with [`SetAttr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetTime {
    /// The current time.
    Now,
    /// A given time.
    At(Timestamp),
}

/// Attribute changes (chmod, chown, truncate, utimens, and Windows' creation time and
/// attributes); `None` leaves a field alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits.
    pub perm: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size.
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SetTime>,
    /// New modification time.
    pub mtime: Option<SetTime>,
    /// New creation (birth) time; stores that cannot set it refuse with
    /// [`crate::Error::NotSupported`].
    pub btime: Option<SetTime>,
    /// New Windows attribute bits: the [`win_attr::SETTABLE`] bits of the object become exactly
    /// these (others given are ignored; the read-only bit stays with `perm`). Stores without
    /// them refuse with [`crate::Error::NotSupported`].
    pub win_attributes: Option<u32>,
}

impl SetAttr {
    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        *self == SetAttr::default()
    }
}

/// How a file is opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// Open for reading.
    pub read: bool,
    /// Open for writing.
    pub write: bool,
    /// Truncate to zero length.
    pub truncate: bool,
    /// Every write goes to the end (write access still comes from `write`, as with `O_APPEND`).
    pub append: bool,
    /// Backend-specific flags for the store (e.g. `O_DIRECT`, `O_SYNC` on Linux). The store
    /// strips any that would break its guarantees: creation, access mode, truncation and
    /// appending (which only `truncate`/`append` may ask for, so the read-only check sees them),
    /// `O_PATH`, `O_NOFOLLOW`, `O_TMPFILE`.
    pub raw: i32,
}

impl OpenFlags {
    /// Read-only access.
    pub const READ: OpenFlags =
        OpenFlags { read: true, write: false, truncate: false, append: false, raw: 0 };
    /// Read-write access.
    pub const READ_WRITE: OpenFlags =
        OpenFlags { read: true, write: true, truncate: false, append: false, raw: 0 };

    /// Whether this open can change the file (and so is refused on a read-only entry).
    pub fn modifies(&self) -> bool {
        self.write || self.truncate
    }
}

/// Flags of [`Backing::rename`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenameFlags {
    /// Fail with [`crate::Error::Exists`] when the target exists (`RENAME_NOREPLACE`).
    pub no_replace: bool,
    /// Swap source and target atomically; both must exist (`RENAME_EXCHANGE`).
    pub exchange: bool,
}

/// How [`Backing::set_xattr`] treats an existing attribute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XattrMode {
    /// Create or replace.
    #[default]
    Any,
    /// Fail if it exists.
    Create,
    /// Fail if it does not exist.
    Replace,
}

/// File-system statistics (`statfs`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatFs {
    /// Total blocks of `frsize` bytes.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Free blocks for unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Block size.
    pub bsize: u32,
    /// Fragment size.
    pub frsize: u32,
    /// Longest name.
    pub namelen: u32,
}

/// Access to real storage, by handle, one component at a time.
///
/// Modes given to creating calls are applied as given: the caller applies any umask first (a
/// FUSE daemon clears its own umask at start).
///
/// `Node` is a handle to an object (a directory, file, symlink ...) that stays valid while the
/// object exists, even if it is renamed; `File` is an open file. Implementations return
/// [`crate::Error::NotFound`] for a missing name and [`crate::Error::NotDir`] when a handle that
/// must be a directory is not one, so the core can tell "absent in this layer" from failures.
pub trait Backing: Send + Sync {
    /// A handle to a file-system object.
    type Node: Clone + Send + Sync + fmt::Debug;
    /// An open file.
    type File: Send + Sync + fmt::Debug;

    /// The root of the on-disk layer (on Linux: the directory the view is mounted over, opened
    /// before mounting).
    fn open_disk_root(&self) -> Result<Self::Node>;

    /// The host path of the on-disk layer's root, when the store knows it: for reporting only
    /// (`link which`), never opened. `None`: the view is mounted over it (Linux), so it is the
    /// mount point, covered by the view.
    fn disk_root_path(&self) -> Option<AbsPath> {
        None
    }

    /// Opens a backing path an administrator named (the `B` of a link). This is the one place a
    /// whole path is resolved, and symlinks in it are followed as the administrator meant them.
    fn open_host(&self, path: &AbsPath) -> Result<Self::Node>;

    /// The directory holding `path` and its last name, for operations on a link's backing root
    /// itself (removing `V` acts on `B`, rule 19). The default opens the parent with `open_host`.
    fn open_host_parent(&self, path: &AbsPath) -> Result<(Self::Node, Name)> {
        let mut parent = path.clone();
        let names = path.path.names();
        let Some((last, init)) = names.split_last() else {
            return Err(crate::Error::Busy);
        };
        parent.path = crate::path::VPath::from_names(init.to_vec());
        Ok((self.open_host(&parent)?, last.clone()))
    }

    /// The entry `name` of directory `dir`, without following it if it is a symlink.
    fn lookup(&self, dir: &Self::Node, name: &Name) -> Result<Self::Node>;

    /// Walks `rel` down from `start`, never following a symlink. Implementations may do this in
    /// one call (Linux: `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`).
    fn walk(&self, start: &Self::Node, rel: &[Name]) -> Result<Self::Node> {
        let mut node = start.clone();
        for name in rel {
            node = self.lookup(&node, name)?;
        }
        Ok(node)
    }

    /// The name under which `dir` stores the entry that `name` finds. Stores that compare names
    /// case-insensitively return the stored spelling; the default returns `name` unchanged.
    fn stored_name(&self, dir: &Self::Node, name: &Name) -> Result<Name> {
        let _ = dir;
        Ok(name.clone())
    }

    /// Attributes of `node`.
    fn stat(&self, node: &Self::Node) -> Result<Attr>;

    /// Attributes of the entry `name` of directory `dir`, not following it (a listing's
    /// entries stat'ed in one call each). The default looks it up, then stats it.
    fn stat_child(&self, dir: &Self::Node, name: &Name) -> Result<Attr> {
        self.stat(&self.lookup(dir, name)?)
    }

    /// Every entry of directory `dir` except `.` and `..`.
    fn read_dir(&self, dir: &Self::Node) -> Result<Vec<DirEntry>>;

    /// Changes attributes and returns the new ones. Refusals that can be known up front (a
    /// size on a directory ...) come before any change; a failure of a later change may leave
    /// earlier ones (owner before mode, as `chown` then `chmod` would).
    fn set_attr(&self, node: &Self::Node, changes: &SetAttr) -> Result<Attr>;

    /// Opens `node` for I/O.
    fn open(&self, node: &Self::Node, flags: OpenFlags) -> Result<Self::File>;

    /// Creates a regular file `name` in `dir` (failing if it exists) and opens it; returns the
    /// attributes of the very file made (read from the open file, so a store needs no second
    /// handle to it) and the open file.
    fn create(
        &self,
        dir: &Self::Node,
        name: &Name,
        perm: u32,
        flags: OpenFlags,
    ) -> Result<(Attr, Self::File)>;

    /// The object an open file has open, as a node (for calls on a file just created, whose
    /// node no lookup gave): it names that very object, whatever its name is now.
    fn file_node(&self, file: &Self::File) -> Result<Self::Node>;

    /// Sets the size of a file opened for writing, through the open file: opening it for
    /// writing was the right to change its size, whatever its mode says now.
    fn set_len(&self, file: &Self::File, size: u64) -> Result<()>;

    /// Reads at `offset` into `buf`; returns the number of bytes read (0 at end of file).
    fn read(&self, file: &Self::File, offset: u64, buf: &mut [u8]) -> Result<usize>;

    /// Writes `data` at `offset` (at the end for append opens); returns the bytes written.
    fn write(&self, file: &Self::File, offset: u64, data: &[u8]) -> Result<usize>;

    /// Creates directory `name` in `dir`.
    fn mkdir(&self, dir: &Self::Node, name: &Name, perm: u32) -> Result<Self::Node>;

    /// Creates a special file (fifo, socket, device) `name` in `dir`.
    fn mknod(
        &self,
        dir: &Self::Node,
        name: &Name,
        kind: FileKind,
        perm: u32,
        rdev: u64,
    ) -> Result<Self::Node>;

    /// Creates symlink `name` in `dir` holding `target` unchanged.
    fn symlink(&self, dir: &Self::Node, name: &Name, target: &[u8]) -> Result<Self::Node>;

    /// Makes a hard link to `node` named `name` in `dir`.
    fn link(&self, node: &Self::Node, dir: &Self::Node, name: &Name) -> Result<Self::Node>;

    /// Removes the non-directory `name` from `dir`.
    fn unlink(&self, dir: &Self::Node, name: &Name) -> Result<()>;

    /// Removes the empty directory `name` from `dir`.
    fn rmdir(&self, dir: &Self::Node, name: &Name) -> Result<()>;

    /// Renames `dir/name` to `new_dir/new_name`.
    fn rename(
        &self,
        dir: &Self::Node,
        name: &Name,
        new_dir: &Self::Node,
        new_name: &Name,
        flags: RenameFlags,
    ) -> Result<()>;

    /// The target text of symlink `node`, unchanged.
    fn readlink(&self, node: &Self::Node) -> Result<Vec<u8>>;

    /// Statistics of the file system holding `node`.
    fn statfs(&self, node: &Self::Node) -> Result<StatFs>;

    /// The value of extended attribute `name`.
    fn get_xattr(&self, node: &Self::Node, name: &[u8]) -> Result<Vec<u8>>;

    /// The names of all extended attributes.
    fn list_xattr(&self, node: &Self::Node) -> Result<Vec<Vec<u8>>>;

    /// Sets extended attribute `name`.
    fn set_xattr(&self, node: &Self::Node, name: &[u8], value: &[u8], mode: XattrMode) -> Result<()>;

    /// Removes extended attribute `name`.
    fn remove_xattr(&self, node: &Self::Node, name: &[u8]) -> Result<()>;

    /// The security descriptor of `node` (owner, group and DACL, in self-relative form), for
    /// stores with Windows ACLs (rule 22: B's security applies at V). The default says
    /// [`crate::Error::NotSupported`].
    fn get_security(&self, node: &Self::Node) -> Result<Vec<u8>> {
        let _ = node;
        Err(crate::Error::NotSupported)
    }

    /// Applies the parts `parts` (`SECURITY_INFORMATION` flags) of the self-relative security
    /// descriptor `descriptor` to `node`. The default says [`crate::Error::NotSupported`].
    fn set_security(&self, node: &Self::Node, parts: u32, descriptor: &[u8]) -> Result<()> {
        let _ = (node, parts, descriptor);
        Err(crate::Error::NotSupported)
    }
}
