//! What `--help` shows beyond the flags: the examples of each subcommand (also the EXAMPLES
//! section of its man page), and command-line errors as one line.

/// The heading every examples text starts with.
pub const HEADING: &str = "Examples:";

/// `bindfs-rs --help`.
pub const MAIN: &str = "\
Examples:
  bindfs-rs mount /srv/view --link /srv/view/photos=/data/photos
  bindfs-rs link create /srv/view/music /data/music --read-only
  bindfs-rs link list
  bindfs-rs unmount /srv/view
  # The fstab form mount.fuse3 runs for an /etc/fstab line of type fuse.bindfs-rs:
  bindfs-rs none /srv/view -o cache_ttl=0,nofail
  bindfs-rs doctor";

/// `mount --help`.
pub const MOUNT: &str = "\
Examples:
  # Cover /srv/view (its own files stay visible) and show /data/photos at /srv/view/photos:
  bindfs-rs mount /srv/view --link /srv/view/photos=/data/photos
  # Links from a file, names and attributes never cached, every link change logged:
  bindfs-rs mount /srv/view --config /etc/bindfs-rs.toml --cache-ttl 0 --log-level info --log-file /var/log/bindfs-rs.log
  # Debug a view in the foreground, its log on stderr (Ctrl-C unmounts):
  bindfs-rs mount /srv/view -d
  # Mount options, also as -o words and in the links file's [mount] table:
  bindfs-rs mount /srv/view -o ro,noexec,cache_ttl=0,log_level=info
  # The fstab form mount(8) runs (/etc/fstab: none /srv/view fuse.bindfs-rs nofail,cache_ttl=0 0 0):
  bindfs-rs none /srv/view -o nofail,cache_ttl=0
  # Wait up to 30 s for a late network disk; its optional links wait longer (pending):
  bindfs-rs mount /srv/view --config /etc/bindfs-rs/view.toml --wait-backings 30
  # Windows: drive X: over the on-disk layer C:\\Data:
  bindfs-rs mount X: --lower C:\\Data --link X:\\docs=C:\\Users\\me\\Documents";

/// `link --help`.
pub const LINK: &str = "\
Examples:
  bindfs-rs link create /srv/view/photos /data/photos
  bindfs-rs link remove /srv/view/photos
  bindfs-rs link list --json
  bindfs-rs link apply /etc/bindfs-rs/view.toml";

/// `link create --help`.
pub const LINK_CREATE: &str = "\
Examples:
  # Show /data/photos at /srv/view/photos, read-only:
  bindfs-rs link create /srv/view/photos /data/photos --read-only
  # Add /data/extra's files to the view's own /srv/view/docs, except its private folder:
  bindfs-rs link create /srv/view/docs /data/extra --merged --except /srv/view/docs/private";

/// `link remove --help`.
pub const LINK_REMOVE: &str = "\
Examples:
  bindfs-rs link remove /srv/view/photos";

/// `link list --help`.
pub const LINK_LIST: &str = "\
Examples:
  # The links of every view:
  bindfs-rs link list
  # The links of one view, as JSON (links waiting for their backing have \"pending\": true):
  bindfs-rs link list /srv/view --json
  # Save a view's links as a links file (for `link apply` or `mount --config`):
  bindfs-rs link list /srv/view --toml > /etc/bindfs-rs/view.toml";

/// `link apply --help`.
pub const LINK_APPLY: &str = "\
Examples:
  # Make the view at /srv/view match the file (all or nothing; its [mount] table is ignored:
  # options change only at mount; a file without [[link]] tables removes every link):
  bindfs-rs link apply /etc/bindfs-rs/view.toml /srv/view
  # The view is the one holding the file's links:
  bindfs-rs link apply view.toml
  # Keep today's links, edit them, apply them again:
  bindfs-rs link list /srv/view --toml > view.toml
  bindfs-rs link apply view.toml /srv/view";

