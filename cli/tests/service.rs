//! `bindfs-rs service` for real: the built binary registers a service, the service manager
//! starts it (`bindfs-rs service run` connecting back to it), `status` reads it, `uninstall`
//! removes it. Under Wine the service manager is Wine's and there is no WinFsp driver, so the
//! service's mount fails: the test then checks that the failure comes back as Windows reports
//! it (the service stopped, its exit code, the error in its log), which still runs the service's
//! whole side of the protocol.
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn bindfs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bindfs-rs")).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim_end().to_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Reads `path` until `done` says so (the service writes its log as it goes).
fn read_until(path: &Path, done: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if done(&text) || Instant::now() >= deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Uninstalls the service of its name when the test ends, passed or not (Wine's service manager
/// would start a leftover at each start of the prefix).
struct Installed<'a>(&'a str);

impl Drop for Installed<'_> {
    fn drop(&mut self) {
        let _ = bindfs(&["service", "uninstall", self.0]);
    }
}

#[test]
fn the_service_manager_runs_the_installed_service_and_uninstall_removes_it() {
    let dir = tempfile::Builder::new().prefix("bindfs-service-run-").tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir(root.join("lower dir")).unwrap();
    let (view, lower, log) = (root.join("the view"), root.join("lower dir"), root.join("service log.txt"));
    // Wine reuses small process ids: the time makes the name one no earlier run left behind.
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos();
    let name = format!("run-{}-{nanos}", std::process::id());
    let service = format!("bindfs-rs-{name}");
    let install = bindfs(&[
        "service",
        "install",
        &name,
        view.to_str().unwrap(),
        "--lower",
        lower.to_str().unwrap(),
        "--log-level",
        "info",
        "--log-file",
        log.to_str().unwrap(),
    ]);
    if !install.status.success() && stderr(&install).contains("needs an administrator") {
        eprintln!("the_service_manager_runs_...: skipped: installing a service needs an administrator");
        return;
    }
    assert!(install.status.success(), "{}", stderr(&install));
    let _installed = Installed(&name);
    let status = bindfs(&["service", "status", &name]);
    assert!(
        stdout(&status).starts_with(&format!("{service}: stopped, starts at boot\n")),
        "{}",
        stdout(&status)
    );

    let start = bindfs(&["service", "start", &name]);
    if start.status.success() {
        // A machine with WinFsp: the view is live when `start` returns.
        let status = stdout(&bindfs(&["service", "status", &name]));
        assert!(status.starts_with(&format!("{service}: running (pid ")), "{status}");
        assert!(view.is_dir(), "{} is not mounted", view.display());
        let stop = bindfs(&["service", "stop", &name]);
        assert!(stop.status.success(), "{}", stderr(&stop));
        let status = stdout(&bindfs(&["service", "status", &name]));
        assert!(status.starts_with(&format!("{service}: stopped, starts at boot")), "{status}");
        assert!(!view.exists(), "{} is still mounted", view.display());
    } else {
        // No WinFsp driver (Wine): the service ran, failed to mount, and said so.
        let e = stderr(&start);
        assert!(bindfs_winfsp::under_wine(), "service start: {e}");
        eprintln!(
            "the_service_manager_runs_the_installed_service_and_uninstall_removes_it: live view \
             skipped under Wine: no WinFsp driver to mount with (the failed start is checked instead)"
        );
        assert_eq!(
            e,
            format!(
                "bindfs-rs: service {service} stopped before its view was live (bindfs-rs error 1): its \
                 --log-file says why"
            )
        );
        let status = stdout(&bindfs(&["service", "status", &name]));
        assert!(
            status.starts_with(&format!(
                "{service}: stopped (last run failed: bindfs-rs error 1), starts at boot"
            )),
            "{status}"
        );
        let text = read_until(&log, |t| t.contains("ERROR"));
        let error = text.lines().find(|l| l.contains("ERROR")).unwrap_or_default();
        assert!(error.contains(&format!("service {service}: ")) && error.contains("the view"), "{text}");
    }

    let uninstall = bindfs(&["service", "uninstall", &name]);
    assert!(uninstall.status.success(), "{}", stderr(&uninstall));
    let gone = bindfs(&["service", "status", &name]);
    assert_eq!(stderr(&gone), format!("bindfs-rs: no service {service} (see `bindfs-rs service install`)"));
    assert!(!gone.status.success());
}
