//! `bindfs-rs mount`: a view over a directory, with its first links.
//!
//! Every link is checked and created on the view *before* the mount, so a bad link fails the
//! command with one line and nothing is mounted. Without `-f` the command starts a detached copy
//! of itself in the foreground mode and returns once that copy reports the view live (or prints
//! its error and fails).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use bindfs_core::control::audit::{self, Caller};
use bindfs_core::{AbsPath, LinkFlags, Syntax, Target};

pub use crate::args::LinkArg;
use bindfs_fuse::control;
use bindfs_fuse::mount::{self, MountConfig};

/// What `mount` was asked for, checked.
#[derive(Debug)]
pub struct MountRequest {
    /// The directory to cover.
    pub mountpoint: PathBuf,
    /// Links to create first, in order.
    pub links: Vec<LinkArg>,
    /// Stay in the foreground.
    pub foreground: bool,
    /// `-o` options.
    pub options: Option<String>,
    /// Kernel cache time to live.
    pub cache_ttl: Duration,
    /// How long the reading worker polls after answering (`None`: the default).
    pub poll: Option<Duration>,
    /// How long to wait for missing backings before mounting (`None`: not at all).
    pub wait_backings: Option<Duration>,
}

/// An absolute, lexically normalized path (relative ones are taken from the working directory).
pub fn absolute(path: &Path) -> Result<AbsPath, String> {
    use std::os::unix::ffi::OsStrExt;
    let cwd = std::env::current_dir().map_err(|e| format!("working directory: {e}"))?;
    let base = AbsPath::parse_bytes(cwd.as_os_str().as_bytes(), Syntax::Posix)
        .map_err(|e| format!("working directory {}: {e}", cwd.display()))?;
    base.join_input(path.as_os_str().as_bytes(), Syntax::Posix)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The absolute path string of `path` (lexically normalized).
pub fn abs_string(path: &Path) -> Result<String, String> {
    Ok(absolute(path)?.to_string())
}

/// A backing path as the daemon of the view at `at` takes it: absolute, and the path that names
/// where it leads ([`Target::of_backing`]: a chain under the mount point, or the host path with
/// its symlinks resolved).
pub fn backing_string(at: &bindfs_core::control::Endpoint, path: &Path) -> Result<String, String> {
    let written = absolute(path)?;
    let target = Target::of_backing(&at.mountpoint, at.policy, &written, || {
        std::fs::canonicalize(path).ok().and_then(|real| absolute(&real).ok())
    });
    Ok(target.path_at(&at.mountpoint).to_string())
}

/// The line the foreground copy prints once the view is live.
const READY: &str = "bindfs-rs: ready";

/// Runs `mount`.
pub fn run(request: MountRequest) -> Result<(), String> {
    if !request.foreground {
        return spawn_daemon();
    }
    let meta = std::fs::metadata(&request.mountpoint)
        .map_err(|e| format!("mount point {}: {e}", request.mountpoint.display()))?;
    if !meta.is_dir() {
        return Err(format!("mount point {} is not a directory", request.mountpoint.display()));
    }
    let real = std::fs::canonicalize(&request.mountpoint)
        .map_err(|e| format!("mount point {}: {e}", request.mountpoint.display()))?;
    let mountpoint = absolute(&real)?;
    let mut config = MountConfig::new(&real);
    config.options.cache_ttl = request.cache_ttl;
    if let Some(poll) = request.poll {
        config.options.poll = poll;
    }
    if let Some(o) = &request.options {
        config.extra = mount::parse_mount_options(o);
    }
    let view = mount::open_view(&config).map_err(|e| format!("mount point {}: {e}", real.display()))?;
    let at = control::endpoint(mountpoint.clone());
    if let Some(within) = request.wait_backings {
        wait_for_backings(&request.links, &real, within);
    }
    let wanted = request.links.iter().map(|l| crate::link::wanted(&at, l)).collect::<Result<Vec<_>, _>>()?;
    // The links are made as `link apply` makes them: parents first, optional ones with a missing
    // backing waiting, any other refusal failing the mount before anything is mounted.
    let live = control::Live::new(view, at.policy);
    bindfs_core::control::apply(&live, &at, &wanted)?;
    log_mount_links(&live, &at);
    let (view, waiting) = live.into_parts();
    let (mut session, handle) =
        mount::mount(view, &config).map_err(|e| format!("mounting on {}: {e}", real.display()))?;
    let live = std::sync::Arc::new(control::Live::with_waiting(handle, at.policy, waiting));
    let _control = control::Server::start(live, mountpoint.clone())
        .map_err(|e| format!("control socket for {}: {e}", real.display()))?;
    stop_on_signals(&mut session, &real)?;
    // The view is live and its links made: tell systemd (a `Type=notify` unit; nothing without
    // NOTIFY_SOCKET) and the command that started this daemon.
    notify_systemd(sd_notify::NotifyState::Ready);
    if std::env::var_os(NOTIFY_ENV).is_some() {
        println!("{READY}");
        detach_stdio();
    }
    let served = session.run().map_err(|e| format!("serving {}: {e}", real.display()));
    notify_systemd(sd_notify::NotifyState::Stopping);
    served
}

/// Sends `state` to systemd when it started this process as a `Type=notify` service.
fn notify_systemd(state: sd_notify::NotifyState<'_>) {
    if let Err(e) = sd_notify::notify(&[state]) {
        tracing::warn!(error = %e, "telling systemd");
    }
}

/// Logs the links made at mount, with the mounting user's uid, and those that wait.
fn log_mount_links(
    live: &control::Live<bindfs_core::View<bindfs_fuse::LinuxBacking>>,
    at: &bindfs_core::control::Endpoint,
) {
    let me = Caller::Uid(rustix::process::getuid().as_raw());
    for link in bindfs_core::control::handle(live, at, control::Request::List).links {
        if link.pending {
            tracing::info!(path = link.virt, backing = link.backing, "link waits for its backing");
            continue;
        }
        let flags = LinkFlags { read_only: link.read_only, merged: link.merged };
        let change = audit::Change::Create { path: &link.virt, backing: &link.backing, flags };
        audit::log(change, me, audit::Via::Mount, None);
    }
}

/// Waits up to `within` until every link's backing outside the view exists (a disk that
/// comes late at boot), polling; then returns whatever is there.
fn wait_for_backings(links: &[LinkArg], mountpoint: &Path, within: Duration) {
    let deadline = std::time::Instant::now() + within;
    let missing = || {
        links
            .iter()
            .filter(|l| !l.backing.starts_with(mountpoint) && std::fs::metadata(&l.backing).is_err())
            .count()
    };
    while missing() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// SIGTERM, SIGINT and SIGHUP unmount the view, so the daemon ends cleanly.
fn stop_on_signals(
    session: &mut fuser::Session<bindfs_fuse::BindFs>,
    mountpoint: &Path,
) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("signal handlers: {e}"))?;
    let mut unmounter = session.unmount_callable();
    let mountpoint = mountpoint.to_path_buf();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if signals.forever().next().is_some() {
                notify_systemd(sd_notify::NotifyState::Stopping);
                // A session fuser mounted unmounts itself; one fusermount3 mounted needs it.
                let _ = unmounter.unmount();
                let _ = mount::unmount(&mountpoint);
            }
        })
        .map_err(|e| format!("signal thread: {e}"))?;
    Ok(())
}

