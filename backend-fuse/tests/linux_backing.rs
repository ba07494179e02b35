//! `LinuxBacking` on real temporary directories: every port method, and above all that no method
//! follows a symlink inside a backing tree. Security tests run twice: with `openat2` and with the
//! per-component `openat` fallback of older kernels.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
use std::path::Path;

use bindfs_core::{
    AbsPath, Backing, Error, FileKind, Name, OpenFlags, RenameFlags, SetAttr, SetTime, Syntax, Timestamp,
    XattrMode,
};
use bindfs_fuse::{LinuxBacking, LinuxNode};
use tempfile::TempDir;

/// A fresh directory and a backing rooted at it.
struct Fixture {
    dir: TempDir,
    backing: LinuxBacking,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let backing = LinuxBacking::open(dir.path()).unwrap();
        Fixture { dir, backing }
    }

    /// Both resolution strategies over fresh directories.
    fn both() -> Vec<Fixture> {
        let fallback = Fixture::new();
        let fallback = Fixture { backing: fallback.backing.without_openat2(), dir: fallback.dir };
        vec![Fixture::new(), fallback]
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    fn root(&self) -> LinuxNode {
        self.backing.open_disk_root().unwrap()
    }

    fn node(&self, rel: &str) -> LinuxNode {
        self.backing.walk(&self.root(), &names(rel)).unwrap()
    }

    fn read_all(&self, node: &LinuxNode) -> Vec<u8> {
        let file = self.backing.open(node, OpenFlags::READ).unwrap();
        let mut out = Vec::new();
        let mut buf = [0u8; 7]; // small, so reads loop over offsets
        loop {
            let n = self.backing.read(&file, out.len() as u64, &mut buf).unwrap();
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    fn mode(&self) -> &'static str {
        if self.backing.uses_openat2() { "openat2" } else { "openat fallback" }
    }
}

fn name(s: impl AsRef<[u8]>) -> Name {
    Name::posix(s).unwrap()
}

fn names(rel: &str) -> Vec<Name> {
    rel.split('/').filter(|s| !s.is_empty()).map(name).collect()
}

fn host(p: &Path) -> AbsPath {
    AbsPath::parse_bytes(p.as_os_str().as_bytes(), Syntax::Posix).unwrap()
}

// ---- construction and roots

#[test]
fn backing_is_built_from_a_directory_descriptor_or_path() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("f"), b"x").unwrap();
    let fd: OwnedFd = fs::File::open(dir.path()).unwrap().into();
    let backing = LinuxBacking::new(fd).unwrap();
    let root = backing.open_disk_root().unwrap();
    assert_eq!(backing.stat(&root).unwrap().ino, fs::metadata(dir.path()).unwrap().ino());
    assert_eq!(backing.stat(&root).unwrap().kind, FileKind::Dir);

    let file_fd: OwnedFd = fs::File::open(dir.path().join("f")).unwrap().into();
    assert_eq!(LinuxBacking::new(file_fd).err(), Some(Error::NotDir));
    assert_eq!(LinuxBacking::open(&dir.path().join("f")).err(), Some(Error::NotDir));
    assert_eq!(LinuxBacking::open(&dir.path().join("missing")).err(), Some(Error::NotFound));
}

#[test]
fn open_host_follows_the_administrators_own_symlinks() {
    let fx = Fixture::new();
    fs::create_dir(fx.path("real")).unwrap();
    fs::write(fx.path("real/inside"), b"hello").unwrap();
    symlink(fx.path("real"), fx.path("alias")).unwrap();

    let b = fx.backing.open_host(&host(&fx.path("alias"))).unwrap();
    let attr = fx.backing.stat(&b).unwrap();
    assert_eq!(attr.kind, FileKind::Dir);
    assert_eq!(attr.ino, fs::metadata(fx.path("real")).unwrap().ino());
    let inside = fx.backing.lookup(&b, &name("inside")).unwrap();
    assert_eq!(fx.read_all(&inside), b"hello");

    // The parent of what the path names: through the alias to the real directory (rule 19).
    let (parent, last) = fx.backing.open_host_parent(&host(&fx.path("alias"))).unwrap();
    assert_eq!(last, name("real"));
    assert_eq!(fx.backing.stat(&parent).unwrap().ino, fs::metadata(fx.dir.path()).unwrap().ino());

    assert_eq!(fx.backing.open_host(&host(&fx.path("missing"))).err(), Some(Error::NotFound));
    let windows = AbsPath::parse("C:\\data", Syntax::Windows).unwrap();
    assert_eq!(fx.backing.open_host(&windows).err(), Some(Error::NotSupported));
}

