//! The mount options: one table, one name each across the command line (`--cache-ttl 1`),
//! `-o` (`cache_ttl=1`) and the `[mount]` table of a links file (`cache_ttl = 1`).
//!
//! Every value is checked here and only here: the check functions of [`OPTIONS`] are also the
//! clap value parsers of the `--` flags, so `--cache-ttl 5000`, `-o cache_ttl=5000` and
//! `cache_ttl = 5000` fail with the same words. The command line wins over the links file;
//! the same option both as a `--` flag and in `-o` is refused (neither is "later").
//!
//! `-o` also takes the words an `/etc/fstab` line carries for mount(8), mount.fuse3 and
//! systemd ([`FSTAB_ONLY`]): they are accepted and dropped, never passed to the kernel.
//! Adding an option is one [`Opt`] entry and one field of [`Settings`].

use std::path::PathBuf;
use std::time::Duration;

use crate::logs::{Level, LogArgs};

/// Defines [`Settings`] (each option set or not) and its merges, from one field list.
macro_rules! settings {
    ($($field:ident: $ty:ty),* $(,)?) => {
        /// The mount options given in one place (a command line, `-o`, a `[mount]` table):
        /// `None` where an option was not given.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Settings {
            $(
                #[doc = concat!("`", stringify!($field), "`.")]
                pub $field: Option<$ty>,
            )*
        }

        impl Settings {
            /// Each option as `self` sets it, else as `base` does.
            pub fn or(self, base: Settings) -> Settings {
                Settings { $($field: self.$field.or(base.$field),)* }
            }

            /// The name of an option both `self` and `other` set, if any.
            fn shared(&self, other: &Settings) -> Option<&'static str> {
                $(
                    if self.$field.is_some() && other.$field.is_some() {
                        return Some(stringify!($field));
                    }
                )*
                None
            }
        }
    };
}

settings! {
    cache_ttl: f64,
    poll_us: u64,
    wait_backings: u64,
    read_only: bool,
    suid: bool,
    dev: bool,
    exec: bool,
    atime: bool,
    sync: bool,
    dirsync: bool,
    log_level: Level,
    log_file: PathBuf,
    debug: bool,
}

/// A value given to an option.
#[derive(Clone, Copy, Debug)]
pub enum Given<'a> {
    /// A flag word (`suid`) or `true` in a links file; `false` for its negation (`nosuid`).
    Flag(bool),
    /// A value (`cache_ttl=1`, `cache_ttl = 1`).
    Value(&'a str),
}

/// What an option takes.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// A switch: the words that turn it on and off in `-o` (`true`/`false` in a links file).
    Flag {
        /// `-o` words that turn it on.
        on: &'static [&'static str],
        /// `-o` words that turn it off.
        off: &'static [&'static str],
    },
    /// A value, written `name=VALUE` in `-o`.
    Value {
        /// What the value is, for the docs (`SECS`).
        name: &'static str,
    },
}

