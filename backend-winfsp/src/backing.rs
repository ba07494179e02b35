//! The Windows backing store: [`Backing`] over NT handles, never following a link.
//!
//! Every object the core holds is a [`WindowsNode`], an NT handle opened with
//! `FILE_OPEN_REPARSE_POINT` relative to its parent's handle (`RootDirectory` in
//! `OBJECT_ATTRIBUTES`), one component at a time: a symbolic link, junction or any other reparse
//! point inside a backing tree is opened as itself and never followed by the service, so the
//! kernel resolves it where the user meets it, in the virtual namespace (rule 24). Only
//! [`Backing::open_host`] resolves a whole path: the backing path an administrator named.
//!
//! Reparse points that are not name surrogates (`IsReparseTagNameSurrogate` false: cloud-file
//! placeholders, WOF-compressed and deduplicated files, HSM ...) stand for their own data,
//! which a file-system filter supplies when the object is opened without
//! `FILE_OPEN_REPARSE_POINT`; opened as themselves, a placeholder reads as zeros and a
//! compressed file's data is not decompressed. So an open that reaches data (`DATA_ACCESS`:
//! reading, writing, executing a file, listing or adding to a directory) reads the object's tag
//! and, for such a reparse point, opens it again through its filter, relative to the handle
//! just opened (an empty name: the same object, not whatever its name holds by then), with the
//! same access and options, without `FILE_OPEN_REPARSE_POINT`. The one way that second open could
//! reach another object is the object's reparse point being replaced by a link in between
//! (followed, as the second open follows reparse points): both handles' volume serial numbers
//! and file ids are compared, and a mismatch is refused ([`Error::Stale`]), never followed.
//! Where no filter owns the tag, the open fails as it does on the backing directly
//! (`STATUS_IO_REPARSE_TAG_NOT_HANDLED`), which is what bindflt passes through too.
//!
//! Opens for metadata only (the nodes lookups keep, and reopens for attributes, security,
//! renames and deletion) stay opens of the object itself: the file system answers attributes,
//! sizes (a placeholder's or compressed file's logical size is its end of file), file ids and
//! security without the filter; an open a cloud filter sees may make it fetch or populate,
//! which a stat must not cause; and a second open and identity check on every lookup would
//! double the cost of walking a cloud-synced tree, where nearly every entry is a placeholder.
//! The price: a rename or deletion of a placeholder is not seen by its filter (its sync
//! provider learns of it as of any change made below the filter). Such objects are shown by
//! `kind_of` as the plain file or directory they are, never as links.
//!
//! Calls that need more access than a node has reopen the node's object (a relative open with
//! an empty name), so a node keeps naming the object it was opened on after a rename.
//!
//! How Windows objects read as core attributes: a symlink or junction is a
//! [`FileKind::Symlink`] whose target text ([`Backing::readlink`]) is the raw reparse data, a
//! directory is a directory, anything else a file. Windows has no mode: a file with
//! `FILE_ATTRIBUTE_READONLY` is `0o444`, other files `0o666`, directories and links `0o777`;
//! owner and group are 0 (the ACLs travel as security descriptors, rule 22). `ino` is the file
//! id, `dev` the volume serial number. `btime` is the creation time; `win_attributes` holds
//! HIDDEN, SYSTEM, ARCHIVE and TEMPORARY as the object has them, and DIRECTORY on a link that
//! is a junction or directory symlink; [`Backing::set_attr`] sets the creation time and those
//! four bits with the other basic information, in one call.
//!
//! Not supported (the core reports [`Error::NotSupported`]): owners by number, special files,
//! creating symlinks and hard links, extended attributes, exchange renames.
#![forbid(unsafe_code)]

use std::os::windows::io::{AsHandle, BorrowedHandle, OwnedHandle};
use std::sync::Arc;

use bindfs_core::{
    AbsPath, Attr, Backing, DirEntry, Error, FileKind, Name, OpenFlags, RenameFlags, Result, SetAttr,
    SetTime, StatFs, Syntax, Timestamp, XattrMode, win_attr,
};
use windows::Wdk::Storage::FileSystem::{
    FILE_BASIC_INFORMATION, FILE_DISPOSITION_INFORMATION, FILE_DISPOSITION_INFORMATION_EX,
    FILE_DISPOSITION_INFORMATION_EX_FLAGS, FILE_ID_INFORMATION, FILE_INTERNAL_INFORMATION,
    FILE_STANDARD_INFORMATION, FileAttributeTagInformation, FileBasicInformation, FileDispositionInformation,
    FileDispositionInformationEx, FileEndOfFileInformation, FileFsFullSizeInformation,
    FileFsVolumeInformation, FileIdInformation, FileInternalInformation, FileStandardInformation,
};
use windows::Wdk::System::SystemServices::{
    FILE_ATTRIBUTE_TAG_INFORMATION, FILE_END_OF_FILE_INFORMATION, FILE_FS_FULL_SIZE_INFORMATION,
    FILE_FS_VOLUME_INFORMATION,
};

use crate::info::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_NORMAL, FILE_ATTRIBUTE_READONLY};
use crate::info::{FILE_ATTRIBUTE_REPARSE_POINT, filetime_of, is_link_tag, is_name_surrogate, timestamp_of};
use crate::status::code;
use crate::sys::{self, OpenRequest};
use crate::wide;

// Access rights (winnt.h).
const FILE_READ_DATA: u32 = 0x0001;
const FILE_LIST_DIRECTORY: u32 = 0x0001;
const FILE_WRITE_DATA: u32 = 0x0002;
const FILE_APPEND_DATA: u32 = 0x0004;
const FILE_EXECUTE: u32 = 0x0020;
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const FILE_WRITE_ATTRIBUTES: u32 = 0x0100;
const DELETE: u32 = 0x0001_0000;
const READ_CONTROL: u32 = 0x0002_0000;
const WRITE_DAC: u32 = 0x0004_0000;
const WRITE_OWNER: u32 = 0x0008_0000;
const SYNCHRONIZE: u32 = 0x0010_0000;
const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
const FILE_GENERIC_READ: u32 = 0x0012_0089;
const FILE_GENERIC_WRITE: u32 = 0x0012_0116;

