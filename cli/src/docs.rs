//! Shell completions and man pages, generated from the clap definitions so they never drift
//! from the program: `bindfs-rs completions SHELL` prints a completion script, and the hidden
//! `bindfs-rs man DIR` writes `DIR/man1/bindfs-rs.1`, one page per subcommand
//! (`bindfs-rs-mount.1`, `bindfs-rs-link-create.1`, ...), and `DIR/man5/bindfs-rs.toml.5`, the
//! links file's page (written by hand below: its keys are serde's, not clap's).
//!
//! Nothing generated is kept in git: packagers and users run `bindfs-rs man` on the binary they
//! install, so a page always describes the binary next to it.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::Command;

/// Prints the completion script of `shell` for `cmd` (the whole command line) on `out`.
///
/// Two faults of clap_complete 4.6.12 (the newest release) are mended here:
/// - its generators offer hidden subcommands and arguments (`man`, `service` off Windows,
///   `mount --source`): they walk every subcommand, unlike clap's help and clap_mangen (see
///   clap-rs/clap#1335). They get [`visible`]'s copy of the command line, without them.
/// - its bash script spells a subcommand's state two ways when the binary's name has a hyphen
///   (clap-rs/clap#6421), so nothing completes after the first word: see [`mend_bash`].
pub fn completions(shell: clap_complete::Shell, cmd: Command, out: &mut dyn Write) -> Result<(), String> {
    let name = cmd.get_name().to_owned();
    let mut cmd = visible(&cmd);
    // Generated in memory first: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, &name, &mut script);
    if shell == clap_complete::Shell::Bash {
        script = mend_bash(&String::from_utf8_lossy(&script), &name).into_bytes();
    }
    out.write_all(&script).map_err(|e| format!("stdout: {e}"))
}

/// A copy of the (unbuilt) `cmd` without its hidden subcommands and arguments, for the
/// completion generators. clap has no way to remove a subcommand, so each command is put
/// together again from what the generators read of it: name, about, visible aliases, version
/// and the help settings, arguments, groups (without the hidden arguments) and subcommands.
/// `help` subcommands and `--help`/`--version` flags are not in an unbuilt command; building
/// the copy adds them, so `help`'s list lacks the hidden ones too.
fn visible(cmd: &Command) -> Command {
    let shown = |a: &&clap::Arg| !a.is_hide_set();
    let mut copy = Command::new(cmd.get_name().to_owned())
        .visible_aliases(cmd.get_visible_aliases().map(str::to_owned))
        .args(cmd.get_arguments().filter(shown).cloned())
        .subcommands(cmd.get_subcommands().filter(|s| !s.is_hide_set()).map(visible));
    // Set only where the original sets them: `propagate_version(false)` would take back what a
    // parent's propagation gives. A command without a version of its own reports its version
    // flag disabled (it may yet get one from its parent), so that setting is copied only with
    // a version.
    let own_version = cmd.get_version().is_some() || cmd.get_long_version().is_some();
    let settings = [
        (cmd.is_propagate_version_set(), Command::propagate_version as fn(Command, bool) -> Command),
        (cmd.is_disable_help_flag_set(), Command::disable_help_flag),
        (own_version && cmd.is_disable_version_flag_set(), Command::disable_version_flag),
        (cmd.is_disable_help_subcommand_set(), Command::disable_help_subcommand),
    ];
    for (set, setter) in settings {
        if set {
            copy = setter(copy, true);
        }
    }
    if let Some(about) = cmd.get_about() {
        copy = copy.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        copy = copy.long_about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        copy = copy.version(version.to_owned());
    }
    if let Some(version) = cmd.get_long_version() {
        copy = copy.long_version(version.to_owned());
    }
    let kept: Vec<&clap::Id> = cmd.get_arguments().filter(shown).map(|a| a.get_id()).collect();
    for group in cmd.get_groups() {
        let mut group = group.clone();
        let args: Vec<clap::Id> = group.get_args().filter(|id| kept.contains(id)).cloned().collect();
        let multiple = group.is_multiple();
        copy = copy.group(
            clap::ArgGroup::new(group.get_id().clone())
                .args(args)
                .multiple(multiple)
                .required(group.is_required_set()),
        );
    }
    copy
}