// ---- lookup and walk: never through a symlink

#[test]
fn lookup_of_a_final_symlink_returns_the_symlink_itself() {
    for fx in Fixture::both() {
        symlink("/etc", fx.path("sl")).unwrap();
        let sl = fx.backing.lookup(&fx.root(), &name("sl")).unwrap();
        assert_eq!(fx.backing.stat(&sl).unwrap().kind, FileKind::Symlink, "{}", fx.mode());
        assert_eq!(fx.backing.readlink(&sl).unwrap(), b"/etc");
        assert_eq!(fx.backing.stat(&sl).unwrap().ino, fs::symlink_metadata(fx.path("sl")).unwrap().ino());
        // The symlink node is no directory: nothing of /etc is reachable through it.
        assert_eq!(fx.backing.lookup(&sl, &name("passwd")).err(), Some(Error::NotDir), "{}", fx.mode());
        assert_eq!(fx.backing.read_dir(&sl).err(), Some(Error::NotDir));
        let via_walk = fx.backing.walk(&fx.root(), &names("sl")).unwrap();
        assert_eq!(fx.backing.stat(&via_walk).unwrap().kind, FileKind::Symlink);
    }
}

#[test]
fn walk_refuses_a_symlink_mid_path() {
    for fx in Fixture::both() {
        fs::create_dir_all(fx.path("a/b")).unwrap();
        symlink("/etc", fx.path("a/etc")).unwrap();
        symlink("..", fx.path("a/up")).unwrap();
        symlink("b", fx.path("a/rel")).unwrap();
        fs::write(fx.path("a/b/passwd"), b"mine").unwrap();

        for rel in ["a/etc/passwd", "a/up/a/b/passwd", "a/rel/passwd"] {
            let got = fx.backing.walk(&fx.root(), &names(rel));
            assert_eq!(got.err(), Some(Error::Os(libc::ELOOP)), "{rel} ({})", fx.mode());
        }
        let own = fx.backing.walk(&fx.root(), &names("a/b/passwd")).unwrap();
        assert_eq!(fx.read_all(&own), b"mine");
    }
}

#[test]
fn a_directory_replaced_by_a_symlink_is_not_followed() {
    for fx in Fixture::both() {
        fs::create_dir(fx.path("d")).unwrap();
        fs::write(fx.path("d/passwd"), b"backing content").unwrap();
        let before = fx.node("d/passwd");
        assert_eq!(fx.read_all(&before), b"backing content");

        // An attacker with write access swaps the directory for a symlink to /etc.
        fs::rename(fx.path("d"), fx.path("moved")).unwrap();
        symlink("/etc", fx.path("d")).unwrap();

        let walked = fx.backing.walk(&fx.root(), &names("d/passwd"));
        assert_eq!(walked.err(), Some(Error::Os(libc::ELOOP)), "{}", fx.mode());
        let d = fx.backing.lookup(&fx.root(), &name("d")).unwrap();
        assert_eq!(fx.backing.stat(&d).unwrap().kind, FileKind::Symlink);
        assert_eq!(fx.backing.lookup(&d, &name("passwd")).err(), Some(Error::NotDir));
        assert_eq!(fx.backing.read_dir(&d).err(), Some(Error::NotDir));
        // The node taken before the swap still holds the backing file, not /etc/passwd.
        assert_eq!(fx.read_all(&before), b"backing content");
    }
}

#[test]
fn walk_finds_plain_paths_and_reports_what_is_missing() {
    for fx in Fixture::both() {
        fs::create_dir_all(fx.path("x/y/z")).unwrap();
        fs::write(fx.path("x/y/z/f"), b"deep").unwrap();
        fs::write(fx.path("file"), b"").unwrap();

        assert_eq!(fx.read_all(&fx.node("x/y/z/f")), b"deep");
        let x = fx.node("x");
        assert_eq!(fx.read_all(&fx.backing.walk(&x, &names("y/z/f")).unwrap()), b"deep");
        let same = fx.backing.walk(&x, &[]).unwrap();
        assert_eq!(fx.backing.stat(&same).unwrap().ino, fx.backing.stat(&x).unwrap().ino);

        let root = fx.root();
        assert_eq!(fx.backing.walk(&root, &names("x/nope/f")).err(), Some(Error::NotFound));
        assert_eq!(fx.backing.walk(&root, &names("file/f")).err(), Some(Error::NotDir));
        assert_eq!(fx.backing.lookup(&root, &name("nope")).err(), Some(Error::NotFound));
        assert_eq!(fx.backing.lookup(&fx.node("file"), &name("f")).err(), Some(Error::NotDir));
    }
}

