//! The WinFsp file system: `winfsp::filesystem::FileSystemContext` over the core's operations
//! layer ([`View`]).
//!
//! Thin by design: each request is decoded (UTF-16 path to [`VPath`], [`crate::wide`]), handed to
//! the view, and the answer encoded ([`crate::info`], [`crate::status`]). No rule lives here.
//!
//! Choices:
//! - An open handle ([`OpenHandle`]) keeps what it opened: the file's own handle for I/O and
//!   attributes (rule 18), the directory's layers ([`bindfs_core::OpenDir`]) for listings, and
//!   its virtual path for calls that change things, which go through the view by path so the
//!   core applies the rules (read-only, rule 13; where a rename lands, rule 12).
//! - The normalized name of every open is the view's canonical path (rule 21): the virtual
//!   name, spelled as the view holds it, never the backing's.
//! - Security descriptors are the backing's (rule 22). A directory the view synthesizes has
//!   none in any store and shows a fixed one: read and traverse for everyone, full control for
//!   SYSTEM and Administrators (the `0555` the core gives it). A file created through the view
//!   gets the descriptor WinFsp computed for the caller (owner: the caller), applied right after
//!   creation.
//! - Deletion is decided at `set_delete` (can it go?) and done at `cleanup`, as WinFsp asks.
//! - A descriptor larger than the buffer WinFsp offers is refused with
//!   `STATUS_INSUFFICIENT_RESOURCES`: winfsp-rs 0.13 cannot hand the needed size back.
#![forbid(unsafe_code)]

use std::ffi::c_void;
use std::sync::Arc;

use bindfs_core::{Attr, Backing, Error, FileKind, OpenDir, OpenFlags, RenameFlags, SetAttr, VPath, View};
use parking_lot::Mutex;
use winfsp::U16CStr;
use winfsp::filesystem::{
    DirInfo, DirMarker, FileInfo, FileSecurity, FileSystemContext, ModificationDescriptor, OpenFileInfo,
    VolumeInfo, WideNameInfo,
};

use crate::backing::{
    DACL_SECURITY_INFORMATION as DACL, GROUP_SECURITY_INFORMATION, OWNER_SECURITY_INFORMATION,
    WindowsBacking, WindowsFile, WindowsNode,
};
use crate::dirlist::{SortedListing, matches};
use crate::info::{self, FILE_ATTRIBUTE_READONLY};
use crate::status::{code, ntstatus_of};
use crate::{sys, wide};

/// What winfsp returns.
type FspResult<T> = winfsp::Result<T>;

fn fail(e: &Error) -> winfsp::FspError {
    winfsp::FspError::NTSTATUS(ntstatus_of(e))
}

fn status(code: i32) -> winfsp::FspError {
    winfsp::FspError::NTSTATUS(code)
}

/// Runs a view call and turns its error into the NTSTATUS the caller sees.
fn nt<T>(r: bindfs_core::Result<T>) -> FspResult<T> {
    r.map_err(|e| fail(&e))
}

// Create options and access bits WinFsp passes (ntifs.h, winnt.h).
const FILE_DIRECTORY_FILE: u32 = 0x0000_0001;
const FILE_READ_DATA: u32 = 0x0001;
const FILE_WRITE_DATA: u32 = 0x0002;
const FILE_APPEND_DATA: u32 = 0x0004;
const FILE_EXECUTE: u32 = 0x0020;
/// `FILE_DELETE_ON_CLOSE` create option.
const FILE_DELETE_ON_CLOSE: u32 = 0x0000_1000;
/// Owner, group and DACL: what a descriptor computed for a new file carries.
const OWNER_GROUP_DACL: u32 = OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL;
/// `FspCleanupDelete`.
const CLEANUP_DELETE: u32 = 0x01;

/// The descriptor of directories the view synthesizes (see the module docs).
const SYNTHETIC_SDDL: &str = "O:SYG:SYD:P(A;;FA;;;SY)(A;;FA;;;BA)(A;;FRFX;;;WD)";

/// An open file or directory.
#[derive(Debug)]
pub struct OpenHandle {
    /// The virtual path it was opened at (moved by a rename through this handle).
    path: Mutex<VPath>,
    /// A file's own handle (files and links).
    file: Option<WindowsFile>,
    /// A directory's node and layers (`None` for files, and a synthesized directory's node).
    dir: Option<(Option<WindowsNode>, OpenDir<WindowsNode>)>,
    /// Whether the entry may be changed through the view.
    writable: bool,
    /// The listing being paged, taken at the first page.
    listing: Mutex<Option<Arc<SortedListing<Attr>>>>,
}

