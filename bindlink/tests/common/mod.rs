//! Building the C programs of the tests against the built `libbindlink.so`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The directory holding `libbindlink.so` and `bindfs-rs` (`target/<profile>`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).unwrap().to_path_buf()
}

/// The built library: cargo builds the cdylib with the crate the tests link.
pub fn library() -> PathBuf {
    let dir = profile_dir();
    [dir.join("libbindlink.so"), dir.join("deps/libbindlink.so")]
        .into_iter()
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("libbindlink.so not found in {}: cargo build -p bindlink", dir.display()))
}

/// Compiles `tests/c/<name>.c` into `dir/<name>` with `cc`, with the library copied beside it
/// (found there through `-Wl,-rpath,$ORIGIN`, as the README tells users to install it).
pub fn build_c_program(dir: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let lib = dir.join("libbindlink.so");
    if !lib.exists() {
        std::fs::copy(library(), &lib).unwrap();
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = dir.join(name);
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let out = Command::new(&cc)
        .args(["-std=c99", "-D_POSIX_C_SOURCE=200809L", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(manifest.join(format!("tests/c/{name}.c")))
        .arg("-I")
        .arg(manifest.join("include"))
        .arg("-L")
        .arg(dir)
        .args(["-lbindlink", "-Wl,-rpath,$ORIGIN"])
        .output()
        .unwrap_or_else(|e| panic!("{cc}: {e}"));
    assert!(out.status.success(), "{cc} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    exe
}
