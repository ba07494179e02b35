//! Links that persist and wait (issue 14, items 6 and 2): `link apply` makes a live view match
//! a links file, all or nothing; `link list --toml` writes one back; optional links and
//! `--wait-backings` let a view come up before a late backing; and a `Type=notify` systemd
//! unit hears READY=1 once the view is live and STOPPING=1 at unmount.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, binary, bindfs_ok, bindfs_result, cat, ls, put};

/// Writes a links file of `(virtual, backing, extra TOML lines)` and returns its path.
fn links_file(env: &Env, name: &str, links: &[(PathBuf, PathBuf, &str)]) -> PathBuf {
    let mut text = String::new();
    for (v, b, extra) in links {
        text.push_str(&format!("[[link]]\nvirtual = {:?}\nbacking = {:?}\n{extra}\n", v, b));
    }
    let file = env.root().join(name);
    std::fs::write(&file, text).unwrap();
    file
}

/// `link list --json` of the view.
fn listed(env: &Env) -> serde_json::Value {
    serde_json::from_str(&bindfs_result(&["link", "list", env.mnt().to_str().unwrap(), "--json"]).unwrap())
        .unwrap()
}

/// The virtual paths of the view's links, relative to the mount point, in listing order.
fn virtuals(env: &Env) -> Vec<String> {
    let mnt = env.mnt();
    listed(env)
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["virtual"].as_str().unwrap().trim_start_matches(mnt.to_str().unwrap()).to_owned())
        .collect()
}

fn apply(file: &Path, env: &Env) -> Result<String, String> {
    bindfs_result(&["link", "apply", file.to_str().unwrap(), env.mnt().to_str().unwrap()])
}

/// Polls `done` until it holds or a generous deadline passes.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 60 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn link_apply_adds_removes_replaces_and_orders_nested_links() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Keep/old.txt"), "on disk");
    put(&env.t("A/a.txt"), "a");
    put(&env.t("Sub/s.txt"), "s");
    put(&env.t("B/b.txt"), "b");
    put(&env.t("C/c.txt"), "c");
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("Extra"), &env.t("C"), &[]);
    // The child is listed before its anchorless parent: apply makes the parent first.
    let file = links_file(
        &env,
        "one.toml",
        &[
            (env.v("New/Sub"), env.t("Sub"), ""),
            (env.v("New"), env.t("A"), ""),
            (env.v("Keep"), env.t("B"), "read_only = true"),
        ],
    );
    let out = apply(&file, &env).unwrap();
    assert!(out.contains("3 created, 1 removed, 0 pending"), "{out}");
    assert_eq!(virtuals(&env), ["/New", "/New/Sub", "/Keep"]);
    assert!(!env.v("Extra").exists(), "the extra link is gone");
    assert_eq!(ls(&env.v("New")), ["Sub", "a.txt"]);
    assert_eq!(cat(&env.v("New/Sub/s.txt")), "s");
    assert_eq!(cat(&env.v("Keep/b.txt")), "b");
    assert!(std::fs::write(env.v("Keep/b.txt"), "x").is_err(), "read-only through the link");
    // The same file again: nothing to do.
    assert!(apply(&file, &env).unwrap().contains("0 created, 0 removed"));
    // A changed link is replaced: Keep now shows C, writable; New and its child go.
    let file = links_file(&env, "two.toml", &[(env.v("Keep"), env.t("C"), "")]);
    let out = apply(&file, &env).unwrap();
    assert!(out.contains("1 created, 3 removed"), "{out}");
    assert_eq!(virtuals(&env), ["/Keep"]);
    assert_eq!(ls(&env.v("Keep")), ["c.txt"]);
    assert!(!env.v("New").exists());
    // An empty file removes every link; the view shows its own content again.
    let empty = links_file(&env, "empty.toml", &[]);
    apply(&empty, &env).unwrap();
    assert_eq!(ls(&env.v("Keep")), ["old.txt"]);
    assert!(virtuals(&env).is_empty());
}

