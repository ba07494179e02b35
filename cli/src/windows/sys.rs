//! The Win32 calls of the Windows command, each behind a safe function: the control pipe's
//! server end, its DACL, and the log file created owner-only. The only `unsafe` of the command.
//! The client end and the tokens that say who runs a process are the `bindlink` client's
//! (shared with `bindlink.dll`), re-exported here for the server.
#![allow(unsafe_code)]

use std::fs::File;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, FromRawHandle, OwnedHandle};

use windows::Win32::Foundation::{
    ERROR_PIPE_CONNECTED, HANDLE, HANDLE_FLAG_INHERIT, HANDLE_FLAGS, HLOCAL, LocalFree, SetHandleInformation,
};
use windows::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows::Win32::Security::{PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES};
use windows::Win32::Storage::FileSystem::{
    CreateFileW, FILE_APPEND_DATA, FILE_ATTRIBUTE_NORMAL, FILE_FLAG_FIRST_PIPE_INSTANCE, FILE_SHARE_READ,
    FILE_SHARE_WRITE, OPEN_ALWAYS, PIPE_ACCESS_DUPLEX, SYNCHRONIZE,
};
use windows::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeClientProcessId, PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT,
};
use windows::core::PCWSTR;

use bindlink::client::windows::process_token;
pub use bindlink::client::windows::{my_sid, this_process_elevated, token_sid, wide};

fn raw(handle: &impl AsRawHandle) -> HANDLE {
    HANDLE(handle.as_raw_handle())
}

/// A security descriptor (from SDDL), freed when dropped.
#[derive(Debug)]
pub struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    /// The descriptor written `text` in SDDL.
    pub fn from_sddl(text: &str) -> Result<Descriptor, String> {
        let sddl = wide(text);
        let mut sd = PSECURITY_DESCRIPTOR::default();
        // SAFETY: a NUL-terminated SDDL string; `sd` receives a LocalAlloc'ed descriptor.
        unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                PCWSTR(sddl.as_ptr()),
                SDDL_REVISION_1,
                &mut sd,
                None,
            )
        }
        .map_err(|e| format!("pipe security: {e}"))?;
        Ok(Descriptor(sd))
    }
}

// SAFETY: the descriptor is LocalAlloc'ed memory owned by this value, not tied to a thread, and
// only read (by CreateNamedPipeW) after it is made.
unsafe impl Send for Descriptor {}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(Some(HLOCAL(self.0.0))) };
    }
}

/// Creates one instance of the pipe named `name` (NUL-terminated UTF-16) with the DACL of
/// `security`, refusing remote clients; `first` fails when the name exists already.
pub fn pipe_instance(name: &[u16], security: &Descriptor, first: bool) -> Result<OwnedHandle, String> {
    if name.last() != Some(&0) {
        return Err("control pipe: a name without its NUL".to_owned());
    }
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0.0,
        bInheritHandle: false.into(),
    };
    let mode = if first { PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE } else { PIPE_ACCESS_DUPLEX };
    // SAFETY: a NUL-terminated name (checked) and security attributes that outlive the call.
    let handle = unsafe {
        CreateNamedPipeW(
            PCWSTR(name.as_ptr()),
            mode,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            65536,
            65536,
            0,
            Some(&attributes),
        )
    };
    if handle.is_invalid() {
        return Err(format!("control pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a pipe handle just created, owned from here on.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle.0) })
}

/// Waits until a client connects to the pipe instance `pipe`: whether one is connected (also
/// when it came before the call).
pub fn connect(pipe: &OwnedHandle) -> bool {
    // SAFETY: a pipe instance we own, open for the whole call; synchronous (no OVERLAPPED).
    match unsafe { ConnectNamedPipe(raw(pipe), None) } {
        Ok(()) => true,
        Err(e) => e.code() == ERROR_PIPE_CONNECTED.to_hresult(),
    }
}

/// The id of the client process at the other end of the server end `pipe`, and (when this
/// process may read it) that process's token.
pub fn client_token(pipe: &File) -> Result<(u32, Option<OwnedHandle>), String> {
    let mut pid = 0u32;
    // SAFETY: a pipe handle we hold open; `pid` is a local the call writes.
    unsafe { GetNamedPipeClientProcessId(raw(pipe), &mut pid) }
        .map_err(|e| format!("control pipe client: {e}"))?;
    Ok((pid, process_token(pid).ok()))
}

/// Opens `path` for appending, creating it with the DACL of `security` when it does not exist
/// (an existing file keeps its own).
pub fn append_with_security(path: &std::path::Path, security: &Descriptor) -> std::io::Result<File> {
    use std::os::windows::ffi::OsStrExt;
    let name: Vec<u16> = path.as_os_str().encode_wide().chain(Some(0)).collect();
    if name[..name.len() - 1].contains(&0) {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "a path with a NUL"));
    }
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0.0,
        bInheritHandle: false.into(),
    };
    // SAFETY: a NUL-terminated name without inner NULs (checked) and security attributes that
    // outlive the call; the handle returned is owned below.
    let handle = unsafe {
        CreateFileW(
            PCWSTR(name.as_ptr()),
            FILE_APPEND_DATA.0 | SYNCHRONIZE.0,
            FILE_SHARE_READ | FILE_SHARE_WRITE,
            Some(&attributes),
            OPEN_ALWAYS,
            FILE_ATTRIBUTE_NORMAL,
            None,
        )
    }
    .map_err(|e| std::io::Error::from_raw_os_error(e.code().0 & 0xFFFF))?;
    // SAFETY: a file handle just opened, owned from here on.
    Ok(File::from(unsafe { OwnedHandle::from_raw_handle(handle.0) }))
}

