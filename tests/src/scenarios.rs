//! The rule scenarios every platform runs: one table of steps in portable terms (files,
//! directories, links, expected listings and failures), and a runner that plays a scenario
//! through a [`Driver`], the part that knows how to mount a view on its platform.
//!
//! The Linux driver mounts with FUSE ([`crate::Env`]); the Windows workflow runs the same table
//! through WinFsp ([`crate::windows::WinEnv`]); `tests/tests/scenarios.rs` picks the driver.
//! [`crate::store::StoreEnv`] plays the same table on a platform's store without a mount,
//! through the core's `View` (`tests/tests/scenarios.rs` on Linux, `backend-winfsp/tests/` on
//! Windows, where it runs under Wine). Rules that need platform-specific calls (locks, mmap,
//! xattrs, credentials) have their own tests next to the driver (`tests/tests/rules.rs` on
//! Linux).
//!
//! Paths in a scenario are relative, with `/` separators: [`At::Disk`] is the on-disk layer
//! (touched only while no view is mounted, since on Linux the view covers it), [`At::Backing`]
//! the backing trees, [`At::View`] a path inside the view.

use std::fs::File;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// A change made through the handle of a held file, never by its name (issue 12).
#[derive(Clone, Copy, Debug)]
pub enum Change {
    /// Sets its size.
    Size(u64),
    /// Sets its modification time, in seconds since the Unix epoch.
    Modified(u64),
    /// Gives it a DACL that lets everyone write (stores with Windows ACLs; elsewhere the step
    /// is left out).
    EveryoneMayWrite,
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
    /// Opens a file for reading and writing and keeps it open (the one held file).
    HoldToChange(At),
    /// Changes the held file through its handle, which must succeed.
    ChangeHeld(Change),
    /// Changing the held file through its handle must fail so.
    ChangeHeldFails(Change, Failure),
    /// A host path's modification time, in seconds since the Unix epoch.
    ModifiedAt(At, u64),
    /// A host path's DACL lets everyone write (on Windows; elsewhere the step is left out).
    EveryoneMayWrite(At),
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

/// What the runner reads back about an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// A directory.
    pub is_dir: bool,
    /// The reported attributes say read-only (no write bits, or the read-only attribute).
    pub read_only: bool,
}

/// A file the runner keeps open across steps (rule 18).
pub trait Held {
    /// Its whole content, read from its start.
    fn read_all(&mut self) -> std::io::Result<String>;
    /// Makes `change` through the open handle.
    fn change(&mut self, change: Change) -> std::io::Result<()>;
}

impl Held for File {
    fn read_all(&mut self) -> std::io::Result<String> {
        let mut seen = String::new();
        self.rewind()?;
        self.read_to_string(&mut seen)?;
        Ok(seen)
    }

    fn change(&mut self, change: Change) -> std::io::Result<()> {
        match change {
            Change::Size(size) => self.set_len(size),
            Change::Modified(secs) => self.set_modified(at_secs(secs)),
            #[cfg(windows)]
            Change::EveryoneMayWrite => crate::windows::set_dacl(self, &everyone_may_write()),
            #[cfg(not(windows))]
            Change::EveryoneMayWrite => Err(std::io::ErrorKind::Unsupported.into()),
        }
    }
}

