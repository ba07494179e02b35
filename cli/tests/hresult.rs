//! `BINDFS_RS_HRESULT=1` makes a failed `link create|remove` end its line with the `HRESULT`
//! the C API returns for the same failure, on Windows as on Linux (both take the `bindlink`
//! client). A path in no view fails before any view is asked, so no mount is needed.
#![cfg(any(target_os = "linux", windows))]
#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

/// A path that no view holds.
const NOWHERE: &str = if cfg!(windows) { r"C:\bindfs-rs-no-view\Foo" } else { "/proc/bindfs-rs-no-view" };
const BACKING: &str = if cfg!(windows) { r"C:\" } else { "/tmp" };
const SUFFIX: &str = " [HRESULT 0x80070032 ERROR_NOT_SUPPORTED]";

fn bindfs(args: &[&str], hresult: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_bindfs-rs"));
    command.args(args).env_remove("BINDFS_RS_HRESULT");
    if let Some(value) = hresult {
        command.env("BINDFS_RS_HRESULT", value);
    }
    command.output().unwrap()
}

/// The one error line of a failed run.
fn error_line(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    text.trim_end().to_owned()
}

#[test]
fn a_failed_link_change_ends_with_its_hresult_when_asked() {
    for args in [&["link", "create", NOWHERE, BACKING][..], &["link", "remove", NOWHERE]] {
        let asked = error_line(&bindfs(args, Some("1")));
        assert!(asked.contains(NOWHERE) && asked.ends_with(SUFFIX), "{args:?}: {asked}");
        let plain = error_line(&bindfs(args, None));
        assert_eq!(format!("{plain}{SUFFIX}"), asked, "{args:?}");
        assert_eq!(error_line(&bindfs(args, Some("0"))), plain, "{args:?}");
    }
}
