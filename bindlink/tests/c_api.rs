//! The C API called from C (issue 15, item 3): `tests/c/test_bindlink.c` is compiled with `cc`
//! against the built `libbindlink.so` and run through a real mount, then again as another user;
//! the Python `ctypes` example of the README runs too.
//!
//! The program finds the library beside itself (`-Wl,-rpath,$ORIGIN`), as the README tells
//! users to install it, so no environment is needed to run it.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use bindfs_tests::{Env, put};

mod common;
use common::build_c_program;

/// The tree the C program expects: `Foo/old.txt`, `Foo/Keep/mine.txt` and `top.txt` on disk,
/// `Target/Cat.txt` and `AFile` in the backing trees.
fn tree(env: &Env) {
    put(&env.v("Foo/old.txt"), "on disk");
    put(&env.v("Foo/Keep/mine.txt"), "mine");
    put(&env.v("top.txt"), "top");
    put(&env.t("Target/Cat.txt"), "meow");
    put(&env.t("AFile"), "a file");
}

fn report(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn the_c_program_creates_lists_and_removes_links_through_a_view() {
    let Some(mut env) = Env::new() else { return };
    tree(&env);
    env.mount(&["--cache-ttl", "0"]);
    let exe = build_c_program(&env.root().join("bin"), "test_bindlink");
    let bindfs = bindfs_tests::binary();
    let out = Command::new(&exe)
        .arg("full")
        .arg(env.mnt())
        .arg(env.root().join("t"))
        .arg(&bindfs)
        .output()
        .unwrap();
    let text = report(&out);
    assert!(out.status.success(), "test_bindlink full:\n{text}");
    // Every flag and the exception were exercised, and nothing failed.
    for line in
        ["ok   create Foo none", "ok   create Foo read-only|merged", "ok   create Foo except Foo/Keep"]
    {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
    assert!(text.contains(", 0 failed"), "{text}");

    // Another user may not change the view's links (rule 22): ERROR_ACCESS_DENIED.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(env.root(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let root = env.root().join("t");
    let denied =
        bindfs_tests::as_nobody(&exe, &["denied", env.mnt().to_str().unwrap(), root.to_str().unwrap()]);
    let text = report(&denied);
    assert!(denied.status.success(), "test_bindlink denied (as nobody):\n{text}");
    assert!(text.contains("2 checks, 0 failed"), "{text}");
}

#[test]
fn the_c_program_client_checks_pass_without_a_view() {
    let dir = tempfile::tempdir().unwrap();
    let exe = build_c_program(dir.path(), "test_bindlink");
    let out = Command::new(&exe).arg("client").output().unwrap();
    let text = report(&out);
    assert!(out.status.success() && text.contains(", 0 failed"), "test_bindlink client:\n{text}");
    assert!(text.contains("ok   create in no view: 0x80070032"), "{text}");
}

/// The Python `ctypes` example of the README's "Using the C API", as written there.
fn readme_python_example() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let section = readme.split("## Using the C API").nth(1).expect("README: no \"Using the C API\" section");
    let block =
        section.split("```python\n").nth(1).expect("README: no Python example in \"Using the C API\"");
    block.split("```").next().unwrap().to_owned()
}

#[test]
fn the_readme_python_example_runs_through_a_view() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("data/private/mine.txt"), "mine");
    put(&env.v("data/old.txt"), "on disk");
    put(&env.t("Data/report.txt"), "backing");
    env.mount(&["--cache-ttl", "0"]);
    let lib = env.root().join("bin");
    build_c_program(&lib, "test_bindlink");
    let out = Command::new("python3")
        .arg("-c")
        .arg(readme_python_example())
        .arg(env.mnt())
        .arg(env.t("Data"))
        .env("LD_LIBRARY_PATH", &lib)
        .output()
        .expect("python3");
    let text = report(&out);
    assert!(out.status.success(), "the README's Python example failed:\n{text}");
    // The backing is shown at data/, and the exception keeps data/private the on-disk one.
    assert_eq!(text.trim(), "['private', 'report.txt']", "{text}");
    assert_eq!(bindfs_tests::ls(&env.v("data")), ["old.txt", "private"], "the link was not removed");
}
