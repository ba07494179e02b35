//! `bindfs-rs service`: start a Windows view at boot, as a Windows service.
//!
//! On Windows a view is served by a daemon that `mount` starts; nothing starts it again after a
//! reboot. Two ways were weighed:
//!
//! - **WinFsp's launcher** (`WinFsp.Launcher`, configured under
//!   `HKLM\SOFTWARE\WOW6432Node\WinFsp\Services\CLASS`: `Executable`, `CommandLine`, `Security`,
//!   `JobControl`) starts file-system instances *on demand*: when `launchctl start` or the WinFsp
//!   network provider (mapping `\\CLASS\INSTANCE` to a drive) asks, never at boot, and it stops
//!   them with CTRL-BREAK. It answers "let users mount a class of file system", not "this view is
//!   always there".
//! - **A Windows service** of its own for each view, `Automatic` start, is what Windows starts at
//!   boot, restarts on failure, stops at shutdown, and what `sc`, `services.msc` and
//!   `Get-Service` show and control. This is the one chosen.
//!
//! Registration and the service's side of the Service Control Manager (SCM) protocol go through
//! the `windows-service` crate (Mullvad's, MIT OR Apache-2.0), which also quotes the service's
//! command line. WinFsp's own service framework (`FspService*`, `winfsp::service` in winfsp-rs)
//! only runs a service, it does not register one, so it would not spare that crate.
//!
//! The Windows side is in `windows/service.rs`. On Linux `service` answers with one line that
//! points to the systemd unit (`contrib/systemd/bindfs-rs@.service`), and is hidden from the help
//! and the man pages.

use std::path::PathBuf;

use clap::Subcommand;

/// `service --help`.
pub const HELP: &str = "\
Examples:
  # Windows, as an administrator: serve X: over C:\\Data with the links of C:\\bindfs\\x.toml at every boot, from now on:
  bindfs-rs service install data X: --lower C:\\Data --config C:\\bindfs\\x.toml --log-file C:\\bindfs\\x.log --now
  bindfs-rs service status data
  bindfs-rs service stop data
  bindfs-rs service uninstall data";

/// `service install --help`.
pub const HELP_INSTALL: &str = "\
Examples:
  # A global drive X: (seen by every user) at every boot, started now too:
  bindfs-rs service install data X: --lower C:\\Data --config C:\\bindfs\\x.toml --now
  # A directory view with one link, its link changes logged:
  bindfs-rs service install docs C:\\Views\\docs --lower C:\\Docs --link C:\\Views\\docs\\old=D:\\Archive --log-level info --log-file C:\\bindfs\\docs.log";

/// `service uninstall|start|stop|status --help`.
pub const HELP_NAME: &str = "\
Examples:
  bindfs-rs service status data
  bindfs-rs service start data
  bindfs-rs service stop data
  bindfs-rs service uninstall data";

/// `service run --help` (the service manager's command, not a user's).
pub const HELP_RUN: &str = "\
Examples:
  # What the service manager runs for `service install data X: --lower C:\\Data`:
  bindfs-rs service run data X: --lower C:\\Data";

/// The subcommands of `service`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Register the view as a Windows service `bindfs-rs-NAME` that starts at boot (needs an
    /// administrator). The arguments are checked first: bad ones register nothing.
    #[command(after_help = HELP_INSTALL)]
    Install {
        /// The service's name (letters, digits, `.`, `_`, `-`); the service is `bindfs-rs-NAME`.
        name: String,
        #[command(flatten)]
        view: ViewArgs,
        /// Also start it now, and return once the view is live.
        #[arg(long)]
        now: bool,
    },
    /// Stop the service `bindfs-rs-NAME` (unmounting its view) and remove it.
    #[command(after_help = HELP_NAME)]
    Uninstall {
        /// The name given to `service install`.
        name: String,
    },
    /// Start the service now; returns once its view is live.
    #[command(after_help = HELP_NAME)]
    Start {
        /// The name given to `service install`.
        name: String,
    },
    /// Stop the service now (unmounting its view); it starts again at the next boot.
    #[command(after_help = HELP_NAME)]
    Stop {
        /// The name given to `service install`.
        name: String,
    },
    /// Show whether the service runs, whether it starts at boot, and the command it runs.
    #[command(after_help = HELP_NAME)]
    Status {
        /// The name given to `service install`.
        name: String,
    },
    /// Serve the view as the service manager's service (the command `install` registers).
    #[command(hide = true, after_help = HELP_RUN)]
    Run {
        /// The name given to `service install`.
        name: String,
        #[command(flatten)]
        view: ViewArgs,
    },
}

