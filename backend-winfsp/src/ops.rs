//! The WinFsp file system's logic, over plain types: what each WinFsp callback
//! does, as functions that take UTF-16 names (`&[u16]`), flag words (`u32`), byte buffers and
//! descriptors, and answer plain structs or an NTSTATUS (`Err(i32)`).
//!
//! `crate::sys::fsp` fills WinFsp's interface: each callback converts WinFsp's raw pointers and
//! calls one of these; tests call these the way WinFsp's DLL calls the callbacks (see
//! `tests/adapter.rs`), and the callbacks themselves (`tests/glue.rs`). Directory pages are
//! written by WinFsp's own `FspFileSystemAddDirInfo` (through winfsp-rs's `DirInfo`).
//!
//! Choices:
//! - An open handle ([`OpenHandle`]) wraps the core's [`bindfs_core::Handle`]: the object
//!   opened (a file's own handle for I/O, attributes, size, security, reparse data and
//!   deletion: rule 18, and what ntptfs does) and its virtual path, and adds a directory's
//!   layers ([`bindfs_core::OpenDir`]) for listings. Every call on it goes through the core,
//!   which acts on the object, never on what its old name shows after an ancestor's rename,
//!   and decides what it may change (rule 13) and remove, with the errors a call by name gets.
//! - The normalized name of every open is the view's canonical path (rule 21): the virtual
//!   name, spelled as the view holds it, never the backing's.
//! - Security descriptors are the backing's (rule 22). A directory the view synthesizes has
//!   none in any store and shows a fixed one: read and traverse for everyone, full control for
//!   SYSTEM and Administrators (the `0555` the core gives it).
//! - Deletion as ntptfs does it: `set_delete` sets the delete disposition on a handle to the
//!   object itself (so a sharing conflict or a refusal is the caller's error then, not a log
//!   line at cleanup), and `cleanup` with the delete flag closes that handle.
//! - Owners as NTFS allows them, though the store writes with the service's privileges
//!   ([`crate::owner`]): `SetSecurity` and `Create` refuse an owner the caller's token does
//!   not allow with `STATUS_INVALID_OWNER`. The token is only there during the Create request
//!   of an open or a create, so `open` and `create` take the caller (read only when the access
//!   granted includes `WRITE_OWNER`, or a created entry's descriptor names an owner) and the
//!   handle keeps what it may set; see [`Ops::open`] for what "no caller" means.
//! - Reparse lookups by name answer `STATUS_NOT_A_REPARSE_POINT` for anything that is not a
//!   link: that is the one answer on which WinFsp goes on to the next path component.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;

use bindfs_core::{
    Attr, Backing, Error, FileKind, Handle, OpenDir, OpenFlags, RenameFlags, SetAttr, VPath, View, win_attr,
};
use parking_lot::Mutex;
use winfsp::filesystem::{DirInfo, WideNameInfo};

use crate::backing::{DeleteHandle, WindowsBacking, WindowsFile, WindowsNode};
use crate::dirlist::{SortedListing, matches};
use crate::info::{self, FILE_ATTRIBUTE_READONLY, WinFileInfo};
use crate::owner::{Caller, Owner, owner_of};
use crate::status::{code, ntstatus_of};
use crate::{sys, wide};

/// What an operation answers: a value or the NTSTATUS WinFsp passes on.
pub type NtResult<T> = Result<T, i32>;

fn nt<T>(r: bindfs_core::Result<T>) -> NtResult<T> {
    r.map_err(|e| ntstatus_of(&e))
}