// Create dispositions and options (ntifs.h).
const FILE_OPEN: u32 = 1;
const FILE_CREATE: u32 = 2;
const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
const FILE_SYNCHRONOUS_IO_NONALERT: u32 = 0x0000_0020;
const FILE_NON_DIRECTORY_FILE: u32 = 0x0000_0040;
const FILE_OPEN_FOR_BACKUP_INTENT: u32 = 0x0000_4000;
const FILE_OPEN_REPARSE_POINT: u32 = 0x0020_0000;

/// Options of every open inside a backing tree: synchronous, the object itself (never a
/// reparse point's target), with backup semantics where the service holds the privilege.
const IN_TREE: u32 = FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_FOR_BACKUP_INTENT | FILE_OPEN_REPARSE_POINT;

/// Access of a node handle: enough to stat it, read its security and use it as a root.
const NODE_ACCESS: u32 = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;

/// Rights that reach an object's data: read, write, append to and execute a file, or (the same
/// bits) list, add a file or subdirectory to and traverse a directory. An open with any of them
/// goes through the filter of a reparse point that is not a name surrogate (module docs).
const DATA_ACCESS: u32 = FILE_READ_DATA | FILE_WRITE_DATA | FILE_APPEND_DATA | FILE_EXECUTE;

// SECURITY_INFORMATION parts (also what the file system asks for when it sets a descriptor).
pub(crate) const OWNER_SECURITY_INFORMATION: u32 = 0x1;
pub(crate) const GROUP_SECURITY_INFORMATION: u32 = 0x2;
pub(crate) const DACL_SECURITY_INFORMATION: u32 = 0x4;
const SACL_SECURITY_INFORMATION: u32 = 0x8;

/// `FILE_DISPOSITION_DELETE | FILE_DISPOSITION_POSIX_SEMANTICS |
/// FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE`: the name goes at once, as `unlink` does.
const POSIX_DELETE: u32 = 0x1 | 0x2 | 0x10;

thread_local! {
    /// What this thread creates now, its descriptor and attributes
    /// ([`WindowsBacking::creating_with`]).
    static NEW_ENTRY: std::cell::RefCell<Option<NewEntry>> = const { std::cell::RefCell::new(None) };
}

/// The entry a creating call makes, and the descriptor and attributes it gets.
#[derive(Debug)]
struct NewEntry {
    /// Its name, upcased (the volume compares names case-insensitively).
    name: Vec<u16>,
    /// Whether it is a directory.
    dir: bool,
    /// The self-relative descriptor, if the creator gave one.
    descriptor: Option<Vec<u8>>,
    /// The [`win_attr::SETTABLE`] bits it is created with.
    attributes: u32,
}

/// A self-relative descriptor with its owner and group left out (their offsets 0), so the
/// creator's defaults apply.
fn without_owner(descriptor: &[u8]) -> Vec<u8> {
    let mut d = descriptor.to_vec();
    if let Some(offsets) = d.get_mut(4..12) {
        offsets.fill(0);
    }
    d
}

/// A handle to an object in a backing tree, shared (cloning is a reference count).
#[derive(Clone, Debug)]
pub struct WindowsNode(Arc<OwnedHandle>);

impl WindowsNode {
    fn handle(&self) -> BorrowedHandle<'_> {
        self.0.as_handle()
    }
}

/// A file opened for I/O.
#[derive(Debug)]
pub struct WindowsFile {
    /// Shared with the nodes [`WindowsFile::node`] hands out, so calls on the open file act on
    /// its own object whatever its name is now.
    handle: Arc<OwnedHandle>,
    /// Opened to append: every write goes to the end.
    append: bool,
}

impl WindowsFile {
    /// The attributes of the open file itself (whatever its name is now).
    pub fn stat(&self) -> Result<Attr> {
        stat_handle(self.handle.as_handle())
    }

    /// Writes what was written through this handle to the disk, as `FlushFileBuffers` does.
    pub fn flush(&self) -> Result<()> {
        match sys::flush(self.handle.as_handle()) {
            // A handle opened without write access has nothing of its own to write.
            Err(Error::Os(code::ACCESS_DENIED)) => Ok(()),
            other => other,
        }
    }

    /// Writes `data` at the end of the file, wherever the end is when the write happens (no
    /// other writer can slip in between finding the end and writing there).
    pub fn write_at_end(&self, data: &[u8]) -> Result<usize> {
        sys::write_at(self.handle.as_handle(), None, data)
    }

    /// The open file as a node, for the store calls that take one (attributes, security,
    /// reparse data): they act on this very object, not on whatever its path names now.
    pub fn node(&self) -> WindowsNode {
        WindowsNode(Arc::clone(&self.handle))
    }
}

/// A handle with `DELETE` access on an object, on which its delete disposition is set.
///
/// Held from `SetDelete` (or an open with delete-on-close) to the cleanup that deletes: opening
/// it is where another opener's sharing mode (no `FILE_SHARE_DELETE`) refuses the deletion, as
/// NTFS refuses it, rather than at cleanup where a failure can only be logged.
#[derive(Debug)]
pub struct DeleteHandle(OwnedHandle);

impl DeleteHandle {
    /// Marks the object for deletion (`true`) or unmarks it. With POSIX semantics (NTFS since
    /// Windows 10 1709) the name goes when this handle closes; elsewhere when the last handle
    /// to the object closes.
    pub fn set(&self, delete: bool) -> Result<()> {
        set_disposition(self.0.as_handle(), delete)
    }
}