#[test]
fn walk_handles_paths_longer_than_path_max() {
    for fx in Fixture::both() {
        let long = name(vec![b'd'; 200]);
        let mut dir = fx.root();
        for _ in 0..30 {
            dir = fx.backing.mkdir(&dir, &long, 0o755).unwrap();
        }
        let (_, file) = fx.backing.create(&dir, &name("leaf"), 0o644, OpenFlags::READ_WRITE).unwrap();
        fx.backing.write(&file, 0, b"far").unwrap();

        let mut rel = vec![long.clone(); 30];
        rel.push(name("leaf"));
        let leaf = fx.backing.walk(&fx.root(), &rel).unwrap();
        assert_eq!(fx.read_all(&leaf), b"far", "{}", fx.mode());
    }
}

// ---- attributes

#[test]
fn stat_reports_what_the_file_system_holds() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"12345").unwrap();
    let meta = fs::symlink_metadata(fx.path("f")).unwrap();
    let attr = fx.backing.stat(&fx.node("f")).unwrap();
    assert_eq!(attr.kind, FileKind::File);
    assert_eq!(attr.size, 5);
    assert_eq!(attr.perm, meta.mode() & 0o7777);
    assert_eq!(attr.nlink, 1);
    assert_eq!((attr.uid, attr.gid), (meta.uid(), meta.gid()));
    assert_eq!((attr.dev, attr.ino), (meta.dev(), meta.ino()));
    assert_eq!(attr.blocks, meta.blocks());
    assert_eq!(u64::from(attr.blksize), meta.blksize());
    assert_eq!(attr.mtime, Timestamp { secs: meta.mtime(), nanos: meta.mtime_nsec() as u32 });
    assert_eq!(attr.atime, Timestamp { secs: meta.atime(), nanos: meta.atime_nsec() as u32 });
    assert_eq!(attr.ctime, Timestamp { secs: meta.ctime(), nanos: meta.ctime_nsec() as u32 });
}

#[test]
fn set_attr_changes_mode_size_times_and_owner() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"abcdef").unwrap();
    let f = fx.node("f");

    let attr = fx.backing.set_attr(&f, &SetAttr { perm: Some(0o4751), ..SetAttr::default() }).unwrap();
    assert_eq!(attr.perm, 0o4751);
    assert_eq!(fs::metadata(fx.path("f")).unwrap().permissions().mode() & 0o7777, 0o4751);

    let attr = fx.backing.set_attr(&f, &SetAttr { size: Some(3), ..SetAttr::default() }).unwrap();
    assert_eq!(attr.size, 3);
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"abc");

    let at = |secs, nanos| SetTime::At(Timestamp { secs, nanos });
    let times = SetAttr {
        atime: Some(at(1_000_000_000, 5)),
        mtime: Some(at(1_200_000_000, 123_456_789)),
        ..SetAttr::default()
    };
    let attr = fx.backing.set_attr(&f, &times).unwrap();
    assert_eq!(attr.atime, Timestamp { secs: 1_000_000_000, nanos: 5 });
    assert_eq!(attr.mtime, Timestamp { secs: 1_200_000_000, nanos: 123_456_789 });
    // Only mtime: atime stays.
    let attr = fx.backing.set_attr(&f, &SetAttr { mtime: Some(SetTime::Now), ..SetAttr::default() }).unwrap();
    assert_eq!(attr.atime, Timestamp { secs: 1_000_000_000, nanos: 5 });
    assert!(attr.mtime.secs > 1_200_000_000);

    // Owner and mode in one request: the mode survives the chown (which clears set-id bits).
    let both = SetAttr { uid: Some(1234), gid: Some(5678), perm: Some(0o2755), ..SetAttr::default() };
    let attr = fx.backing.set_attr(&f, &both).unwrap();
    assert_eq!((attr.uid, attr.gid, attr.perm), (1234, 5678, 0o2755));
    let meta = fs::metadata(fx.path("f")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1234, 5678));

    let unchanged = fx.backing.set_attr(&f, &SetAttr::default()).unwrap();
    assert_eq!(unchanged, fx.backing.stat(&f).unwrap());
}