#[test]
fn link_apply_is_logged_with_the_callers_uid_and_each_change() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    put(&env.t("B/b.txt"), "b");
    let log = env.root().join("bindfs.log");
    let at_mount = format!("{}={}", env.v("A").display(), env.t("A").display());
    env.mount(&["--log-file", log.to_str().unwrap(), "--log-level", "info", "--link", &at_mount]);
    let file = links_file(&env, "b.toml", &[(env.v("B"), env.t("B"), "")]);
    apply(&file, &env).unwrap();
    let me = rustix::process::getuid().as_raw();
    let quoted = |p: PathBuf| format!("path=\"{}\"", p.display());
    // The lines may reach the file a moment after the reply.
    eventually("the apply logged", || {
        let text = cat(&log);
        let has = |what: &str, path: &str| {
            text.lines().any(|l| l.contains(" INFO ") && l.contains(what) && l.contains(path))
        };
        has(&format!("links applied by uid={me}"), "links=1")
            && has("link created by apply", &quoted(env.v("B")))
            && has("link removed by apply", &quoted(env.v("A")))
    });
}

#[test]
fn a_bad_links_file_changes_nothing_and_says_why_in_one_line() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Keep/old.txt"), "on disk");
    put(&env.t("A/a.txt"), "a");
    put(&env.t("B/b.txt"), "b");
    env.mount(&["--cache-ttl", "0"]);
    let good =
        links_file(&env, "good.toml", &[(env.v("Keep"), env.t("A"), ""), (env.v("Other"), env.t("B"), "")]);
    apply(&good, &env).unwrap();
    let before = listed(&env);
    let outside = format!("except = [{:?}]", env.t("A"));
    let bad_files = [
        // A missing backing after a good change (the good one must not stay made).
        links_file(
            &env,
            "missing.toml",
            &[(env.v("Keep"), env.t("B"), ""), (env.v("Late"), env.t("NoSuch"), "")],
        ),
        // An exception outside its link.
        links_file(&env, "outside.toml", &[(env.v("Keep"), env.t("A"), &outside)]),
    ];
    let parse_error = env.root().join("garbage.toml");
    std::fs::write(&parse_error, "[[link]]\nvirtual = 1\n").unwrap();
    for file in bad_files.iter().chain([&parse_error]) {
        let err = apply(file, &env).unwrap_err();
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.starts_with("bindfs-rs: "), "{err}");
        assert_eq!(listed(&env), before, "{} changed the view: {err}", file.display());
    }
    assert!(apply(&bad_files[0], &env).unwrap_err().contains("NoSuch"));
    assert_eq!(cat(&env.v("Keep/a.txt")), "a");
}

#[test]
fn link_list_toml_reads_back_with_apply_and_mount_config() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Docs/mine.txt"), "mine");
    put(&env.v("Docs/private/p.txt"), "p");
    put(&env.t("A/a.txt"), "a");
    put(&env.t("X/x.txt"), "x");
    env.mount(&["--cache-ttl", "0"]);
    let private = env.v("Docs/private");
    env.link(
        &env.v("Docs"),
        &env.t("A"),
        &["--merged", "--read-only", "--except", private.to_str().unwrap()],
    );
    env.link(&env.v("Docs/x"), &env.t("X"), &[]);
    // A chain (rule 9): its backing is a path inside the view.
    env.link(&env.v("Chain"), &env.v("Docs/x"), &[]);
    let saved = bindfs_result(&["link", "list", env.mnt().to_str().unwrap(), "--toml"]).unwrap();
    let file = env.root().join("saved.toml");
    std::fs::write(&file, &saved).unwrap();
    let before = listed(&env);
    // Applying what was saved changes nothing.
    assert!(apply(&file, &env).unwrap().contains("0 created, 0 removed"), "{saved}");
    assert_eq!(listed(&env), before);
    // A fresh mount from the saved file has the same links.
    env.unmount();
    env.mount(&["--cache-ttl", "0", "--config", file.to_str().unwrap()]);
    assert_eq!(listed(&env), before, "{saved}");
    assert_eq!(ls(&env.v("Docs")), ["a.txt", "mine.txt", "private", "x"]);
    assert_eq!(cat(&env.v("Chain/x.txt")), "x");
}