// Create options and access bits WinFsp passes (ntifs.h, winnt.h).
/// `FILE_DIRECTORY_FILE` create option.
pub const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
/// `FILE_DELETE_ON_CLOSE` create option.
pub const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
/// `FILE_READ_DATA` access.
pub const FILE_READ_DATA: u32 = 0x0001;
/// `FILE_WRITE_DATA` access.
pub const FILE_WRITE_DATA: u32 = 0x0002;
/// `FILE_APPEND_DATA` access.
pub const FILE_APPEND_DATA: u32 = 0x0004;
/// `FILE_EXECUTE` access.
pub const FILE_EXECUTE: u32 = 0x0020;
/// `FspCleanupDelete`: the last cleanup of a file marked for deletion.
pub const CLEANUP_DELETE: u32 = 0x01;
/// `STATUS_END_OF_FILE`.
pub const END_OF_FILE: i32 = 0xC000_0011_u32 as i32;
/// `STATUS_BUFFER_TOO_SMALL`: what ntptfs answers for reparse data that does not fit.
pub const BUFFER_TOO_SMALL: i32 = 0xC000_0023_u32 as i32;
/// `WRITE_OWNER` access: the right to set the owner (and primary group).
pub const WRITE_OWNER: u32 = 0x0008_0000;
/// `OWNER_SECURITY_INFORMATION`: the owner part of a descriptor.
pub const OWNER_SECURITY_INFORMATION: u32 = 0x1;

/// The descriptor of directories the view synthesizes (see the module docs).
const SYNTHETIC_SDDL: &str = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FRFX;;;WD)";

/// An open file or directory.
#[derive(Debug)]
pub struct OpenHandle {
    /// The core's handle: the object opened (a file's own handle), its virtual path, and what
    /// the view lets be done with it.
    entry: Handle<WindowsBacking>,
    /// A directory's layers, for listings (`None` for files).
    dir: Option<OpenDir<WindowsNode>>,
    /// The listing being paged, taken at the first page.
    listing: Mutex<Option<Arc<SortedListing<Attr>>>>,
    /// Whom `SetSecurity` may make the owner through this handle.
    owners: Owners,
}

/// Whom a caller may make the owner of a file.
#[derive(Debug)]
enum Owners {
    /// Anyone: a kernel-mode caller (the kernel does not check its requests).
    Any,
    /// No one: a handle not granted `WRITE_OWNER`. The I/O manager sends no owner change for it
    /// from user mode, and its caller is never read (so ordinary opens pay nothing); a
    /// kernel-mode caller that skipped the handle's access would be refused too.
    Nobody,
    /// What the caller's token allowed when it opened (boxed: most handles have none).
    Token(Box<Caller>),
}

impl Owners {
    /// `caller` as read for a Create: `None` is a kernel-mode caller.
    fn of(caller: Option<Caller>) -> Owners {
        caller.map_or(Owners::Any, |c| Owners::Token(Box::new(c)))
    }

    /// Whether `owner` may be set as the owner of an existing file. An owner that is absent or
    /// unreadable is refused here, unless the store is left to answer (a kernel-mode caller,
    /// or one with restore enabled).
    fn may_set(&self, owner: Owner<'_>) -> bool {
        match (self, owner) {
            (Owners::Any, _) => true,
            (Owners::Nobody, _) => false,
            (Owners::Token(caller), Owner::Sid(sid)) => caller.may_own(sid),
            (Owners::Token(caller), _) => caller.restore(),
        }
    }

    /// Whether a new entry may get the descriptor whose owner is `owner`: with none, the
    /// creator's default applies.
    fn may_create(&self, owner: Owner<'_>) -> bool {
        owner == Owner::Absent || self.may_set(owner)
    }
}

impl OpenHandle {
    /// The virtual path it is open at now.
    pub fn path(&self) -> VPath {
        self.entry.path()
    }

    /// Whether it is a directory.
    pub fn is_dir(&self) -> bool {
        self.dir.is_some()
    }

    /// A file's own handle, for I/O.
    fn file(&self) -> NtResult<&WindowsFile> {
        nt(self.entry.file())
    }
}

/// What an open or a create answers.
#[derive(Debug)]
pub struct Opened {
    /// The handle WinFsp keeps as the file context.
    pub handle: OpenHandle,
    /// The file information of what was opened.
    pub info: WinFileInfo,
    /// The normalized name (rule 21), when the view can spell it.
    pub normalized_name: Option<Vec<u16>>,
}