/// The bash script of clap_complete with clap-rs/clap#6421 mended: for a binary named
/// `bindfs-rs`, the loop over the words sets `cmd="bindfs__rs__subcmd__link"` but the case arms
/// read `bindfs__subcmd__rs__subcmd__link)`, so no arm matches and nothing is offered after the
/// first word. This rewrites the arms' labels (lines holding only `LABEL)`) the loop's way and
/// touches nothing else; once clap_complete spells both alike it finds nothing to rewrite.
fn mend_bash(script: &str, bin: &str) -> String {
    if !bin.contains('-') {
        return script.to_owned();
    }
    const SEP: &str = "__subcmd__";
    let wrong = format!("{}{SEP}", bin.replace('-', SEP));
    let right = format!("{}{SEP}", bin.replace('-', "__"));
    let mut mended = String::with_capacity(script.len());
    for line in script.split_inclusive('\n') {
        let label = line.trim_start();
        match label.strip_prefix(&wrong) {
            Some(rest) if is_label(rest.trim_end()) => {
                mended.push_str(&line[..line.len() - label.len()]);
                mended.push_str(&right);
                mended.push_str(rest);
            }
            _ => mended.push_str(line),
        }
    }
    mended
}

/// Whether `text` (a case arm's label after its prefix) is one word ending in `)`.
fn is_label(text: &str) -> bool {
    text.ends_with(')') && !text.contains(char::is_whitespace)
}

/// Writes the man pages of `cmd` and the links file's page below `dir`; returns their paths.
pub fn man_pages(cmd: Command, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let io = |path: &Path, e: std::io::Error| format!("{}: {e}", path.display());
    let (man1, man5) = (dir.join("man1"), dir.join("man5"));
    for d in [&man1, &man5] {
        std::fs::create_dir_all(d).map_err(|e| io(d, e))?;
    }
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    let mut pages = Vec::new();
    collect(&cmd, &mut pages);
    let names: Vec<String> = pages.iter().map(|c| page_name(c)).collect();
    for page in &pages {
        let path = man1.join(format!("{}.1", page_name(page)));
        let mut text = Vec::new();
        render(page, &names, &mut text).map_err(|e| io(&path, e))?;
        std::fs::write(&path, text).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    let path = man5.join("bindfs-rs.toml.5");
    std::fs::write(&path, links_file_page()).map_err(|e| io(&path, e))?;
    written.push(path);
    Ok(written)
}

/// `cmd` and its subcommands, depth first, without hidden ones.
fn collect<'a>(cmd: &'a Command, into: &mut Vec<&'a Command>) {
    into.push(cmd);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        collect(sub, into);
    }
}

/// `bindfs-rs-link-create` for `bindfs-rs link create` (clap's display name once built).
fn page_name(cmd: &Command) -> String {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name()).to_owned()
}

/// One page: clap_mangen's sections, then EXAMPLES (the `--help` examples) and SEE ALSO.
fn render(cmd: &Command, all: &[String], out: &mut Vec<u8>) -> std::io::Result<()> {
    let source = format!("bindfs-rs {}", cmd.get_version().unwrap_or_default());
    let man = clap_mangen::Man::new(cmd.clone())
        .title(page_name(cmd).to_uppercase())
        .source(source)
        .manual("bindfs-rs");
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(out)?;
    }
    if let Some(examples) = cmd.get_after_help() {
        writeln!(out, ".SH EXAMPLES\n.nf")?;
        let text = examples.to_string();
        for line in text.lines().filter(|l| *l != crate::help::HEADING) {
            writeln!(out, "{}", roff_line(line.strip_prefix("  ").unwrap_or(line)))?;
        }
        writeln!(out, ".fi")?;
    }
    // The main page points to every other; each other page to the main one (and `mount` to
    // the links file's).
    let own = page_name(cmd);
    let mut see: Vec<String> = match all.first() {
        Some(main) if *main == own => {
            all[1..].iter().map(|n| format!("\\fB{}\\fR(1)", roff_text(n))).collect()
        }
        Some(main) => vec![format!("\\fB{}\\fR(1)", roff_text(main))],
        None => Vec::new(),
    };
    if all.first() == Some(&own) || cmd.get_name() == "mount" {
        see.push("\\fBbindfs\\-rs.toml\\fR(5)".to_owned());
    }
    writeln!(out, ".SH \"SEE ALSO\"\n{}", see.join(",\n"))
}

