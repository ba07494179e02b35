//! The daemon's log: the `tracing` events of the daemon and its backend go to one subscriber,
//! set up here from `mount`'s logging flags.
//!
//! - The level: `--log-level`, else `-d` (debug), else `RUST_LOG`'s filter, else `warn`: quiet by
//!   default. At `info` every link change is logged with who asked ([`bindfs_core::control::audit`]).
//! - Where to: `--log-file FILE` (appended; created readable and writable by its owner only), and
//!   without one, stderr in the foreground (`-f`, `-d`); `-d` writes to stderr in every case. A
//!   detached daemon (its stdio is `/dev/null`) without `--log-file` logs to the system: on Linux
//!   to journald when its socket answers, else to syslog (`/dev/log`); on Windows nowhere (the
//!   Event Log is not written: use `--log-file`).
//! - The command that starts a detached daemon logs nothing itself: the daemon it starts (marked
//!   by [`DAEMON_ENV`]) sets up its own log, and a bad log file fails it before the view is live.

use std::fs::File;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

mod flags;
pub use flags::{Level, LogArgs};

/// Set in the environment of the detached daemon a `mount` without `-f` starts.
pub const DAEMON_ENV: &str = "BINDFS_RS_DAEMON";

/// The filter of `args`: `--log-level`, `-d`, `RUST_LOG`, or `warn`, the first given.
fn filter(args: &LogArgs, rust_log: Option<&str>) -> Result<EnvFilter, String> {
    if let Some(level) = args.log_level {
        return Ok(EnvFilter::new(level.directive()));
    }
    if args.debug {
        return Ok(EnvFilter::new(Level::Debug.directive()));
    }
    match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
        Some(text) => EnvFilter::try_new(text).map_err(|e| format!("RUST_LOG {text:?}: {e}")),
        None => Ok(EnvFilter::new(Level::Warn.directive())),
    }
}

/// Opens (creating, owner-only) the log file for appending.
fn open_log_file(path: &Path) -> std::io::Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)
    }
    #[cfg(windows)]
    {
        crate::windows::owner_only_log_file(path)
    }
    #[cfg(not(any(unix, windows)))]
    {
        std::fs::OpenOptions::new().create(true).append(true).open(path)
    }
}

type Boxed = Box<dyn Layer<Registry> + Send + Sync>;

/// The target of [`failure`]'s event, which the stderr layer leaves out (the command prints
/// the same line there itself).
const FAILURE_TARGET: &str = "bindfs_rs::failure";

/// Logs why `mount` failed, once the log is set up: to the log file or the system log (stderr
/// gets the line from `main` alone). Without a log set up this does nothing.
pub fn failure(message: &str) {
    tracing::error!(target: FAILURE_TARGET, "{message}");
}

/// Sets up the log of `mount` (see the module docs); `foreground` is `-f` or `-d`. `given_as`
/// names the log file the way it was given (`--log-file`, `-o log_file=`, ...), for its error.
pub fn start(args: &LogArgs, foreground: bool, given_as: &str) -> Result<(), String> {
    let detached = std::env::var_os(DAEMON_ENV).is_some();
    if !detached && !foreground {
        return Ok(());
    }
    let filter = filter(args, std::env::var("RUST_LOG").ok().as_deref())?;
    let mut layers: Vec<Boxed> = Vec::new();
    let file = match &args.log_file {
        Some(path) => Some(open_log_file(path).map_err(|e| format!("{given_as}{}: {e}", path.display()))?),
        None => None,
    };
    let has_file = file.is_some();
    if let Some(file) = file {
        layers.push(tracing_subscriber::fmt::layer().with_ansi(false).with_writer(Mutex::new(file)).boxed());
    }
    if !detached && (args.debug || !has_file) {
        let not_failure = tracing_subscriber::filter::filter_fn(|meta| meta.target() != FAILURE_TARGET);
        layers.push(
            tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_filter(not_failure).boxed(),
        );
    }
    if detached && !has_file {
        layers.extend(system_layer());
    }
    tracing_subscriber::registry().with(layers).with(filter).try_init().map_err(|e| format!("log: {e}"))
}

/// The system log of a detached daemon: journald when its socket answers, else syslog.
#[cfg(target_os = "linux")]
fn system_layer() -> Option<Boxed> {
    if let Ok(journal) = tracing_journald::layer() {
        return Some(journal.with_syslog_identifier("bindfs-rs".into()).boxed());
    }
    let syslog = syslog::Syslog::connect(Path::new(syslog::DEV_LOG)).ok()?;
    // Syslog stamps the time itself.
    Some(tracing_subscriber::fmt::layer().with_ansi(false).without_time().with_writer(syslog).boxed())
}

/// Windows daemons log only to `--log-file` (the Event Log is not written).
#[cfg(not(target_os = "linux"))]
fn system_layer() -> Option<Boxed> {
    None
}

