//! The Windows store (`WindowsBacking`, NT calls relative to kept handles) under the rule tests
//! every store shares (`bindfs_tests::store_rules`), one `#[test]` each, and below them what only
//! a Windows store can show: Windows paths as link targets, case-insensitive and
//! case-preserving names, reparse points, deletion and renames of open files, security
//! descriptors. Runs under Wine in CI (`tools/windows-test.sh`), on the real directories of a
//! temporary tree.
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use bindfs_core::{AbsPath, Backing, CasePolicy, FileKind, Syntax, Target};
use bindfs_tests::store_rules::{OnDisk, Store};
use bindfs_winfsp::{WindowsBacking, under_wine};

/// The Windows store: `WindowsBacking`, case-insensitive names, Windows paths as link targets.
#[derive(Clone, Copy, Debug)]
struct WindowsStore;

/// A real path as the absolute Windows path a user would type.
fn abs(path: &Path) -> AbsPath {
    AbsPath::parse(path.to_str().unwrap(), Syntax::Windows).unwrap()
}

impl Store for WindowsStore {
    type Backing = WindowsBacking;

    fn open(self, disk: &Path) -> WindowsBacking {
        WindowsBacking::open(&abs(disk)).unwrap()
    }

    fn policy(self) -> CasePolicy {
        CasePolicy::Insensitive
    }

    fn target(self, path: &Path) -> Target {
        Target::Host(Arc::new(abs(path)))
    }

    /// Size and read-only from `std`; the file id, volume serial and link count, which `std`
    /// does not offer on stable Windows, from a whole-path open by a second store (not the
    /// view's, and not a relative open).
    fn on_disk(self, path: &Path) -> OnDisk {
        let real = fs::symlink_metadata(path).unwrap();
        let store = WindowsBacking::open(&abs(path.parent().unwrap())).unwrap();
        let node = store.open_host(&abs(path)).unwrap();
        let own = store.stat(&node).unwrap();
        let perm = match () {
            _ if real.is_dir() || real.is_symlink() => 0o777,
            _ if real.permissions().readonly() => 0o444,
            _ => 0o666,
        };
        assert_eq!(own.kind == FileKind::Dir, real.is_dir(), "{}", path.display());
        OnDisk { ino: own.ino, dev: own.dev, size: real.len(), perm, nlink: own.nlink, uid: 0 }
    }
}

bindfs_tests::store_rule_tests!(WindowsStore);

// What only a Windows store shows.

use bindfs_core::{Error, LinkSpec, OpenFlags, RenameFlags};
use bindfs_tests::store_rules::{Ns, names_on_disk, p, put, read};

fn ns() -> Ns<WindowsStore> {
    Ns::new(WindowsStore)
}

/// Whether to check what Wine does not implement; under Wine, says on stderr which test skips
/// what, so the skip is never silent.
fn wine_lacks(test: &str, what: &str) -> bool {
    let lacks = under_wine();
    if lacks {
        eprintln!("{test}: skipped under Wine: {what}");
    }
    lacks
}

/// A link from `v` to the host path written as `target`.
fn link_to(ns: &Ns<WindowsStore>, v: &str, target: &str) -> bindfs_core::Result<bindfs_core::LinkId> {
    let target = Target::Host(Arc::new(AbsPath::parse(target, Syntax::Windows)?));
    ns.view.create_link(LinkSpec { target, ..ns.spec(v, "Target") })
}

#[test]
fn windows_paths_in_every_spelling_name_the_same_backing() {
    let ns = ns();
    let real = ns.t.join("Target").to_str().unwrap().to_owned();
    assert!(real.as_bytes()[1] == b':', "a drive-letter path: {real}");
    let lower = format!("{}{}", real[..1].to_ascii_lowercase(), &real[1..]);
    let mut spellings = vec![
        real.clone(),
        lower.replace('\\', "/"),
        format!("\\\\?\\{real}"),
        format!("\\\\.\\{real}"),
        format!("{real}\\..\\Target\\.\\"),
    ];
    // Under Wine, another drive letter for the same directory: Z: is the Unix root, and C: the
    // prefix's drive_c.
    if let (true, Ok(prefix)) = (under_wine(), std::env::var("WINEPREFIX")) {
        spellings.push(format!("Z:{}\\drive_c{}", prefix.replace('/', "\\"), &real[2..]));
    }
    for (i, target) in spellings.iter().enumerate() {
        let v = format!("/L{i}");
        link_to(&ns, &v, target).unwrap_or_else(|e| panic!("{target}: {e}"));
        assert_eq!(ns.ls(&v), ["Cat.txt", "shared.txt"], "{target}");
        assert_eq!(ns.cat(&format!("{v}/Cat.txt")), "meow", "{target}");
    }
    // Written through one spelling, read through another and on disk.
    ns.write("/L2/Cat.txt", "purr");
    assert_eq!(ns.cat("/L1/Cat.txt"), "purr");
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "purr");
    // A missing share is "backing not found" (rule 2), like any missing backing.
    let unc = link_to(&ns, "/U", "\\\\no-such-server.invalid\\share\\Target");
    assert!(matches!(unc, Err(Error::BackingNotFound(_)) | Err(Error::NotFound)), "{unc:?}");
    let missing = link_to(&ns, "/M", &format!("{real}\\NoSuch"));
    assert!(matches!(missing, Err(Error::BackingNotFound(_)) | Err(Error::NotFound)), "{missing:?}");
}

