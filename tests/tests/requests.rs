//! The FUSE requests the kernel sends for common calls through a view, counted by the kernel
//! itself (the `fuse:fuse_request_send` tracepoint, Linux 6.15+) in a trace instance of the
//! test's own, filtered to the test's own connection. Counts, not times: they hold on a slow
//! machine as on a fast one. Each test pins a call to what the kernel cannot do without (see
//! the README, Performance: "Requests per operation"), so a change that adds a round trip fails
//! here. Every view is mounted with a long cache time, so no cached entry expires mid-test.
//!
//! They need root (tracefs) and the tracepoint; where either is missing they skip, unless
//! `BINDFS_REQUIRE_FUSE=1` (CI) forbids it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use bindfs_tests::{Env, put};

const TRACEFS: &str = "/sys/kernel/tracing";

/// A trace instance counting the requests sent to one FUSE connection; removed when dropped.
struct Requests {
    dir: PathBuf,
}

impl Requests {
    /// Starts counting the requests to the file system mounted at `mnt`; `None` (after saying
    /// why) where this machine cannot count them.
    fn of(mnt: &Path) -> Option<Requests> {
        let missing = if !rustix::process::geteuid().is_root() {
            Some("needs root (tracefs)")
        } else if !Path::new(TRACEFS).join("instances").is_dir()
            && !std::process::Command::new("mount")
                .args(["-t", "tracefs", "nodev", TRACEFS])
                .status()
                .is_ok_and(|s| s.success())
        {
            Some("tracefs cannot be mounted")
        } else if !Path::new(TRACEFS).join("events/fuse/fuse_request_send").is_dir() {
            Some("the kernel has no fuse:fuse_request_send tracepoint (Linux 6.15+)")
        } else {
            None
        };
        if let Some(why) = missing {
            assert!(std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(), "cannot count requests: {why}");
            eprintln!("skipped: {why}");
            return None;
        }
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let name = format!("bindfs-rs-test-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let dir = Path::new(TRACEFS).join("instances").join(name);
        fs::create_dir(&dir).unwrap();
        let requests = Requests { dir };
        // The connection is the superblock's device number as the kernel keeps it (MKDEV).
        let dev = fs::metadata(mnt).unwrap().dev();
        let kernel_dev = (rustix::fs::major(dev) << 20) | rustix::fs::minor(dev);
        let event = requests.dir.join("events/fuse/fuse_request_send");
        fs::write(event.join("filter"), format!("connection == {kernel_dev}")).unwrap();
        fs::write(event.join("enable"), "1").unwrap();
        Some(requests)
    }

    /// Forgets what was counted so far.
    fn clear(&self) {
        fs::write(self.dir.join("trace"), "").unwrap();
    }

    /// The requests sent since the last [`Requests::clear`], by kind (`LOOKUP`, `GETATTR`...).
    fn counted(&self) -> BTreeMap<String, usize> {
        let mut text = String::new();
        File::open(self.dir.join("trace")).unwrap().read_to_string(&mut text).unwrap();
        let mut counts = BTreeMap::new();
        for line in text.lines().filter(|l| l.contains("fuse_request_send:")) {
            let op = line.split_whitespace().skip_while(|w| *w != "opcode").nth(2).unwrap();
            let op = op.trim_matches(|c| c == '(' || c == ')').trim_start_matches("FUSE_");
            *counts.entry(op.to_string()).or_insert(0) += 1;
        }
        counts
    }

    /// What `f` costs: the requests sent while it runs.
    fn during(&self, f: impl FnOnce()) -> BTreeMap<String, usize> {
        self.clear();
        f();
        self.counted()
    }
}

impl Drop for Requests {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("events/fuse/fuse_request_send/enable"), "0");
        let _ = fs::remove_dir(&self.dir);
    }
}

/// `counts` as `KIND n` pairs, for messages.
fn show(counts: &BTreeMap<String, usize>) -> String {
    counts.iter().map(|(k, n)| format!("{k} {n}")).collect::<Vec<_>>().join(", ")
}

