//! `bindfs-rs demo`: the bind-link kinds on a small tree, shown as a user sees them.
//!
//! The view is served by the core over the Linux backing store, in process: no mount is needed,
//! so the demo runs anywhere (CI without /dev/fuse included). Everything is made below a fresh
//! temporary directory and removed at the end, whatever happens.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use bindfs_core::{
    AbsPath, Backing, CasePolicy, Error, FileKind, LinkFlags, LinkSpec, OpenFlags, Syntax, Target, VPath,
    View,
};
use bindfs_fuse::LinuxBacking;

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

/// Prints the view below `dir` as an indented tree, files with their first line.
fn print_tree<B: Backing>(
    view: &View<B>,
    out: &mut dyn Write,
    dir: &VPath,
    indent: usize,
) -> Result<(), String> {
    let mut entries = view.readdir(dir).map_err(|e| core(&dir.to_string(), e))?;
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries {
        let path = dir.join(&entry.name);
        let pad = "  ".repeat(indent);
        let attr = view.getattr(&path).map_err(|e| core(&path.to_string(), e))?;
        let mode = format!("{:o}", attr.perm);
        if entry.kind == FileKind::Dir {
            writeln!(out, "{pad}{}/  ({mode})", entry.name).map_err(|e| io("stdout", e))?;
            print_tree(view, out, &path, indent + 1)?;
        } else {
            let text = read_all(view, &path)?;
            let first = text.lines().next().unwrap_or("");
            writeln!(out, "{pad}{}  ({mode})  \"{first}\"", entry.name).map_err(|e| io("stdout", e))?;
        }
    }
    Ok(())
}

fn read_all<B: Backing>(view: &View<B>, path: &VPath) -> Result<String, String> {
    let file = view.open(path, OpenFlags::READ).map_err(|e| core(&path.to_string(), e))?;
    let mut buf = vec![0; 4096];
    let n = view.read(&file, 0, &mut buf).map_err(|e| core(&path.to_string(), e))?;
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

fn host(root: &Path, rel: &str) -> Result<Target, String> {
    let path = root.join(rel);
    let text = path.to_str().ok_or_else(|| format!("{}: not UTF-8", path.display()))?;
    let abs = AbsPath::parse(text, Syntax::Posix).map_err(|e| core(text, e))?;
    Ok(Target::Host(std::sync::Arc::new(abs)))
}

/// Runs the demo, writing what a user sees to `out`.
pub fn run(out: &mut dyn Write) -> Result<(), String> {
    let root = std::env::temp_dir().join(format!("bindfs-rs-demo-{}", std::process::id()));
    let _cleanup = Scratch(root.clone());
    make_tree(&root)?;
    let backing = LinuxBacking::open(&root.join("disk")).map_err(|e| core("disk", e))?;
    let view = View::new(backing, CasePolicy::Sensitive);
    let say = |out: &mut dyn Write, text: &str| writeln!(out, "{text}").map_err(|e| io("stdout", e));

    say(out, &format!("On disk, before any link ({}):", root.join("disk").display()))?;
    print_tree(&view, out, &VPath::root(), 1)?;

    let links = [
        ("shadow", "/Projects", "store/projects-v2", LinkFlags::default(), vec!["/Projects/keep"]),
        ("merged", "/Shared", "store/team", LinkFlags { merged: true, read_only: false }, vec![]),
        ("read-only", "/Manuals", "store/manuals", LinkFlags { read_only: true, merged: false }, vec![]),
        ("anchorless", "/Tools", "store/tools", LinkFlags::default(), vec![]),
    ];
    say(out, "\nLinks:")?;
    for (kind, virt, backing, flags, exceptions) in links {
        let exceptions = exceptions.into_iter().map(vp).collect::<Result<Vec<_>, _>>()?;
        let note = if exceptions.is_empty() { String::new() } else { " (except /Projects/keep)".into() };
        let spec = LinkSpec { virt: vp(virt)?, target: host(&root, backing)?, flags, exceptions };
        view.create_link(spec).map_err(|e| core(virt, e))?;
        say(out, &format!("  {kind:<10} {virt} -> {backing}{note}"))?;
    }

    say(out, "\nThrough the view:")?;
    print_tree(&view, out, &VPath::root(), 1)?;

    say(out, "\nWhat the rules do with changes:")?;
    let refused = view.open(&vp("/Manuals/install.md")?, OpenFlags::READ_WRITE).err();
    say(
        out,
        &format!(
            "  write /Manuals/install.md      -> {}",
            refused.map_or("allowed?!".into(), |e| e.to_string())
        ),
    )?;
    let (_, file) = view
        .create(&vp("/Shared/new.txt")?, 0o644, OpenFlags::READ_WRITE)
        .map_err(|e| core("/Shared/new.txt", e))?;
    view.write(&file, 0, b"created through the merged link").map_err(|e| core("/Shared/new.txt", e))?;
    let landed = root.join("store/team/new.txt").exists();
    say(out, &format!("  create /Shared/new.txt         -> lands in store/team: {landed}"))?;
    view.unlink(&vp("/Shared/readme.txt")?).map_err(|e| core("/Shared/readme.txt", e))?;
    let now = read_all(&view, &vp("/Shared/readme.txt")?)?;
    say(out, &format!("  delete /Shared/readme.txt      -> the on-disk one shows again: \"{now}\""))?;

    for link in view.links().into_iter().rev() {
        view.remove_link(&link.virt).map_err(|e| core(&link.virt.to_string(), e))?;
    }
    say(out, "\nAfter removing every link, the on-disk content is back unchanged:")?;
    print_tree(&view, out, &VPath::root(), 1)?;
    Ok(())
}