/// Set for the foreground copy a `mount` without `-f` starts.
const NOTIFY_ENV: &str = "BINDFS_RS_NOTIFY_READY";

/// Starts this command again with `-f` in a new session, and waits until it reports the view
/// live or fails.
fn spawn_daemon() -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    // `mount --foreground ...`: the flag right after the subcommand, so a `--` the user gave
    // (for a mount point starting with '-') still ends the options after it.
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let at = args.iter().position(|a| a == "mount").map_or(0, |i| i + 1);
    args.insert(at, "--foreground".into());
    let mut child = Command::new(exe)
        .args(args)
        .env(NOTIFY_ENV, "1")
        .env(crate::logs::DAEMON_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the daemon: {e}"))?;
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    if first.trim_end() == READY {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    let line = err.lines().map(|l| l.trim_start_matches("bindfs-rs: ")).find(|l| !l.is_empty());
    Err(line.unwrap_or("the daemon exited before the view was live").to_string())
}

/// The daemon's stdout and stderr go to /dev/null once it is live (its parent has returned).
fn detach_stdio() {
    let _ = rustix::process::setsid();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
        let _ = rustix::stdio::dup2_stderr(&null);
    }
}

use std::os::unix::process::CommandExt;

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use bindfs_core::LinkSpec;

    /// A link argument as a core link spec in the view mounted at `mountpoint`.
    fn link_spec(mountpoint: &AbsPath, link: &LinkArg) -> Result<LinkSpec, String> {
        let except = link.except.iter().map(|e| abs_string(e)).collect::<Result<Vec<_>, _>>()?;
        let flags = LinkFlags { read_only: link.read_only, merged: link.merged };
        let at = control::endpoint(mountpoint.clone());
        control::link_spec(
            &at,
            &abs_string(&link.virt)?,
            &backing_string(&at, &link.backing)?,
            flags,
            &except,
        )
    }

    #[test]
    fn virtual_paths_must_be_inside_the_view_and_backings_inside_it_chain() {
        use bindfs_core::VPath;
        let mnt = AbsPath::parse("/mnt/view", Syntax::Posix).unwrap();
        let arg = |v: &str, b: &str| LinkArg {
            virt: v.into(),
            backing: b.into(),
            read_only: false,
            merged: false,
            except: vec![],
            optional: false,
        };
        let root = link_spec(&mnt, &arg("/mnt/view", "/nonexistent/b")).unwrap();
        assert!(root.virt.is_root());
        assert!(matches!(root.target, Target::Host(_)));
        let chain = link_spec(&mnt, &arg("/mnt/view/a", "/mnt/view/x/../b")).unwrap();
        assert_eq!(chain.target, Target::View(VPath::parse("/b").unwrap()));
        let outside = link_spec(&mnt, &arg("/mnt/other", "/srv")).unwrap_err();
        assert!(outside.contains("not inside the view"), "{outside}");
    }
}