/// The time `secs` seconds after the Unix epoch.
fn at_secs(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// `DACL_SECURITY_INFORMATION`: the DACL part of a security descriptor.
pub const DACL_SECURITY_INFORMATION: u32 = 0x4;

/// The SID of Everyone (S-1-1-0), as Windows lays a SID out.
const EVERYONE: [u8; 12] = [1, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0];

/// `FILE_WRITE_DATA` access.
const FILE_WRITE_DATA: u32 = 0x2;

/// A self-relative security descriptor whose DACL lets everyone do everything (one
/// `ACCESS_ALLOWED_ACE` for Everyone with `FILE_ALL_ACCESS`), laid out as Windows lays it out.
pub fn everyone_may_write() -> Vec<u8> {
    let mut ace = vec![0u8, 0]; // ACCESS_ALLOWED_ACE_TYPE, no inheritance
    ace.extend(((8 + EVERYONE.len()) as u16).to_le_bytes());
    ace.extend(0x001F_01FFu32.to_le_bytes()); // FILE_ALL_ACCESS
    ace.extend(EVERYONE);
    // Revision 1, SE_SELF_RELATIVE | SE_DACL_PRESENT; no owner, group or SACL; DACL at 20.
    let mut d = vec![1u8, 0, 0x04, 0x80];
    for offset in [0u32, 0, 0, 20] {
        d.extend(offset.to_le_bytes());
    }
    d.extend([2u8, 0]); // ACL revision
    d.extend(((8 + ace.len()) as u16).to_le_bytes());
    d.extend(1u16.to_le_bytes());
    d.extend([0u8, 0]);
    d.extend(ace);
    d
}

/// Whether the DACL of self-relative descriptor `d` allows Everyone to write data.
pub fn everyone_writes(d: &[u8]) -> bool {
    let word = |at: usize| d.get(at..at + 2).map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])));
    let Some(dacl) = d.get(16..20).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) else {
        return false;
    };
    let (Some(count), true) = (word(dacl + 4), dacl != 0) else { return false };
    let mut at = dacl + 8;
    for _ in 0..count {
        let (Some(kind), Some(size)) = (d.get(at), word(at + 2)) else { return false };
        let mask = d.get(at + 4..at + 8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let sid = d.get(at + 8..at + size);
        if *kind == 0 && sid == Some(&EVERYONE[..]) && mask.is_some_and(|m| m & FILE_WRITE_DATA != 0) {
            return true;
        }
        at += size.max(1);
    }
    false
}

/// What a driver does for the runner: mount and unmount a view, change its links, and act on
/// paths inside it. Paths on disk and in the backing trees are host paths in every driver
/// ([`Driver::path`]), which the runner reaches with `std::fs`; paths inside the view go through
/// the driver (`rel` is [`At::View`]'s relative path). The view operations default to `std::fs`
/// on the mounted path and the links to the `bindfs-rs` command, which is what a mount driver
/// does; a driver over the store without a mount overrides them.
pub trait Driver {
    /// The real path of `at` now (for [`At::View`]: inside the mounted view).
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

