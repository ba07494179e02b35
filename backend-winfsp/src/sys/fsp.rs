//! The WinFsp interface, filled here: one `extern "C"` function per callback WinFsp calls,
//! each turning WinFsp's raw pointers into plain values for one [`Ops`] call and writing the
//! answer back; and [`Volume`], the `FSP_FILE_SYSTEM` those callbacks serve.
//!
//! Why not winfsp-rs's `FileSystemHost`: its `GetSecurityByName` glue (0.13) writes the
//! descriptor size back only on success. WinFsp's DLL (`FspGetSecurityByName`, `security.c`)
//! offers a 1 KiB buffer and grows it only when told `STATUS_BUFFER_OVERFLOW` *with* the size
//! it needs, so a file whose descriptor is over 1 KiB could not be opened at all. winfsp-rs
//! keeps its `FSP_FILE_SYSTEM` pointer and its interface builder private, so the one callback
//! cannot be replaced from outside; hence the whole interface here, over `winfsp-sys`. What
//! winfsp-rs still does for us: loading the DLL (`winfsp_init`, in `host`), `U16CStr` for the
//! names WinFsp passes, and `DirInfo` in [`crate::ops`] (a safe wrapper of the real
//! `FspFileSystemAddDirInfo`, which it still fits). Its `VolumeParams` keeps the
//! `FSP_FSCTL_VOLUME_PARAMS` it builds crate-private, so `host` sets winfsp-sys's own struct.
//!
//! The contract each function relies on is WinFsp's, documented in `winfsp.h` (and on the
//! `FSP_FILE_SYSTEM_INTERFACE` fields of winfsp-sys): the file system object is the one
//! [`Volume`] made, whose `UserContext` is the [`Ops`] it owns; a file context is the
//! `Box<OpenHandle>` that `Open`/`Create` handed out, until `Close`; names are NUL-terminated
//! UTF-16; a buffer and its length (or the size behind a `PSIZE_T`) describe memory WinFsp
//! lends for this call only; output pointers are valid for this call unless documented as
//! "may be NULL". No callback lets a panic unwind into WinFsp: [`guarded`] turns it into
//! `STATUS_INTERNAL_ERROR`.

use std::ffi::OsStr;
use std::os::windows::ffi::OsStrExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr::{self, NonNull};

use windows::Win32::Security::{GetSecurityDescriptorLength, PSECURITY_DESCRIPTOR as WinDescriptor};
use winfsp::U16CStr;
use winfsp_sys::{
    BOOLEAN, FSP_FILE_SYSTEM, FSP_FILE_SYSTEM_INTERFACE,
    FSP_FILE_SYSTEM_OPERATION_GUARD_STRATEGY_FSP_FILE_SYSTEM_OPERATION_GUARD_STRATEGY_FINE as GUARD_FINE,
    FSP_FSCTL_FILE_INFO, FSP_FSCTL_OPEN_FILE_INFO, FSP_FSCTL_VOLUME_INFO, FSP_FSCTL_VOLUME_PARAMS,
    FspFileSystemCreate, FspFileSystemDelete, FspFileSystemFindReparsePoint, FspFileSystemRemoveMountPoint,
    FspFileSystemResolveReparsePoints, FspFileSystemSetMountPoint, FspFileSystemSetOperationGuardStrategyF,
    FspFileSystemStartDispatcher, FspFileSystemStopDispatcher, NTSTATUS, PIO_STATUS_BLOCK,
    PSECURITY_DESCRIPTOR, PSIZE_T, PUINT32, PULONG, PVOID, PWSTR, SECURITY_INFORMATION, SIZE_T, UINT32,
    UINT64, ULONG,
};

use crate::info::WinFileInfo;
use crate::ops::{ByName, NtResult, OpenHandle, Opened, Ops};
use crate::status::code;

/// `STATUS_SUCCESS`.
const SUCCESS: NTSTATUS = 0;
/// `STATUS_REPARSE`: the name leads through a reparse point, whose index goes back.
const REPARSE: NTSTATUS = 0x0000_0104;
/// `STATUS_INTERNAL_ERROR`: what a callback that panicked answers.
pub const INTERNAL_ERROR: NTSTATUS = 0xC000_00E5_u32 as i32;
/// The largest reparse data buffer (`MAXIMUM_REPARSE_DATA_BUFFER_SIZE`), for by-name lookups
/// WinFsp makes without a buffer.
const REPARSE_DATA_MAX: usize = 16 * 1024;
/// The label the volume shows.
const VOLUME_LABEL: &str = "bindfs";

