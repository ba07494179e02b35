//! The rule scenarios every platform runs: one table of steps in portable terms (files,
//! directories, links, expected listings and failures), and a runner that plays a scenario
//! through a [`Driver`], the part that knows how to mount a view on its platform.
//!
//! The Linux driver mounts with FUSE ([`crate::Env`]); the Windows workflow runs the same table
//! through WinFsp (`tests/tests/scenarios.rs` picks the driver). Rules that need
//! platform-specific calls (locks, mmap, xattrs, credentials) have their own tests next to the
//! driver (`tests/tests/rules.rs` on Linux).
//!
//! Paths in a scenario are relative, with `/` separators: [`At::Disk`] is the on-disk layer
//! (touched only while no view is mounted, since on Linux the view covers it), [`At::Backing`]
//! the backing trees, [`At::View`] a path inside the view.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

/// Where a path lives.
#[derive(Clone, Copy, Debug)]
pub enum At {
    /// The on-disk layer, while no view is mounted.
    Disk(&'static str),
    /// The backing trees.
    Backing(&'static str),
    /// Inside the mounted view (`""`: its root).
    View(&'static str),
}

/// A flag of `link create`.
#[derive(Clone, Copy, Debug)]
pub enum Flag {
    /// `--read-only`.
    ReadOnly,
    /// `--merged`.
    Merged,
    /// `--except` with a path inside the view.
    Except(&'static str),
}

/// A failure a step expects, in platform-neutral terms; each driver says which errors match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// No such file or directory.
    NotFound,
    /// Refused by a read-only link.
    ReadOnly,
    /// A directory that is not empty.
    NotEmpty,
}

/// One step of a scenario.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// Writes a file (creating missing parent directories when not in the view).
    Put(At, &'static str),
    /// Creates a directory.
    MakeDir(At),
    /// Mounts the view.
    Mount,
    /// Mounts the view without kernel caching of names and attributes (for rules about changes
    /// made behind the view's back).
    MountExact,
    /// Unmounts the view.
    Unmount,
    /// `link create VIEW/virt backing flags...`, which must succeed.
    Link(&'static str, At, &'static [Flag]),
    /// The same, which must fail (one line on stderr, exit status not 0).
    LinkFails(&'static str, At, &'static [Flag]),
    /// `link remove VIEW/virt`, which must succeed.
    Unlink(&'static str),
    /// The same, which must fail.
    UnlinkFails(&'static str),
    /// A directory's names, sorted.
    Ls(At, &'static [&'static str]),
    /// A file's content.
    Cat(At, &'static str),
    /// Nothing there.
    Missing(At),
    /// A directory there.
    IsDir(At),
    /// A file there.
    IsFile(At),
    /// Whether the reported attributes say read-only (no write bits, or the read-only
    /// attribute).
    ReadOnlyAttr(At, bool),
    /// Writes a file (creating or replacing it), which must succeed.
    Write(At, &'static str),
    /// Writing a file must fail so.
    WriteFails(At, Failure),
    /// Removes a file.
    Remove(At),
    /// Removing a file must fail so.
    RemoveFails(At, Failure),
    /// Removes an empty directory.
    RemoveDir(At),
    /// Renames (replacing the target).
    Rename(At, At),
    /// Opens a file for reading and keeps it open.
    Hold(At),
    /// Reads the held file from its start.
    ReadHeld(&'static str),
    /// The path as the system reports it for an open file (canonical form) is the path given.
    ReportsItsPath(At),
}

/// A named scenario: `setup` (usually [`TREE`]) and then its steps.
#[derive(Debug)]
pub struct Scenario {
    /// The test name (`rule_NN_...`).
    pub name: &'static str,
    /// Steps to make the starting tree.
    pub setup: &'static [Step],
    /// The steps.
    pub steps: &'static [Step],
}

/// What a driver does for the runner.
pub trait Driver {
    /// The real path of `at` now.
    fn path(&self, at: At) -> PathBuf;
    /// Mounts the view; `exact`: without kernel caching.
    fn mount(&mut self, exact: bool);
    /// Unmounts the view.
    fn unmount(&mut self);
    /// Whether a view is mounted.
    fn mounted(&self) -> bool;
    /// Runs `bindfs-rs` with `args`: Ok(stdout) on success, Err(stderr) on failure.
    fn cli(&self, args: &[&str]) -> Result<String, String>;
    /// Whether error `e` is the expected `failure` on this platform.
    fn is(&self, e: &std::io::Error, failure: Failure) -> bool;
}

/// The usual starting tree: `Foo` on disk with two files, a file at the top, and two backing
/// directories, one with a name in common with `Foo`.
pub const TREE: &[Step] = &[
    Step::Put(At::Disk("Foo/old.txt"), "on disk"),
    Step::Put(At::Disk("Foo/shared.txt"), "disk version"),
    Step::Put(At::Disk("top.txt"), "top"),
    Step::Put(At::Backing("Target/Cat.txt"), "meow"),
    Step::Put(At::Backing("Target/shared.txt"), "backing version"),
    Step::Put(At::Backing("Target2/Dog.txt"), "woof"),
];

use At::{Backing, Disk, View};
use Step::*;

const FOO_ON_DISK: Step = Ls(View("Foo"), &["old.txt", "shared.txt"]);
const FOO_FROM_TARGET: Step = Ls(View("Foo"), &["Cat.txt", "shared.txt"]);

/// Every scenario.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "rule_01_a_link_shows_b_until_removed_and_ends_with_the_view",
        setup: TREE,
        steps: &[
            Mount,
            FOO_ON_DISK,
            Link("Foo", Backing("Target"), &[]),
            FOO_FROM_TARGET,
            Cat(View("Foo/Cat.txt"), "meow"),
            Unlink("Foo"),
            FOO_ON_DISK,
            Link("Foo", Backing("Target"), &[]),
            Unmount,
            Ls(Disk("Foo"), &["old.txt", "shared.txt"]),
            Ls(Backing("Target"), &["Cat.txt", "shared.txt"]),
            Mount,
            FOO_ON_DISK,
        ],
    },
    Scenario {
        name: "rule_02_a_missing_backing_is_refused",
        setup: TREE,
        steps: &[Mount, LinkFails("Foo", Backing("NoSuch"), &[]), FOO_ON_DISK, UnlinkFails("Foo")],
    },
    Scenario {
        name: "rule_03_one_link_per_virtual_path",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            LinkFails("Foo", Backing("Target2"), &[]),
            FOO_FROM_TARGET,
        ],
    },
    Scenario {
        name: "rule_04_the_parent_of_v_must_be_visible",
        setup: TREE,
        steps: &[
            Mount,
            LinkFails("NoSuch/Bar", Backing("Target"), &[]),
            Missing(View("NoSuch")),
            // Nested anchorless links, parent first.
            Link("New", Backing("Target"), &[]),
            Link("New/Deeper", Backing("Target2"), &[]),
            Ls(View("New"), &["Cat.txt", "Deeper", "shared.txt"]),
            Ls(View("New/Deeper"), &["Dog.txt"]),
        ],
    },
    Scenario {
        name: "rule_05_an_anchorless_link_is_synthesized_in_its_parent",
        setup: TREE,
        steps: &[
            Mount,
            Link("Anchorless", Backing("Target"), &[]),
            Ls(View(""), &["Anchorless", "Foo", "top.txt"]),
            IsDir(View("Anchorless")),
            Link("OneFile", Backing("Target/Cat.txt"), &[]),
            IsFile(View("OneFile")),
            Cat(View("OneFile"), "meow"),
            Unlink("Anchorless"),
            Unlink("OneFile"),
            Ls(View(""), &["Foo", "top.txt"]),
        ],
    },
    Scenario {
        name: "rule_06_a_shadow_link_hides_the_on_disk_content_and_restores_it",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            Missing(View("Foo/old.txt")),
            Cat(View("Foo/shared.txt"), "backing version"),
            Unlink("Foo"),
            Cat(View("Foo/old.txt"), "on disk"),
            Cat(View("Foo/shared.txt"), "disk version"),
        ],
    },
    Scenario {
        name: "rule_07_the_backing_type_wins",
        setup: &[Step::Put(At::Disk("Foo/old.txt"), "on disk"), Step::Put(At::Backing("AFile"), "a file")],
        steps: &[Mount, Link("Foo", Backing("AFile"), &[]), IsFile(View("Foo")), Cat(View("Foo"), "a file")],
    },
    Scenario {
        name: "rule_08_exceptions_show_the_on_disk_content",
        setup: &[
            Step::Put(At::Disk("Foo/Keep/mine.txt"), "mine"),
            Step::Put(At::Disk("Foo/old.txt"), "on disk"),
            Step::Put(At::Backing("Target/Cat.txt"), "meow"),
            Step::Put(At::Backing("Target/Keep/theirs.txt"), "theirs"),
        ],
        steps: &[
            Mount,
            LinkFails("Foo", Backing("Target"), &[Flag::Except("Foo/NoSuch")]),
            LinkFails("Foo", Backing("Target"), &[Flag::Except("Elsewhere")]),
            LinkFails("Anchorless", Backing("Target"), &[Flag::Except("Anchorless/Keep")]),
            Ls(View("Foo"), &["Keep", "old.txt"]),
            Link("Foo", Backing("Target"), &[Flag::Except("Foo/Keep")]),
            Ls(View("Foo"), &["Cat.txt", "Keep"]),
            Ls(View("Foo/Keep"), &["mine.txt"]),
            Cat(View("Foo/Keep/mine.txt"), "mine"),
        ],
    },
    Scenario {
        name: "rule_09_chains_resolve_through_other_links",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            Link("Chain", View("Foo"), &[]),
            Ls(View("Chain"), &["Cat.txt", "shared.txt"]),
            Write(View("Chain/new.txt"), "through two links"),
            Cat(Backing("Target/new.txt"), "through two links"),
        ],
    },
    Scenario {
        name: "rule_10_creating_a_link_never_changes_the_backing_namespace",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            Link("Foo/Bar", Backing("Target2"), &[]),
            Ls(View("Foo"), &["Bar", "Cat.txt", "shared.txt"]),
            Ls(View("Foo/Bar"), &["Dog.txt"]),
            Ls(Backing("Target"), &["Cat.txt", "shared.txt"]),
        ],
    },
    Scenario {
        name: "rule_11_merged_shows_the_union_and_the_backing_wins",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[Flag::Merged]),
            Ls(View("Foo"), &["Cat.txt", "old.txt", "shared.txt"]),
            Cat(View("Foo/shared.txt"), "backing version"),
            Cat(View("Foo/old.txt"), "on disk"),
        ],
    },
    Scenario {
        name: "rule_11_merged_needs_a_directory",
        setup: &[Step::Put(At::Disk("Foo/old.txt"), "on disk"), Step::Put(At::Backing("AFile"), "a file")],
        steps: &[Mount, LinkFails("Foo", Backing("AFile"), &[Flag::Merged]), Ls(View("Foo"), &["old.txt"])],
    },
    Scenario {
        name: "rule_12_merged_creates_in_the_backing_and_deleting_unmasks",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[Flag::Merged]),
            Write(View("Foo/new.txt"), "new"),
            Cat(Backing("Target/new.txt"), "new"),
            Remove(View("Foo/shared.txt")),
            Missing(Backing("Target/shared.txt")),
            Cat(View("Foo/shared.txt"), "disk version"),
            Unmount,
            Ls(Disk("Foo"), &["old.txt", "shared.txt"]),
        ],
    },
    Scenario {
        name: "rule_13_read_only_refuses_changes_through_v_only",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[Flag::ReadOnly]),
            Cat(View("Foo/Cat.txt"), "meow"),
            ReadOnlyAttr(View("Foo/Cat.txt"), true),
            WriteFails(View("Foo/Cat.txt"), Failure::ReadOnly),
            WriteFails(View("Foo/new.txt"), Failure::ReadOnly),
            RemoveFails(View("Foo/Cat.txt"), Failure::ReadOnly),
            Cat(Backing("Target/Cat.txt"), "meow"),
            ReadOnlyAttr(Backing("Target/Cat.txt"), false),
            Write(Backing("Target/Cat.txt"), "purr"),
            Cat(View("Foo/Cat.txt"), "purr"),
        ],
    },
    Scenario {
        name: "rule_14_read_only_merged_keeps_on_disk_entries_writable",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[Flag::ReadOnly, Flag::Merged]),
            ReadOnlyAttr(View("Foo/old.txt"), false),
            Write(View("Foo/old.txt"), "changed"),
            WriteFails(View("Foo/Cat.txt"), Failure::ReadOnly),
            Unmount,
            Cat(Disk("Foo/old.txt"), "changed"),
        ],
    },
    Scenario {
        name: "rule_15_the_deepest_link_serves_each_path",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo/Bar", Backing("Target"), &[]),
            Link("Foo", Backing("Target2"), &[]),
            Ls(View("Foo"), &["Bar", "Dog.txt"]),
            Ls(View("Foo/Bar"), &["Cat.txt", "shared.txt"]),
        ],
    },
    Scenario {
        name: "rule_16_a_later_link_never_hides_an_earlier_v",
        setup: ORDER_TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("WithFileBar"), &[]),
            Link("Foo/Bar", Backing("WithCat"), &[]),
            IsDir(View("Foo/Bar")),
            Ls(View("Foo/Bar"), &["Cat.txt"]),
        ],
    },
    Scenario {
        name: "rule_16_the_same_in_the_reverse_order",
        setup: ORDER_TREE,
        steps: &[
            Mount,
            Link("Foo/Bar", Backing("WithCat"), &[]),
            Link("Foo", Backing("WithFileBar"), &[]),
            IsDir(View("Foo/Bar")),
            Ls(View("Foo/Bar"), &["Cat.txt"]),
        ],
    },
    Scenario {
        name: "rule_17_remove_needs_a_link_and_goes_deepest_first",
        setup: TREE,
        steps: &[
            Mount,
            UnlinkFails("Foo"),
            Link("Foo", Backing("Target"), &[]),
            Link("Foo/Bar", Backing("Target2"), &[]),
            UnlinkFails("Foo"),
            Unlink("Foo/Bar"),
            Unlink("Foo"),
            FOO_ON_DISK,
        ],
    },
    Scenario {
        name: "rule_18_a_file_opened_before_removal_keeps_working",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            Hold(View("Foo/Cat.txt")),
            Unlink("Foo"),
            Missing(View("Foo/Cat.txt")),
            ReadHeld("meow"),
        ],
    },
    Scenario {
        name: "rule_19_ordinary_calls_through_v_act_on_b",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            Write(View("Foo/new.txt"), "hello"),
            Cat(Backing("Target/new.txt"), "hello"),
            Rename(View("Foo/new.txt"), View("Foo/renamed.txt")),
            Ls(Backing("Target"), &["Cat.txt", "renamed.txt", "shared.txt"]),
            Remove(View("Foo/renamed.txt")),
            Missing(Backing("Target/renamed.txt")),
            MakeDir(View("Foo/sub")),
            IsDir(Backing("Target/sub")),
            RemoveDir(View("Foo/sub")),
            Missing(Backing("Target/sub")),
        ],
    },
    Scenario {
        name: "rule_19_removing_v_acts_on_b_and_keeps_the_link",
        setup: &[Step::Put(At::Disk("top.txt"), "top"), Step::MakeDir(At::Backing("Empty"))],
        steps: &[
            MountExact,
            Link("Foo", Backing("Empty"), &[]),
            RemoveDir(View("Foo")),
            Missing(Backing("Empty")),
            MakeDir(Backing("Empty")),
            Put(Backing("Empty/back.txt"), "back"),
            Cat(View("Foo/back.txt"), "back"),
        ],
    },
    Scenario {
        name: "rule_20_links_are_resolved_when_a_path_is_opened",
        setup: TREE,
        steps: &[
            MountExact,
            Link("Foo", Backing("Target"), &[]),
            Remove(Backing("Target/Cat.txt")),
            Missing(View("Foo/Cat.txt")),
            Put(Backing("Target/Cat.txt"), "a new cat"),
            Cat(View("Foo/Cat.txt"), "a new cat"),
        ],
    },
    Scenario {
        name: "rule_21_a_file_reports_its_virtual_path",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            ReportsItsPath(View("Foo/Cat.txt")),
            ReportsItsPath(View("Foo")),
        ],
    },
];

