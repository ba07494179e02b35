//! The unsafe edge: NT file-system calls on handles, each wrapped in a safe function.
//!
//! Everything goes through the native API (`NtCreateFile`, `NtQueryInformationFile` ...), which
//! takes a root directory handle and reports NTSTATUS codes, so every failure reaches the core
//! through [`crate::status::error_of_status`] without a detour through Win32 error codes.
//! Handles are opened for synchronous I/O (`FILE_SYNCHRONOUS_IO_NONALERT`), so every call here
//! completes before it returns. [`fsp`] is the other unsafe edge: WinFsp's callbacks.
#![allow(unsafe_code)]

pub mod fsp;

use std::ffi::c_void;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};

use bindfs_core::{Error, Result};
use windows::Wdk::Foundation::OBJECT_ATTRIBUTES;
use windows::Wdk::Storage::FileSystem::{
    FILE_INFORMATION_CLASS, FILE_RENAME_INFORMATION, FILE_RENAME_INFORMATION_0, FS_INFORMATION_CLASS,
    FileIdBothDirectoryInformation, FileNameInformation, FileRenameInformation, FileRenameInformationEx,
    NTCREATEFILE_CREATE_DISPOSITION, NTCREATEFILE_CREATE_OPTIONS, NtCreateFile, NtFlushBuffersFile,
    NtFsControlFile, NtQueryDirectoryFile, NtQueryInformationFile, NtQuerySecurityObject,
    NtQueryVolumeInformationFile, NtReadFile, NtSetInformationFile, NtSetSecurityObject, NtWriteFile,
};
use windows::Win32::Foundation::{
    HANDLE, HLOCAL, LocalFree, NTSTATUS, OBJ_CASE_INSENSITIVE, OBJECT_ATTRIBUTE_FLAGS,
    STATUS_BUFFER_OVERFLOW, STATUS_BUFFER_TOO_SMALL, STATUS_END_OF_FILE, STATUS_INVALID_INFO_CLASS,
    STATUS_NO_MORE_FILES, STATUS_NO_SUCH_FILE, STATUS_NOT_IMPLEMENTED, UNICODE_STRING,
};
use windows::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows::Win32::Security::{GetSecurityDescriptorLength, PSECURITY_DESCRIPTOR};
use windows::Win32::Storage::FileSystem::{
    FILE_ACCESS_RIGHTS, FILE_FLAGS_AND_ATTRIBUTES, FILE_NAME_NORMALIZED, FILE_SHARE_DELETE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, GETFINALPATHNAMEBYHANDLE_FLAGS, GetFinalPathNameByHandleW, VOLUME_NAME_DOS,
};
use windows::Win32::System::IO::IO_STATUS_BLOCK;
use windows::Win32::System::Ioctl::FSCTL_GET_REPARSE_POINT;
use windows::core::PCWSTR;

use crate::owner::{self, Caller};
use crate::status::{code, error_of_status};

/// Largest reparse data buffer (`MAXIMUM_REPARSE_DATA_BUFFER_SIZE`).
const MAX_REPARSE_DATA: usize = 16 * 1024;

fn raw(handle: BorrowedHandle<'_>) -> HANDLE {
    HANDLE(handle.as_raw_handle())
}

fn check(status: NTSTATUS) -> Result<()> {
    if status.0 >= 0 { Ok(()) } else { Err(error_of_status(status.0)) }
}

/// Bytes a call reported in its I/O status block.
fn information(iosb: &IO_STATUS_BLOCK) -> usize {
    iosb.Information
}

/// What [`open`] opens: one name relative to `root` (or a whole NT path without one).
#[derive(Debug)]
pub struct OpenRequest<'a> {
    /// The directory the name is relative to; `None` for an absolute NT path.
    pub root: Option<BorrowedHandle<'a>>,
    /// The name (one component), an NT path, or empty to reopen `root` itself.
    pub name: &'a [u16],
    /// `ACCESS_MASK`.
    pub access: u32,
    /// `FILE_OPEN`, `FILE_CREATE` ...
    pub disposition: u32,
    /// `FILE_*` create options.
    pub options: u32,
    /// Attributes of a created file.
    pub attributes: u32,
    /// The self-relative security descriptor of a created file (`None`: inherited).
    pub security: Option<&'a [u8]>,
    /// Fail with `STATUS_REPARSE_POINT_ENCOUNTERED` rather than follow a reparse point that
    /// the open meets (`OBJ_DONT_REPARSE`); a filter that handles its own tag still opens.
    pub refuse_reparse: bool,
}

/// `OBJ_DONT_REPARSE` (ntdef.h).
const OBJ_DONT_REPARSE: u32 = 0x1000;

/// The quality of service every open asks for: a server at the other end of what is opened (a
/// named pipe) may identify the service but not impersonate it.
const IDENTIFICATION_ONLY: windows::Win32::Security::SECURITY_QUALITY_OF_SERVICE =
    windows::Win32::Security::SECURITY_QUALITY_OF_SERVICE {
        Length: std::mem::size_of::<windows::Win32::Security::SECURITY_QUALITY_OF_SERVICE>() as u32,
        ImpersonationLevel: windows::Win32::Security::SecurityIdentification,
        ContextTrackingMode: 0, // SECURITY_STATIC_TRACKING
        EffectiveOnly: true,
    };

