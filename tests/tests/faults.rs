//! Faults (issue 5): a daemon killed mid-write, and the recovery a user does afterwards.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, cat, ls, put};

/// The pid of the daemon serving the view at `mnt`.
fn daemon_of(mnt: &Path) -> i32 {
    let want = mnt.to_str().unwrap();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else { continue };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let is_ours = args.iter().any(|a| a.ends_with(b"bindfs-rs"))
            && args.contains(&b"mount".as_slice())
            && args.contains(&want.as_bytes());
        if is_ours {
            return pid;
        }
    }
    panic!("no daemon serves {want}");
}

#[test]
fn a_daemon_killed_during_writes_leaves_errors_not_hangs_and_the_view_can_be_mounted_again() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Target/keep.txt"), "");
    put(&env.v("top.txt"), "on disk");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // Data written and fsynced through the view before the kill.
    let mut kept = OpenOptions::new().write(true).open(env.v("Foo/keep.txt")).unwrap();
    kept.write_all(b"fsynced before the kill").unwrap();
    kept.sync_all().unwrap();
    drop(kept);

    // A writer keeps writing new files through the view while the daemon is killed.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (dir, stop) = (env.v("Foo"), Arc::clone(&stop));
        std::thread::spawn(move || {
            // Distinct errnos seen, and how many failed calls.
            let (mut errors, mut failed) = (std::collections::BTreeSet::new(), 0);
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && failed < 100 {
                if let Err(e) = std::fs::write(dir.join(format!("w{i}")), b"data") {
                    errors.insert(e.raw_os_error());
                    failed += 1;
                }
                i += 1;
            }
            errors
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let pid = daemon_of(&env.mnt());
    bindfs_tests::sys::kill(pid, libc::SIGKILL).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    // The writer ends: no call hangs on a dead daemon.
    let started = Instant::now();
    let errors = writer.join().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!errors.is_empty(), "writes went on succeeding after the daemon was killed");
    // ENOTCONN, or ECONNABORTED for the one call in flight when the daemon died.
    assert!(
        errors.iter().all(|e| *e == Some(libc::ENOTCONN) || *e == Some(libc::ECONNABORTED)),
        "writes after the kill should fail with ENOTCONN, got errnos {errors:?}"
    );
    // The mount answers ENOTCONN at once.
    let stat = std::fs::metadata(env.v("top.txt")).unwrap_err();
    assert_eq!(stat.raw_os_error(), Some(libc::ENOTCONN));

    // `unmount` cleans the dead view; the on-disk content is back, B kept the fsynced data.
    env.unmount();
    assert_eq!(cat(&env.v("top.txt")), "on disk");
    assert_eq!(cat(&env.t("Target/keep.txt")), "fsynced before the kill");
    // Every file the writer was told was written is whole in B.
    for name in ls(&env.t("Target")) {
        if name.starts_with('w') {
            let data = std::fs::read(env.t("Target").join(&name)).unwrap();
            assert!(data.is_empty() || data == b"data", "{name}: {data:?}");
        }
    }

    // And the same directory mounts again.
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(cat(&env.v("Foo/keep.txt")), "fsynced before the kill");
}

/// Whether `mnt` is a mount point now (a bindfs-rs view there).
fn mounted(mnt: &Path) -> bool {
    let want = mnt.to_str().unwrap();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(want) && l.contains(" - fuse.bindfs-rs bindfs-rs"))
}

#[test]
fn sigterm_and_sigint_unmount_cleanly() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let Some(mut env) = Env::new() else { return };
        put(&env.v("top.txt"), "on disk");
        put(&env.t("Target/Cat.txt"), "meow");
        env.mount(&[]);
        env.link(&env.v("Foo"), &env.t("Target"), &[]);
        assert!(mounted(&env.mnt()));
        let pid = daemon_of(&env.mnt());
        bindfs_tests::sys::kill(pid, signal).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while mounted(&env.mnt()) {
            assert!(Instant::now() < deadline, "signal {signal}: still mounted after 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(cat(&env.v("top.txt")), "on disk");
        assert_eq!(cat(&env.t("Target/Cat.txt")), "meow");
        // Nothing is left to clean: the same directory mounts again at once.
        env.mount(&[]);
        assert_eq!(ls(&env.mnt()), ["top.txt"]);
    }
}

