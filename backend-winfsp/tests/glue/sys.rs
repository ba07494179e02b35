//! The glue tests' calls through WinFsp's raw interface and Win32, each behind a safe function:
//! the only `unsafe` of these tests. A file context is a [`Context`] only `open` and `create`
//! hand out and `close` takes, so a test cannot pass a pointer of its own.
#![allow(unsafe_code)]

use std::fs;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Arc;

use bindfs_core::{AbsPath, CasePolicy, Syntax, View};
use bindfs_winfsp::ops::FILE_WRITE_DATA;
use bindfs_winfsp::{Ops, Volume, WindowsBacking};
use windows::Win32::Foundation::{CloseHandle, HANDLE, HLOCAL, LocalFree};
use windows::Win32::Security::Authorization::{
    ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows::Win32::Security::{
    DuplicateToken, GetFileSecurityW, OBJECT_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR,
    SecurityImpersonation, SetFileSecurityW, TOKEN_DUPLICATE, TOKEN_QUERY,
};
use windows::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};
use windows::core::PCWSTR;
use winfsp_sys::{
    FSP_FILE_SYSTEM, FSP_FILE_SYSTEM_INTERFACE, FSP_FSCTL_FILE_INFO, FSP_FSCTL_TRANSACT_BUF,
    FSP_FSCTL_TRANSACT_REQ, FspAccessCheckEx, FspFsctlTransactCreateKind, PVOID, SIZE_T,
};

use super::{DACL_SECURITY_INFORMATION, OWNER_GROUP_DACL, READ, dacl_of, open_info, reported, wz};

/// A temporary directory served through an unmounted file system object, removed at the end.
pub struct Fixture {
    dir: PathBuf,
    volume: Volume,
}

