//! `bindfs-rs demo`: the bind-link kinds on a small tree, shown as a user sees them.
//!
//! It mounts a real view over a fresh temporary directory (in this process), creates a shadow, a
//! merged, a read-only and an anchorless link while it is live, shows the tree through ordinary
//! file-system calls, unmounts, and removes everything, whatever happens. (For the library
//! without a mount, see `cargo run -p bindfs-fuse --example namespace`.)

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use bindfs_core::{AbsPath, Error, LinkFlags, LinkSpec, Syntax, Target, VPath};
use bindfs_fuse::ViewHandle;
use bindfs_fuse::mount::{self, MountConfig};

/// Removes the demo tree when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn io(what: &str, e: std::io::Error) -> String {
    format!("{what}: {e}")
}

fn core(what: &str, e: Error) -> String {
    format!("{what}: {e}")
}

fn vp(s: &str) -> Result<VPath, String> {
    VPath::parse(s).map_err(|e| core(s, e))
}

/// Lays out the on-disk content and three backing trees.
fn make_tree(root: &Path) -> Result<(), String> {
    let files: &[(&str, &str)] = &[
        ("disk/Projects/old-plan.txt", "the plan before the move"),
        ("disk/Projects/keep/notes.txt", "kept on disk by an exception"),
        ("disk/Shared/local.txt", "only on this machine"),
        ("disk/Shared/readme.txt", "local readme (masked by the backing's)"),
        ("store/projects-v2/plan.txt", "the new plan"),
        ("store/team/readme.txt", "team readme"),
        ("store/team/budget.csv", "q1,q2\n10,12"),
        ("store/manuals/install.md", "read me, do not edit me"),
        ("store/tools/run.sh", "echo hello"),
    ];
    for (rel, text) in files {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| io(&parent.display().to_string(), e))?;
        }
        fs::write(&path, text).map_err(|e| io(&path.display().to_string(), e))?;
    }
    fs::create_dir_all(root.join("disk/Manuals")).map_err(|e| io("disk/Manuals", e))
}

/// Prints the tree below `dir` as a user sees it (ordinary file-system calls), files with
/// their first line and every entry with its mode.
fn print_tree(out: &mut dyn Write, dir: &Path, indent: usize) -> Result<(), String> {
    let mut entries: Vec<_> =
        fs::read_dir(dir).map_err(|e| io(&dir.display().to_string(), e))?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let meta = fs::metadata(&path).map_err(|e| io(&path.display().to_string(), e))?;
        let pad = "  ".repeat(indent);
        let name = entry.file_name().to_string_lossy().into_owned();
        let mode = format!("{:o}", meta.permissions().mode() & 0o7777);
        if meta.is_dir() {
            writeln!(out, "{pad}{name}/  ({mode})").map_err(|e| io("stdout", e))?;
            print_tree(out, &path, indent + 1)?;
        } else {
            let text = fs::read_to_string(&path).map_err(|e| io(&path.display().to_string(), e))?;
            let first = text.lines().next().unwrap_or("");
            writeln!(out, "{pad}{name}  ({mode})  \"{first}\"").map_err(|e| io("stdout", e))?;
        }
    }
    Ok(())
}

fn host(root: &Path, rel: &str) -> Result<Target, String> {
    let path = root.join(rel);
    let text = path.to_str().ok_or_else(|| format!("{}: not UTF-8", path.display()))?;
    let abs = AbsPath::parse(text, Syntax::Posix).map_err(|e| core(text, e))?;
    Ok(Target::Host(std::sync::Arc::new(abs)))
}