/// Sets the delete disposition of the object open as `handle` (with `DELETE`), as ntptfs
/// does: POSIX semantics where the file system has them, the classic flag elsewhere; a refusal
/// (access denied, not empty, cannot delete, already deleted) is final.
fn set_disposition(handle: BorrowedHandle<'_>, delete: bool) -> Result<()> {
    const CANNOT_DELETE: i32 = 0xC000_0121_u32 as i32;
    const FILE_DELETED: i32 = 0xC000_0123_u32 as i32;
    let flags = if delete { POSIX_DELETE } else { 0 };
    let posix = FILE_DISPOSITION_INFORMATION_EX { Flags: FILE_DISPOSITION_INFORMATION_EX_FLAGS(flags) };
    match sys::set(handle, FileDispositionInformationEx, &posix) {
        Ok(()) => Ok(()),
        Err(e @ (Error::NotEmpty | Error::NotFound)) => Err(e),
        Err(Error::Os(s)) if [code::ACCESS_DENIED, CANNOT_DELETE, FILE_DELETED].contains(&s) => {
            Err(Error::Os(s))
        }
        // File systems without POSIX deletion (FAT, older NTFS, Wine).
        Err(_) if delete => delete_at_close(handle),
        Err(_) => {
            sys::set(handle, FileDispositionInformation, &FILE_DISPOSITION_INFORMATION { DeleteFile: false })
        }
    }
}

/// Marks the object open as `handle` (with `DELETE`) for deletion at close. Like the POSIX
/// deletion tried first (which ignores the read-only attribute), a read-only object goes
/// too: its attribute is cleared, and put back if the deletion is still refused.
fn delete_at_close(handle: BorrowedHandle<'_>) -> Result<()> {
    const STATUS_CANNOT_DELETE: i32 = 0xC000_0121_u32 as i32;
    let classic = FILE_DISPOSITION_INFORMATION { DeleteFile: true };
    let refused = match sys::set(handle, FileDispositionInformation, &classic) {
        Err(Error::Os(s)) if s == STATUS_CANNOT_DELETE => Error::Os(s),
        other => return other,
    };
    let attrs =
        WindowsBacking::reopen(handle, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE, 0)?;
    let mut basic: FILE_BASIC_INFORMATION = sys::query(attrs.as_handle(), FileBasicInformation)?;
    let old = basic.FileAttributes;
    if old & FILE_ATTRIBUTE_READONLY == 0 {
        return Err(refused);
    }
    // Times 0: leave as they are.
    basic.CreationTime = 0;
    basic.LastAccessTime = 0;
    basic.LastWriteTime = 0;
    basic.ChangeTime = 0;
    let cleared = old & !FILE_ATTRIBUTE_READONLY;
    basic.FileAttributes = if cleared == 0 { FILE_ATTRIBUTE_NORMAL } else { cleared };
    sys::set(attrs.as_handle(), FileBasicInformation, &basic)?;
    let done = sys::set(handle, FileDispositionInformation, &classic);
    if done.is_err() {
        basic.FileAttributes = old;
        let _ = sys::set(attrs.as_handle(), FileBasicInformation, &basic);
    }
    done
}

/// The Windows implementation of [`Backing`].
#[derive(Debug)]
pub struct WindowsBacking {
    disk_root: WindowsNode,
    /// The path the on-disk layer was opened at, for reporting (`link which`).
    disk_path: AbsPath,
}

impl WindowsBacking {
    /// A store whose on-disk layer is the directory at `lower` (resolved as an administrator's
    /// path: reparse points in it are followed).
    pub fn open(lower: &AbsPath) -> Result<WindowsBacking> {
        let root = open_host_node(lower)?;
        if stat_handle(root.handle())?.kind != FileKind::Dir {
            return Err(Error::NotDir);
        }
        Ok(WindowsBacking { disk_root: root, disk_path: lower.clone() })
    }

    /// Reopens `handle`'s object with `access`.
    fn reopen(handle: BorrowedHandle<'_>, access: u32, options: u32) -> Result<OwnedHandle> {
        open_in_tree(handle, &[], access, options)
    }

    /// Opens entry `name` of `dir` with `access`, never following it.
    fn open_child(dir: &WindowsNode, name: &Name, access: u32, options: u32) -> Result<OwnedHandle> {
        let wide = wide::wide_of_name(name)?;
        let opened = open_in_tree(dir.handle(), &wide, access, options);
        match opened {
            // Below something that is not a directory, Windows says "path not found" or
            // "invalid parameter": the core needs to know the parent was not a directory.
            Err(e) => match stat_handle(dir.handle())?.kind {
                FileKind::Dir => Err(e),
                _ => Err(Error::NotDir),
            },
            other => other,
        }
    }

    fn create_child(
        dir: &WindowsNode,
        name: &Name,
        access: u32,
        options: u32,
        attributes: u32,
    ) -> Result<OwnedHandle> {
        let wide = wide::wide_of_name(name)?;
        // Only the entry being created gets the descriptor, not a directory the core makes on
        // the way to it (a layer's missing parents).
        let upcased: Vec<u16> = wide.iter().map(|&u| crate::dirlist::upcase(u)).collect();
        let dir_wanted = options & FILE_DIRECTORY_FILE != 0;
        let (security, extra) = NEW_ENTRY.with(|s| {
            s.borrow()
                .as_ref()
                .filter(|n| n.name == upcased && n.dir == dir_wanted)
                .map(|n| (n.descriptor.clone(), n.attributes))
                .unwrap_or_default()
        });
        // Hidden, system ... go into the creating call, so the entry never shows without them.
        let attributes = match attributes & !FILE_ATTRIBUTE_NORMAL | extra {
            0 => FILE_ATTRIBUTE_NORMAL,
            given => given,
        };
        let create = |security: Option<&[u8]>| {
            sys::open(&OpenRequest {
                root: Some(dir.handle()),
                name: &wide,
                access,
                disposition: FILE_CREATE,
                options: options | IN_TREE,
                attributes,
                security,
                refuse_reparse: false,
            })
        };
        match create(security.as_deref()) {
            // Another user as owner needs SeRestorePrivilege, which the service may not hold:
            // then at least the DACL computed for the caller (its CREATOR OWNER entries name
            // the caller, not the service), with the service as owner.
            Err(Error::Os(code::INVALID_OWNER | code::PRIVILEGE_NOT_HELD)) => {
                create(security.as_deref().map(without_owner).as_deref())
            }
            other => other,
        }
    }

