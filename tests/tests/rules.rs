//! The rules of `docs/spec.md` end to end: one or more tests per rule, named after its number,
//! on a real mount driven by the `bindfs-rs` binary and observed with ordinary system calls,
//! both through the view and in the real backing files. They mirror the in-process scenarios of
//! `core/tests/rules.rs`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;

use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use bindfs_tests::{
    Env, NOBODY, as_nobody, bindfs, bindfs_ok, cat, errno, ls, put, sh_as_nobody, sh_as_nobody_in,
};
use rustix::fs::{FlockOperation, XattrFlags};

// ---- Helpers.

/// A path as the `&str` the CLI takes.
fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The tree most tests start from, as in `core/tests/rules.rs`: the on-disk layer holds
/// `Foo/{old.txt, shared.txt}` and `top.txt`; `t/Target` holds `Cat.txt` and `shared.txt`,
/// `t/Target2` holds `Dog.txt`, `t/Empty` is an empty directory, `t/file.txt` a file.
fn tree(env: &Env) {
    put(&env.v("Foo/old.txt"), "on disk");
    put(&env.v("Foo/shared.txt"), "disk version");
    put(&env.v("top.txt"), "top");
    put(&env.t("Target/Cat.txt"), "meow");
    put(&env.t("Target/shared.txt"), "backing version");
    put(&env.t("Target2/Dog.txt"), "woof");
    fs::create_dir_all(env.t("Empty")).unwrap();
    put(&env.t("file.txt"), "a file");
}

/// `bindfs-rs link list MNT --json`.
fn list_json(env: &Env) -> String {
    let out = bindfs(&["link", "list", s(&env.mnt()), "--json"]);
    assert!(out.status.success(), "link list: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// One link as `link list --json` reports it, its paths relative to the mount point.
#[derive(Debug)]
struct Listed {
    virt: String,
    backing: String,
    anchorless: bool,
    read_only: bool,
    merged: bool,
    record: String,
}

fn field<'a>(record: &'a str, name: &str) -> &'a str {
    let key = format!("\"{name}\": ");
    let rest = record.split(&key).nth(1).unwrap_or_else(|| panic!("no {name} in {record}"));
    let rest = rest.trim_start_matches('"');
    rest.split(['"', ',', '\n']).next().unwrap()
}

/// The links of the view (paths inside the view relative to the mount point, e.g. "/Foo").
fn listed(env: &Env) -> Vec<Listed> {
    let json = list_json(env);
    let mnt = s(&env.mnt()).to_string();
    let rel = |p: &str| match p.strip_prefix(&mnt) {
        Some("") => "/".to_string(),
        Some(r) if r.starts_with('/') => r.to_string(),
        _ => p.to_string(),
    };
    json.split("{")
        .skip(1)
        .map(|record| Listed {
            virt: rel(field(record, "virtual")),
            backing: rel(field(record, "backing")),
            anchorless: field(record, "anchorless") == "true",
            read_only: field(record, "read_only") == "true",
            merged: field(record, "merged") == "true",
            record: record.to_string(),
        })
        .collect()
}

/// The virtual paths of the view's links, sorted.
fn linked(env: &Env) -> Vec<String> {
    let mut v: Vec<String> = listed(env).into_iter().map(|l| l.virt).collect();
    v.sort();
    v
}

/// Asserts the CLI failed with exit status 1 and one line on stderr naming the problem.
fn refused(out: &Output, needle: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "expected exit status 1; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line on stderr: {err:?}");
    assert!(err.contains(needle), "stderr {err:?} should say {needle:?}");
}

/// `bindfs-rs link remove VIRTUAL`, panicking on failure.
fn unlink_ok(env: &Env, virt: &str) {
    let out = env.try_unlink(&env.v(virt));
    assert!(out.status.success(), "link remove {virt}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A rustix result as a std one (for [`errno`]).
fn io<T>(r: rustix::io::Result<T>) -> std::io::Result<T> {
    r.map_err(std::io::Error::from)
}

/// The permission bits of a path (following symlinks).
fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().mode() & 0o7777
}

/// The errno of `metadata(p)`.
fn stat_errno(p: &Path) -> i32 {
    errno(fs::metadata(p))
}

fn exists(p: &Path) -> bool {
    fs::symlink_metadata(p).is_ok()
}

/// Creates (or truncates) a file through a path and writes `data`.
fn write_new(p: &Path, data: &str) {
    let mut f = File::create(p).unwrap();
    f.write_all(data.as_bytes()).unwrap();
}

/// `truncate(2)` on a path.
fn truncate_path(p: &Path, len: i64) -> std::io::Result<()> {
    bindfs_tests::sys::truncate(p, len)
}

/// A whole-file open-file-description write lock (`F_OFD_SETLK`): it conflicts with any other
/// open of the file, even from this process, and with POSIX locks of other processes.
fn ofd_write_lock(f: &File) -> std::io::Result<()> {
    whole_file_lock(f, libc::F_OFD_SETLK, libc::F_WRLCK).map(|_| ())
}

/// The on-disk layer, reached through a descriptor opened before the view covered it.
#[derive(Debug)]
struct OnDisk(File);

impl OnDisk {
    /// Call before mounting.
    fn open(env: &Env) -> OnDisk {
        OnDisk(File::open(env.mnt()).unwrap())
    }

    fn path(&self, rel: &str) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}/{rel}", self.0.as_raw_fd()))
    }
}

/// Runs `f` on a thread and returns its result, failing the test if it takes longer than a
/// generous bound (a hang, not slowness, is what this catches).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(120)).unwrap_or_else(|_| panic!("{what}: no answer (a hang)"))
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// A small tmpfs, unmounted when dropped (lazily if something still holds it).
#[derive(Debug)]
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount").args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"]).arg(dir).status();
        assert!(ok.unwrap().success(), "mount -t tmpfs {}", dir.display());
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let done = Command::new("umount").arg(&self.0).status();
        if !done.is_ok_and(|s| s.success()) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

// ---- Creating links.

#[test]
fn rule_01_a_link_shows_b_to_every_process_until_removed() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    assert!(linked(&env).is_empty());
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    // Every process sees it, not only the one that made the link.
    let other = Command::new("cat").arg(env.v("Foo/Cat.txt")).output().unwrap();
    assert_eq!(other.stdout, b"meow");
    let links = listed(&env);
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].virt.as_str(), links[0].backing.as_str()), ("/Foo", s(&env.t("Target"))));
    unlink_ok(&env, "Foo");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    assert!(linked(&env).is_empty());
    // Ephemeral: a link ends with the view, leaving nothing on disk.
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    env.unmount();
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(ls(&env.t("Target")), ["Cat.txt", "shared.txt"]);
}

#[test]
fn rule_01_a_new_view_starts_without_the_links_of_the_last() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    env.unmount();
    env.mount(&[]);
    assert!(linked(&env).is_empty());
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    // The view stays mounted and serving.
    env.link(&env.v("Foo"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Dog.txt"]);
}

#[test]
fn rule_01_mount_creates_the_links_it_is_given() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    let spec = format!("{}={}", s(&env.v("Foo")), s(&env.t("Target")));
    env.mount(&["--link", &spec]);
    assert_eq!(linked(&env), ["/Foo"]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "shared.txt"]);
    unlink_ok(&env, "Foo");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_01_link_changes_show_at_once_in_a_directory_in_use() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    // Two directories modified in the same clock tick have the same mtime: make it so.
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_500_000_000);
    for dir in [env.v("Foo"), env.t("Target")] {
        File::open(dir).unwrap().set_modified(when).unwrap();
    }
    env.mount(&[]);
    // A process uses the directory (an open descriptor, as a shell's working directory would).
    let _in_use = File::open(env.v("Foo")).unwrap();
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert!(exists(&env.v("Foo/Cat.txt")));
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "shared.txt"], "listing after link create");
    unlink_ok(&env, "Foo");
    assert!(!exists(&env.v("Foo/Cat.txt")));
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"], "listing after link remove");
}

#[test]
fn rule_02_a_missing_backing_is_refused_and_nothing_changes() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    refused(&env.try_link(&env.v("Foo"), &env.t("NoSuch"), &[]), "backing path not found");
    refused(&env.try_link(&env.v("New"), &env.t("NoSuch"), &[]), "backing path not found");
    // A backing inside the view (a chain) must exist too.
    refused(&env.try_link(&env.v("New"), &env.v("NoSuch"), &[]), "backing path not found");
    assert!(linked(&env).is_empty());
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(stat_errno(&env.v("New")), libc::ENOENT);
}

#[test]
fn rule_02_mount_with_a_missing_backing_fails_and_mounts_nothing() {
    let Some(env) = Env::new() else { return };
    tree(&env);
    let spec = format!("{}={}", s(&env.v("Foo")), s(&env.t("NoSuch")));
    let out = bindfs(&["mount", s(&env.mnt()), "--link", &spec]);
    if out.status.success() {
        bindfs_ok(&["unmount", s(&env.mnt())]);
    }
    refused(&out, "backing path not found");
    let table = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!table.contains(&format!(" {} ", s(&env.mnt()))), "nothing may stay mounted");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_03_one_link_per_virtual_path() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    refused(&env.try_link(&env.v("Foo"), &env.t("Target2"), &[]), "already a link");
    // The same path spelled differently is the same link.
    let trailing = PathBuf::from(format!("{}/", s(&env.v("Foo"))));
    refused(&env.try_link(&trailing, &env.t("Target2"), &[]), "already a link");
    let dotted = env.mnt().join(".").join("Foo");
    refused(&env.try_link(&dotted, &env.t("Target2"), &[]), "already a link");
    let links = listed(&env);
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].backing, s(&env.t("Target")));
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
}