#[test]
fn names_are_case_insensitive_and_case_preserving() {
    let ns = ns();
    ns.link("/Foo", "Target");
    // Any spelling finds the entry; the listing shows the stored one.
    assert_eq!(ns.cat("/foo/cat.TXT"), "meow");
    assert_eq!(ns.cat("/FOO/CAT.txt"), "meow");
    assert_eq!(ns.view.getattr(&p("/fOo")).unwrap().kind, FileKind::Dir);
    assert_eq!(ns.ls("/foo"), ["Cat.txt", "shared.txt"]);
    // A new file keeps the case it was created with, in the view and on disk.
    ns.write_new("/foo/New.TXT", "n");
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "New.TXT", "shared.txt"]);
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "New.TXT", "shared.txt"]);
    // Creating it again in another case is "exists", not a second file.
    let again = ns.view.create(&p("/Foo/new.txt"), 0o644, OpenFlags::READ_WRITE).map(|_| ());
    assert_eq!(again, Err(Error::Exists));
    assert_eq!(ns.view.mkdir(&p("/Foo/CAT.TXT"), 0o755).map(|_| ()), Err(Error::Exists));
    // A case-only rename changes the stored name.
    ns.view.rename(&p("/Foo/cat.txt"), &p("/Foo/CAT.txt"), RenameFlags::default()).unwrap();
    assert_eq!(read(&ns.t.join("Target/CAT.txt")), "meow");
    let test = "names_are_case_insensitive_and_case_preserving";
    if !wine_lacks(test, "case-only renames (Wine keeps the old case, as MoveFileEx shows)") {
        assert_eq!(ns.ls("/Foo"), ["CAT.txt", "New.TXT", "shared.txt"]);
        assert_eq!(names_on_disk(&ns.t.join("Target")), ["CAT.txt", "New.TXT", "shared.txt"]);
    }
    // Removal in another case removes the entry.
    ns.view.unlink(&p("/FOO/new.txt")).unwrap();
    assert_eq!(names_on_disk(&ns.t.join("Target")).len(), 2);
    assert!(!ns.t.join("Target/New.TXT").exists());
}

#[test]
fn merged_listings_fold_names_and_the_backing_spelling_wins() {
    let ns = ns();
    // Made afresh in another case (a case-only rename is what Wine cannot do).
    fs::remove_file(ns.t.join("Target/shared.txt")).unwrap();
    put(&ns.t.join("Target/SHARED.TXT"), "backing version");
    ns.view.create_link(ns.flagged("/foo", "Target", false, true)).unwrap();
    // disk/Foo/shared.txt and t/Target/SHARED.TXT are one name: one entry, B's.
    assert_eq!(ns.ls("/Foo"), ["Cat.txt", "SHARED.TXT", "old.txt"]);
    assert_eq!(ns.cat("/Foo/shared.txt"), "backing version");
    assert_eq!(ns.cat("/FOO/OLD.TXT"), "on disk");
}

#[test]
fn names_are_reported_with_the_links_and_the_stores_spelling() {
    let ns = ns();
    put(&ns.t.join("Target/Sub/Deep.TXT"), "deep");
    ns.link("/Foo/Linked", "Target");
    // What the user typed is folded to the spelling the view holds: the link's own for its
    // V, the store's for every other component.
    let canonical = ns.view.canonical_path(&p("/FOO/linked/sub/deep.txt")).unwrap();
    assert_eq!(canonical.to_string(), "/Foo/Linked/Sub/Deep.TXT");
    let canonical = ns.view.canonical_path(&p("/foo/OLD.txt")).unwrap();
    assert_eq!(canonical.to_string(), "/Foo/old.txt");
    assert_eq!(ns.view.canonical_path(&p("/foo/linked/none")), Err(Error::NotFound));
}