/// What `GetSecurityByName` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByName {
    /// The name shows: its attributes, and the length of its descriptor (copied into the
    /// buffer when one was given).
    Found {
        /// `FILE_ATTRIBUTE_*`.
        attributes: u32,
        /// Bytes of the security descriptor.
        descriptor_len: usize,
    },
    /// The descriptor does not fit the buffer: the callback answers `STATUS_BUFFER_OVERFLOW`
    /// with `needed` as the size, and WinFsp's DLL asks again with a buffer that big.
    TooSmall {
        /// Bytes of the security descriptor.
        needed: usize,
    },
    /// The view has nothing at the name: it may lead through a link inside a backing tree,
    /// which WinFsp looks for (a reparse point on the way); `status` if there is none.
    Unresolved {
        /// The NTSTATUS when no reparse point is on the way.
        status: i32,
    },
}

/// The file system's logic: a view over a Windows backing store.
#[derive(Debug)]
pub struct Ops {
    view: Arc<View<WindowsBacking>>,
    /// Security descriptor of synthesized directories.
    synthetic_security: Vec<u8>,
    /// The handles holding a delete disposition, by the name WinFsp marked (upcased): WinFsp
    /// keeps one file node per name, whose delete-pending state any of its handles may set or
    /// clear, and sends the delete to whichever handle cleans up last.
    pending: Mutex<HashMap<Vec<u16>, DeleteHandle>>,
}

/// The key of a name in [`Ops::pending`]: WinFsp's file nodes are case-insensitive.
fn pending_key(path: &VPath) -> NtResult<Vec<u16>> {
    Ok(nt(wide::wide_of_vpath(path))?.into_iter().map(crate::dirlist::upcase).collect())
}

/// Copies `src` into `dst`; false when it does not fit.
fn copy_into(dst: &mut [u8], src: &[u8]) -> bool {
    match dst.get_mut(..src.len()) {
        Some(out) => {
            out.copy_from_slice(src);
            true
        }
        None => false,
    }
}