/// `NtCreateFile`, sharing everything, names compared case-insensitively.
pub fn open(req: &OpenRequest<'_>) -> Result<OwnedHandle> {
    // An aligned copy: the kernel reads the descriptor's fields in place.
    let security = match req.security {
        Some(d) if !descriptor_is_whole(d) => return Err(Error::InvalidArgument),
        Some(d) => {
            let mut aligned = vec![0u64; d.len().div_ceil(8)];
            for (word, chunk) in aligned.iter_mut().zip(d.chunks(8)) {
                let mut bytes = [0u8; 8];
                bytes[..chunk.len()].copy_from_slice(chunk);
                *word = u64::from_le_bytes(bytes);
            }
            Some(aligned)
        }
        None => None,
    };
    let bytes = req.name.len() * 2;
    let Ok(length) = u16::try_from(bytes) else { return Err(Error::Os(code::OBJECT_NAME_INVALID)) };
    let name = UNICODE_STRING {
        Length: length,
        MaximumLength: length,
        Buffer: windows::core::PWSTR(req.name.as_ptr().cast_mut()),
    };
    let qos = IDENTIFICATION_ONLY;
    let attributes = OBJECT_ATTRIBUTES {
        Length: std::mem::size_of::<OBJECT_ATTRIBUTES>() as u32,
        RootDirectory: req.root.map_or(HANDLE::default(), raw),
        ObjectName: &name,
        Attributes: OBJECT_ATTRIBUTE_FLAGS(
            OBJ_CASE_INSENSITIVE.0 | if req.refuse_reparse { OBJ_DONT_REPARSE } else { 0 },
        ),
        SecurityDescriptor: security.as_ref().map_or(std::ptr::null(), |d| d.as_ptr().cast()),
        // A named pipe met in a backing tree learns who the service is, never acts as it.
        SecurityQualityOfService: (&raw const qos).cast(),
    };
    let mut handle = HANDLE::default();
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: every pointer refers to a local that outlives the call; `name` points into
    // `req.name`, which NtCreateFile only reads; `security` holds a whole self-relative
    // descriptor (checked above), 8-aligned; on success `handle` is a new handle we own.
    let status = unsafe {
        NtCreateFile(
            &mut handle,
            FILE_ACCESS_RIGHTS(req.access),
            &attributes,
            &mut iosb,
            None,
            FILE_FLAGS_AND_ATTRIBUTES(req.attributes),
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            NTCREATEFILE_CREATE_DISPOSITION(req.disposition),
            NTCREATEFILE_CREATE_OPTIONS(req.options),
            None,
            0,
        )
    };
    check(status)?;
    // SAFETY: NtCreateFile succeeded, so `handle` is an open handle that nothing else owns.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle.0) })
}

/// `NtQueryInformationFile` for a fixed-size information class.
pub fn query<T: Default>(handle: BorrowedHandle<'_>, class: FILE_INFORMATION_CLASS) -> Result<T> {
    let mut out = T::default();
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `out` is a valid, writable T of the size passed; the caller names the class whose
    // structure T is.
    let status = unsafe {
        NtQueryInformationFile(
            raw(handle),
            &mut iosb,
            (&raw mut out).cast::<c_void>(),
            std::mem::size_of::<T>() as u32,
            class,
        )
    };
    check(status)?;
    Ok(out)
}

/// `NtSetInformationFile` for a fixed-size information class.
pub fn set<T>(handle: BorrowedHandle<'_>, class: FILE_INFORMATION_CLASS, info: &T) -> Result<()> {
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `info` is a valid T of the size passed, only read by the call.
    let status = unsafe {
        NtSetInformationFile(
            raw(handle),
            &mut iosb,
            std::ptr::from_ref(info).cast::<c_void>(),
            std::mem::size_of::<T>() as u32,
            class,
        )
    };
    check(status)
}

/// `NtQueryVolumeInformationFile` for a fixed-size class (a larger variable tail is cut off).
pub fn query_volume<T: Default>(handle: BorrowedHandle<'_>, class: FS_INFORMATION_CLASS) -> Result<T> {
    let mut out = T::default();
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `out` is a valid, writable T of the size passed.
    let status = unsafe {
        NtQueryVolumeInformationFile(
            raw(handle),
            &mut iosb,
            (&raw mut out).cast::<c_void>(),
            std::mem::size_of::<T>() as u32,
            class,
        )
    };
    // A variable-length tail (a volume label) that does not fit is not needed.
    if status == STATUS_BUFFER_OVERFLOW {
        return Ok(out);
    }
    check(status)?;
    Ok(out)
}

/// One entry of [`list_dir`].
#[derive(Debug)]
pub struct RawDirEntry {
    /// The stored name.
    pub name: Vec<u16>,
    /// `FILE_ATTRIBUTE_*`.
    pub attributes: u32,
    /// The reparse tag when the entry is a reparse point.
    pub reparse_tag: u32,
    /// The file id (index number).
    pub file_id: u64,
}

fn read_u32(buf: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(buf.get(at..at + 4)?.try_into().ok()?))
}

fn read_u64(buf: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(buf.get(at..at + 8)?.try_into().ok()?))
}