#[test]
fn a_file_deleted_while_open_through_the_view_goes_at_once_and_stays_readable() {
    let ns = ns();
    ns.link("/Foo", "Target");
    let f = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ).unwrap();
    ns.view.unlink(&p("/Foo/Cat.txt")).unwrap();
    let mut buf = [0u8; 16];
    let n = ns.view.read(&f, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"meow");
    let test = "a_file_deleted_while_open_through_the_view_goes_at_once_and_stays_readable";
    if !wine_lacks(test, "POSIX deletion (FileDispositionInformationEx is not implemented)") {
        assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
        assert_eq!(ns.ls("/Foo"), ["shared.txt"]);
        assert_eq!(names_on_disk(&ns.t.join("Target")), ["shared.txt"]);
        // The name is free again at once.
        ns.write_new("/Foo/Cat.txt", "new");
        assert_eq!(read(&ns.t.join("Target/Cat.txt")), "new");
        ns.view.unlink(&p("/Foo/Cat.txt")).unwrap();
    }
    // Gone for good once the last handle closes.
    drop(f);
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
    assert_eq!(ns.ls("/Foo"), ["shared.txt"]);
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["shared.txt"]);
}

#[test]
fn a_file_open_elsewhere_without_share_delete_is_not_deleted_or_renamed() {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    let ns = ns();
    ns.link("/Foo", "Target");
    let held =
        fs::OpenOptions::new().read(true).share_mode(FILE_SHARE_READ).open(ns.t.join("Target/Cat.txt"));
    let held = held.unwrap();
    assert!(ns.view.unlink(&p("/Foo/Cat.txt")).is_err(), "deleted a file held without share-delete");
    let renamed = ns.view.rename(&p("/Foo/Cat.txt"), &p("/Foo/Moved.txt"), RenameFlags::default());
    assert!(renamed.is_err(), "renamed a file held without share-delete");
    drop(held);
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(ns.cat("/Foo/Cat.txt"), "meow");
}

#[test]
fn renames_replace_unless_told_not_to() {
    let ns = ns();
    ns.link("/Foo", "Target");
    let keep = RenameFlags { no_replace: true, ..RenameFlags::default() };
    assert_eq!(ns.view.rename(&p("/Foo/Cat.txt"), &p("/Foo/shared.txt"), keep), Err(Error::Exists));
    assert_eq!(read(&ns.t.join("Target/shared.txt")), "backing version");
    // A different case of the target is the same target.
    assert_eq!(ns.view.rename(&p("/Foo/Cat.txt"), &p("/Foo/SHARED.txt"), keep), Err(Error::Exists));
    // Windows has no atomic exchange: refused, and nothing moves.
    let exchange = RenameFlags { exchange: true, ..RenameFlags::default() };
    assert_eq!(ns.view.rename(&p("/Foo/Cat.txt"), &p("/Foo/shared.txt"), exchange), Err(Error::NotSupported));
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow");
    ns.view.rename(&p("/Foo/Cat.txt"), &p("/Foo/shared.txt"), RenameFlags::default()).unwrap();
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["shared.txt"]);
    assert_eq!(read(&ns.t.join("Target/shared.txt")), "meow");
    // Across links on one volume, and into a new directory name.
    ns.link("/Bar", "Target2");
    ns.view.rename(&p("/Foo/shared.txt"), &p("/Bar/Dog.txt"), RenameFlags::default()).unwrap();
    assert_eq!(read(&ns.t.join("Target2/Dog.txt")), "meow");
    assert!(names_on_disk(&ns.t.join("Target")).is_empty());
    // A file replaced while open (with share-delete, as every open of the store is) keeps
    // serving its handle, as rename(2) over an open file does on Linux.
    put(&ns.t.join("Target2/a.txt"), "a");
    let f = ns.view.open(&p("/Bar/Dog.txt"), OpenFlags::READ).unwrap();
    if wine_lacks("renames_replace_unless_told_not_to", "replacing an open file (POSIX rename semantics)") {
        return;
    }
    ns.view.rename(&p("/Bar/a.txt"), &p("/Bar/Dog.txt"), RenameFlags::default()).unwrap();
    let mut buf = [0u8; 16];
    let n = ns.view.read(&f, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"meow");
    assert_eq!(ns.cat("/Bar/Dog.txt"), "a");
}

#[test]
fn rule_18_a_file_open_through_a_removed_link_can_still_be_written_and_deleted() {
    let ns = ns();
    ns.link("/Foo", "Target");
    let f = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).unwrap();
    ns.view.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
    assert_eq!(ns.view.write(&f, 4, b"!").unwrap(), 1);
    assert_eq!(read(&ns.t.join("Target/Cat.txt")), "meow!");
    assert_eq!(ns.view.handle_attr(&f).unwrap().size, 5);
    // The file can go on disk while the handle lives.
    fs::remove_file(ns.t.join("Target/Cat.txt")).unwrap();
    let mut buf = [0u8; 16];
    let n = ns.view.read(&f, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"meow!");
}