/// One mount option.
#[derive(Debug)]
pub struct Opt {
    /// Its name in `-o` and in the `[mount]` table (the `--` flag, where there is one, is the
    /// same with hyphens).
    pub name: &'static str,
    /// What it takes.
    pub kind: Kind,
    /// What it does, one line.
    pub help: &'static str,
    /// Checks a value and records it.
    set: fn(&mut Settings, Given<'_>) -> Result<(), String>,
}

/// The value of a flag, or the complaint that it takes none.
fn flag(given: Given<'_>) -> Result<bool, String> {
    match given {
        Given::Flag(on) => Ok(on),
        Given::Value(_) => Err("expected no value (true or false in a links file)".into()),
    }
}

/// The text of a value, or the complaint that it is missing.
fn value(given: Given<'_>) -> Result<&str, String> {
    match given {
        Given::Value(text) => Ok(text),
        Given::Flag(_) => Err("expected a value".into()),
    }
}

/// Every mount option.
pub static OPTIONS: &[Opt] = &[
    Opt {
        name: "cache_ttl",
        kind: Kind::Value { name: "SECS" },
        help: "How long the kernel may cache names and attributes, 0 to 3600 seconds (default 1; 0: exact).",
        set: |s, g| {
            s.cache_ttl = Some(cache_ttl(value(g)?)?);
            Ok(())
        },
    },
    Opt {
        name: "poll_us",
        kind: Kind::Value { name: "MICROS" },
        help: "Linux: how long the reading worker polls for the next request, 0 to 10000 microseconds (default 50).",
        set: |s, g| {
            s.poll_us = Some(poll_us(value(g)?)?);
            Ok(())
        },
    },
    Opt {
        name: "wait_backings",
        kind: Kind::Value { name: "SECS" },
        help: "Wait up to SECS (0 to 3600, default 0) for missing backings before mounting; optional links wait on after.",
        set: |s, g| {
            s.wait_backings = Some(wait_backings(value(g)?)?);
            Ok(())
        },
    },
    Opt {
        name: "read_only",
        kind: Kind::Flag { on: &["read_only", "ro"], off: &[] },
        help: "Linux: mount the whole view read-only (ro).",
        set: |s, g| {
            s.read_only = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "suid",
        kind: Kind::Flag { on: &["suid"], off: &["nosuid"] },
        help: "Linux: honour set-user-ID and set-group-ID bits (default off: nosuid).",
        set: |s, g| {
            s.suid = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "dev",
        kind: Kind::Flag { on: &["dev"], off: &["nodev"] },
        help: "Linux: allow device files (default off: nodev).",
        set: |s, g| {
            s.dev = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "exec",
        kind: Kind::Flag { on: &["exec"], off: &["noexec"] },
        help: "Linux: allow running programs (default on; noexec refuses).",
        set: |s, g| {
            s.exec = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "atime",
        kind: Kind::Flag { on: &["atime"], off: &["noatime"] },
        help: "Linux: update access times (default: the kernel's relatime).",
        set: |s, g| {
            s.atime = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "sync",
        kind: Kind::Flag { on: &["sync"], off: &["async"] },
        help: "Linux: write synchronously (default off).",
        set: |s, g| {
            s.sync = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "dirsync",
        kind: Kind::Flag { on: &["dirsync"], off: &[] },
        help: "Linux: change directories synchronously (default off).",
        set: |s, g| {
            s.dirsync = Some(flag(g)?);
            Ok(())
        },
    },
    Opt {
        name: "log_level",
        kind: Kind::Value { name: "LEVEL" },
        help: "How much the daemon logs: error, warn (default), info, debug, trace.",
        set: |s, g| {
            s.log_level = Some(log_level(value(g)?)?);
            Ok(())
        },
    },
    Opt {
        name: "log_file",
        kind: Kind::Value { name: "FILE" },
        help: "Append the log to FILE (created readable by its owner only).",
        set: |s, g| {
            s.log_file = Some(log_file(value(g)?)?);
            Ok(())
        },
    },
    Opt {
        name: "debug",
        kind: Kind::Flag { on: &["debug"], off: &[] },
        help: "Serve in the foreground and log at debug level to stderr.",
        set: |s, g| {
            s.debug = Some(flag(g)?);
            Ok(())
        },
    },
];

/// Words of an fstab line that are for mount(8), mount.fuse3, systemd or the reader, not for
/// the view: accepted in `-o` and dropped. Besides these, every `x-*` and `comment=*` word.
/// `rw` is the default and is dropped too, so the `rw` mount(8) passes never undoes a links
/// file's `read_only = true`.
pub const FSTAB_ONLY: &[&str] =
    &["defaults", "rw", "auto", "noauto", "nofail", "_netdev", "user", "nouser", "users", "owner", "group"];

/// Whether `word` is an fstab-only word (see [`FSTAB_ONLY`]).
pub fn fstab_only(word: &str) -> bool {
    FSTAB_ONLY.contains(&word) || word.starts_with("x-") || word.starts_with("comment=")
}

/// The check of `cache_ttl`: seconds from 0 to 3600.
pub fn cache_ttl(text: &str) -> Result<f64, String> {
    const WANT: &str = "expected seconds from 0 to 3600";
    let secs: f64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if (0.0..=3600.0).contains(&secs) { Ok(secs) } else { Err(WANT.to_owned()) }
}

/// The check of `poll_us`: microseconds from 0 to 10000.
pub fn poll_us(text: &str) -> Result<u64, String> {
    const WANT: &str = "expected microseconds from 0 to 10000";
    let us: u64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if us <= 10_000 { Ok(us) } else { Err(WANT.to_owned()) }
}

/// The check of `wait_backings`: whole seconds from 0 to 3600.
pub fn wait_backings(text: &str) -> Result<u64, String> {
    const WANT: &str = "expected whole seconds from 0 to 3600";
    let secs: u64 = text.trim().parse().map_err(|_| WANT.to_owned())?;
    if secs <= 3600 { Ok(secs) } else { Err(WANT.to_owned()) }
}

/// The check of `log_level`: one of the levels of [`Level`], as clap spells them.
pub fn log_level(text: &str) -> Result<Level, String> {
    use clap::ValueEnum;
    Level::from_str(text.trim(), false).map_err(|_| {
        let names: Vec<String> = Level::value_variants()
            .iter()
            .filter_map(|l| l.to_possible_value().map(|v| v.get_name().to_owned()))
            .collect();
        format!("expected one of {}", names.join(", "))
    })
}

/// The check of `log_file`: a path, not empty.
pub fn log_file(text: &str) -> Result<PathBuf, String> {
    if text.is_empty() { Err("expected a file name".into()) } else { Ok(PathBuf::from(text)) }
}

/// The option named `name`.
fn named(name: &str) -> Option<&'static Opt> {
    OPTIONS.iter().find(|o| o.name == name)
}

/// The `-o` words `text` (comma-separated) as settings; later words win over earlier ones. The
/// value parser of `-o`: its error names the word and what was expected.
pub fn words(text: &str) -> Result<Settings, String> {
    let mut settings = Settings::default();
    for word in text.split(',').filter(|w| !w.is_empty()) {
        if fstab_only(word) {
            continue;
        }
        let (opt, given) = match word.split_once('=') {
            Some((name, v)) => (named(name), Given::Value(v)),
            None => match OPTIONS.iter().find_map(|o| match o.kind {
                Kind::Flag { on, off: _ } if on.contains(&word) => Some((o, Given::Flag(true))),
                Kind::Flag { on: _, off } if off.contains(&word) => Some((o, Given::Flag(false))),
                Kind::Value { .. } if o.name == word => Some((o, Given::Flag(true))),
                _ => None,
            }) {
                Some((o, g)) => (Some(o), g),
                None => (None, Given::Flag(true)),
            },
        };
        // A word is shown escaped, so the error stays one line whatever it holds.
        let shown = word.escape_debug();
        let opt = opt.ok_or_else(|| format!("{shown}: unknown mount option"))?;
        (opt.set)(&mut settings, given).map_err(|e| format!("{shown}: {e}"))?;
    }
    Ok(settings)
}

/// The `[mount]` table of a links file as settings.
pub fn table(table: &toml::Table) -> Result<Settings, String> {
    let mut settings = Settings::default();
    for (key, v) in table {
        // A key is shown escaped, so the error stays one line whatever it holds.
        let key = key.escape_debug().to_string();
        let opt = named(&key).ok_or_else(|| format!("[mount] {key}: unknown mount option"))?;
        let text;
        let given = match v {
            toml::Value::Boolean(b) => Given::Flag(*b),
            toml::Value::String(s) => Given::Value(s),
            toml::Value::Integer(i) => {
                text = i.to_string();
                Given::Value(&text)
            }
            toml::Value::Float(f) => {
                text = f.to_string();
                Given::Value(&text)
            }
            _ => return Err(format!("[mount] {key}: expected a value or true/false")),
        };
        let given = match (opt.kind, given) {
            (Kind::Flag { .. }, Given::Value(_)) => {
                return Err(format!("[mount] {key}: expected true or false"));
            }
            (Kind::Value { .. }, Given::Flag(_)) => return Err(format!("[mount] {key}: expected a value")),
            (_, g) => g,
        };
        let shown = match given {
            Given::Flag(on) => on.to_string(),
            Given::Value(text) if matches!(v, toml::Value::String(_)) => format!("{text:?}"),
            Given::Value(text) => text.to_owned(),
        };
        (opt.set)(&mut settings, given).map_err(|e| format!("[mount] {key} = {shown}: {e}"))?;
    }
    Ok(settings)
}

/// The mount options of `mount`'s command line: its `-o` and its `--` flags.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct MountArgs {
    /// Mount options, comma-separated (repeatable): cache_ttl=SECS, poll_us=MICROS, ro, suid,
    /// dev, noexec, noatime, sync, dirsync, wait_backings=SECS, log_level=LEVEL, log_file=FILE, debug; fstab-only
    /// words (nofail, _netdev, noauto, user, x-*, defaults, ...) are accepted and ignored.
    #[arg(short = 'o', value_name = "OPTIONS", value_parser = words)]
    pub options: Vec<Settings>,
    /// How long the kernel may cache names and attributes, in seconds (0: exact; default 1).
    #[arg(long, value_name = "SECS", value_parser = cache_ttl)]
    pub cache_ttl: Option<f64>,
    /// Linux: how long the worker reading requests polls for the next one after answering,
    /// when requests come that fast, in microseconds (0: never; default 50).
    #[arg(long, value_name = "MICROS", value_parser = poll_us)]
    pub poll_us: Option<u64>,
    /// How long to wait for missing backings before mounting, in whole seconds (default 0);
    /// then the view comes up, and a link marked `optional` waits on for its backing.
    #[arg(long, value_name = "SECS", value_parser = wait_backings)]
    pub wait_backings: Option<u64>,
    #[command(flatten)]
    pub log: LogArgs,
}

impl MountArgs {
    /// The settings of the command line: the `--` flags and the `-o` words (later `-o` win
    /// over earlier ones); the same option as a flag and in `-o` is an error.
    pub fn settings(&self) -> Result<Settings, String> {
        let flags = Settings {
            cache_ttl: self.cache_ttl,
            poll_us: self.poll_us,
            wait_backings: self.wait_backings,
            log_level: self.log.log_level,
            log_file: self.log.log_file.clone(),
            debug: self.log.debug.then_some(true),
            ..Settings::default()
        };
        let words = self.options.iter().rev().cloned().fold(Settings::default(), Settings::or);
        if let Some(name) = flags.shared(&words) {
            return Err(format!(
                "{name} is given both as --{} and in -o: give it once",
                name.replace('_', "-")
            ));
        }
        Ok(flags.or(words))
    }
}

/// The options a mount uses: every option decided, defaults filled in.
#[derive(Clone, Debug)]
pub struct Resolved {
    /// Kernel cache time.
    pub cache_ttl: Duration,
    /// The reading worker's poll (`None`: the backend's default).
    pub poll: Option<Duration>,
    /// How long to wait for missing backings before mounting (`None`: not at all).
    pub wait_backings: Option<Duration>,
    /// The kernel's mount flags, as `mount -o` writes them (`ro,noexec`); empty for none.
    pub kernel: Vec<&'static str>,
    /// The log's settings.
    pub log: LogArgs,
}

impl Settings {
    /// The options decided: what is set, else the defaults.
    pub fn resolve(self) -> Resolved {
        let mut kernel = Vec::new();
        let mut word = |on: Option<bool>, yes: &'static str, no: Option<&'static str>| match on {
            Some(true) => kernel.push(yes),
            Some(false) => kernel.extend(no),
            None => {}
        };
        word(self.read_only, "ro", None);
        word(self.suid, "suid", Some("nosuid"));
        word(self.dev, "dev", Some("nodev"));
        word(self.exec, "exec", Some("noexec"));
        word(self.atime, "atime", Some("noatime"));
        word(self.sync, "sync", Some("async"));
        word(self.dirsync, "dirsync", None);
        Resolved {
            cache_ttl: Duration::from_secs_f64(self.cache_ttl.unwrap_or(1.0)),
            poll: self.poll_us.map(Duration::from_micros),
            wait_backings: self.wait_backings.map(Duration::from_secs),
            kernel,
            log: LogArgs {
                log_level: self.log_level,
                debug: self.debug.unwrap_or(false),
                log_file: self.log_file,
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cache_ttl_and_poll_us_take_their_ranges_only() {
        assert_eq!(cache_ttl("0"), Ok(0.0));
        assert_eq!(cache_ttl("0.5"), Ok(0.5));
        assert_eq!(cache_ttl("3600"), Ok(3600.0));
        for bad in ["3600.5", "-1", "NaN", "inf", "soon", ""] {
            assert_eq!(cache_ttl(bad), Err("expected seconds from 0 to 3600".to_owned()), "{bad}");
        }
        assert_eq!(poll_us("0"), Ok(0));
        assert_eq!(poll_us("10000"), Ok(10_000));
        for bad in ["10001", "-1", "5.5", ""] {
            assert_eq!(poll_us(bad), Err("expected microseconds from 0 to 10000".to_owned()), "{bad}");
        }
        assert_eq!(wait_backings("0"), Ok(0));
        assert_eq!(wait_backings("3600"), Ok(3600));
        for bad in ["3601", "-1", "1.5", "soon", ""] {
            assert_eq!(wait_backings(bad), Err("expected whole seconds from 0 to 3600".to_owned()), "{bad}");
        }
        assert_eq!(log_level("info"), Ok(Level::Info));
        assert_eq!(log_level("loud"), Err("expected one of error, warn, info, debug, trace".to_owned()));
    }

    #[test]
    fn o_words_set_options_and_drop_fstab_only_words() {
        let s =
            words("cache_ttl=0,nofail,_netdev,x-systemd.automount,comment=x,defaults,rw,noexec,ro,nosuid")
                .unwrap();
        assert_eq!(s.cache_ttl, Some(0.0));
        assert_eq!((s.exec, s.read_only, s.suid, s.dev), (Some(false), Some(true), Some(false), None));
        let r = s.resolve();
        assert_eq!(r.kernel, vec!["ro", "nosuid", "noexec"]);
        assert_eq!(r.cache_ttl, Duration::ZERO);
        // Later words win.
        assert_eq!(words("suid,nosuid").unwrap().suid, Some(false));
        assert_eq!(
            words("log_level=debug,debug,log_file=/l").unwrap().resolve().log.log_file,
            Some("/l".into())
        );
    }

    #[test]
    fn bad_o_words_name_the_word_and_what_was_expected() {
        assert_eq!(words("frob").unwrap_err(), "frob: unknown mount option");
        assert_eq!(words("frob=1").unwrap_err(), "frob=1: unknown mount option");
        // Found by fuzz/config_parse: a word holding a newline is shown escaped, on one line.
        assert_eq!(words("a\nb").unwrap_err(), "a\\nb: unknown mount option");
        let key_with_newline: toml::Table = toml::from_str("\"a\\nb\" = 1").unwrap();
        assert_eq!(table(&key_with_newline).unwrap_err(), "[mount] a\\nb: unknown mount option");
        assert_eq!(words("cache_ttl=5000").unwrap_err(), "cache_ttl=5000: expected seconds from 0 to 3600");
        assert_eq!(words("cache_ttl").unwrap_err(), "cache_ttl: expected a value");
        assert!(words("suid=1").unwrap_err().starts_with("suid=1: expected no value"));
        // Options fuser would have passed to the kernel unchecked are refused too.
        assert!(words("allow_other").is_err());
    }

    #[test]
    fn mount_tables_take_the_same_names_and_checks() {
        let t: toml::Table = toml::from_str(
            "cache_ttl = 2\npoll_us = 0\nread_only = true\nexec = false\nlog_level = \"info\"",
        )
        .unwrap();
        let s = table(&t).unwrap();
        assert_eq!(
            (s.cache_ttl, s.poll_us, s.read_only, s.exec),
            (Some(2.0), Some(0), Some(true), Some(false))
        );
        assert_eq!(s.log_level, Some(Level::Info));
        let err = |text: &str| table(&toml::from_str(text).unwrap()).unwrap_err();
        assert_eq!(err("cache_ttl = 5000"), "[mount] cache_ttl = 5000: expected seconds from 0 to 3600");
        assert_eq!(err("ro = true"), "[mount] ro: unknown mount option");
        assert_eq!(err("suid = \"yes\""), "[mount] suid: expected true or false");
        assert_eq!(err("cache_ttl = true"), "[mount] cache_ttl: expected a value");
    }

    #[test]
    fn the_command_line_wins_over_the_links_file_and_a_flag_with_o_is_refused() {
        use clap::Parser;
        #[derive(Debug, clap::Parser)]
        struct Cli {
            #[command(flatten)]
            m: MountArgs,
        }
        let file = table(&toml::from_str("cache_ttl = 5\nexec = false\nsuid = true").unwrap()).unwrap();
        let cli = Cli::try_parse_from(["x", "-o", "cache_ttl=0", "-o", "nosuid"]).unwrap();
        let r = cli.m.settings().unwrap().or(file).resolve();
        assert_eq!(r.cache_ttl, Duration::ZERO);
        assert_eq!(r.kernel, vec!["nosuid", "noexec"]);
        let both = Cli::try_parse_from(["x", "--cache-ttl", "1", "-o", "cache_ttl=0"]).unwrap();
        assert_eq!(
            both.m.settings().unwrap_err(),
            "cache_ttl is given both as --cache-ttl and in -o: give it once"
        );
        let defaults = Settings::default().resolve();
        assert_eq!(
            (defaults.cache_ttl, defaults.poll, defaults.kernel.len()),
            (Duration::from_secs(1), None, 0)
        );
    }

    #[test]
    fn every_option_has_a_unique_name_and_every_flag_word_one_option() {
        let mut seen = std::collections::HashSet::new();
        for o in OPTIONS {
            assert!(seen.insert(o.name), "{} twice", o.name);
            if let Kind::Flag { on, off } = o.kind {
                for w in on.iter().chain(off) {
                    assert!(seen.insert(w) || *w == o.name, "{w} twice");
                    assert!(!fstab_only(w), "{w} is fstab-only");
                }
            }
        }
    }
}