#[test]
fn rule_04_the_parent_of_v_must_be_visible() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    refused(&env.try_link(&env.v("NoSuch/Bar"), &env.t("Target"), &[]), "not visible");
    refused(&env.try_link(&env.v("top.txt/Bar"), &env.t("Target"), &[]), "not a directory");
    assert!(linked(&env).is_empty());
    // Visible on disk.
    env.link(&env.v("Foo/Sub"), &env.t("Target2"), &[]);
    // Visible as an earlier link's V (Foo/Sub did not exist on disk).
    env.link(&env.v("Foo/Sub/Deeper"), &env.t("Empty"), &[]);
    assert_eq!(ls(&env.v("Foo/Sub")), ["Deeper", "Dog.txt"]);
    // Nested anchorless links are created parent first; the other way round is refused.
    refused(&env.try_link(&env.v("A/B"), &env.t("Target2"), &[]), "not visible");
    env.link(&env.v("A"), &env.t("Target"), &[]);
    env.link(&env.v("A/B"), &env.t("Target2"), &[]);
    env.link(&env.v("A/B/C"), &env.t("Empty"), &[]);
    assert_eq!(ls(&env.v("A/B")), ["C", "Dog.txt"]);
    assert_eq!(cat(&env.v("A/B/Dog.txt")), "woof");
    assert_eq!(linked(&env), ["/A", "/A/B", "/A/B/C", "/Foo/Sub", "/Foo/Sub/Deeper"]);
    // Nothing was created on disk or in the backings to make them visible.
    assert_eq!(ls(&env.t("Target2")), ["Dog.txt"]);
    assert!(ls(&env.t("Empty")).is_empty());
    env.unmount();
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_04_the_parent_may_be_visible_through_a_backing_tree() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::create_dir_all(env.t("Target/inner")).unwrap();
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    env.link(&env.v("Foo/inner/New"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("Foo/inner")), ["New"]);
    assert_eq!(cat(&env.v("Foo/inner/New/Dog.txt")), "woof");
    assert!(ls(&env.t("Target/inner")).is_empty());
}

#[test]
fn rule_05_an_anchorless_link_is_synthesized_in_its_parent() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::set_permissions(env.t("file.txt"), fs::Permissions::from_mode(0o640)).unwrap();
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    File::options().write(true).open(env.t("file.txt")).unwrap().set_modified(when).unwrap();
    env.mount(&[]);
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    env.link(&env.v("New"), &env.t("Target"), &[]);
    env.link(&env.v("NewFile"), &env.t("file.txt"), &[]);
    let links = listed(&env);
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l.anchorless), "{links:?}");
    assert_eq!(ls(&env.mnt()), ["Foo", "New", "NewFile", "top.txt"]);
    // Listed with B's type...
    for entry in fs::read_dir(env.mnt()).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        match entry.file_name().to_str().unwrap() {
            "New" => assert!(kind.is_dir()),
            "NewFile" => assert!(kind.is_file()),
            _ => {}
        }
    }
    // ... and attributes.
    let (shown, real) = (fs::metadata(env.v("NewFile")).unwrap(), fs::metadata(env.t("file.txt")).unwrap());
    assert!(shown.is_file());
    assert_eq!(
        (shown.len(), shown.mode(), shown.uid(), shown.gid(), shown.mtime()),
        (real.len(), real.mode(), real.uid(), real.gid(), real.mtime())
    );
    assert_eq!(shown.mtime(), 1_000_000_000);
    let (dir, real_dir) = (fs::metadata(env.v("New")).unwrap(), fs::metadata(env.t("Target")).unwrap());
    assert!(dir.is_dir());
    assert_eq!((dir.mode(), dir.uid()), (real_dir.mode(), real_dir.uid()));
    assert_eq!(cat(&env.v("NewFile")), "a file");
    assert_eq!(ls(&env.v("New")), ["Cat.txt", "shared.txt"]);
    unlink_ok(&env, "New");
    unlink_ok(&env, "NewFile");
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(stat_errno(&env.v("New")), libc::ENOENT);
    assert_eq!(stat_errno(&env.v("NewFile")), libc::ENOENT);
    env.unmount();
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
}

#[test]
fn rule_06_a_shadow_link_hides_the_on_disk_content_and_restores_it_unchanged() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target2"), &[]);
    assert!(!listed(&env)[0].anchorless);
    assert_eq!(ls(&env.v("Foo")), ["Dog.txt"]);
    assert_eq!(stat_errno(&env.v("Foo/old.txt")), libc::ENOENT);
    // Changes while linked go to B, not to the hidden content.
    write_new(&env.v("Foo/new.txt"), "new");
    fs::remove_file(env.v("Foo/Dog.txt")).unwrap();
    assert_eq!(ls(&env.t("Target2")), ["new.txt"]);
    unlink_ok(&env, "Foo");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    assert_eq!(cat(&env.v("Foo/shared.txt")), "disk version");
    env.unmount();
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
}

#[test]
fn rule_07_the_backing_type_wins() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("file.txt"), &[]);
    let m = fs::metadata(env.v("Foo")).unwrap();
    assert!(m.is_file());
    assert_eq!(m.len(), 6);
    assert_eq!(cat(&env.v("Foo")), "a file");
    assert_eq!(errno(fs::read_dir(env.v("Foo"))), libc::ENOTDIR);
    assert_eq!(stat_errno(&env.v("Foo/old.txt")), libc::ENOTDIR);
    let kind = fs::read_dir(env.mnt()).unwrap().map(Result::unwrap).find(|e| e.file_name() == "Foo").unwrap();
    assert!(kind.file_type().unwrap().is_file());
    unlink_ok(&env, "Foo");
    assert!(fs::metadata(env.v("Foo")).unwrap().is_dir());
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_08_exceptions_show_the_on_disk_content() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.v("Foo/keep/deep/x.txt"), "kept");
    put(&env.t("Target/keep/other.txt"), "backing");
    let disk = OnDisk::open(&env);
    env.mount(&["--cache-ttl", "0"]);
    let (keep, old) = (env.v("Foo/keep"), env.v("Foo/old.txt"));
    env.link(&env.v("Foo"), &env.t("Target"), &["--except", s(&keep), "--except", s(&old)]);
    let links = listed(&env);
    assert!(links[0].record.contains(s(&keep)) && links[0].record.contains(s(&old)), "{links:?}");
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "keep", "old.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    assert_eq!(cat(&env.v("Foo/shared.txt")), "backing version");
    // The exception's descendants come from the disk too; B's same-name tree does not show.
    assert_eq!(ls(&env.v("Foo/keep")), ["deep"]);
    assert_eq!(cat(&env.v("Foo/keep/deep/x.txt")), "kept");
    assert_eq!(stat_errno(&env.v("Foo/keep/other.txt")), libc::ENOENT);
    // Changes below an exception land on disk.
    write_new(&env.v("Foo/keep/new.txt"), "n");
    assert_eq!(cat(&disk.path("Foo/keep/new.txt")), "n");
    assert!(!exists(&env.t("Target/keep/new.txt")));
    // An exception whose on-disk content goes away stops showing (README).
    fs::remove_dir_all(disk.path("Foo/keep")).unwrap();
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "old.txt", "shared.txt"]);
    assert_eq!(stat_errno(&env.v("Foo/keep")), libc::ENOENT);
}