#[test]
fn set_attr_on_symlinks_and_directories() {
    let fx = Fixture::new();
    fs::write(fx.path("target"), b"t").unwrap();
    fs::set_permissions(fx.path("target"), fs::Permissions::from_mode(0o644)).unwrap();
    symlink("target", fx.path("sl")).unwrap();
    fs::create_dir(fx.path("d")).unwrap();
    let sl = fx.node("sl");

    let chmod = SetAttr { perm: Some(0o600), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&sl, &chmod).err(), Some(Error::NotSupported));
    assert_eq!(fs::metadata(fx.path("target")).unwrap().mode() & 0o7777, 0o644);
    let truncate = SetAttr { size: Some(0), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&sl, &truncate).err(), Some(Error::InvalidArgument));
    assert_eq!(fx.backing.set_attr(&fx.node("d"), &truncate).err(), Some(Error::IsDir));
    assert_eq!(fs::read(fx.path("target")).unwrap(), b"t");

    // chown and utimes act on the link itself, not its target.
    let chown = SetAttr { uid: Some(4321), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&sl, &chown).unwrap().uid, 4321);
    assert_eq!(fs::symlink_metadata(fx.path("sl")).unwrap().uid(), 4321);
    assert_eq!(fs::metadata(fx.path("target")).unwrap().uid(), 0);
    let when = Timestamp { secs: 1_111_111_111, nanos: 0 };
    let utimes = SetAttr { mtime: Some(SetTime::At(when)), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&sl, &utimes).unwrap().mtime, when);
    assert_ne!(fs::metadata(fx.path("target")).unwrap().mtime(), when.secs);

    let attr =
        fx.backing.set_attr(&fx.node("d"), &SetAttr { perm: Some(0o700), ..SetAttr::default() }).unwrap();
    assert_eq!((attr.kind, attr.perm), (FileKind::Dir, 0o700));
}

#[test]
fn set_attr_refuses_creation_time_and_windows_attributes_before_any_change() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"abc").unwrap();
    fs::set_permissions(fx.path("f"), fs::Permissions::from_mode(0o644)).unwrap();
    let f = fx.node("f");
    let before = fx.backing.stat(&f).unwrap();
    assert_eq!((before.btime, before.win_attributes), (None, 0));
    let when = SetTime::At(Timestamp { secs: 1_000_000_000, nanos: 0 });
    let birth = SetAttr { btime: Some(when), perm: Some(0o600), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&f, &birth).err(), Some(Error::NotSupported));
    let hidden =
        SetAttr { win_attributes: Some(bindfs_core::win_attr::HIDDEN), size: Some(0), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&f, &hidden).err(), Some(Error::NotSupported));
    // Neither refused request changed the mode or the content it came with.
    assert_eq!(fs::metadata(fx.path("f")).unwrap().mode() & 0o7777, 0o644);
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"abc");
    // "None of the bits" is already true on Linux.
    let none = SetAttr { win_attributes: Some(0), perm: Some(0o600), ..SetAttr::default() };
    assert_eq!(fx.backing.set_attr(&f, &none).unwrap().perm, 0o600);
}

#[test]
fn statfs_reports_the_file_system() {
    let fx = Fixture::new();
    let st = fx.backing.statfs(&fx.root()).unwrap();
    assert!(st.blocks > 0 && st.bsize > 0 && st.frsize > 0 && st.files > 0, "{st:?}");
    assert!(st.bfree <= st.blocks && st.bavail <= st.blocks);
    assert!(st.namelen >= 255);
}

// ---- directories

#[test]
fn read_dir_lists_names_with_kinds() {
    let fx = Fixture::new();
    fs::write(fx.path("file"), b"").unwrap();
    fs::create_dir(fx.path("dir")).unwrap();
    symlink("/nowhere", fx.path("link")).unwrap();
    fs::write(fx.dir.path().join(std::ffi::OsStr::from_bytes(b"bad\xffutf8")), b"").unwrap();
    fx.backing.mknod(&fx.root(), &name("pipe"), FileKind::Fifo, 0o644, 0).unwrap();

    let mut entries = fx.backing.read_dir(&fx.root()).unwrap();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let got: Vec<(&[u8], FileKind)> = entries.iter().map(|e| (e.name.as_bytes(), e.kind)).collect();
    assert_eq!(
        got,
        vec![
            (&b"bad\xffutf8"[..], FileKind::File),
            (b"dir", FileKind::Dir),
            (b"file", FileKind::File),
            (b"link", FileKind::Symlink),
            (b"pipe", FileKind::Fifo),
        ]
    );
    for e in &entries {
        assert_eq!(e.ino, fx.backing.stat(&fx.backing.lookup(&fx.root(), &e.name).unwrap()).unwrap().ino);
    }
    assert_eq!(fx.backing.read_dir(&fx.node("dir")).unwrap(), vec![]);
    assert_eq!(fx.backing.read_dir(&fx.node("file")).err(), Some(Error::NotDir));
}