/// For rule 16: a backing with a file `Bar`, another with `Cat.txt`.
const ORDER_TREE: &[Step] = &[
    Step::Put(At::Disk("Foo/old.txt"), "on disk"),
    Step::Put(At::Backing("WithFileBar/Bar"), "a file named Bar"),
    Step::Put(At::Backing("WithCat/Cat.txt"), "meow"),
];

/// The scenario called `name`.
pub fn scenario(name: &str) -> &'static Scenario {
    SCENARIOS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no scenario {name}"))
}

/// The sorted names in a directory.
fn names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// Plays `scenario` through `driver`, panicking at the first step that does not hold.
pub fn run(scenario: &Scenario, driver: &mut dyn Driver) {
    let mut held: Option<File> = None;
    let steps = scenario.setup.iter().chain(scenario.steps);
    for (i, step) in steps.enumerate() {
        if let Err(why) = play(*step, driver, &mut held) {
            panic!("{}: step {i} {step:?}: {why}", scenario.name);
        }
    }
    if driver.mounted() {
        drop(held);
        driver.unmount();
    }
}

fn play(step: Step, d: &mut dyn Driver, held: &mut Option<File>) -> Result<(), String> {
    let at = |a: At| -> Result<PathBuf, String> {
        match a {
            At::Disk(_) if d.mounted() => Err("the on-disk layer is covered while mounted".into()),
            At::View(_) if !d.mounted() => Err("no view is mounted".into()),
            _ => Ok(d.path(a)),
        }
    };
    let io = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    match step {
        Put(a, data) => {
            let p = at(a)?;
            if !matches!(a, At::View(_)) {
                if let Some(parent) = p.parent() {
                    io(std::fs::create_dir_all(parent))?;
                }
            }
            io(std::fs::write(p, data))
        }
        MakeDir(a) => io(std::fs::create_dir(at(a)?)),
        Mount => {
            d.mount(false);
            Ok(())
        }
        MountExact => {
            d.mount(true);
            Ok(())
        }
        Unmount => {
            *held = None;
            d.unmount();
            Ok(())
        }
        Link(virt, backing, flags) | LinkFails(virt, backing, flags) => {
            let virt = d.path(View(virt));
            let backing = at(backing)?;
            let mut args = vec!["link".to_owned(), "create".to_owned(), s(&virt)?, s(&backing)?];
            for flag in flags {
                match flag {
                    Flag::ReadOnly => args.push("--read-only".into()),
                    Flag::Merged => args.push("--merged".into()),
                    Flag::Except(p) => {
                        args.push("--except".into());
                        args.push(s(&d.path(View(p)))?);
                    }
                }
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            expect_cli(d.cli(&args), matches!(step, Link(..)))
        }
        Unlink(virt) | UnlinkFails(virt) => {
            let virt = s(&d.path(View(virt)))?;
            expect_cli(d.cli(&["link", "remove", &virt]), matches!(step, Unlink(_)))
        }
        Ls(a, expected) => {
            let seen = names(&at(a)?).map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("listed {seen:?}")) }
        }
        Cat(a, expected) => {
            let seen = std::fs::read_to_string(at(a)?).map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("read {seen:?}")) }
        }
        Missing(a) => match std::fs::symlink_metadata(at(a)?) {
            Err(e) if d.is(&e, Failure::NotFound) => Ok(()),
            Err(e) => Err(format!("failed otherwise: {e}")),
            Ok(m) => Err(format!("found {:?}", m.file_type())),
        },
        IsDir(a) | IsFile(a) => {
            let m = std::fs::metadata(at(a)?).map_err(|e| e.to_string())?;
            if m.is_dir() == matches!(step, IsDir(_)) {
                Ok(())
            } else {
                Err(format!("found {:?}", m.file_type()))
            }
        }
        ReadOnlyAttr(a, expected) => {
            let m = std::fs::metadata(at(a)?).map_err(|e| e.to_string())?;
            let seen = read_only(&m);
            if seen == expected { Ok(()) } else { Err(format!("read-only: {seen}")) }
        }
        Write(a, data) => io(std::fs::write(at(a)?, data)),
        WriteFails(a, failure) => expect_failure(d, std::fs::write(at(a)?, "change"), failure),
        Remove(a) => io(std::fs::remove_file(at(a)?)),
        RemoveFails(a, failure) => expect_failure(d, std::fs::remove_file(at(a)?), failure),
        RemoveDir(a) => io(std::fs::remove_dir(at(a)?)),
        Rename(from, to) => io(std::fs::rename(at(from)?, at(to)?)),
        Hold(a) => {
            *held = Some(File::open(at(a)?).map_err(|e| e.to_string())?);
            Ok(())
        }
        ReadHeld(expected) => {
            let f = held.as_mut().ok_or("nothing held")?;
            let mut seen = String::new();
            f.rewind().map_err(|e| e.to_string())?;
            f.read_to_string(&mut seen).map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("read {seen:?}")) }
        }
        ReportsItsPath(a) => {
            let p = at(a)?;
            let seen = std::fs::canonicalize(&p).map_err(|e| e.to_string())?;
            if same_path(&seen, &p) { Ok(()) } else { Err(format!("reported {}", seen.display())) }
        }
    }
}