#[test]
fn rule_08_bad_exceptions_are_refused_and_nothing_changes() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    let (foo, target) = (env.v("Foo"), env.t("Target"));
    refused(&env.try_link(&foo, &target, &["--except", s(&env.v("top.txt"))]), "not inside link");
    refused(&env.try_link(&foo, &target, &["--except", s(&foo)]), "not inside link");
    refused(&env.try_link(&foo, &target, &["--except", s(&env.v("Foo/none"))]), "does not exist");
    refused(&env.try_link(&env.v("New"), &target, &["--except", s(&env.v("New/Cat.txt"))]), "anchorless");
    refused(
        &env.try_link(&foo, &env.t("file.txt"), &["--except", s(&env.v("Foo/old.txt"))]),
        "non-directory backing",
    );
    assert!(linked(&env).is_empty());
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(ls(&foo), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_09_chains_resolve_through_other_links() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("A"), &env.t("Target"), &[]);
    env.link(&env.v("B"), &env.v("A"), &[]);
    let b = listed(&env).into_iter().find(|l| l.virt == "/B").unwrap();
    assert_eq!(b.backing, "/A");
    assert_eq!(ls(&env.v("B")), ["Cat.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("B/Cat.txt")), "meow");
    // Changes through the chain land in the real backing.
    write_new(&env.v("B/new.txt"), "via chain");
    assert_eq!(cat(&env.t("Target/new.txt")), "via chain");
    // A backing under another link's V.
    env.link(&env.v("Foo"), &env.t("Target2"), &[]);
    env.link(&env.v("D"), &env.v("Foo/Dog.txt"), &[]);
    assert!(fs::metadata(env.v("D")).unwrap().is_file());
    assert_eq!(cat(&env.v("D")), "woof");
}

#[test]
fn rule_09_cycles_can_be_created_and_end_with_eloop_promptly() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::create_dir_all(env.v("X")).unwrap();
    fs::create_dir_all(env.v("Y")).unwrap();
    fs::create_dir_all(env.v("S/sub")).unwrap();
    env.mount(&[]);
    env.link(&env.v("X"), &env.v("Y"), &[]);
    env.link(&env.v("Y"), &env.v("X"), &[]);
    // A link into its own subtree loops too.
    env.link(&env.v("S"), &env.v("S/sub"), &[]);
    let (xa, y, sx) = (env.v("X/a"), env.v("Y"), env.v("S/x"));
    let errs = within("resolving a cycle", move || {
        (stat_errno(&xa), errno(fs::read_dir(&y)), errno(File::open(y.join("f"))), stat_errno(&sx))
    });
    assert_eq!(errs, (libc::ELOOP, libc::ELOOP, libc::ELOOP, libc::ELOOP));
    // The rest of the view keeps working.
    assert_eq!(cat(&env.v("top.txt")), "top");
    assert_eq!(linked(&env), ["/S", "/X", "/Y"]);
    // Breaking the cycle makes both paths resolve again.
    unlink_ok(&env, "Y");
    assert!(ls(&env.v("X")).is_empty());
}

#[test]
fn rule_09_looping_links_stay_listed() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::create_dir_all(env.v("X")).unwrap();
    fs::create_dir_all(env.v("Y")).unwrap();
    env.mount(&[]);
    env.link(&env.v("New"), &env.t("Target"), &[]);
    env.link(&env.v("X"), &env.v("Y"), &[]);
    env.link(&env.v("Y"), &env.v("X"), &[]);
    // README: "one that loops stays listed" (X and Y also exist on disk).
    assert_eq!(ls(&env.mnt()), ["Foo", "New", "X", "Y", "top.txt"]);
}

#[test]
fn rule_10_creating_a_link_never_changes_the_backing_namespace() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::create_dir_all(env.v("Real")).unwrap();
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    env.link(&env.v("Foo/Bar"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Bar", "Cat.txt", "shared.txt"]);
    assert_eq!(ls(&env.v("Foo/Bar")), ["Dog.txt"]);
    assert_eq!(ls(&env.t("Target")), ["Cat.txt", "shared.txt"]);
    assert!(!exists(&env.t("Target/Bar")));
    // The same with a chain: the target path inside the view does not grow the deeper link.
    env.link(&env.v("C"), &env.v("Real"), &[]);
    env.link(&env.v("C/Bar"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("C")), ["Bar"]);
    assert!(ls(&env.v("Real")).is_empty());
    env.unmount();
    assert!(ls(&env.v("Real")).is_empty());
}

// ---- Flags.

#[test]
fn rule_11_merged_shows_the_union_and_the_backing_wins() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.v("Foo/sub/disk.txt"), "d");
    put(&env.t("Target/sub/back.txt"), "b");
    put(&env.t("Target/x"), "file in B");
    put(&env.v("Foo/x/y"), "masked on-disk data");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--merged"]);
    assert!(listed(&env)[0].merged);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "old.txt", "shared.txt", "sub", "x"]);
    assert_eq!(cat(&env.v("Foo/shared.txt")), "backing version");
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    assert_eq!(ls(&env.v("Foo/sub")), ["back.txt", "disk.txt"]);
    assert_eq!(cat(&env.v("Foo/sub/disk.txt")), "d");
    // Each name once.
    let names: Vec<_> = fs::read_dir(env.v("Foo")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.iter().filter(|n| *n == "shared.txt").count(), 1);
    // What a file of B masks stays unreachable.
    assert!(fs::metadata(env.v("Foo/x")).unwrap().is_file());
    assert_eq!(stat_errno(&env.v("Foo/x/y")), libc::ENOTDIR);
    // Without MERGED, B replaces V wholesale.
    unlink_ok(&env, "Foo");
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "shared.txt", "sub", "x"]);
    assert_eq!(ls(&env.v("Foo/sub")), ["back.txt"]);
}

#[test]
fn rule_11_merged_needs_directories() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    refused(&env.try_link(&env.v("top.txt"), &env.t("Target"), &["--merged"]), "merged");
    refused(&env.try_link(&env.v("New"), &env.t("Target"), &["--merged"]), "merged");
    refused(&env.try_link(&env.v("Foo"), &env.t("file.txt"), &["--merged"]), "merged");
    assert!(linked(&env).is_empty());
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
}

#[test]
fn rule_12_merged_creates_in_the_backing_and_masks() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.v("Foo/only/x"), "x");
    let disk = OnDisk::open(&env);
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--merged"]);
    write_new(&env.v("Foo/new.txt"), "fresh");
    assert_eq!(cat(&env.t("Target/new.txt")), "fresh");
    assert!(!exists(&disk.path("Foo/new.txt")));
    fs::create_dir(env.v("Foo/newdir")).unwrap();
    assert!(fs::metadata(env.t("Target/newdir")).unwrap().is_dir());
    assert!(!exists(&disk.path("Foo/newdir")));
    // Deleting B's masking entry makes V's entry visible again.
    assert_eq!(cat(&env.v("Foo/shared.txt")), "backing version");
    fs::remove_file(env.v("Foo/shared.txt")).unwrap();
    assert!(!exists(&env.t("Target/shared.txt")));
    assert_eq!(cat(&env.v("Foo/shared.txt")), "disk version");
    assert_eq!(cat(&disk.path("Foo/shared.txt")), "disk version");
    // Resolution is at open time: an entry appearing in B masks V's at once, and goes again.
    put(&env.t("Target/old.txt"), "masking");
    assert_eq!(cat(&env.v("Foo/old.txt")), "masking");
    fs::remove_file(env.t("Target/old.txt")).unwrap();
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    // A directory only V has is created in B before a file goes in it.
    write_new(&env.v("Foo/only/y"), "y");
    assert_eq!(cat(&env.t("Target/only/y")), "y");
    assert_eq!(ls(&env.v("Foo/only")), ["x", "y"]);
    assert_eq!(ls(&disk.path("Foo/only")), ["x"]);
}

#[test]
fn rule_12_a_rename_onto_a_masked_name_stays_in_the_backing() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    let disk = OnDisk::open(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--merged"]);
    fs::rename(env.v("Foo/Cat.txt"), env.v("Foo/old.txt")).unwrap();
    assert_eq!(cat(&env.v("Foo/old.txt")), "meow");
    assert_eq!(cat(&env.t("Target/old.txt")), "meow");
    assert_eq!(cat(&disk.path("Foo/old.txt")), "on disk");
    // Moving B's entry away unmasks the on-disk one.
    fs::rename(env.v("Foo/old.txt"), env.v("Foo/x.txt")).unwrap();
    assert_eq!(cat(&env.v("Foo/old.txt")), "on disk");
    assert_eq!(cat(&env.t("Target/x.txt")), "meow");
}

#[test]
fn rule_13_read_only_refuses_every_change_with_erofs() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::create_dir(env.t("Target/emptydir")).unwrap();
    rustix::fs::setxattr(env.t("Target/Cat.txt"), "user.k", b"v", XattrFlags::empty()).unwrap();
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--read-only"]);
    assert!(listed(&env)[0].read_only);
    let (cat_txt, foo) = (env.v("Foo/Cat.txt"), env.v("Foo"));
    let ro = libc::EROFS;
    assert_eq!(errno(OpenOptions::new().write(true).open(&cat_txt)), ro);
    assert_eq!(errno(OpenOptions::new().read(true).write(true).open(&cat_txt)), ro);
    assert_eq!(errno(OpenOptions::new().append(true).open(&cat_txt)), ro);
    assert_eq!(errno(OpenOptions::new().read(true).custom_flags(libc::O_TRUNC).open(&cat_txt)), ro);
    assert_eq!(errno(File::create(env.v("Foo/n"))), ro);
    assert_eq!(errno(OpenOptions::new().write(true).create_new(true).open(env.v("Foo/n"))), ro);
    assert_eq!(errno(fs::create_dir(env.v("Foo/d"))), ro);
    assert_eq!(errno(std::os::unix::fs::symlink("x", env.v("Foo/s"))), ro);
    assert_eq!(errno(fs::remove_file(&cat_txt)), ro);
    assert_eq!(errno(fs::remove_dir(env.v("Foo/emptydir"))), ro);
    assert_eq!(errno(fs::rename(&cat_txt, env.v("Foo/Cat2.txt"))), ro);
    assert_eq!(errno(fs::rename(&cat_txt, env.v("Cat2.txt"))), ro);
    assert_eq!(errno(fs::rename(env.v("top.txt"), env.v("Foo/top.txt"))), ro);
    assert_eq!(errno(fs::hard_link(&cat_txt, env.v("cat-link"))), ro);
    assert_eq!(errno(fs::set_permissions(&cat_txt, fs::Permissions::from_mode(0o600))), ro);
    assert_eq!(errno(truncate_path(&cat_txt, 0)), ro);
    assert_eq!(errno(File::open(&cat_txt).unwrap().set_modified(SystemTime::UNIX_EPOCH)), ro);
    assert_eq!(errno(io(rustix::fs::setxattr(&cat_txt, "user.k", b"w", XattrFlags::empty()))), ro);
    assert_eq!(errno(io(rustix::fs::setxattr(&foo, "user.k", b"w", XattrFlags::empty()))), ro);
    assert_eq!(errno(io(rustix::fs::removexattr(&cat_txt, "user.k"))), ro);
    // The reported modes have no write bits.
    assert_eq!(mode(&cat_txt) & 0o222, 0);
    assert_eq!(mode(&cat_txt), 0o444);
    assert_eq!(mode(&foo) & 0o222, 0);
    assert_eq!(mode(&env.v("Foo/emptydir")) & 0o222, 0);
    // Reading works.
    assert_eq!(cat(&cat_txt), "meow");
    let mut value = [0u8; 8];
    assert_eq!(io(rustix::fs::getxattr(&cat_txt, "user.k", &mut value)).unwrap(), 1);
    assert_eq!(&value[..1], b"v");
    // Nothing changed in B, and B itself stays writable.
    assert_eq!(ls(&env.t("Target")), ["Cat.txt", "emptydir", "shared.txt"]);
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(mode(&env.t("Target/Cat.txt")), 0o644);
    fs::write(env.t("Target/Cat.txt"), "purr").unwrap();
    assert_eq!(cat(&cat_txt), "purr");
    fs::remove_dir(env.t("Target/emptydir")).unwrap();
    assert_eq!(ls(&foo), ["Cat.txt", "shared.txt"]);
}