    /// Runs `make` with `descriptor` and the [`win_attr::SETTABLE`] bits of `attributes` given
    /// to the file (or directory, `dir`) named `name` that the store creates on this thread
    /// meanwhile, in the creating call itself (so it never exists with another security or
    /// without them): the core's `create` and `mkdir` carry neither (see the adapter's
    /// `create`). Directories the core makes on the way get what they inherit.
    pub fn creating_with<T>(
        &self,
        name: &Name,
        dir: bool,
        descriptor: Option<&[u8]>,
        attributes: u32,
        make: impl FnOnce() -> T,
    ) -> T {
        /// Clears the entry however `make` ends.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                NEW_ENTRY.with(|s| *s.borrow_mut() = None);
            }
        }
        let upcased = wide::wide_of_name(name).map(|w| w.into_iter().map(crate::dirlist::upcase).collect());
        let attributes = attributes & win_attr::SETTABLE;
        let new = match upcased {
            Ok(name) if descriptor.is_some() || attributes != 0 => {
                Some(NewEntry { name, dir, descriptor: descriptor.map(<[u8]>::to_vec), attributes })
            }
            _ => None,
        };
        NEW_ENTRY.with(|s| *s.borrow_mut() = new);
        let _reset = Reset;
        make()
    }

    fn remove(&self, dir: &WindowsNode, name: &Name, want_dir: bool) -> Result<()> {
        let handle = Self::open_child(dir, name, DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0)?;
        let is_dir = stat_handle(handle.as_handle())?.kind == FileKind::Dir;
        match (want_dir, is_dir) {
            (true, false) => return Err(Error::NotDir),
            (false, true) => return Err(Error::IsDir),
            _ => {}
        }
        set_disposition(handle.as_handle(), true)
    }

    /// The whole security descriptor of `node`'s object, its SACL included, as ntptfs hands
    /// it on when the service holds `SeSecurityPrivilege` (WinFsp picks the parts a caller asked
    /// for); without the privilege, what [`Backing::get_security`] gives (no SACL).
    pub fn get_security_all(&self, node: &WindowsNode) -> Result<Vec<u8>> {
        let all = OWNER_SECURITY_INFORMATION
            | GROUP_SECURITY_INFORMATION
            | DACL_SECURITY_INFORMATION
            | SACL_SECURITY_INFORMATION;
        match Self::reopen(node.handle(), READ_CONTROL | ACCESS_SYSTEM_SECURITY, 0) {
            Ok(handle) => sys::query_security(handle.as_handle(), all),
            Err(_) => self.get_security(node),
        }
    }

    /// A handle to delete `node`'s object through ([`DeleteHandle`]); refused when another
    /// opener does not share deletion, or the caller may not delete.
    pub fn open_for_delete(&self, node: &WindowsNode) -> Result<DeleteHandle> {
        Ok(DeleteHandle(Self::reopen(node.handle(), DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0)?))
    }
}

fn open_host_node(path: &AbsPath) -> Result<WindowsNode> {
    let nt = wide::nt_path_of(path)?;
    let handle = sys::open(&OpenRequest {
        root: None,
        name: &nt,
        access: NODE_ACCESS,
        disposition: FILE_OPEN,
        // The administrator's own path: reparse points in it are followed as meant.
        options: FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_FOR_BACKUP_INTENT,
        attributes: 0,
        security: None,
        refuse_reparse: false,
    })?;
    Ok(WindowsNode(Arc::new(handle)))
}

/// Opens `name` relative to `root` (empty: `root`'s own object again) with `access` and the
/// options `options | IN_TREE`: the object itself, never a link's target. An open that reaches
/// data ([`DATA_ACCESS`]) of a reparse point that is not a name surrogate goes through its
/// filter instead, checked to be the same object (module docs).
fn open_in_tree(root: BorrowedHandle<'_>, name: &[u16], access: u32, options: u32) -> Result<OwnedHandle> {
    let open = |root, name, access, options: u32| {
        sys::open(&OpenRequest {
            root: Some(root),
            name,
            access,
            disposition: FILE_OPEN,
            options,
            attributes: 0,
            security: None,
            // Without FILE_OPEN_REPARSE_POINT (the reopen through a filter), a link swapped in
            // meanwhile fails the open instead of being followed.
            refuse_reparse: options & FILE_OPEN_REPARSE_POINT == 0,
        })
    };
    if access & DATA_ACCESS == 0 {
        return open(root, name, access, options | IN_TREE);
    }
    // The object itself first, to read its tag; a reopen's `root` is that object already.
    let itself = match name {
        [] => None,
        _ => Some(open(root, name, access | FILE_READ_ATTRIBUTES, options | IN_TREE)?),
    };
    let object = itself.as_ref().map_or(root, |h| h.as_handle());
    let tag: FILE_ATTRIBUTE_TAG_INFORMATION = sys::query(object, FileAttributeTagInformation)?;
    if !data_through_filter(tag.FileAttributes, tag.ReparseTag) {
        return match itself {
            Some(handle) => Ok(handle),
            None => open(root, name, access, options | IN_TREE),
        };
    }
    let through =
        open(object, &[], access | FILE_READ_ATTRIBUTES, (options | IN_TREE) & !FILE_OPEN_REPARSE_POINT)?;
    if !same_object(object, through.as_handle())? {
        // Its reparse point became a link in between, and the second open followed it.
        return Err(Error::Stale);
    }
    Ok(through)
}

