//! The shared rule scenarios (`bindfs_tests::scenarios`), one test per scenario named after it:
//! at the top level on this platform's mount driver (FUSE on Linux, WinFsp on Windows), and in
//! `store` on the Linux store without a mount (`StoreEnv` over `LinuxBacking`), so the store
//! driver that plays the table on Windows under Wine (`backend-winfsp/tests/store_scenarios.rs`)
//! is itself checked against the mount on every Linux run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_tests::scenarios::{run, scenario};

#[cfg(target_os = "linux")]
fn play(name: &str) {
    let Some(mut env) = bindfs_tests::Env::new() else { return };
    run(scenario(name), &mut env);
}

#[cfg(windows)]
fn play(name: &str) {
    let Some(mut env) = bindfs_tests::windows::WinEnv::new() else {
        // Nothing checked here: say which test, and where the same scenario runs without a mount.
        eprintln!(
            "{name}: skipped: no WinFsp to mount a view (bindfs-winfsp's store_scenarios plays it on the store)"
        );
        return;
    };
    run(scenario(name), &mut env);
}

bindfs_tests::scenario_tests!(play);

/// The same scenarios on the Linux store, through the core's view, without a mount.
#[cfg(target_os = "linux")]
mod store {
    use bindfs_core::{CasePolicy, Syntax};
    use bindfs_fuse::LinuxBacking;
    use bindfs_tests::scenarios::{run, scenario};
    use bindfs_tests::store::StoreEnv;

    fn play(name: &str) {
        let mut env = StoreEnv::new(LinuxBacking::open, Syntax::Posix, CasePolicy::Sensitive).unwrap();
        run(scenario(name), &mut env);
    }

    bindfs_tests::scenario_tests!(play);
}
