//! The logging flags of `mount` (`--log-level`, `-d`, `--log-file`): plain data, apart from
//! the subscriber [`super`] sets up from them, so the links file's parser (and its fuzz target)
//! can take them without the log's machinery.

use std::path::PathBuf;

/// A log level of `--log-level`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Level {
    /// Failures only.
    Error,
    /// Failures and what the daemon worked around (the default).
    Warn,
    /// Also every link change, with who asked.
    Info,
    /// Also refused requests and fallbacks, for finding a problem.
    Debug,
    /// Everything.
    Trace,
}

impl Level {
    /// The filter directive of this level.
    pub(crate) fn directive(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// The logging flags of `mount`.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct LogArgs {
    /// How much the daemon logs (default: warn, or RUST_LOG's filter when set); info logs every
    /// link change with the caller's uid (Windows: SID).
    #[arg(long, value_name = "LEVEL", value_enum)]
    pub log_level: Option<Level>,
    /// Debug: serve in the foreground and log at debug level to stderr (implies --foreground).
    #[arg(short = 'd', long = "debug")]
    pub debug: bool,
    /// Append the log to FILE (created readable by its owner only) instead of stderr or the
    /// system log.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}