impl OpenHandle {
    fn path(&self) -> VPath {
        self.path.lock().clone()
    }
}

/// The file system WinFsp serves: a view over a Windows backing store.
#[derive(Debug)]
pub struct BindFs {
    view: Arc<View<WindowsBacking>>,
    /// Security descriptor of synthesized directories.
    synthetic_security: Vec<u8>,
}

impl BindFs {
    /// A file system serving `view`.
    pub fn new(view: Arc<View<WindowsBacking>>) -> bindfs_core::Result<BindFs> {
        Ok(BindFs { view, synthetic_security: sys::descriptor_from_sddl(SYNTHETIC_SDDL)? })
    }

    fn path_of(name: &U16CStr) -> FspResult<VPath> {
        nt(wide::vpath_of_wide(name.as_slice()))
    }

    /// The attributes the handle's entry shows now.
    fn attr_of(&self, handle: &OpenHandle) -> bindfs_core::Result<Attr> {
        match (&handle.file, &handle.dir) {
            (Some(file), _) => Ok(bindfs_core::report::attr(file.stat()?, handle.writable)),
            (None, Some((Some(node), _))) => {
                Ok(bindfs_core::report::attr(self.view.backing().stat(node)?, handle.writable))
            }
            _ => self.view.getattr(&handle.path()),
        }
    }

    /// The descriptor shown for `path`; never empty: WinFsp reads a descriptor of size 0 as "no
    /// security" and grants every access, which would drop B's permissions (rule 22).
    fn security_of(&self, path: &VPath) -> bindfs_core::Result<Vec<u8>> {
        let descriptor = self.view.get_security(path)?.unwrap_or_else(|| self.synthetic_security.clone());
        if descriptor.is_empty() {
            return Err(Error::Os(code::ACCESS_DENIED));
        }
        Ok(descriptor)
    }

    /// Refuses what a deletion of `path` would refuse for any content: the root, a directory
    /// the view synthesizes, an entry of a read-only link (rule 13).
    fn check_deletable(&self, path: &VPath) -> FspResult<bindfs_core::Found<WindowsNode>> {
        let found = nt(self.view.lookup(path))?;
        if !found.writable || found.node.is_none() || path.is_root() {
            return Err(fail(&Error::ReadOnly));
        }
        Ok(found)
    }

    /// Opens what `path` shows: a file's handle for I/O, or a directory's layers.
    fn open_path(&self, path: VPath, access: u32) -> FspResult<(OpenHandle, Attr)> {
        let found = nt(self.view.lookup(&path))?;
        if found.attr.kind == FileKind::Dir {
            let dir = nt(self.view.open_dir(&path))?;
            let handle = OpenHandle {
                path: Mutex::new(path),
                file: None,
                dir: Some((found.node, dir)),
                writable: found.writable,
                listing: Mutex::new(None),
            };
            return Ok((handle, found.attr));
        }
        let write = access & (FILE_WRITE_DATA | FILE_APPEND_DATA) != 0;
        let flags = OpenFlags {
            // Executing and mapping an image read the file through this handle (paging reads).
            read: access & (FILE_READ_DATA | FILE_EXECUTE) != 0,
            write,
            truncate: false,
            append: write && access & FILE_WRITE_DATA == 0,
            raw: 0,
        };
        let (file, attr, writable) = nt(self.view.open_entry(&path, flags))?;
        let handle = OpenHandle {
            path: Mutex::new(path),
            file: Some(file),
            dir: None,
            writable,
            listing: Mutex::new(None),
        };
        Ok((handle, attr))
    }

    /// Fills the answer of an open or create: attributes and the normalized name (rule 21).
    fn answer(&self, path: &VPath, attr: &Attr, out: &mut OpenFileInfo) {
        fill(out.as_mut(), attr);
        let canonical = self.view.canonical_path(path).ok().and_then(|p| wide::wide_of_vpath(&p).ok());
        if let Some(name) = canonical {
            // WinFsp's buffer holds the name it was given; a longer one is not reported.
            if name.len() * 2 <= usize::from(out.normalized_name_size()) {
                out.set_normalized_name(&name, None);
            }
        }
    }