#[test]
fn an_optional_link_waits_for_its_backing_and_is_made_when_it_appears() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    let late = env.t("Late");
    let file = links_file(
        &env,
        "late.toml",
        &[(env.v("Late"), late.clone(), "optional = true"), (env.v("A"), env.t("A"), "")],
    );
    env.mount(&["--cache-ttl", "0", "--config", file.to_str().unwrap()]);
    let links = listed(&env);
    let waiting = links.as_array().unwrap().iter().find(|l| l["pending"] == true).unwrap();
    assert_eq!(waiting["virtual"], env.v("Late").to_str().unwrap());
    assert_eq!(waiting["optional"], true);
    let text = bindfs_result(&["link", "list", env.mnt().to_str().unwrap()]).unwrap();
    assert!(text.contains("pending"), "{text}");
    assert!(!env.v("Late").exists());
    assert_eq!(cat(&env.v("A/a.txt")), "a");
    // The backing appears: the daemon makes the link.
    put(&late.join("l.txt"), "late");
    eventually("the pending link made", || env.v("Late/l.txt").exists());
    assert_eq!(cat(&env.v("Late/l.txt")), "late");
    let links = listed(&env);
    assert!(links.as_array().unwrap().iter().all(|l| l["pending"] == false), "{links}");
    // `link list --toml` keeps it optional.
    let saved = bindfs_result(&["link", "list", env.mnt().to_str().unwrap(), "--toml"]).unwrap();
    assert!(saved.contains("optional = true"), "{saved}");
    // A pending link is dropped by `link remove`; a non-optional missing backing fails apply.
    let never = links_file(&env, "never.toml", &[(env.v("Never"), env.t("Never"), "optional = true")]);
    assert!(apply(&never, &env).unwrap().contains("1 pending"));
    bindfs_ok(&["link", "remove", env.v("Never").to_str().unwrap()]);
    assert!(listed(&env).as_array().unwrap().is_empty(), "{}", listed(&env));
}

#[test]
fn wait_backings_waits_for_a_backing_made_a_moment_later() {
    let Some(mut env) = Env::new() else { return };
    let late = env.t("Late");
    let file = links_file(&env, "late.toml", &[(env.v("Late"), late.clone(), "")]);
    // Without waiting, the missing backing (not optional) fails the mount with one line naming it.
    let err = bindfs_result(&["mount", env.mnt().to_str().unwrap(), "--config", file.to_str().unwrap()])
        .unwrap_err();
    assert!(err.contains(late.to_str().unwrap()) && err.trim_end().lines().count() == 1, "{err}");
    // It appears while the mount waits: the mount comes up with the link.
    let maker = {
        let late = late.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            put(&late.join("l.txt"), "late");
        })
    };
    env.mount(&["--config", file.to_str().unwrap(), "--wait-backings", "120"]);
    maker.join().unwrap();
    assert_eq!(cat(&env.v("Late/l.txt")), "late");
    // Past the wait, a backing still missing and not optional fails the mount, naming it.
    env.unmount();
    let never = links_file(&env, "never.toml", &[(env.v("Never"), env.t("Never"), "")]);
    let mnt = env.mnt();
    let err = bindfs_result(&[
        "mount",
        mnt.to_str().unwrap(),
        "--config",
        never.to_str().unwrap(),
        "--wait-backings",
        "1",
    ])
    .unwrap_err();
    assert!(err.contains("Never") && err.trim_end().lines().count() == 1, "{err}");
}

