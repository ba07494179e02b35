//! The WinFsp interface `bindfs_winfsp`'s `sys::fsp` fills, called through its function pointers and
//! through the real `winfsp-x64.dll`'s user-mode helpers (`FspAccessCheckEx`, which calls
//! `GetSecurityByName` as a volume's dispatcher does; `FspFileSystemAddDirInfo`), over a file
//! system object built without the driver ([`Volume::unmounted`]) on a view of a real
//! temporary directory. Runs under Wine in CI (`tools/windows-test.sh`).
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use bindfs_winfsp::info::{FILE_ATTRIBUTE_DIRECTORY, FILE_ATTRIBUTE_READONLY};
use bindfs_winfsp::ops::{FILE_DIRECTORY_FILE, FILE_READ_DATA};
use bindfs_winfsp::status::code;
use bindfs_winfsp::under_wine;
use winfsp_sys::{FSP_FSCTL_FILE_INFO, FSP_FSCTL_OPEN_FILE_INFO};

#[path = "glue/sys.rs"]
mod sys;
use sys::{Context, Fixture, descriptor, real_security, set_real_dacl};

const SUCCESS: i32 = 0;
const END_OF_FILE: i32 = 0xC000_0011_u32 as i32;
const OWNER_GROUP_DACL: u32 = 0x1 | 0x2 | 0x4;
const DACL_SECURITY_INFORMATION: u32 = 0x4;
const FILE_WRITE_EA: u32 = 0x0010;
const FILE_READ_ATTRIBUTES: u32 = 0x0080;
const READ_CONTROL: u32 = 0x0002_0000;
const SYNCHRONIZE: u32 = 0x0010_0000;
const READ: u32 = FILE_READ_DATA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;

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

/// The DACL of a self-relative descriptor (its offset at 16, its size at that offset + 2).
fn dacl_of(descriptor: &[u8]) -> &[u8] {
    let at = u32::from_le_bytes(descriptor[16..20].try_into().unwrap()) as usize;
    if at == 0 {
        return &[];
    }
    let size = usize::from(u16::from_le_bytes([descriptor[at + 2], descriptor[at + 3]]));
    &descriptor[at..at + size]
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

    let (status, again) = fx.get_file_info(&context);
    assert_eq!((status, again.FileSize, again.LastWriteTime), (SUCCESS, 5, info.LastWriteTime));

    let read = |offset: u64, len: usize| fx.read(&context, offset, len);
    assert_eq!(read(0, 16), (SUCCESS, b"hello".to_vec()));
    assert_eq!(read(3, 16), (SUCCESS, b"lo".to_vec()));
    assert_eq!(read(5, 16).0, END_OF_FILE);

    // GetSecurity on the handle: too small a buffer gets the size it needs (winfsp.h), then
    // the descriptor in a buffer that big.
    let security = |capacity: usize| fx.get_security(&context, capacity);
    let (status, needed, _) = security(16);
    assert_eq!(status, code::BUFFER_OVERFLOW);
    assert!(needed > 16, "{needed}");
    let (status, size, buffer) = security(needed);
    assert_eq!((status, size), (SUCCESS, needed));
    assert_eq!(buffer[0], 1); // a self-relative descriptor, revision 1
    fx.close(context);

    let (status, context, ..) = fx.open("\\absent.txt", 0, READ);
    assert_eq!((status, context.is_null()), (code::OBJECT_NAME_NOT_FOUND, true));
}

#[test]
fn create_makes_the_file_with_the_descriptor_given() {
    let fx = Fixture::new("create");
    let create = |name: &str, options: u32, sd: &mut [u8]| fx.create(name, options, sd);
    let (status, context, info, normalized) = create("\\New.txt", 0, &mut []);
    assert_eq!((status, info.FileSize), (SUCCESS, 0));
    assert_eq!(normalized.as_deref(), Some("\\New.txt"));
    let data = b"written";
    let (status, n, after) = fx.write(&context, data);
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
    assert_eq!((status, context.is_null()), (code::INVALID_OWNER, true));
    assert!(!fx.real("owned").exists());
    // An existing name is refused, and no context is handed out.
    let (status, context, ..) = create("\\New.txt", 0, &mut []);
    assert_eq!((status, context.is_null()), (code::OBJECT_NAME_COLLISION, true));
}

/// The names of a directory page of `len` bytes, and whether it ends the listing.
fn page_names(page: &[u8], len: u32) -> (Vec<String>, bool) {
    let (entries, ended) = bindfs_tests::windows::dir_page(page, len);
    (entries.into_iter().map(|e| e.name).collect(), ended)
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
    let read = |pattern: Option<&str>, marker: Option<&str>| {
        let (status, page, n) = fx.read_directory(&context, pattern, marker, 4096);
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
    // Null names and contexts: what the callbacks must answer without reading them.
    assert_eq!(fx.security_by_name_of_nothing(true), code::INVALID_PARAMETER);
    assert_eq!(fx.get_file_info(&Context::null()).0, code::INVALID_HANDLE);
    // Nor a file system object without our context.
    assert_eq!(fx.security_by_name_of_nothing(false), code::INVALID_PARAMETER);
}