#[test]
fn mkdir_and_rmdir() {
    let fx = Fixture::new();
    let d = fx.backing.mkdir(&fx.root(), &name("d"), 0o750).unwrap();
    let attr = fx.backing.stat(&d).unwrap();
    assert_eq!(attr.kind, FileKind::Dir);
    assert_eq!(attr.perm, 0o750 & !current_umask());
    assert!(fx.path("d").is_dir());
    assert_eq!(fx.backing.mkdir(&fx.root(), &name("d"), 0o755).err(), Some(Error::Exists));

    fx.backing.create(&d, &name("f"), 0o644, OpenFlags::READ).unwrap();
    assert_eq!(fx.backing.rmdir(&fx.root(), &name("d")).err(), Some(Error::NotEmpty));
    assert_eq!(fx.backing.rmdir(&d, &name("f")).err(), Some(Error::NotDir));
    assert_eq!(fx.backing.unlink(&fx.root(), &name("d")).err(), Some(Error::IsDir));
    fx.backing.unlink(&d, &name("f")).unwrap();
    fx.backing.rmdir(&fx.root(), &name("d")).unwrap();
    assert!(!fx.path("d").exists());
    assert_eq!(fx.backing.rmdir(&fx.root(), &name("d")).err(), Some(Error::NotFound));
}

/// The process umask, which the kernel applies to every creation (the FUSE layer clears it).
fn current_umask() -> u32 {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("probe")).unwrap();
    !fs::metadata(dir.path().join("probe")).unwrap().mode() & 0o777
}

// ---- files

#[test]
fn create_excludes_existing_names_and_never_follows_a_symlink() {
    let fx = Fixture::new();
    let (made, file) = fx.backing.create(&fx.root(), &name("new"), 0o640, OpenFlags::READ_WRITE).unwrap();
    assert_eq!((made.kind, made.size, made.perm), (FileKind::File, 0, 0o640 & !current_umask()));
    assert_eq!(made.ino, fs::metadata(fx.path("new")).unwrap().ino());
    assert_eq!(fx.backing.write(&file, 0, b"hello").unwrap(), 5);
    let mut buf = [0u8; 16];
    assert_eq!(fx.backing.read(&file, 1, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ello");
    assert_eq!(file.stat().unwrap().size, 5);

    assert_eq!(
        fx.backing.create(&fx.root(), &name("new"), 0o644, OpenFlags::READ).err(),
        Some(Error::Exists)
    );
    // A dangling symlink is an existing name: its target is not created.
    symlink(fx.path("victim"), fx.path("dangling")).unwrap();
    let got = fx.backing.create(&fx.root(), &name("dangling"), 0o644, OpenFlags::READ_WRITE);
    assert_eq!(got.err(), Some(Error::Exists));
    assert!(!fx.path("victim").exists());
}

#[test]
fn read_write_and_append() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"0123456789").unwrap();
    let f = fx.node("f");
    let file = fx.backing.open(&f, OpenFlags::READ_WRITE).unwrap();
    assert_eq!(fx.backing.write(&file, 2, b"ab").unwrap(), 2);
    assert_eq!(fx.read_all(&f), b"01ab456789");
    let mut buf = [0u8; 4];
    assert_eq!(fx.backing.read(&file, 8, &mut buf).unwrap(), 2);
    assert_eq!(fx.backing.read(&file, 10, &mut buf).unwrap(), 0);

    let append =
        fx.backing.open(&f, OpenFlags { write: true, append: true, ..OpenFlags::default() }).unwrap();
    fx.backing.write(&append, 0, b"!").unwrap();
    assert_eq!(fs::read(fx.path("f")).unwrap(), b"01ab456789!");

    let trunc =
        fx.backing.open(&f, OpenFlags { write: true, truncate: true, ..OpenFlags::default() }).unwrap();
    assert_eq!(fx.backing.stat(&f).unwrap().size, 0);
    let mut buf = [0u8; 1];
    assert!(fx.backing.read(&trunc, 0, &mut buf).is_err(), "write-only file must not read");
}