// The callbacks share the file system and its open handles across WinFsp's dispatcher threads.
const _: () = {
    const fn shared<T: Send + Sync>() {}
    shared::<Ops>();
    shared::<OpenHandle>();
};

/// Who allocated the `FSP_FILE_SYSTEM`, so [`Volume`]'s drop frees it the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// `FspFileSystemCreate` (a real volume): `FspFileSystemDelete` frees it.
    WinFsp,
    /// [`Volume::unmounted`]: a `Box` of ours, never handed to the driver.
    Ours,
}

/// A WinFsp file system object serving an [`Ops`]: created, mounted and dispatched through
/// WinFsp, and torn down in that order's reverse when dropped.
#[derive(Debug)]
pub struct Volume {
    /// The file system object; valid until drop.
    fs: NonNull<FSP_FILE_SYSTEM>,
    /// Its `UserContext`, owned here and freed after the object is gone.
    ops: NonNull<Ops>,
    origin: Origin,
    dispatching: bool,
}

impl Volume {
    /// Creates the volume (`FspFileSystemCreate`: it needs WinFsp's driver) with `params`,
    /// serving `ops`; on the `WinFsp.Net` device when `params` has a UNC prefix, else
    /// `WinFsp.Disk`. The error is WinFsp's NTSTATUS.
    pub fn create(params: &FSP_FSCTL_VOLUME_PARAMS, ops: Ops) -> Result<Volume, NTSTATUS> {
        let device = if params.Prefix[0] != 0 { "WinFsp.Net" } else { "WinFsp.Disk" };
        let mut device = wide_z(OsStr::new(device));
        let mut raw: *mut FSP_FILE_SYSTEM = ptr::null_mut();
        // SAFETY: `device` is NUL-terminated and lives through the call; `params` is a whole
        // FSP_FSCTL_VOLUME_PARAMS that WinFsp only reads; INTERFACE is 'static, as WinFsp keeps
        // the pointer for the object's life; `raw` receives the new object.
        let status = unsafe { FspFileSystemCreate(device.as_mut_ptr(), params, &INTERFACE, &mut raw) };
        let Some(fs) = NonNull::new(raw).filter(|_| status >= 0) else {
            return Err(if status < 0 { status } else { INTERNAL_ERROR });
        };
        let ops = NonNull::from(Box::leak(Box::new(ops)));
        // SAFETY: `fs` is the object WinFsp just created and nothing else uses yet (no
        // dispatcher runs); the guard strategy must be set before the dispatcher starts.
        unsafe {
            (*fs.as_ptr()).UserContext = ops.as_ptr().cast();
            FspFileSystemSetOperationGuardStrategyF(fs.as_ptr(), GUARD_FINE);
        }
        Ok(Volume { fs, ops, origin: Origin::WinFsp, dispatching: false })
    }

    /// A file system object built in our own memory, never mounted (no driver needed): for
    /// tests that call WinFsp's DLL helpers (`FspAccessCheckEx`, `FspFileSystemAddDirInfo`...)
    /// and the interface's callbacks through [`Volume::raw`], as the dispatcher would.
    #[doc(hidden)]
    pub fn unmounted(ops: Ops) -> Volume {
        let ops = NonNull::from(Box::leak(Box::new(ops)));
        let mut object = Box::new(FSP_FILE_SYSTEM::default());
        object.Version = size_of::<FSP_FILE_SYSTEM>() as u16;
        object.UserContext = ops.as_ptr().cast();
        object.Interface = &INTERFACE;
        object.OpGuardStrategy = GUARD_FINE;
        // As `host` declares real volumes: the file context travels in UserContext2.
        object.UmFileContextIsUserContext2 = 1;
        let fs = NonNull::from(Box::leak(object));
        Volume { fs, ops, origin: Origin::Ours, dispatching: false }
    }

    /// The file system object, for tests that call into WinFsp's DLL with it.
    #[doc(hidden)]
    pub fn raw(&self) -> *mut FSP_FILE_SYSTEM {
        self.fs.as_ptr()
    }

    /// What the volume serves.
    pub fn ops(&self) -> &Ops {
        // SAFETY: `ops` is owned by this Volume and freed only in its drop.
        unsafe { self.ops.as_ref() }
    }