/// Every entry of the directory open as `handle` (with `FILE_LIST_DIRECTORY`), `.` and `..`
/// included, as `FileIdBothDirectoryInformation` reports them.
pub fn list_dir(handle: BorrowedHandle<'_>) -> Result<Vec<RawDirEntry>> {
    use std::mem::offset_of;
    use windows::Wdk::Storage::FileSystem::FILE_ID_BOTH_DIR_INFORMATION as Info;
    // u64 words: the entries are 8-aligned structures, and the I/O manager may refuse a
    // misaligned buffer (STATUS_DATATYPE_MISALIGNMENT); a Vec<u8> promises no alignment.
    let mut words = vec![0u64; 64 * 1024 / 8];
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut restart = true;
    loop {
        let mut iosb = IO_STATUS_BLOCK::default();
        // SAFETY: `words` is writable and 8-aligned for the length passed; the handle was opened
        // for synchronous I/O, so the call has completed when it returns.
        let status = unsafe {
            NtQueryDirectoryFile(
                raw(handle),
                None,
                None,
                None,
                &mut iosb,
                words.as_mut_ptr().cast::<c_void>(),
                (words.len() * 8) as u32,
                FileIdBothDirectoryInformation,
                false,
                None,
                restart,
            )
        };
        // The first call on a directory without `.` and `..` (the root of an NTFS or FAT
        // volume) that is empty reports STATUS_NO_SUCH_FILE: an empty listing, not "not found".
        if status == STATUS_NO_MORE_FILES || (restart && status == STATUS_NO_SUCH_FILE) {
            return Ok(out);
        }
        restart = false;
        check(status)?;
        // Parse a byte copy with bounds-checked reads: the entries are laid out as Info
        // structures.
        buf.clear();
        buf.extend(words.iter().flat_map(|w| w.to_le_bytes()));
        let mut at = 0usize;
        loop {
            let bad = || Error::Os(code::IO_DEVICE_ERROR);
            let next = read_u32(&buf, at + offset_of!(Info, NextEntryOffset)).ok_or_else(bad)? as usize;
            let attributes = read_u32(&buf, at + offset_of!(Info, FileAttributes)).ok_or_else(bad)?;
            let name_len = read_u32(&buf, at + offset_of!(Info, FileNameLength)).ok_or_else(bad)? as usize;
            let reparse_tag = read_u32(&buf, at + offset_of!(Info, EaSize)).ok_or_else(bad)?;
            let file_id = read_u64(&buf, at + offset_of!(Info, FileId)).ok_or_else(bad)?;
            let start = at + offset_of!(Info, FileName);
            let bytes = buf.get(start..start + name_len).ok_or_else(bad)?;
            let name = bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            out.push(RawDirEntry { name, attributes, reparse_tag, file_id });
            if next == 0 {
                break;
            }
            at += next;
        }
    }
}

/// Reads at `offset`; 0 at the end of the file.
pub fn read_at(handle: BorrowedHandle<'_>, offset: u64, buf: &mut [u8]) -> Result<usize> {
    let len = u32::try_from(buf.len()).unwrap_or(u32::MAX);
    let at = i64::try_from(offset).map_err(|_| Error::InvalidArgument)?;
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `buf` is writable for `len` bytes; synchronous handle, so complete on return.
    let status = unsafe {
        NtReadFile(raw(handle), None, None, None, &mut iosb, buf.as_mut_ptr().cast(), len, Some(&at), None)
    };
    if status == STATUS_END_OF_FILE {
        return Ok(0);
    }
    check(status)?;
    Ok(information(&iosb))
}

/// Writes the file's buffered data to its device (`NtFlushBuffersFile`).
pub fn flush(handle: BorrowedHandle<'_>) -> Result<()> {
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: an open handle and a local status block; synchronous handle.
    check(unsafe { NtFlushBuffersFile(raw(handle), &mut iosb) })
}

/// Writes at `offset`, or at the end of the file when `offset` is `None`.
pub fn write_at(handle: BorrowedHandle<'_>, offset: Option<u64>, data: &[u8]) -> Result<usize> {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    // FILE_WRITE_TO_END_OF_FILE: LowPart 0xFFFFFFFF, HighPart -1.
    let at = match offset {
        Some(o) => i64::try_from(o).map_err(|_| Error::InvalidArgument)?,
        None => -1,
    };
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `data` is readable for `len` bytes; synchronous handle, so complete on return.
    let status = unsafe {
        NtWriteFile(raw(handle), None, None, None, &mut iosb, data.as_ptr().cast(), len, Some(&at), None)
    };
    check(status)?;
    Ok(information(&iosb))
}

/// The reparse data of the reparse point open as `handle` (opened with
/// `FILE_OPEN_REPARSE_POINT`), unchanged.
pub fn reparse_data(handle: BorrowedHandle<'_>) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_REPARSE_DATA];
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `buf` is writable for the length passed; no input buffer.
    let status = unsafe {
        NtFsControlFile(
            raw(handle),
            None,
            None,
            None,
            &mut iosb,
            FSCTL_GET_REPARSE_POINT,
            None,
            0,
            Some(buf.as_mut_ptr().cast()),
            buf.len() as u32,
        )
    };
    if status.0 == code::NOT_A_REPARSE_POINT {
        return Err(Error::InvalidArgument); // as readlink on a non-symlink
    }
    check(status)?;
    buf.truncate(information(&iosb));
    Ok(buf)
}

/// Renames the file open as `handle` (with `DELETE`) to `name` in directory `dir`, replacing
/// an existing `name` when `replace` is set. Asks for POSIX semantics first
/// (`FileRenameInformationEx`, Windows 10 1709 and later): a replaced file that is open
/// elsewhere (with share-delete) then keeps serving its handles, as `rename(2)` does, where the
/// classic call fails with STATUS_ACCESS_DENIED; file systems (and Wine) without it get the
/// classic call.
pub fn rename(
    handle: BorrowedHandle<'_>,
    dir: BorrowedHandle<'_>,
    name: &[u16],
    replace: bool,
) -> Result<()> {
    // FILE_RENAME_REPLACE_IF_EXISTS, FILE_RENAME_POSIX_SEMANTICS (ntifs.h).
    let flags = u32::from(replace) | 0x2;
    match rename_as(handle, dir, name, flags, FileRenameInformationEx) {
        Err(Error::Os(s)) if s == code::INVALID_PARAMETER || s == STATUS_INVALID_INFO_CLASS.0 => {}
        Err(Error::Os(s)) if s == STATUS_NOT_IMPLEMENTED.0 => {}
        Err(Error::NotSupported) => {}
        done => return done,
    }
    rename_as(handle, dir, name, u32::from(replace), FileRenameInformation)
}