/// Whether an object with these attributes and reparse tag gives its data only through its
/// file-system filter: a reparse point that does not name another object.
fn data_through_filter(attributes: u32, reparse_tag: u32) -> bool {
    attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 && !is_name_surrogate(reparse_tag)
}

/// Which object a handle is open on: its volume's 64-bit serial number and its 128-bit file
/// id there (`FileIdInformation`: ReFS ids do not fit the 64-bit `FileInternalInformation`,
/// which it answers with -1 for every such object).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ObjectId {
    volume: u64,
    file: [u8; 16],
}

fn object_id(handle: BorrowedHandle<'_>) -> Result<ObjectId> {
    let id: FILE_ID_INFORMATION = sys::query(handle, FileIdInformation)?;
    Ok(ObjectId { volume: id.VolumeSerialNumber, file: id.FileId.Identifier })
}

/// Whether two handles are open on the same object.
fn same_object(a: BorrowedHandle<'_>, b: BorrowedHandle<'_>) -> Result<bool> {
    Ok(object_id(a)? == object_id(b)?)
}

/// The kind an object shows as: a symlink or junction is a link (rule 24); any other reparse
/// point is the file or directory it is (its filter's data, or a name surrogate no link can
/// stand for).
fn kind_of(attributes: u32, reparse_tag: u32) -> FileKind {
    if attributes & FILE_ATTRIBUTE_REPARSE_POINT != 0 && is_link_tag(reparse_tag) {
        FileKind::Symlink
    } else if attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        FileKind::Dir
    } else {
        FileKind::File
    }
}

/// The [`win_attr`] bits of an object's attributes: the settable ones, and the directory bit of
/// a link (a junction, or a directory symlink), which its kind cannot say.
fn win_attributes_of(kind: FileKind, attributes: u32) -> u32 {
    let mut bits = attributes & win_attr::SETTABLE;
    if kind == FileKind::Symlink && attributes & FILE_ATTRIBUTE_DIRECTORY != 0 {
        bits |= win_attr::DIRECTORY;
    }
    bits
}

fn perm_of(kind: FileKind, attributes: u32) -> u32 {
    match kind {
        FileKind::File if attributes & FILE_ATTRIBUTE_READONLY != 0 => 0o444,
        FileKind::File => 0o666,
        _ => 0o777,
    }
}

fn time(filetime: i64) -> Timestamp {
    timestamp_of(u64::try_from(filetime).unwrap_or(0))
}

fn stat_handle(handle: BorrowedHandle<'_>) -> Result<Attr> {
    let basic: FILE_BASIC_INFORMATION = sys::query(handle, FileBasicInformation)?;
    let standard: FILE_STANDARD_INFORMATION = sys::query(handle, FileStandardInformation)?;
    let internal: FILE_INTERNAL_INFORMATION = sys::query(handle, FileInternalInformation)?;
    let tag: FILE_ATTRIBUTE_TAG_INFORMATION = sys::query(handle, FileAttributeTagInformation)?;
    let volume: FILE_FS_VOLUME_INFORMATION = sys::query_volume(handle, FileFsVolumeInformation)?;
    let kind = kind_of(basic.FileAttributes, tag.ReparseTag);
    let allocated = u64::try_from(standard.AllocationSize).unwrap_or(0);
    Ok(Attr {
        kind,
        perm: perm_of(kind, basic.FileAttributes),
        nlink: u64::from(standard.NumberOfLinks),
        uid: 0,
        gid: 0,
        size: u64::try_from(standard.EndOfFile).unwrap_or(0),
        blocks: allocated.div_ceil(512),
        blksize: 4096,
        rdev: 0,
        dev: u64::from(volume.VolumeSerialNumber),
        ino: internal.IndexNumber as u64,
        atime: time(basic.LastAccessTime),
        mtime: time(basic.LastWriteTime),
        ctime: time(basic.ChangeTime),
        btime: Some(time(basic.CreationTime)),
        win_attributes: win_attributes_of(kind, basic.FileAttributes),
        reparse_tag: if kind == FileKind::Symlink { tag.ReparseTag } else { 0 },
    })
}

fn filetime_now() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let t = Timestamp { secs: now.as_secs() as i64, nanos: now.subsec_nanos() };
    i64::try_from(filetime_of(t)).unwrap_or(0)
}

fn set_time(t: Option<SetTime>) -> i64 {
    match t {
        None => 0, // 0: leave as it is
        Some(SetTime::Now) => filetime_now(),
        Some(SetTime::At(t)) => i64::try_from(filetime_of(t)).unwrap_or(0),
    }
}

/// Access an open for `flags` needs.
fn io_access(flags: OpenFlags) -> u32 {
    let mut access = FILE_READ_ATTRIBUTES | SYNCHRONIZE;
    if flags.read {
        access |= FILE_GENERIC_READ;
    }
    if flags.write {
        access |= if flags.append { FILE_APPEND_DATA | FILE_WRITE_ATTRIBUTES } else { FILE_GENERIC_WRITE };
    }
    if flags.truncate {
        access |= FILE_WRITE_DATA;
    }
    access
}

impl Backing for WindowsBacking {
    type Node = WindowsNode;
    type File = WindowsFile;

    fn open_disk_root(&self) -> Result<WindowsNode> {
        Ok(self.disk_root.clone())
    }

    fn disk_root_path(&self) -> Option<AbsPath> {
        Some(self.disk_path.clone())
    }

    fn open_host(&self, path: &AbsPath) -> Result<WindowsNode> {
        open_host_node(path)
    }