impl Ops {
    /// The logic serving `view`.
    pub fn new(view: Arc<View<WindowsBacking>>) -> bindfs_core::Result<Ops> {
        Ok(Ops {
            view,
            synthetic_security: sys::descriptor_from_sddl(SYNTHETIC_SDDL)?,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The view served.
    pub fn view(&self) -> &View<WindowsBacking> {
        &self.view
    }

    fn path_of(name: &[u16]) -> NtResult<VPath> {
        nt(wide::vpath_of_wide(name))
    }

    /// The attributes the handle's entry shows now, read from its own object.
    fn attr_of(&self, handle: &OpenHandle) -> bindfs_core::Result<Attr> {
        self.view.handle_attr(&handle.entry)
    }

    fn info_of(&self, handle: &OpenHandle) -> NtResult<WinFileInfo> {
        Ok(info::win_file_info(&nt(self.attr_of(handle))?))
    }

    /// A descriptor as shown; never empty: WinFsp reads a descriptor of size 0 as "no
    /// security" and grants every access, which would drop B's permissions (rule 22).
    fn shown_security(&self, descriptor: Option<Vec<u8>>) -> NtResult<Vec<u8>> {
        let descriptor = descriptor.unwrap_or_else(|| self.synthetic_security.clone());
        if descriptor.is_empty() {
            return Err(code::ACCESS_DENIED);
        }
        Ok(descriptor)
    }

    /// Opens what `path` shows: a file's handle for I/O, or a directory's object and layers.
    fn open_path(&self, path: VPath, access: u32) -> NtResult<(OpenHandle, Attr)> {
        let held = nt(self.view.hold(&path))?;
        if held.opened_attr().kind == FileKind::Dir {
            let dir = nt(self.view.open_dir(&path))?;
            let attr = *held.opened_attr();
            return Ok((open_handle(held, Some(dir)), attr));
        }
        let entry = nt(self.view.open(&path, open_flags(access)))?;
        let attr = *entry.opened_attr();
        Ok((open_handle(entry, None), attr))
    }

    /// The answer of an open or a create: file information and the normalized name (rule 21).
    fn opened(&self, handle: OpenHandle, attr: &Attr) -> Opened {
        let path = handle.path();
        let upcased = |name: &[u16]| name.iter().map(|&u| crate::dirlist::upcase(u)).collect::<Vec<u16>>();
        let asked = wide::wide_of_vpath(&path).ok();
        // WinFsp refuses an open whose normalized name differs from the name asked for beyond
        // case (STATUS_OBJECT_NAME_INVALID), as when a short 8.3 name was asked for: then the
        // name stays as asked.
        let normalized_name = self
            .view
            .canonical_path(&path)
            .ok()
            .and_then(|p| wide::wide_of_vpath(&p).ok())
            .filter(|name| asked.as_deref().is_some_and(|asked| upcased(asked) == upcased(name)));
        Opened { handle, info: info::win_file_info(attr), normalized_name }
    }

    /// `GetSecurityByName`: the attributes and descriptor of `name`, the descriptor copied into
    /// `buffer` (WinFsp offers 1 KiB first).
    pub fn get_security_by_name(&self, name: &[u16], buffer: Option<&mut [u8]>) -> NtResult<ByName> {
        let path = Self::path_of(name)?;
        let found = match self.view.lookup(&path) {
            Ok(found) => found,
            // A path through a link inside a backing tree: the kernel resolves the link.
            Err(e @ (Error::NotFound | Error::NotDir)) => {
                return Ok(ByName::Unresolved { status: ntstatus_of(&e) });
            }
            Err(e) => return Err(ntstatus_of(&e)),
        };
        let descriptor = match &found.node {
            Some(node) => Some(nt(self.view.backing().get_security(node))?),
            None => None,
        };
        let descriptor = self.shown_security(descriptor)?;
        if let Some(buffer) = buffer {
            if !copy_into(buffer, &descriptor) {
                return Ok(ByName::TooSmall { needed: descriptor.len() });
            }
        }
        Ok(ByName::Found { attributes: info::attributes_of(&found.attr), descriptor_len: descriptor.len() })
    }

    /// `Open`. `caller` reads who is calling (see `sys::request_caller`), only when the access
    /// granted includes `WRITE_OWNER`: `None` for a kernel-mode caller, whose owner changes
    /// are not checked (tests that do not care about owners pass `|| None` too), else what its
    /// token lets it make owner ([`Caller::nobody`] when that could not be read).
    pub fn open(
        &self,
        name: &[u16],
        create_options: u32,
        granted_access: u32,
        caller: impl FnOnce() -> Option<Caller>,
    ) -> NtResult<Opened> {
        let path = Self::path_of(name)?;
        // WinFsp does not call set_delete for FILE_DELETE_ON_CLOSE: refuse now what cleanup
        // could not (WinFsp itself refuses read-only files, not directories), and take the
        // handle that deletes now, where a sharing conflict refuses the open as NTFS does.
        let delete_on_close = create_options & FILE_DELETE_ON_CLOSE != 0;
        let (mut handle, attr) = self.open_path(path.clone(), granted_access)?;
        if granted_access & WRITE_OWNER != 0 {
            handle.owners = Owners::of(caller());
        }
        if delete_on_close {
            let node = nt(self.view.handle_check_remove(&handle.entry, &path))?;
            let deleting = nt(self.view.backing().open_for_delete(node))?;
            self.pending.lock().insert(pending_key(&path)?, deleting);
        }
        Ok(self.opened(handle, &attr))
    }

    /// `Create`: one store call makes the file with `descriptor` (what WinFsp computed for the
    /// caller) and opens it with the access granted, so a file created read-only can still be
    /// written through this handle (as `CopyFile` does). A descriptor whose owner `caller` (as
    /// in [`Ops::open`]) may not set is refused, as NTFS refuses it, before anything is made.
    pub fn create(
        &self,
        name: &[u16],
        create_options: u32,
        granted_access: u32,
        file_attributes: u32,
        descriptor: Option<&[u8]>,
        caller: impl FnOnce() -> Option<Caller>,
    ) -> NtResult<Opened> {
        let path = Self::path_of(name)?;
        let owner = descriptor.map_or(Owner::Absent, owner_of);
        let owners = if granted_access & WRITE_OWNER != 0 || owner != Owner::Absent {
            Owners::of(caller())
        } else {
            Owners::Nobody
        };
        if !owners.may_create(owner) {
            return Err(code::INVALID_OWNER);
        }
        let read_only = file_attributes & FILE_ATTRIBUTE_READONLY != 0;
        // The descriptor goes into the creating call itself: the entry never exists with the
        // security it would inherit.
        let backing = self.view.backing();
        let Some(leaf) = path.file_name().cloned() else { return Err(code::OBJECT_NAME_COLLISION) };
        let (mut handle, attr) = if create_options & FILE_DIRECTORY_FILE != 0 {
            nt(backing
                .creating_with(&leaf, true, descriptor, file_attributes, || self.view.mkdir(&path, 0o777)))?;
            self.open_path(path, granted_access)?
        } else {
            let perm = if read_only { 0o444 } else { 0o666 };
            let flags = open_flags(granted_access);
            let (attr, entry) = nt(backing.creating_with(&leaf, false, descriptor, file_attributes, || {
                self.view.create(&path, perm, flags)
            }))?;
            (open_handle(entry, None), attr)
        };
        if granted_access & WRITE_OWNER != 0 {
            handle.owners = owners;
        }
        Ok(self.opened(handle, &attr))
    }

    /// `Overwrite`: truncates, and sets (`replace`) or adds the attributes (read-only, hidden,
    /// system, archive, temporary).
    pub fn overwrite(
        &self,
        handle: &OpenHandle,
        file_attributes: u32,
        replace: bool,
    ) -> NtResult<WinFileInfo> {
        let current = nt(self.attr_of(handle))?;
        let mut changes = SetAttr { size: Some(0), ..SetAttr::default() };
        let read_only = file_attributes & FILE_ATTRIBUTE_READONLY != 0;
        if read_only || replace {
            changes.perm = info::basic_info_changes(&current, file_attributes, 0, 0, 0).perm;
        }
        let asked = file_attributes & win_attr::SETTABLE;
        let had = current.win_attributes & win_attr::SETTABLE;
        let bits = if replace { asked } else { had | asked };
        if bits != had {
            changes.win_attributes = Some(bits);
        }
        Ok(info::win_file_info(&nt(self.view.handle_set_attr(&handle.entry, &changes))?))
    }

    /// `Cleanup` of the handle open as `name` (the name WinFsp gives, which follows renames;
    /// the handle's own path without it): with [`CLEANUP_DELETE`], the entry the name marked
    /// for deletion goes. What goes is the object `set_delete` (or a delete-on-close open)
    /// marked, never this handle's own object as such: after a link change two handles of one
    /// name may hold different objects (rules 18, 20), and the last to clean up is not always
    /// the one that deleted.
    pub fn cleanup(&self, handle: &OpenHandle, name: Option<&[u16]>, flags: u32) {
        if flags & CLEANUP_DELETE == 0 {
            return;
        }
        let path = name.and_then(|n| Self::path_of(n).ok()).unwrap_or_else(|| handle.path());
        let marked = pending_key(&path).ok().and_then(|key| self.pending.lock().remove(&key));
        let deleted = match marked {
            // Closing the handle that holds the disposition deletes.
            Some(deleting) => deleting.set(true),
            // Marked without SetDelete (WinFsp's own fast path): what the name shows now goes,
            // through the view, which applies the rules.
            None if handle.is_dir() => self.view.rmdir(&path),
            None => self.view.unlink(&path),
        };
        if let Err(e) = deleted {
            tracing::warn!(path = %path, error = %e, "delete on close failed");
        }
    }

    /// `Flush`: the file's data to disk, and its information (nothing for the volume).
    pub fn flush(&self, handle: Option<&OpenHandle>) -> NtResult<Option<WinFileInfo>> {
        let Some(handle) = handle else { return Ok(None) };
        if let Ok(file) = handle.entry.file() {
            nt(file.flush())?;
        }
        Ok(Some(self.info_of(handle)?))
    }

    /// `GetFileInfo`.
    pub fn get_file_info(&self, handle: &OpenHandle) -> NtResult<WinFileInfo> {
        self.info_of(handle)
    }

    /// `GetSecurity`: the descriptor of the open object into `buffer`; its length.
    pub fn get_security(&self, handle: &OpenHandle, buffer: Option<&mut [u8]>) -> NtResult<usize> {
        let descriptor = match handle.entry.node() {
            Some(node) => Some(nt(self.view.backing().get_security_all(node))?),
            None => None,
        };
        let descriptor = self.shown_security(descriptor)?;
        if let Some(buffer) = buffer {
            if !copy_into(buffer, &descriptor) {
                return Err(code::BUFFER_OVERFLOW);
            }
        }
        Ok(descriptor.len())
    }

    /// `SetSecurity`: the parts `security_information` of `descriptor` onto the open object;
    /// an owner the handle's caller may not set is refused with `STATUS_INVALID_OWNER`, as NTFS
    /// refuses it (the store would write it with the service's privileges).
    pub fn set_security(
        &self,
        handle: &OpenHandle,
        security_information: u32,
        descriptor: &[u8],
    ) -> NtResult<()> {
        if security_information & OWNER_SECURITY_INFORMATION != 0
            && !handle.owners.may_set(owner_of(descriptor))
        {
            return Err(code::INVALID_OWNER);
        }
        nt(self.view.handle_set_security(&handle.entry, security_information, descriptor))
    }

    /// `ReadDirectory`: the entries after `marker` that match `pattern`, written into `buffer`
    /// by WinFsp's `FspFileSystemAddDirInfo`; the bytes written.
    pub fn read_directory(
        &self,
        handle: &OpenHandle,
        pattern: Option<&[u16]>,
        marker: Option<&[u16]>,
        buffer: &mut [u8],
    ) -> NtResult<u32> {
        let listing = nt(self.listing(handle, marker.is_none()))?;
        let mut cursor = 0u32;
        let mut entry: DirInfo = DirInfo::new();
        for item in listing.after(marker) {
            if pattern.is_some_and(|p| !matches(p, &item.name)) {
                continue;
            }
            entry.reset();
            fill(entry.file_info_mut(), &info::win_file_info(&item.item));
            entry.set_name_raw(item.name.as_slice()).map_err(|e| e.to_ntstatus())?;
            if !entry.append_to_buffer(buffer, &mut cursor) {
                return Ok(cursor); // full: WinFsp asks again after the last name it got
            }
        }
        DirInfo::<255>::finalize_buffer(buffer, &mut cursor);
        Ok(cursor)
    }

    /// The sorted listing of an open directory, taken now when `fresh` or not yet taken.
    fn listing(&self, handle: &OpenHandle, fresh: bool) -> bindfs_core::Result<Arc<SortedListing<Attr>>> {
        if !fresh {
            if let Some(l) = handle.listing.lock().as_ref() {
                return Ok(Arc::clone(l));
            }
        }
        let Some(dir) = &handle.dir else { return Err(Error::NotDir) };
        let path = handle.path();
        let listing = self.view.list_open(dir)?;
        let mut items = Vec::with_capacity(listing.entries.len());
        for i in 0..listing.entries.len() {
            let Some(entry) = self.view.listed(&listing, i)? else { continue };
            // A name whose lookup fails (a looping link) still shows, as a dangling link does.
            let attr = entry.attr.unwrap_or_else(|| bindfs_core::report::unresolved(entry.entry.kind));
            items.push((wide::wide_of_name(&entry.entry.name)?, attr));
        }
        let dots = match path.parent() {
            // An open directory lists even when its parent no longer resolves (its link went,
            // rule 18): `..` then shows the directory's own attributes.
            Some(parent) => {
                let own = self.attr_of(handle)?;
                let up = self.view.getattr(&parent).unwrap_or(own);
                Some((own, up))
            }
            None => None,
        };
        let sorted = Arc::new(SortedListing::new(items, dots));
        *handle.listing.lock() = Some(Arc::clone(&sorted));
        Ok(sorted)
    }

    /// `Rename` of the entry open as `handle` from `name` to `new_name` (the core decides
    /// where it lands, rule 12).
    pub fn rename(&self, handle: &OpenHandle, name: &[u16], new_name: &[u16], replace: bool) -> NtResult<()> {
        let from = Self::path_of(name)?;
        let to = Self::path_of(new_name)?;
        // Windows never replaces a directory (MoveFileEx answers access denied, as ntptfs does
        // for a rename without POSIX semantics); the core, POSIX-minded, would replace an empty
        // one. A change of case alone is not a replacement.
        if replace && !from.same(&to, self.view.policy()) {
            if let Ok(target) = self.view.getattr(&to) {
                if target.kind == FileKind::Dir {
                    return Err(code::ACCESS_DENIED);
                }
            }
        }
        let flags = RenameFlags { no_replace: !replace, exchange: false };
        nt(self.view.rename_handle(&handle.entry, &from, &to, flags))
    }

    /// `SetBasicInfo`: `file_attributes` is `INVALID_FILE_ATTRIBUTES` for "leave them", and 0
    /// for "none" (WinFsp strips `FILE_ATTRIBUTE_NORMAL`); a time of 0 leaves it.
    pub fn set_basic_info(
        &self,
        handle: &OpenHandle,
        file_attributes: u32,
        creation_time: u64,
        last_access_time: u64,
        last_write_time: u64,
    ) -> NtResult<WinFileInfo> {
        let current = nt(self.attr_of(handle))?;
        let changes = info::basic_info_changes(
            &current,
            file_attributes,
            creation_time,
            last_access_time,
            last_write_time,
        );
        if changes.is_empty() {
            return Ok(info::win_file_info(&current));
        }
        Ok(info::win_file_info(&nt(self.view.handle_set_attr(&handle.entry, &changes))?))
    }

    /// `SetDelete`: marks (or unmarks) the entry for deletion at its last cleanup, on a handle
    /// to the object itself, refusing now what the deletion would refuse.
    pub fn set_delete(&self, handle: &OpenHandle, name: &[u16], delete: bool) -> NtResult<()> {
        // By the name WinFsp gives (it follows renames of ancestors).
        let path = Self::path_of(name).unwrap_or_else(|_| handle.path());
        let key = pending_key(&path)?;
        // The map is locked only to take or put a mark, never across a call to the store.
        if !delete {
            // Any handle of the name may take the mark back.
            let Some(d) = self.pending.lock().remove(&key) else { return Ok(()) };
            if let Err(e) = d.set(false) {
                // Still marked: keep it where the last cleanup looks, rather than let it go
                // (closing it would delete now).
                self.pending.lock().insert(key, d);
                return Err(ntstatus_of(&e));
            }
            return Ok(());
        }
        let node = nt(self.view.handle_check_remove(&handle.entry, &path))?;
        let d = nt(self.view.backing().open_for_delete(node))?;
        nt(d.set(true))?;
        // A mark another handle of the name left on another object (a link changed between
        // them) is taken back: one name, one entry to delete.
        let old = self.pending.lock().insert(key, d);
        if let Some(Err(e)) = old.map(|old| old.set(false)) {
            tracing::warn!(path = %path, error = %e, "an earlier delete mark of this name could not be taken back");
        }
        Ok(())
    }

    /// `SetFileSize`: the end of file, or the allocation (which only matters when it cuts the
    /// file short).
    pub fn set_file_size(
        &self,
        handle: &OpenHandle,
        new_size: u64,
        allocation: bool,
    ) -> NtResult<WinFileInfo> {
        let current = nt(self.attr_of(handle))?;
        if allocation && new_size >= current.size {
            return Ok(info::win_file_info(&current));
        }
        let changes = SetAttr { size: Some(new_size), ..SetAttr::default() };
        Ok(info::win_file_info(&nt(self.view.handle_set_attr(&handle.entry, &changes))?))
    }

    /// `Read`: bytes read at `offset`; `STATUS_END_OF_FILE` at or past the end.
    pub fn read(&self, handle: &OpenHandle, buffer: &mut [u8], offset: u64) -> NtResult<u32> {
        let n = nt(self.view.read(&handle.entry, offset, buffer))?;
        if n == 0 && !buffer.is_empty() {
            return Err(END_OF_FILE);
        }
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// `Write`: at `offset`, at the end (`write_to_eof`), or, for paging I/O (`constrained`),
    /// never past the end of the file; the bytes written and the file's information.
    pub fn write(
        &self,
        handle: &OpenHandle,
        buffer: &[u8],
        offset: u64,
        write_to_eof: bool,
        constrained: bool,
    ) -> NtResult<(u32, WinFileInfo)> {
        let file = handle.file()?;
        let n = if write_to_eof && !constrained {
            nt(file.write_at_end(buffer))?
        } else if constrained {
            let size = nt(self.attr_of(handle))?.size;
            if offset >= size {
                return Ok((0, self.info_of(handle)?));
            }
            let room = usize::try_from(size - offset).unwrap_or(usize::MAX);
            nt(self.view.write(&handle.entry, offset, &buffer[..buffer.len().min(room)]))?
        } else {
            nt(self.view.write(&handle.entry, offset, buffer))?
        };
        Ok((u32::try_from(n).unwrap_or(u32::MAX), self.info_of(handle)?))
    }

    /// `GetVolumeInfo`: total and free bytes.
    pub fn get_volume_info(&self) -> NtResult<(u64, u64)> {
        let fs = nt(self.view.statfs(&VPath::root()))?;
        let unit = u64::from(fs.frsize);
        Ok((fs.blocks.saturating_mul(unit), fs.bavail.saturating_mul(unit)))
    }

    /// `GetReparsePoint` of the open entry: its reparse data, unchanged (rule 24), into
    /// `buffer`; the bytes written.
    pub fn get_reparse_point(&self, handle: &OpenHandle, buffer: &mut [u8]) -> NtResult<usize> {
        match (handle.entry.file(), handle.entry.node()) {
            (Ok(_), Some(node)) => self.copy_reparse(node, buffer),
            _ => Err(code::NOT_A_REPARSE_POINT),
        }
    }

    /// `GetReparsePointByName`, as WinFsp's `FspFileSystemFindReparsePoint` and
    /// `FspFileSystemResolveReparsePoints` call it on each component of a path.
    pub fn get_reparse_point_by_name(&self, name: &[u16], buffer: &mut [u8]) -> NtResult<usize> {
        let found = nt(self.view.lookup(&Self::path_of(name)?))?;
        match found.node {
            Some(node) if found.attr.kind == FileKind::Symlink => self.copy_reparse(&node, buffer),
            _ => Err(code::NOT_A_REPARSE_POINT),
        }
    }

    /// A link's reparse data, unchanged (rule 24), into WinFsp's buffer.
    fn copy_reparse(&self, node: &WindowsNode, buffer: &mut [u8]) -> NtResult<usize> {
        let data = match self.view.backing().readlink(node) {
            Ok(data) => data,
            Err(Error::InvalidArgument) => return Err(code::NOT_A_REPARSE_POINT),
            Err(e) => return Err(ntstatus_of(&e)),
        };
        if !copy_into(buffer, &data) {
            return Err(BUFFER_TOO_SMALL);
        }
        Ok(data.len())
    }
}

/// The open flags for the access WinFsp granted.
fn open_flags(access: u32) -> OpenFlags {
    let write = access & (FILE_WRITE_DATA | FILE_APPEND_DATA) != 0;
    OpenFlags {
        // Executing and mapping an image read the file through this handle (paging reads).
        read: access & (FILE_READ_DATA | FILE_EXECUTE) != 0,
        write,
        truncate: false,
        append: write && access & FILE_WRITE_DATA == 0,
        raw: 0,
    }
}

fn open_handle(entry: Handle<WindowsBacking>, dir: Option<OpenDir<WindowsNode>>) -> OpenHandle {
    OpenHandle { entry, dir, listing: Mutex::new(None), owners: Owners::Nobody }
}

/// The file information of a directory entry (`DirInfo`) for `w`.
fn fill(out: &mut winfsp::filesystem::FileInfo, w: &WinFileInfo) {
    out.file_attributes = w.file_attributes;
    out.reparse_tag = w.reparse_tag;
    out.allocation_size = w.allocation_size;
    out.file_size = w.file_size;
    out.creation_time = w.creation_time;
    out.last_access_time = w.last_access_time;
    out.last_write_time = w.last_write_time;
    out.change_time = w.change_time;
    out.index_number = w.index_number;
    out.hard_links = 0;
    out.ea_size = 0;
}