/// [`rename`] with one information class and its flags.
fn rename_as(
    handle: BorrowedHandle<'_>,
    dir: BorrowedHandle<'_>,
    name: &[u16],
    flags: u32,
    class: FILE_INFORMATION_CLASS,
) -> Result<()> {
    let head = std::mem::offset_of!(FILE_RENAME_INFORMATION, FileName);
    let name_bytes = name.len() * 2;
    let total = head + name_bytes;
    // u64 words: the structure's alignment.
    let mut buf = vec![0u64; total.div_ceil(8) + 1];
    let info = FILE_RENAME_INFORMATION {
        // `Flags` covers the whole union (ReplaceIfExists is its first byte), so no byte of it
        // is left uninitialized in the buffer handed to the kernel.
        Anonymous: FILE_RENAME_INFORMATION_0 { Flags: flags },
        RootDirectory: raw(dir),
        FileNameLength: u32::try_from(name_bytes).map_err(|_| Error::Os(code::OBJECT_NAME_INVALID))?,
        FileName: [0],
    };
    let base = buf.as_mut_ptr().cast::<u8>();
    // SAFETY: `buf` holds at least `head + name_bytes` bytes and is 8-aligned, as the structure
    // needs; the name is copied right after the fixed part, where FileName begins.
    unsafe {
        base.cast::<FILE_RENAME_INFORMATION>().write(info);
        std::ptr::copy_nonoverlapping(name.as_ptr().cast::<u8>(), base.add(head), name_bytes);
    }
    // The I/O manager refuses a length below sizeof(FILE_RENAME_INFORMATION) (24 bytes on x64,
    // 4 more than `head` because of the one-unit FileName and tail padding) with
    // STATUS_INFO_LENGTH_MISMATCH: a one-character target name would fail without this.
    let length = total.max(std::mem::size_of::<FILE_RENAME_INFORMATION>());
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: the buffer holds a complete FILE_RENAME_INFORMATION and is at least `length` bytes
    // long (`(total.div_ceil(8) + 1) * 8 >= total + 8 > head + 4 + name_bytes`).
    let status =
        unsafe { NtSetInformationFile(raw(handle), &mut iosb, base.cast::<c_void>(), length as u32, class) };
    check(status)
}

/// The name of the file open as `handle`, from its volume's root (`\dir\name`).
pub fn file_name(handle: BorrowedHandle<'_>) -> Result<Vec<u16>> {
    let mut buf = vec![0u32; 16 * 1024];
    let mut iosb = IO_STATUS_BLOCK::default();
    // SAFETY: `buf` is writable and 4-aligned for the length passed (FILE_NAME_INFORMATION).
    let status = unsafe {
        NtQueryInformationFile(
            raw(handle),
            &mut iosb,
            buf.as_mut_ptr().cast(),
            (buf.len() * 4) as u32,
            FileNameInformation,
        )
    };
    check(status)?;
    let len = buf.first().copied().unwrap_or(0) as usize;
    let bytes: Vec<u8> = buf.iter().skip(1).flat_map(|w| w.to_le_bytes()).take(len).collect();
    Ok(bytes.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect())
}

/// The final path of the object open as `handle` (`\\?\C:\real\path`), if Windows can say.
pub fn final_path(handle: BorrowedHandle<'_>) -> Option<Vec<u16>> {
    let mut buf = vec![0u16; 32 * 1024];
    // SAFETY: the handle is open; the buffer is writable for its whole length.
    let len = unsafe {
        GetFinalPathNameByHandleW(
            raw(handle),
            &mut buf,
            GETFINALPATHNAMEBYHANDLE_FLAGS(FILE_NAME_NORMALIZED.0 | VOLUME_NAME_DOS.0),
        )
    };
    let len = len as usize;
    if len == 0 || len >= buf.len() {
        return None;
    }
    buf.truncate(len);
    Some(buf)
}

/// The parts `parts` of the security descriptor of the object open as `handle` (with
/// `READ_CONTROL`), self-relative.
pub fn query_security(handle: BorrowedHandle<'_>, parts: u32) -> Result<Vec<u8>> {
    let mut buf = vec![0u64; 128];
    loop {
        let mut needed = 0u32;
        let len = (buf.len() * 8) as u32;
        // SAFETY: `buf` is writable and 8-aligned for `len` bytes.
        let status = unsafe {
            NtQuerySecurityObject(
                raw(handle),
                parts,
                Some(PSECURITY_DESCRIPTOR(buf.as_mut_ptr().cast())),
                len,
                &mut needed,
            )
        };
        if status == STATUS_BUFFER_TOO_SMALL && needed > len {
            buf = vec![0u64; (needed as usize).div_ceil(8)];
            continue;
        }
        check(status)?;
        // Whether LengthNeeded is set on success is not documented; the descriptor's own length
        // is. An empty descriptor must never travel on: WinFsp reads a size of 0 as "no
        // security" and grants every access (rule 22).
        // SAFETY: on success `buf` holds the self-relative descriptor the kernel wrote.
        let own = unsafe { GetSecurityDescriptorLength(PSECURITY_DESCRIPTOR(buf.as_mut_ptr().cast())) };
        let size = if own > 0 && own <= len { own } else { needed };
        if size == 0 || size > len {
            return Err(Error::Os(code::IO_DEVICE_ERROR));
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_le_bytes()).take(size as usize).collect();
        return Ok(bytes);
    }
}

/// Applies the parts `parts` of the self-relative `descriptor` to the object open as `handle`.
pub fn set_security(handle: BorrowedHandle<'_>, parts: u32, descriptor: &[u8]) -> Result<()> {
    if !descriptor_is_whole(descriptor) {
        return Err(Error::InvalidArgument);
    }
    // An aligned copy: the descriptor's fields are read in place.
    let mut aligned = vec![0u64; descriptor.len().div_ceil(8)];
    // SAFETY: `aligned` holds at least `descriptor.len()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(
            descriptor.as_ptr(),
            aligned.as_mut_ptr().cast::<u8>(),
            descriptor.len(),
        );
    }
    // SAFETY: `aligned` holds a self-relative descriptor whose length was checked.
    let status =
        unsafe { NtSetSecurityObject(raw(handle), parts, PSECURITY_DESCRIPTOR(aligned.as_mut_ptr().cast())) };
    check(status)
}

