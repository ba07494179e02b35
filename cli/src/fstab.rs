//! The fstab form: `bindfs-rs SOURCE MOUNTPOINT -o OPTIONS`, as mount.fuse3 runs the program of
//! an `/etc/fstab` line of type `fuse.bindfs-rs`, and as mount(8) runs a helper installed as
//! `mount.bindfs-rs` (type `bindfs-rs`) or `mount.fuse.bindfs-rs` (type `fuse.bindfs-rs`).
//! Before clap parses, [`rewrite`] turns such a command line into the `mount` command it means:
//! `bindfs-rs mount --source SOURCE -o OPTIONS -- MOUNTPOINT`.
//!
//! - SOURCE is a links file, a directory (one link over the whole view), or `none` ([`Source`]).
//! - mount(8) gives a helper `-s` (sloppy), `-f` (fake), `-n` (no mtab), `-v` (verbose), and
//!   `-t TYPE` where the helper's name does not say the type: `-n`, `-v`, `-s` and `-t` are
//!   accepted and change nothing (options stay checked under `-s`), `-f` mounts nothing and
//!   succeeds, `-N` (another namespace) is refused.
//! - mount.fuse3 appends `dev` unless the line says `nodev`, and `suid` unless it says
//!   `nosuid`. Taken at their word, they would turn a view's `nosuid,nodev` default off on every
//!   fstab line. So in mount.fuse3's form (the program's own name, not a `mount.` helper's) the
//!   words mount.fuse3 appended are recognised at the end and dropped ([`drop_appended`]): only
//!   a `dev` or `suid` the line itself holds turns them on. mount(8) appends nothing to a
//!   helper's options, so a `mount.` helper drops nothing.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// What the fstab form's SOURCE stands for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `none`: a view with no links (or only the `--link` ones).
    None,
    /// A directory: one link over the whole view.
    Dir(PathBuf),
    /// A links file (as `--config`).
    File(PathBuf),
}

impl Source {
    /// The SOURCE `text` names: `none`, else a directory or a file that exists.
    pub fn of(text: &Path) -> Result<Source, String> {
        if text == Path::new("none") {
            return Ok(Source::None);
        }
        let meta = std::fs::metadata(text).map_err(|e| {
            format!("SOURCE {}: {e} (expected a links file, a directory, or none)", text.display())
        })?;
        Ok(if meta.is_dir() { Source::Dir(text.to_path_buf()) } else { Source::File(text.to_path_buf()) })
    }
}

/// A command line after [`rewrite`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rewritten {
    /// The arguments to parse (unchanged unless they were the fstab form).
    Args(Vec<OsString>),
    /// mount(8)'s `-f`: do nothing, successfully.
    Fake,
}