/// `link which --help`.
pub const LINK_WHICH: &str = "\
Examples:
  # Which link and layer serve a file, and where it really is:
  bindfs-rs link which /srv/view/photos/2024/beach.jpg
  # Every layer of a merged link that has the name, as JSON:
  bindfs-rs link which /srv/view/docs/readme.txt --json";

/// `status --help`.
pub const STATUS: &str = "\
Examples:
  # Every live view: daemon pid, passthrough, cache time, link count:
  bindfs-rs status
  # One view, as JSON:
  bindfs-rs status /srv/view --json";

/// `unmount --help`.
pub const UNMOUNT: &str = "\
Examples:
  bindfs-rs unmount /srv/view
  # Busy: detach it now, let it go once its last open file is closed:
  bindfs-rs unmount --lazy /srv/view";

/// `doctor --help`.
pub const DOCTOR: &str = "\
Examples:
  # What views need here, each finding with its fix; exit status 1 if something required is missing:
  bindfs-rs doctor";

/// `demo --help`.
pub const DEMO: &str = "\
Examples:
  bindfs-rs demo";

/// `completions --help`.
pub const COMPLETIONS: &str = "\
Examples:
  # Load for this bash session (or save it to /usr/share/bash-completion/completions/bindfs-rs):
  source <(bindfs-rs completions bash)
  bindfs-rs completions zsh > ~/.zfunc/_bindfs-rs
  bindfs-rs completions fish > ~/.config/fish/completions/bindfs-rs.fish
  bindfs-rs completions powershell >> $PROFILE";

/// `man --help`.
pub const MAN: &str = "\
Examples:
  # Writes man1/bindfs-rs*.1 and man5/bindfs-rs.toml.5 below the directory:
  bindfs-rs man /usr/local/share/man";

