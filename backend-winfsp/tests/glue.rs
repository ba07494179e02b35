//! The WinFsp interface `bindfs_winfsp`'s `sys::fsp` fills, called through its function pointers and
//! through the real `winfsp-x64.dll`'s user-mode helpers (`FspAccessCheckEx`, which calls
//! `GetSecurityByName` as a volume's dispatcher does; `FspFileSystemAddDirInfo`), over a file
//! system object built without the driver ([`Volume::unmounted`]) on a view of a real
//! temporary directory. Runs under Wine in CI (`tools/windows-test.sh`).
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::windows::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::ptr;
use std::sync::Arc;

use bindfs_core::{AbsPath, CasePolicy, Syntax, View};
use bindfs_winfsp::info::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_READONLY};
use bindfs_winfsp::ops::{FILE_DIRECTORY_FILE, FILE_READ_DATA, FILE_WRITE_DATA};
use bindfs_winfsp::status::code;
use bindfs_winfsp::{Ops, Volume, WindowsBacking, under_wine};
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
    FSP_FILE_SYSTEM, FSP_FILE_SYSTEM_INTERFACE, FSP_FSCTL_FILE_INFO, FSP_FSCTL_OPEN_FILE_INFO,
    FSP_FSCTL_TRANSACT_BUF, FSP_FSCTL_TRANSACT_REQ, FspAccessCheckEx, FspFsctlTransactCreateKind, PVOID,
    SIZE_T,
};

const SUCCESS: i32 = 0;
const END_OF_FILE: i32 = 0xC000_0011_u32 as i32;
const OWNER_GROUP_DACL: u32 = 0x1 | 0x2 | 0x4;
const DACL_SECURITY_INFORMATION: u32 = 0x4;
const FILE_WRITE_EA: u32 = 0x0010;
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const READ_CONTROL: u32 = 0x0002_0000;
const SYNCHRONIZE: u32 = 0x0010_0000;
const READ: u32 = FILE_READ_DATA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;