/// Whether `descriptor` is a self-relative descriptor whose owner, group and ACLs all lie
/// within its bytes. Checked here, with bounds-checked reads, rather than by
/// `GetSecurityDescriptorLength`, which trusts the offsets it reads and would follow a bad one
/// out of the buffer.
fn descriptor_is_whole(descriptor: &[u8]) -> bool {
    // SECURITY_DESCRIPTOR_RELATIVE: Revision, Sbz1, Control, then the offsets of Owner, Group,
    // Sacl and Dacl (0: absent).
    const HEADER: usize = 20;
    const SE_DACL_PRESENT: u16 = 0x0004;
    const SE_SACL_PRESENT: u16 = 0x0010;
    const SE_SELF_RELATIVE: u16 = 0x8000;
    let u16_at = |at: usize| descriptor.get(at..at + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let offset_at = |at: usize| read_u32(descriptor, at).map(|o| o as usize);
    if descriptor.len() < HEADER || descriptor[0] != 1 {
        return false;
    }
    let Some(control) = u16_at(2) else { return false };
    if control & SE_SELF_RELATIVE == 0 {
        return false;
    }
    // A SID: Revision, SubAuthorityCount (at most 15), a 6-byte authority, 4 bytes a sub-authority.
    let sid_fits = |at: usize| match descriptor.get(at + 1) {
        Some(&count) if count <= 15 => descriptor.len() >= at + 8 + 4 * usize::from(count),
        _ => false,
    };
    // An ACL: AclRevision, Sbz1, AclSize (header included, at least 8 bytes) ...
    let acl_fits = |at: usize| match u16_at(at + 2) {
        Some(size) if size >= 8 => descriptor.len() >= at + usize::from(size),
        _ => false,
    };
    let parts = [
        (offset_at(4), true, &sid_fits as &dyn Fn(usize) -> bool),
        (offset_at(8), true, &sid_fits),
        (offset_at(12), control & SE_SACL_PRESENT != 0, &acl_fits),
        (offset_at(16), control & SE_DACL_PRESENT != 0, &acl_fits),
    ];
    parts.iter().all(|(offset, present, fits)| match offset {
        None => false,
        Some(0) => true,
        Some(at) => !present || (*at >= HEADER && fits(*at)),
    })
}

/// A self-relative security descriptor from its SDDL text.
pub fn descriptor_from_sddl(sddl: &str) -> Result<Vec<u8>> {
    let wide: Vec<u16> = sddl.encode_utf16().chain([0]).collect();
    let mut descriptor = PSECURITY_DESCRIPTOR::default();
    let mut len = 0u32;
    // SAFETY: `wide` is NUL-terminated; on success the function allocates `descriptor` with
    // LocalAlloc, which is freed below after copying `len` bytes out of it.
    unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            PCWSTR(wide.as_ptr()),
            SDDL_REVISION_1,
            &mut descriptor,
            Some(&mut len),
        )
        .map_err(|_| Error::InvalidArgument)?;
        let bytes = std::slice::from_raw_parts(descriptor.0.cast::<u8>(), len as usize).to_vec();
        LocalFree(Some(HLOCAL(descriptor.0)));
        Ok(bytes)
    }
}

/// Enables each privilege of `names` (`SeBackupPrivilege` ...) that the process token holds;
/// answers, for each, whether it is enabled now. A privilege the token does not hold stays
/// off (`ERROR_NOT_ALL_ASSIGNED`); only a failure to open the token or an unknown name is an
/// error.
pub fn enable_privileges(names: &[&str]) -> Result<Vec<bool>> {
    use windows::Win32::Foundation::{CloseHandle, ERROR_NOT_ALL_ASSIGNED, GetLastError, LUID};
    use windows::Win32::Security::{
        AdjustTokenPrivileges, LUID_AND_ATTRIBUTES, LookupPrivilegeValueW, SE_PRIVILEGE_ENABLED,
        TOKEN_ADJUST_PRIVILEGES, TOKEN_PRIVILEGES,
    };
    use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
    let mut token = HANDLE::default();
    // SAFETY: the pseudo handle of this process; `token` receives a handle closed below.
    unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES, &mut token) }
        .map_err(|e| Error::Os(e.code().0))?;
    let mut enabled = Vec::with_capacity(names.len());
    let mut failed = None;
    for name in names {
        let wide: Vec<u16> = name.encode_utf16().chain([0]).collect();
        let mut luid = LUID::default();
        // SAFETY: a NUL-terminated name; `luid` is a local the call writes.
        if let Err(e) = unsafe { LookupPrivilegeValueW(PCWSTR::null(), PCWSTR(wide.as_ptr()), &mut luid) } {
            failed = Some(Error::Os(e.code().0));
            break;
        }
        let privileges = TOKEN_PRIVILEGES {
            PrivilegeCount: 1,
            Privileges: [LUID_AND_ATTRIBUTES { Luid: luid, Attributes: SE_PRIVILEGE_ENABLED }],
        };
        // SAFETY: an open token with TOKEN_ADJUST_PRIVILEGES and a complete TOKEN_PRIVILEGES;
        // the last error is read right after the call, on the same thread.
        let adjusted = unsafe {
            AdjustTokenPrivileges(token, false, Some(&privileges), 0, None, None)
                .map(|()| GetLastError() != ERROR_NOT_ALL_ASSIGNED)
        };
        match adjusted {
            Ok(on) => enabled.push(on),
            Err(e) => {
                failed = Some(Error::Os(e.code().0));
                break;
            }
        }
    }
    // SAFETY: the token opened above, closed once.
    let _ = unsafe { CloseHandle(token) };
    match failed {
        Some(e) => Err(e),
        None => Ok(enabled),
    }
}