    /// Mounts at `point` (`X:` or a directory that does not exist yet).
    pub fn mount(&mut self, point: &OsStr) -> Result<(), NTSTATUS> {
        let mut point = wide_z(point);
        // SAFETY: `fs` is valid (see the field); `point` is NUL-terminated and WinFsp copies
        // it (FspFileSystemRemoveMountPoint frees its own copy).
        let status = unsafe { FspFileSystemSetMountPoint(self.fs.as_ptr(), point.as_mut_ptr()) };
        if status < 0 { Err(status) } else { Ok(()) }
    }

    /// Removes the mount point; nothing when there is none.
    pub fn unmount(&mut self) {
        if self.origin == Origin::WinFsp {
            // SAFETY: `fs` is a WinFsp-created object; WinFsp documents the call as safe when
            // no mount point is set.
            unsafe { FspFileSystemRemoveMountPoint(self.fs.as_ptr()) };
        }
    }

    /// Starts WinFsp's dispatcher with `threads` threads (0: WinFsp's default).
    pub fn start(&mut self, threads: u32) -> Result<(), NTSTATUS> {
        if self.origin != Origin::WinFsp {
            return Err(code::INVALID_PARAMETER);
        }
        // SAFETY: `fs` is a WinFsp-created object with its interface and UserContext set.
        let status = unsafe { FspFileSystemStartDispatcher(self.fs.as_ptr(), threads) };
        if status < 0 {
            return Err(status);
        }
        self.dispatching = true;
        Ok(())
    }

    /// Stops the dispatcher (waits for the callbacks running to return).
    pub fn stop(&mut self) {
        if self.dispatching {
            // SAFETY: `fs` is valid and its dispatcher was started.
            unsafe { FspFileSystemStopDispatcher(self.fs.as_ptr()) };
            self.dispatching = false;
        }
    }
}

impl Drop for Volume {
    fn drop(&mut self) {
        // No callback runs after the dispatcher stopped: then the object and the Ops it serves
        // can go. Open handles WinFsp never closed are left to the process's end.
        self.stop();
        self.unmount();
        match self.origin {
            // SAFETY: created by FspFileSystemCreate, deleted once, here.
            Origin::WinFsp => unsafe { FspFileSystemDelete(self.fs.as_ptr()) },
            // SAFETY: leaked from a Box in `unmounted`, reclaimed once, here.
            Origin::Ours => drop(unsafe { Box::from_raw(self.fs.as_ptr()) }),
        }
        // SAFETY: leaked from a Box at construction; nothing refers to it any more.
        drop(unsafe { Box::from_raw(self.ops.as_ptr()) });
    }
}

/// `s` as UTF-16 with a terminating NUL.
fn wide_z(s: &OsStr) -> Vec<u16> {
    s.encode_wide().chain([0]).collect()
}

/// The operations WinFsp calls; `None` for what the view does not do (EAs, streams, setting
/// reparse points, volume labels, device controls), which WinFsp answers itself.
static INTERFACE: FSP_FILE_SYSTEM_INTERFACE = FSP_FILE_SYSTEM_INTERFACE {
    GetVolumeInfo: Some(get_volume_info),
    SetVolumeLabelW: None,
    GetSecurityByName: Some(get_security_by_name),
    Create: Some(create),
    Open: Some(open),
    Overwrite: Some(overwrite),
    Cleanup: Some(cleanup),
    Close: Some(close),
    Read: Some(read),
    Write: Some(write),
    Flush: Some(flush),
    GetFileInfo: Some(get_file_info),
    SetBasicInfo: Some(set_basic_info),
    SetFileSize: Some(set_file_size),
    CanDelete: None,
    Rename: Some(rename),
    GetSecurity: Some(get_security),
    SetSecurity: Some(set_security),
    ReadDirectory: Some(read_directory),
    ResolveReparsePoints: Some(resolve_reparse_points),
    GetReparsePoint: Some(get_reparse_point),
    SetReparsePoint: None,
    DeleteReparsePoint: None,
    GetStreamInfo: None,
    GetDirInfoByName: None,
    Control: None,
    SetDelete: Some(set_delete),
    CreateEx: None,
    OverwriteEx: None,
    GetEa: None,
    SetEa: None,
    Obsolete0: None,
    DispatcherStopped: None,
    Reserved: [None; 31],
};