/// A temporary directory served through an unmounted file system object, removed at the end.
struct Fixture {
    dir: PathBuf,
    volume: Volume,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        assert!(bindfs_winfsp::load_winfsp(), "WinFsp's DLL is not installed");
        let dir = std::env::temp_dir().join(format!("bindfs-glue-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let lower = AbsPath::parse(dir.to_str().unwrap(), Syntax::Windows).unwrap();
        let view = View::new(WindowsBacking::open(&lower).unwrap(), CasePolicy::Insensitive);
        let volume = Volume::unmounted(Ops::new(Arc::new(view)).unwrap());
        Fixture { dir, volume }
    }

    fn real(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn put(&self, name: &str, data: &str) -> PathBuf {
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
    fn security_by_name(&self, name: &str, capacity: Option<usize>) -> (i32, u32, usize, Vec<u8>) {
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
    fn open(
        &self,
        name: &str,
        options: u32,
        access: u32,
    ) -> (i32, PVOID, FSP_FSCTL_FILE_INFO, Option<String>) {
        let call = self.interface().Open.unwrap();
        let mut name = wz(name);
        let (mut context, mut normalized) = (ptr::null_mut(), vec![0u16; 1024]);
        let mut info = open_info(&mut normalized);
        // SAFETY: our object, a NUL-terminated name, out pointers alive through the call; the
        // FileInfo given is the head of an FSP_FSCTL_OPEN_FILE_INFO, as winfsp.h says.
        let status =
            unsafe { call(self.fs(), name.as_mut_ptr(), options, access, &mut context, &mut info.FileInfo) };
        (status, context, info.FileInfo, reported(&info, &normalized))
    }

    fn close(&self, context: PVOID) {
        // SAFETY: a context Open or Create handed out, closed once.
        unsafe { self.interface().Close.unwrap()(self.fs(), context) };
    }

    /// `FspAccessCheckEx` of WinFsp's DLL for a user-mode open of `name` asking `desired`,
    /// with this process's own token: the status and the access granted.
    fn access_check(&self, name: &str, desired: u32) -> (i32, u32) {
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
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A name as WinFsp passes it: UTF-16, NUL-terminated.
fn wz(name: &str) -> Vec<u16> {
    name.encode_utf16().chain([0]).collect()
}

/// An `FSP_FSCTL_OPEN_FILE_INFO` whose normalized-name buffer is `buffer`.
fn open_info(buffer: &mut [u16]) -> FSP_FSCTL_OPEN_FILE_INFO {
    FSP_FSCTL_OPEN_FILE_INFO {
        FileInfo: FSP_FSCTL_FILE_INFO::default(),
        NormalizedName: buffer.as_mut_ptr(),
        NormalizedNameSize: (buffer.len() * 2) as u16,
    }
}

/// The normalized name an open reported: WinFsp reads it only when its size was set below
/// the buffer's (it starts at the buffer's capacity).
fn reported(info: &FSP_FSCTL_OPEN_FILE_INFO, buffer: &[u16]) -> Option<String> {
    let units = usize::from(info.NormalizedNameSize) / 2;
    (units < buffer.len()).then(|| String::from_utf16_lossy(&buffer[..units]))
}

/// This process's token as an impersonation token, which `AccessCheck` requires (the driver
/// hands WinFsp the opener's).
fn impersonation_token() -> HANDLE {
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
fn create_request(name: &str, desired: u32, token: HANDLE) -> Vec<u64> {
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
fn descriptor(sddl: &str) -> Vec<u8> {
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
fn real_security(path: &Path) -> Vec<u8> {
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

/// The DACL of a self-relative descriptor (its offset at 16, its size at that offset + 2).
fn dacl_of(descriptor: &[u8]) -> &[u8] {
    let at = u32::from_le_bytes(descriptor[16..20].try_into().unwrap()) as usize;
    if at == 0 {
        return &[];
    }
    let size = usize::from(u16::from_le_bytes([descriptor[at + 2], descriptor[at + 3]]));
    &descriptor[at..at + size]
}

/// Sets the DACL of a real file; false when it is not kept as given (Wine keeps no DACL).
fn set_real_dacl(path: &Path, sddl: &str) -> bool {
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

/// A DACL over 1 KiB: `first`, then full access for Everyone, then read access for 60 more
/// SIDs (32 bytes each).
fn big_dacl(first: &str) -> String {
    let mut sddl = format!("D:P{first}(A;;FA;;;WD)");
    for n in 0..60 {
        sddl.push_str(&format!("(A;;FR;;;S-1-5-21-1-2-3-{})", 1000 + n));
    }
    sddl
}

#[test]
fn issue_11_get_security_by_name_hands_back_the_size_it_needs() {
    let fx = Fixture::new("gsbn-size");
    let path = fx.put("Notes.txt", "hello");
    let real = real_security(&path);
    // A buffer one byte short: WinFsp's DLL grows its buffer only on STATUS_BUFFER_OVERFLOW
    // with the size needed written back (security.c, FspGetSecurityByName).
    let (status, _, size, _) = fx.security_by_name("\\NOTES.TXT", Some(real.len() - 1));
    assert_eq!((status, size), (code::BUFFER_OVERFLOW, real.len()));
    // Asked again with that size: the backing's descriptor itself, its length, the attributes.
    let (status, attributes, size, buffer) = fx.security_by_name("\\NOTES.TXT", Some(size));
    assert_eq!((status, size), (SUCCESS, real.len()));
    assert_eq!(buffer, real);
    assert_eq!(attributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_READONLY), 0);
    // Null descriptor and size (winfsp.h allows both): the attributes alone.
    let (status, attributes, _, _) = fx.security_by_name("\\", None);
    assert_eq!(status, SUCCESS);
    assert_ne!(attributes & FILE_ATTRIBUTE_DIRECTORY, 0);
    // A name the view does not hold, with no reparse point on the way.
    let (status, ..) = fx.security_by_name("\\absent.txt", Some(1024));
    assert_eq!(status, code::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn issue_11_winfsp_access_check_passes_a_descriptor_over_1k_and_applies_it() {
    let fx = Fixture::new("access-big");
    let allowed = fx.put("allowed.txt", "x");
    let denied = fx.put("denied.txt", "x");
    if !set_real_dacl(&allowed, &big_dacl("")) && under_wine() {
        eprintln!(
            "issue_11_winfsp_access_check_passes_a_descriptor_over_1k_and_applies_it: skipped \
             under Wine, which keeps no DACL (a file's descriptor is made from its mode)"
        );
        return;
    }
    assert!(set_real_dacl(&denied, &big_dacl("(D;;FR;;;WD)")));
    assert!(real_security(&allowed).len() > 1024);
    // WinFsp's own access check, as a volume's dispatcher runs it before every open: it
    // offers GetSecurityByName 1 KiB first.
    let (status, granted) = fx.access_check("\\allowed.txt", FILE_READ_DATA);
    assert_eq!(status, SUCCESS);
    assert_ne!(granted & FILE_READ_DATA, 0, "{granted:#x}");
    // The big descriptor is applied, not skipped: its first entry denies reading.
    assert_eq!(fx.access_check("\\denied.txt", FILE_READ_DATA).0, code::ACCESS_DENIED);
}

#[test]
fn winfsp_access_check_applies_the_backing_descriptor() {
    let fx = Fixture::new("access");
    fx.put("file.txt", "x");
    // Reading only. Windows keeps this DACL; Wine keeps none and makes a read-only file's
    // from its mode, without write rights either.
    let limited = fx.put("limited.txt", "x");
    if !set_real_dacl(&limited, "D:P(A;;FRFX;;;WD)") {
        assert!(under_wine());
        let mut perm = fs::metadata(&limited).unwrap().permissions();
        perm.set_readonly(true);
        fs::set_permissions(&limited, perm).unwrap();
    }
    let (status, granted) = fx.access_check("\\file.txt", FILE_READ_DATA | FILE_WRITE_EA);
    assert_eq!(status, SUCCESS);
    assert_eq!(granted & (FILE_READ_DATA | FILE_WRITE_EA), FILE_READ_DATA | FILE_WRITE_EA, "{granted:#x}");
    // Writing extended attributes is refused by the descriptor alone: WinFsp's own read-only
    // rule covers data, appending and children only.
    assert_eq!(fx.access_check("\\limited.txt", FILE_READ_DATA).0, SUCCESS);
    assert_eq!(fx.access_check("\\limited.txt", FILE_WRITE_EA).0, code::ACCESS_DENIED);
    let (status, _) = fx.access_check("\\none.txt", FILE_READ_DATA);
    assert_eq!(status, code::OBJECT_NAME_NOT_FOUND);
}

#[test]
fn open_get_file_info_read_close_through_the_interface() {
    let fx = Fixture::new("open-read");
    fx.put("Notes.txt", "hello");
    let (status, context, info, normalized) = fx.open("\\notes.TXT", 0, READ);
    assert_eq!(status, SUCCESS);
    assert!(!context.is_null());
    assert_eq!(info.FileSize, 5);
    // Rule 21: the name reported is the one the entry has.
    assert_eq!(normalized.as_deref(), Some("\\Notes.txt"));

    let mut again = FSP_FSCTL_FILE_INFO::default();
    // SAFETY: an open context and an out pointer to a local.
    let status = unsafe { fx.interface().GetFileInfo.unwrap()(fx.fs(), context, &mut again) };
    assert_eq!((status, again.FileSize, again.LastWriteTime), (SUCCESS, 5, info.LastWriteTime));

    let read = |offset: u64, len: usize| {
        let (mut data, mut n) = (vec![0u8; len], 0u32);
        // SAFETY: an open context; a buffer of `len` bytes and an out pointer, both locals.
        let status = unsafe {
            fx.interface().Read.unwrap()(
                fx.fs(),
                context,
                data.as_mut_ptr().cast(),
                offset,
                len as u32,
                &mut n,
            )
        };
        (status, data[..n as usize].to_vec())
    };
    assert_eq!(read(0, 16), (SUCCESS, b"hello".to_vec()));
    assert_eq!(read(3, 16), (SUCCESS, b"lo".to_vec()));
    assert_eq!(read(5, 16).0, END_OF_FILE);

    // GetSecurity on the handle: too small a buffer gets the size it needs (winfsp.h), then
    // the descriptor in a buffer that big.
    let security = |capacity: usize| {
        let (mut buffer, mut size) = (vec![0u8; capacity], capacity as SIZE_T);
        // SAFETY: an open context; a buffer of `size` bytes and the size, both locals.
        let status = unsafe {
            fx.interface().GetSecurity.unwrap()(fx.fs(), context, buffer.as_mut_ptr().cast(), &mut size)
        };
        (status, size as usize, buffer)
    };
    let (status, needed, _) = security(16);
    assert_eq!(status, code::BUFFER_OVERFLOW);
    assert!(needed > 16, "{needed}");
    let (status, size, buffer) = security(needed);
    assert_eq!((status, size), (SUCCESS, needed));
    assert_eq!(buffer[0], 1); // a self-relative descriptor, revision 1
    fx.close(context);

    let (status, context, ..) = fx.open("\\absent.txt", 0, READ);
    assert_eq!((status, context), (code::OBJECT_NAME_NOT_FOUND, ptr::null_mut()));
}

#[test]
fn create_makes_the_file_with_the_descriptor_given() {
    let fx = Fixture::new("create");
    let call = fx.interface().Create.unwrap();
    let create = |name: &str, options: u32, sd: &mut [u8]| {
        let mut name = wz(name);
        let (mut context, mut normalized) = (ptr::null_mut(), vec![0u16; 1024]);
        let mut info = open_info(&mut normalized);
        let sd_ptr = if sd.is_empty() { ptr::null_mut() } else { sd.as_mut_ptr().cast() };
        // SAFETY: our object, a NUL-terminated name, a valid descriptor or null, out pointers
        // to locals (FileInfo heading an FSP_FSCTL_OPEN_FILE_INFO).
        let status = unsafe {
            call(
                fx.fs(),
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
        (status, context, info.FileInfo, reported(&info, &normalized))
    };
    let (status, context, info, normalized) = create("\\New.txt", 0, &mut []);
    assert_eq!((status, info.FileSize), (SUCCESS, 0));
    assert_eq!(normalized.as_deref(), Some("\\New.txt"));
    let data = b"written";
    let (mut n, mut after) = (0u32, FSP_FSCTL_FILE_INFO::default());
    // SAFETY: the created context; the data and out pointers are locals.
    let status = unsafe {
        fx.interface().Write.unwrap()(
            fx.fs(),
            context,
            data.as_ptr() as _,
            0,
            data.len() as u32,
            0,
            0,
            &mut n,
            &mut after,
        )
    };
    assert_eq!((status, n, after.FileSize), (SUCCESS, 7, 7));
    fx.close(context);
    assert_eq!(fs::read(fx.real("New.txt")).unwrap(), data);

    // No owner: called outside a WinFsp request, the caller may make no one owner (see
    // `Ops::create`), so the creator's default applies.
    let mut sd = descriptor("G:BAD:P(A;;FA;;;WD)(A;;FA;;;BA)");
    let (status, context, info, _) = create("\\dir", FILE_DIRECTORY_FILE, &mut sd);
    assert_eq!(status, SUCCESS);
    assert_ne!(info.FileAttributes & FILE_ATTRIBUTE_DIRECTORY, 0);
    fx.close(context);
    assert!(fx.real("dir").is_dir());
    // The callback asks WinFsp who is calling: outside a request no one may be made owner, so a
    // descriptor naming one is refused and nothing is made.
    let mut sd = descriptor("O:BAG:BAD:P(A;;FA;;;WD)(A;;FA;;;BA)");
    let (status, context, ..) = create("\\owned", FILE_DIRECTORY_FILE, &mut sd);
    assert_eq!((status, context), (code::INVALID_OWNER, ptr::null_mut()));
    assert!(!fx.real("owned").exists());
    // An existing name is refused, and no context is handed out.
    let (status, context, ..) = create("\\New.txt", 0, &mut []);
    assert_eq!((status, context), (code::OBJECT_NAME_COLLISION, ptr::null_mut()));
}

/// The names of a directory page of `len` bytes (`FSP_FSCTL_DIR_INFO`: UINT16 Size, the name
/// at 104; entries 8-aligned), and whether it ends the listing.
fn page_names(page: &[u8], len: u32) -> (Vec<String>, bool) {
    let page = &page[..len as usize];
    let (mut out, mut at) = (Vec::new(), 0usize);
    while at + 2 <= page.len() {
        let size = usize::from(u16::from_le_bytes([page[at], page[at + 1]]));
        if size == 0 {
            return (out, true);
        }
        let units: Vec<u16> =
            page[at + 104..at + size].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        out.push(String::from_utf16_lossy(&units));
        at += size.div_ceil(8) * 8;
    }
    (out, false)
}

#[test]
fn read_directory_pages_through_the_interface() {
    let fx = Fixture::new("readdir");
    fs::create_dir(fx.real("d")).unwrap();
    for name in ["b.txt", "A.txt", "c.log"] {
        fx.put(&format!("d/{name}"), "x");
    }
    let (status, context, ..) = fx.open("\\d", FILE_DIRECTORY_FILE, READ);
    assert_eq!(status, SUCCESS);
    let call = fx.interface().ReadDirectory.unwrap();
    let read = |pattern: Option<&str>, marker: Option<&str>| {
        let (mut pattern, mut marker) = (pattern.map(wz), marker.map(wz));
        let as_ptr = |s: &mut Option<Vec<u16>>| s.as_mut().map_or(ptr::null_mut(), |s| s.as_mut_ptr());
        let (mut page, mut n) = (vec![0u8; 4096], 0u32);
        // SAFETY: an open directory's context; optional NUL-terminated pattern and marker; a
        // page buffer and an out pointer, all locals.
        let status = unsafe {
            call(
                fx.fs(),
                context,
                as_ptr(&mut pattern),
                as_ptr(&mut marker),
                page.as_mut_ptr().cast(),
                4096,
                &mut n,
            )
        };
        assert_eq!(status, SUCCESS);
        page_names(&page, n)
    };
    assert_eq!(
        read(None, None),
        (vec![".".into(), "..".into(), "A.txt".into(), "b.txt".into(), "c.log".into()], true)
    );
    assert_eq!(read(Some("*.TXT"), None).0, ["A.txt", "b.txt"]);
    assert_eq!(read(None, Some("a.TXT")).0, ["b.txt", "c.log"]);
    fx.close(context);
}

#[test]
fn callbacks_refuse_null_arguments_instead_of_crashing() {
    let fx = Fixture::new("nulls");
    // SAFETY: null names and contexts: what the callbacks must answer without reading them.
    unsafe {
        let status = fx.interface().GetSecurityByName.unwrap()(
            fx.fs(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(status, code::INVALID_PARAMETER);
        let mut info = FSP_FSCTL_FILE_INFO::default();
        assert_eq!(
            fx.interface().GetFileInfo.unwrap()(fx.fs(), ptr::null_mut(), &mut info),
            code::INVALID_HANDLE
        );
        // Nor a file system object without our context.
        let mut name = wz("\\");
        let status = fx.interface().GetSecurityByName.unwrap()(
            ptr::null_mut(),
            name.as_mut_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
        );
        assert_eq!(status, code::INVALID_PARAMETER);
    }
}