/// A view over `disk/` with `t/Target` linked at `Foo`, names and attributes cached for a
/// minute; the request counter of its connection.
fn view_with_link(env: &mut Env) -> Option<Requests> {
    fs::create_dir_all(env.t("Target")).unwrap();
    env.mount(&["--cache-ttl", "60"]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    Requests::of(&env.mnt())
}

#[test]
fn issue_13_a_warm_stat_sends_no_request() {
    let Some(mut env) = Env::new() else { return };
    for i in 0..50 {
        put(&env.t(&format!("Target/f{i:02}")), "x");
    }
    let Some(requests) = view_with_link(&mut env) else { return };
    let names: Vec<PathBuf> = fs::read_dir(env.v("Foo")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(names.len(), 50);
    for p in &names {
        fs::symlink_metadata(p).unwrap();
    }
    let sent = requests.during(|| {
        for p in &names {
            fs::symlink_metadata(p).unwrap();
        }
    });
    assert!(sent.is_empty(), "a warm lstat of 50 files sent: {}", show(&sent));
}

#[test]
fn issue_13_a_listing_carries_the_attributes_of_its_entries() {
    // READDIRPLUS: a cold listing of 100 files answers the `lstat` of each that follows, with
    // no LOOKUP per file (`ls -l`, `find`, `os.walk`).
    let Some(mut env) = Env::new() else { return };
    for i in 0..100 {
        put(&env.t(&format!("Target/f{i:03}")), "x");
    }
    let Some(requests) = view_with_link(&mut env) else { return };
    let sent = requests.during(|| {
        let names: Vec<PathBuf> = fs::read_dir(env.v("Foo")).unwrap().map(|e| e.unwrap().path()).collect();
        for p in &names {
            fs::symlink_metadata(p).unwrap();
        }
        assert_eq!(names.len(), 100);
    });
    assert!(sent.get("READDIRPLUS").is_some_and(|n| *n >= 1), "no READDIRPLUS: {}", show(&sent));
    // At most the directory's own name (the link made it, the kernel may not know it yet).
    assert!(sent.get("LOOKUP").copied().unwrap_or(0) <= 1, "lookups per file: {}", show(&sent));
}

#[test]
fn issue_13_a_missing_name_is_asked_once_per_cache_time() {
    // A negative entry: a program probing a name that is not there (a search path, an include
    // path) asks the daemon once, not at every probe.
    let Some(mut env) = Env::new() else { return };
    let Some(requests) = view_with_link(&mut env) else { return };
    let missing = env.v("Foo/not-there");
    fs::symlink_metadata(&missing).unwrap_err();
    let sent = requests.during(|| {
        for _ in 0..10 {
            assert_eq!(fs::symlink_metadata(&missing).unwrap_err().kind(), std::io::ErrorKind::NotFound);
        }
    });
    assert!(sent.is_empty(), "probing a missing name again sent: {}", show(&sent));
}

#[test]
fn issue_13_a_link_made_where_a_name_was_missing_shows_at_once() {
    // The negative entries the kernel keeps must not hide a link made later: at the root, and
    // nested in another link's tree.
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Other/inside.txt"), "other");
    let Some(_requests) = view_with_link(&mut env) else { return };
    for probe in ["New", "New/inside.txt", "Foo/Nested", "Foo/Nested/inside.txt"] {
        assert_eq!(fs::symlink_metadata(env.v(probe)).unwrap_err().kind(), std::io::ErrorKind::NotFound);
    }
    env.link(&env.v("New"), &env.t("Other"), &[]);
    assert_eq!(fs::read_to_string(env.v("New/inside.txt")).unwrap(), "other");
    env.link(&env.v("Foo/Nested"), &env.t("Other"), &[]);
    assert_eq!(fs::read_to_string(env.v("Foo/Nested/inside.txt")).unwrap(), "other");
    // And a link removed leaves its name missing at once (the positive entry is dropped).
    bindfs_tests::bindfs_ok(&["link", "remove", env.v("New").to_str().unwrap()]);
    assert_eq!(fs::symlink_metadata(env.v("New")).unwrap_err().kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn issue_13_a_create_write_close_unlink_costs_only_what_the_kernel_asks() {
    // The kernel's own minimum for this cycle through a view that checks permissions in the
    // kernel (`default_permissions`) and keeps POSIX locks on B: LOOKUP (the name is new),
    // CREATE, GETXATTR (security.capability, asked before every write), FLUSH (releases the
    // closer's POSIX locks), RELEASE, UNLINK, and up to two GETATTR of the directory, whose
    // cached attributes each change drops (they decide the next permission check). No LOOKUP
    // after the create (its reply carries the entry), no WRITE (passthrough), no GETATTR of the
    // file.
    let Some(mut env) = Env::new() else { return };
    let Some(requests) = view_with_link(&mut env) else { return };
    let path = env.v("Foo/new.bin");
    let cycle = || {
        let mut f = File::create(&path).unwrap();
        f.write_all(&[7u8; 4096]).unwrap();
        drop(f);
        fs::remove_file(&path).unwrap();
    };
    cycle();
    let sent = requests.during(|| {
        cycle();
        // RELEASE is sent in the background after close: let it be counted.
        std::thread::sleep(std::time::Duration::from_millis(200));
    });
    let allowed: BTreeMap<&str, usize> = [
        ("LOOKUP", 1),
        ("CREATE", 1),
        ("GETXATTR", 1),
        ("FLUSH", 1),
        ("RELEASE", 1),
        ("UNLINK", 1),
        ("GETATTR", 2),
    ]
    .into_iter()
    .collect();
    for (op, n) in &sent {
        let most = allowed.get(op.as_str()).copied().unwrap_or(0);
        assert!(*n <= most, "{op} sent {n} times (at most {most}): {}", show(&sent));
    }
    assert_eq!(sent.get("CREATE"), Some(&1), "{}", show(&sent));
    assert_eq!(sent.get("UNLINK"), Some(&1), "{}", show(&sent));
}

#[test]
fn issue_13_a_small_file_read_again_unchanged_is_not_read_again() {
    // A small file is read by the daemon, and its pages stay while it is unchanged: a second
    // read opens and closes it (OPEN, FLUSH, RELEASE) but reads nothing.
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Target/small.txt"), "small file");
    let Some(requests) = view_with_link(&mut env) else { return };
    let path = env.v("Foo/small.txt");
    assert_eq!(fs::read_to_string(&path).unwrap(), "small file");
    let sent = requests.during(|| assert_eq!(fs::read_to_string(&path).unwrap(), "small file"));
    assert_eq!(sent.get("READ"), None, "the second read read again: {}", show(&sent));
    assert_eq!(sent.get("OPEN"), Some(&1), "{}", show(&sent));
    // Changed behind the view, the next open drops the pages and reads the new content (of the
    // same size: the size the kernel caches is the TTL's business, not the pages').
    put(&env.t("Target/small.txt"), "SMALL FILE");
    let sent = requests.during(|| assert_eq!(fs::read_to_string(&path).unwrap(), "SMALL FILE"));
    assert!(sent.contains_key("READ"), "a changed file was not read again: {}", show(&sent));
}
