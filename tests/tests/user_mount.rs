//! A user who is not root mounts a view (through fusermount3), links, and unmounts: the view
//! serves that user, its files are that user's, and the user's control socket is the user's.
//! Such a daemon cannot pass open files through (the kernel wants CAP_SYS_ADMIN to register a
//! backing file), and its `status` and log say so; a root view passes through where the
//! kernel can.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use bindfs_tests::{Env, bindfs_result, put};

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
    // Big enough that its opens would pass through (io_mode::CACHED_BELOW is 64 KiB).
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::write(env.t("T/big.bin"), &big).unwrap();
    std::fs::create_dir_all(env.root().join("run")).unwrap();
    for dir in [env.root().to_path_buf(), env.mnt(), env.t(""), env.t("T"), env.root().join("run")] {
        std::os::unix::fs::chown(&dir, Some(NOBODY), Some(NOBODY)).unwrap();
    }
    for file in ["T/a.txt", "T/big.bin"] {
        std::os::unix::fs::chown(env.t(file), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    let mnt = env.mnt();
    let mnt = mnt.to_str().unwrap();
    let link = format!("{mnt}/L={}", env.t("T").display());
    let log = env.root().join("user.log");
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
    let mounted = as_user(
        &env,
        &["mount", mnt, "--link", &link, "--log-level", "info", "--log-file", log.to_str().unwrap()],
    );
    assert!(mounted.status.success(), "user mount failed: {}", String::from_utf8_lossy(&mounted.stderr));
    // Review point 4: the kernel agrees to passthrough, but would refuse this daemon every
    // backing file; the view says what it really does.
    let status = as_user(&env, &["status", mnt, "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(rows[0]["passthrough"], false, "a user's view claims passthrough: {rows}");
    let text = String::from_utf8_lossy(&as_user(&env, &["status", mnt]).stdout).into_owned();
    assert!(text.contains("passthrough off"), "{text}");
    let check = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "cat {mnt}/L/a.txt && echo b > {mnt}/L/b.txt && cmp {mnt}/L/big.bin {}",
            env.t("T/big.bin").display()
        ))
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
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(!log.contains("open files pass through"), "{log}");
    if kernel_passthrough() == Some(true) {
        assert!(log.contains("do not pass through") && log.contains("CAP_SYS_ADMIN"), "{log}");
    }
}

/// Whether this kernel can pass open files through: 6.9 or later, built with
/// `CONFIG_FUSE_PASSTHROUGH` (`None`: its config cannot be read here).
fn kernel_passthrough() -> Option<bool> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").ok()?;
    let mut numbers = release.trim().split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u32>());
    let (Some(Ok(major)), Some(Ok(minor))) = (numbers.next(), numbers.next()) else { return None };
    if (major, minor) < (6, 9) {
        return Some(false);
    }
    let config = std::fs::read_to_string(format!("/boot/config-{}", release.trim())).ok().or_else(|| {
        let out = Command::new("zcat").arg("/proc/config.gz").output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    })?;
    Some(config.lines().any(|l| l == "CONFIG_FUSE_PASSTHROUGH=y"))
}

/// Whether this process is in the initial user namespace (whose inode number is fixed), where
/// root's CAP_SYS_ADMIN is what the kernel asks of a daemon registering backing files.
fn in_initial_user_namespace() -> bool {
    std::fs::metadata("/proc/self/ns/user").is_ok_and(|m| m.ino() == 0xEFFF_FFFD)
}

#[test]
fn a_root_view_passes_open_files_through_where_the_kernel_can() {
    let Some(mut env) = Env::new() else { return };
    let able = rustix::process::geteuid().is_root() && in_initial_user_namespace();
    let Some(kernel) = kernel_passthrough() else {
        eprintln!("skipped: the kernel's config is not readable (/boot/config-*, /proc/config.gz)");
        return;
    };
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(env.t("T")).unwrap();
    std::fs::write(env.t("T/big.bin"), &big).unwrap();
    env.mount(&[]);
    env.link(&env.v("L"), &env.t("T"), &[]);
    let mnt = env.mnt();
    let rows: serde_json::Value =
        serde_json::from_str(&bindfs_result(&["status", mnt.to_str().unwrap(), "--json"]).unwrap()).unwrap();
    assert_eq!(rows[0]["passthrough"], kernel && able, "kernel can: {kernel}, root: {able}; {rows}");
    // Opened, read and written through whichever mode it is.
    assert_eq!(std::fs::read(env.v("L/big.bin")).unwrap(), big);
    std::fs::write(env.v("L/big.bin"), b"new").unwrap();
    assert_eq!(std::fs::read(env.t("T/big.bin")).unwrap(), b"new");
    let rows: serde_json::Value =
        serde_json::from_str(&bindfs_result(&["status", mnt.to_str().unwrap(), "--json"]).unwrap()).unwrap();
    assert_eq!(rows[0]["passthrough"], kernel && able, "passthrough changed after opens: {rows}");
}