    /// The sorted listing of an open directory, taken now when `fresh` or not yet taken.
    fn listing(&self, handle: &OpenHandle, fresh: bool) -> bindfs_core::Result<Arc<SortedListing<Attr>>> {
        if !fresh {
            if let Some(l) = handle.listing.lock().as_ref() {
                return Ok(Arc::clone(l));
            }
        }
        let Some((_, dir)) = &handle.dir else { return Err(Error::NotDir) };
        let path = handle.path();
        let listing = self.view.list_open(dir)?;
        let mut items = Vec::with_capacity(listing.entries.len());
        for i in 0..listing.entries.len() {
            let Some(entry) = self.view.listed(&listing, i)? else { continue };
            // A name whose lookup fails (a looping link) still shows, as a dangling link does.
            let attr = entry.attr.unwrap_or_else(|| {
                let mut a = bindfs_core::report::synthetic_dir(bindfs_core::Timestamp::default());
                a.kind = entry.entry.kind;
                a
            });
            items.push((wide::wide_of_name(&entry.entry.name)?, attr));
        }
        let dots = match path.parent() {
            Some(parent) => Some((self.attr_of(handle)?, self.view.getattr(&parent)?)),
            None => None,
        };
        let sorted = Arc::new(SortedListing::new(items, dots));
        *handle.listing.lock() = Some(Arc::clone(&sorted));
        Ok(sorted)
    }
}