/// Runs one callback's body: its status, or [`INTERNAL_ERROR`] if it panicked (a panic must
/// not unwind into WinFsp's C frames).
fn guarded(body: impl FnOnce() -> NtResult<NTSTATUS>) -> NTSTATUS {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(status) | Err(status)) => status,
        Err(_) => {
            tracing::error!("a WinFsp callback panicked; answering STATUS_INTERNAL_ERROR");
            INTERNAL_ERROR
        }
    }
}

/// [`guarded`] for a body whose success is `STATUS_SUCCESS`.
fn done(body: impl FnOnce() -> NtResult<()>) -> NTSTATUS {
    guarded(|| body().map(|()| SUCCESS))
}

/// The [`Ops`] a file system object serves.
///
/// # Safety
/// `fs` is an object made by [`Volume`] (whose `UserContext` is its `Ops`), alive for `'a`:
/// WinFsp passes it to every callback and does not call any after the dispatcher stopped.
unsafe fn ops_of<'a>(fs: *mut FSP_FILE_SYSTEM) -> NtResult<&'a Ops> {
    // SAFETY: per the contract above.
    let context = unsafe { fs.as_ref() }.ok_or(code::INVALID_PARAMETER)?.UserContext;
    // SAFETY: the UserContext of a Volume's object is its live Ops.
    unsafe { context.cast::<Ops>().as_ref() }.ok_or(code::INVALID_PARAMETER)
}

/// The open handle behind a file context.
///
/// # Safety
/// `context` is null or a file context from [`open`]/[`create`] that WinFsp has not closed:
/// WinFsp passes it to calls on that file only until `Close`.
unsafe fn handle_of<'a>(context: PVOID) -> NtResult<&'a OpenHandle> {
    // SAFETY: per the contract above, a Box<OpenHandle> leaked by `hand_out`.
    unsafe { context.cast::<OpenHandle>().as_ref() }.ok_or(code::INVALID_HANDLE)
}

/// A name WinFsp passes, without its NUL.
///
/// # Safety
/// `name` is null or a NUL-terminated UTF-16 string valid for `'a` (WinFsp's request buffer,
/// for the callback's duration).
unsafe fn name_of<'a>(name: PWSTR) -> Option<&'a [u16]> {
    // SAFETY: per the contract above.
    (!name.is_null()).then(|| unsafe { U16CStr::from_ptr_str(name) }.as_slice())
}

/// A buffer WinFsp lends for the answer, zeroed first (it may hold uninitialized memory,
/// which must not be read as `u8`).
///
/// # Safety
/// `buffer` is null or writable for `len` bytes for `'a`, and nothing else reads or writes it
/// meanwhile (WinFsp's buffer for this call).
unsafe fn lent<'a>(buffer: PVOID, len: usize) -> Option<&'a mut [u8]> {
    if buffer.is_null() {
        return None;
    }
    // SAFETY: per the contract above; zeroing first makes every byte initialized.
    unsafe {
        ptr::write_bytes(buffer.cast::<u8>(), 0, len);
        Some(std::slice::from_raw_parts_mut(buffer.cast::<u8>(), len))
    }
}

/// The bytes of a self-relative security descriptor WinFsp passes.
///
/// # Safety
/// `descriptor` is null or a valid security descriptor for the callback's duration.
unsafe fn descriptor_bytes(descriptor: PSECURITY_DESCRIPTOR) -> Option<Vec<u8>> {
    if descriptor.is_null() {
        return None;
    }
    // SAFETY: per the contract above; its length is what GetSecurityDescriptorLength reads
    // from its header.
    unsafe {
        let len = GetSecurityDescriptorLength(WinDescriptor(descriptor)) as usize;
        Some(std::slice::from_raw_parts(descriptor.cast::<u8>(), len).to_vec())
    }
}

/// Writes `value` through an out pointer WinFsp may pass as null.
///
/// # Safety
/// `out` is null or valid for writes of a `T` (an out parameter of this call).
unsafe fn put<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: per the contract above.
        unsafe { out.write(value) };
    }
}

/// Writes WinFsp's file information from ours.
///
/// # Safety
/// As [`put`].
unsafe fn put_info(out: *mut FSP_FSCTL_FILE_INFO, info: &WinFileInfo) {
    let value = FSP_FSCTL_FILE_INFO {
        FileAttributes: info.file_attributes,
        ReparseTag: info.reparse_tag,
        AllocationSize: info.allocation_size,
        FileSize: info.file_size,
        CreationTime: info.creation_time,
        LastAccessTime: info.last_access_time,
        LastWriteTime: info.last_write_time,
        ChangeTime: info.change_time,
        IndexNumber: info.index_number,
        HardLinks: 0,
        EaSize: 0,
    };
    // SAFETY: per the contract above.
    unsafe { put(out, value) };
}