/// What `token` (opened with `TOKEN_QUERY`) lets its holder make the owner of a file: its user
/// SID, its groups with `SE_GROUP_OWNER`, and whether `SeRestorePrivilege` is enabled in it.
pub fn caller_of_token(token: HANDLE) -> Result<Caller> {
    use windows::Win32::Foundation::LUID;
    use windows::Win32::Security::{
        LUID_AND_ATTRIBUTES, SE_PRIVILEGE_ENABLED, SID_AND_ATTRIBUTES, TOKEN_GROUPS, TOKEN_PRIVILEGES,
        TOKEN_USER, TokenGroups, TokenPrivileges, TokenUser,
    };
    /// `SE_GROUP_OWNER` (winnt.h): the group may be made the owner of objects.
    const SE_GROUP_OWNER: u32 = 0x8;
    /// `SE_GROUP_USE_FOR_DENY_ONLY`: the SID only denies access; it cannot be an owner.
    const SE_GROUP_USE_FOR_DENY_ONLY: u32 = 0x10;
    let user_info = token_information(token, TokenUser)?;
    // SAFETY: GetTokenInformation wrote a TOKEN_USER at the start of the 8-aligned buffer (it
    // fails when the buffer is shorter than the structure and what it points to).
    let user_sid = unsafe { &*user_info.as_ptr().cast::<TOKEN_USER>() }.User.Sid;
    let user = sid_in(&user_info, &bytes_of_words(&user_info), user_sid.0)
        .ok_or(Error::Os(code::IO_DEVICE_ERROR))?;

    let groups_info = token_information(token, TokenGroups)?;
    // SAFETY: as above, a TOKEN_GROUPS; its array is within the buffer (checked by `within`).
    let groups: &[SID_AND_ATTRIBUTES] = unsafe {
        let head = groups_info.as_ptr().cast::<TOKEN_GROUPS>();
        let count = (*head).GroupCount as usize;
        within(
            &groups_info,
            std::mem::offset_of!(TOKEN_GROUPS, Groups),
            count,
            (&raw const (*head).Groups).cast(),
        )?
    };
    let groups_bytes = bytes_of_words(&groups_info);
    let owner_groups = groups
        .iter()
        .filter(|g| g.Attributes & (SE_GROUP_OWNER | SE_GROUP_USE_FOR_DENY_ONLY) == SE_GROUP_OWNER)
        .filter_map(|g| sid_in(&groups_info, &groups_bytes, g.Sid.0));

    // SE_RESTORE_PRIVILEGE (winnt.h): privilege LUIDs below 36 are fixed by the system, so no
    // lookup (an LSA call) on every create.
    let restore = LUID { LowPart: 18, HighPart: 0 };
    let privileges_info = token_information(token, TokenPrivileges)?;
    // SAFETY: as above, a TOKEN_PRIVILEGES whose array is within the buffer.
    let privileges: &[LUID_AND_ATTRIBUTES] = unsafe {
        let head = privileges_info.as_ptr().cast::<TOKEN_PRIVILEGES>();
        let count = (*head).PrivilegeCount as usize;
        let first = (&raw const (*head).Privileges).cast();
        within(&privileges_info, std::mem::offset_of!(TOKEN_PRIVILEGES, Privileges), count, first)?
    };
    let restore_enabled = privileges.iter().any(|p| {
        p.Luid.LowPart == restore.LowPart
            && p.Luid.HighPart == restore.HighPart
            && p.Attributes.0 & SE_PRIVILEGE_ENABLED.0 != 0
    });
    Ok(Caller::new(user, owner_groups.collect(), restore_enabled))
}

/// The information of `class` about `token`, in an 8-aligned buffer.
fn token_information(
    token: HANDLE,
    class: windows::Win32::Security::TOKEN_INFORMATION_CLASS,
) -> Result<Vec<u64>> {
    use windows::Win32::Security::GetTokenInformation;
    let mut needed = 0u32;
    // SAFETY: no buffer: the call only writes the size it needs into a local.
    let _ = unsafe { GetTokenInformation(token, class, None, 0, &mut needed) };
    let mut buf = vec![0u64; (needed as usize).div_ceil(8).max(1)];
    let len = u32::try_from(buf.len() * 8).map_err(|_| Error::Os(code::IO_DEVICE_ERROR))?;
    // SAFETY: `buf` is writable and 8-aligned for `len` bytes.
    unsafe { GetTokenInformation(token, class, Some(buf.as_mut_ptr().cast()), len, &mut needed) }
        .map_err(|e| Error::Os(e.code().0))?;
    Ok(buf)
}

/// The `count` entries at `first`, `at` bytes into `buf`, if they all lie within it.
///
/// # Safety
/// `first` must point `at` bytes into `buf`, and `buf` must hold initialized `T`s there.
unsafe fn within<T>(buf: &[u64], at: usize, count: usize, first: *const T) -> Result<&[T]> {
    let end = count.checked_mul(std::mem::size_of::<T>()).and_then(|n| n.checked_add(at));
    if end.is_none_or(|end| end > buf.len() * 8) {
        return Err(Error::Os(code::IO_DEVICE_ERROR));
    }
    // SAFETY: per the caller, and the check above: `count` entries from `first` end within `buf`.
    Ok(unsafe { std::slice::from_raw_parts(first, count) })
}

