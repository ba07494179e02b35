//! Load (issue 5): writers and readers through links while other threads create and remove
//! links in a loop, for a bounded time. No crash, no deadlock, only the errors the rules
//! predict, and afterwards every byte written through a link is in its backing.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bindfs_tests::{Env, bindfs, put};

const RUN: Duration = Duration::from_secs(3);

/// Writes `data` to `path` (create or replace) and fsyncs it.
fn write_synced(path: &std::path::Path, data: &[u8]) -> std::io::Result<()> {
    let mut f = std::fs::File::create(path)?;
    f.write_all(data)?;
    f.sync_all()
}

#[test]
fn io_through_links_while_links_change_loses_nothing() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/.keep"), "");
    put(&env.t("B/.keep"), "");
    put(&env.t("C/.keep"), "");
    put(&env.v("Foo/.keep"), "");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("A"), &[]);
    let stop = Arc::new(AtomicBool::new(false));
    // What each file should hold: the last content a write through a link reported written.
    let expected: Arc<Mutex<HashMap<PathBuf, Vec<u8>>>> = Arc::default();
    let unexpected: Arc<Mutex<Vec<String>>> = Arc::default();
    let writes = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();

    // Writers through the fixed link Foo -> A, and through the link Churn -> B that comes and goes.
    for w in 0..3 {
        let (env_v, env_t) = (env.v(""), env.t(""));
        let (stop, expected, unexpected, writes) =
            (Arc::clone(&stop), Arc::clone(&expected), Arc::clone(&unexpected), Arc::clone(&writes));
        threads.push(std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let data = format!("writer {w} write {i} ").repeat(1 + (i % 50) as usize).into_bytes();
                let fixed =
                    (env_v.join(format!("Foo/w{w}_{}", i % 8)), env_t.join(format!("A/w{w}_{}", i % 8)));
                match write_synced(&fixed.0, &data) {
                    Ok(()) => {
                        expected.lock().unwrap().insert(fixed.1, data.clone());
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => unexpected.lock().unwrap().push(format!("Foo write: {e}")),
                }
                let churn = (env_v.join(format!("Churn/c{w}")), env_t.join(format!("B/c{w}")));
                match write_synced(&churn.0, &data) {
                    Ok(()) => {
                        expected.lock().unwrap().insert(churn.1, data);
                        writes.fetch_add(1, Ordering::Relaxed);
                    }
                    // The link is gone at that moment (rule 17/20): its name does not resolve.
                    Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                    Err(e) => unexpected.lock().unwrap().push(format!("Churn write: {e}")),
                }
                i += 1;
            }
        }));
    }
    // A reader of Foo: reads succeed or meet a file not yet written.
    {
        let (dir, stop, unexpected) = (env.v("Foo"), Arc::clone(&stop), Arc::clone(&unexpected));
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let files = std::fs::read_dir(&dir).unwrap().flatten();
                for entry in files.filter(|e| e.file_name().to_string_lossy().starts_with('w')) {
                    match std::fs::read(entry.path()) {
                        Ok(_) => {}
                        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                        Err(e) => unexpected.lock().unwrap().push(format!("read: {e}")),
                    }
                }
            }
        }));
    }
    // Link churn: Churn -> B (anchorless) and Foo/Nested -> C, created and removed in a loop.
    let changes = Arc::new(AtomicUsize::new(0));
    {
        let (v, t, stop, unexpected, changes) =
            (env.v(""), env.t(""), Arc::clone(&stop), Arc::clone(&unexpected), Arc::clone(&changes));
        threads.push(std::thread::spawn(move || {
            let s = |p: PathBuf| p.to_str().unwrap().to_owned();
            let pairs = [(s(v.join("Churn")), s(t.join("B"))), (s(v.join("Foo/Nested")), s(t.join("C")))];
            while !stop.load(Ordering::Relaxed) {
                for (virt, backing) in &pairs {
                    for args in [vec!["link", "create", virt, backing], vec!["link", "remove", virt]] {
                        let out = bindfs(&args);
                        if out.status.success() {
                            changes.fetch_add(1, Ordering::Relaxed);
                        } else {
                            unexpected
                                .lock()
                                .unwrap()
                                .push(String::from_utf8_lossy(&out.stderr).into_owned());
                        }
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    std::thread::sleep(RUN);
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    assert!(started.elapsed() < RUN + Duration::from_secs(30), "threads took too long to stop");
    let unexpected = unexpected.lock().unwrap();
    assert!(
        unexpected.is_empty(),
        "errors the rules do not predict: {:?}",
        &unexpected[..unexpected.len().min(10)]
    );
    assert!(
        writes.load(Ordering::Relaxed) > 50 && changes.load(Ordering::Relaxed) > 10,
        "the load barely ran"
    );
    // Every byte written through a link is in its backing.
    for (path, data) in expected.lock().unwrap().iter() {
        assert_eq!(&std::fs::read(path).unwrap(), data, "{}", path.display());
    }
}

/// Runs fio with crc32c verification in `dir`; panics with its output on failure.
fn fio_verify(dir: &std::path::Path, name: &str) {
    let out = std::process::Command::new("fio")
        .arg(format!("--name={name}"))
        .arg(format!("--directory={}", dir.display()))
        .args([
            "--rw=randrw",
            "--bs=4k",
            "--size=16m",
            "--numjobs=2",
            "--ioengine=psync",
            "--verify=crc32c",
            "--do_verify=1",
            "--verify_fatal=1",
            "--time_based=0",
            "--group_reporting",
        ])
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            assert!(
                std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(),
                "fio is missing (.ci/run installs it)"
            );
            eprintln!("skipped: fio is not installed");
            return;
        }
        Err(e) => panic!("fio: {e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && !text.contains("verify:"), "fio {name} failed:\n{text}");
}

#[test]
fn fio_verifies_every_block_through_a_plain_and_a_merged_link() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Plain/.keep"), "");
    put(&env.t("Merged/.keep"), "");
    put(&env.v("Layered/on-disk.txt"), "on disk");
    env.mount(&[]);
    env.link(&env.v("Plain"), &env.t("Plain"), &[]);
    env.link(&env.v("Layered"), &env.t("Merged"), &["--merged"]);
    fio_verify(&env.v("Plain"), "plain");
    fio_verify(&env.v("Layered"), "merged");
    // The data went to the backings (merged creates in B, rule 12), nothing to the on-disk layer.
    assert!(std::fs::read_dir(env.t("Plain")).unwrap().count() > 1);
    assert!(std::fs::read_dir(env.t("Merged")).unwrap().count() > 1);
}