#[test]
fn rule_13_read_only_carries_along_a_chain() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--read-only"]);
    env.link(&env.v("Chain"), &env.v("Foo"), &[]);
    assert_eq!(errno(fs::remove_file(env.v("Chain/Cat.txt"))), libc::EROFS);
    assert_eq!(errno(OpenOptions::new().write(true).open(env.v("Chain/Cat.txt"))), libc::EROFS);
    assert_eq!(cat(&env.t("Target/Cat.txt")), "meow");
}

#[test]
fn rule_14_read_only_merged_keeps_on_disk_entries_writable() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    let disk = OnDisk::open(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &["--read-only", "--merged"]);
    // Entries from B: read-only.
    assert_eq!(errno(fs::remove_file(env.v("Foo/Cat.txt"))), libc::EROFS);
    assert_eq!(errno(OpenOptions::new().write(true).open(env.v("Foo/shared.txt"))), libc::EROFS);
    assert_eq!(mode(&env.v("Foo/Cat.txt")) & 0o222, 0);
    // Entries from V's on-disk content: writable.
    assert_eq!(mode(&env.v("Foo/old.txt")), 0o644);
    let f = OpenOptions::new().read(true).write(true).open(env.v("Foo/old.txt")).unwrap();
    f.write_all_at(b"ON", 0).unwrap();
    drop(f);
    assert_eq!(cat(&disk.path("Foo/old.txt")), "ON disk");
    assert_eq!(cat(&env.v("Foo/old.txt")), "ON disk");
    // New entries go to the first writable layer: V's own content.
    write_new(&env.v("Foo/new.txt"), "n");
    assert_eq!(cat(&disk.path("Foo/new.txt")), "n");
    assert!(!exists(&env.t("Target/new.txt")));
    fs::remove_file(env.v("Foo/old.txt")).unwrap();
    assert!(!exists(&disk.path("Foo/old.txt")));
    assert_eq!(ls(&env.t("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt", "new.txt", "shared.txt"]);
}

// ---- Nesting and order.

#[test]
fn rule_15_the_deepest_link_serves_each_path() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo/Bar"), &env.t("Target"), &[]);
    env.link(&env.v("Foo"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Bar", "Dog.txt"]);
    assert_eq!(ls(&env.v("Foo/Bar")), ["Cat.txt", "shared.txt"]);
    assert_eq!(cat(&env.v("Foo/Bar/Cat.txt")), "meow");
    assert_eq!(cat(&env.v("Foo/Dog.txt")), "woof");
    write_new(&env.v("Foo/Bar/new.txt"), "deep");
    assert_eq!(cat(&env.t("Target/new.txt")), "deep");
    assert_eq!(ls(&env.t("Target2")), ["Dog.txt"]);
    unlink_ok(&env, "Foo/Bar");
    unlink_ok(&env, "Foo");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_16_a_later_link_never_hides_an_earlier_v_in_either_order() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.t("WithBar/Bar"), "a file named Bar");
    env.mount(&[]);
    for reverse in [false, true] {
        let outer = (env.v("Foo"), env.t("WithBar"));
        let inner = (env.v("Foo/Bar"), env.t("Target"));
        for (v, b) in if reverse { [&inner, &outer] } else { [&outer, &inner] } {
            env.link(v, b, &[]);
        }
        assert!(fs::metadata(env.v("Foo/Bar")).unwrap().is_dir(), "reverse={reverse}");
        assert_eq!(ls(&env.v("Foo/Bar")), ["Cat.txt", "shared.txt"], "reverse={reverse}");
        assert_eq!(ls(&env.v("Foo")), ["Bar"], "reverse={reverse}");
        assert_eq!(cat(&env.v("Foo/Bar/Cat.txt")), "meow");
        unlink_ok(&env, "Foo/Bar");
        unlink_ok(&env, "Foo");
    }
    assert_eq!(cat(&env.t("WithBar/Bar")), "a file named Bar");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_16_a_directory_kept_only_for_a_deeper_link_is_synthesized() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.v("Foo/Mid/Deep/x"), "x");
    env.mount(&[]);
    env.link(&env.v("Foo/Mid/Deep"), &env.t("Target"), &[]);
    env.link(&env.v("Foo"), &env.t("Target2"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Dog.txt", "Mid"]);
    let mid = fs::metadata(env.v("Foo/Mid")).unwrap();
    assert!(mid.is_dir());
    assert_eq!(mid.mode() & 0o7777, 0o555);
    assert_eq!(ls(&env.v("Foo/Mid")), ["Deep"]);
    assert_eq!(cat(&env.v("Foo/Mid/Deep/Cat.txt")), "meow");
    assert_eq!(errno(fs::remove_dir(env.v("Foo/Mid"))), libc::ENOTEMPTY);
    assert_eq!(errno(fs::create_dir(env.v("Foo/Mid/d"))), libc::EROFS);
    assert_eq!(errno(File::create(env.v("Foo/Mid/f"))), libc::EROFS);
    assert_eq!(errno(fs::rename(env.v("Foo/Dog.txt"), env.v("Foo/Mid/Dog.txt"))), libc::EROFS);
    assert!(!exists(&env.t("Target2/Mid")));
}

#[test]
fn rule_16_a_file_link_over_an_earlier_v_is_refused_in_either_order() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo/Bar"), &env.t("Target"), &[]);
    refused(&env.try_link(&env.v("Foo"), &env.t("file.txt"), &[]), "not a directory");
    assert_eq!(linked(&env), ["/Foo/Bar"]);
    assert_eq!(ls(&env.v("Foo")), ["Bar", "old.txt", "shared.txt"]);
    unlink_ok(&env, "Foo/Bar");
    env.link(&env.v("Foo"), &env.t("file.txt"), &[]);
    refused(&env.try_link(&env.v("Foo/Bar"), &env.t("Target"), &[]), "not a directory");
    assert_eq!(linked(&env), ["/Foo"]);
    assert_eq!(cat(&env.v("Foo")), "a file");
}

// ---- Removing links.

#[test]
fn rule_17_remove_needs_a_link_and_goes_deepest_first() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    refused(&env.try_unlink(&env.v("Foo")), "no link at");
    env.link(&env.v("A"), &env.t("Target"), &[]);
    env.link(&env.v("A/B"), &env.t("Target2"), &[]);
    refused(&env.try_unlink(&env.v("A/Cat.txt")), "no link at");
    refused(&env.try_unlink(&env.v("A")), "nested links");
    assert_eq!(linked(&env), ["/A", "/A/B"]);
    assert_eq!(ls(&env.v("A")), ["B", "Cat.txt", "shared.txt"]);
    assert_eq!(ls(&env.v("A/B")), ["Dog.txt"]);
    unlink_ok(&env, "A/B");
    unlink_ok(&env, "A");
    assert!(linked(&env).is_empty());
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    refused(&env.try_unlink(&env.v("A")), "no link at");
}

#[test]
fn rule_18_handles_opened_before_removal_keep_working() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let file = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    let mut reader = File::open(env.v("Foo/shared.txt")).unwrap();
    unlink_ok(&env, "Foo");
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
    // The handles still act on the files they opened, in B.
    file.write_all_at(b"MEOW", 0).unwrap();
    let mut buf = [0u8; 4];
    file.read_exact_at(&mut buf, 0).unwrap();
    assert_eq!(&buf, b"MEOW");
    assert_eq!(cat(&env.t("Target/Cat.txt")), "MEOW");
    file.set_len(2).unwrap();
    assert_eq!(cat(&env.t("Target/Cat.txt")), "ME");
    let mut text = String::new();
    reader.read_to_string(&mut text).unwrap();
    assert_eq!(text, "backing version");
    assert_eq!(file.metadata().unwrap().len(), 2);
    // The path now serves the on-disk content, untouched.
    assert_eq!(cat(&env.v("Foo/shared.txt")), "disk version");
    drop((file, reader));
}