#[test]
fn open_refuses_symlinks_and_opens_directories_read_only() {
    let fx = Fixture::new();
    fs::write(fx.path("target"), b"secret").unwrap();
    symlink("target", fx.path("sl")).unwrap();
    symlink("/etc/passwd", fx.path("abs")).unwrap();
    fs::create_dir(fx.path("d")).unwrap();

    for link in ["sl", "abs"] {
        for flags in [OpenFlags::READ, OpenFlags::READ_WRITE] {
            assert_eq!(fx.backing.open(&fx.node(link), flags).err(), Some(Error::Os(libc::ELOOP)));
        }
    }
    let raw_nofollow = OpenFlags { raw: libc::O_NOFOLLOW, ..OpenFlags::READ };
    assert_eq!(fx.read_all(&fx.node("target")), b"secret");
    assert!(fx.backing.open(&fx.node("target"), raw_nofollow).is_ok());
    assert!(fx.backing.open(&fx.node("d"), OpenFlags::READ).is_ok());
    assert_eq!(fx.backing.open(&fx.node("d"), OpenFlags::READ_WRITE).err(), Some(Error::IsDir));
}

#[test]
fn a_node_stays_usable_after_its_object_is_renamed() {
    let fx = Fixture::new();
    fs::create_dir(fx.path("a")).unwrap();
    fs::create_dir(fx.path("b")).unwrap();
    fs::write(fx.path("a/f"), b"content").unwrap();
    let f = fx.node("a/f");
    let a = fx.node("a");
    let ino = fx.backing.stat(&f).unwrap().ino;

    fx.backing.rename(&a, &name("f"), &fx.node("b"), &name("g"), RenameFlags::default()).unwrap();
    assert!(!fx.path("a/f").exists());
    assert_eq!(fs::read(fx.path("b/g")).unwrap(), b"content");
    assert_eq!(fx.backing.stat(&f).unwrap().ino, ino);
    assert_eq!(fx.read_all(&f), b"content");
    let file = fx.backing.open(&f, OpenFlags::READ_WRITE).unwrap();
    fx.backing.write(&file, 0, b"C").unwrap();
    assert_eq!(fs::read(fx.path("b/g")).unwrap(), b"Content");

    // A directory node keeps working after the directory moves, too.
    fs::rename(fx.path("a"), fx.path("b/a2")).unwrap();
    fx.backing.create(&a, &name("made-later"), 0o644, OpenFlags::READ).unwrap();
    assert!(fx.path("b/a2/made-later").exists());
}

#[test]
fn rename_flags() {
    let fx = Fixture::new();
    fs::write(fx.path("x"), b"X").unwrap();
    fs::write(fx.path("y"), b"Y").unwrap();
    let root = fx.root();
    let (x, y) = (name("x"), name("y"));

    let no_replace = RenameFlags { no_replace: true, exchange: false };
    assert_eq!(fx.backing.rename(&root, &x, &root, &y, no_replace).err(), Some(Error::Exists));
    assert_eq!(fs::read(fx.path("y")).unwrap(), b"Y");

    let exchange = RenameFlags { no_replace: false, exchange: true };
    fx.backing.rename(&root, &x, &root, &y, exchange).unwrap();
    assert_eq!(fs::read(fx.path("x")).unwrap(), b"Y");
    assert_eq!(fs::read(fx.path("y")).unwrap(), b"X");
    assert_eq!(fx.backing.rename(&root, &x, &root, &name("none"), exchange).err(), Some(Error::NotFound));

    let both = RenameFlags { no_replace: true, exchange: true };
    assert_eq!(fx.backing.rename(&root, &x, &root, &y, both).err(), Some(Error::InvalidArgument));

    fx.backing.rename(&root, &x, &root, &name("z"), no_replace).unwrap();
    fx.backing.rename(&root, &y, &root, &name("z"), RenameFlags::default()).unwrap();
    assert_eq!(fs::read(fx.path("z")).unwrap(), b"X");
    assert!(!fx.path("x").exists() && !fx.path("y").exists());
}