/// `SECURITY_INFORMATION` part: the DACL.
const DACL: u32 = 0x4;

/// A self-relative descriptor holding only a DACL that allows everyone all access, followed by
/// `extra` more allowing entries (for distinct made-up SIDs), to make it as long as needed.
fn dacl_descriptor(extra: u32) -> Vec<u8> {
    let everyone = [1u8, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]; // S-1-1-0
    let mut aces = Vec::new();
    let mut ace = |sid: &[u8]| {
        aces.extend([0u8, 0]); // ACCESS_ALLOWED_ACE_TYPE, no inheritance flags
        aces.extend(u16::try_from(8 + sid.len()).unwrap().to_le_bytes());
        aces.extend(0x001F_01FFu32.to_le_bytes()); // FILE_ALL_ACCESS
        aces.extend(sid);
    };
    ace(&everyone);
    for i in 0..extra {
        // S-1-5-21-1-2-i
        let mut sid = vec![1u8, 4, 0, 0, 0, 0, 0, 5];
        for part in [21u32, 1, 2, i] {
            sid.extend(part.to_le_bytes());
        }
        ace(&sid);
    }
    let mut d = vec![1u8, 0, 0x04, 0x80]; // revision, sbz1, SE_SELF_RELATIVE | SE_DACL_PRESENT
    for offset in [0u32, 0, 0, 20] {
        d.extend(offset.to_le_bytes());
    }
    d.extend([2u8, 0]); // ACL revision
    d.extend(u16::try_from(8 + aces.len()).unwrap().to_le_bytes());
    d.extend(u16::try_from(1 + extra).unwrap().to_le_bytes());
    d.extend([0u8, 0]);
    d.extend(aces);
    d
}

/// The DACL of a self-relative descriptor, as bytes.
fn dacl_of(descriptor: &[u8]) -> Vec<u8> {
    let at = u32::from_le_bytes(descriptor[16..20].try_into().unwrap()) as usize;
    assert_ne!(at, 0, "no DACL");
    let size = u16::from_le_bytes(descriptor[at + 2..at + 4].try_into().unwrap()) as usize;
    descriptor[at..at + size].to_vec()
}

/// The access mask the DACL of `descriptor` allows everyone (S-1-1-0), if it names everyone.
fn everyone_mask(descriptor: &[u8]) -> Option<u32> {
    let acl = dacl_of(descriptor);
    let count = u16::from_le_bytes([acl[4], acl[5]]);
    let mut at = 8;
    let mut mask = None;
    for _ in 0..count {
        let size = u16::from_le_bytes([acl[at + 2], acl[at + 3]]) as usize;
        if acl[at] == 0 && acl[at + 8..at + size] == [1u8, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0] {
            mask = Some(mask.unwrap_or(0) | u32::from_le_bytes(acl[at + 4..at + 8].try_into().unwrap()));
        }
        at += size;
    }
    mask
}