#[test]
fn rule_18_a_directory_handle_keeps_listing_what_it_opened() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let dir = File::open(env.v("Foo")).unwrap();
    unlink_ok(&env, "Foo");
    // Read from that very descriptor (no reopen).
    let mut names: Vec<String> = rustix::fs::Dir::new(std::os::fd::OwnedFd::from(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "." && n != "..")
        .collect();
    names.sort();
    assert_eq!(names, ["Cat.txt", "shared.txt"]);
}

// ---- Behaviour while linked.

#[test]
fn rule_19_ordinary_calls_through_v_act_on_b() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.t("Work/a.txt"), "hello");
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Work"), &[]);
    let (v, b) = (|r: &str| env.v(&format!("Foo/{r}")), |r: &str| env.t(&format!("Work/{r}")));
    // open, read, write, append.
    write_new(&v("new.txt"), "data");
    assert_eq!(cat(&b("new.txt")), "data");
    OpenOptions::new().append(true).open(v("new.txt")).unwrap().write_all(b"+more").unwrap();
    assert_eq!(cat(&b("new.txt")), "data+more");
    assert_eq!(cat(&v("a.txt")), "hello");
    // truncate, by descriptor and by path.
    OpenOptions::new().write(true).open(v("new.txt")).unwrap().set_len(4).unwrap();
    assert_eq!(cat(&b("new.txt")), "data");
    truncate_path(&v("new.txt"), 2).unwrap();
    assert_eq!(cat(&b("new.txt")), "da");
    // chmod, utimes.
    fs::set_permissions(v("new.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(mode(&b("new.txt")), 0o600);
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890);
    File::options().write(true).open(v("new.txt")).unwrap().set_modified(when).unwrap();
    assert_eq!(fs::metadata(b("new.txt")).unwrap().mtime(), 1_234_567_890);
    // rename.
    fs::rename(v("new.txt"), v("renamed.txt")).unwrap();
    assert!(!exists(&b("new.txt")));
    assert_eq!(cat(&b("renamed.txt")), "da");
    // hard link.
    fs::hard_link(v("renamed.txt"), v("hard.txt")).unwrap();
    let (one, two) = (fs::metadata(b("renamed.txt")).unwrap(), fs::metadata(b("hard.txt")).unwrap());
    assert_eq!((one.ino(), one.nlink()), (two.ino(), 2));
    // symlink.
    std::os::unix::fs::symlink("renamed.txt", v("sym")).unwrap();
    assert_eq!(fs::read_link(b("sym")).unwrap(), Path::new("renamed.txt"));
    assert_eq!(cat(&v("sym")), "da");
    // xattrs.
    io(rustix::fs::setxattr(v("renamed.txt"), "user.test", b"value", XattrFlags::empty())).unwrap();
    let mut value = [0u8; 16];
    let n = io(rustix::fs::getxattr(b("renamed.txt"), "user.test", &mut value)).unwrap();
    assert_eq!(&value[..n], b"value");
    let mut names = [0u8; 256];
    let n = io(rustix::fs::listxattr(v("renamed.txt"), &mut names)).unwrap();
    assert!(names[..n].split(|c| *c == 0).any(|x| x == b"user.test"));
    io(rustix::fs::removexattr(v("renamed.txt"), "user.test")).unwrap();
    assert_eq!(errno(io(rustix::fs::getxattr(b("renamed.txt"), "user.test", &mut value))), libc::ENODATA);
    // statfs reports B's file system.
    let (sv, sb) = (rustix::fs::statfs(v("")).unwrap(), rustix::fs::statfs(b("")).unwrap());
    assert_eq!(sv.f_blocks as u128 * sv.f_frsize as u128, sb.f_blocks as u128 * sb.f_frsize as u128);
    // mkdir, unlink, rmdir.
    fs::create_dir(v("dir")).unwrap();
    assert!(fs::metadata(b("dir")).unwrap().is_dir());
    fs::remove_dir(v("dir")).unwrap();
    fs::remove_file(v("hard.txt")).unwrap();
    assert!(!exists(&b("dir")) && !exists(&b("hard.txt")));
    assert_eq!(ls(&env.t("Work")), ["a.txt", "renamed.txt", "sym"]);
    // Nothing reached the on-disk content.
    env.unmount();
    assert_eq!(ls(&env.v("Foo")), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_19_mmap_through_v_acts_on_b() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    const LEN: usize = 4096;
    let file =
        OpenOptions::new().read(true).write(true).create_new(true).open(env.v("Foo/mapped.bin")).unwrap();
    file.set_len(LEN as u64).unwrap();
    bindfs_tests::sys::mmap_write(std::os::fd::AsFd::as_fd(&file), LEN, &[(0, b"mapped")], true).unwrap();
    drop(file);
    let real = fs::read(env.t("Target/mapped.bin")).unwrap();
    assert_eq!((real.len(), &real[..6]), (LEN, &b"mapped"[..]));
    // A read-only mapping of a file through V shows B's content.
    let file = File::open(env.v("Foo/Cat.txt")).unwrap();
    let seen = bindfs_tests::sys::mmap_read(std::os::fd::AsFd::as_fd(&file), 4).unwrap();
    assert_eq!(seen, b"meow");
}

#[test]
fn rule_19_locks_work_through_v() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let first = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    let second = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    // flock.
    rustix::fs::flock(&first, FlockOperation::NonBlockingLockExclusive).unwrap();
    let busy = errno(io(rustix::fs::flock(&second, FlockOperation::NonBlockingLockExclusive)));
    assert_eq!(busy, libc::EWOULDBLOCK);
    rustix::fs::flock(&first, FlockOperation::Unlock).unwrap();
    rustix::fs::flock(&second, FlockOperation::NonBlockingLockExclusive).unwrap();
    rustix::fs::flock(&second, FlockOperation::Unlock).unwrap();
    // fcntl (POSIX) locks, and an open-file-description lock that conflicts with them.
    rustix::fs::fcntl_lock(&first, FlockOperation::NonBlockingLockExclusive).unwrap();
    assert_eq!(errno(ofd_write_lock(&second)), libc::EAGAIN);
    rustix::fs::fcntl_lock(&first, FlockOperation::NonBlockingUnlock).unwrap();
    ofd_write_lock(&second).unwrap();
}

#[test]
fn rule_19_fcntl_locks_through_v_act_on_b() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let through_v = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    let on_b = OpenOptions::new().read(true).write(true).open(env.t("Target/Cat.txt")).unwrap();
    rustix::fs::fcntl_lock(&through_v, FlockOperation::NonBlockingLockExclusive).unwrap();
    assert_eq!(errno(ofd_write_lock(&on_b)), libc::EAGAIN, "an fcntl lock through V must hold on B");
    rustix::fs::fcntl_lock(&through_v, FlockOperation::Unlock).unwrap();
    // And B's own lock holds against the view.
    ofd_write_lock(&on_b).unwrap();
    let busy = errno(io(rustix::fs::fcntl_lock(&through_v, FlockOperation::NonBlockingLockExclusive)));
    assert_eq!(busy, libc::EAGAIN, "B's fcntl lock must hold through V");
}

#[test]
fn rule_19_flock_through_v_acts_on_b() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let through_v = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    let on_b = OpenOptions::new().read(true).write(true).open(env.t("Target/Cat.txt")).unwrap();
    rustix::fs::flock(&through_v, FlockOperation::NonBlockingLockExclusive).unwrap();
    let busy = errno(io(rustix::fs::flock(&on_b, FlockOperation::NonBlockingLockExclusive)));
    assert_eq!(busy, libc::EWOULDBLOCK, "a flock through V must hold against B's users");
}

/// `fcntl` on `f` with a whole-file `struct flock` of type `ty`; returns the `flock` back.
fn whole_file_lock(f: &File, cmd: i32, ty: i32) -> std::io::Result<libc::flock> {
    bindfs_tests::whole_file_lock(std::os::fd::AsFd::as_fd(f), cmd, ty)
}

/// A forked process holding a POSIX write lock on `path` until [`LockHolder::release`].
struct LockHolder {
    pid: libc::pid_t,
    /// Closing it tells the holder to exit.
    go: std::os::fd::OwnedFd,
}

impl LockHolder {
    fn start(path: &Path) -> LockHolder {
        let (pid, go) = bindfs_tests::sys::fork_lock_holder(path).unwrap();
        LockHolder { pid, go }
    }

    /// Lets the holder exit (which releases its lock) and waits for it.
    fn release(self) {
        drop(self.go);
        bindfs_tests::sys::wait_child(self.pid).unwrap();
    }
}

