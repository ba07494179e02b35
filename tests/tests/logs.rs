//! The daemon's log (issue 14, item 3): `--log-file` and `--log-level` put every link change in
//! a file with the caller's uid; the default level writes no info lines; `-d` serves in the
//! foreground with its log on stderr; a bad logging flag fails `mount` with one line and
//! mounts nothing.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use bindfs_tests::{Env, as_nobody, binary, bindfs, cat, put};

/// Whether a view is mounted at `mnt`.
fn mounted(mnt: &Path) -> bool {
    let table = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    table.lines().any(|l| l.split(' ').nth(4) == Some(mnt.to_str().unwrap()))
}

/// The one line a refused command printed, checking it failed with status 1.
fn one_line_error(args: &[&str]) -> String {
    let out = bindfs(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: expected one line: {err:?}");
    err
}

#[test]
fn a_log_file_at_info_level_records_each_link_change_with_the_callers_uid() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    put(&env.t("B/b.txt"), "b");
    let log = env.root().join("bindfs.log");
    let at_mount = format!("{}={}", env.v("A").display(), env.t("A").display());
    env.mount(&["--log-file", log.to_str().unwrap(), "--log-level", "info", "--link", &at_mount]);
    env.link(&env.v("B"), &env.t("B"), &["--read-only"]);
    let removed = env.try_unlink(&env.v("B"));
    assert!(removed.status.success(), "{}", String::from_utf8_lossy(&removed.stderr));
    // Another user may not change root's view: the refusal is logged with that user's uid.
    let refused = as_nobody(&binary(), &["link", "remove", env.v("A").to_str().unwrap()]);
    assert!(!refused.status.success());

    let me = rustix::process::getuid().as_raw();
    let text = cat(&log);
    let lines: Vec<&str> = text.lines().collect();
    let find = |what: &str, path: &Path| {
        let quoted = format!("path=\"{}\"", path.display());
        lines
            .iter()
            .find(|l| l.contains(" INFO ") && l.contains(what) && l.contains(&quoted))
            .unwrap_or_else(|| panic!("no INFO line \"{what}\" for {} in the log:\n{text}", path.display()))
            .to_string()
    };
    let mount_line = find(&format!("link created by uid={me}"), &env.v("A"));
    assert!(mount_line.contains("via=mount"), "{mount_line}");
    // Each link the mount made is logged once, by that line.
    let quoted = format!("path=\"{}\"", env.v("A").display());
    let about_a = lines.iter().filter(|l| l.contains("link created") && l.contains(&quoted)).count();
    assert_eq!(about_a, 1, "the mount's link logged once:\n{text}");
    let created = find(&format!("link created by uid={me}"), &env.v("B"));
    assert!(created.contains("via=control") && created.contains("read_only=true"), "{created}");
    assert!(created.contains(&format!("backing=\"{}\"", env.t("B").display())), "{created}");
    find(&format!("link removed by uid={me}"), &env.v("B"));
    let denied = find("link not removed for uid=65534", &env.v("A"));
    assert!(denied.contains("permission denied"), "{denied}");
    // The log is its owner's alone.
    assert_eq!(std::fs::metadata(&log).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn the_default_level_writes_no_info_lines() {
    if std::env::var_os("RUST_LOG").is_some() {
        eprintln!("skipped: RUST_LOG is set, so the daemon's level is not the default");
        return;
    }
    let Some(mut env) = Env::new() else { return };
    put(&env.t("B/b.txt"), "b");
    let log = env.root().join("quiet.log");
    env.mount(&["--log-file", log.to_str().unwrap()]);
    env.link(&env.v("B"), &env.t("B"), &[]);
    assert!(env.try_unlink(&env.v("B")).status.success());
    env.unmount();
    let text = cat(&log);
    assert!(!text.contains(" INFO ") && !text.contains("link created"), "{text}");
}

#[test]
fn bad_logging_flags_fail_the_mount_with_one_line_and_mount_nothing() {
    let Some(env) = Env::new() else { return };
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    let err = one_line_error(&["mount", m, "--log-level", "loud"]);
    assert!(err.contains("--log-level loud") && err.contains("info"), "{err}");
    assert!(!mounted(&mnt));
    let nowhere = env.root().join("no/such/dir/bindfs.log");
    let err = one_line_error(&["mount", m, "--log-file", nowhere.to_str().unwrap()]);
    assert!(err.contains("--log-file"), "{err}");
    assert!(!mounted(&mnt));
    // The error names the log file the way it was given.
    let o = format!("log_file={}", nowhere.display());
    let err = one_line_error(&["mount", m, "-o", &o]);
    assert!(err.contains(&format!("-o {o}: ")) && !err.contains("--log-file"), "{err}");
    let file = env.root().join("view.toml");
    std::fs::write(&file, format!("[mount]\nlog_file = {:?}\n", nowhere.to_str().unwrap())).unwrap();
    let err = one_line_error(&["mount", m, "--config", file.to_str().unwrap()]);
    assert!(err.contains("[mount] log_file = ") && !err.contains("--log-file"), "{err}");
    assert!(!mounted(&mnt));
}

#[test]
fn a_link_waiting_for_its_backing_at_mount_is_logged_once() {
    let Some(mut env) = Env::new() else { return };
    let log = env.root().join("waits.log");
    let file = env.root().join("view.toml");
    let late = env.root().join("late");
    let links = format!(
        "[[link]]\nvirtual = {:?}\nbacking = {:?}\noptional = true\n",
        env.v("L").to_str().unwrap(),
        late.to_str().unwrap()
    );
    std::fs::write(&file, links).unwrap();
    let (f, l) = (file.to_str().unwrap(), log.to_str().unwrap());
    env.mount(&["--config", f, "--log-level", "info", "--log-file", l]);
    env.unmount();
    let text = cat(&log);
    let waits = text.lines().filter(|l| l.contains("link waits for its backing")).count();
    assert_eq!(waits, 1, "{text}");
}

#[test]
fn a_mount_that_fails_writes_its_reason_to_the_log_file_too() {
    let Some(env) = Env::new() else { return };
    let mnt = env.mnt();
    let m = mnt.to_str().unwrap();
    let missing = env.root().join("nope");
    let link = format!("{}={}", env.v("A").display(), missing.display());
    for foreground in [false, true] {
        let log = env.root().join(format!("failed-{foreground}.log"));
        let mut args = vec!["mount", m, "--link", &link, "--log-file", log.to_str().unwrap()];
        if foreground {
            args.push("--foreground");
        }
        let err = one_line_error(&args);
        assert!(err.contains(&missing.display().to_string()), "{err}");
        assert!(!mounted(&mnt));
        // The same reason, once, in the log (stderr is lost under fstab or a service).
        let reason = err.trim_end().trim_start_matches("bindfs-rs: ");
        let text = cat(&log);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(reason)).collect();
        assert_eq!(lines.len(), 1, "foreground {foreground}: {reason:?} once in the log:\n{text}");
        assert!(lines[0].contains("ERROR"), "{}", lines[0]);
    }
}

#[test]
fn debug_serves_in_the_foreground_and_logs_to_stderr() {
    let Some(env) = Env::new() else { return };
    put(&env.t("B/b.txt"), "b");
    let mnt = env.mnt();
    let mut daemon = Command::new(binary())
        .args(["mount", mnt.to_str().unwrap(), "-d"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `-d` does not return once the view is live: wait for the mount (or the daemon's end).
    while !mounted(&mnt) {
        if let Some(status) = daemon.try_wait().unwrap() {
            let mut err = String::new();
            daemon.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("mount -d ended ({status}) before the view was live: {err}");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The view shows in the mount table a moment before its control socket answers.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !bindfs(&["status", mnt.to_str().unwrap()]).status.success() && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    env.link(&env.v("B"), &env.t("B"), &[]);
    assert_eq!(cat(&env.v("B/b.txt")), "b");
    let unmounted = bindfs(&["unmount", mnt.to_str().unwrap()]);
    assert!(unmounted.status.success(), "{}", String::from_utf8_lossy(&unmounted.stderr));
    let mut err = String::new();
    daemon.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(daemon.wait().unwrap().success(), "{err}");
    assert!(err.contains("link created by uid=") && err.contains(" INFO "), "{err}");
    assert!(err.contains("DEBUG"), "-d logs at debug level: {err}");
}