#[test]
fn rule_22_security_descriptors_pass_through_both_ways() {
    const FILE_WRITE_DATA: u32 = 0x2;
    let ns = ns();
    ns.link("/Foo", "Target");
    let real = ns.t.join("Target/Cat.txt");
    let on_disk = || {
        let store = WindowsBacking::open(&abs(&ns.t)).unwrap();
        store.get_security(&store.open_host(&abs(&real)).unwrap()).unwrap()
    };
    let before = ns.view.get_security(&p("/Foo/Cat.txt")).unwrap().expect("a descriptor");
    assert_eq!(dacl_of(&before), dacl_of(&on_disk()));
    assert_eq!(everyone_mask(&before).unwrap_or(0) & FILE_WRITE_DATA, 0, "everyone may write already");
    // Everyone may write once the view passes that DACL on: through the view and on the real
    // file, as a second store reading it by its whole path sees.
    ns.view.set_security(&p("/Foo/Cat.txt"), DACL, &dacl_descriptor(0)).unwrap();
    let shown = ns.view.get_security(&p("/Foo/Cat.txt")).unwrap().expect("a descriptor");
    assert_ne!(everyone_mask(&shown).unwrap_or(0) & FILE_WRITE_DATA, 0, "{shown:?}");
    assert_eq!(dacl_of(&shown), dacl_of(&on_disk()));
    let test = "rule_22_security_descriptors_pass_through_both_ways";
    if !wine_lacks(test, "keeping a DACL as set (Wine keeps only the mode bits it maps to)") {
        // Small and over 1 KiB (the size WinFsp first asks with): both arrive whole.
        for extra in [0, 40] {
            let wanted = dacl_descriptor(extra);
            ns.view.set_security(&p("/Foo/Cat.txt"), DACL, &wanted).unwrap();
            let shown = ns.view.get_security(&p("/Foo/Cat.txt")).unwrap().expect("a descriptor");
            assert_eq!(dacl_of(&shown), dacl_of(&wanted), "{extra} extra entries");
            assert_eq!(dacl_of(&on_disk()), dacl_of(&wanted), "{extra} extra entries, on disk");
        }
        assert!(dacl_of(&dacl_descriptor(40)).len() > 1024);
    }
    // A cut descriptor is refused, not read past its end.
    let cut = dacl_descriptor(2);
    let cut = &cut[..cut.len() - 4];
    assert!(ns.view.set_security(&p("/Foo/Cat.txt"), DACL, cut).is_err());
    // Through a read-only link, security is a change like any other (rule 13).
    ns.view.create_link(ns.flagged("/RO", "Target2", true, false)).unwrap();
    assert!(ns.view.get_security(&p("/RO/Dog.txt")).unwrap().is_some());
    let refused = ns.view.set_security(&p("/RO/Dog.txt"), DACL, &dacl_descriptor(0));
    assert_eq!(refused, Err(Error::ReadOnly));
}

#[test]
fn rule_24_reparse_points_in_b_show_as_links_and_are_never_followed() {
    let ns = ns();
    let outside = ns.tmp.path().join("outside");
    put(&outside.join("secret.txt"), "outside B");
    // Made as a user would; Wine's CreateSymbolicLink reports success and makes nothing, and
    // its cmd has no `mklink /J`, so what exists afterwards is what is checked.
    let target = ns.t.join("Target");
    let _ = std::os::windows::fs::symlink_file(outside.join("secret.txt"), target.join("file-link"));
    let _ = std::os::windows::fs::symlink_dir(&outside, target.join("dir-link"));
    let _ = std::process::Command::new("cmd")
        .args(["/c", "mklink", "/J"])
        .arg(target.join("junction"))
        .arg(&outside)
        .output();
    let made: Vec<&str> = ["file-link", "dir-link", "junction"]
        .into_iter()
        .filter(|n| fs::symlink_metadata(target.join(n)).is_ok())
        .collect();
    let test = "rule_24_reparse_points_in_b_show_as_links_and_are_never_followed";
    if made.len() < 3 && wine_lacks(test, "making symlinks and junctions (reported made, never made)") {
        assert!(made.is_empty(), "Wine made some links after all: check them: {made:?}");
        return;
    }
    assert_eq!(made.len(), 3, "made only {made:?}");
    ns.link("/Foo", "Target");
    for name in made {
        let v = format!("/Foo/{name}");
        let attr = ns.view.getattr(&p(&v)).unwrap();
        assert_eq!(attr.kind, FileKind::Symlink, "{name}");
        assert_eq!(ns.kind_listed("/Foo", name), Some(FileKind::Symlink), "{name}");
        // A junction or directory symlink keeps its directory bit (Explorer shows a folder).
        let dir_bit = attr.win_attributes & bindfs_core::win_attr::DIRECTORY != 0;
        assert_eq!(dir_bit, name != "file-link", "{name}: {:#x}", attr.win_attributes);
        // The reparse data, unchanged: it starts with the tag (symlink or mount point).
        let data = ns.view.readlink(&p(&v)).unwrap();
        let tag = u32::from_le_bytes(data[..4].try_into().unwrap());
        assert!(matches!(tag, 0xA000_000C | 0xA000_0003), "{name}: tag {tag:#x}");
        // Never followed by the store: nothing of `outside` shows through it.
        assert!(ns.view.readdir(&p(&v)).is_err(), "{name} listed as a directory");
        assert!(ns.view.getattr(&p(&format!("{v}/secret.txt"))).is_err(), "{name} followed");
        if name == "file-link" {
            let opened = ns.view.open(&p(&v), OpenFlags::READ).map(|f| {
                let mut buf = [0u8; 16];
                let n = ns.view.read(&f, 0, &mut buf).unwrap_or(0);
                buf[..n].to_vec()
            });
            assert_ne!(opened, Ok(b"outside B".to_vec()), "{name}: read the file it points at");
        }
    }
    // Removing a link through V removes the link, never what it points at.
    ns.view.unlink(&p("/Foo/file-link")).unwrap();
    assert_eq!(read(&outside.join("secret.txt")), "outside B");
}