    /// `link create VIEW/virt backing flags...`: Ok(stdout), or Err(the error text).
    fn link(&self, virt: &'static str, backing: At, flags: &[Flag]) -> Result<String, String> {
        let mut args = vec![
            "link".to_owned(),
            "create".to_owned(),
            s(&self.path(At::View(virt)))?,
            s(&self.path(backing))?,
        ];
        for flag in flags {
            match flag {
                Flag::ReadOnly => args.push("--read-only".into()),
                Flag::Merged => args.push("--merged".into()),
                Flag::Except(p) => {
                    args.push("--except".into());
                    args.push(s(&self.path(At::View(p)))?);
                }
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.cli(&args)
    }
    /// `link remove VIEW/virt`: Ok(stdout), or Err(the error text).
    fn unlink(&self, virt: &'static str) -> Result<String, String> {
        self.cli(&["link", "remove", &s(&self.path(At::View(virt)))?])
    }
    /// The sorted names of directory `rel` of the view.
    fn ls(&self, rel: &'static str) -> std::io::Result<Vec<String>> {
        names(&self.path(At::View(rel)))
    }
    /// The content of file `rel` of the view.
    fn cat(&self, rel: &'static str) -> std::io::Result<String> {
        std::fs::read_to_string(self.path(At::View(rel)))
    }
    /// Creates or replaces file `rel` of the view with `data`.
    fn write(&self, rel: &'static str, data: &str) -> std::io::Result<()> {
        std::fs::write(self.path(At::View(rel)), data)
    }
    /// Creates directory `rel` of the view.
    fn mkdir(&self, rel: &'static str) -> std::io::Result<()> {
        std::fs::create_dir(self.path(At::View(rel)))
    }
    /// Removes file `rel` of the view.
    fn remove(&self, rel: &'static str) -> std::io::Result<()> {
        std::fs::remove_file(self.path(At::View(rel)))
    }
    /// Removes empty directory `rel` of the view.
    fn rmdir(&self, rel: &'static str) -> std::io::Result<()> {
        std::fs::remove_dir(self.path(At::View(rel)))
    }
    /// Renames `from` to `to` inside the view, replacing `to`.
    fn rename(&self, from: &'static str, to: &'static str) -> std::io::Result<()> {
        std::fs::rename(self.path(At::View(from)), self.path(At::View(to)))
    }
    /// What `rel` of the view is; `follow`: through a symlink (`stat`), else the entry itself.
    fn stat(&self, rel: &'static str, follow: bool) -> std::io::Result<Stat> {
        host_stat(&self.path(At::View(rel)), follow)
    }
    /// Opens file `rel` of the view for reading.
    fn hold(&self, rel: &'static str) -> std::io::Result<Box<dyn Held>> {
        Ok(Box::new(File::open(self.path(At::View(rel)))?))
    }
    /// Opens file `rel` of the view for reading and writing.
    fn hold_to_change(&self, rel: &'static str) -> std::io::Result<Box<dyn Held>> {
        Ok(Box::new(std::fs::OpenOptions::new().read(true).write(true).open(self.path(At::View(rel)))?))
    }
    /// Checks that the path the system reports for `rel` opened (its canonical form) is the
    /// virtual path (rule 21).
    fn reports_its_path(&self, rel: &'static str) -> Result<(), String> {
        let p = self.path(At::View(rel));
        let seen = std::fs::canonicalize(&p).map_err(|e| e.to_string())?;
        if same_path(&seen, &p) { Ok(()) } else { Err(format!("reported {}", seen.display())) }
    }
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
        // Issue 12: calls on an open file act on its object, not on what its old name shows.
        name: "rule_18_a_held_file_changes_through_its_handle_after_an_ancestor_rename",
        setup: &[
            Step::Put(At::Disk("top.txt"), "top"),
            Step::Put(At::Backing("Target/Dir/Sub/f.txt"), "0123456789"),
        ],
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[]),
            HoldToChange(View("Foo/Dir/Sub/f.txt")),
            Rename(View("Foo/Dir"), View("Foo/Moved")),
            // Something else takes the old name: the handle must not reach it.
            Put(Backing("Target/Dir/Sub/f.txt"), "intruder"),
            ChangeHeld(Change::Size(4)),
            ChangeHeld(Change::Modified(1_000_000_000)),
            ChangeHeld(Change::EveryoneMayWrite),
            Cat(Backing("Target/Moved/Sub/f.txt"), "0123"),
            ModifiedAt(Backing("Target/Moved/Sub/f.txt"), 1_000_000_000),
            EveryoneMayWrite(Backing("Target/Moved/Sub/f.txt")),
            Cat(Backing("Target/Dir/Sub/f.txt"), "intruder"),
            Cat(View("Foo/Moved/Sub/f.txt"), "0123"),
        ],
    },
    Scenario {
        // Issue 12: the same refusal, with the same error, on every platform.
        name: "rule_13_a_held_file_of_a_read_only_link_refuses_changes_through_its_handle",
        setup: TREE,
        steps: &[
            Mount,
            Link("Foo", Backing("Target"), &[Flag::ReadOnly]),
            Hold(View("Foo/Cat.txt")),
            ChangeHeldFails(Change::Modified(1_000_000_000), Failure::ReadOnly),
            ChangeHeldFails(Change::EveryoneMayWrite, Failure::ReadOnly),
            Cat(Backing("Target/Cat.txt"), "meow"),
            ReadOnlyAttr(Backing("Target/Cat.txt"), false),
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

/// One `#[test]` per scenario, named after it, each calling `$play(name)`, and a test that the
/// table and the tests do not drift apart: `bindfs_tests::scenario_tests!(play);` in a test file.
#[macro_export]
macro_rules! scenario_tests {
    ($play:path) => {
        $crate::scenario_tests!(
            @each $play;
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
            rule_18_a_held_file_changes_through_its_handle_after_an_ancestor_rename,
            rule_13_a_held_file_of_a_read_only_link_refuses_changes_through_its_handle,
            rule_19_ordinary_calls_through_v_act_on_b,
            rule_19_removing_v_acts_on_b_and_keeps_the_link,
            rule_20_links_are_resolved_when_a_path_is_opened,
            rule_21_a_file_reports_its_virtual_path,
        );
    };
    (@each $play:path; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $play(stringify!($name));
            }
        )*

        /// The table and the tests do not drift apart.
        #[test]
        fn every_scenario_has_a_test() {
            let tested = [$(stringify!($name)),*];
            for s in $crate::scenarios::SCENARIOS {
                assert!(tested.contains(&s.name), "scenario {} has no test", s.name);
            }
            assert_eq!(tested.len(), $crate::scenarios::SCENARIOS.len());
        }
    };
}

/// The scenario called `name`.
pub fn scenario(name: &str) -> &'static Scenario {
    SCENARIOS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no scenario {name}"))
}