#[test]
fn an_open_file_reads_after_unlink() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"still here").unwrap();
    let f = fx.node("f");
    let file = fx.backing.open(&f, OpenFlags::READ).unwrap();
    fx.backing.unlink(&fx.root(), &name("f")).unwrap();
    assert!(!fx.path("f").exists());
    let mut buf = [0u8; 32];
    let n = fx.backing.read(&file, 0, &mut buf).unwrap();
    assert_eq!(&buf[..n], b"still here");
    // The node keeps the inode: it can still be stat'ed and opened.
    assert_eq!(fx.backing.stat(&f).unwrap().nlink, 0);
    assert_eq!(fx.read_all(&f), b"still here");
    assert_eq!(fx.backing.unlink(&fx.root(), &name("f")).err(), Some(Error::NotFound));
}

// ---- links and special files

#[test]
fn hard_links_share_the_inode() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"one").unwrap();
    fs::create_dir(fx.path("d")).unwrap();
    let f = fx.node("f");
    let linked = fx.backing.link(&f, &fx.node("d"), &name("g")).unwrap();
    let (a, b) = (fx.backing.stat(&f).unwrap(), fx.backing.stat(&linked).unwrap());
    assert_eq!(a.ino, b.ino);
    assert_eq!((a.nlink, b.nlink), (2, 2));
    assert_eq!(fs::read(fx.path("d/g")).unwrap(), b"one");
    assert_eq!(fx.backing.link(&f, &fx.node("d"), &name("g")).err(), Some(Error::Exists));

    // A symlink is linked as itself, never its target.
    symlink("f", fx.path("sl")).unwrap();
    let sl2 = fx.backing.link(&fx.node("sl"), &fx.root(), &name("sl2")).unwrap();
    assert_eq!(fx.backing.stat(&sl2).unwrap().kind, FileKind::Symlink);
    assert_eq!(fx.backing.readlink(&sl2).unwrap(), b"f");
    assert_eq!(fx.backing.stat(&f).unwrap().nlink, 2);
}

#[test]
fn symlinks_hold_their_target_unchanged() {
    let fx = Fixture::new();
    for target in [&b"../../outside"[..], b"/etc/shadow", b"a\xffb", b"dangling/path/"] {
        let sl = fx.backing.symlink(&fx.root(), &name("sl"), target).unwrap();
        assert_eq!(fx.backing.stat(&sl).unwrap().kind, FileKind::Symlink);
        assert_eq!(fx.backing.readlink(&sl).unwrap(), target);
        assert_eq!(fs::read_link(fx.path("sl")).unwrap().as_os_str().as_bytes(), target);
        fx.backing.unlink(&fx.root(), &name("sl")).unwrap();
    }
    fs::write(fx.path("f"), b"").unwrap();
    assert_eq!(fx.backing.readlink(&fx.node("f")).err(), Some(Error::InvalidArgument));
    assert_eq!(fx.backing.symlink(&fx.root(), &name("f"), b"x").err(), Some(Error::Exists));
}

#[test]
fn mknod_makes_special_files() {
    let fx = Fixture::new();
    let root = fx.root();
    let fifo = fx.backing.mknod(&root, &name("fifo"), FileKind::Fifo, 0o600, 0).unwrap();
    let attr = fx.backing.stat(&fifo).unwrap();
    assert_eq!((attr.kind, attr.perm), (FileKind::Fifo, 0o600 & !current_umask()));
    assert!(fs::symlink_metadata(fx.path("fifo")).unwrap().file_type().is_fifo());

    let sock = fx.backing.mknod(&root, &name("sock"), FileKind::Socket, 0o600, 0).unwrap();
    assert_eq!(fx.backing.stat(&sock).unwrap().kind, FileKind::Socket);
    let plain = fx.backing.mknod(&root, &name("plain"), FileKind::File, 0o600, 0).unwrap();
    assert_eq!(fx.backing.stat(&plain).unwrap().kind, FileKind::File);

    // /dev/null's numbers (1, 3); creating devices needs CAP_MKNOD, which a container may drop.
    let null = libc::makedev(1, 3);
    match fx.backing.mknod(&root, &name("null"), FileKind::CharDevice, 0o666, null) {
        Ok(dev) => {
            let attr = fx.backing.stat(&dev).unwrap();
            assert_eq!((attr.kind, attr.rdev), (FileKind::CharDevice, null));
        }
        Err(Error::Os(libc::EPERM)) => eprintln!("skipping device node: no CAP_MKNOD"),
        Err(e) => panic!("mknod of a char device: {e:?}"),
    }

    for kind in [FileKind::Dir, FileKind::Symlink] {
        assert_eq!(fx.backing.mknod(&root, &name("bad"), kind, 0o600, 0).err(), Some(Error::InvalidArgument));
    }
    assert_eq!(fx.backing.mknod(&root, &name("fifo"), FileKind::Fifo, 0o600, 0).err(), Some(Error::Exists));
}

