//! The harness itself: a view mounts, shows a link, and unmounts leaving the on-disk content.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::DirEntryExt;

use bindfs_tests::{Env, cat, ls, put};

#[test]
fn a_view_mounts_links_and_unmounts_cleanly() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Foo/old.txt"), "on disk");
    put(&env.t("Target/Cat.txt"), "meow");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt"]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    env.unmount();
    assert_eq!(ls(&env.v("Foo")), ["old.txt"]);
}

/// A directory larger than the first READDIRPLUS reply the view gives attributes for: every
/// name shows once, with the kind and size of its backing file, whether the program lists
/// names only or stats what it lists.
#[test]
fn a_large_directory_lists_every_name_with_its_attributes() {
    use std::os::unix::fs::MetadataExt;
    let Some(mut env) = Env::new() else { return };
    let big = env.t("Big");
    std::fs::create_dir_all(big.join("sub")).unwrap();
    let count = 3000;
    for i in 0..count {
        std::fs::write(big.join(format!("e{i:05}")), vec![b'x'; i % 13]).unwrap();
    }
    env.mount(&[]);
    env.link(&env.v("Big"), &big, &[]);
    let mut expected = ls(&big);
    expected.sort();
    // Names only (what scandir, find and ls do), twice: cold, then from the kernel's cache.
    for _ in 0..2 {
        assert_eq!(ls(&env.v("Big")), expected);
    }
    // Then with a stat of every entry, as `ls -l` does.
    let mut seen = 0;
    for entry in std::fs::read_dir(env.v("Big")).unwrap() {
        let entry = entry.unwrap();
        let on_b = std::fs::symlink_metadata(big.join(entry.file_name())).unwrap();
        let at_v = entry.metadata().unwrap();
        assert_eq!(entry.file_type().unwrap().is_dir(), on_b.is_dir(), "{:?}", entry.file_name());
        assert_eq!((at_v.is_dir(), at_v.size(), at_v.mode()), (on_b.is_dir(), on_b.size(), on_b.mode()));
        assert_ne!(entry.ino(), 0);
        seen += 1;
    }
    assert_eq!(seen, count + 1);
}

/// The README's first command, `bindfs-rs demo`, mounts a view in its own process, shows the
/// links and unmounts: it must end by itself (it once waited forever for a session fuser's
/// unmount did not know) and leave no mount behind.
#[test]
fn the_demo_runs_to_its_end_and_leaves_no_mount() {
    if !bindfs_tests::fuse_available() {
        return;
    }
    let mut child = std::process::Command::new(bindfs_tests::binary())
        .arg("demo")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // A generous bound: the demo takes about a second; only a hang comes near it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = std::process::Command::new("umount")
                .args(["-l", &format!("/tmp/bindfs-rs-demo-{pid}/disk")])
                .status();
            panic!("bindfs-rs demo did not end within 180 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "demo failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Unmounted: the on-disk content is back unchanged"), "{text}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!("bindfs-rs-demo-{pid}")), "the demo left its view mounted");
}