#[test]
fn rule_19_getlk_through_v_names_the_process_holding_the_lock() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let holder = LockHolder::start(&env.v("Foo/Cat.txt"));
    let through_v = OpenOptions::new().read(true).write(true).open(env.v("Foo/Cat.txt")).unwrap();
    let seen = whole_file_lock(&through_v, libc::F_GETLK, libc::F_RDLCK).unwrap();
    assert_eq!(i32::from(seen.l_type), libc::F_WRLCK);
    assert_eq!(seen.l_pid, holder.pid, "F_GETLK must name the holder's process");
    // The lock is on B too.
    let on_b = OpenOptions::new().read(true).open(env.t("Target/Cat.txt")).unwrap();
    assert_eq!(errno(whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_RDLCK)), libc::EAGAIN);
    holder.release();
    // The holder's exit released it, on B as well.
    whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_RDLCK).unwrap();
}

#[test]
fn rule_19_a_waiting_lock_through_v_is_granted_once_b_releases_it() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let on_b = OpenOptions::new().read(true).write(true).open(env.t("Target/Cat.txt")).unwrap();
    whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_WRLCK).unwrap();
    let (tx, rx) = mpsc::channel();
    let path = env.v("Foo/Cat.txt");
    let waiter = std::thread::spawn(move || {
        let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
        let got = whole_file_lock(&f, libc::F_SETLKW, libc::F_WRLCK).map(|_| ());
        tx.send(got.map_err(|e| e.raw_os_error())).unwrap();
        f // keep the lock until joined
    });
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "granted while B held the lock");
    whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_UNLCK).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(30)).unwrap(), Ok(()));
    // Now B's users wait for the view's user.
    assert_eq!(errno(whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_RDLCK)), libc::EAGAIN);
    drop(waiter.join().unwrap());
    whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_RDLCK).unwrap();
}

#[test]
fn rule_19_a_waiting_lock_through_v_ends_with_eintr_on_a_signal() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // A handler without SA_RESTART, so the wait ends with EINTR as it does natively. SIGUSR2 is
    // used by no other test.
    bindfs_tests::sys::interrupt_on(libc::SIGUSR2).unwrap();
    let on_b = OpenOptions::new().read(true).write(true).open(env.t("Target/Cat.txt")).unwrap();
    whole_file_lock(&on_b, libc::F_OFD_SETLK, libc::F_WRLCK).unwrap();
    let (tx, rx) = mpsc::channel();
    let path = env.v("Foo/Cat.txt");
    let waiter = std::thread::spawn(move || {
        let f = OpenOptions::new().read(true).write(true).open(path).unwrap();
        let got = whole_file_lock(&f, libc::F_SETLKW, libc::F_WRLCK).map(|_| ());
        tx.send(()).unwrap();
        got.map_err(|e| e.raw_os_error())
    });
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err(), "granted while B held the lock");
    bindfs_tests::sys::signal_thread(&waiter, libc::SIGUSR2).unwrap();
    rx.recv_timeout(Duration::from_secs(30)).expect("the waiting lock did not end on the signal");
    assert_eq!(waiter.join().unwrap(), Err(Some(libc::EINTR)));
}

#[test]
fn rule_19_removing_v_acts_on_b_and_keeps_the_link() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    let disk = OnDisk::open(&env);
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Empty"), &[]);
    env.link(&env.v("New"), &env.t("Target2"), &[]);
    fs::remove_dir(env.v("Foo")).unwrap();
    assert!(!exists(&env.t("Empty")));
    assert_eq!(ls(&disk.path("Foo")), ["old.txt", "shared.txt"]);
    assert_eq!(linked(&env), ["/Foo", "/New"]);
    assert_eq!(stat_errno(&env.v("Foo")), libc::ENOENT);
    // Removing a non-empty V fails as rmdir of B would.
    assert_eq!(errno(fs::remove_dir(env.v("New"))), libc::ENOTEMPTY);
    assert_eq!(ls(&env.t("Target2")), ["Dog.txt"]);
    // Renaming a link's V is refused, as renaming a mount point is.
    assert_eq!(errno(fs::rename(env.v("New"), env.v("Other"))), libc::EBUSY);
    assert_eq!(ls(&env.v("New")), ["Dog.txt"]);
    // B back: served again by the link that stayed.
    fs::create_dir(env.t("Empty")).unwrap();
    assert!(fs::metadata(env.v("Foo")).unwrap().is_dir());
    write_new(&env.v("Foo/again.txt"), "again");
    assert_eq!(cat(&env.t("Empty/again.txt")), "again");
}

#[test]
fn rule_20_links_are_resolved_when_a_path_is_opened() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    // B deleted: ENOENT under V (not the on-disk content).
    fs::remove_dir_all(env.t("Target")).unwrap();
    assert_eq!(stat_errno(&env.v("Foo/Cat.txt")), libc::ENOENT);
    assert_eq!(errno(File::open(env.v("Foo/old.txt"))), libc::ENOENT);
    assert_eq!(errno(fs::read_dir(env.v("Foo"))), libc::ENOENT);
    // B re-created: served again without re-linking.
    put(&env.t("Target/Cat.txt"), "again");
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "again");
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt"]);
    assert_eq!(linked(&env), ["/Foo"]);
    // A file replaced in B: the next open sees the new file; one opened before keeps the old.
    let mut before = File::open(env.v("Foo/Cat.txt")).unwrap();
    put(&env.t("Target/Cat.txt.tmp"), "replaced!");
    fs::rename(env.t("Target/Cat.txt.tmp"), env.t("Target/Cat.txt")).unwrap();
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "replaced!");
    assert_eq!(fs::metadata(env.v("Foo/Cat.txt")).unwrap().len(), 9);
    let mut old = String::new();
    before.read_to_string(&mut old).unwrap();
    assert_eq!(old, "again");
}

#[test]
fn rule_20_a_link_whose_backing_is_gone_leaves_its_parent_listing() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("New"), &env.t("Target"), &[]);
    assert_eq!(ls(&env.mnt()), ["Foo", "New", "top.txt"]);
    fs::remove_dir_all(env.t("Target")).unwrap();
    assert_eq!(ls(&env.mnt()), ["Foo", "top.txt"]);
    assert_eq!(stat_errno(&env.v("New")), libc::ENOENT);
    put(&env.t("Target/Cat.txt"), "back");
    assert_eq!(ls(&env.mnt()), ["Foo", "New", "top.txt"]);
    assert_eq!(cat(&env.v("New/Cat.txt")), "back");
}

#[test]
fn rule_20_directories_kept_below_a_link_never_outlive_their_directory() {
    // With the default cache, the daemon keeps the directories it walks to below B: one removed
    // and made again in B, or renamed through the view and made again, gets the next file.
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    fs::create_dir(env.v("Foo/d")).unwrap();
    write_new(&env.v("Foo/d/a"), "a");
    fs::remove_dir_all(env.t("Target/d")).unwrap();
    fs::create_dir(env.t("Target/d")).unwrap();
    write_new(&env.v("Foo/d/b"), "b");
    assert_eq!(cat(&env.t("Target/d/b")), "b");
    fs::rename(env.v("Foo/d"), env.v("Foo/e")).unwrap();
    fs::create_dir(env.v("Foo/d")).unwrap();
    write_new(&env.v("Foo/d/c"), "c");
    assert_eq!(cat(&env.t("Target/d/c")), "c");
    assert_eq!(ls(&env.t("Target/e")), ["b"]);
    fs::remove_file(env.v("Foo/d/c")).unwrap();
    fs::remove_dir(env.v("Foo/d")).unwrap();
    fs::create_dir(env.v("Foo/d")).unwrap();
    write_new(&env.v("Foo/d/x"), "x");
    assert_eq!(cat(&env.t("Target/d/x")), "x");
}

#[test]
fn rule_21_names_are_reported_at_the_virtual_path() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    put(&env.t("Target/Sub/Deep.txt"), "deep");
    env.mount(&[]);
    env.link(&env.v("Foo/Linked"), &env.t("Target"), &[]);
    env.link(&env.v("Chain"), &env.v("Foo/Linked/Sub"), &[]);
    let backing = s(&env.t("")).to_string();
    let fd_name = |f: &File| fs::read_link(format!("/proc/self/fd/{}", f.as_raw_fd())).unwrap();
    // /proc/self/fd of a file and of a directory opened through V.
    let file = File::open(env.v("Foo/Linked/Sub/Deep.txt")).unwrap();
    assert_eq!(fd_name(&file), env.v("Foo/Linked/Sub/Deep.txt"));
    let dir = File::open(env.v("Foo/Linked/Sub")).unwrap();
    assert_eq!(fd_name(&dir), env.v("Foo/Linked/Sub"));
    let chained = File::open(env.v("Chain/Deep.txt")).unwrap();
    assert_eq!(fd_name(&chained), env.v("Chain/Deep.txt"));
    // getcwd after chdir into V (in a child process).
    let sub = env.v("Foo/Linked/Sub");
    let out = Command::new("sh")
        .args(["-c", "cd \"$1\" && pwd -P && readlink /proc/self/cwd", "sh", s(&sub)])
        .output_checked();
    assert_eq!(out, format!("{}\n{}\n", s(&sub), s(&sub)));
    // realpath.
    let messy = env.v("Foo/Linked/Sub/../Sub/./Deep.txt");
    assert_eq!(fs::canonicalize(&messy).unwrap(), env.v("Foo/Linked/Sub/Deep.txt"));
    assert_eq!(fs::canonicalize(env.v("Chain")).unwrap(), env.v("Chain"));
    for name in [fd_name(&file), fd_name(&dir), fs::canonicalize(&messy).unwrap()] {
        assert!(!name.starts_with(&backing), "{name:?} names the backing");
    }
}