/// A command-line error of clap as one line (without clap's `error: `, usage and tips): a value
/// that failed its check names the flag, the value and what was expected, as in
/// `--cache-ttl 5000: expected seconds from 0 to 3600`.
pub fn one_line(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        Some(ContextValue::Strings(list)) => Some(list.join(", ")),
        _ => None,
    };
    // "--cache-ttl <SECS>" names the flag as "--cache-ttl" and its value as "SECS".
    let arg = context(ContextKind::InvalidArg);
    let flag = arg.as_deref().map(|a| a.split(' ').next().unwrap_or_default().to_owned());
    let value_name = arg
        .as_deref()
        .and_then(|a| a.split_once(' '))
        .map(|(_, v)| v.trim_start_matches('<').split(['>', ' ']).next().unwrap_or_default().to_owned());
    let value = context(ContextKind::InvalidValue);
    match (err.kind(), flag, value) {
        // clap reports a flag given without its value as an empty invalid value.
        (ErrorKind::InvalidValue, Some(flag), Some(value)) if value.is_empty() => {
            let valid = context(ContextKind::ValidValue).filter(|v| !v.is_empty());
            match (valid, value_name.filter(|n| !n.is_empty())) {
                (Some(valid), _) => format!("{flag}: a value is required (one of {valid})"),
                (None, Some(name)) => format!("{flag}: a value is required ({name})"),
                (None, None) => format!("{flag}: a value is required"),
            }
        }
        (ErrorKind::ValueValidation, Some(flag), Some(value)) => {
            let why =
                std::error::Error::source(err).map_or_else(|| "invalid value".to_owned(), |e| e.to_string());
            // `-o`'s check names the word it refuses: once is enough when it is the whole value.
            let why = why.strip_prefix(&format!("{value}: ")).map_or(why.clone(), str::to_owned);
            format!("{flag} {value}: {why}")
        }
        (ErrorKind::InvalidValue, Some(flag), Some(value)) => match context(ContextKind::ValidValue) {
            Some(valid) => format!("{flag} {value}: expected one of {valid}"),
            None => format!("{flag}: expected a value"),
        },
        // clap's first paragraph, its lines joined ("... not provided:" and the arguments).
        _ => {
            let text = err.render().to_string();
            let first: Vec<&str> = text
                .lines()
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty() && !l.starts_with("Usage:"))
                .map(str::trim)
                .collect();
            match first.join(" ").trim_start_matches("error: ") {
                "" => "invalid command line".to_owned(),
                line => line.to_owned(),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every subcommand's `--help` ends with examples (clap's built-in `help` aside).
    #[test]
    fn every_subcommand_has_examples() {
        use clap::CommandFactory;
        fn walk(cmd: &clap::Command) {
            let text = cmd.get_after_help().map(ToString::to_string).unwrap_or_default();
            assert!(text.starts_with(HEADING), "`{}` has no examples in its --help", cmd.get_name());
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub);
            }
        }
        let cli = crate::Cli::command();
        cli.clone().debug_assert();
        walk(&cli);
    }

    #[test]
    fn command_line_errors_are_one_line_naming_the_problem() {
        use clap::Parser;
        let error = |args: &[&str]| one_line(&crate::Cli::try_parse_from(args).unwrap_err());
        assert_eq!(
            error(&["bindfs-rs", "mount", "/m", "--cache-ttl", "3601"]),
            "--cache-ttl 3601: expected seconds from 0 to 3600"
        );
        assert_eq!(
            error(&["bindfs-rs", "mount", "/m", "--log-level", "loud"]),
            "--log-level loud: expected one of error, warn, info, debug, trace"
        );
        let missing = error(&["bindfs-rs", "link", "create", "/m/a"]);
        assert!(
            missing.contains("required") && missing.contains("<BACKING>") && !missing.contains('\n'),
            "{missing}"
        );
        assert_eq!(
            error(&["bindfs-rs", "mount", "/m", "-o", "cache_ttl=5000"]),
            "-o cache_ttl=5000: expected seconds from 0 to 3600"
        );
        assert_eq!(
            error(&["bindfs-rs", "mount", "/m", "-o", "ro,cache_ttl=5000"]),
            "-o ro,cache_ttl=5000: cache_ttl=5000: expected seconds from 0 to 3600"
        );
        // A flag without its value names the flag and the value it wants.
        for (args, want) in [
            (&["bindfs-rs", "mount", "/m", "--link"][..], "--link: a value is required (VIRTUAL=BACKING)"),
            (&["bindfs-rs", "mount", "/m", "-o"][..], "-o: a value is required (OPTIONS)"),
            (&["bindfs-rs", "mount", "/m", "--config"][..], "--config: a value is required (FILE)"),
            (&["bindfs-rs", "mount", "/m", "--cache-ttl"][..], "--cache-ttl: a value is required (SECS)"),
            (
                &["bindfs-rs", "mount", "/m", "--wait-backings"][..],
                "--wait-backings: a value is required (SECS)",
            ),
            (
                &["bindfs-rs", "mount", "/m", "--log-level"][..],
                "--log-level: a value is required (one of error, warn, info, debug, trace)",
            ),
            (
                &["bindfs-rs", "link", "create", "/m/a", "/b", "--except"][..],
                "--except: a value is required (PATH)",
            ),
        ] {
            assert_eq!(error(args), want);
        }
        let unknown = error(&["bindfs-rs", "frob"]);
        assert!(unknown.contains("'frob'") && !unknown.contains('\n'), "{unknown}");
    }

    /// Every example line of every text runs this program.
    #[test]
    fn examples_are_commands_of_this_program() {
        for text in [
            MAIN,
            MOUNT,
            LINK,
            LINK_CREATE,
            LINK_REMOVE,
            LINK_LIST,
            LINK_APPLY,
            UNMOUNT,
            DOCTOR,
            DEMO,
            COMPLETIONS,
            MAN,
        ] {
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some(HEADING));
            let commands: Vec<&str> = lines.map(str::trim).filter(|l| !l.starts_with('#')).collect();
            assert!(!commands.is_empty(), "{text}");
            for c in commands {
                assert!(c.contains("bindfs-rs "), "{c}");
            }
        }
    }
}