#[test]
fn read_only_is_the_files_read_only_attribute_both_ways() {
    use bindfs_core::SetAttr;
    let ns = ns();
    ns.link("/Foo", "Target");
    let real = ns.t.join("Target/Cat.txt");
    let chmod = |perm| SetAttr { perm: Some(perm), ..SetAttr::default() };
    // The file's other attributes (here SYSTEM, set as a user would) stay as they are.
    const FILE_ATTRIBUTE_SYSTEM: u32 = 0x4;
    let attrib = std::process::Command::new("attrib").arg("+s").arg(&real).status();
    assert!(attrib.is_ok_and(|s| s.success()));
    let attributes = || std::os::windows::fs::MetadataExt::file_attributes(&fs::metadata(&real).unwrap());
    assert_ne!(attributes() & FILE_ATTRIBUTE_SYSTEM, 0);
    assert_eq!(ns.view.setattr(&p("/Foo/Cat.txt"), &chmod(0o444)).unwrap().perm, 0o444);
    assert_ne!(attributes() & FILE_ATTRIBUTE_SYSTEM, 0, "chmod dropped SYSTEM");
    assert!(fs::metadata(&real).unwrap().permissions().readonly());
    assert_eq!(ns.view.setattr(&p("/Foo/Cat.txt"), &chmod(0o644)).unwrap().perm, 0o666);
    assert!(!fs::metadata(&real).unwrap().permissions().readonly());
    assert_ne!(attributes() & FILE_ATTRIBUTE_SYSTEM, 0, "chmod dropped SYSTEM");
    ns.write("/Foo/Cat.txt", "purr");
    assert_eq!(read(&real), "purr");
    // Made read-only outside the view: shown so.
    let mut perms = fs::metadata(&real).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&real, perms).unwrap();
    assert_eq!(ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().perm, 0o444);
}

#[test]
fn a_file_created_read_only_can_be_written_through_the_handle_that_made_it() {
    let ns = ns();
    ns.link("/Foo", "Target");
    let (attr, f) = ns.view.create(&p("/Foo/ro.txt"), 0o444, OpenFlags::READ_WRITE).unwrap();
    assert_eq!(attr.perm, 0o444);
    assert_eq!(ns.view.write(&f, 0, b"data").unwrap(), 4);
    drop(f);
    assert_eq!(read(&ns.t.join("Target/ro.txt")), "data");
    assert!(fs::metadata(ns.t.join("Target/ro.txt")).unwrap().permissions().readonly());
}

#[test]
fn a_read_only_file_is_deleted_through_the_view_like_any_other() {
    // As unlink(2) on the Linux store, and as the store's POSIX deletion (which ignores the
    // read-only attribute) does on NTFS: the same on file systems without POSIX deletion.
    let ns = ns();
    ns.link("/Foo", "Target");
    let real = ns.t.join("Target/Cat.txt");
    let mut perms = fs::metadata(&real).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(&real, perms).unwrap();
    ns.view.unlink(&p("/Foo/Cat.txt")).unwrap();
    assert!(!real.exists());
    assert_eq!(ns.ls("/Foo"), ["shared.txt"]);
    // A read-only directory too.
    fs::create_dir(ns.t.join("Target/ro-dir")).unwrap();
    let mut perms = fs::metadata(ns.t.join("Target/ro-dir")).unwrap().permissions();
    perms.set_readonly(true);
    fs::set_permissions(ns.t.join("Target/ro-dir"), perms).unwrap();
    ns.view.rmdir(&p("/Foo/ro-dir")).unwrap();
    assert_eq!(names_on_disk(&ns.t.join("Target")), ["shared.txt"]);
}

#[test]
fn big_directories_list_whole_across_many_reads() {
    let ns = ns();
    let dir = ns.t.join("Big");
    fs::create_dir(&dir).unwrap();
    // Long names: the listing takes several 64 KiB directory reads.
    let long = "n".repeat(200);
    let mut want: Vec<String> = (0..1500).map(|i| format!("{long}-{i:04}.txt")).collect();
    for name in &want {
        fs::write(dir.join(name), "").unwrap();
    }
    ns.link("/Big", "Big");
    want.sort();
    assert_eq!(ns.ls("/Big"), want);
}