    /// The directory holding the object `path` names and its name there: when `path` ends in a
    /// link, that is its target, so removing `V` acts on `B` itself (rule 19).
    fn open_host_parent(&self, path: &AbsPath) -> Result<(WindowsNode, Name)> {
        let node = open_host_node(path)?;
        let real = sys::final_path(node.handle())
            .and_then(|w| AbsPath::parse_bytes(&wide::wtf8_of_wide(&w), Syntax::Windows).ok())
            .unwrap_or_else(|| path.clone());
        let names = real.path.names();
        let Some((last, init)) = names.split_last() else { return Err(Error::Busy) };
        let parent = AbsPath { root: real.root.clone(), path: bindfs_core::VPath::from_names(init.to_vec()) };
        Ok((open_host_node(&parent)?, last.clone()))
    }

    fn lookup(&self, dir: &WindowsNode, name: &Name) -> Result<WindowsNode> {
        Ok(WindowsNode(Arc::new(Self::open_child(dir, name, NODE_ACCESS, 0)?)))
    }

    fn stored_name(&self, dir: &WindowsNode, name: &Name) -> Result<Name> {
        let child = self.lookup(dir, name)?;
        let full = sys::file_name(child.handle())?;
        let last = full.rsplit(|&u| u == u16::from(b'\\')).next().unwrap_or(&full);
        if last.is_empty() { Ok(name.clone()) } else { wide::name_of_wide(last) }
    }

    fn stat(&self, node: &WindowsNode) -> Result<Attr> {
        stat_handle(node.handle())
    }

    fn read_dir(&self, dir: &WindowsNode) -> Result<Vec<DirEntry>> {
        let handle = Self::reopen(dir.handle(), FILE_LIST_DIRECTORY | SYNCHRONIZE, FILE_DIRECTORY_FILE)?;
        let mut entries = Vec::new();
        for raw in sys::list_dir(handle.as_handle())? {
            if raw.name == [u16::from(b'.')] || raw.name == [u16::from(b'.'), u16::from(b'.')] {
                continue;
            }
            let kind = kind_of(raw.attributes, raw.reparse_tag);
            entries.push(DirEntry { name: wide::name_of_wide(&raw.name)?, kind, ino: raw.file_id });
        }
        Ok(entries)
    }