/// The view a service serves: `mount`'s Windows arguments.
#[derive(Clone, Debug, PartialEq, clap::Args)]
pub struct ViewArgs {
    /// The drive (`X:`, or `\\.\X:`) or the directory (which must not exist) to mount at. A
    /// service runs as LocalSystem, whose drive letters every user sees.
    pub mountpoint: PathBuf,
    /// The directory whose content is the on-disk layer.
    #[arg(long, value_name = "DIR", required = true)]
    pub lower: PathBuf,
    /// A link VIRTUAL=BACKING (VIRTUAL inside the view).
    #[arg(long = "link", value_name = "VIRTUAL=BACKING")]
    pub links: Vec<String>,
    /// A TOML file of links, read again at each start of the service.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// How long WinFsp may cache names and attributes, in seconds (0: exact).
    #[arg(long, value_name = "SECS", value_parser = crate::options::cache_ttl)]
    pub cache_ttl: Option<f64>,
    /// How much the service logs (default: warn).
    #[arg(long, value_name = "LEVEL", value_enum)]
    pub log_level: Option<crate::logs::Level>,
    /// Append the service's log to FILE (a service has no console: without it, its log goes
    /// nowhere).
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// `service` on Linux: the systemd unit does this job.
#[cfg(not(windows))]
pub fn run(_command: ServiceCommand) -> Result<(), String> {
    Err("service: Windows services only; on Linux start a view at boot with the systemd unit \
         contrib/systemd/bindfs-rs@.service (systemctl enable --now bindfs-rs@NAME)"
        .into())
}

/// `service` on Windows.
#[cfg(windows)]
pub fn run(command: ServiceCommand) -> Result<(), String> {
    use crate::windows::service;
    match command {
        ServiceCommand::Install { name, view, now } => service::install(&name, &view, now),
        ServiceCommand::Uninstall { name } => service::uninstall(&name),
        ServiceCommand::Start { name } => service::start(&name),
        ServiceCommand::Stop { name } => service::stop(&name),
        ServiceCommand::Status { name } => service::status(&name, &mut std::io::stdout().lock()),
        ServiceCommand::Run { name, view } => service::run(name, view),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use clap::Parser;

    use super::*;

    fn parse(args: &[&str]) -> Result<ServiceCommand, String> {
        match crate::Cli::try_parse_from(args).map_err(|e| crate::help::one_line(&e))?.command {
            crate::Command::Service(c) => Ok(c),
            other => Err(format!("not a service command: {other:?}")),
        }
    }

    #[test]
    fn service_install_takes_the_windows_mount_arguments() {
        let c = parse(&[
            "bindfs-rs",
            "service",
            "install",
            "data",
            "X:",
            "--lower",
            r"C:\Data",
            "--link",
            r"X:\a=C:\b",
            "--config",
            r"C:\x.toml",
            "--cache-ttl",
            "0",
            "--log-level",
            "info",
            "--log-file",
            r"C:\x.log",
            "--now",
        ])
        .unwrap();
        let ServiceCommand::Install { name, view, now } = c else { panic!("{c:?}") };
        assert_eq!((name.as_str(), now), ("data", true));
        assert_eq!(view.mountpoint, PathBuf::from("X:"));
        assert_eq!(view.lower, PathBuf::from(r"C:\Data"));
        assert_eq!(view.links, [r"X:\a=C:\b"]);
        assert_eq!(view.config, Some(PathBuf::from(r"C:\x.toml")));
        assert_eq!(view.cache_ttl, Some(0.0));
        assert_eq!(view.log_level, Some(crate::logs::Level::Info));
        assert_eq!(view.log_file, Some(PathBuf::from(r"C:\x.log")));
    }

    #[test]
    fn service_install_without_lower_is_one_line() {
        let e = parse(&["bindfs-rs", "service", "install", "data", "X:"]).unwrap_err();
        assert!(e.contains("--lower") && !e.contains('\n'), "{e}");
        let e =
            parse(&["bindfs-rs", "service", "install", "data", "X:", "--lower", "d", "--cache-ttl", "3601"])
                .unwrap_err();
        assert!(e.starts_with("--cache-ttl 3601:"), "{e}");
    }

    /// Every example of `service --help` is a command line this program takes.
    #[test]
    fn service_examples_parse() {
        for text in [HELP, HELP_INSTALL, HELP_NAME, HELP_RUN] {
            let mut lines = text.lines();
            assert_eq!(lines.next(), Some(crate::help::HEADING));
            let commands: Vec<&str> = lines.map(str::trim).filter(|l| !l.starts_with('#')).collect();
            assert!(!commands.is_empty(), "{text}");
            for c in commands {
                let words: Vec<&str> = c.split_whitespace().collect();
                assert_eq!(words[..2], ["bindfs-rs", "service"], "{c}");
                parse(&words).unwrap();
            }
        }
    }

    #[cfg(not(windows))]
    #[test]
    fn service_on_linux_points_to_the_systemd_unit_in_one_line() {
        let c = parse(&["bindfs-rs", "service", "status", "data"]).unwrap();
        let e = run(c).unwrap_err();
        assert!(e.contains("contrib/systemd/bindfs-rs@.service") && !e.contains('\n'), "{e}");
    }
}
