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

use bindfs_core::LinkFlags;
use bindfs_core::control::audit::{self, Caller};

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

// Paths are made absolute, and backing paths resolved, by the client shared with the C API
// (`bindlink`), so `mount --link`, `link create` and `CreateBindLink` take them alike.
pub use bindlink::client::{abs_string, absolute, backing_string};

/// The line the foreground copy prints once the view is live.
const READY: &str = "bindfs-rs: ready";

/// Runs `mount`.
pub fn run(request: MountRequest) -> Result<(), String> {
    if let Some((real, pid)) = already_mounted(&request)? {
        if request.foreground {
            // A foreground mount (a systemd unit's ExecStart) is the daemon of its view: with
            // another daemon serving it, it has nothing to serve. A distinct status the unit
            // lists in RestartPreventExitStatus= keeps systemd from starting it again and again.
            crate::set_exit_status(ALREADY_MOUNTED);
            let message = format!(
                "{real} already shows this view, served by the daemon with pid {pid}; not mounted again"
            );
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Status(&message)]);
            return Err(message);
        }
        // `mount -a` mounts every line again: the same view there is already what was asked.
        eprintln!("bindfs-rs: {real} already shows this view; nothing to do");
        tracing::info!(mountpoint = %real, "already mounted with the same links and options; not mounted again");
        return Ok(());
    }
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
    // The daemon of an earlier view here (one detached by `unmount --lazy` that still serves
    // files open in it, or one on its way out) unmounts by path when it ends (fuser), which
    // would take this new view with it: wait until it is gone.
    if !control::wait_until_gone(&real, Duration::from_secs(10)) {
        return Err(format!(
            "{}: the daemon of an earlier view there still runs (files open in a view unmounted with \
             --lazy?); close them first",
            real.display()
        ));
    }
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
    // Logged once each, below, with the mounting user.
    bindfs_core::control::apply_unlogged(&live, &at, &wanted).map_err(|(message, _)| message)?;
    log_mount_links(&live, &at);
    let (view, waiting) = live.into_parts();
    let (mut session, handle) =
        mount::mount(view, &config).map_err(|e| format!("mounting on {}: {e}", real.display()))?;
    let live = std::sync::Arc::new(control::Live::with_waiting(handle, at.policy, waiting));
    // The view is mounted from here on: a failure before it serves unmounts it again (no
    // session here unmounts itself), so nothing is left half-done.
    let unmount_on = |message: String| {
        let _ = mount::unmount(&real);
        message
    };
    let _control = control::Server::start(live, mountpoint.clone())
        .map_err(|e| unmount_on(format!("control socket for {}: {e}", real.display())))?;
    stop_on_signals(&mut session, &real).map_err(unmount_on)?;
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

/// The exit status of a mount refused because a live view is already mounted there: another
/// view, the same links with other options, or (in the foreground) the same view. The systemd
/// unit lists it in `RestartPreventExitStatus=`.
pub const ALREADY_MOUNTED: u8 = 3;

/// The mount point of the live bindfs-rs view already at `request.mountpoint` that has every
/// link the request asks for and its options (the same view: mounting again changes nothing),
/// with its daemon's pid; `None` when no view is there. Another view there, the same links with
/// other options, or a view whose daemon does not answer, is an error.
fn already_mounted(request: &MountRequest) -> Result<Option<(String, u32)>, String> {
    // A dead view's mount point cannot be resolved (ENOTCONN): its written path then.
    let real = std::fs::canonicalize(&request.mountpoint).unwrap_or_else(|_| request.mountpoint.clone());
    let real = absolute(&real)?;
    let text = real.to_string();
    if !crate::link::views()?.iter().any(|v| v.as_os_str() == text.as_str()) {
        return Ok(None);
    }
    let reply = crate::link::call(Path::new(&text), &control::Request::List).map_err(|e| {
        format!("{text}: a bindfs-rs view that does not answer ({e}) is mounted there; run bindfs-rs unmount {text}")
    })?;
    let at = control::endpoint(real.clone());
    for link in &request.links {
        let (virt, backing) = (abs_string(&link.virt)?, backing_string(&at, &link.backing)?);
        let same = |l: &control::LinkInfo| {
            l.virt == virt && l.backing == backing && l.read_only == link.read_only && l.merged == link.merged
        };
        if !reply.links.iter().any(same) {
            crate::set_exit_status(ALREADY_MOUNTED);
            return Err(format!(
                "{text}: another bindfs-rs view is mounted there (it has no link {virt} -> {backing}); \
                 unmount it first"
            ));
        }
    }
    let status = crate::link::call(Path::new(&text), &control::Request::Status)
        .map_err(|e| format!("{text}: a bindfs-rs view that does not answer ({e}) is mounted there"))?
        .status
        .ok_or_else(|| format!("{text}: the view's daemon did not say its status"))?;
    let kernel: Vec<&str> = request.options.as_deref().unwrap_or_default().split(',').collect();
    let live = mount_flags(&text).unwrap_or_default();
    let live: Vec<&str> = live.iter().map(String::as_str).collect();
    let differing = differing_options(&kernel, request.cache_ttl, &live, status.cache_ttl);
    if !differing.is_empty() {
        crate::set_exit_status(ALREADY_MOUNTED);
        return Err(format!(
            "{text}: the live view there has other options ({}); unmount it first to change them",
            differing.join("; ")
        ));
    }
    Ok(Some((text, status.pid)))
}