    fn set_attr(&self, node: &WindowsNode, changes: &SetAttr) -> Result<Attr> {
        let current = stat_handle(node.handle())?;
        // Refuse before changing anything.
        if changes.uid.is_some() || changes.gid.is_some() {
            return Err(Error::NotSupported);
        }
        if changes.size.is_some() && current.kind != FileKind::File {
            return Err(if current.kind == FileKind::Dir { Error::IsDir } else { Error::InvalidArgument });
        }
        let apply = |handle: BorrowedHandle<'_>| -> Result<()> {
            let mut basic: FILE_BASIC_INFORMATION = sys::query(handle, FileBasicInformation)?;
            let old_attributes = basic.FileAttributes;
            let mut attributes = old_attributes & 0x31A7; // the flags NtSetInformationFile takes
            let mut change_attributes = false;
            // Only files carry a read-only attribute that means "no writes" (on a directory it
            // means something else to Explorer).
            if let Some(perm) = changes.perm.filter(|_| current.kind == FileKind::File) {
                attributes &= !FILE_ATTRIBUTE_READONLY;
                if perm & 0o222 == 0 {
                    attributes |= FILE_ATTRIBUTE_READONLY;
                }
                change_attributes = true;
            }
            if let Some(bits) = changes.win_attributes {
                attributes = attributes & !win_attr::SETTABLE | bits & win_attr::SETTABLE;
                change_attributes = true;
            }
            basic.FileAttributes = match (change_attributes, attributes & !FILE_ATTRIBUTE_NORMAL) {
                (false, _) => 0, // 0: leave as they are
                (true, 0) => FILE_ATTRIBUTE_NORMAL,
                (true, given) => given,
            };
            basic.CreationTime = set_time(changes.btime);
            basic.ChangeTime = 0;
            basic.LastAccessTime = set_time(changes.atime);
            basic.LastWriteTime = set_time(changes.mtime);
            let times = [basic.CreationTime, basic.LastAccessTime, basic.LastWriteTime];
            if basic.FileAttributes != 0 || times.iter().any(|&t| t != 0) {
                sys::set(handle, FileBasicInformation, &basic)?;
            }
            if let Some(size) = changes.size {
                let end = FILE_END_OF_FILE_INFORMATION {
                    EndOfFile: i64::try_from(size).map_err(|_| Error::InvalidArgument)?,
                };
                sys::set(handle, FileEndOfFileInformation, &end)?;
            }
            Ok(())
        };
        // The node's own handle when it has the access (an open file's, as ntptfs acts on its
        // handle); a reopen of its object otherwise (a lookup's node, which may only stat).
        // Windows answers a missing access right with ACCESS_DENIED, Wine with
        // INVALID_PARAMETER or INVALID_HANDLE: any status sends the call to the reopened
        // object, whose answer is the one that counts (the changes are idempotent).
        match apply(node.handle()) {
            Err(Error::Os(_)) => {
                let mut access = FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | SYNCHRONIZE;
                if changes.size.is_some() {
                    access |= FILE_WRITE_DATA;
                }
                apply(Self::reopen(node.handle(), access, 0)?.as_handle())?;
            }
            other => other?,
        }
        stat_handle(node.handle())
    }

    fn open(&self, node: &WindowsNode, flags: OpenFlags) -> Result<WindowsFile> {
        // A directory opens for reading only, as open(2) has it (IsDir otherwise): on a
        // directory FILE_WRITE_DATA is the right to add files, which NtCreateFile would grant.
        let options = if flags.modifies() { FILE_NON_DIRECTORY_FILE } else { 0 };
        let handle = Self::reopen(node.handle(), io_access(flags), options)?;
        if flags.truncate {
            let end = FILE_END_OF_FILE_INFORMATION { EndOfFile: 0 };
            sys::set(handle.as_handle(), FileEndOfFileInformation, &end)?;
        }
        Ok(WindowsFile { handle: Arc::new(handle), append: flags.append })
    }

    fn create(
        &self,
        dir: &WindowsNode,
        name: &Name,
        perm: u32,
        flags: OpenFlags,
    ) -> Result<(Attr, WindowsFile)> {
        let attributes = if perm & 0o222 == 0 { FILE_ATTRIBUTE_READONLY } else { FILE_ATTRIBUTE_NORMAL };
        let access = io_access(flags) | NODE_ACCESS;
        let handle = Self::create_child(dir, name, access, FILE_NON_DIRECTORY_FILE, attributes)?;
        // The attributes of the very file made, from its own handle.
        let attr = stat_handle(handle.as_handle())?;
        Ok((attr, WindowsFile { handle: Arc::new(handle), append: flags.append }))
    }

    fn file_node(&self, file: &WindowsFile) -> Result<WindowsNode> {
        Ok(file.node())
    }

    fn set_len(&self, file: &WindowsFile, size: u64) -> Result<()> {
        self.set_attr(&file.node(), &SetAttr { size: Some(size), ..SetAttr::default() }).map(|_| ())
    }

    fn read(&self, file: &WindowsFile, offset: u64, buf: &mut [u8]) -> Result<usize> {
        sys::read_at(file.handle.as_handle(), offset, buf)
    }

    fn write(&self, file: &WindowsFile, offset: u64, data: &[u8]) -> Result<usize> {
        let at = if file.append { None } else { Some(offset) };
        sys::write_at(file.handle.as_handle(), at, data)
    }

    fn mkdir(&self, dir: &WindowsNode, name: &Name, _perm: u32) -> Result<WindowsNode> {
        let handle = Self::create_child(dir, name, NODE_ACCESS, FILE_DIRECTORY_FILE, FILE_ATTRIBUTE_NORMAL)?;
        Ok(WindowsNode(Arc::new(handle)))
    }

    fn mknod(&self, _: &WindowsNode, _: &Name, _: FileKind, _: u32, _: u64) -> Result<WindowsNode> {
        Err(Error::NotSupported)
    }

    fn symlink(&self, _: &WindowsNode, _: &Name, _: &[u8]) -> Result<WindowsNode> {
        Err(Error::NotSupported)
    }

    fn link(&self, _: &WindowsNode, _: &WindowsNode, _: &Name) -> Result<WindowsNode> {
        Err(Error::NotSupported)
    }

    fn unlink(&self, dir: &WindowsNode, name: &Name) -> Result<()> {
        self.remove(dir, name, false)
    }

    fn rmdir(&self, dir: &WindowsNode, name: &Name) -> Result<()> {
        self.remove(dir, name, true)
    }

    fn rename(
        &self,
        dir: &WindowsNode,
        name: &Name,
        new_dir: &WindowsNode,
        new_name: &Name,
        flags: RenameFlags,
    ) -> Result<()> {
        if flags.exchange {
            return Err(Error::NotSupported);
        }
        let handle = Self::open_child(dir, name, DELETE | FILE_READ_ATTRIBUTES | SYNCHRONIZE, 0)?;
        let target = wide::wide_of_name(new_name)?;
        match sys::rename(handle.as_handle(), new_dir.handle(), &target, !flags.no_replace) {
            Err(Error::Os(s)) if s == code::OBJECT_NAME_COLLISION => Err(Error::Exists),
            other => other,
        }
    }

    fn readlink(&self, node: &WindowsNode) -> Result<Vec<u8>> {
        sys::reparse_data(node.handle())
    }

    fn statfs(&self, node: &WindowsNode) -> Result<StatFs> {
        let full: FILE_FS_FULL_SIZE_INFORMATION =
            sys::query_volume(node.handle(), FileFsFullSizeInformation)?;
        let unit = full.SectorsPerAllocationUnit.saturating_mul(full.BytesPerSector);
        let count = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(StatFs {
            blocks: count(full.TotalAllocationUnits),
            bfree: count(full.ActualAvailableAllocationUnits),
            bavail: count(full.CallerAvailableAllocationUnits),
            files: 0,
            ffree: 0,
            bsize: unit,
            frsize: unit,
            namelen: 255,
        })
    }

    fn get_xattr(&self, _: &WindowsNode, _: &[u8]) -> Result<Vec<u8>> {
        Err(Error::NotSupported)
    }

    fn list_xattr(&self, _: &WindowsNode) -> Result<Vec<Vec<u8>>> {
        Ok(Vec::new())
    }

    fn set_xattr(&self, _: &WindowsNode, _: &[u8], _: &[u8], _: XattrMode) -> Result<()> {
        Err(Error::NotSupported)
    }

    fn remove_xattr(&self, _: &WindowsNode, _: &[u8]) -> Result<()> {
        Err(Error::NotSupported)
    }

    fn get_security(&self, node: &WindowsNode) -> Result<Vec<u8>> {
        let parts = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION;
        sys::query_security(node.handle(), parts)
    }

    fn set_security(&self, node: &WindowsNode, parts: u32, descriptor: &[u8]) -> Result<()> {
        let mut access = SYNCHRONIZE;
        if parts & (OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION) != 0 {
            access |= WRITE_OWNER;
        }
        if parts & DACL_SECURITY_INFORMATION != 0 {
            access |= WRITE_DAC;
        }
        if parts & SACL_SECURITY_INFORMATION != 0 {
            access |= ACCESS_SYSTEM_SECURITY;
        }
        let handle = Self::reopen(node.handle(), access, 0)?;
        sys::set_security(handle.as_handle(), parts, descriptor)
    }
}