/// Fills the answer of an open or a create and hands the handle to WinFsp as the file
/// context. The normalized name (rule 21) is reported only when it fits WinFsp's buffer;
/// otherwise WinFsp keeps the name it was given.
///
/// # Safety
/// `context` is WinFsp's out pointer for the file context; `info` points to the
/// `FileInfo` of an `FSP_FSCTL_OPEN_FILE_INFO` (winfsp.h: "The FileInfo parameter to Create
/// and Open is typed as pointer to FSP_FSCTL_FILE_INFO. The true type of this parameter is
/// pointer to FSP_FSCTL_OPEN_FILE_INFO"), whose `NormalizedName` buffer holds
/// `NormalizedNameSize` bytes.
unsafe fn hand_out(opened: Opened, context: *mut PVOID, info: *mut FSP_FSCTL_FILE_INFO) -> NtResult<()> {
    if context.is_null() || info.is_null() {
        return Err(code::INVALID_PARAMETER);
    }
    // SAFETY: FileInfo is the first field of FSP_FSCTL_OPEN_FILE_INFO (see the contract).
    let open_info = unsafe { &mut *info.cast::<FSP_FSCTL_OPEN_FILE_INFO>() };
    // SAFETY: `open_info.FileInfo` is a valid, exclusive place.
    unsafe { put_info(&mut open_info.FileInfo, &opened.info) };
    if let Some(name) = opened.normalized_name {
        let bytes = name.len() * 2;
        if !open_info.NormalizedName.is_null() && bytes <= usize::from(open_info.NormalizedNameSize) {
            // SAFETY: the buffer holds NormalizedNameSize bytes, checked above; `name` is ours.
            unsafe { ptr::copy_nonoverlapping(name.as_ptr(), open_info.NormalizedName, name.len()) };
            open_info.NormalizedNameSize = bytes as u16;
        }
    }
    // SAFETY: `context` is WinFsp's out pointer for this call; the Box goes back in `close`.
    unsafe { context.write(Box::into_raw(Box::new(opened.handle)).cast()) };
    Ok(())
}

unsafe extern "C" fn get_volume_info(fs: *mut FSP_FILE_SYSTEM, out: *mut FSP_FSCTL_VOLUME_INFO) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an out pointer valid for this call.
        let (ops, out) = unsafe { (ops_of(fs)?, out.as_mut().ok_or(code::INVALID_PARAMETER)?) };
        let (total, free) = ops.get_volume_info()?;
        out.TotalSize = total;
        out.FreeSize = free;
        let label: Vec<u16> = VOLUME_LABEL.encode_utf16().take(out.VolumeLabel.len()).collect();
        out.VolumeLabel[..label.len()].copy_from_slice(&label);
        out.VolumeLabelLength = (label.len() * 2) as u16;
        Ok(())
    })
}

unsafe extern "C" fn get_security_by_name(
    fs: *mut FSP_FILE_SYSTEM,
    name: PWSTR,
    attributes: PUINT32,
    descriptor: PSECURITY_DESCRIPTOR,
    descriptor_size: *mut SIZE_T,
) -> NTSTATUS {
    guarded(|| {
        // SAFETY: WinFsp passes our object and the NUL-terminated name asked for.
        let (ops, name) = unsafe { (ops_of(fs)?, name_of(name).ok_or(code::INVALID_PARAMETER)?) };
        // Descriptor and size may each be null (winfsp.h); a buffer needs both.
        // SAFETY: a non-null size pointer is readable (it is [in,out]).
        let capacity = unsafe { descriptor_size.as_ref() }.map(|&n| n as usize);
        // SAFETY: the descriptor buffer holds `*descriptor_size` bytes, lent for this call.
        let buffer = capacity.and_then(|n| unsafe { lent(descriptor, n) });
        match ops.get_security_by_name(name, buffer)? {
            ByName::Found { attributes: found, descriptor_len } => {
                // SAFETY: out pointers of this call, or null.
                unsafe {
                    put(attributes, found);
                    put(descriptor_size, descriptor_len as SIZE_T);
                }
                Ok(SUCCESS)
            }
            ByName::TooSmall { needed } => {
                // WinFsp's DLL grows its buffer to this size and asks again.
                // SAFETY: as above.
                unsafe { put(descriptor_size, needed as SIZE_T) };
                Err(code::BUFFER_OVERFLOW)
            }
            ByName::Unresolved { status } => {
                // A reparse point on the way: WinFsp then resolves the path from the index.
                let mut name = name.to_vec();
                name.push(0);
                let mut index: UINT32 = 0;
                // SAFETY: `fs` is our object; FindReparsePoint writes NULs into (and restores)
                // the name it is given, our own copy here; `index` is a valid out pointer.
                let found = unsafe {
                    FspFileSystemFindReparsePoint(
                        fs,
                        Some(get_reparse_point_by_name),
                        ptr::null_mut(),
                        name.as_mut_ptr(),
                        &mut index,
                    )
                };
                if found == 0 {
                    return Err(status);
                }
                // SAFETY: as above.
                unsafe { put(attributes, index) };
                Ok(REPARSE)
            }
        }
    })
}

