//! The fstab form (issue 14, item 1): `bindfs-rs SOURCE MOUNTPOINT -o OPTIONS` as mount.fuse3
//! runs it, and `mount.bindfs-rs` as mount(8) runs a helper; fstab-only words never reach the
//! kernel, the `dev,suid` mount.fuse3 appends leave the view `nosuid,nodev`, mounting the same
//! view again is a no-op, `umount` ends it; and the real util-linux `mount -t fuse.bindfs-rs`
//! and `mount -a -T FSTAB` in a private mount namespace. Also `unmount --lazy` and `doctor`
//! (item 7).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, binary, bindfs, cat, fuse_available, ls, put};

/// The mountinfo lines of mounts at `mnt`.
fn mounts_at(mnt: &Path) -> Vec<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table.lines().filter(|l| l.split(' ').nth(4) == Some(mnt.to_str().unwrap())).map(str::to_owned).collect()
}

/// The mount flags (mountinfo's field 6) of the one mount at `mnt`.
fn flags_at(mnt: &Path) -> Vec<String> {
    let lines = mounts_at(mnt);
    assert_eq!(lines.len(), 1, "one mount at {}: {lines:?}", mnt.display());
    lines[0].split(' ').nth(5).unwrap().split(',').map(str::to_owned).collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: {}{}", text(&out.stdout), text(&out.stderr));
}

/// Runs `program args`.
fn run(program: &Path, args: &[&str]) -> Output {
    Command::new(program).args(args).output().unwrap()
}