/// Runs the demo, writing what a user sees to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), String> {
    if !Path::new("/dev/fuse").exists() {
        return Err("the demo mounts a view and needs /dev/fuse (load the fuse module: modprobe fuse)".into());
    }
    let root = std::env::temp_dir().join(format!("bindfs-rs-demo-{}", std::process::id()));
    let _cleanup = Scratch(root.clone());
    make_tree(&root)?;
    let mnt = root.join("disk");
    let say = |out: &mut dyn Write, text: &str| writeln!(out, "{text}").map_err(|e| io("stdout", e));

    say(out, &format!("On disk, before any link ({}):", mnt.display()))?;
    print_tree(out, &mnt, 1)?;

    let mut config = MountConfig::new(&mnt);
    config.threads = 2;
    let view = mount::open_view(&config).map_err(|e| core("disk", e))?;
    let (session, handle) =
        mount::mount(view, &config).map_err(|e| io(&format!("mounting {}", mnt.display()), e))?;
    let session = session.spawn().map_err(|e| io("serving the view", e))?;
    let shown = show_links(out, &root, &mnt, &handle);
    // The view is unmounted as its daemon unmounts it (root's mount is the daemon's own mount(2)
    // call, which fuser's session does not know), then the serving threads end.
    let unmounted = mount::unmount(&mnt)
        .and_then(|()| session.join())
        .map_err(|e| io(&format!("unmounting {}", mnt.display()), e));
    shown?;
    unmounted?;

    say(out, "\nUnmounted: the on-disk content is back unchanged:")?;
    print_tree(out, &mnt, 1)
}

/// The part of the demo that runs while the view is mounted.
fn show_links(out: &mut dyn Write, root: &Path, mnt: &Path, handle: &ViewHandle) -> Result<(), String> {
    let say = |out: &mut dyn Write, text: &str| writeln!(out, "{text}").map_err(|e| io("stdout", e));
    let links = [
        ("shadow", "/Projects", "store/projects-v2", LinkFlags::default(), vec!["/Projects/keep"]),
        ("merged", "/Shared", "store/team", LinkFlags { merged: true, read_only: false }, vec![]),
        ("read-only", "/Manuals", "store/manuals", LinkFlags { read_only: true, merged: false }, vec![]),
        ("anchorless", "/Tools", "store/tools", LinkFlags::default(), vec![]),
    ];
    say(out, "\nMounted a view over it, and linked (live, no remount):")?;
    for (kind, virt, backing, flags, exceptions) in links {
        let exceptions = exceptions.into_iter().map(vp).collect::<Result<Vec<_>, _>>()?;
        let note = if exceptions.is_empty() { String::new() } else { " (except /Projects/keep)".into() };
        let spec = LinkSpec { virt: vp(virt)?, target: host(root, backing)?, flags, exceptions };
        handle.create_link(spec).map_err(|e| core(virt, e))?;
        say(out, &format!("  {kind:<10} {virt} -> {backing}{note}"))?;
    }

    say(out, "\nWhat every program sees in the view:")?;
    print_tree(out, mnt, 1)?;

    say(out, "\nWhat the rules do with changes:")?;
    let refused = fs::OpenOptions::new().write(true).open(mnt.join("Manuals/install.md")).err();
    let refused = refused.map_or("allowed?!".into(), |e| e.to_string());
    say(out, &format!("  write Manuals/install.md   -> {refused}"))?;
    fs::write(mnt.join("Shared/new.txt"), "created through the merged link")
        .map_err(|e| io("Shared/new.txt", e))?;
    let landed = root.join("store/team/new.txt").exists();
    say(out, &format!("  create Shared/new.txt      -> lands in store/team: {landed}"))?;
    fs::remove_file(mnt.join("Shared/readme.txt")).map_err(|e| io("Shared/readme.txt", e))?;
    let now = fs::read_to_string(mnt.join("Shared/readme.txt")).map_err(|e| io("Shared/readme.txt", e))?;
    say(out, &format!("  delete Shared/readme.txt   -> the on-disk one shows again: \"{now}\""))?;

    for link in handle.view().links().into_iter().rev() {
        handle.remove_link(&link.virt).map_err(|e| core(&link.virt.to_string(), e))?;
    }
    Ok(())
}
