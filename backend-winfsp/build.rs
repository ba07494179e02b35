//! On Windows, links the WinFsp DLL lazily (`/DELAYLOAD`) into this crate's own test binaries,
//! as winfsp-rs requires of every binary that uses it (the command's binary does the same in
//! `cli/build.rs`): WinFsp installs its DLL outside the DLL search path, so a plain import
//! would stop a test binary from starting. `host::mount` loads the DLL from WinFsp's install
//! directory before the first WinFsp call.

fn main() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") != "windows" {
        return;
    }
    if var("CARGO_CFG_TARGET_ENV") == "msvc" || var("CARGO_CFG_TARGET_ABI") == "llvm" {
        winfsp::build::winfsp_link_delayload();
    } else {
        println!("cargo:warning=WinFsp can be delay-loaded only with MSVC or LLVM-MinGW linkers");
    }
}
