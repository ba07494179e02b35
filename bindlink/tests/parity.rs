//! `bindfs-rs link` and the C API agree (issue 15, item 4): every scenario of
//! `bindfs_tests::scenarios` is played with each link change made through both.
//!
//! For each `link create|remove` step the C API goes first (`tests/c/bindlink_call.c`, which
//! calls `libbindlink.so` from C and prints the HRESULT), then the CLI with `BINDFS_RS_HRESULT=1`
//! (its error line then ends with the HRESULT of the shared table):
//! - the C call failed: nothing changed, so the CLI must fail too, with the same HRESULT;
//! - the C call succeeded: it is undone through the C API (a create removed, a remove created
//!   again with the arguments it was made with), then the CLI must succeed doing it again.
//!
//! The scenario's own checks then run on what the CLI left, as in `tests/tests/scenarios.rs`.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;

use bindfs_tests::scenarios::{At, Driver, Failure, Flag, run, scenario};
use bindfs_tests::{Env, binary};

mod common;

/// A mounted view whose link changes go through the C API and the CLI alike.
struct Parity {
    env: Env,
    /// `bindlink_call`, built against the library.
    call: PathBuf,
    /// The arguments each live link was created with, in creation order, to make it again.
    made: RefCell<Vec<(&'static str, Vec<String>)>>,
}

const S_OK: &str = "0x00000000";

impl Parity {
    /// Runs `bindlink_call args`: the HRESULT it printed.
    fn c(&self, args: &[String]) -> String {
        let out = Command::new(&self.call).args(args).output().unwrap();
        assert!(out.status.success(), "bindlink_call {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// Runs `bindfs-rs args` asking for HRESULTs in its errors.
    fn cli_with_hresult(&self, args: &[String]) -> Result<String, String> {
        let out = Command::new(binary()).args(args).env("BINDFS_RS_HRESULT", "1").output().unwrap();
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        if out.status.success() { Ok(text(&out.stdout)) } else { Err(text(&out.stderr)) }
    }

    /// Undoes a `CreateBindLink` of `virt` (at `v`) that succeeded. Links made below it before
    /// keep it from being removed (rule 17): they are removed first, deepest (latest) first, and
    /// made again in their order once it is gone, which is the state before the call.
    fn undo_create(&self, virt: &str, v: &str) {
        let below: Vec<(&'static str, Vec<String>)> = self
            .made
            .borrow()
            .iter()
            .filter(|(m, _)| m.strip_prefix(virt).is_some_and(|rest| rest.starts_with('/')))
            .cloned()
            .collect();
        for (_, create) in below.iter().rev() {
            assert_eq!(self.c(&["remove".to_owned(), create[1].clone()]), S_OK, "removing {}", create[1]);
        }
        assert_eq!(
            self.c(&["remove".to_owned(), v.to_owned()]),
            S_OK,
            "RemoveBindLink({v}) after CreateBindLink"
        );
        for (_, create) in &below {
            assert_eq!(self.c(create), S_OK, "making {} again", create[1]);
        }
    }

    /// The CLI's result after the C API gave `hresult` for the same change (undone already
    /// when it succeeded): both succeed, or both fail with that HRESULT.
    fn agree(&self, what: &str, hresult: &str, cli: Result<String, String>) -> Result<String, String> {
        match (&cli, hresult == S_OK) {
            (Ok(_), true) => {}
            (Err(line), false) => assert!(
                line.contains(&format!("[HRESULT {} ", hresult.to_uppercase().replacen("0X", "0x", 1))),
                "{what}: the C API gave {hresult}, the CLI: {line}"
            ),
            _ => panic!("{what}: the C API gave {hresult}, the CLI {cli:?}"),
        }
        cli
    }
}

fn text(p: &Path) -> String {
    p.to_str().unwrap().to_owned()
}

impl Driver for Parity {
    fn path(&self, at: At) -> PathBuf {
        Driver::path(&self.env, at)
    }

    fn mount(&mut self, exact: bool) {
        Driver::mount(&mut self.env, exact);
    }

    fn unmount(&mut self) {
        Driver::unmount(&mut self.env);
        // Links end with the view (rule 1).
        self.made.borrow_mut().clear();
    }

    fn mounted(&self) -> bool {
        Driver::mounted(&self.env)
    }

    fn cli(&self, args: &[&str]) -> Result<String, String> {
        Driver::cli(&self.env, args)
    }

    fn is(&self, e: &std::io::Error, failure: Failure) -> bool {
        Driver::is(&self.env, e, failure)
    }

    fn link(&self, virt: &'static str, backing: At, flags: &[Flag]) -> Result<String, String> {
        let v = text(&self.path(At::View(virt)));
        let b = text(&self.path(backing));
        let mut bits = 0;
        let mut except = Vec::new();
        let mut cli = vec!["link".to_owned(), "create".to_owned(), v.clone(), b.clone()];
        for flag in flags {
            match flag {
                Flag::ReadOnly => {
                    bits |= 1;
                    cli.push("--read-only".into());
                }
                Flag::Merged => {
                    bits |= 2;
                    cli.push("--merged".into());
                }
                Flag::Except(p) => {
                    let e = text(&self.path(At::View(p)));
                    except.push(e.clone());
                    cli.extend(["--except".to_owned(), e]);
                }
            }
        }
        let mut create = vec!["create".to_owned(), v.clone(), b, bits.to_string()];
        create.extend(except);
        let hresult = self.c(&create);
        if hresult == S_OK {
            self.undo_create(virt, &v);
        }
        let result = self.agree(&format!("create {virt}"), &hresult, self.cli_with_hresult(&cli));
        if result.is_ok() {
            self.made.borrow_mut().push((virt, create));
        }
        result
    }

    fn unlink(&self, virt: &'static str) -> Result<String, String> {
        let v = text(&self.path(At::View(virt)));
        let hresult = self.c(&["remove".to_owned(), v.clone()]);
        if hresult == S_OK {
            let create = self.made.borrow().iter().find(|(m, _)| *m == virt).map(|(_, c)| c.clone());
            let create = create.unwrap_or_else(|| panic!("{virt} was removed, but made elsewhere"));
            assert_eq!(self.c(&create), S_OK, "CreateBindLink again after RemoveBindLink({v})");
        }
        let cli = vec!["link".to_owned(), "remove".to_owned(), v];
        let result = self.agree(&format!("remove {virt}"), &hresult, self.cli_with_hresult(&cli));
        if result.is_ok() {
            self.made.borrow_mut().retain(|(m, _)| *m != virt);
        }
        result
    }
}

fn play(name: &str) {
    let Some(env) = Env::new() else { return };
    let call = common::build_c_program(&env.root().join("bin"), "bindlink_call");
    let mut parity = Parity { env, call, made: RefCell::new(Vec::new()) };
    run(scenario(name), &mut parity);
}

bindfs_tests::scenario_tests!(play);

/// Review point 2 of issue 15: a virtual, backing or exception path that is not UTF-8 is
/// refused alike by the C API and the CLI (`ERROR_NO_UNICODE_TRANSLATION`), in one line, and
/// nothing changes: the control protocol carries UTF-8, and a path must never reach it changed.
/// `mount --link` refuses it too, and mounts nothing.
#[test]
fn paths_that_are_not_utf8_are_refused_alike() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let Some(mut env) = Env::new() else { return };
    let call = common::build_c_program(&env.root().join("bin"), "bindlink_call");
    std::fs::create_dir_all(env.t("a")).unwrap();
    // A backing that exists under a name that is not UTF-8: still refused, never "not found".
    let bad_backing = env.t("").join(OsStr::from_bytes(b"b\xfe"));
    std::fs::create_dir_all(&bad_backing).unwrap();
    env.mount(&[]);
    let bad_virt = env.v("").join(OsStr::from_bytes(b"v\xfe"));
    let (good_virt, good_backing) = (env.v("x"), env.t("a"));
    let cases: [(&Path, &Path, Option<&Path>); 3] = [
        (&bad_virt, &good_backing, None),
        (&good_virt, &bad_backing, None),
        (&good_virt, &good_backing, Some(&bad_virt)),
    ];
    for (virt, backing, except) in cases {
        let mut c = Command::new(&call);
        c.arg("create").arg(virt).arg(backing).arg("0").args(except);
        let out = c.output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "0x80070459", "C API {virt:?} {backing:?}");
        let mut cli = Command::new(binary());
        cli.env("BINDFS_RS_HRESULT", "1").args(["link", "create"]).arg(virt).arg(backing);
        if let Some(e) = except {
            cli.arg("--except").arg(e);
        }
        let out = cli.output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "CLI {virt:?} {backing:?}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains("not UTF-8") && err.contains("[HRESULT 0x80070459 "), "{err}");
    }
    let remove = Command::new(binary()).args(["link", "remove"]).arg(&bad_virt).output().unwrap();
    assert!(String::from_utf8_lossy(&remove.stderr).contains("not UTF-8"), "{remove:?}");
    let which = Command::new(binary()).args(["link", "which"]).arg(&bad_virt).output().unwrap();
    assert!(String::from_utf8_lossy(&which.stderr).contains("not UTF-8"), "{which:?}");
    let list = Command::new(binary()).args(["link", "list"]).arg(env.mnt()).output().unwrap();
    assert!(list.status.success() && list.stdout.is_empty(), "{list:?}");
    // `mount --link` with such a path: refused in one line, nothing mounted.
    let other = env.root().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut link = other.as_os_str().to_owned();
    link.push("/");
    link.push(OsStr::from_bytes(b"v\xfe"));
    link.push("=");
    link.push(&good_backing);
    let out = Command::new(binary()).arg("mount").arg(&other).arg("--link").arg(&link).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.lines().count() == 1, "{err}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(other.to_str().unwrap()), "{err}");
}

/// Review point 9 of issue 15: a path through a symlink (outside any view) to a mount point
/// reaches that view alike in every command and the C API; a symlink *inside* the view is never
/// resolved to decide the virtual path.
#[test]
fn symlinked_paths_reach_their_view_alike() {
    let Some(mut env) = Env::new() else { return };
    let call = common::build_c_program(&env.root().join("bin"), "bindlink_call");
    std::fs::create_dir_all(env.t("a")).unwrap();
    // A symlink of the on-disk layer, inside the view, to the view's own directory `real`.
    std::fs::create_dir_all(env.v("real")).unwrap();
    std::os::unix::fs::symlink("real", env.v("inside")).unwrap();
    env.mount(&[]);
    let lnk = env.root().join("lnk");
    std::os::unix::fs::symlink(env.mnt(), &lnk).unwrap();
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let mnt = s(&env.mnt());
    let cli = |args: &[&str]| bindfs_tests::bindfs_result(args);

    cli(&["link", "create", &s(&lnk.join("d")), &s(&env.t("a"))]).unwrap();
    let hr = Command::new(&call).arg("create").arg(lnk.join("e")).arg(env.t("a")).arg("0").output().unwrap();
    assert_eq!(String::from_utf8_lossy(&hr.stdout).trim(), S_OK);
    // Through the symlink inside the view: the virtual path is as written, not `real/x`.
    cli(&["link", "create", &s(&lnk.join("inside/x")), &s(&env.t("a"))]).unwrap_err();
    let listed = cli(&["link", "list", &s(&lnk)]).unwrap();
    assert!(listed.contains(&format!("{mnt}/d -> ")) && listed.contains(&format!("{mnt}/e -> ")), "{listed}");
    assert!(!listed.contains("real"), "{listed}");
    let which = cli(&["link", "which", &s(&lnk.join("d"))]).unwrap();
    assert!(which.starts_with(&format!("{mnt}/d\n")), "{which}");
    let which = cli(&["link", "which", &s(&lnk.join("inside"))]).unwrap();
    assert!(which.starts_with(&format!("{mnt}/inside\n")) && which.contains("symlink"), "{which}");
    assert!(cli(&["status", &s(&lnk)]).unwrap().starts_with(&mnt));
    let hr = Command::new(&call).arg("remove").arg(lnk.join("e")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&hr.stdout).trim(), S_OK);
    cli(&["link", "remove", &s(&lnk.join("d"))]).unwrap();
    assert_eq!(cli(&["link", "list", &mnt]).unwrap(), "");
    cli(&["unmount", &s(&lnk)]).unwrap();
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&format!(" {mnt} ")), "still mounted");
}