/// `GetReparsePointByName`, as WinFsp's reparse helpers call it for each path component;
/// they pass no buffer when they only ask whether the component is a reparse point.
unsafe extern "C" fn get_reparse_point_by_name(
    fs: *mut FSP_FILE_SYSTEM,
    _context: PVOID,
    name: PWSTR,
    _is_directory: BOOLEAN,
    buffer: PVOID,
    size: PSIZE_T,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and a NUL-terminated component path.
        let (ops, name) = unsafe { (ops_of(fs)?, name_of(name).ok_or(code::INVALID_PARAMETER)?) };
        // SAFETY: a non-null size pointer is [in,out]; the buffer holds that many bytes.
        let capacity = unsafe { size.as_ref() }.map(|&n| n as usize);
        // SAFETY: as above, lent for this call.
        let n = match capacity.and_then(|n| unsafe { lent(buffer, n) }) {
            Some(buffer) => ops.get_reparse_point_by_name(name, buffer)?,
            None => ops.get_reparse_point_by_name(name, &mut vec![0u8; REPARSE_DATA_MAX])?,
        };
        // SAFETY: out pointer of this call, or null.
        unsafe { put(size, n as SIZE_T) };
        Ok(())
    })
}

unsafe extern "C" fn resolve_reparse_points(
    fs: *mut FSP_FILE_SYSTEM,
    name: PWSTR,
    index: UINT32,
    resolve_last: BOOLEAN,
    io_status: PIO_STATUS_BLOCK,
    buffer: PVOID,
    size: PSIZE_T,
) -> NTSTATUS {
    // SAFETY: WinFsp's helper takes exactly the arguments WinFsp gave this callback, and calls
    // back our by-name lookup (itself guarded) on the same object.
    unsafe {
        FspFileSystemResolveReparsePoints(
            fs,
            Some(get_reparse_point_by_name),
            ptr::null_mut(),
            name,
            index,
            resolve_last,
            io_status,
            buffer,
            size,
        )
    }
}

#[allow(clippy::too_many_arguments)] // WinFsp's signature
unsafe extern "C" fn create(
    fs: *mut FSP_FILE_SYSTEM,
    name: PWSTR,
    create_options: UINT32,
    granted_access: UINT32,
    file_attributes: UINT32,
    descriptor: PSECURITY_DESCRIPTOR,
    _allocation_size: UINT64,
    context: *mut PVOID,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // Checked before anything is made: a create must not leave an entry it cannot hand out.
        if context.is_null() || info.is_null() {
            return Err(code::INVALID_PARAMETER);
        }
        // SAFETY: WinFsp passes our object, the name, and the descriptor it computed (or null).
        let (ops, name, descriptor) = unsafe {
            (ops_of(fs)?, name_of(name).ok_or(code::INVALID_PARAMETER)?, descriptor_bytes(descriptor))
        };
        let opened = ops.create(
            name,
            create_options,
            granted_access,
            file_attributes,
            descriptor.as_deref(),
            super::request_caller,
        )?;
        // SAFETY: Create's out pointers (see `hand_out`).
        unsafe { hand_out(opened, context, info) }
    })
}

unsafe extern "C" fn open(
    fs: *mut FSP_FILE_SYSTEM,
    name: PWSTR,
    create_options: UINT32,
    granted_access: UINT32,
    context: *mut PVOID,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        if context.is_null() || info.is_null() {
            return Err(code::INVALID_PARAMETER);
        }
        // SAFETY: WinFsp passes our object and the name.
        let (ops, name) = unsafe { (ops_of(fs)?, name_of(name).ok_or(code::INVALID_PARAMETER)?) };
        let opened = ops.open(name, create_options, granted_access, super::request_caller)?;
        // SAFETY: Open's out pointers (see `hand_out`).
        unsafe { hand_out(opened, context, info) }
    })
}

