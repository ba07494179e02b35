//! Root reaches a view another user mounted (review point 3 of issue 15; spec rule 22: root may
//! change any view's links): the CLI's `link create|list|which|remove`, `status`, and the C API.
//! The user's daemon keeps its socket in a runtime directory root cannot guess
//! (`XDG_RUNTIME_DIR`), as a real user's does.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use bindfs_tests::{Env, NOBODY, binary, bindfs_result};

mod common;

/// Runs `bindfs-rs args` as `nobody`, with the runtime directory `run`.
fn as_nobody(env: &Env, run: &Path, args: &[&str]) -> Output {
    let mut command = Command::new(env.binary_for_others());
    command.args(args).current_dir("/").env("XDG_RUNTIME_DIR", run);
    bindfs_tests::sys::run_as(&mut command, NOBODY, NOBODY, &[]);
    command.output().unwrap()
}

#[test]
fn root_changes_the_links_of_a_view_another_user_mounted() {
    let Some(env) = Env::new() else { return };
    if std::fs::metadata("/proc/self").unwrap().uid() != 0 {
        eprintln!("skipped: switching to another user needs root");
        return;
    }
    let fuse_mode = std::fs::metadata("/dev/fuse").unwrap().permissions().mode() & 0o777;
    let fusermount = Path::new("/usr/bin/fusermount3").exists();
    if fuse_mode != 0o666 || !fusermount {
        assert!(
            std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(),
            "users cannot mount here (/dev/fuse mode {fuse_mode:o}, fusermount3 {fusermount})"
        );
        return;
    }
    let call = common::build_c_program(&env.root().join("cbin"), "bindlink_call");
    let run = env.root().join("run");
    for dir in [run.clone(), env.t("a"), env.t("b")] {
        std::fs::create_dir_all(&dir).unwrap();
    }
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("a"), env.t("b"), run.clone()] {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mnt = env.mnt().to_str().unwrap().to_owned();
    /// Detaches the user's view if the test stops halfway.
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            if std::fs::read_to_string("/proc/self/mounts").unwrap_or_default().contains(&self.0) {
                let _ = Command::new("umount").arg("-l").arg(&self.0).status();
            }
        }
    }
    let _detach = Detach(mnt.clone());
    let mounted = as_nobody(&env, &run, &["mount", &mnt]);
    assert!(mounted.status.success(), "user mount: {}", String::from_utf8_lossy(&mounted.stderr));

    // Root, through the CLI.
    let a = env.t("a").to_str().unwrap().to_owned();
    bindfs_result(&["link", "create", &format!("{mnt}/x"), &a]).unwrap();
    let listed = bindfs_result(&["link", "list", &mnt]).unwrap();
    assert!(listed.contains(&format!("{mnt}/x -> {a}")), "{listed}");
    let status = bindfs_result(&["status", &mnt]).unwrap();
    assert!(status.contains(" pid ") && status.contains("1 link(s)"), "{status}");
    let all = Command::new(binary()).args(["link", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&all.stdout).contains(&format!("{mnt}/x")), "{all:?}");
    assert!(bindfs_result(&["link", "which", &format!("{mnt}/x")]).unwrap().contains("backing"));
    // Root, through the C API.
    let c = |args: &[&str]| {
        // The library beside the program (`$ORIGIN`), not one cargo's LD_LIBRARY_PATH names.
        let out = Command::new(&call).args(args).env_remove("LD_LIBRARY_PATH").output().unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let b = env.t("b").to_str().unwrap().to_owned();
    assert_eq!(c(&["create", &format!("{mnt}/y"), &b, "1"]), "0x00000000");
    assert_eq!(c(&["remove", &format!("{mnt}/x")]), "0x00000000");
    // The user sees what root did, through the daemon.
    let listed = as_nobody(&env, &run, &["link", "list", &mnt]);
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.contains(&format!("{mnt}/y -> {b}")) && !text.contains("/x ->"), "{listed:?}");
    bindfs_result(&["link", "remove", &format!("{mnt}/y")]).unwrap();
    let unmounted = as_nobody(&env, &run, &["unmount", &mnt]);
    assert!(unmounted.status.success(), "{}", String::from_utf8_lossy(&unmounted.stderr));
}