/// Runs a command and returns its stdout, failing the test with its stderr if it fails.
trait OutputChecked {
    fn output_checked(&mut self) -> String;
}

impl OutputChecked for Command {
    fn output_checked(&mut self) -> String {
        let out = self.output().unwrap();
        assert!(out.status.success(), "{self:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A group of the tests' own, that [`NOBODY`] is given as a supplementary group or not.
const TEAM: u32 = 4242;

#[test]
fn rule_22_the_permissions_of_b_apply_to_the_caller_at_v() {
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act as another user)");
        return;
    }
    tree(&env);
    put(&env.t("Target/public.txt"), "public");
    put(&env.t("Target/secret.txt"), "secret");
    fs::set_permissions(env.t("Target/secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    fs::create_dir(env.t("Target/pub")).unwrap();
    fs::set_permissions(env.t("Target/pub"), fs::Permissions::from_mode(0o777)).unwrap();
    fs::create_dir(env.t("Target/closed")).unwrap();
    fs::set_permissions(env.t("Target/closed"), fs::Permissions::from_mode(0o755)).unwrap();
    // Writable by one group only: what a caller may do there depends on its supplementary groups.
    fs::create_dir(env.t("Target/team")).unwrap();
    put(&env.t("Target/team/old"), "old");
    std::os::unix::fs::chown(env.t("Target/team"), Some(0), Some(TEAM)).unwrap();
    fs::set_permissions(env.t("Target/team"), fs::Permissions::from_mode(0o770)).unwrap();
    // The temporary root is 0700; the unprivileged user must reach the view and the backings.
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target"), env.t("Target2")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // Files created through V belong to the caller, in B.
    let out =
        sh_as_nobody("echo x > \"$1\" && mkdir \"$2\"", &[&env.v("Foo/pub/new.txt"), &env.v("Foo/pub/d")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for made in [env.t("Target/pub/new.txt"), env.t("Target/pub/d")] {
        let m = fs::metadata(&made).unwrap();
        assert_eq!((m.uid(), m.gid()), (NOBODY, NOBODY), "{}", made.display());
    }
    assert_eq!(cat(&env.t("Target/pub/new.txt")), "x\n");
    // What B allows, V allows.
    let out = as_nobody(Path::new("/bin/cat"), &[s(&env.v("Foo/public.txt"))]);
    assert_eq!(out.stdout, b"public");
    // What B denies, V denies.
    for denied in [env.v("Foo/secret.txt"), env.t("Target/secret.txt")] {
        let out = as_nobody(Path::new("/bin/cat"), &[s(&denied)]);
        assert!(!out.status.success(), "{} was readable", denied.display());
        assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
    }
    let out = sh_as_nobody("echo x > \"$1\"", &[&env.v("Foo/closed/f")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
    // The caller's supplementary groups count in B as they do for the caller directly.
    let out = sh_as_nobody_in(
        &[TEAM],
        "echo x > \"$1\" && rm \"$2\"",
        &[&env.v("Foo/team/f"), &env.v("Foo/team/old")],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(fs::metadata(env.t("Target/team/f")).unwrap().uid(), NOBODY);
    assert!(!exists(&env.t("Target/team/old")));
    let out = sh_as_nobody("echo x > \"$1\"", &[&env.v("Foo/team/g")]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("Permission denied"), "{out:?}");
    assert!(!exists(&env.t("Target/team/g")));
    let out = sh_as_nobody("rm -f \"$1\"", &[&env.v("Foo/public.txt")]);
    assert!(!out.status.success());
    assert!(!exists(&env.t("Target/closed/f")));
    assert!(exists(&env.t("Target/public.txt")));
    // Only root (or the view's owner) creates or removes links.
    let theirs = env.binary_for_others();
    let create = as_nobody(&theirs, &["link", "create", s(&env.v("Other")), s(&env.t("Target2"))]);
    refused(&create, "permission denied");
    let remove = as_nobody(&theirs, &["link", "remove", s(&env.v("Foo"))]);
    refused(&remove, "permission denied");
    assert_eq!(linked(&env), ["/Foo"]);
    assert_eq!(stat_errno(&env.v("Other")), libc::ENOENT);
}

#[test]
fn rule_22_a_caller_denied_on_b_gets_eacces_at_v() {
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act as another user)");
        return;
    }
    tree(&env);
    put(&env.t("Target/secret.txt"), "secret");
    fs::set_permissions(env.t("Target/secret.txt"), fs::Permissions::from_mode(0o600)).unwrap();
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // The exact errno, from a child that reports it: `sh` opening the file for a redirection
    // fails before running anything, and the shell's message is strerror(EACCES).
    let out = sh_as_nobody("exec 3< \"$1\"", &[&env.v("Foo/secret.txt")]);
    assert!(!out.status.success());
    let expected = std::io::Error::from_raw_os_error(libc::EACCES).to_string();
    let expected = expected.split(" (os error").next().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{out:?}");
    // And the same for root: allowed.
    assert_eq!(cat(&env.v("Foo/secret.txt")), "secret");
}

#[test]
fn rule_22_files_a_root_caller_creates_get_its_gid_as_on_b() {
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act with another gid)");
        return;
    }
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // Root with another gid (`sg`, `newgrp`, a setgid program): on B directly its files get
    // that gid, and through V they do too.
    let script = "echo x > \"$1\" && mkdir \"$2\" && echo y > \"$3\"";
    let made = [env.v("Foo/root.txt"), env.v("Foo/rootdir"), env.t("Target/direct.txt")];
    let out = bindfs_tests::as_user(
        0,
        TEAM,
        &[],
        Path::new("/bin/sh"),
        &["-c", script, "sh", s(&made[0]), s(&made[1]), s(&made[2])],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for made in [env.t("Target/root.txt"), env.t("Target/rootdir"), env.t("Target/direct.txt")] {
        let m = fs::metadata(&made).unwrap();
        assert_eq!((m.uid(), m.gid()), (0, TEAM), "{}", made.display());
    }
}

#[test]
fn rule_22_backing_acls_apply_at_v() {
    // Regression: the daemon opened files as root, so an ACL on B denying a user was ignored.
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act as another user)");
        return;
    }
    tree(&env);
    put(&env.t("Target/acl.txt"), "secret");
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::set_permissions(env.t("Target/acl.txt"), fs::Permissions::from_mode(0o644)).unwrap();
    // user::rw-, user:65534:---, group::r--, mask::r--, other::r--
    let entries: [(u16, u16, u32); 5] = [
        (0x01, 6, u32::MAX),
        (0x02, 0, NOBODY),
        (0x04, 4, u32::MAX),
        (0x10, 4, u32::MAX),
        (0x20, 4, u32::MAX),
    ];
    let mut acl = 2u32.to_le_bytes().to_vec();
    for (tag, perm, id) in entries {
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&perm.to_le_bytes());
        acl.extend_from_slice(&id.to_le_bytes());
    }
    if rustix::fs::setxattr(
        env.t("Target/acl.txt"),
        "system.posix_acl_access",
        &acl,
        rustix::fs::XattrFlags::empty(),
    )
    .is_err()
    {
        eprintln!("skipped: this file system has no POSIX ACLs");
        return;
    }
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert!(!sh_as_nobody("exec 3< \"$1\"", &[&env.t("Target/acl.txt")]).status.success(), "denied on B");
    let out = sh_as_nobody("exec 3< \"$1\"", &[&env.v("Foo/acl.txt")]);
    assert!(!out.status.success(), "the ACL denying the user on B must deny at V too: {out:?}");
}

#[test]
fn rule_22_attribute_names_a_caller_may_not_see_on_b_stay_hidden_at_v() {
    // Regression: names were listed as root, so trusted.* names showed to every user.
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act as another user)");
        return;
    }
    tree(&env);
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    let set = |name: &str| {
        rustix::fs::setxattr(env.t("Target/Cat.txt"), name, b"1", rustix::fs::XattrFlags::empty())
    };
    if set("trusted.hidden").is_err() || set("user.shown").is_err() {
        eprintln!("skipped: this file system lacks trusted.* or user.* attributes");
        return;
    }
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let list = |path: &Path| {
        let out = as_nobody(
            Path::new("/usr/bin/python3"),
            &["-c", "import os,sys; print(sorted(os.listxattr(sys.argv[1])))", s(path)],
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(list(&env.t("Target/Cat.txt")), "['user.shown']");
    assert_eq!(list(&env.v("Foo/Cat.txt")), "['user.shown']");
}

#[test]
fn rule_22_a_name_swapped_in_b_never_opens_a_file_the_caller_may_not_write() {
    // Regression: between the kernel's permission check (on cached attributes) and the open,
    // a user swapped a root-owned file in under their own file's name; the open, done as root
    // by path, wrote to root's file.
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 22 needs root (to act as another user)");
        return;
    }
    tree(&env);
    fs::create_dir_all(env.t("Target/d")).unwrap();
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::os::unix::fs::chown(env.t("Target/d"), Some(NOBODY), Some(NOBODY)).unwrap();
    put(&env.t("Target/d/rootfile"), "root's");
    fs::set_permissions(env.t("Target/d/rootfile"), fs::Permissions::from_mode(0o644)).unwrap();
    env.mount(&[]); // the default cache: the kernel keeps the checked attributes for a second
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let script = "echo mine > \"$1\" && stat \"$2\" >/dev/null && mv \"$3\" \"$1\" && echo PWNED >> \"$2\"";
    let out =
        sh_as_nobody(script, &[&env.t("Target/d/mine"), &env.v("Foo/d/mine"), &env.t("Target/d/rootfile")]);
    assert!(!out.status.success(), "{out:?}");
    assert_eq!(cat(&env.t("Target/d/mine")), "root's");
}

#[test]
fn rule_23_moves_across_file_systems_fail_with_exdev_and_lose_nothing() {
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: rule 23 needs root (to mount a tmpfs)");
        return;
    }
    tree(&env);
    let tmpfs = Tmpfs::mount(&env.root().join("tmpfs"));
    put(&tmpfs.0.join("share/r.txt"), "remote");
    fs::create_dir(tmpfs.0.join("share/sub")).unwrap();
    env.mount(&[]);
    env.link(&env.v("R"), &tmpfs.0.join("share"), &[]);
    env.link(&env.v("L"), &env.t("Target"), &[]);
    assert_eq!(errno(fs::rename(env.v("L/Cat.txt"), env.v("R/Cat.txt"))), libc::EXDEV);
    assert_eq!(errno(fs::rename(env.v("R/r.txt"), env.v("L/r.txt"))), libc::EXDEV);
    assert_eq!(errno(fs::rename(env.v("R/sub"), env.v("L/sub"))), libc::EXDEV);
    assert_eq!(errno(fs::hard_link(env.v("R/r.txt"), env.v("L/r.txt"))), libc::EXDEV);
    assert_eq!(errno(fs::hard_link(env.v("L/Cat.txt"), env.v("R/Cat.txt"))), libc::EXDEV);
    // Nothing lost or duplicated, through the view and in the real files.
    assert_eq!(ls(&env.v("L")), ["Cat.txt", "shared.txt"]);
    assert_eq!(ls(&env.v("R")), ["r.txt", "sub"]);
    assert_eq!(cat(&env.v("L/Cat.txt")), "meow");
    assert_eq!(cat(&env.v("R/r.txt")), "remote");
    assert_eq!(ls(&env.t("Target")), ["Cat.txt", "shared.txt"]);
    assert_eq!(ls(&tmpfs.0.join("share")), ["r.txt", "sub"]);
    assert_eq!(cat(&tmpfs.0.join("share/r.txt")), "remote");
    assert_eq!(fs::metadata(env.t("Target/Cat.txt")).unwrap().nlink(), 1);
    // statfs through R reports the tmpfs.
    let (sv, st) = (rustix::fs::statfs(env.v("R")).unwrap(), rustix::fs::statfs(&tmpfs.0).unwrap());
    assert_eq!(sv.f_blocks as u128 * sv.f_frsize as u128, st.f_blocks as u128 * st.f_frsize as u128);
    // Between two links on the same file system, a rename just works.
    env.link(&env.v("L2"), &env.t("Target2"), &[]);
    fs::rename(env.v("L/Cat.txt"), env.v("L2/Cat.txt")).unwrap();
    assert_eq!(cat(&env.t("Target2/Cat.txt")), "meow");
    assert!(!exists(&env.t("Target/Cat.txt")));
    env.unmount();
    drop(tmpfs);
}

