//! Builds a namespace over real directories, creates links, and lists and reads through virtual
//! paths: the library without a mount, so it runs where `/dev/fuse` is missing (CI containers).
//!
//! In a scratch tree under the temp directory (`disk/`, the content the view starts from, and
//! `t/`, the backing trees) it creates a shadow, a merged, a read-only and an anchorless link,
//! prints listings and a file read through each, shows that a write through the read-only link
//! is refused, removes the links and deletes the tree. Any failure exits 1 with one line.
//!
//! Run it with `cargo run -p bindfs-fuse --example namespace`.

#[cfg(target_os = "linux")]
fn main() -> std::process::ExitCode {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let root =
        std::env::temp_dir().join(format!("bindfs-namespace-{}-{}", std::process::id(), nanos.as_nanos()));
    let outcome = demo::run(&root);
    let _ = std::fs::remove_dir_all(&root);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("namespace example failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_os = "linux")]
mod demo {
    use std::error::Error;
    use std::fs;
    use std::path::Path;

    use bindfs_core::{CasePolicy, LinkFlags, LinkSpec, OpenFlags, Target, VPath, View};
    use bindfs_fuse::LinuxBacking;

    pub fn run(root: &Path) -> Result<(), Box<dyn Error>> {
        let (disk, t) = (root.join("disk"), root.join("t"));
        for (path, text) in [
            (disk.join("docs/readme.txt"), "the on-disk readme"),
            (disk.join("shared/local.txt"), "local notes"),
            (disk.join("shared/both.txt"), "on-disk copy"),
            (disk.join("data/draft.txt"), "hidden while /data is linked"),
            (t.join("docs-v2/readme.txt"), "readme, version 2"),
            (t.join("team/both.txt"), "team copy (the backing wins)"),
            (t.join("archive/2023.txt"), "last year's numbers"),
            (t.join("tools/hello.sh"), "echo hello"),
        ] {
            fs::create_dir_all(path.parent().ok_or("no parent")?)?;
            fs::write(path, text)?;
        }

        let view = View::new(LinuxBacking::open(&disk)?, CasePolicy::Sensitive);
        let links = [
            ("/docs", "docs-v2", LinkFlags::default(), "shadow: hides disk/docs"),
            ("/shared", "team", LinkFlags { merged: true, ..LinkFlags::default() }, "merged"),
            ("/data", "archive", LinkFlags { read_only: true, ..LinkFlags::default() }, "read-only"),
            ("/tools", "tools", LinkFlags::default(), "anchorless: /tools was not on disk"),
        ];
        for (virt, backing, flags, what) in links {
            let target = Target::host(t.join(backing).to_str().ok_or("non-UTF-8 temp path")?)?;
            view.create_link(LinkSpec { virt: VPath::parse(virt)?, target, flags, exceptions: vec![] })?;
            println!("linked {virt} -> t/{backing} ({what})");
        }

        list(&view, "/")?;
        for file in ["/docs/readme.txt", "/shared/both.txt", "/data/2023.txt", "/tools/hello.sh"] {
            let file = VPath::parse(file)?;
            list(&view, &file.parent().unwrap_or_default().to_string())?;
            cat(&view, &file)?;
        }

        match view.open(&VPath::parse("/data/2023.txt")?, OpenFlags::READ_WRITE) {
            Err(e) => println!("write-open of /data/2023.txt refused: {e}"),
            Ok(_) => return Err("a write through the read-only link was allowed".into()),
        }

        for (virt, ..) in links.iter().rev() {
            view.remove_link(&VPath::parse(virt)?)?;
        }
        println!("links removed; the on-disk content shows again:");
        list(&view, "/")?;
        cat(&view, &VPath::parse("/docs/readme.txt")?)
    }

    /// Prints the listing of `dir` as the view shows it.
    fn list(view: &View<LinuxBacking>, dir: &str) -> Result<(), Box<dyn Error>> {
        let entries = view.readdir(&VPath::parse(dir)?)?;
        let mut names: Vec<String> = entries.iter().map(|e| format!("{} ({:?})", e.name, e.kind)).collect();
        names.sort();
        println!("{dir}: {}", names.join(", "));
        Ok(())
    }

    /// Prints `file` read through the view.
    fn cat(view: &View<LinuxBacking>, file: &VPath) -> Result<(), Box<dyn Error>> {
        let mut buf = vec![0; 4096];
        let n = view.read(&view.open(file, OpenFlags::READ)?, 0, &mut buf)?;
        println!("  {file}: {:?}", String::from_utf8_lossy(&buf[..n]));
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("this example uses the Linux backing store; run it on Linux");
}