unsafe extern "C" fn overwrite(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    file_attributes: UINT32,
    replace: BOOLEAN,
    _allocation_size: UINT64,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and a file context it has not closed.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        let answer = ops.overwrite(handle, file_attributes, replace != 0)?;
        // SAFETY: out pointer of this call.
        unsafe { put_info(info, &answer) };
        Ok(())
    })
}

unsafe extern "C" fn cleanup(fs: *mut FSP_FILE_SYSTEM, context: PVOID, name: PWSTR, flags: ULONG) {
    done(|| {
        // SAFETY: WinFsp passes our object, an open file context, and its name or null.
        let (ops, handle, name) = unsafe { (ops_of(fs)?, handle_of(context)?, name_of(name)) };
        ops.cleanup(handle, name, flags);
        Ok(())
    });
}

unsafe extern "C" fn close(_fs: *mut FSP_FILE_SYSTEM, context: PVOID) {
    if context.is_null() {
        return;
    }
    // SAFETY: a file context is a Box<OpenHandle> from `hand_out`; WinFsp closes it once and
    // uses it no more.
    let handle = unsafe { Box::from_raw(context.cast::<OpenHandle>()) };
    done(|| {
        drop(handle);
        Ok(())
    });
}

unsafe extern "C" fn read(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    buffer: PVOID,
    offset: UINT64,
    length: ULONG,
    transferred: PULONG,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, an open file context, and a buffer of `length`
        // bytes for the data.
        let (ops, handle, buffer) = unsafe {
            (ops_of(fs)?, handle_of(context)?, lent(buffer, length as usize).ok_or(code::INVALID_PARAMETER)?)
        };
        let n = ops.read(handle, buffer, offset)?;
        // SAFETY: out pointer of this call.
        unsafe { put(transferred, n) };
        Ok(())
    })
}

#[allow(clippy::too_many_arguments)] // WinFsp's signature
unsafe extern "C" fn write(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    buffer: PVOID,
    offset: UINT64,
    length: ULONG,
    write_to_eof: BOOLEAN,
    constrained: BOOLEAN,
    transferred: PULONG,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        if buffer.is_null() {
            return Err(code::INVALID_PARAMETER);
        }
        // SAFETY: the caller's data, `length` initialized bytes, for this call.
        let data = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), length as usize) };
        let (n, answer) = ops.write(handle, data, offset, write_to_eof != 0, constrained != 0)?;
        // SAFETY: out pointers of this call.
        unsafe {
            put(transferred, n);
            put_info(info, &answer);
        }
        Ok(())
    })
}

unsafe extern "C" fn flush(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, and an open file context or null (the volume).
        let ops = unsafe { ops_of(fs)? };
        // SAFETY: as above.
        let handle = if context.is_null() { None } else { Some(unsafe { handle_of(context)? }) };
        if let Some(answer) = ops.flush(handle)? {
            // SAFETY: out pointer of this call.
            unsafe { put_info(info, &answer) };
        }
        Ok(())
    })
}

unsafe extern "C" fn get_file_info(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        let answer = ops.get_file_info(handle)?;
        // SAFETY: out pointer of this call.
        unsafe { put_info(info, &answer) };
        Ok(())
    })
}

#[allow(clippy::too_many_arguments)] // WinFsp's signature
unsafe extern "C" fn set_basic_info(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    file_attributes: UINT32,
    creation_time: UINT64,
    last_access_time: UINT64,
    last_write_time: UINT64,
    _change_time: UINT64,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        let answer =
            ops.set_basic_info(handle, file_attributes, creation_time, last_access_time, last_write_time)?;
        // SAFETY: out pointer of this call.
        unsafe { put_info(info, &answer) };
        Ok(())
    })
}

unsafe extern "C" fn set_file_size(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    new_size: UINT64,
    allocation: BOOLEAN,
    info: *mut FSP_FSCTL_FILE_INFO,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        let answer = ops.set_file_size(handle, new_size, allocation != 0)?;
        // SAFETY: out pointer of this call.
        unsafe { put_info(info, &answer) };
        Ok(())
    })
}