fn s(p: &Path) -> Result<String, String> {
    p.to_str().map(str::to_owned).ok_or_else(|| format!("not UTF-8: {}", p.display()))
}

fn expect_cli(result: Result<String, String>, success: bool) -> Result<(), String> {
    match (result, success) {
        (Ok(_), true) => Ok(()),
        (Err(stderr), false) if stderr.trim().lines().count() == 1 => Ok(()),
        (Err(stderr), false) => Err(format!("failed, but not with one line: {stderr:?}")),
        (Ok(out), false) => Err(format!("succeeded: {out}")),
        (Err(stderr), true) => Err(format!("failed: {stderr}")),
    }
}

fn expect_failure(d: &dyn Driver, r: std::io::Result<()>, failure: Failure) -> Result<(), String> {
    match r {
        Err(e) if d.is(&e, failure) => Ok(()),
        Err(e) => Err(format!("failed otherwise: {e}")),
        Ok(()) => Err("succeeded".into()),
    }
}

#[cfg(unix)]
fn read_only(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o222 == 0
}

#[cfg(not(unix))]
fn read_only(m: &std::fs::Metadata) -> bool {
    m.permissions().readonly()
}

/// Whether the canonical form `seen` names `given` (on Windows, canonical paths carry the
/// `\\?\` prefix).
fn same_path(seen: &Path, given: &Path) -> bool {
    let strip = |p: &Path| p.to_string_lossy().trim_start_matches(r"\\?\").to_owned();
    strip(seen) == strip(given)
}
