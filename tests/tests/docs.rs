//! Man pages, completions and `--help` (issue 14, item 4): every generated page renders with
//! `man -l` without a warning, the bash completion loads, every subcommand's `--help` shows
//! examples, and out-of-range numbers are refused by the parser with one line.
//! Linux only: the Windows test run under Wine does not build the `bindfs-rs` binary these
//! tests run; the help text and its examples are the same on both (one clap definition).
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[cfg(unix)]
use std::process::Command;

use bindfs_tests::bindfs;

/// The subcommands listed in the "Commands:" part of a `--help` text (without `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

#[test]
fn every_subcommand_help_has_examples() {
    let mut todo: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = todo.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let out = bindfs(&args);
        assert!(out.status.success(), "{args:?}");
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let examples =
            help.split("\nExamples:\n").nth(1).unwrap_or_else(|| panic!("{args:?}: no examples:\n{help}"));
        assert!(examples.lines().any(|l| l.trim_start().starts_with("bindfs-rs ")), "{args:?}:\n{help}");
        for sub in subcommands(&help) {
            let mut next = path.clone();
            next.push(sub);
            todo.push(next);
        }
        seen += 1;
    }
    // bindfs-rs, mount, link, link create|remove|list, unmount, demo, completions at least.
    assert!(seen >= 9, "only {seen} commands found");
}