/// `text` with roff's special characters escaped (backslashes, and hyphens as minus signs, so
/// a copied option still works).
fn roff_text(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

/// A line of text for a no-fill block: escaped, and never read as a request.
fn roff_line(line: &str) -> String {
    let text = roff_text(line);
    if text.starts_with('.') || text.starts_with('\'') { format!("\\&{text}") } else { text }
}

/// The man page of the links file: [`LINKS_FILE_PAGE`] with the `[mount]` keys of
/// [`crate::options::OPTIONS`], so the page cannot miss one.
pub fn links_file_page() -> String {
    use crate::options::{Kind, OPTIONS};
    const MARK: &str = ".\\\" [mount] keys: generated";
    let mut keys = String::new();
    for o in OPTIONS {
        let value = match o.kind {
            Kind::Flag { .. } => "\\fIBOOL\\fR".to_owned(),
            Kind::Value { name } => format!("\\fI{name}\\fR"),
        };
        keys.push_str(&format!(".TP\n\\fB{}\\fR = {value}\n{}\n", o.name, roff_line(o.help)));
    }
    match LINKS_FILE_PAGE.split_once(MARK) {
        Some((head, tail)) => {
            let tail = tail.split_once('\n').map_or("", |(_, rest)| rest);
            format!("{head}{keys}{tail}")
        }
        None => LINKS_FILE_PAGE.to_owned(),
    }
}

/// The man page of the links file (`mount --config FILE`, or the SOURCE of an fstab line), but
/// for its `[mount]` keys (see [`links_file_page`]). It documents every key the file takes; the
/// test below checks that against the parser.
pub const LINKS_FILE_PAGE: &str = r#".TH BINDFS-RS.TOML 5 "" "bindfs-rs" "bindfs-rs"
.SH NAME
bindfs-rs.toml \- the links file of bindfs-rs
.SH SYNOPSIS
\fBbindfs-rs mount\fR \fIMOUNTPOINT\fR \fB\-\-config\fR \fIFILE\fR
.br
/etc/fstab: \fIFILE\fR \fIMOUNTPOINT\fR fuse.bindfs\-rs \fIOPTIONS\fR 0 0
.br
\fBbindfs-rs link apply\fR \fIFILE\fR [\fIMOUNTPOINT\fR]
.SH DESCRIPTION
A links file lists the links a view gets when it is mounted, in TOML.
\fBbindfs-rs mount \-\-config\fR creates them in the order of the file, before the
\fB\-\-link\fR ones of the command line, and all before the view is mounted: a bad link
fails the mount and nothing is mounted (a child listed before its parent is created after
it).
\fBbindfs-rs link apply\fR \fIFILE\fR makes a live view match the file: it creates the
missing links, removes the extra ones and replaces the changed ones, all or nothing.
\fBbindfs-rs link list \-\-toml\fR writes a view's live links as such a file.
Unknown keys are refused, so a misspelt key is an error, not a silent default.
Relative paths are taken from the working directory of \fBbindfs-rs mount\fR.
.SH "THE [mount] TABLE"
The \fB[mount]\fR table holds mount options, with the same names as \fB\-o\fR
(\fBcache_ttl=0\fR) and as the flags of \fBbindfs-rs mount\fR (\fB\-\-cache\-ttl 0\fR),
and the same checks. The command line wins over this table. A switch takes
\fBtrue\fR or \fBfalse\fR (\fBexec = false\fR is \fB\-o noexec\fR); an unknown key or a
value out of range fails the mount with one line. The keys:
.\" [mount] keys: generated from the options table (cli/src/options.rs), see links_file_page.
.SH "THE [[link]] TABLES"
Each \fB[[link]]\fR table is one link, with these keys:
.TP
\fBvirtual\fR = \fIPATH\fR (required)
Where the link shows, a path inside the view (the mount point itself for a link over the
whole view).
.TP
\fBbacking\fR = \fIPATH\fR (required)
What it shows: a directory or a file, on any file system, or a path inside the view (a
chain).
.TP
\fBread_only\fR = \fIBOOL\fR (default false)
Refuse every change through the link; the backing stays writable directly.
.TP
\fBmerged\fR = \fIBOOL\fR (default false)
Show the union of the virtual path's own content and the backing's; the backing wins where
both have a name.
.TP
\fBexcept\fR = [\fIPATH\fR, ...] (default none)
Paths below \fBvirtual\fR where the link does not apply: the view's own content shows there.
.TP
\fBoptional\fR = \fIBOOL\fR (default false)
A missing backing does not fail the mount or \fBlink apply\fR: the link waits (it is listed
as pending) and the daemon creates it within about a second of its backing appearing. A
missing backing of a link that is not optional fails the whole mount or apply. See also
\fBmount \-\-wait\-backings\fR \fISECS\fR, which waits that long for every missing
backing before mounting.
.SH EXAMPLE
.nf
[mount]
cache_ttl = 0
exec = false

[[link]]
virtual = "/srv/view/photos"
backing = "/data/photos"
read_only = true

[[link]]
virtual = "/srv/view/docs"
backing = "/data/extra"
merged = true
except = ["/srv/view/docs/private"]

[[link]]
virtual = "/srv/view/archive"
backing = "/mnt/nas/archive"
optional = true
.fi
.SH "SEE ALSO"
\fBbindfs-rs\fR(1), \fBbindfs-rs-mount\fR(1), \fBbindfs-rs-link-apply\fR(1)
"#;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn mend_bash_rewrites_only_the_case_labels_of_a_hyphenated_name() {
        let script = "    case \"${cmd},${i}\" in\n            bindfs__rs,link)\n                cmd=\"bindfs__rs__subcmd__link\"\n\
                      ;;\n        bindfs__subcmd__rs__subcmd__link)\n            opts=\"bindfs__subcmd__rs__subcmd__x y\"\n";
        let mended = mend_bash(script, "bindfs-rs");
        assert!(mended.contains("\n        bindfs__rs__subcmd__link)\n"), "{mended}");
        assert!(mended.contains("opts=\"bindfs__subcmd__rs__subcmd__x y\""), "{mended}");
        assert_eq!(mended.len(), script.len() - "subcmd__".len());
        assert_eq!(mend_bash(script, "bindfs"), script);
    }

    /// The copy given to clap_complete keeps every visible subcommand, option and version flag,
    /// and drops the hidden ones.
    #[test]
    fn completions_leave_out_hidden_commands_and_options_only() {
        let mut cmd = <crate::Cli as clap::CommandFactory>::command();
        let mut copy = visible(&cmd);
        cmd.build();
        copy.build();
        fn names(c: &Command) -> Vec<String> {
            c.get_subcommands().map(|s| s.get_name().to_owned()).collect()
        }
        let mut want = names(&cmd);
        want.retain(|n| !cmd.find_subcommand(n).unwrap().is_hide_set());
        assert_eq!(names(&copy), want);
        assert!(!names(&copy).contains(&"man".to_owned()));
        let mount = |c: &Command| -> Vec<String> {
            let m = c.find_subcommand("mount").unwrap();
            m.get_arguments().map(|a| a.get_id().to_string()).collect()
        };
        let mut want = mount(&cmd);
        want.retain(|id| id != "source");
        assert_eq!(mount(&copy), want);
        let link = copy.find_subcommand("link").unwrap();
        assert_eq!(names(link), names(cmd.find_subcommand("link").unwrap()));
        assert!(link.get_arguments().any(|a| a.get_long() == Some("version")));
    }

    /// The field names serde asks for when it reads `T` (a struct): what its parser takes.
    fn fields_of<T: serde::de::DeserializeOwned>() -> Vec<&'static str> {
        use serde::de::{Deserializer, Error, Visitor};
        #[derive(Debug)]
        struct Found(Vec<&'static str>);
        impl std::fmt::Display for Found {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("fields found")
            }
        }
        impl std::error::Error for Found {}
        impl Error for Found {
            fn custom<M: std::fmt::Display>(_: M) -> Found {
                Found(Vec::new())
            }
        }
        struct Probe;
        impl<'de> Deserializer<'de> for Probe {
            type Error = Found;
            fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Found> {
                Err(Found(Vec::new()))
            }
            fn deserialize_struct<V: Visitor<'de>>(
                self,
                _: &'static str,
                fields: &'static [&'static str],
                _: V,
            ) -> Result<V::Value, Found> {
                Err(Found(fields.to_vec()))
            }
            serde::forward_to_deserialize_any! {
                bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
                option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
                ignored_any
            }
        }
        T::deserialize(Probe).map(|_| Vec::new()).unwrap_or_else(|e| e.0)
    }

    #[test]
    fn the_links_file_page_documents_every_key_the_parser_takes() {
        let page = links_file_page();
        for o in crate::options::OPTIONS {
            assert!(
                page.contains(&format!("\\fB{}\\fR = ", o.name)),
                "bindfs-rs.toml.5 lacks [mount] {}",
                o.name
            );
        }
        assert!(!page.contains("generated from the options table"), "the [mount] keys were not put in");
        let keys = fields_of::<crate::args::LinkArg>();
        assert!(keys.contains(&"virtual") && keys.contains(&"except"), "{keys:?}");
        for key in keys {
            assert!(page.contains(&format!("\\fB{key}\\fR = ")), "bindfs-rs.toml.5 lacks {key}");
        }
        let tables = fields_of::<crate::args::ConfigFile>();
        assert!(tables.contains(&"link"), "{tables:?}");
        for table in tables {
            let (array, one) = (format!("\\fB[[{table}]]\\fR"), format!("\\fB[{table}]\\fR"));
            assert!(page.contains(&array) || page.contains(&one), "bindfs-rs.toml.5 lacks [{table}]");
        }
    }

    #[test]
    fn roff_escapes_backslashes_hyphens_and_leading_dots() {
        assert_eq!(roff_line(r"C:\Data --x"), r"C:\eData \-\-x");
        assert_eq!(roff_line(".hidden"), r"\&.hidden");
    }
}