/// The options of a mount that a second mount must ask for alike, each as (the `-o` word that
/// turns it on, the word that turns it off, the word mountinfo shows when it is set). Each is off
/// unless asked for (`nosuid`, `nodev` are the view's defaults).
const COMPARED: &[(&str, &str, &str)] = &[
    ("ro", "rw", "ro"),
    ("suid", "nosuid", "nosuid"),
    ("dev", "nodev", "nodev"),
    ("noexec", "exec", "noexec"),
    ("noatime", "atime", "noatime"),
    ("sync", "async", "sync"),
    ("dirsync", "nodirsync", "dirsync"),
];

/// The options `kernel` (the `-o` words a mount resolved to) and `cache_ttl` ask for that the
/// live view (its mount flags `live`, its cache time `live_ttl`) does not have, each as
/// `had, not asked`. `poll_us` and the log's settings are the daemon's own and not compared.
fn differing_options(kernel: &[&str], cache_ttl: Duration, live: &[&str], live_ttl: f64) -> Vec<String> {
    let mut differing = Vec::new();
    for &(on, off, shown) in COMPARED {
        let asked = kernel.contains(&on);
        let has = if shown == on { live.contains(&on) } else { !live.contains(&off) };
        if asked != has {
            let word = |b| if b { on } else { off };
            differing.push(format!("{}, not {}", word(has), word(asked)));
        }
    }
    let asked = cache_ttl.as_secs_f64();
    if (asked - live_ttl).abs() > 1e-6 {
        differing.push(format!("cache_ttl={live_ttl}, not {asked}"));
    }
    differing
}

/// The mount flags of the view mounted at `mountpoint` as `/proc/self/mountinfo` shows them:
/// the mount's own (`ro`, `nosuid`, `nodev`, `noexec`, `noatime`, ...) and its file system's
/// (`sync`, `dirsync`, ...). The last (topmost) mount there counts.
fn mount_flags(mountpoint: &str) -> Option<Vec<String>> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // mountinfo writes space, tab, newline and backslash as octal escapes.
    let escaped: String = mountpoint
        .chars()
        .map(|c| match c {
            ' ' | '\t' | '\n' | '\\' => format!("\\{:03o}", u32::from(c)),
            c => c.to_string(),
        })
        .collect();
    let line = table.lines().rev().find(|l| l.split(' ').nth(4) == Some(escaped.as_str()))?;
    let (left, right) = line.split_once(" - ")?;
    let mine = left.split(' ').nth(5)?;
    let theirs = right.split(' ').nth(2).unwrap_or_default();
    Some(mine.split(',').chain(theirs.split(',')).map(str::to_owned).collect())
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
    // The command line in effect: an fstab form's is the `mount` command it was rewritten to.
    let mut args: Vec<std::ffi::OsString> = crate::fstab::args().into_iter().skip(1).collect();
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
    use bindfs_core::{AbsPath, LinkSpec};

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
    fn a_second_mount_names_each_option_the_live_view_has_otherwise() {
        let ttl = Duration::from_secs(1);
        let defaults = ["rw", "nosuid", "nodev", "relatime", "rw", "user_id=0", "default_permissions"];
        assert!(differing_options(&[""], ttl, &defaults, 1.0).is_empty());
        // The words an fstab line leaves in -o for the defaults change nothing either.
        assert!(
            differing_options(&["nosuid", "nodev", "exec", "atime", "async"], ttl, &defaults, 1.0).is_empty()
        );
        assert_eq!(differing_options(&["ro"], ttl, &defaults, 1.0), ["rw, not ro"]);
        assert_eq!(
            differing_options(&["noexec"], Duration::from_secs(5), &defaults, 1.0),
            ["exec, not noexec", "cache_ttl=1, not 5"]
        );
        let live = ["ro", "noexec", "relatime", "ro", "sync"];
        assert_eq!(
            differing_options(&[""], ttl, &live, 1.0),
            ["ro, not rw", "suid, not nosuid", "dev, not nodev", "noexec, not exec", "sync, not async"]
        );
    }

    #[test]
    fn virtual_paths_must_be_inside_the_view_and_backings_inside_it_chain() {
        use bindfs_core::{Syntax, Target, VPath};
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