#[cfg(unix)]
#[test]
fn every_man_page_renders_without_warnings() {
    let dir = tempfile::tempdir().unwrap();
    let out = bindfs(&["man", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut pages: Vec<_> = ["man1", "man5"]
        .iter()
        .flat_map(|d| std::fs::read_dir(dir.path().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let names: Vec<String> =
        pages.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for want in [
        "bindfs-rs.1",
        "bindfs-rs-mount.1",
        "bindfs-rs-link-create.1",
        "bindfs-rs-link-list.1",
        "bindfs-rs.toml.5",
    ] {
        assert!(names.iter().any(|n| n == want), "{want} not written: {names:?}");
    }
    for page in &pages {
        let shown = Command::new("man")
            .arg("-l")
            .arg(page)
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .output()
            .expect("man (Debian: man-db) must be installed; .ci/run installs it");
        let err = String::from_utf8_lossy(&shown.stderr);
        assert!(shown.status.success() && err.is_empty(), "man -l {}: {err}", page.display());
        let text = String::from_utf8_lossy(&shown.stdout);
        assert!(text.contains("NAME") && text.contains("bindfs"), "{}: {text}", page.display());
    }
    let mount = String::from_utf8_lossy(
        &Command::new("man")
            .arg("-l")
            .arg(dir.path().join("man1/bindfs-rs-mount.1"))
            .env("MANWIDTH", "80")
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    assert!(mount.contains("EXAMPLES") && mount.contains("--log-level"), "{mount}");
}

#[cfg(unix)]
#[test]
fn the_bash_completion_loads() {
    let script =
        format!("source <('{}' completions bash) && complete -p bindfs-rs", bindfs_tests::binary().display());
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("bindfs-rs"));
}

/// What bash offers when TAB is pressed after `line` (the words typed, the last one being the
/// word completed, possibly empty): the script is sourced and its completion function called
/// the way bash calls it, with COMP_WORDS, COMP_CWORD and the arguments (command, word,
/// previous word).
#[cfg(unix)]
fn bash_offers(line: &[&str]) -> Vec<String> {
    let quoted: Vec<String> = line.iter().map(|w| format!("'{w}'")).collect();
    let script = format!(
        "source <('{bin}' completions bash) || exit 1
         f=$(complete -p bindfs-rs | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
         [ -n \"$f\" ] || {{ echo 'no completion function' >&2; exit 1; }}
         COMP_WORDS=({words})
         COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 ))
         \"$f\" bindfs-rs \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        bin = bindfs_tests::binary().display(),
        words = quoted.join(" "),
    );
    let out = Command::new("bash").arg("-c").arg(&script).output().unwrap();
    assert!(out.status.success(), "{line:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Review point 1: clap_complete spelled a subcommand's state two ways for a hyphenated name,
/// so bash offered nothing after `bindfs-rs link ` or `--log-level `; and it offered the
/// hidden `man` (and off Windows `service`, and `mount --source`).
#[cfg(unix)]
#[test]
fn bash_completes_subcommands_and_values_but_no_hidden_command() {
    let top = bash_offers(&["bindfs-rs", ""]);
    for want in ["mount", "link", "unmount", "status", "doctor", "completions"] {
        assert!(top.iter().any(|w| w == want), "{want} not offered: {top:?}");
    }
    for hidden in ["man", "service"] {
        assert!(!top.iter().any(|w| w == hidden), "hidden {hidden} offered: {top:?}");
    }
    let help = bash_offers(&["bindfs-rs", "help", ""]);
    assert!(help.iter().any(|w| w == "mount") && !help.iter().any(|w| w == "man"), "{help:?}");

    let link = bash_offers(&["bindfs-rs", "link", ""]);
    for want in ["create", "remove", "which", "list", "apply"] {
        assert!(link.iter().any(|w| w == want), "{want} not offered after `link`: {link:?}");
    }
    let create = bash_offers(&["bindfs-rs", "link", "create", "--"]);
    assert!(create.iter().any(|w| w == "--read-only"), "{create:?}");

    let levels = bash_offers(&["bindfs-rs", "mount", "mnt", "--log-level", ""]);
    assert_eq!(levels, ["error", "warn", "info", "debug", "trace"], "after --log-level");
    let debug = bash_offers(&["bindfs-rs", "mount", "mnt", "--log-level", "de"]);
    assert_eq!(debug, ["debug"]);
    let flags = bash_offers(&["bindfs-rs", "mount", "mnt", "--"]);
    assert!(flags.iter().any(|w| w == "--log-level"), "{flags:?}");
    assert!(!flags.iter().any(|w| w == "--source"), "hidden --source offered: {flags:?}");
}

/// Whether `shell` is installed; panics when the test must run (`BINDFS_REQUIRE_FUSE=1`, as CI
/// sets: `.ci/run` installs zsh and fish) but cannot.
#[cfg(unix)]
fn have_shell(shell: &str) -> bool {
    let found = Command::new(shell).arg("-c").arg("exit 0").output().is_ok_and(|o| o.status.success());
    if !found {
        assert!(std::env::var_os("BINDFS_REQUIRE_FUSE").is_none(), "{shell} is not installed");
        eprintln!("skipped: {shell} is not installed");
    }
    found
}

/// fish completes a whole command line itself (`complete -C`), so the script is tested for what
/// a user sees: subcommands after `link`, values after `--log-level`, no hidden command.
#[cfg(unix)]
#[test]
fn fish_completes_subcommands_and_values_but_no_hidden_command() {
    if !have_shell("fish") {
        return;
    }
    let offers = |line: &str| -> Vec<String> {
        let script = format!(
            "'{}' completions fish | source; or exit 1; complete -C '{line}'",
            bindfs_tests::binary().display()
        );
        let out = Command::new("fish").arg("--no-config").arg("-c").arg(&script).output().unwrap();
        assert!(out.status.success(), "{line}: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().filter_map(|l| l.split('\t').next()).map(str::to_owned).collect()
    };
    let top = offers("bindfs-rs ");
    assert!(top.iter().any(|w| w == "link") && top.iter().any(|w| w == "mount"), "{top:?}");
    assert!(!top.iter().any(|w| w == "man" || w == "service"), "hidden command offered: {top:?}");
    let link = offers("bindfs-rs link ");
    for want in ["create", "remove", "which", "list", "apply"] {
        assert!(link.iter().any(|w| w == want), "{want} not offered after `link`: {link:?}");
    }
    let levels = offers("bindfs-rs mount mnt --log-level ");
    for want in ["error", "warn", "info", "debug", "trace"] {
        assert!(levels.iter().any(|w| w == want), "{want} not offered: {levels:?}");
    }
}

/// zsh: the script loads under compinit and registers its function for `bindfs-rs` (driving
/// zsh's completion needs a terminal; bash and fish check what is offered).
#[cfg(unix)]
#[test]
fn the_zsh_completion_loads() {
    if !have_shell("zsh") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let script = format!(
        "autoload -Uz compinit && compinit -u -D && source <('{}' completions zsh) && print -r -- ${{_comps[bindfs-rs]}}",
        bindfs_tests::binary().display()
    );
    let out = Command::new("zsh").arg("-fc").arg(&script).env("HOME", home.path()).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "{err}");
    let function = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(function.starts_with("_bindfs"), "bindfs-rs has no completion function: {function:?}");
}

#[test]
fn each_shell_gets_a_script_and_an_unknown_one_a_one_line_error() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = bindfs(&["completions", shell]);
        assert!(out.status.success() && out.stdout.len() > 100, "{shell}");
        assert!(String::from_utf8_lossy(&out.stdout).contains("link"), "{shell}: no subcommands");
    }
    let out = bindfs(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("tcsh") && err.contains("bash"), "{err}");
}

#[test]
fn out_of_range_numbers_are_refused_by_the_parser_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().to_str().unwrap();
    for (args, want) in [
        (vec!["mount", m, "--cache-ttl", "5000"], "--cache-ttl 5000: expected seconds from 0 to 3600"),
        (vec!["mount", m, "--cache-ttl=-1"], "--cache-ttl -1: expected seconds from 0 to 3600"),
        (vec!["mount", m, "--poll-us", "20000"], "--poll-us 20000: expected microseconds from 0 to 10000"),
    ] {
        let out = bindfs(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), format!("bindfs-rs: {want}\n"), "{args:?}");
    }
}
