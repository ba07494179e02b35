//! A user who is not root mounts a view (through fusermount3), links, and unmounts: the view
//! serves that user, its files are that user's, and the user's control socket is the user's.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use bindfs_tests::{Env, put};

const NOBODY: u32 = 65534;

/// Runs `bindfs-rs` (a copy the user can reach) as user `nobody`, with a runtime directory of
/// its own.
fn as_user(env: &Env, args: &[&str]) -> Output {
    Command::new(env.binary_for_others())
        .args(args)
        .env("XDG_RUNTIME_DIR", env.root().join("run"))
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap()
}

#[test]
fn a_user_mounts_links_and_unmounts_a_view() {
    let Some(env) = Env::new() else { return };
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: switching to another user needs root");
        return;
    }
    let fuse_mode = std::fs::metadata("/dev/fuse").unwrap().permissions().mode() & 0o777;
    let fusermount = std::path::Path::new("/usr/bin/fusermount3").exists();
    if fuse_mode != 0o666 || !fusermount {
        assert!(
            std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(),
            "users cannot mount here (/dev/fuse mode {fuse_mode:o}, fusermount3 {fusermount}), and BINDFS_REQUIRE_FUSE forbids skipping"
        );
        eprintln!("skipped: users cannot mount FUSE file systems here");
        return;
    }
    put(&env.t("T/a.txt"), "a");
    std::fs::create_dir_all(env.root().join("run")).unwrap();
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("T"), env.root().join("run")] {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    std::os::unix::fs::chown(env.t("T/a.txt"), Some(NOBODY), Some(NOBODY)).unwrap();
    let mnt = env.mnt();
    let mnt = mnt.to_str().unwrap();
    let link = format!("{mnt}/L={}", env.t("T").display());
    /// Detaches the user's view if the test stops halfway (root may unmount it).
    struct Detach(String);
    impl Drop for Detach {
        fn drop(&mut self) {
            if std::fs::read_to_string("/proc/self/mounts").unwrap_or_default().contains(&self.0) {
                let _ = Command::new("umount").arg("-l").arg(&self.0).status();
            }
        }
    }
    let _detach = Detach(mnt.to_string());
    let mounted = as_user(&env, &["mount", mnt, "--link", &link]);
    assert!(mounted.status.success(), "user mount failed: {}", String::from_utf8_lossy(&mounted.stderr));
    let check = Command::new("sh")
        .arg("-c")
        .arg(format!("cat {mnt}/L/a.txt && echo b > {mnt}/L/b.txt"))
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    let listed = as_user(&env, &["link", "list", mnt]);
    let unmounted = as_user(&env, &["unmount", mnt]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert_eq!(String::from_utf8_lossy(&check.stdout), "a");
    assert_eq!(std::fs::metadata(env.t("T/b.txt")).unwrap().uid(), NOBODY);
    assert!(String::from_utf8_lossy(&listed.stdout).contains("/L ->"), "{listed:?}");
    assert!(unmounted.status.success(), "{}", String::from_utf8_lossy(&unmounted.stderr));
    assert!(!std::fs::read_to_string("/proc/self/mounts").unwrap().contains(mnt));
}