// ---- extended attributes

#[test]
fn xattrs_round_trip() {
    let fx = Fixture::new();
    fs::write(fx.path("f"), b"").unwrap();
    let f = fx.node("f");
    match fx.backing.set_xattr(&f, b"user.color", b"blue", XattrMode::Any) {
        Ok(()) => {}
        Err(Error::NotSupported) => {
            eprintln!("skipping: this file system has no user xattrs");
            return;
        }
        Err(e) => panic!("set_xattr: {e:?}"),
    }
    assert_eq!(fx.backing.get_xattr(&f, b"user.color").unwrap(), b"blue");
    fx.backing.set_xattr(&f, b"user.empty", b"", XattrMode::Create).unwrap();
    assert_eq!(fx.backing.get_xattr(&f, b"user.empty").unwrap(), b"");
    let mut list = fx.backing.list_xattr(&f).unwrap();
    list.sort();
    assert_eq!(list, vec![b"user.color".to_vec(), b"user.empty".to_vec()]);

    assert_eq!(fx.backing.set_xattr(&f, b"user.color", b"red", XattrMode::Create).err(), Some(Error::Exists));
    assert_eq!(
        fx.backing.set_xattr(&f, b"user.none", b"x", XattrMode::Replace).err(),
        Some(Error::NoAttribute)
    );
    fx.backing.set_xattr(&f, b"user.color", b"green", XattrMode::Replace).unwrap();
    assert_eq!(fx.backing.get_xattr(&f, b"user.color").unwrap(), b"green");
    let big = vec![7u8; 3000];
    fx.backing.set_xattr(&f, b"user.big", &big, XattrMode::Any).unwrap();
    assert_eq!(fx.backing.get_xattr(&f, b"user.big").unwrap(), big);

    fx.backing.remove_xattr(&f, b"user.color").unwrap();
    assert_eq!(fx.backing.get_xattr(&f, b"user.color").err(), Some(Error::NoAttribute));
    assert_eq!(fx.backing.remove_xattr(&f, b"user.color").err(), Some(Error::NoAttribute));

    // Directories have xattrs too, through the same path.
    fs::create_dir(fx.path("d")).unwrap();
    fx.backing.set_xattr(&fx.node("d"), b"user.dir", b"1", XattrMode::Any).unwrap();
    assert_eq!(fx.backing.list_xattr(&fx.node("d")).unwrap(), vec![b"user.dir".to_vec()]);
}

#[test]
fn xattrs_of_a_symlink_are_its_own() {
    let fx = Fixture::new();
    fs::write(fx.path("target"), b"").unwrap();
    symlink("target", fx.path("sl")).unwrap();
    let sl = fx.node("sl");
    // Linux allows no user.* attributes on symlinks; trusted.* (root only) it does.
    assert_eq!(
        fx.backing.set_xattr(&sl, b"user.x", b"1", XattrMode::Any).err(),
        Some(Error::Os(libc::EPERM))
    );
    match fx.backing.set_xattr(&sl, b"trusted.bindfs-test", b"on-link", XattrMode::Any) {
        Ok(()) => {}
        Err(Error::NotSupported) => return eprintln!("skipping: no trusted xattrs here"),
        Err(e) => panic!("set_xattr on a symlink: {e:?}"),
    }
    assert_eq!(fx.backing.get_xattr(&sl, b"trusted.bindfs-test").unwrap(), b"on-link");
    assert!(fx.backing.list_xattr(&sl).unwrap().contains(&b"trusted.bindfs-test".to_vec()));
    let target = fx.node("target");
    assert_eq!(fx.backing.get_xattr(&target, b"trusted.bindfs-test").err(), Some(Error::NoAttribute));
    fx.backing.remove_xattr(&sl, b"trusted.bindfs-test").unwrap();
    assert_eq!(fx.backing.get_xattr(&sl, b"trusted.bindfs-test").err(), Some(Error::NoAttribute));
}
