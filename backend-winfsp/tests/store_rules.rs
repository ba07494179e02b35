//! The Windows store (`WindowsBacking`, NT calls relative to kept handles) under the rule tests
//! every store shares (`bindfs_tests::store_rules`), one `#[test]` each, and below them what only
//! a Windows store can show: Windows paths as link targets, case-insensitive and
//! case-preserving names, reparse points, deletion and renames of open files, security
//! descriptors. Runs under Wine in CI (`tools/windows-test.sh`), on the real directories of a
//! temporary tree.
#![cfg(windows)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::Path;
use std::sync::Arc;

use bindfs_core::{AbsPath, Backing, CasePolicy, FileKind, Syntax, Target};
use bindfs_tests::store_rules::{OnDisk, Store};
use bindfs_winfsp::WindowsBacking;

/// The Windows store: `WindowsBacking`, case-insensitive names, Windows paths as link targets.
#[derive(Clone, Copy, Debug)]
struct WindowsStore;

/// A real path as the absolute Windows path a user would type.
fn abs(path: &Path) -> AbsPath {
    AbsPath::parse(path.to_str().unwrap(), Syntax::Windows).unwrap()
}

impl Store for WindowsStore {
    type Backing = WindowsBacking;

    fn open(self, disk: &Path) -> WindowsBacking {
        WindowsBacking::open(&abs(disk)).unwrap()
    }

    fn policy(self) -> CasePolicy {
        CasePolicy::Insensitive
    }

    fn target(self, path: &Path) -> Target {
        Target::Host(Arc::new(abs(path)))
    }

    /// Size and read-only from `std`; the file id, volume serial and link count, which `std`
    /// does not offer on stable Windows, from a whole-path open by a second store (not the
    /// view's, and not a relative open).
    fn on_disk(self, path: &Path) -> OnDisk {
        let real = fs::symlink_metadata(path).unwrap();
        let store = WindowsBacking::open(&abs(path.parent().unwrap())).unwrap();
        let node = store.open_host(&abs(path)).unwrap();
        let own = store.stat(&node).unwrap();
        let perm = match () {
            _ if real.is_dir() || real.is_symlink() => 0o777,
            _ if real.permissions().readonly() => 0o444,
            _ => 0o666,
        };
        assert_eq!(own.kind == FileKind::Dir, real.is_dir(), "{}", path.display());
        OnDisk { ino: own.ino, dev: own.dev, size: real.len(), perm, nlink: own.nlink, uid: 0 }
    }
}

bindfs_tests::store_rule_tests!(WindowsStore;
    rule_05_anchorless_links_show_with_the_backing_type_and_attributes,
    rule_06_shadow_link_hides_on_disk_content_and_restores_it,
    rule_07_backing_type_wins,
    rule_08_exceptions_show_on_disk_content,
    rule_09_chains_resolve_and_act_on_the_final_backing,
    rule_09_chain_through_a_read_only_link_stays_read_only,
    rule_09_cycles_end_with_eloop_promptly,
    rule_11_merged_shows_the_union_and_the_backing_wins,
    rule_12_merged_creates_in_the_backing_and_deleting_unmasks,
    rule_13_read_only_refuses_changes_and_clears_write_bits,
    rule_14_read_only_merged_keeps_on_disk_entries_writable,
    rule_15_deepest_link_serves_each_path,
    rule_16_later_links_win_but_never_hide_an_earlier_v,
    rule_17_remove_needs_a_link_and_goes_deepest_first,
    rule_18_open_handles_survive_link_removal,
    rule_19_calls_through_v_act_on_b_and_removing_v_keeps_the_link,
    rule_20_resolution_happens_at_open_time,
    rule_21_canonical_path_is_the_virtual_path,
    rule_24_hard_links_made_in_b_keep_their_count_and_identity,
);