/// The command line `argv` (program name first) as an ordinary one: the fstab form becomes a
/// `mount` command; anything else is left as it is. `subcommands` are the names a SOURCE is not.
pub fn rewrite(argv: Vec<OsString>, subcommands: &[String]) -> Result<Rewritten, String> {
    let name = argv.first().map(Path::new).and_then(Path::file_name).unwrap_or_default();
    let helper = name.as_encoded_bytes().starts_with(b"mount.");
    let first = argv.get(1).map(OsString::as_os_str);
    let ordinary = match first {
        None => true,
        Some(a) => a.as_encoded_bytes().starts_with(b"-") || subcommands.iter().any(|s| OsStr::new(s) == a),
    };
    // mount.fuse3's form has SOURCE and MOUNTPOINT (or MOUNTPOINT and -o for an empty SOURCE);
    // a lone unknown word stays clap's to report as an unknown subcommand.
    if ordinary || (!helper && argv.len() < 3) {
        return Ok(Rewritten::Args(argv));
    }
    let mut positional: Vec<OsString> = Vec::new();
    let mut options: Vec<String> = Vec::new();
    let mut fake = false;
    let mut rest = argv.iter().skip(1);
    while let Some(arg) = rest.next() {
        let text = arg.to_string_lossy();
        match text.as_ref() {
            "-o" => {
                let value = rest.next().ok_or("-o: expected mount options")?;
                options.push(utf8(value)?);
            }
            o if o.starts_with("-o") => options.push(utf8(&OsString::from(&o[2..]))?),
            "-n" | "-s" | "-v" => {}
            "-f" => fake = true,
            "-t" => {
                rest.next().ok_or("-t: expected a file system type")?;
            }
            "-N" => return Err("-N: mounting in another namespace is not supported".into()),
            o if o.starts_with('-') => return Err(format!("{o}: unknown option of the fstab form")),
            _ => positional.push(arg.clone()),
        }
    }
    let (source, mountpoint) = match positional.as_slice() {
        [mountpoint] => (OsString::from("none"), mountpoint.clone()),
        [source, mountpoint] => (source.clone(), mountpoint.clone()),
        [] => return Err("expected SOURCE MOUNTPOINT".into()),
        [_, _, extra, ..] => {
            return Err(format!("{}: expected SOURCE MOUNTPOINT -o OPTIONS only", extra.to_string_lossy()));
        }
    };
    if fake {
        return Ok(Rewritten::Fake);
    }
    let joined = options.join(",");
    let words = if helper { joined } else { drop_appended(&joined) };
    let mut out: Vec<OsString> = vec![argv[0].clone(), "mount".into(), "--source".into(), source];
    if !words.is_empty() {
        out.extend(["-o".into(), words.into()]);
    }
    out.extend(["--".into(), mountpoint]);
    Ok(Rewritten::Args(out))
}

/// Mount options must be text.
fn utf8(value: &OsString) -> Result<String, String> {
    value.to_str().map(str::to_owned).ok_or_else(|| format!("-o {}: not UTF-8", value.to_string_lossy()))
}

/// `words` (comma-separated) without the `dev` and `suid` mount.fuse3 appended: it appends `dev`
/// unless the line has `nodev`, then `suid` unless it has `nosuid`, so those are the last words
/// exactly when the line lacks their negation.
pub fn drop_appended(words: &str) -> String {
    let mut list: Vec<&str> = words.split(',').filter(|w| !w.is_empty()).collect();
    for (appended, negation) in [("suid", "nosuid"), ("dev", "nodev")] {
        if !list.contains(&negation) && list.last() == Some(&appended) {
            list.pop();
        }
    }
    list.join(",")
}

/// The command line in effect, once [`set_args`] recorded it.
static ARGS: OnceLock<Vec<OsString>> = OnceLock::new();

/// Records the command line in effect (after [`rewrite`]), for a daemon started from it.
pub fn set_args(argv: Vec<OsString>) {
    let _ = ARGS.set(argv);
}