#[test]
fn unicode_names_fold_case_and_keep_their_spelling() {
    let ns = ns();
    put(&ns.t.join("Target/Ärger Éé.txt"), "u");
    ns.link("/Foo", "Target");
    assert_eq!(ns.cat("/foo/äRGER ÉÉ.TXT"), "u");
    let canonical = ns.view.canonical_path(&p("/foo/ärger éé.txt")).unwrap();
    assert_eq!(canonical.to_string(), "/Foo/Ärger Éé.txt");
    ns.write_new("/Foo/Ünïcödé.txt", "n");
    assert_eq!(read(&ns.t.join("Target/Ünïcödé.txt")), "n");
    assert!(ns.ls("/Foo").contains(&"Ünïcödé.txt".to_owned()));
}

#[test]
fn hidden_system_and_creation_time_show_and_reach_the_real_file() {
    use bindfs_core::{SetAttr, SetTime, Timestamp, win_attr};
    use std::os::windows::fs::MetadataExt;
    let ns = ns();
    ns.link("/Foo", "Target");
    ns.view.create_link(ns.flagged("/RO", "Target2", true, false)).unwrap();
    let real = ns.t.join("Target/Cat.txt");
    let attributes = || fs::metadata(&real).unwrap().file_attributes();
    // Set as a user would (attrib +h), shown through the view.
    let attrib = std::process::Command::new("attrib").arg("+h").arg(&real).status();
    assert!(attrib.is_ok_and(|s| s.success()));
    let shown = ns.view.getattr(&p("/Foo/Cat.txt")).unwrap();
    assert_ne!(shown.win_attributes & win_attr::HIDDEN, 0, "{:#x}", shown.win_attributes);
    // Set through the view: exactly the bits given, read-only left to the mode.
    let system = SetAttr { win_attributes: Some(win_attr::SYSTEM), ..SetAttr::default() };
    let shown = ns.view.setattr(&p("/Foo/Cat.txt"), &system).unwrap();
    assert_eq!(shown.win_attributes & (win_attr::HIDDEN | win_attr::SYSTEM), win_attr::SYSTEM);
    assert_eq!(attributes() & 0x6, 0x4, "{:#x}", attributes());
    assert!(!fs::metadata(&real).unwrap().permissions().readonly());
    let none = SetAttr { win_attributes: Some(0), ..SetAttr::default() };
    assert_eq!(ns.view.setattr(&p("/Foo/Cat.txt"), &none).unwrap().win_attributes & win_attr::SYSTEM, 0);
    assert_eq!(attributes() & 0x6, 0);
    // A directory takes them too.
    let hidden = SetAttr { win_attributes: Some(win_attr::HIDDEN), ..SetAttr::default() };
    ns.view.mkdir(&p("/Foo/d"), 0o777).unwrap();
    assert_eq!(ns.view.setattr(&p("/Foo/d"), &hidden).unwrap().kind, FileKind::Dir);
    assert_ne!(fs::metadata(ns.t.join("Target/d")).unwrap().file_attributes() & 0x2, 0);
    // The creation time is the file's own.
    let created =
        fs::metadata(&real).unwrap().created().unwrap().duration_since(std::time::UNIX_EPOCH).unwrap();
    let btime = ns.view.getattr(&p("/Foo/Cat.txt")).unwrap().btime.unwrap();
    assert_eq!((btime.secs as u64, btime.nanos), (created.as_secs(), created.subsec_nanos() / 100 * 100));
    // A read-only link refuses both.
    let born = Timestamp { secs: 1_000_000_000, nanos: 0 };
    let birth = SetAttr { btime: Some(SetTime::At(born)), ..SetAttr::default() };
    assert_eq!(ns.view.setattr(&p("/RO/Dog.txt"), &birth).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(ns.view.setattr(&p("/RO/Dog.txt"), &hidden).map(|_| ()), Err(Error::ReadOnly));
    // Setting it.
    let shown = ns.view.setattr(&p("/Foo/Cat.txt"), &birth).unwrap();
    let test = "hidden_system_and_creation_time_show_and_reach_the_real_file";
    if shown.btime != Some(born) && wine_lacks(test, "setting the creation time") {
        return;
    }
    assert_eq!(shown.btime, Some(born));
    let created = fs::metadata(&real).unwrap().created().unwrap();
    assert_eq!(created, std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000));
}