/// `umount MNT` (util-linux, as root: the kernel's unmount, no bindfs-rs involved), retried
/// while another test thread's fork holds the mount busy; then waits until nothing is mounted.
fn umount(mnt: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("umount").arg(mnt).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "umount {}: {}", mnt.display(), text(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(mounts_at(mnt).is_empty());
}

/// Waits until the control socket of the view at `mnt` answers no more (its daemon ended).
fn wait_daemon_gone(mnt: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while bindfs(&["status", mnt.to_str().unwrap()]).status.success() {
        assert!(Instant::now() < deadline, "the daemon of {} did not end", mnt.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The cache time the daemon of the view at `mnt` reports (`status --json`).
fn cache_ttl_of(mnt: &Path) -> f64 {
    let out = bindfs(&["status", mnt.to_str().unwrap(), "--json"]);
    ok(&out, "status");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    value[0]["cache_ttl"].as_f64().unwrap()
}

/// A copy of the binary named `name` in `dir`.
fn copy_named(dir: &Path, name: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let copy = dir.join(name);
    // `install` in a child, so no descriptor open for writing on it is ever held here (ETXTBSY).
    ok(&Command::new("install").arg("-m").arg("0755").arg(binary()).arg(&copy).output().unwrap(), "install");
    copy
}

#[test]
fn the_fstab_form_with_fstab_only_options_mounts_once_and_umount_ends_it() {
    let Some(env) = Env::new() else { return };
    put(&env.v("own.txt"), "own");
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    // What mount.fuse3 runs for `none MNT fuse.bindfs-rs cache_ttl=0,nofail,... 0 0`.
    let opts = "cache_ttl=0,nofail,_netdev,x-systemd.automount,x-systemd.device-timeout=5,comment=hi,noauto,\
                user,users,defaults,rw,dev,suid";
    ok(&bindfs(&["none", m, "-o", opts]), "first mount");
    let flags = flags_at(&mnt);
    // The appended dev,suid did not undo the view's default.
    assert!(flags.contains(&"nosuid".into()) && flags.contains(&"nodev".into()), "{flags:?}");
    // No fstab-only word reached the kernel.
    let line = mounts_at(&mnt).remove(0);
    let words: Vec<&str> = line.split(' ').filter(|f| f.contains(',')).flat_map(|f| f.split(',')).collect();
    for word in
        ["nofail", "_netdev", "x-systemd", "comment", "noauto", "user", "users", "defaults", "cache_ttl"]
    {
        assert!(
            !words.iter().any(|w| w.split('=').next() == Some(word) || w.starts_with("x-")),
            "{word} reached the kernel: {line}"
        );
    }
    assert_eq!(cat(&env.v("own.txt")), "own");
    assert_eq!(cache_ttl_of(&mnt), 0.0, "cache_ttl=0 not applied");

    // mount -a again: the same view there; nothing is mounted a second time.
    let again = bindfs(&["none", m, "-o", opts]);
    ok(&again, "second mount");
    assert!(text(&again.stderr).contains("already"), "{}", text(&again.stderr));
    assert_eq!(mounts_at(&mnt).len(), 1);

    umount(&mnt);
    wait_daemon_gone(&mnt);
    assert_eq!(ls(&mnt), ["own.txt"]);
}

#[test]
fn a_second_mount_with_other_options_fails_naming_them_and_changes_nothing() {
    let Some(env) = Env::new() else { return };
    put(&env.v("own.txt"), "own");
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    ok(&bindfs(&["none", m, "-o", "cache_ttl=0,nofail,dev,suid"]), "first mount");
    for (opts, named) in [
        ("ro", "rw, not ro"),
        ("noexec", "exec, not noexec"),
        ("suid,dev", "nosuid, not suid"),
        ("cache_ttl=5", "cache_ttl=0, not 5"),
    ] {
        // The same line with one more option: mount.fuse3's appended dev,suid last.
        let line = format!("{opts},cache_ttl=0,nofail,dev,suid").replacen(
            "cache_ttl=5,cache_ttl=0",
            "cache_ttl=5",
            1,
        );
        let out = bindfs(&["none", m, "-o", &line]);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "-o {line}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains(named) && err.contains("unmount"), "-o {line}: {err}");
    }
    // The view is as first mounted: writable, nosuid, nodev, cache_ttl 0.
    let flags = flags_at(&mnt);
    assert!(flags.contains(&"rw".into()) && flags.contains(&"nosuid".into()), "{flags:?}");
    assert_eq!(cache_ttl_of(&mnt), 0.0);
    put(&env.v("still-writable.txt"), "w");
    // The same options again (in another order, with other fstab-only words) stay a no-op.
    let again = bindfs(&["none", m, "-o", "nofail,_netdev,cache_ttl=0,rw,dev,suid"]);
    ok(&again, "the same options again");
    assert!(text(&again.stderr).contains("already"), "{}", text(&again.stderr));
    assert_eq!(mounts_at(&mnt).len(), 1);
    umount(&mnt);
    wait_daemon_gone(&mnt);
}

#[test]
fn a_view_shows_in_the_mount_table_as_type_fuse_bindfs_rs_for_root_too() {
    let Some(env) = Env::new() else { return };
    let mnt = env.mnt();
    ok(&bindfs(&["mount", mnt.to_str().unwrap(), "-o", "noexec"]), "mount");
    let lines = mounts_at(&mnt);
    assert_eq!(lines.len(), 1, "{lines:?}");
    // mountinfo: "... - TYPE SOURCE SUPER-OPTIONS"; the tests run as root, whose views fuser
    // would mount as plain `fuse`.
    let (_, right) = lines[0].split_once(" - ").unwrap();
    let fields: Vec<&str> = right.split(' ').collect();
    assert_eq!(fields[..2], ["fuse.bindfs-rs", "bindfs-rs"], "{}", lines[0]);
    // The flags asked for still reach the kernel, with the view's defaults.
    let flags = flags_at(&mnt);
    for flag in ["noexec", "nosuid", "nodev"] {
        assert!(flags.contains(&flag.into()), "{flag}: {flags:?}");
    }
    // umount -t, as `umount -a -t fuse.bindfs-rs` picks views out.
    // (Retried while another test thread's fork holds the mount busy.)
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("umount").args(["-t", "fuse.bindfs-rs"]).arg(&mnt).output().unwrap();
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "umount -t fuse.bindfs-rs: {}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(50));
    }
    wait_daemon_gone(&mnt);
    assert!(mounts_at(&mnt).is_empty());
}

#[test]
fn the_mount_helper_name_mounts_a_directory_source_over_the_whole_view() {
    let Some(env) = Env::new() else { return };
    put(&env.t("D/photo.jpg"), "jpg");
    let mnt = env.mnt();
    let helper = copy_named(&env.root().join("sbin"), "mount.bindfs-rs");
    // As mount(8) runs a helper: SOURCE MOUNTPOINT, then its own flags. mount(8) appends
    // nothing, so an explicit suid is the line's own and counts.
    let out =
        run(&helper, &[env.t("D").to_str().unwrap(), mnt.to_str().unwrap(), "-n", "-v", "-o", "rw,suid"]);
    ok(&out, "mount.bindfs-rs");
    assert_eq!(ls(&mnt), ["photo.jpg"]);
    let flags = flags_at(&mnt);
    assert!(!flags.contains(&"nosuid".into()) && flags.contains(&"nodev".into()), "{flags:?}");
    let list = text(&bindfs(&["link", "list", mnt.to_str().unwrap()]).stdout);
    assert!(list.contains(env.t("D").to_str().unwrap()), "{list}");
    // Mounting it again through the helper is a no-op too.
    ok(&run(&helper, &[env.t("D").to_str().unwrap(), mnt.to_str().unwrap(), "-o", "rw,suid"]), "again");
    assert_eq!(mounts_at(&mnt).len(), 1);
    // mount(8)'s -f (fake) mounts nothing.
    umount(&mnt);
    wait_daemon_gone(&mnt);
    ok(&run(&helper, &["none", mnt.to_str().unwrap(), "-f", "-o", "rw"]), "fake");
    assert!(mounts_at(&mnt).is_empty());
}

#[test]
fn a_links_file_source_takes_its_mount_table_and_the_line_wins() {
    let Some(env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    let mnt = env.mnt();
    let file = env.root().join("links.toml");
    std::fs::write(
        &file,
        format!(
            "[mount]\ncache_ttl = 0\nexec = false\nread_only = true\n\n[[link]]\nvirtual = \"{}\"\nbacking = \"{}\"\n",
            env.v("A").display(),
            env.t("A").display()
        ),
    )
    .unwrap();
    // The line turns exec back on: the command line wins over the file.
    ok(&bindfs(&[file.to_str().unwrap(), mnt.to_str().unwrap(), "-o", "exec,nofail,dev,suid"]), "mount");
    assert_eq!(cat(&env.v("A/a.txt")), "a");
    let flags = flags_at(&mnt);
    assert!(flags.contains(&"ro".into()), "read_only = true: {flags:?}");
    assert!(!flags.contains(&"noexec".into()), "-o exec wins over exec = false: {flags:?}");
    assert!(flags.contains(&"nosuid".into()) && flags.contains(&"nodev".into()), "{flags:?}");
    assert_eq!(cache_ttl_of(&mnt), 0.0, "cache_ttl = 0 of [mount] not applied");
    umount(&mnt);
    wait_daemon_gone(&mnt);
}

#[test]
fn a_line_that_says_suid_and_dev_itself_gets_them() {
    let Some(env) = Env::new() else { return };
    let mnt = env.mnt();
    // The line `... suid,dev ...` as mount.fuse3 passes it on (its own dev,suid appended).
    ok(&bindfs(&["none", mnt.to_str().unwrap(), "-o", "suid,dev,dev,suid"]), "mount");
    let flags = flags_at(&mnt);
    assert!(!flags.contains(&"nosuid".into()) && !flags.contains(&"nodev".into()), "{flags:?}");
    umount(&mnt);
    wait_daemon_gone(&mnt);
}

#[test]
fn a_bad_option_or_source_is_one_line_and_mounts_nothing() {
    let Some(env) = Env::new() else { return };
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    for (args, names) in [
        (vec!["none", m, "-o", "cache_ttl=0,frob,dev,suid"], "frob: unknown mount option"),
        (vec!["none", m, "-o", "cache_ttl=9999"], "cache_ttl=9999: expected seconds from 0 to 3600"),
        (vec!["/no/such/links.toml", m, "-o", "dev,suid"], "SOURCE /no/such/links.toml"),
        (vec!["mount", m, "--cache-ttl", "1", "-o", "cache_ttl=2"], "cache_ttl is given both"),
    ] {
        let out = bindfs(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: one line: {err:?}");
        assert!(err.contains(names), "{args:?}: {err}");
        assert!(mounts_at(&mnt).is_empty(), "{args:?} mounted something");
    }
}

#[test]
fn another_view_already_there_is_an_error_naming_it() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("D/d.txt"), "d");
    env.mount(&[]);
    let mnt = env.mnt();
    let out = bindfs(&[env.t("D").to_str().unwrap(), mnt.to_str().unwrap(), "-o", "dev,suid"]);
    let err = text(&out.stderr);
    // The status of "a live view is already mounted there" (see the systemd unit).
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("another bindfs-rs view") && err.trim_end().lines().count() == 1, "{err}");
    assert_eq!(mounts_at(&mnt).len(), 1);
}

#[test]
fn unmount_lazy_detaches_a_busy_view_and_its_daemon_ends_with_the_last_file() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("busy.txt"), "busy");
    env.mount(&[]);
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    let open = std::fs::File::open(env.v("busy.txt")).unwrap();
    ok(&bindfs(&["unmount", "--lazy", m]), "unmount --lazy");
    assert!(mounts_at(&mnt).is_empty(), "still mounted after --lazy");
    // The open file still reads through the detached view.
    let mut content = String::new();
    std::io::Read::read_to_string(&mut &open, &mut content).unwrap();
    assert_eq!(content, "busy");
    drop(open);
    // The daemon ends with the last file: a new view can be mounted there.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = bindfs(&["mount", m]);
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < deadline, "no new mount after --lazy: {}", text(&out.stderr));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(mounts_at(&mnt).len(), 1);
    // The Env unmounts this one.
}