/// The command line in effect: the rewritten one, else the process's own.
pub fn args() -> Vec<OsString> {
    ARGS.get().cloned().unwrap_or_else(|| std::env::args_os().collect())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn subs() -> Vec<String> {
        ["mount", "link", "unmount", "status", "doctor", "help"].map(String::from).to_vec()
    }

    fn run(args: &[&str]) -> Result<Vec<String>, String> {
        match rewrite(args.iter().map(OsString::from).collect(), &subs())? {
            Rewritten::Args(a) => Ok(a.iter().map(|a| a.to_string_lossy().into_owned()).collect()),
            Rewritten::Fake => Ok(vec!["<fake>".into()]),
        }
    }

    #[test]
    fn ordinary_command_lines_are_left_alone() {
        for args in [
            &["bindfs-rs"][..],
            &["bindfs-rs", "mount", "/m", "-o", "ro"],
            &["bindfs-rs", "--help"],
            &["bindfs-rs", "frob"],
            &["/usr/sbin/mount.bindfs-rs", "link", "list"],
        ] {
            assert_eq!(run(args).unwrap(), args.to_vec(), "{args:?}");
        }
    }

    #[test]
    fn mount_fuse3s_form_becomes_a_mount_without_the_words_it_appended() {
        assert_eq!(
            run(&["bindfs-rs", "none", "/m", "-o", "cache_ttl=0,nofail,_netdev,dev,suid"]).unwrap(),
            ["bindfs-rs", "mount", "--source", "none", "-o", "cache_ttl=0,nofail,_netdev", "--", "/m"]
        );
        assert_eq!(
            run(&["/usr/bin/bindfs-rs", "/etc/links.toml", "/m", "-o", "dev,suid"]).unwrap(),
            ["/usr/bin/bindfs-rs", "mount", "--source", "/etc/links.toml", "--", "/m"]
        );
        // mount.fuse3 leaves out an empty SOURCE.
        assert_eq!(
            run(&["bindfs-rs", "/m", "-o", "ro,dev,suid"]).unwrap(),
            ["bindfs-rs", "mount", "--source", "none", "-o", "ro", "--", "/m"]
        );
    }

    #[test]
    fn only_the_lines_own_dev_and_suid_survive() {
        // What mount.fuse3 makes of the line's options, then what is left.
        for (line_has, after) in [
            ("", ""),
            ("nodev", "nodev"),
            ("nosuid", "nosuid"),
            ("nodev,nosuid", "nodev,nosuid"),
            ("suid", "suid"),
            ("dev", "dev"),
            ("dev,suid", "dev,suid"),
            ("suid,nodev", "suid,nodev"),
            ("ro,x-systemd.automount", "ro,x-systemd.automount"),
        ] {
            let mut appended: Vec<&str> = line_has.split(',').filter(|w| !w.is_empty()).collect();
            if !appended.contains(&"nodev") {
                appended.push("dev");
            }
            if !appended.contains(&"nosuid") {
                appended.push("suid");
            }
            assert_eq!(drop_appended(&appended.join(",")), after, "{line_has}");
        }
    }

    #[test]
    fn helpers_take_mount8s_flags_and_drop_nothing() {
        assert_eq!(
            run(&[
                "/sbin/mount.bindfs-rs",
                "/srv/d",
                "/m",
                "-n",
                "-s",
                "-v",
                "-o",
                "suid,rw",
                "-t",
                "bindfs-rs"
            ])
            .unwrap(),
            ["/sbin/mount.bindfs-rs", "mount", "--source", "/srv/d", "-o", "suid,rw", "--", "/m"]
        );
        assert_eq!(run(&["mount.fuse.bindfs-rs", "none", "/m", "-f", "-o", "x"]).unwrap(), ["<fake>"]);
        assert_eq!(
            run(&["mount.bindfs-rs", "none", "/m", "-oro"]).unwrap(),
            ["mount.bindfs-rs", "mount", "--source", "none", "-o", "ro", "--", "/m"]
        );
    }

    #[test]
    fn bad_fstab_forms_are_one_line() {
        assert_eq!(run(&["mount.bindfs-rs", "none", "/m", "-o"]).unwrap_err(), "-o: expected mount options");
        assert!(
            run(&["mount.bindfs-rs", "none", "/m", "-N", "/proc/1/ns/mnt"]).unwrap_err().starts_with("-N")
        );
        assert!(run(&["bindfs-rs", "none", "/m", "/x"]).unwrap_err().starts_with("/x: expected"));
        assert!(run(&["bindfs-rs", "none", "/m", "-q"]).unwrap_err().contains("-q"));
    }

    #[test]
    fn sources_are_none_a_directory_or_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("links.toml");
        std::fs::write(&file, "").unwrap();
        assert_eq!(Source::of(Path::new("none")).unwrap(), Source::None);
        assert_eq!(Source::of(dir.path()).unwrap(), Source::Dir(dir.path().to_path_buf()));
        assert_eq!(Source::of(&file).unwrap(), Source::File(file.clone()));
        let err = Source::of(&dir.path().join("nope")).unwrap_err();
        assert!(err.starts_with("SOURCE ") && err.contains("none") && !err.contains('\n'), "{err}");
    }
}
