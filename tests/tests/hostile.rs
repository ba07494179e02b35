//! Hostile use (issue 5): a backing tree changed under the view to lead outside it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, put, sh_as_nobody};

/// A directory of the backing swapped again and again for a symlink leading out of the backing
/// tree while paths through it are opened. The view shows the symlink as a symlink, which the
/// caller's kernel resolves in the *virtual* namespace (rule 24), so its target is chosen to
/// mean different files there and in the backing: `../Outside` is `t/Outside` next to the
/// backing, but `Outside` of the view's on-disk layer for a caller. Every read must give the
/// backing's own file, the virtual namespace's, or an error; never `t/Outside`'s, which only a
/// daemon following the symlink inside the backing could reach.
#[test]
fn a_directory_swapped_for_a_symlink_never_leads_the_daemon_outside_the_backing() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Target/sub/passwd"), "the backing's own file");
    put(&env.t("Target/sub/hostname"), "the backing's own file");
    put(&env.t("Outside/passwd"), "OUTSIDE THE BACKING");
    put(&env.t("Outside/hostname"), "OUTSIDE THE BACKING");
    put(&env.v("Outside/passwd"), "the virtual namespace's file");
    put(&env.v("Outside/hostname"), "the virtual namespace's file");
    // Cached entries make the kernel send lookups below a directory that is a symlink by now.
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let swapper = {
        let (base, stop, swaps) = (env.t("Target"), Arc::clone(&stop), Arc::clone(&swaps));
        std::thread::spawn(move || {
            let (sub, aside, link) = (base.join("sub"), base.join("aside"), base.join("link"));
            std::os::unix::fs::symlink("../Outside", &link).unwrap();
            while !stop.load(Ordering::Relaxed) {
                // sub: directory -> symlink -> directory, each step an atomic rename.
                let swapped = std::fs::rename(&sub, &aside)
                    .and_then(|()| std::fs::rename(&link, &sub))
                    .and_then(|()| std::fs::rename(&sub, &link))
                    .and_then(|()| std::fs::rename(&aside, &sub));
                if let Err(e) = swapped {
                    panic!("swapping {}: {e}", sub.display());
                }
                swaps.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let (mut own, mut virtual_ns, mut failed) = (0, 0, 0);
    // At least 2 s, and on until some read got through: a name looked up while the swapper had
    // it renamed away is a negative entry for the cache time (1 s), so every read of that time
    // fails, and a few such lookups in a row can fill 2 s.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2)
        || (own + virtual_ns == 0 && started.elapsed() < Duration::from_secs(60))
    {
        for name in ["passwd", "hostname"] {
            match std::fs::read_to_string(env.v("Foo/sub").join(name)) {
                Ok(text) if text == "the backing's own file" => own += 1,
                Ok(text) if text == "the virtual namespace's file" => virtual_ns += 1,
                Ok(text) => panic!("read {text:?}: the daemon followed a symlink inside the backing"),
                Err(_) => failed += 1,
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    // The race really ran both ways.
    assert!(swaps.load(Ordering::Relaxed) > 10, "the swapper barely ran");
    eprintln!("reads: {own} backing, {virtual_ns} virtual namespace, {failed} failed");
    assert!(own + virtual_ns > 0 && own + virtual_ns + failed > 100, "too few reads");
}

/// An unprivileged user cannot change anything through a read-only link, even files and
/// directories B lets everyone write; through B itself they stay writable (rule 13).
#[test]
fn an_unprivileged_user_cannot_write_through_a_read_only_link() {
    use std::os::unix::fs::PermissionsExt;
    let Some(mut env) = Env::new() else { return };
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: needs root (to act as another user)");
        return;
    }
    put(&env.t("Shared/open.txt"), "everyone may write this");
    let set = |p: std::path::PathBuf, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    set(env.t("Shared/open.txt"), 0o666);
    // Theirs, so that chmod would be theirs to do on B.
    std::os::unix::fs::chown(
        env.t("Shared/open.txt"),
        Some(bindfs_tests::NOBODY),
        Some(bindfs_tests::NOBODY),
    )
    .unwrap();
    set(env.t("Shared"), 0o777);
    for dir in [env.root().to_path_buf(), env.mnt(), env.t("")] {
        set(dir, 0o755);
    }
    env.mount(&[]);
    env.link(&env.v("Ro"), &env.t("Shared"), &["--read-only"]);
    let attempts = [
        "echo changed > \"$1/open.txt\"",
        "echo new > \"$1/new.txt\"",
        "rm \"$1/open.txt\"",
        "mkdir \"$1/dir\"",
        "mv \"$1/open.txt\" \"$1/moved.txt\"",
        "chmod 600 \"$1/open.txt\"",
        "truncate -s 0 \"$1/open.txt\"",
    ];
    for script in attempts {
        let out = sh_as_nobody(script, &[&env.v("Ro")]);
        assert!(!out.status.success(), "{script}: succeeded through a read-only link");
        // The link reports no write bits (rule 13), so the kernel's own permission check refuses
        // most calls first (EACCES); what reaches the daemon is refused with EROFS.
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("Read-only file system") || err.contains("Permission denied"),
            "{script}: {err}"
        );
    }
    assert_eq!(std::fs::read_to_string(env.t("Shared/open.txt")).unwrap(), "everyone may write this");
    let names: Vec<_> =
        std::fs::read_dir(env.t("Shared")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(names, ["open.txt"]);
    // B itself stays writable for the same user.
    let out = sh_as_nobody("echo changed > \"$1/open.txt\"", &[&env.t("Shared")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
