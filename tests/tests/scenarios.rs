//! The shared rule scenarios (`bindfs_tests::scenarios`) on this platform's mount driver: one
//! test per scenario, named after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_tests::scenarios::{SCENARIOS, run, scenario};

macro_rules! scenario_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                play(stringify!($name));
            }
        )*

        /// The table and the tests do not drift apart.
        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for s in SCENARIOS {
                assert!(tested.contains(&s.name), "scenario {} has no test", s.name);
            }
            assert_eq!(tested.len(), SCENARIOS.len());
        }
    };
}

#[cfg(target_os = "linux")]
fn play(name: &str) {
    let Some(mut env) = bindfs_tests::Env::new() else { return };
    run(scenario(name), &mut env);
}

#[cfg(windows)]
fn play(name: &str) {
    let Some(mut env) = bindfs_tests::windows::WinEnv::new() else { return };
    run(scenario(name), &mut env);
}

scenario_tests!(
    rule_01_a_link_shows_b_until_removed_and_ends_with_the_view,
    rule_02_a_missing_backing_is_refused,
    rule_03_one_link_per_virtual_path,
    rule_04_the_parent_of_v_must_be_visible,
    rule_05_an_anchorless_link_is_synthesized_in_its_parent,
    rule_06_a_shadow_link_hides_the_on_disk_content_and_restores_it,
    rule_07_the_backing_type_wins,
    rule_08_exceptions_show_the_on_disk_content,
    rule_09_chains_resolve_through_other_links,
    rule_10_creating_a_link_never_changes_the_backing_namespace,
    rule_11_merged_shows_the_union_and_the_backing_wins,
    rule_11_merged_needs_a_directory,
    rule_12_merged_creates_in_the_backing_and_deleting_unmasks,
    rule_13_read_only_refuses_changes_through_v_only,
    rule_14_read_only_merged_keeps_on_disk_entries_writable,
    rule_15_the_deepest_link_serves_each_path,
    rule_16_a_later_link_never_hides_an_earlier_v,
    rule_16_the_same_in_the_reverse_order,
    rule_17_remove_needs_a_link_and_goes_deepest_first,
    rule_18_a_file_opened_before_removal_keeps_working,
    rule_19_ordinary_calls_through_v_act_on_b,
    rule_19_removing_v_acts_on_b_and_keeps_the_link,
    rule_20_links_are_resolved_when_a_path_is_opened,
    rule_21_a_file_reports_its_virtual_path,
);