#[test]
fn doctor_reports_each_check_with_its_fix_and_passes_here() {
    if !fuse_available() {
        return;
    }
    let out = bindfs(&["doctor"]);
    let report = text(&out.stdout);
    // Mount tests run here, so nothing required is missing.
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    for what in ["/dev/fuse", "fusermount3", "/etc/fuse.conf", "kernel "] {
        assert!(report.lines().any(|l| l.contains(what)), "no {what} line: {report}");
    }
    let tags = ["ok    ", "note  ", "warn  ", "FAIL  ", "      fix: "];
    for line in report.lines() {
        assert!(tags.iter().any(|t| line.starts_with(t)), "{line}");
    }
    // Every finding that is not ok, notes too, is followed by its fix.
    let lines: Vec<&str> = report.lines().collect();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| !l.starts_with("ok ") && !l.starts_with("   "))
    {
        assert!(
            lines.get(i + 1).is_some_and(|next| next.starts_with("      fix: ")),
            "no fix for {line}: {report}"
        );
    }
}

/// The real util-linux: `mount -t fuse.bindfs-rs` (mount(8), then mount.fuse3, then
/// `bindfs-rs` from the PATH), `mount -t bindfs-rs` (mount(8), then the helper
/// `mount.bindfs-rs`), `mount -a -T FSTAB` twice, and `umount`, all in a private mount
/// namespace. mount(8) looks for helpers in /sbin only, and runs them with a PATH of its own
/// (`/usr/local/sbin:/usr/local/bin:/usr/sbin:...`): the namespace lays the helper over
/// /usr/sbin and the binary over /usr/local/bin with overlays, so nothing is installed outside
/// it.
#[test]
fn util_linux_mount_and_mount_a_use_the_helper_in_a_private_namespace() {
    let Some(env) = Env::new() else { return };
    let have = |p: &str| Path::new(p).exists();
    if !have("/usr/bin/unshare") || !have("/sbin/mount.fuse3") || !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(), "needs root, unshare and mount.fuse3");
        eprintln!("skipped: needs root, unshare and mount.fuse3");
        return;
    }
    // A container may forbid new mount namespaces or overlays: that is no FUSE matter, so the
    // test says so and skips.
    let probe = Command::new("unshare")
        .args(["-m", "sh", "-c", "mount -t overlay overlay -o lowerdir=\"$1\":/usr/sbin /usr/sbin", "sh"])
        .arg(env.root())
        .output()
        .unwrap();
    if !probe.status.success() {
        eprintln!("skipped: no private mount namespace with an overlay here: {}", text(&probe.stderr));
        return;
    }
    put(&env.t("D/d.txt"), "d");
    let bin = env.root().join("bin");
    copy_named(&bin, "bindfs-rs");
    let helpers = env.root().join("helpers");
    copy_named(&helpers, "mount.bindfs-rs");
    let (a, b) = (env.root().join("a"), env.root().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let fstab = env.root().join("fstab");
    std::fs::write(
        &fstab,
        format!(
            "# bindfs-rs views\nnone {a} fuse.bindfs-rs cache_ttl=0,nofail,_netdev,x-systemd.automount 0 0\n\
             {d} {b} bindfs-rs defaults,nofail 0 0\n",
            a = a.display(),
            b = b.display(),
            d = env.t("D").display()
        ),
    )
    .unwrap();
    let script = r#"
        set -e
        a=$1 b=$2 fstab=$3 helpers=$4 bin=$5
        trap 'set +e; umount -l "$a" 2>/dev/null; umount -l "$b" 2>/dev/null' EXIT
        mount --make-rprivate /
        mount -t overlay overlay -o "lowerdir=$helpers:/usr/sbin" /usr/sbin
        mount -t overlay overlay -o "lowerdir=$bin:/usr/local/bin" /usr/local/bin
        count() { grep -c " $1 " /proc/self/mountinfo || true; }
        mount -t fuse.bindfs-rs -o cache_ttl=0,nofail none "$a"
        echo "type fuse.bindfs-rs: $(count "$a") $(grep " $a " /proc/self/mountinfo | cut -d' ' -f6)"
        mount -a -T "$fstab"
        mount -a -T "$fstab"
        echo "after mount -a twice: $(count "$a") $(count "$b")"
        echo "b shows: $(ls "$b")"
        umount "$a"
        umount "$b"
        echo "after umount: $(count "$a") $(count "$b")"
    "#;
    let out = Command::new("unshare")
        .args(["-m", "sh", "-c", script, "sh"])
        .args([&a, &b, &fstab, &helpers, &bin])
        .output()
        .unwrap();
    let report = text(&out.stdout);
    assert!(out.status.success(), "{report}{}", text(&out.stderr));
    let line = |prefix: &str| {
        report
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}: {report}"))
            .to_owned()
    };
    let first = line("type fuse.bindfs-rs:");
    assert!(first.starts_with("type fuse.bindfs-rs: 1 "), "{report}");
    assert!(first.contains("nosuid") && first.contains("nodev"), "{report}");
    assert_eq!(line("after mount -a twice:"), "after mount -a twice: 1 1", "{report}");
    assert_eq!(line("b shows:"), "b shows: d.txt", "{report}");
    assert_eq!(line("after umount:"), "after umount: 0 0", "{report}");
    // Nothing of it is left outside the namespace.
    assert!(mounts_at(&a).is_empty() && mounts_at(&b).is_empty());
    assert!(!Path::new("/usr/sbin/mount.bindfs-rs").exists());
}