/// WinFsp's file information for what the core shows.
fn fill(out: &mut FileInfo, attr: &Attr) {
    let w = info::win_file_info(attr);
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

impl FileSystemContext for BindFs {
    type FileContext = OpenHandle;

    fn get_security_by_name(
        &self,
        file_name: &U16CStr,
        security_descriptor: Option<&mut [c_void]>,
        reparse_point_resolver: impl FnOnce(&U16CStr) -> Option<FileSecurity>,
    ) -> FspResult<FileSecurity> {
        let path = Self::path_of(file_name)?;
        let found = match self.view.lookup(&path) {
            Ok(found) => found,
            // A path through a link inside a backing tree: the kernel resolves the link.
            Err(e @ (Error::NotFound | Error::NotDir)) => {
                return reparse_point_resolver(file_name).ok_or_else(|| fail(&e));
            }
            Err(e) => return Err(fail(&e)),
        };
        let descriptor = nt(self.security_of(&path))?;
        if let Some(buffer) = security_descriptor {
            if !sys::fill_buffer(buffer, &descriptor) {
                return Err(status(code::INSUFFICIENT_RESOURCES));
            }
        }
        Ok(FileSecurity {
            reparse: false,
            sz_security_descriptor: descriptor.len() as u64,
            attributes: info::attributes_of(&found.attr),
        })
    }

    fn open(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_info: &mut OpenFileInfo,
    ) -> FspResult<OpenHandle> {
        let path = Self::path_of(file_name)?;
        // WinFsp does not call set_delete for FILE_DELETE_ON_CLOSE: refuse now what cleanup
        // could only log (WinFsp itself refuses read-only files, not directories).
        if create_options & FILE_DELETE_ON_CLOSE != 0 {
            self.check_deletable(&path)?;
        }
        let (handle, attr) = self.open_path(path.clone(), granted_access)?;
        self.answer(&path, &attr, file_info);
        Ok(handle)
    }

    fn close(&self, _context: OpenHandle) {}

    fn create(
        &self,
        file_name: &U16CStr,
        create_options: u32,
        granted_access: u32,
        file_attributes: u32,
        security_descriptor: Option<&[c_void]>,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        _extra_buffer_is_reparse_point: bool,
        file_info: &mut OpenFileInfo,
    ) -> FspResult<OpenHandle> {
        let path = Self::path_of(file_name)?;
        let read_only = file_attributes & FILE_ATTRIBUTE_READONLY != 0;
        if create_options & FILE_DIRECTORY_FILE != 0 {
            nt(self.view.mkdir(&path, 0o777))?;
        } else {
            let perm = if read_only { 0o444 } else { 0o666 };
            let (_, file) = nt(self.view.create(&path, perm, OpenFlags::READ))?;
            drop(file); // reopened below with the access granted
        }
        if let Some(descriptor) = security_descriptor {
            let bytes = sys::descriptor_bytes(descriptor.as_ptr().cast_mut());
            // Setting another user as owner needs SeRestorePrivilege, which the service may not
            // hold enabled: then keep at least the DACL WinFsp computed for the caller (its
            // CREATOR OWNER entries name the caller, not the service).
            let applied = self
                .view
                .set_security(&path, OWNER_GROUP_DACL, &bytes)
                .or_else(|_| self.view.set_security(&path, DACL, &bytes));
            if let Err(e) = applied {
                tracing::warn!(path = %path, error = %e, "created entry keeps its inherited security");
            }
        }
        let (handle, attr) = self.open_path(path.clone(), granted_access)?;
        self.answer(&path, &attr, file_info);
        Ok(handle)
    }

    fn cleanup(&self, context: &OpenHandle, file_name: Option<&U16CStr>, flags: u32) {
        if flags & CLEANUP_DELETE == 0 {
            return;
        }
        // WinFsp sends the name the file has now (it follows renames of any ancestor, which
        // the handle's own path does not); the handle's path is the fallback.
        let path = file_name.and_then(|n| Self::path_of(n).ok()).unwrap_or_else(|| context.path());
        let removed = if context.dir.is_some() { self.view.rmdir(&path) } else { self.view.unlink(&path) };
        if let Err(e) = removed {
            tracing::warn!(path = %path, error = %e, "delete on close failed");
        }
    }

    fn flush(&self, context: Option<&OpenHandle>, file_info: &mut FileInfo) -> FspResult<()> {
        if let Some(handle) = context {
            fill(file_info, &nt(self.attr_of(handle))?);
        }
        Ok(())
    }

    fn get_file_info(&self, context: &OpenHandle, file_info: &mut FileInfo) -> FspResult<()> {
        fill(file_info, &nt(self.attr_of(context))?);
        Ok(())
    }

    fn get_security(
        &self,
        context: &OpenHandle,
        security_descriptor: Option<&mut [c_void]>,
    ) -> FspResult<u64> {
        let descriptor = nt(self.security_of(&context.path()))?;
        if let Some(buffer) = security_descriptor {
            if !sys::fill_buffer(buffer, &descriptor) {
                return Err(status(code::INSUFFICIENT_RESOURCES));
            }
        }
        Ok(descriptor.len() as u64)
    }

    fn set_security(
        &self,
        context: &OpenHandle,
        security_information: u32,
        modification_descriptor: ModificationDescriptor,
    ) -> FspResult<()> {
        let bytes = sys::descriptor_bytes(modification_descriptor.as_mut_ptr());
        nt(self.view.set_security(&context.path(), security_information, &bytes))
    }

    fn overwrite(
        &self,
        context: &OpenHandle,
        file_attributes: u32,
        replace_file_attributes: bool,
        _allocation_size: u64,
        _extra_buffer: Option<&[u8]>,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        let path = context.path();
        let current = nt(self.attr_of(context))?;
        let mut changes = SetAttr { size: Some(0), ..SetAttr::default() };
        // Replacing sets exactly the given attributes; otherwise they are added.
        let read_only = file_attributes & FILE_ATTRIBUTE_READONLY != 0;
        if read_only || replace_file_attributes {
            changes.perm = info::basic_info_changes(current.perm, file_attributes | 0x80, 0, 0).perm;
        }
        let attr = nt(self.view.setattr(&path, &changes))?;
        fill(file_info, &attr);
        Ok(())
    }

    fn read_directory(
        &self,
        context: &OpenHandle,
        pattern: Option<&U16CStr>,
        marker: DirMarker,
        buffer: &mut [u8],
    ) -> FspResult<u32> {
        let listing = nt(self.listing(context, marker.is_none()))?;
        let pattern = pattern.map(U16CStr::as_slice);
        let mut cursor = 0u32;
        let mut entry: DirInfo = DirInfo::new();
        for item in listing.after(marker.inner()) {
            if pattern.is_some_and(|p| !matches(p, &item.name)) {
                continue;
            }
            entry.reset();
            fill(entry.file_info_mut(), &item.item);
            entry.set_name_raw(item.name.as_slice())?;
            if !entry.append_to_buffer(buffer, &mut cursor) {
                return Ok(cursor); // full: WinFsp asks again after the last name it got
            }
        }
        DirInfo::<255>::finalize_buffer(buffer, &mut cursor);
        Ok(cursor)
    }

    fn rename(
        &self,
        context: &OpenHandle,
        file_name: &U16CStr,
        new_file_name: &U16CStr,
        replace_if_exists: bool,
    ) -> FspResult<()> {
        let from = Self::path_of(file_name)?;
        let to = Self::path_of(new_file_name)?;
        let flags = RenameFlags { no_replace: !replace_if_exists, exchange: false };
        nt(self.view.rename(&from, &to, flags))?;
        *context.path.lock() = to;
        Ok(())
    }

    fn set_basic_info(
        &self,
        context: &OpenHandle,
        file_attributes: u32,
        _creation_time: u64,
        last_access_time: u64,
        last_write_time: u64,
        _last_change_time: u64,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        let current = nt(self.attr_of(context))?;
        let changes =
            info::basic_info_changes(current.perm, file_attributes, last_access_time, last_write_time);
        let attr =
            if changes.is_empty() { current } else { nt(self.view.setattr(&context.path(), &changes))? };
        fill(file_info, &attr);
        Ok(())
    }

    fn set_delete(&self, context: &OpenHandle, file_name: &U16CStr, delete_file: bool) -> FspResult<()> {
        if !delete_file {
            return Ok(());
        }
        // Refuse now what the removal at cleanup would refuse; by the name WinFsp gives (it
        // follows renames of ancestors).
        let path = Self::path_of(file_name).unwrap_or_else(|_| context.path());
        let found = self.check_deletable(&path)?;
        if found.attr.kind == FileKind::Dir && !nt(self.view.readdir(&path))?.is_empty() {
            return Err(fail(&Error::NotEmpty));
        }
        Ok(())
    }

    fn set_file_size(
        &self,
        context: &OpenHandle,
        new_size: u64,
        set_allocation_size: bool,
        file_info: &mut FileInfo,
    ) -> FspResult<()> {
        let current = nt(self.attr_of(context))?;
        // The allocation size only matters when it cuts the file short.
        let attr = if set_allocation_size && new_size >= current.size {
            current
        } else {
            nt(self.view.setattr(&context.path(), &SetAttr { size: Some(new_size), ..SetAttr::default() }))?
        };
        fill(file_info, &attr);
        Ok(())
    }

    fn read(&self, context: &OpenHandle, buffer: &mut [u8], offset: u64) -> FspResult<u32> {
        let Some(file) = &context.file else { return Err(fail(&Error::IsDir)) };
        let n = nt(self.view.read(file, offset, buffer))?;
        if n == 0 && !buffer.is_empty() {
            return Err(status(0xC000_0011_u32 as i32)); // STATUS_END_OF_FILE
        }
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn write(
        &self,
        context: &OpenHandle,
        buffer: &[u8],
        offset: u64,
        write_to_eof: bool,
        constrained_io: bool,
        file_info: &mut FileInfo,
    ) -> FspResult<u32> {
        let Some(file) = &context.file else { return Err(fail(&Error::IsDir)) };
        let size = nt(file.stat())?.size;
        let (at, data) = if constrained_io {
            // Paging I/O: never past the end of the file.
            if offset >= size {
                fill(file_info, &nt(self.attr_of(context))?);
                return Ok(0);
            }
            let room = usize::try_from(size - offset).unwrap_or(usize::MAX);
            (offset, &buffer[..buffer.len().min(room)])
        } else if write_to_eof {
            (size, buffer)
        } else {
            (offset, buffer)
        };
        let n = nt(self.view.write(file, at, data))?;
        fill(file_info, &nt(self.attr_of(context))?);
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    fn get_volume_info(&self, out_volume_info: &mut VolumeInfo) -> FspResult<()> {
        let fs = nt(self.view.statfs(&VPath::root()))?;
        out_volume_info.total_size = fs.blocks.saturating_mul(u64::from(fs.frsize));
        out_volume_info.free_size = fs.bavail.saturating_mul(u64::from(fs.frsize));
        out_volume_info.set_volume_label("bindfs");
        Ok(())
    }

    fn get_reparse_point(
        &self,
        context: &OpenHandle,
        _file_name: &U16CStr,
        buffer: &mut [u8],
    ) -> FspResult<u64> {
        let data = nt(self.view.readlink(&context.path()))?;
        copy_reparse(&data, buffer)
    }

    fn get_reparse_point_by_name(
        &self,
        file_name: &U16CStr,
        _is_directory: bool,
        buffer: &mut [u8],
    ) -> FspResult<u64> {
        let data = nt(self.view.readlink(&Self::path_of(file_name)?))?;
        copy_reparse(&data, buffer)
    }
}

/// A link's reparse data, unchanged (rule 24), into WinFsp's buffer.
fn copy_reparse(data: &[u8], buffer: &mut [u8]) -> FspResult<u64> {
    let Some(out) = buffer.get_mut(..data.len()) else { return Err(status(code::BUFFER_OVERFLOW)) };
    out.copy_from_slice(data);
    Ok(data.len() as u64)
}
