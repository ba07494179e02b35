//! Bad input (issue 5): a control socket fed garbage, too much, or nothing keeps serving; the
//! CLI refuses bad paths with one line, exit status 1, and changes nothing.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use bindfs_tests::{Env, bindfs, cat, ls, put};

/// The control socket of the view at `mnt` (root's daemons keep theirs in /run/bindfs-rs).
fn socket_of(mnt: &Path) -> PathBuf {
    let want = format!("\"mountpoint\":\"{}\"", mnt.display());
    for entry in std::fs::read_dir("/run/bindfs-rs").unwrap().flatten() {
        let Ok(mut s) = UnixStream::connect(entry.path()) else { continue };
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        if s.write_all(b"{\"op\":\"list\"}\n").is_err() {
            continue;
        }
        let mut line = String::new();
        if BufReader::new(&s).read_line(&mut line).is_ok() && line.contains(&want) {
            return entry.path();
        }
    }
    panic!("no control socket answers for {}", mnt.display());
}

/// Sends `data` and returns the reply line (empty if the daemon closed without one).
fn send(sock: &Path, data: &[u8]) -> String {
    let mut s = UnixStream::connect(sock).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(data);
    let _ = s.shutdown(std::net::Shutdown::Write);
    let mut line = String::new();
    let _ = BufReader::new(&s).read_line(&mut line);
    line
}

fn refused(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "expected exit status 1; stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "expected one line on stderr: {err:?}");
    err
}

fn links_of(env: &Env) -> String {
    let out = bindfs(&["link", "list", env.mnt().to_str().unwrap()]);
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_control_socket_fed_garbage_too_much_or_nothing_keeps_serving() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("Target/Cat.txt"), "meow");
    env.mount(&[]);
    let sock = socket_of(&env.mnt());
    assert!(send(&sock, b"garbage\n").contains("bad request"));
    assert!(send(&sock, b"{\"op\":\"create\",\"virtual\":1}\n").contains("bad request"));
    assert!(send(&sock, b"{\"op\":\"unlink_everything\"}\n").contains("bad request"));
    // Far more than a request may be: refused, not read to the end.
    let huge = vec![b'x'; 4 << 20];
    let reply = send(&sock, &huge);
    assert!(reply.is_empty() || reply.contains("bad request"), "{reply}");
    // A client that says nothing, or half a request, then goes.
    drop(UnixStream::connect(&sock).unwrap());
    let mut half = UnixStream::connect(&sock).unwrap();
    half.write_all(b"{\"op\":\"cre").unwrap();
    drop(half);
    // A client that connects and says nothing while others are served.
    let silent = UnixStream::connect(&sock).unwrap();
    // The daemon still serves, views and links work.
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    assert!(links_of(&env).contains("/Foo"));
    drop(silent);
}

#[test]
fn the_cli_refuses_bad_paths_with_one_line_and_changes_nothing() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Foo/old.txt"), "on disk");
    put(&env.t("Target/Cat.txt"), "meow");
    put(&env.t("file.txt"), "a file");
    env.mount(&[]);
    let v = |p: &str| env.v(p).to_str().unwrap().to_owned();
    let t = |p: &str| env.t(p).to_str().unwrap().to_owned();
    // A missing backing, a virtual path outside any view, a parent that does not exist.
    assert!(refused(&bindfs(&["link", "create", &v("Foo"), &t("NoSuch")])).contains("NoSuch"));
    refused(&bindfs(&["link", "create", &t("Elsewhere"), &t("Target")]));
    refused(&bindfs(&["link", "create", &v("NoSuch/Bar"), &t("Target")]));
    // A file where a merged link needs a directory; exceptions outside the link or missing.
    refused(&bindfs(&["link", "create", &v("Foo"), &t("file.txt"), "--merged"]));
    refused(&bindfs(&["link", "create", &v("Foo"), &t("Target"), "--except", &t("Target/Cat.txt")]));
    refused(&bindfs(&["link", "create", &v("Foo"), &t("Target"), "--except", &v("Foo/NoSuch")]));
    // Removing what is not a link, unmounting what is not a view, mounting a missing directory.
    refused(&bindfs(&["link", "remove", &v("Foo")]));
    refused(&bindfs(&["unmount", &t("Target")]));
    refused(&bindfs(&["mount", &t("NoSuchDir")]));
    // A config file that is not TOML, or names an unknown key.
    let bad = env.root().join("bad.toml");
    std::fs::write(&bad, "[[link]]\nvirtual = 1\n").unwrap();
    refused(&bindfs(&["mount", &t("Target"), "--config", bad.to_str().unwrap()]));
    // Nothing changed.
    assert!(links_of(&env).trim().is_empty(), "{}", links_of(&env));
    assert_eq!(ls(&env.v("Foo")), ["old.txt"]);
    assert_eq!(ls(&env.t("Target")), ["Cat.txt"]);
    assert!(!env.t("NoSuchDir").exists());
}
