// How a Windows binary links the WinFsp DLL; included by `backend-winfsp/build.rs` (its test
// binaries) and `cli/build.rs` (the command), so the two cannot drift.
//
// - MSVC and LLVM-MinGW: lazily (`/DELAYLOAD`), as winfsp-rs requires of every binary that uses
//   it: WinFsp installs its DLL outside the DLL search path, so a plain import would stop the
//   program from starting at all (even `--help`). `bindfs_winfsp::host::mount` loads the DLL
//   from WinFsp's install directory before the first WinFsp call.
// - GNU MinGW (the Wine test run, `tools/windows-test.sh`): GNU ld cannot delay-load, so the
//   binary imports `winfsp-x64.dll` directly from the directory named by
//   `BINDFS_WINFSP_DLL_DIR` (the DLL shipped in the winfsp-sys crate), which the test run also
//   puts on Wine's DLL search path.

fn link_winfsp() {
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    println!("cargo:rerun-if-env-changed=BINDFS_WINFSP_DLL_DIR");
    if var("CARGO_CFG_TARGET_OS") != "windows" {
        return;
    }
    let dll_dir = var("BINDFS_WINFSP_DLL_DIR");
    if var("CARGO_CFG_TARGET_ENV") == "msvc" || var("CARGO_CFG_TARGET_ABI") == "llvm" {
        winfsp::build::winfsp_link_delayload();
    } else if !dll_dir.is_empty() {
        println!("cargo:rustc-link-search=native={dll_dir}");
        println!("cargo:rustc-link-lib=dylib=winfsp-x64");
    } else {
        println!("cargo:warning=GNU MinGW links WinFsp only through BINDFS_WINFSP_DLL_DIR (see tools/windows-test.sh)");
    }
}