impl Fixture {
    pub fn new(test: &str) -> Fixture {
        assert!(bindfs_winfsp::load_winfsp(), "WinFsp's DLL is not installed");
        let dir = std::env::temp_dir().join(format!("bindfs-glue-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let lower = AbsPath::parse(dir.to_str().unwrap(), Syntax::Windows).unwrap();
        let view = View::new(WindowsBacking::open(&lower).unwrap(), CasePolicy::Insensitive);
        let volume = Volume::unmounted(Ops::new(Arc::new(view)).unwrap());
        Fixture { dir, volume }
    }

    pub fn real(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn put(&self, name: &str, data: &str) -> PathBuf {
        let path = self.real(name);
        fs::write(&path, data).unwrap();
        path
    }

    fn fs(&self) -> *mut FSP_FILE_SYSTEM {
        self.volume.raw()
    }

    fn interface(&self) -> &FSP_FILE_SYSTEM_INTERFACE {
        // SAFETY: the object `Volume::unmounted` built points at the 'static interface.
        unsafe { &*(*self.fs()).Interface }
    }

    /// `GetSecurityByName` with a buffer of `capacity` bytes (none: null descriptor and
    /// size); the status, attributes, the size written back, and the buffer.
    pub fn security_by_name(&self, name: &str, capacity: Option<usize>) -> (i32, u32, usize, Vec<u8>) {
        let call = self.interface().GetSecurityByName.unwrap();
        let mut name = wz(name);
        let mut buffer = vec![0u8; capacity.unwrap_or(0)];
        let mut size: SIZE_T = capacity.unwrap_or(0) as SIZE_T;
        let mut attributes = 0u32;
        let (buf, size_ptr) = match capacity {
            Some(_) => (buffer.as_mut_ptr().cast(), &raw mut size),
            None => (ptr::null_mut(), ptr::null_mut()),
        };
        // SAFETY: as WinFsp calls it: our object, a NUL-terminated name, and a buffer of
        // `size` bytes (or both null), all alive through the call.
        let status = unsafe { call(self.fs(), name.as_mut_ptr(), &mut attributes, buf, size_ptr) };
        (status, attributes, size as usize, buffer)
    }

    /// `Open` as WinFsp's dispatcher calls it, with an `FSP_FSCTL_OPEN_FILE_INFO`; the status,
    /// the file context, the file information and the normalized name reported (if any).
    pub fn open(
        &self,
        name: &str,
        options: u32,
        access: u32,
    ) -> (i32, Context, FSP_FSCTL_FILE_INFO, Option<String>) {
        let call = self.interface().Open.unwrap();
        let mut name = wz(name);
        let (mut context, mut normalized) = (ptr::null_mut(), vec![0u16; 1024]);
        let mut info = open_info(&mut normalized);
        // SAFETY: our object, a NUL-terminated name, out pointers alive through the call; the
        // FileInfo given is the head of an FSP_FSCTL_OPEN_FILE_INFO, as winfsp.h says.
        let status =
            unsafe { call(self.fs(), name.as_mut_ptr(), options, access, &mut context, &mut info.FileInfo) };
        (status, Context(context), info.FileInfo, reported(&info, &normalized))
    }

    /// `Close` of a context `open` or `create` handed out (taken: closed once).
    pub fn close(&self, context: Context) {
        assert!(!context.is_null(), "closing no context");
        // SAFETY: a context Open or Create handed out, closed once (taken by value).
        unsafe { self.interface().Close.unwrap()(self.fs(), context.0) };
    }

    /// `FspAccessCheckEx` of WinFsp's DLL for a user-mode open of `name` asking `desired`,
    /// with this process's own token: the status and the access granted.
    pub fn access_check(&self, name: &str, desired: u32) -> (i32, u32) {
        let token = impersonation_token();
        let mut request = create_request(name, desired, token);
        let mut granted = 0u32;
        // SAFETY: our object; a Create request laid out as the driver sends it (the name in
        // its buffer); out pointers alive through the call; no descriptor asked back.
        let status = unsafe {
            FspAccessCheckEx(
                self.fs(),
                request.as_mut_ptr().cast(),
                0,
                1,
                desired,
                &mut granted,
                ptr::null_mut(),
            )
        };
        // SAFETY: a token handle this process opened and no longer uses.
        unsafe { CloseHandle(token).unwrap() };
        (status, granted)
    }

    /// `GetFileInfo` of an open context: the status and the information.
    pub fn get_file_info(&self, context: &Context) -> (i32, FSP_FSCTL_FILE_INFO) {
        let mut info = FSP_FSCTL_FILE_INFO::default();
        // SAFETY: an open context (or null, which the callback must refuse) and an out pointer
        // to a local.
        let status = unsafe { self.interface().GetFileInfo.unwrap()(self.fs(), context.0, &mut info) };
        (status, info)
    }

    /// `Read` of `len` bytes at `offset` of an open context: the status and the bytes read.
    pub fn read(&self, context: &Context, offset: u64, len: usize) -> (i32, Vec<u8>) {
        let (mut data, mut n) = (vec![0u8; len], 0u32);
        // SAFETY: an open context; a buffer of `len` bytes and an out pointer, both locals.
        let status = unsafe {
            self.interface().Read.unwrap()(
                self.fs(),
                context.0,
                data.as_mut_ptr().cast(),
                offset,
                len as u32,
                &mut n,
            )
        };
        data.truncate((n as usize).min(len));
        (status, data)
    }

    /// `GetSecurity` of an open context into a buffer of `capacity` bytes: the status, the
    /// size written back, and the buffer.
    pub fn get_security(&self, context: &Context, capacity: usize) -> (i32, usize, Vec<u8>) {
        let (mut buffer, mut size) = (vec![0u8; capacity], capacity as SIZE_T);
        // SAFETY: an open context; a buffer of `size` bytes and the size, both locals.
        let status = unsafe {
            self.interface().GetSecurity.unwrap()(self.fs(), context.0, buffer.as_mut_ptr().cast(), &mut size)
        };
        (status, size as usize, buffer)
    }

    /// `Create` of `name` asking read and write access, with the self-relative descriptor `sd`
    /// (empty: none): the status, the context, the information and the normalized name.
    pub fn create(
        &self,
        name: &str,
        options: u32,
        sd: &mut [u8],
    ) -> (i32, Context, FSP_FSCTL_FILE_INFO, Option<String>) {
        let call = self.interface().Create.unwrap();
        let mut name = wz(name);
        let (mut context, mut normalized) = (ptr::null_mut(), vec![0u16; 1024]);
        let mut info = open_info(&mut normalized);
        let sd_ptr = if sd.is_empty() { ptr::null_mut() } else { sd.as_mut_ptr().cast() };
        // SAFETY: our object, a NUL-terminated name, a descriptor buffer or null, out pointers
        // to locals (FileInfo heading an FSP_FSCTL_OPEN_FILE_INFO).
        let status = unsafe {
            call(
                self.fs(),
                name.as_mut_ptr(),
                options,
                READ | FILE_WRITE_DATA,
                0,
                sd_ptr,
                0,
                &mut context,
                &mut info.FileInfo,
            )
        };
        (status, Context(context), info.FileInfo, reported(&info, &normalized))
    }

    /// `Write` of `data` at offset 0 of an open context: the status, the bytes written and the
    /// information after.
    pub fn write(&self, context: &Context, data: &[u8]) -> (i32, u32, FSP_FSCTL_FILE_INFO) {
        let (mut n, mut after) = (0u32, FSP_FSCTL_FILE_INFO::default());
        // SAFETY: an open context; the data and out pointers are locals.
        let status = unsafe {
            self.interface().Write.unwrap()(
                self.fs(),
                context.0,
                data.as_ptr() as _,
                0,
                data.len() as u32,
                0,
                0,
                &mut n,
                &mut after,
            )
        };
        (status, n, after)
    }

    /// `ReadDirectory` of an open directory's context into a page of `len` bytes, with an
    /// optional pattern and marker: the status, the page and the length used.
    pub fn read_directory(
        &self,
        context: &Context,
        pattern: Option<&str>,
        marker: Option<&str>,
        len: u32,
    ) -> (i32, Vec<u8>, u32) {
        let (mut pattern, mut marker) = (pattern.map(wz), marker.map(wz));
        let as_ptr = |s: &mut Option<Vec<u16>>| s.as_mut().map_or(ptr::null_mut(), |s| s.as_mut_ptr());
        let (mut page, mut n) = (vec![0u8; len as usize], 0u32);
        // SAFETY: an open directory's context; optional NUL-terminated pattern and marker; a
        // page buffer of `len` bytes and an out pointer, all locals.
        let status = unsafe {
            self.interface().ReadDirectory.unwrap()(
                self.fs(),
                context.0,
                as_ptr(&mut pattern),
                as_ptr(&mut marker),
                page.as_mut_ptr().cast(),
                len,
                &mut n,
            )
        };
        (status, page, n)
    }

    /// `GetSecurityByName` with a null name and null out pointers, on this object or (`ours`
    /// false) on none: what the callback answers instead of reading them.
    pub fn security_by_name_of_nothing(&self, ours: bool) -> i32 {
        let mut name = wz("\\");
        let (fs, name) =
            if ours { (self.fs(), ptr::null_mut()) } else { (ptr::null_mut(), name.as_mut_ptr()) };
        // SAFETY: null arguments, which the callback must refuse without reading them; a name,
        // when given, is NUL-terminated and alive through the call.
        unsafe {
            self.interface().GetSecurityByName.unwrap()(
                fs,
                name,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null_mut(),
            )
        }
    }
}

/// A file context `Open` or `Create` handed out (null when they refused).
#[derive(Debug)]
pub struct Context(PVOID);

impl Context {
    /// No context, as a caller might pass one.
    pub fn null() -> Context {
        Context(ptr::null_mut())
    }

    /// Whether this is no context.
    pub fn is_null(&self) -> bool {
        self.0.is_null()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// This process's token as an impersonation token, which `AccessCheck` requires (the driver
/// hands WinFsp the opener's).
pub fn impersonation_token() -> HANDLE {
    let (mut process, mut token) = (HANDLE::default(), HANDLE::default());
    // SAFETY: the pseudo-handle of this process; out pointers to locals; the process token is
    // closed once duplicated.
    unsafe {
        OpenProcessToken(GetCurrentProcess(), TOKEN_DUPLICATE | TOKEN_QUERY, &mut process).unwrap();
        DuplicateToken(process, SecurityImpersonation, &mut token).unwrap();
        CloseHandle(process).unwrap();
    }
    token
}

/// An `FSP_FSCTL_TRANSACT_REQ` of kind Create from user mode for `name`, as the driver sends
/// it, in 8-aligned memory.
pub fn create_request(name: &str, desired: u32, token: HANDLE) -> Vec<u64> {
    let name = wz(name);
    let head = size_of::<FSP_FSCTL_TRANSACT_REQ>();
    let total = head + name.len() * 2;
    let mut memory = vec![0u64; total.div_ceil(8)];
    let request = memory.as_mut_ptr().cast::<FSP_FSCTL_TRANSACT_REQ>();
    // SAFETY: `memory` is zeroed, 8-aligned and holds the header plus the name; the union's
    // Create member is the one a Create request uses.
    unsafe {
        (*request).Version = head as u16;
        (*request).Size = total as u16;
        (*request).Kind = FspFsctlTransactCreateKind as u32;
        (*request).FileName = FSP_FSCTL_TRANSACT_BUF { Offset: 0, Size: (name.len() * 2) as u16 };
        let create = &mut (*request).Req.Create;
        create.DesiredAccess = desired;
        create.AccessToken = token.0 as u64;
        create.set_UserMode(1);
        ptr::copy_nonoverlapping(name.as_ptr(), (*request).Buffer.as_mut_ptr().cast::<u16>(), name.len());
    }
    memory
}

/// A self-relative descriptor from SDDL.
pub fn descriptor(sddl: &str) -> Vec<u8> {
    let sddl = wz(sddl);
    let (mut d, mut len) = (PSECURITY_DESCRIPTOR::default(), 0u32);
    // SAFETY: a NUL-terminated string; the descriptor Windows allocates is copied, then freed.
    unsafe {
        ConvertStringSecurityDescriptorToSecurityDescriptorW(
            PCWSTR(sddl.as_ptr()),
            SDDL_REVISION_1,
            &mut d,
            Some(&mut len),
        )
        .unwrap();
        let bytes = std::slice::from_raw_parts(d.0.cast::<u8>(), len as usize).to_vec();
        LocalFree(Some(HLOCAL(d.0)));
        bytes
    }
}

/// The owner, group and DACL of a real file, read with Win32 (not through the view).
pub fn real_security(path: &Path) -> Vec<u8> {
    let path: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    let mut needed = 0u32;
    // SAFETY: a NUL-terminated path; the first call only asks the size, the second gets a
    // buffer that big.
    unsafe {
        let _ = GetFileSecurityW(PCWSTR(path.as_ptr()), OWNER_GROUP_DACL, None, 0, &mut needed);
        let mut out = vec![0u8; needed as usize];
        let d = PSECURITY_DESCRIPTOR(out.as_mut_ptr().cast());
        GetFileSecurityW(PCWSTR(path.as_ptr()), OWNER_GROUP_DACL, Some(d), needed, &mut needed).unwrap();
        out.truncate(needed as usize);
        out
    }
}

/// Sets the DACL of a real file; false when it is not kept as given (Wine keeps no DACL).
pub fn set_real_dacl(path: &Path, sddl: &str) -> bool {
    let d = descriptor(sddl);
    let wide: Vec<u16> = path.as_os_str().encode_wide().chain([0]).collect();
    // SAFETY: a NUL-terminated path and a valid self-relative descriptor, both alive.
    let set = unsafe {
        SetFileSecurityW(
            PCWSTR(wide.as_ptr()),
            OBJECT_SECURITY_INFORMATION(DACL_SECURITY_INFORMATION),
            PSECURITY_DESCRIPTOR(d.as_ptr() as _),
        )
    };
    set.as_bool() && dacl_of(&real_security(path)) == dacl_of(&d)
}
