//! Hostile use (issue 5): a backing tree changed under the view to lead outside it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, put};

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
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
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
    assert!(
        own > 0 && own + virtual_ns + failed > 100,
        "reads: {own} backing, {virtual_ns} virtual, {failed} failed"
    );
}