/// What a test notify socket heard, datagram by datagram.
fn heard(socket: &std::os::unix::net::UnixDatagram, until: &str) -> Vec<String> {
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut buf = [0u8; 4096];
    while !all.iter().any(|m: &String| m.lines().any(|l| l == until)) {
        assert!(Instant::now() < deadline, "no {until} within 60 s; heard {all:?}");
        if let Ok(n) = socket.recv(&mut buf) {
            all.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    all
}

#[test]
fn systemd_hears_ready_once_the_view_is_live_and_stopping_at_unmount() {
    let Some(env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    let file = links_file(&env, "view.toml", &[(env.v("A"), env.t("A"), "")]);
    let path = env.root().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mnt = env.mnt();
    let mut daemon = std::process::Command::new(binary())
        .args(["mount", mnt.to_str().unwrap(), "--foreground", "--config", file.to_str().unwrap()])
        .env("NOTIFY_SOCKET", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ready = heard(&socket, "READY=1");
    // READY=1 came once the view was live, its links made, and its control socket answering.
    assert_eq!(cat(&env.v("A/a.txt")), "a");
    assert_eq!(virtuals(&env), ["/A"]);
    assert!(!ready.iter().any(|m| m.contains("STOPPING=1")), "{ready:?}");
    bindfs_ok(&["unmount", mnt.to_str().unwrap()]);
    heard(&socket, "STOPPING=1");
    let status = daemon.wait().unwrap();
    assert!(status.success(), "{status}");
}

#[test]
fn a_foreground_mount_of_a_live_view_exits_with_the_status_the_unit_does_not_restart_on() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/a.txt"), "a");
    let file = links_file(&env, "view.toml", &[(env.v("A"), env.t("A"), "")]);
    let f = file.to_str().unwrap();
    // Mounted first by someone else (fstab, or a mount by hand).
    env.mount(&["--config", f]);
    let path = env.root().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let mnt = env.mnt();
    let out = std::process::Command::new(binary())
        .args(["mount", mnt.to_str().unwrap(), "--foreground", "--config", f])
        .env("NOTIFY_SOCKET", &path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    // The line names the daemon that serves the view.
    let status = bindfs_result(&["status", mnt.to_str().unwrap(), "--json"]).unwrap();
    let pid = serde_json::from_str::<serde_json::Value>(&status).unwrap()[0]["pid"].as_u64().unwrap();
    assert!(err.contains("already shows this view") && err.contains(&format!("pid {pid}")), "{err}");
    // systemd heard why (STATUS=), and neither READY=1 nor STOPPING=1.
    // The command has ended: whatever it sent is queued on the socket.
    let mut said = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = socket.recv(&mut buf) {
        said.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert!(said.iter().any(|m| m.starts_with("STATUS=") && m.contains("already shows")), "{said:?}");
    assert!(!said.iter().any(|m| m.contains("READY=1") || m.contains("STOPPING=1")), "{said:?}");
    // The unit does not restart on that status, and the first view serves on.
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd/bindfs-rs@.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    let prevent = text.lines().find(|l| l.starts_with("RestartPreventExitStatus=")).unwrap_or_default();
    assert!(prevent.split(['=', ' ']).any(|w| w == "3"), "{prevent:?}");
    assert_eq!(cat(&env.v("A/a.txt")), "a");
}

#[test]
fn the_systemd_unit_is_valid_and_reloads_with_link_apply() {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib/systemd/bindfs-rs@.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in ["Type=notify", "NotifyAccess=main", "ExecReload="] {
        assert!(text.lines().any(|l| l.starts_with(line)), "{line} missing:\n{text}");
    }
    let reload = text.lines().find(|l| l.starts_with("ExecReload=")).unwrap();
    assert!(reload.contains("link apply"), "{reload}");
    let start = text.lines().find(|l| l.starts_with("ExecStart=")).unwrap();
    assert!(start.contains("--foreground") && start.contains("--config"), "{start}");
    // systemd's own check, where systemd-analyze is installed.
    let Ok(out) = std::process::Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is missing: the unit's own check is skipped");
        return;
    };
    assert!(out.status.success());
    // An instance of the template, with ExecStart's program where the test can see it.
    let dir = tempfile::tempdir().unwrap();
    let instance = dir.path().join("bindfs-rs@view.service");
    let bin = binary();
    std::fs::write(&instance, text.replace("/usr/local/bin/bindfs-rs", bin.to_str().unwrap())).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&instance)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    // Lines about other units of this machine (its own unit files) are not the unit's.
    let ours: Vec<&str> = said.lines().filter(|l| l.contains("bindfs-rs@")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify: {said}");
}