/// The bytes of a token-information buffer, copied once for bounds-checked reads.
fn bytes_of_words(buf: &[u64]) -> Vec<u8> {
    buf.iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// The binary SID that `sid`, a pointer into the token information `buf` (whose bytes are
/// `bytes`), points to; `None` when it points elsewhere or is cut off.
fn sid_in(buf: &[u64], bytes: &[u8], sid: *const c_void) -> Option<Vec<u8>> {
    let offset = (sid as usize).checked_sub(buf.as_ptr() as usize)?;
    owner::sid_at(bytes.get(offset..)?).map(<[u8]>::to_vec)
}

/// Who is calling, for the Create (an open or a create) WinFsp dispatches on this thread: what
/// its token lets it make owner, or `None` for a kernel-mode caller, whose requests the kernel
/// does not check (WinFsp lets them through, `allow_open_in_kernel_mode`). Strict where a
/// user-mode caller is known: one whose token cannot be read, or a call outside a Create
/// (which never happens while WinFsp dispatches), may make no one owner.
pub fn request_caller() -> Option<Caller> {
    use winfsp_sys::{FspFileSystemGetOperationContext, FspFsctlTransactCreateKind};
    // SAFETY: reads this thread's WinFsp operation context; no arguments.
    let context = unsafe { FspFileSystemGetOperationContext() };
    // SAFETY: while WinFsp dispatches a request on this thread, the context and its request
    // point at that request, valid until the callback returns; both are null otherwise.
    let request = unsafe { context.as_ref().and_then(|c| c.Request.as_ref()) };
    let Some(request) = request.filter(|r| i64::from(r.Kind) == i64::from(FspFsctlTransactCreateKind)) else {
        tracing::warn!("no Create request on this thread: the caller may set no owner");
        return Some(Caller::nobody());
    };
    // SAFETY: a Create request's union holds its Create member (a plain copy).
    let create = unsafe { request.Req.Create };
    if create.UserMode() == 0 {
        return None;
    }
    // FSP_FSCTL_TRANSACT_REQ_TOKEN_HANDLE: the handle, in this process, is the low 32 bits (the
    // high ones are the caller's process id); WinFsp keeps it open for the whole request.
    let token = HANDLE((create.AccessToken & 0xFFFF_FFFF) as usize as *mut c_void);
    match caller_of_token(token) {
        Ok(caller) => Some(caller),
        Err(e) => {
            tracing::warn!(error = %e, "the caller's token could not be read: it may set no owner");
            Some(Caller::nobody())
        }
    }
}

/// Whether WinFsp's DLL is in this process, loading it from WinFsp's install directory
/// ([`load_installed_winfsp`]) unless it is there already: imported at start (the GNU build
/// links it directly) or loaded before. The MSVC build delay-loads it by its bare name, which
/// WinFsp's installer does not put on the search path, so anything that calls into it (a mount,
/// `Ops`' directory pages, tests of the interface) asks this first. Asked once per process.
pub fn load_winfsp() -> bool {
    use windows::Win32::System::LibraryLoader::GetModuleHandleW;
    static LOADED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *LOADED.get_or_init(|| {
        let name: Vec<u16> = winfsp_dll_name().encode_utf16().chain([0]).collect();
        // SAFETY: a NUL-terminated module name; the handle is only tested, never freed.
        let present = unsafe { GetModuleHandleW(PCWSTR(name.as_ptr())) }.is_ok();
        present || load_installed_winfsp()
    })
}

/// The WinFsp DLL's file name for this architecture (in `bin\` of its install directory).
pub fn winfsp_dll_name() -> &'static str {
    if cfg!(target_arch = "x86") {
        "winfsp-x86.dll"
    } else if cfg!(target_arch = "aarch64") {
        "winfsp-a64.dll"
    } else {
        "winfsp-x64.dll"
    }
}

/// WinFsp's install directories as the registry names them (`InstallDir` under
/// `HKLM\SOFTWARE\WOW6432Node\WinFsp`, then `HKLM\SOFTWARE\WinFsp`), without a trailing
/// backslash: where [`load_winfsp`] loads the DLL from, and what `bindfs-rs doctor` reports.
pub fn winfsp_install_dirs() -> Vec<std::path::PathBuf> {
    [r"SOFTWARE\WOW6432Node\WinFsp", r"SOFTWARE\WinFsp"]
        .into_iter()
        .filter_map(|key| registry_string(key, "InstallDir"))
        .map(|dir| std::path::PathBuf::from(dir.trim_end_matches('\\')))
        .collect()
}

/// The string `value` of `HKEY_LOCAL_MACHINE\key`, if it is there.
pub fn registry_string(key: &str, value: &str) -> Option<String> {
    use windows::Win32::System::Registry::{HKEY_LOCAL_MACHINE, RRF_RT_REG_SZ, RegGetValueW};
    let wide = |text: &str| text.encode_utf16().chain([0]).collect::<Vec<u16>>();
    let (key, value) = (wide(key), wide(value));
    let mut buf = vec![0u16; 1024];
    let mut size = (buf.len() * 2) as u32;
    // SAFETY: NUL-terminated key and value names; `buf` is writable for `size` bytes, and `size`
    // receives the bytes written (the terminating NUL included).
    let status = unsafe {
        RegGetValueW(
            HKEY_LOCAL_MACHINE,
            PCWSTR(key.as_ptr()),
            PCWSTR(value.as_ptr()),
            RRF_RT_REG_SZ,
            None,
            Some(buf.as_mut_ptr().cast()),
            Some(&mut size),
        )
    };
    if status.is_err() {
        return None;
    }
    buf.truncate(size as usize / 2);
    while buf.last() == Some(&0) {
        buf.pop();
    }
    Some(String::from_utf16_lossy(&buf))
}