#[test]
fn rule_24_hard_links_and_symlinks_behave_as_in_b() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    fs::hard_link(env.t("Target/Cat.txt"), env.t("Target/Cat2.txt")).unwrap();
    std::os::unix::fs::symlink("Cat.txt", env.t("Target/rel")).unwrap();
    std::os::unix::fs::symlink("/etc", env.t("Target/etc")).unwrap();
    std::os::unix::fs::symlink(env.t("Target/Cat.txt"), env.t("Target/into-b")).unwrap();
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // Hard links: one inode, two names, link count 2.
    let (a, b) = (fs::metadata(env.v("Foo/Cat.txt")).unwrap(), fs::metadata(env.v("Foo/Cat2.txt")).unwrap());
    assert_eq!((a.ino(), a.nlink()), (b.ino(), 2));
    assert_eq!(a.dev(), b.dev());
    // A write through one name shows through the other.
    OpenOptions::new().write(true).open(env.v("Foo/Cat2.txt")).unwrap().write_all_at(b"MEOW", 0).unwrap();
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "MEOW");
    // A hard link made through V.
    fs::hard_link(env.v("Foo/Cat.txt"), env.v("Foo/Cat3.txt")).unwrap();
    let (a, c) = (fs::metadata(env.v("Foo/Cat.txt")).unwrap(), fs::metadata(env.v("Foo/Cat3.txt")).unwrap());
    assert_eq!((a.ino(), a.nlink()), (c.ino(), 3));
    let (ra, rc) =
        (fs::metadata(env.t("Target/Cat.txt")).unwrap(), fs::metadata(env.t("Target/Cat3.txt")).unwrap());
    assert_eq!((ra.ino(), ra.nlink()), (rc.ino(), 3));
    // Symlinks: the text is returned unchanged.
    assert!(fs::symlink_metadata(env.v("Foo/rel")).unwrap().file_type().is_symlink());
    assert_eq!(fs::read_link(env.v("Foo/rel")).unwrap(), Path::new("Cat.txt"));
    assert_eq!(fs::read_link(env.v("Foo/etc")).unwrap(), Path::new("/etc"));
    assert_eq!(fs::read_link(env.v("Foo/into-b")).unwrap(), env.t("Target/Cat.txt"));
    // The kernel resolves them in the virtual namespace.
    assert_eq!(cat(&env.v("Foo/rel")), "MEOW");
    let (via, etc) = (fs::metadata(env.v("Foo/etc")).unwrap(), fs::metadata("/etc").unwrap());
    assert_eq!((via.dev(), via.ino()), (etc.dev(), etc.ino()));
    // A symlink made through V keeps its text, in B too.
    std::os::unix::fs::symlink("../x/y", env.v("Foo/made")).unwrap();
    assert_eq!(fs::read_link(env.v("Foo/made")).unwrap(), Path::new("../x/y"));
    assert_eq!(fs::read_link(env.t("Target/made")).unwrap(), Path::new("../x/y"));
}

#[test]
fn issue_13_a_write_by_a_non_owner_drops_setuid_and_setgid_as_on_b() {
    // Regression (pjdfstest chmod/12.t): the kernel drops the bits of a file a non-owner writes
    // by asking the daemon to chmod it as that writer, who may not chmod: the write failed with
    // EPERM through the view, where B's own file system drops the bits and writes.
    let Some(mut env) = Env::new() else { return };
    if !is_root() {
        eprintln!("skipped: needs root (to write as a user who does not own the file)");
        return;
    }
    tree(&env);
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("Target")] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o755)).unwrap();
    }
    // As pjdfstest chmod/12.t writes them (02767, set-group-ID without group execute, differs:
    // see the README's Linux limits).
    for mode in [0o4777, 0o2777, 0o6777] {
        let (through, direct) = (format!("via-{mode:o}"), format!("direct-{mode:o}"));
        for name in [&through, &direct] {
            put(&env.t(&format!("Target/{name}")), "x");
            fs::set_permissions(env.t(&format!("Target/{name}")), fs::Permissions::from_mode(mode)).unwrap();
        }
        let (at_v, on_b) = (env.v(&format!("Foo/{through}")), env.t(&format!("Target/{direct}")));
        let out = sh_as_nobody("printf y >> \"$1\" && printf y >> \"$2\"", &[&at_v, &on_b]);
        assert!(out.status.success(), "{mode:o}: {}", String::from_utf8_lossy(&out.stderr));
        let mode_of = |p: &Path| fs::metadata(p).unwrap().mode() & 0o7777;
        let on_b = mode_of(&env.t(&format!("Target/{direct}")));
        assert_eq!(on_b, 0o777, "{mode:o} on B");
        assert_eq!(mode_of(&env.t(&format!("Target/{through}"))), on_b, "{mode:o} through V");
        assert_eq!(mode_of(&env.v(&format!("Foo/{through}"))), on_b, "{mode:o} at V");
        assert_eq!(cat(&env.t(&format!("Target/{through}"))), "xy", "{mode:o}: the write landed");
    }
    // A non-owner may still not chmod, even to drop the bits: only a write drops them.
    put(&env.t("Target/kept"), "x");
    fs::set_permissions(env.t("Target/kept"), fs::Permissions::from_mode(0o4777)).unwrap();
    let out = sh_as_nobody("chmod 0777 \"$1\"", &[&env.v("Foo/kept")]);
    assert!(!out.status.success(), "a non-owner's chmod was accepted");
    assert_eq!(fs::metadata(env.t("Target/kept")).unwrap().mode() & 0o7777, 0o4777);
}