/// Syslog over its local datagram socket: one datagram a log line, in the BSD format
/// (`<PRI>bindfs-rs[PID]: TEXT`, facility daemon) that rsyslog, syslog-ng and journald's
/// `/dev/log` all take.
#[cfg(target_os = "linux")]
mod syslog {
    use std::io::Write;
    use std::os::unix::net::UnixDatagram;
    use std::path::Path;

    use tracing_subscriber::fmt::MakeWriter;

    /// The local syslog socket.
    pub const DEV_LOG: &str = "/dev/log";

    /// Facility `daemon` (3), shifted as the priority field wants it.
    const FACILITY: u8 = 3 << 3;

    /// A connection to the local syslog daemon.
    #[derive(Debug)]
    pub struct Syslog {
        socket: UnixDatagram,
    }

    impl Syslog {
        /// Connects to the syslog socket at `path`.
        pub fn connect(path: &Path) -> std::io::Result<Syslog> {
            let socket = UnixDatagram::unbound()?;
            socket.connect(path)?;
            Ok(Syslog { socket })
        }
    }

    /// One log line being written; sent as one datagram when dropped.
    #[derive(Debug)]
    pub struct Line<'a> {
        socket: &'a UnixDatagram,
        severity: u8,
        text: Vec<u8>,
    }

    impl Write for Line<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.text.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Drop for Line<'_> {
        fn drop(&mut self) {
            let text = String::from_utf8_lossy(&self.text);
            let text = text.trim_end();
            if text.is_empty() {
                return;
            }
            let datagram = format!("<{}>bindfs-rs[{}]: {text}", FACILITY | self.severity, std::process::id());
            // A syslog daemon that is gone or full loses the line; the daemon serves on.
            let _ = self.socket.send(datagram.as_bytes());
        }
    }

    /// The syslog severity of a tracing level.
    fn severity(level: &tracing::Level) -> u8 {
        match *level {
            tracing::Level::ERROR => 3,
            tracing::Level::WARN => 4,
            tracing::Level::INFO => 6,
            _ => 7,
        }
    }

    impl<'a> MakeWriter<'a> for Syslog {
        type Writer = Line<'a>;

        fn make_writer(&'a self) -> Line<'a> {
            Line { socket: &self.socket, severity: 6, text: Vec::new() }
        }

        fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line<'a> {
            Line { socket: &self.socket, severity: severity(meta.level()), text: Vec::new() }
        }
    }

    #[cfg(test)]
    #[allow(clippy::unwrap_used)]
    mod tests {
        use super::*;
        use tracing_subscriber::layer::SubscriberExt;

        #[test]
        fn each_event_is_one_datagram_with_its_severity() {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("log");
            let server = UnixDatagram::bind(&path).unwrap();
            let layer = tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .without_time()
                .with_writer(Syslog::connect(&path).unwrap());
            let subscriber = tracing_subscriber::registry().with(layer);
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(uid = 7, "first");
                tracing::info!("second");
            });
            let mut buf = [0u8; 1024];
            let n = server.recv(&mut buf).unwrap();
            let first = String::from_utf8_lossy(&buf[..n]).into_owned();
            let n = server.recv(&mut buf).unwrap();
            let second = String::from_utf8_lossy(&buf[..n]).into_owned();
            let head = format!("<28>bindfs-rs[{}]: ", std::process::id());
            assert!(first.starts_with(&head) && first.contains("first uid=7"), "{first}");
            assert!(second.starts_with("<30>bindfs-rs[") && second.ends_with("second"), "{second}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn args(level: Option<Level>, debug: bool) -> LogArgs {
        LogArgs { log_level: level, debug, log_file: None }
    }

    #[test]
    fn the_level_is_the_flag_then_debug_then_rust_log_then_warn() {
        let text = |a: &LogArgs, env: Option<&str>| filter(a, env).unwrap().to_string();
        assert_eq!(text(&args(None, false), None), "warn");
        assert_eq!(text(&args(None, false), Some("  ")), "warn");
        assert_eq!(text(&args(None, false), Some("bindfs_fuse=trace")), "bindfs_fuse=trace");
        assert_eq!(text(&args(None, true), Some("error")), "debug");
        assert_eq!(text(&args(Some(Level::Info), true), Some("error")), "info");
        let bad = filter(&args(None, false), Some("a=b=c")).unwrap_err();
        assert!(bad.starts_with("RUST_LOG") && !bad.contains('\n'), "{bad}");
    }

    #[cfg(unix)]
    #[test]
    fn a_log_file_is_created_owner_only_and_appended_to() {
        use std::io::Write;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bindfs.log");
        writeln!(open_log_file(&path).unwrap(), "one").unwrap();
        writeln!(open_log_file(&path).unwrap(), "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
