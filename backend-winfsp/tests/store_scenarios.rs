//! The shared rule scenarios (`bindfs_tests::scenarios`) on the Windows store without a mount:
//! `StoreEnv` over [`WindowsBacking`], one test per scenario named after it. This is what plays
//! the table under Wine, where WinFsp's driver (a mount) is out of reach; on the Windows workflow
//! it runs beside the mounted scenarios of `tests/tests/scenarios.rs`. It lives in this crate
//! because the store is GPL: `bindfs-tests` stays MIT OR Apache-2.0.
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use bindfs_core::{AbsPath, CasePolicy, Error, Syntax};
use bindfs_tests::scenarios::{run, scenario};
use bindfs_tests::store::StoreEnv;
use bindfs_winfsp::WindowsBacking;

/// The store over the directory at `path`, as `bindfs-rs mount --lower` opens it.
fn open(path: &Path) -> bindfs_core::Result<WindowsBacking> {
    let text = path.to_str().ok_or_else(|| Error::InvalidName(path.display().to_string()))?;
    WindowsBacking::open(&AbsPath::parse(text, Syntax::Windows)?)
}

fn play(name: &str) {
    let mut env = StoreEnv::new(open, Syntax::Windows, CasePolicy::Insensitive).unwrap();
    run(scenario(name), &mut env);
}

bindfs_tests::scenario_tests!(play);