#[test]
fn times_sizes_and_appends_reach_the_real_file() {
    use bindfs_core::{SetAttr, SetTime, Timestamp};
    let ns = ns();
    ns.link("/Foo", "Target");
    let real = ns.t.join("Target/Cat.txt");
    let t = Timestamp { secs: 1_500_000_000, nanos: 123_456_700 };
    let times = SetAttr { mtime: Some(SetTime::At(t)), atime: Some(SetTime::At(t)), ..SetAttr::default() };
    let shown = ns.view.setattr(&p("/Foo/Cat.txt"), &times).unwrap();
    assert_eq!(shown.mtime, t);
    let modified = fs::metadata(&real).unwrap().modified().unwrap();
    let since = modified.duration_since(std::time::UNIX_EPOCH).unwrap();
    assert_eq!((since.as_secs(), since.subsec_nanos()), (1_500_000_000, 123_456_700));
    assert_eq!(read(&real), "meow");
    // Appends go to the end whatever the offset.
    let append = OpenFlags { append: true, ..OpenFlags::READ_WRITE };
    let f = ns.view.open(&p("/Foo/Cat.txt"), append).unwrap();
    ns.view.write(&f, 0, b"!").unwrap();
    ns.view.write(&f, 0, b"?").unwrap();
    drop(f);
    assert_eq!(read(&real), "meow!?");
    // Growing and shrinking.
    let grow = SetAttr { size: Some(10), ..SetAttr::default() };
    assert_eq!(ns.view.setattr(&p("/Foo/Cat.txt"), &grow).unwrap().size, 10);
    assert_eq!(fs::read(&real).unwrap(), b"meow!?\0\0\0\0");
    let f = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags { truncate: true, ..OpenFlags::READ_WRITE }).unwrap();
    assert_eq!(ns.view.write(&f, 3, b"x").unwrap(), 1);
    drop(f);
    assert_eq!(fs::read(&real).unwrap(), b"\0\0\0x");
    // A write far out, and reading past the end.
    let f = ns.view.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).unwrap();
    assert_eq!(ns.view.write(&f, 1 << 20, b"end").unwrap(), 3);
    let mut buf = [0u8; 8];
    assert_eq!(ns.view.read(&f, (1 << 20) + 3, &mut buf).unwrap(), 0);
    assert_eq!(fs::metadata(&real).unwrap().len(), (1 << 20) + 3);
    let st = ns.view.statfs(&p("/Foo/Cat.txt")).unwrap();
    assert!(st.blocks > 0 && st.bsize > 0 && st.bavail <= st.blocks, "{st:?}");
}

#[test]
fn directories_rename_and_replace_like_files() {
    let ns = ns();
    ns.link("/Foo", "Target");
    ns.view.mkdir(&p("/Foo/a"), 0o755).unwrap();
    put(&ns.t.join("Target/a/in.txt"), "in");
    ns.view.mkdir(&p("/Foo/empty"), 0o755).unwrap();
    // Over a non-empty directory or a file: refused, as on Linux. Over an empty directory:
    // refused too, as Windows never replaces a directory (MoveFileEx fails the same way),
    // where rename(2) would; nothing moves.
    ns.view.mkdir(&p("/Foo/full"), 0o755).unwrap();
    put(&ns.t.join("Target/full/x"), "x");
    assert_eq!(ns.view.rename(&p("/Foo/a"), &p("/Foo/full"), RenameFlags::default()), Err(Error::NotEmpty));
    assert_eq!(ns.view.rename(&p("/Foo/a"), &p("/Foo/Cat.txt"), RenameFlags::default()), Err(Error::NotDir));
    assert!(ns.view.rename(&p("/Foo/a"), &p("/Foo/empty"), RenameFlags::default()).is_err());
    assert!(fs::rename(ns.t.join("Target/a"), ns.t.join("Target/empty")).is_err(), "Windows replaced a dir");
    assert_eq!(read(&ns.t.join("Target/a/in.txt")), "in");
    assert!(names_on_disk(&ns.t.join("Target/empty")).is_empty());
    // Into a new name in another link's backing on the same volume.
    ns.link("/Bar", "Target2");
    ns.view.rename(&p("/Foo/a"), &p("/Bar/moved"), RenameFlags::default()).unwrap();
    assert_eq!(read(&ns.t.join("Target2/moved/in.txt")), "in");
    assert_eq!(ns.ls("/Bar/moved"), ["in.txt"]);
    assert_eq!(ns.view.rmdir(&p("/Bar/moved")), Err(Error::NotEmpty));
}

#[test]
fn rule_19_removing_v_acts_on_b_whichever_way_b_was_spelled() {
    let ns = ns();
    let real = ns.t.to_str().unwrap().to_owned();
    link_to(&ns, "/Dir", &format!("\\\\?\\{}\\EMPTY", real.to_uppercase())).unwrap();
    link_to(&ns, "/File", &format!("{}/./Target/../FILE.TXT", real.to_lowercase())).unwrap();
    ns.view.rmdir(&p("/Dir")).unwrap();
    ns.view.unlink(&p("/File")).unwrap();
    assert_eq!(names_on_disk(&ns.t), ["Target", "Target2"]);
    assert_eq!(ns.view.links().len(), 2);
}
