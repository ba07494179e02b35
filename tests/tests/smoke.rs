//! The harness itself: a view mounts, shows a link, and unmounts leaving the on-disk content.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_tests::{Env, cat, ls, put};

#[test]
fn a_view_mounts_links_and_unmounts_cleanly() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("Foo/old.txt"), "on disk");
    put(&env.t("Target/Cat.txt"), "meow");
    env.mount(&[]);
    env.link(&env.v("Foo"), &env.t("Target"), &[]);
    assert_eq!(ls(&env.v("Foo")), ["Cat.txt"]);
    assert_eq!(cat(&env.v("Foo/Cat.txt")), "meow");
    env.unmount();
    assert_eq!(ls(&env.v("Foo")), ["old.txt"]);
}
