//! `bindfs-rs link which`, `status` and `link list --json` (issue 14, item 5): what a user asks
//! of a live view, answered for each kind of layer.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_tests::{Env, bindfs_result, put};

fn which(path: &std::path::Path) -> String {
    bindfs_result(&["link", "which", path.to_str().unwrap()]).unwrap()
}

fn which_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_str(&bindfs_result(&["link", "which", path.to_str().unwrap(), "--json"]).unwrap())
        .unwrap()
}

fn real_paths(w: &serde_json::Value) -> Vec<String> {
    w["layers"].as_array().unwrap().iter().map(|l| l["real_path"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn link_which_tells_each_kind_of_layer() {
    let Some(mut env) = Env::new() else { return };
    put(&env.v("plain.txt"), "disk");
    put(&env.v("M/both.txt"), "disk");
    put(&env.v("E/keep/k.txt"), "disk");
    put(&env.t("A/f.txt"), "a");
    std::fs::create_dir_all(env.t("A/sub")).unwrap();
    put(&env.t("X/x.txt"), "x");
    put(&env.t("M/both.txt"), "m");
    put(&env.t("E/e.txt"), "e");
    env.mount(&["--cache-ttl", "0"]);
    env.link(&env.v("A"), &env.t("A"), &["--read-only"]);
    env.link(&env.v("A/sub/x"), &env.t("X"), &[]);
    env.link(&env.v("M"), &env.t("M"), &["--merged"]);
    let keep = env.v("E/keep");
    env.link(&env.v("E"), &env.t("E"), &["--except", keep.to_str().unwrap()]);
    let (mnt, t) = (env.mnt(), env.t(""));
    let (mnt, t) = (mnt.to_str().unwrap(), t.to_str().unwrap().trim_end_matches('/'));

    // A plain link's backing.
    let w = which_json(&env.v("A/f.txt"));
    assert_eq!(w["layer"], "backing");
    assert_eq!(w["link"]["virtual"], format!("{mnt}/A"));
    assert_eq!(w["link"]["read_only"], true);
    assert_eq!(w["link"]["view"], mnt);
    assert_eq!(w["real_path"], format!("{t}/A/f.txt"));
    assert_eq!(w["writable"], false);
    let text = which(&env.v("A/f.txt"));
    assert!(text.contains(&format!("real path: {t}/A/f.txt")), "{text}");
    assert!(text.contains("  (read-only"), "{text}");

    // No link covers it: the on-disk layer, under the mount point.
    let w = which_json(&env.v("plain.txt"));
    assert_eq!((w["layer"].as_str(), w["link"].is_null()), (Some("on-disk"), true));
    assert_eq!(w["real_path"], format!("{mnt}/plain.txt"));
    assert!(which(&env.v("plain.txt")).contains("none (no link covers it)"));

    // An exception falls through to the on-disk layer.
    let w = which_json(&env.v("E/keep/k.txt"));
    assert_eq!(w["layer"], "exception");
    assert_eq!(w["exception"], format!("{mnt}/E/keep"));
    assert_eq!(w["excepted_link"], format!("{mnt}/E"));
    assert_eq!(w["layers"][0]["origin"], "on-disk");
    assert!(which(&env.v("E/keep/k.txt")).contains("falls through to the on-disk layer"));

    // The backing's directory holding a nested link goes away: the view makes it up.
    std::fs::remove_dir(env.t("A/sub")).unwrap();
    let w = which_json(&env.v("A/sub"));
    assert_eq!(w["layer"], "synthesized");
    assert!(w["real_path"].is_null() && real_paths(&w).is_empty(), "{w}");
    assert!(which(&env.v("A/sub")).contains("synthesized"));
    // ... and the nested link still serves below it.
    let w = which_json(&env.v("A/sub/x/x.txt"));
    assert_eq!(w["link"]["virtual"], format!("{mnt}/A/sub/x"));
    assert_eq!(w["real_path"], format!("{t}/X/x.txt"));

    // A merged link with the name in both layers: both, backing first.
    let w = which_json(&env.v("M/both.txt"));
    assert_eq!(w["layer"], "backing");
    assert_eq!(real_paths(&w), [format!("{t}/M/both.txt"), format!("{mnt}/M/both.txt")]);
    assert_eq!(w["layers"][1]["origin"], "on-disk");
    let text = which(&env.v("M/both.txt"));
    let (first, second) =
        (text.find(&format!("1. {t}/M/both.txt")), text.find(&format!("2. {mnt}/M/both.txt")));
    assert!(first.is_some() && second.is_some() && first < second, "{text}");

    // A path that exists nowhere: one line, failure.
    let err = bindfs_result(&["link", "which", env.v("nope").to_str().unwrap()]).unwrap_err();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn status_and_link_list_name_the_view() {
    let Some(mut env) = Env::new() else { return };
    put(&env.t("A/f.txt"), "a");
    put(&env.t("B/g.txt"), "b");
    env.mount(&["--cache-ttl", "2.5"]);
    env.link(&env.v("A"), &env.t("A"), &[]);
    env.link(&env.v("B"), &env.t("B"), &[]);
    let mnt = env.mnt();
    let mnt = mnt.to_str().unwrap();

    let text = bindfs_result(&["status", mnt]).unwrap();
    assert!(text.starts_with(mnt) && text.contains("cache 2.5s") && text.contains("2 link(s)"), "{text}");
    assert!(text.contains("passthrough o"), "{text}");
    let rows: serde_json::Value =
        serde_json::from_str(&bindfs_result(&["status", mnt, "--json"]).unwrap()).unwrap();
    let row = &rows[0];
    assert_eq!((row["view"].as_str(), row["alive"].as_bool()), (Some(mnt), Some(true)));
    assert_eq!((row["cache_ttl"].as_f64(), row["links"].as_u64()), (Some(2.5), Some(2)));
    assert!(row["pid"].as_u64().unwrap() > 0 && row["passthrough"].is_boolean(), "{row}");
    // Every view: this one is among them.
    let all: serde_json::Value =
        serde_json::from_str(&bindfs_result(&["status", "--json"]).unwrap()).unwrap();
    assert!(all.as_array().unwrap().iter().any(|r| r["view"] == mnt), "{all}");

    let links: serde_json::Value =
        serde_json::from_str(&bindfs_result(&["link", "list", mnt, "--json"]).unwrap()).unwrap();
    let links = links.as_array().unwrap();
    assert_eq!(links.len(), 2);
    assert!(links.iter().all(|l| l["view"] == mnt), "{links:?}");
}