#[test]
fn a_backing_removed_or_unmounted_while_in_use_gives_clean_errors_and_other_links_keep_working() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Target/Cat.txt"), "meow");
    put(&env.t("Gone/file.txt"), "soon gone");
    let remote = env.t("Remote");
    std::fs::create_dir_all(&remote).unwrap();
    let status =
        std::process::Command::new("mount").args(["-t", "tmpfs", "none"]).arg(&remote).status().unwrap();
    assert!(status.success(), "mounting a tmpfs for the test");
    put(&remote.join("data.txt"), "on its own file system");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    env.link(&env.v("Gone"), &env.t("Gone"), &[]);
    env.link(&env.v("Remote"), &remote, &[]);
    assert_eq!(cat(&env.v("Remote/data.txt")), "on its own file system");
    let open_before = std::fs::File::open(env.v("Remote/data.txt")).unwrap();

    // The backing directory is removed; its file system goes away under the view.
    std::fs::remove_dir_all(env.t("Gone")).unwrap();
    let status = std::process::Command::new("umount").arg("-l").arg(&remote).status().unwrap();
    assert!(status.success());

    let started = Instant::now();
    let gone = std::fs::read_to_string(env.v("Gone/file.txt")).unwrap_err();
    assert_eq!(gone.raw_os_error(), Some(libc::ENOENT), "{gone}");
    // The unmounted file system's mount point is an empty directory again: its file is gone,
    // once the view's cached handle of that backing root has expired (the cache TTL, 1 s).
    let unmounted = loop {
        match std::fs::read_to_string(env.v("Remote/data.txt")) {
            Err(e) => break e,
            Ok(_) if started.elapsed() < Duration::from_secs(5) => {
                std::thread::sleep(Duration::from_millis(50))
            }
            Ok(_) => panic!("the unmounted backing is still served after 5 s"),
        }
    };
    assert_eq!(unmounted.raw_os_error(), Some(libc::ENOENT), "{unmounted}");
    // A file opened before still reads what it opened (the lazily detached file system lives on
    // while it is in use, as it would for any program).
    let mut text = String::new();
    std::io::Read::read_to_string(&mut &open_before, &mut text).unwrap();
    assert_eq!(text, "on its own file system");
    // The other links keep working, and the broken ones serve again once their backing is back.
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    put(&env.t("Gone/file.txt"), "back");
    assert_eq!(cat(&env.v("Gone/file.txt")), "back");
}

#[test]
fn a_call_stuck_in_a_hung_backing_does_not_hold_up_the_rest_of_the_view() {
    // While requests come one by one a single worker reads them (backend-fuse fs::pace); when
    // it is stuck in a backing that does not answer, a resting one comes back to read within a
    // fraction of a second.
    let Some(mut env) = Env::new() else { return };
    let Some(mut other) = Env::new() else { return };
    put(&other.mnt().join("x.txt"), "behind another daemon");
    other.mount(&[]);
    put(&env.t("Target/Cat.txt"), "meow");
    env.mount(&[]);
    env.link(&env.v("Hung"), &other.mnt(), &[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    // Looked up, not opened: a file opened and closed would leave a release that the kernel
    // sends later, and closing the backing file then waits on the stopped daemon too.
    assert!(std::fs::metadata(env.v("Hung/x.txt")).unwrap().is_file());
    let hung = daemon_of(&other.mnt());
    bindfs_tests::sys::kill(hung, libc::SIGSTOP).unwrap();
    let stuck = std::thread::spawn({
        let path = env.v("Hung/none.txt");
        move || std::fs::metadata(path).map(|_| ())
    });
    std::thread::sleep(Duration::from_millis(200));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn({
        let path = env.v("Foo/Cat.txt");
        move || tx.send(std::fs::read_to_string(path)).unwrap()
    });
    let served = rx.recv_timeout(Duration::from_secs(10));
    // The other daemon goes on before anything is asserted.
    bindfs_tests::sys::kill(hung, libc::SIGCONT).unwrap();
    assert_eq!(served.expect("the view answered nothing while one call was stuck").unwrap(), "meow");
    let stuck = stuck.join().unwrap().unwrap_err();
    assert_eq!(stuck.raw_os_error(), Some(libc::ENOENT), "{stuck}");
    env.unmount();
    other.unmount();
}

/// Review point 7 of issue 14: one dead view does not hide the others from `link list` (no
/// mount point): it is skipped with a one-line note, the live views are listed, exit status 0.
/// `status` shows the dead one once as `daemon not running` (review point 12).
#[test]
fn link_list_of_every_view_skips_a_dead_one() {
    let Some(mut live) = Env::new() else { return };
    let Some(mut dead) = Env::new() else { return };
    std::fs::create_dir_all(live.t("a")).unwrap();
    live.mount(&[]);
    live.link(&live.v("x"), &live.t("a"), &[]);
    dead.mount(&[]);
    bindfs_tests::sys::kill(daemon_of(&dead.mnt()), libc::SIGKILL).unwrap();
    let dead_mnt = dead.mnt().to_str().unwrap().to_owned();
    // The kill is asynchronous: wait (generously) until `status` sees the daemon gone.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        let status = bindfs_tests::bindfs_result(&["status", &dead_mnt]).unwrap();
        if status.contains("daemon not running") || Instant::now() > deadline {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status, format!("{dead_mnt}  daemon not running\n"));
    let out = bindfs_tests::bindfs(&["link", "list"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(live.v("x").to_str().unwrap()), "{stdout}");
    assert!(stderr.contains(&format!("bindfs-rs: {dead_mnt}: skipped: daemon not running\n")), "{stderr}");
    // Named, the dead view still fails: the user asked for it.
    assert!(bindfs_tests::bindfs_result(&["link", "list", &dead_mnt]).is_err());
}