/// Unused-constant guard: reading data is part of `FILE_GENERIC_READ`.
const _: () = assert!(FILE_GENERIC_READ & FILE_READ_DATA != 0);

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::info::{IO_REPARSE_TAG_MOUNT_POINT, IO_REPARSE_TAG_SYMLINK};

    // WOF, dedup, a cloud placeholder, HSM, a third party's tag: their filters' own data.
    const DATA_TAGS: [u32; 5] = [0x8000_0017, 0x8000_0013, 0x9000_001A, 0xC000_0004, 0x0000_0FFF];

    #[test]
    fn only_reparse_points_that_name_no_other_object_open_through_their_filter() {
        let reparse = FILE_ATTRIBUTE_REPARSE_POINT;
        for tag in DATA_TAGS {
            assert!(data_through_filter(reparse, tag), "{tag:#x}");
            assert!(data_through_filter(reparse | FILE_ATTRIBUTE_DIRECTORY, tag), "{tag:#x}");
        }
        // Name surrogates are opened as themselves, never followed: a symlink, a junction, and
        // one that is not a link either (a container's WCI link).
        for tag in [IO_REPARSE_TAG_SYMLINK, IO_REPARSE_TAG_MOUNT_POINT, 0xA000_0027] {
            assert!(!data_through_filter(reparse, tag), "{tag:#x}");
        }
        // Without the reparse-point attribute the tag is meaningless (a listing's EaSize).
        assert!(!data_through_filter(FILE_ATTRIBUTE_NORMAL, 0x8000_0017));
    }

    #[test]
    fn only_symlinks_and_junctions_are_links() {
        let reparse = FILE_ATTRIBUTE_REPARSE_POINT;
        let dir = FILE_ATTRIBUTE_DIRECTORY;
        assert_eq!(kind_of(reparse, IO_REPARSE_TAG_SYMLINK), FileKind::Symlink);
        assert_eq!(kind_of(reparse | dir, IO_REPARSE_TAG_SYMLINK), FileKind::Symlink);
        assert_eq!(kind_of(reparse | dir, IO_REPARSE_TAG_MOUNT_POINT), FileKind::Symlink);
        for tag in DATA_TAGS {
            assert_eq!(kind_of(reparse, tag), FileKind::File, "{tag:#x}");
            assert_eq!(kind_of(reparse | dir, tag), FileKind::Dir, "{tag:#x}");
        }
        assert_eq!(kind_of(reparse | dir, 0xA000_0027), FileKind::Dir);
        assert_eq!(kind_of(FILE_ATTRIBUTE_NORMAL, IO_REPARSE_TAG_SYMLINK), FileKind::File);
    }

    #[test]
    fn the_same_object_check_tells_two_objects_apart() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let a1 = std::fs::File::open(&a).unwrap();
        let a2 = std::fs::File::open(&a).unwrap();
        let b1 = std::fs::File::open(&b).unwrap();
        assert!(same_object(a1.as_handle(), a2.as_handle()).unwrap());
        // Another object, as a link followed by the second open would be.
        assert!(!same_object(a1.as_handle(), b1.as_handle()).unwrap());
        // The same object under another name is the same object.
        let c = dir.path().join("c");
        std::fs::hard_link(&a, &c).unwrap();
        let c1 = std::fs::File::open(&c).unwrap();
        assert!(same_object(a1.as_handle(), c1.as_handle()).unwrap());
        // A node's reopen for data (a plain file: no filter) is its own object, and its data.
        let node = WindowsNode(Arc::new(OwnedHandle::from(std::fs::File::open(&b).unwrap())));
        let file = WindowsBacking::reopen(node.handle(), io_access(OpenFlags::READ), 0).unwrap();
        assert!(same_object(node.handle(), file.as_handle()).unwrap());
        let mut buf = [0u8; 4];
        assert_eq!(sys::read_at(file.as_handle(), 0, &mut buf).unwrap(), 1);
        assert_eq!(&buf[..1], b"b");
    }

    #[test]
    fn the_reopen_through_a_filter_refuses_reparse_points_yet_opens_plain_objects() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), "data").unwrap();
        let root = {
            use std::os::windows::fs::OpenOptionsExt;
            const FILE_FLAG_BACKUP_SEMANTICS: u32 = 0x0200_0000; // a directory's handle
            let opened = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(FILE_FLAG_BACKUP_SEMANTICS)
                .open(dir.path());
            OwnedHandle::from(opened.unwrap())
        };
        let file = OwnedHandle::from(std::fs::File::open(dir.path().join("f")).unwrap());
        // The reopen's form: relative to the object, no name, OBJ_DONT_REPARSE (and every open
        // asks for identification-only quality of service).
        let reopened = sys::open(&OpenRequest {
            root: Some(file.as_handle()),
            name: &[],
            access: io_access(OpenFlags::READ) | FILE_READ_ATTRIBUTES,
            disposition: FILE_OPEN,
            options: FILE_SYNCHRONOUS_IO_NONALERT | FILE_OPEN_FOR_BACKUP_INTENT,
            attributes: 0,
            security: None,
            refuse_reparse: true,
        })
        .unwrap();
        assert!(same_object(file.as_handle(), reopened.as_handle()).unwrap());
        let mut buf = [0u8; 8];
        assert_eq!(sys::read_at(reopened.as_handle(), 0, &mut buf).unwrap(), 4);
        // A data open by name takes the same path when nothing needs the filter.
        let by_name = open_in_tree(
            root.as_handle(),
            &"f".encode_utf16().collect::<Vec<u16>>(),
            io_access(OpenFlags::READ),
            0,
        );
        assert_eq!(sys::read_at(by_name.unwrap().as_handle(), 0, &mut buf).unwrap(), 4);
    }

    #[test]
    fn a_plain_objects_attributes_carry_no_reparse_tag() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "f").unwrap();
        let handle = OwnedHandle::from(std::fs::File::open(&file).unwrap());
        let attr = stat_handle(handle.as_handle()).unwrap();
        assert_eq!((attr.kind, attr.reparse_tag), (FileKind::File, 0));
    }
}