unsafe extern "C" fn rename(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    name: PWSTR,
    new_name: PWSTR,
    replace: BOOLEAN,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, an open file context and both names.
        let (ops, handle, name, new_name) = unsafe {
            (
                ops_of(fs)?,
                handle_of(context)?,
                name_of(name).ok_or(code::INVALID_PARAMETER)?,
                name_of(new_name).ok_or(code::INVALID_PARAMETER)?,
            )
        };
        ops.rename(handle, name, new_name, replace != 0)
    })
}

unsafe extern "C" fn get_security(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    descriptor: PSECURITY_DESCRIPTOR,
    descriptor_size: *mut SIZE_T,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        // SAFETY: as in `get_security_by_name`: a buffer of `*descriptor_size` bytes, lent.
        let capacity = unsafe { descriptor_size.as_ref() }.map(|&n| n as usize);
        // SAFETY: as above.
        let buffer = capacity.and_then(|n| unsafe { lent(descriptor, n) });
        let len = match ops.get_security(handle, buffer) {
            Ok(len) => len,
            Err(code::BUFFER_OVERFLOW) => {
                // winfsp.h: the size needed goes back with the overflow. Asked without a
                // buffer, the descriptor's length alone.
                let needed = ops.get_security(handle, None)?;
                // SAFETY: out pointer of this call, or null.
                unsafe { put(descriptor_size, needed as SIZE_T) };
                return Err(code::BUFFER_OVERFLOW);
            }
            Err(e) => return Err(e),
        };
        // SAFETY: as above.
        unsafe { put(descriptor_size, len as SIZE_T) };
        Ok(())
    })
}

unsafe extern "C" fn set_security(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    security_information: SECURITY_INFORMATION,
    modification: PSECURITY_DESCRIPTOR,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, an open file context and the caller's descriptor.
        let (ops, handle, descriptor) =
            unsafe { (ops_of(fs)?, handle_of(context)?, descriptor_bytes(modification)) };
        ops.set_security(handle, security_information, descriptor.as_deref().unwrap_or_default())
    })
}

#[allow(clippy::too_many_arguments)] // WinFsp's signature
unsafe extern "C" fn read_directory(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    pattern: PWSTR,
    marker: PWSTR,
    buffer: PVOID,
    length: ULONG,
    transferred: PULONG,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, an open directory's context, an optional pattern
        // and marker, and a buffer of `length` bytes for the page.
        let (ops, handle, pattern, marker, buffer) = unsafe {
            (
                ops_of(fs)?,
                handle_of(context)?,
                name_of(pattern),
                name_of(marker),
                lent(buffer, length as usize).ok_or(code::INVALID_PARAMETER)?,
            )
        };
        let n = ops.read_directory(handle, pattern, marker, buffer)?;
        // SAFETY: out pointer of this call.
        unsafe { put(transferred, n) };
        Ok(())
    })
}

unsafe extern "C" fn set_delete(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    name: PWSTR,
    delete: BOOLEAN,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object, an open file context and its name.
        let (ops, handle, name) =
            unsafe { (ops_of(fs)?, handle_of(context)?, name_of(name).ok_or(code::INVALID_PARAMETER)?) };
        ops.set_delete(handle, name, delete != 0)
    })
}

unsafe extern "C" fn get_reparse_point(
    fs: *mut FSP_FILE_SYSTEM,
    context: PVOID,
    _name: PWSTR,
    buffer: PVOID,
    size: PSIZE_T,
) -> NTSTATUS {
    done(|| {
        // SAFETY: WinFsp passes our object and an open file context.
        let (ops, handle) = unsafe { (ops_of(fs)?, handle_of(context)?) };
        // SAFETY: `*size` is the capacity of the buffer lent for this call.
        let capacity = unsafe { size.as_ref() }.map(|&n| n as usize).ok_or(code::INVALID_PARAMETER)?;
        // SAFETY: as above.
        let buffer = unsafe { lent(buffer, capacity) }.ok_or(code::INVALID_PARAMETER)?;
        let n = ops.get_reparse_point(handle, buffer)?;
        // SAFETY: out pointer of this call.
        unsafe { put(size, n as SIZE_T) };
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_callback_body_answers_internal_error() {
        assert_eq!(guarded(|| panic!("a bug in a callback")), INTERNAL_ERROR);
        assert_eq!(done(|| Err(code::ACCESS_DENIED)), code::ACCESS_DENIED);
        assert_eq!(done(|| Ok(())), SUCCESS);
        assert_eq!(guarded(|| Ok(REPARSE)), REPARSE);
    }
}