/// The sorted names in a directory.
pub fn names(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut names = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<std::io::Result<Vec<_>>>()?;
    names.sort();
    Ok(names)
}

/// Plays `scenario` through `driver`, panicking at the first step that does not hold.
pub fn run(scenario: &Scenario, driver: &mut dyn Driver) {
    let mut held: Option<Box<dyn Held>> = None;
    let steps = scenario.setup.iter().chain(scenario.steps);
    for (i, step) in steps.enumerate() {
        if let Some(why) = left_out(*step) {
            eprintln!("{}: step {i} {step:?}: skipped: {why}", scenario.name);
            continue;
        }
        if let Err(why) = play(*step, driver, &mut held) {
            panic!("{}: step {i} {step:?}: {why}", scenario.name);
        }
    }
    if driver.mounted() {
        drop(held);
        driver.unmount();
    }
}

/// Why `step` is left out here, if it is: ACLs on a platform without them, and a DACL set
/// through a handle after an ancestor's rename under Wine, which reopens a handle by the name it
/// was opened with (so the DACL lands on whatever has that name now; Windows reopens the
/// object itself).
fn left_out(step: Step) -> Option<&'static str> {
    let acl = matches!(
        step,
        ChangeHeld(Change::EveryoneMayWrite)
            | ChangeHeldFails(Change::EveryoneMayWrite, _)
            | EveryoneMayWrite(_)
    );
    if acl && !cfg!(windows) {
        return Some("no ACLs on this platform's stores");
    }
    #[cfg(windows)]
    if matches!(step, ChangeHeld(Change::EveryoneMayWrite) | EveryoneMayWrite(_))
        && crate::windows::under_wine()
    {
        return Some("under Wine a handle reopened for its DACL is reopened by its old name");
    }
    None
}