/// Loads the WinFsp DLL from WinFsp's install directory ([`winfsp_install_dirs`]). The binaries
/// delay-load the DLL by its bare name, which the loader then finds among the loaded modules;
/// WinFsp's installer does not put its `bin` directory on the search path, and a bare-name
/// search would also try the working directory, a place an elevated daemon must not load code
/// from. False when WinFsp is not installed.
fn load_installed_winfsp() -> bool {
    use std::os::windows::ffi::OsStrExt;
    use windows::Win32::System::LibraryLoader::LoadLibraryW;
    for dir in winfsp_install_dirs() {
        let dll = dir.join("bin").join(winfsp_dll_name());
        let wide: Vec<u16> = dll.as_os_str().encode_wide().chain([0]).collect();
        // SAFETY: a NUL-terminated absolute path; the module stays loaded for the process's life.
        if unsafe { LoadLibraryW(PCWSTR(wide.as_ptr())) }.is_ok() {
            return true;
        }
    }
    false
}

/// Whether this process runs under Wine rather than Windows: Wine's `ntdll.dll` exports
/// `wine_get_version`, Windows' does not. Tests use it to name, and skip, the few checks of
/// behaviour Wine does not implement (and only under Wine).
pub fn under_wine() -> bool {
    use windows::Win32::System::LibraryLoader::{GetModuleHandleW, GetProcAddress};
    use windows::core::{s, w};
    // SAFETY: both names are NUL-terminated literals; ntdll is loaded in every process and the
    // handle is not freed; the address found is only compared, never called.
    unsafe {
        GetModuleHandleW(w!("ntdll.dll"))
            .is_ok_and(|ntdll| GetProcAddress(ntdll, s!("wine_get_version")).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `O:SYG:SYD:(A;;FA;;;SY)`, self-relative, laid out by hand.
    fn system_only() -> Vec<u8> {
        let sid = [1u8, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0]; // S-1-5-18
        let mut d = vec![1u8, 0, 0x04, 0x80]; // revision, sbz1, SE_SELF_RELATIVE | SE_DACL_PRESENT
        for offset in [20u32, 32, 0, 44] {
            d.extend(offset.to_le_bytes());
        }
        d.extend(sid);
        d.extend(sid);
        d.extend([2u8, 0, 28, 0, 1, 0, 0, 0]); // ACL: revision 2, size 28, one ACE
        d.extend([0u8, 0, 20, 0, 0xFF, 0x01, 0x1F, 0x00]); // ACCESS_ALLOWED, size 20, FILE_ALL_ACCESS
        d.extend(sid);
        d
    }

    #[test]
    fn privileges_held_are_enabled_and_unknown_names_refused() {
        let names = ["SeSecurityPrivilege", "SeBackupPrivilege", "SeRestorePrivilege"];
        let enabled = enable_privileges(&names);
        assert!(matches!(&enabled, Ok(on) if on.len() == names.len()), "{enabled:?}");
        eprintln!("privileges enabled: {enabled:?} of {names:?}");
        // Enabling again answers the same.
        assert_eq!(enable_privileges(&names), enabled);
        assert!(enable_privileges(&["SeNoSuchPrivilege"]).is_err());
    }

    /// What our own process token lets us make owner.
    fn own_caller() -> Result<Caller> {
        use windows::Win32::Foundation::CloseHandle;
        use windows::Win32::Security::TOKEN_QUERY;
        use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
        let mut token = HANDLE::default();
        // SAFETY: the pseudo handle of this process; `token` receives a handle closed below.
        unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) }
            .map_err(|e| Error::Os(e.code().0))?;
        let caller = caller_of_token(token);
        // SAFETY: the token opened above, closed once.
        let _ = unsafe { CloseHandle(token) };
        caller
    }

    #[test]
    fn a_caller_read_from_our_token_may_own_its_user_and_what_we_create_but_no_stranger() {
        use std::os::windows::io::AsHandle;
        let caller = own_caller();
        let Ok(caller) = caller else { panic!("{caller:?}") };
        eprintln!(
            "our token: user {:?}, {} owner groups, restore {}",
            caller.user(),
            caller.owner_groups().len(),
            caller.restore()
        );
        assert!(owner::sid_at(caller.user()).is_some_and(|s| s.len() == caller.user().len()));
        // Without restore, only what the token names.
        let strict = Caller::new(caller.user().to_vec(), caller.owner_groups().to_vec(), false);
        assert!(strict.may_own(caller.user()));
        let stranger = owner::sid_of_text("S-1-5-21-1-2-3-4242").unwrap_or_default();
        assert!(!strict.may_own(&stranger));
        // The owner the system gives a file we create is the token's default owner, which is
        // always the user or an owner group.
        let dir = std::env::temp_dir();
        let path = dir.join(format!("bindfs-sys-owner-{}", std::process::id()));
        let written = std::fs::write(&path, b"x").and_then(|()| std::fs::File::open(&path));
        let Ok(file) = written else { panic!("{written:?}") };
        let descriptor = query_security(file.as_handle(), 0x1);
        drop(file);
        let _ = std::fs::remove_file(&path);
        let Ok(descriptor) = descriptor else { panic!("{descriptor:?}") };
        match owner::owner_of(&descriptor) {
            owner::Owner::Sid(sid) => assert!(strict.may_own(sid), "{sid:?} not among {strict:?}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn whole_descriptors_pass_and_cut_or_stray_ones_do_not() {
        let d = system_only();
        assert!(descriptor_is_whole(&d));
        assert!(!descriptor_is_whole(&d[..d.len() - 1]));
        let mut stray = d.clone();
        stray[4..8].copy_from_slice(&1000u32.to_le_bytes()); // owner past the end
        assert!(!descriptor_is_whole(&stray));
        let mut absolute = d;
        absolute[3] = 0; // not self-relative
        assert!(!descriptor_is_whole(&absolute));
    }
}