/// Makes `handle` (one of this process's) not inherited by the processes it starts.
pub fn keep_from_children(handle: BorrowedHandle<'_>) -> std::io::Result<()> {
    // SAFETY: a handle of this process, borrowed for the call; only its inherit flag changes.
    unsafe { SetHandleInformation(raw(&handle), HANDLE_FLAG_INHERIT.0, HANDLE_FLAGS(0)) }
        .map_err(|e| std::io::Error::from_raw_os_error(e.code().0 & 0xFFFF))
}

/// The file version (`VS_FIXEDFILEINFO`, `major.minor.build.revision`) of the file at `path`.
pub fn file_version(path: &std::path::Path) -> Option<String> {
    use windows::Win32::Storage::FileSystem::{
        GetFileVersionInfoSizeW, GetFileVersionInfoW, VS_FIXEDFILEINFO, VerQueryValueW,
    };
    use windows::core::w;
    let name = wide(&path.to_string_lossy());
    // SAFETY: a NUL-terminated path; the handle argument is unused (None).
    let size = unsafe { GetFileVersionInfoSizeW(PCWSTR(name.as_ptr()), None) };
    if size == 0 {
        return None;
    }
    let mut data = vec![0u8; size as usize];
    // SAFETY: `data` is writable for `size` bytes.
    unsafe { GetFileVersionInfoW(PCWSTR(name.as_ptr()), None, size, data.as_mut_ptr().cast()) }.ok()?;
    let mut info: *mut std::ffi::c_void = std::ptr::null_mut();
    let mut len = 0u32;
    // SAFETY: `data` holds the version resource just read; `info` receives a pointer into it,
    // valid while `data` lives, and `len` its length.
    if !unsafe { VerQueryValueW(data.as_ptr().cast(), w!("\\"), &mut info, &mut len) }.as_bool()
        || info.is_null()
        || (len as usize) < std::mem::size_of::<VS_FIXEDFILEINFO>()
    {
        return None;
    }
    // SAFETY: checked non-null and long enough for a VS_FIXEDFILEINFO; read unaligned, as the
    // resource gives no alignment guarantee.
    let fixed = unsafe { std::ptr::read_unaligned(info.cast::<VS_FIXEDFILEINFO>()) };
    let (ms, ls) = (fixed.dwFileVersionMS, fixed.dwFileVersionLS);
    Some(format!("{}.{}.{}.{}", ms >> 16, ms & 0xffff, ls >> 16, ls & 0xffff))
}