/// Where a step acts: a host path (the on-disk layer while unmounted, the backing trees), or a
/// path inside the view, which only the driver reaches.
enum Place {
    Host(PathBuf),
    View(&'static str),
}

fn play(step: Step, d: &mut dyn Driver, held: &mut Option<Box<dyn Held>>) -> Result<(), String> {
    let at = |a: At| -> Result<Place, String> {
        match a {
            At::Disk(_) if d.mounted() => Err("the on-disk layer is covered while mounted".into()),
            At::View(_) if !d.mounted() => Err("no view is mounted".into()),
            At::View(rel) => Ok(Place::View(rel)),
            _ => Ok(Place::Host(d.path(a))),
        }
    };
    let io = |r: std::io::Result<()>| r.map_err(|e| e.to_string());
    match step {
        Put(a, data) | Write(a, data) => match at(a)? {
            Place::Host(p) => {
                if let (Put(..), Some(parent)) = (step, p.parent()) {
                    io(std::fs::create_dir_all(parent))?;
                }
                io(std::fs::write(p, data))
            }
            Place::View(rel) => io(d.write(rel, data)),
        },
        MakeDir(a) => match at(a)? {
            Place::Host(p) => io(std::fs::create_dir(p)),
            Place::View(rel) => io(d.mkdir(rel)),
        },
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
            at(backing)?;
            expect_cli(d.link(virt, backing, flags), matches!(step, Link(..)))
        }
        Unlink(virt) | UnlinkFails(virt) => expect_cli(d.unlink(virt), matches!(step, Unlink(_))),
        Ls(a, expected) => {
            let seen = match at(a)? {
                Place::Host(p) => names(&p),
                Place::View(rel) => d.ls(rel),
            }
            .map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("listed {seen:?}")) }
        }
        Cat(a, expected) => {
            let seen = match at(a)? {
                Place::Host(p) => std::fs::read_to_string(p),
                Place::View(rel) => d.cat(rel),
            }
            .map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("read {seen:?}")) }
        }
        Missing(a) => match stat(d, at(a)?, false) {
            Err(e) if d.is(&e, Failure::NotFound) => Ok(()),
            Err(e) => Err(format!("failed otherwise: {e}")),
            Ok(m) => Err(format!("found {m:?}")),
        },
        IsDir(a) | IsFile(a) => {
            let m = stat(d, at(a)?, true).map_err(|e| e.to_string())?;
            if m.is_dir == matches!(step, IsDir(_)) { Ok(()) } else { Err(format!("found {m:?}")) }
        }
        ReadOnlyAttr(a, expected) => {
            let seen = stat(d, at(a)?, true).map_err(|e| e.to_string())?.read_only;
            if seen == expected { Ok(()) } else { Err(format!("read-only: {seen}")) }
        }
        WriteFails(a, failure) => {
            let r = match at(a)? {
                Place::Host(p) => std::fs::write(p, "change"),
                Place::View(rel) => d.write(rel, "change"),
            };
            expect_failure(d, r, failure)
        }
        Remove(a) | RemoveFails(a, _) => {
            let r = match at(a)? {
                Place::Host(p) => std::fs::remove_file(p),
                Place::View(rel) => d.remove(rel),
            };
            match step {
                RemoveFails(_, failure) => expect_failure(d, r, failure),
                _ => io(r),
            }
        }
        RemoveDir(a) => match at(a)? {
            Place::Host(p) => io(std::fs::remove_dir(p)),
            Place::View(rel) => io(d.rmdir(rel)),
        },
        Rename(from, to) => match (at(from)?, at(to)?) {
            (Place::Host(from), Place::Host(to)) => io(std::fs::rename(from, to)),
            (Place::View(from), Place::View(to)) => io(d.rename(from, to)),
            _ => Err("the runner renames within the view or within the host only".into()),
        },
        Hold(a) => {
            let file: Box<dyn Held> = match at(a)? {
                Place::Host(p) => Box::new(File::open(p).map_err(|e| e.to_string())?),
                Place::View(rel) => d.hold(rel).map_err(|e| e.to_string())?,
            };
            *held = Some(file);
            Ok(())
        }
        ReadHeld(expected) => {
            let f = held.as_mut().ok_or("nothing held")?;
            let seen = f.read_all().map_err(|e| e.to_string())?;
            if seen == expected { Ok(()) } else { Err(format!("read {seen:?}")) }
        }
        HoldToChange(a) => {
            let file: Box<dyn Held> = match at(a)? {
                Place::Host(p) => Box::new(
                    std::fs::OpenOptions::new().read(true).write(true).open(p).map_err(|e| e.to_string())?,
                ),
                Place::View(rel) => d.hold_to_change(rel).map_err(|e| e.to_string())?,
            };
            *held = Some(file);
            Ok(())
        }
        ChangeHeld(change) => io(held.as_mut().ok_or("nothing held")?.change(change)),
        ChangeHeldFails(change, failure) => {
            let r = held.as_mut().ok_or("nothing held")?.change(change);
            expect_failure(d, r, failure)
        }
        ModifiedAt(a, secs) => match at(a)? {
            Place::Host(p) => {
                let seen = std::fs::metadata(p).and_then(|m| m.modified()).map_err(|e| e.to_string())?;
                if seen == at_secs(secs) { Ok(()) } else { Err(format!("modified at {seen:?}")) }
            }
            Place::View(_) => Err("the runner reads times on host paths only".into()),
        },
        EveryoneMayWrite(a) => match at(a)? {
            Place::Host(p) => everyone_may_write_at(&p),
            Place::View(_) => Err("the runner reads descriptors on host paths only".into()),
        },
        ReportsItsPath(a) => match at(a)? {
            Place::View(rel) => d.reports_its_path(rel),
            Place::Host(_) => Err("only paths inside the view report a virtual path".into()),
        },
    }
}

/// Whether the DACL of host path `p` lets everyone write.
#[cfg(windows)]
fn everyone_may_write_at(p: &Path) -> Result<(), String> {
    let d = crate::windows::security_of(p, DACL_SECURITY_INFORMATION).map_err(|e| e.to_string())?;
    if everyone_writes(&d) { Ok(()) } else { Err(format!("everyone may not write: {d:?}")) }
}

#[cfg(not(windows))]
fn everyone_may_write_at(_: &Path) -> Result<(), String> {
    Err("no ACLs on this platform".into())
}

fn stat(d: &dyn Driver, place: Place, follow: bool) -> std::io::Result<Stat> {
    match place {
        Place::Host(p) => host_stat(&p, follow),
        Place::View(rel) => d.stat(rel, follow),
    }
}

/// What a host path is, through `std::fs`.
pub fn host_stat(path: &Path, follow: bool) -> std::io::Result<Stat> {
    let m = if follow { std::fs::metadata(path)? } else { std::fs::symlink_metadata(path)? };
    Ok(Stat { is_dir: m.is_dir(), read_only: read_only(&m) })
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
