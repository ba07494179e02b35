//! The command on Windows: views served through WinFsp ([`bindfs_winfsp::host`]), each
//! controlled over a named pipe of its own. Windows binaries link winfsp-rs and so carry
//! GPL-3.0 (the Linux build stays MIT OR Apache-2.0).
//!
//! - `mount <DRIVE:|DIR> --lower <DIR>`: WinFsp needs a drive letter or a directory that does
//!   not exist yet, so the on-disk layer is named apart (`--lower`). Links are created before the
//!   volume appears: a bad link fails the command and nothing is mounted. Without `-f` a detached
//!   copy serves and the command returns once it reports the view live. Every path is made
//!   absolute in the caller's working directory first; then the daemon moves to Windows' own
//!   directory, so it never keeps its caller's busy. Trailing backslashes are dropped (WinFsp
//!   <= 2.1 crashes on one). Windows defines a drive letter per logon session: one made by an
//!   elevated daemon is seen by elevated programs only (`mount` says so), and `\\.\X:` makes a
//!   global drive through the Mount Manager instead (an administrator's right).
//! - The pipe of the view at M is `\\.\pipe\bindfs-rs-<hash of M, case-folded>`; it speaks the
//!   core's control protocol ([`bindfs_core::control`]), one JSON line each way. Its DACL lets
//!   only SYSTEM, Administrators and the user who mounted the view open it (anyone else gets
//!   "permission denied"), remote clients are refused, and the first instance is created with
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE` so nobody can take the name first. A client talks only to a
//!   server run by itself or by an elevated process.
//! - The client side (pipe names, finding a path's view, the check of who serves a pipe, path
//!   handling) is the `bindlink` crate's ([`bindlink::client::windows`]), shared with
//!   `bindlink.dll`: `link create|remove` and `CreateBindLink`/`RemoveBindLink` take one code
//!   path. `link create|remove` find the view a path is in by asking the pipes of the path's
//!   ancestors; `link list` without a mount point lists every `bindfs-rs-*` pipe's view.
//! - `unmount` asks the daemon to stop (`stop`) and waits until its pipe is gone: after a `stop`
//!   the daemon takes no more clients and closes the pipe at once.
//! - Every link change and `stop` the pipe is asked for is logged at info level with the client's
//!   SID (read from its process's token), links made at mount with the mounting user's; the log
//!   goes to `--log-file` (created with a DACL of this user and SYSTEM only), or to stderr in the
//!   foreground. The Windows Event Log is not written.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::io::{AsHandle, AsRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bindfs_core::control::audit::{self, Caller};
use bindfs_core::control::{self, Endpoint, Reply, Request};
use bindfs_core::{AbsPath, LinkFlags, LinkSpec, Target, View};
use bindfs_winfsp::WindowsBacking;
use bindfs_winfsp::host::{self, MountConfig};
use bindlink::client::windows::{
    self as client, endpoint, open_pipe, pipe_exists, pipe_name, trusted_server,
};

use self::sys::{Descriptor, wide};
use crate::args::LinkArg;

pub mod service;
mod sys;

/// The file version of the file at `path` (`2.1.25156.0`), if it has one.
pub fn file_version(path: &Path) -> Option<String> {
    sys::file_version(path)
}

/// The largest request line a daemon reads.
const MAX_REQUEST: u64 = 1 << 20;

/// The line the serving copy prints once the view is live.
const READY: &str = "bindfs-rs: view live";

/// What `mount` was asked for on Windows.
#[derive(Debug)]
pub struct MountRequest {
    /// A drive (`X:`) or a directory that does not exist yet.
    pub mountpoint: PathBuf,
    /// The on-disk layer.
    pub lower: PathBuf,
    /// Links to create first.
    pub links: Vec<LinkArg>,
    /// Serve in the foreground.
    pub foreground: bool,
    /// How long WinFsp may cache file information.
    pub cache_ttl: Duration,
    /// How long to wait for missing backings before mounting (`None`: not at all).
    pub wait_backings: Option<Duration>,
}

/// An absolute, lexically normalized Windows path (relative ones from the working directory).
pub fn absolute(path: &Path) -> Result<AbsPath, String> {
    client::absolute(path).map_err(message)
}

/// The one line of a client's failure, without its `HRESULT`.
fn message(failure: bindlink::Failure) -> String {
    failure.message
}

/// The DACL of a view's pipe: full access for SYSTEM, Administrators and the current user;
/// nobody else.
fn owner_and_admins() -> Result<Descriptor, String> {
    Descriptor::from_sddl(&format!("D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;{})", sys::my_sid()?))
}

/// What the threads serving a view's pipe share.
struct Serving {
    view: Arc<control::Live<Arc<View<WindowsBacking>>>>,
    at: Endpoint,
    /// The pipe's name.
    name: String,
    /// Hears `stop` requests (the daemon then unmounts and ends).
    stop: mpsc::Sender<()>,
    /// Set by a `stop`: the listener takes no more clients and lets the pipe go.
    stopping: AtomicBool,
}

/// Answers one client: one request line, one reply line. A `stop` ends the view.
fn serve_one(serving: &Serving, pipe: OwnedHandle) -> std::io::Result<()> {
    let at = &serving.at;
    let file = File::from(pipe);
    let mut line = String::new();
    BufReader::new((&file).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut stopping = false;
    let request = serde_json::from_str::<Request>(&line);
    let reply = match &request {
        Ok(Request::Stop) => {
            stopping = true;
            Reply { mountpoint: at.mountpoint.to_string(), ..Reply::default() }
        }
        Ok(request) => control::handle(&serving.view, at, request.clone()),
        Err(e) => control::refusal(at, format!("bad request: {e}")),
    };
    if let Ok(request) = &request {
        log_request(&file, request, &reply);
    }
    let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    text.push('\n');
    let written = (&file).write_all(text.as_bytes()).and_then(|()| (&file).flush());
    // Only now: once told, the main thread unmounts and the process ends, which would cut off
    // a reply not yet written (`unmount` would then report "no answer").
    if stopping {
        drop(file);
        serving.stopping.store(true, Ordering::SeqCst);
        // The listener waits for a client: one that hangs up at once wakes it to see the flag
        // and close its instance, so the pipe is gone as soon as the view stops answering (what
        // `unmount` waits for), even before the process ends.
        drop(open_pipe(&serving.name));
        let _ = serving.stop.send(());
    }
    written
}

/// Logs what `request` changed, with the client's SID (its process id when its token cannot be
/// read: an elevated client of a daemon that is not).
fn log_request(pipe: &File, request: &Request, reply: &Reply) {
    if audit::Change::of(request).is_none() {
        return;
    }
    let (pid, token) = sys::client_token(pipe).unwrap_or((0, None));
    match token.as_ref().map(sys::token_sid) {
        Some(Ok(sid)) => audit::log_request(request, reply, Caller::Sid(&sid)),
        _ => audit::log_request(request, reply, Caller::Pid(pid)),
    }
}

/// Opens the log file for appending, created readable and writable by this user (and SYSTEM)
/// only.
pub fn owner_only_log_file(path: &Path) -> std::io::Result<File> {
    let sid = sys::my_sid().map_err(std::io::Error::other)?;
    let security =
        Descriptor::from_sddl(&format!("D:P(A;;FA;;;SY)(A;;FA;;;{sid})")).map_err(std::io::Error::other)?;
    sys::append_with_security(path, &security)
}

/// Serves the view's pipe on threads until the process ends or a `stop` request, which `stop`
/// hears; only SYSTEM, Administrators and this user may open it. The links in `waiting` (and
/// those `apply` leaves waiting) are made when their backing appears.
fn serve_pipe(
    view: Arc<View<WindowsBacking>>,
    waiting: control::Waiting,
    at: Endpoint,
    stop: mpsc::Sender<()>,
) -> Result<(), String> {
    serve_pipe_with(view, waiting, at, owner_and_admins()?, stop)
}

/// How often links waiting for their backing are tried again.
const RETRY_PENDING: Duration = Duration::from_secs(1);

/// [`serve_pipe`] with the pipe's security descriptor given.
fn serve_pipe_with(
    view: Arc<View<WindowsBacking>>,
    waiting: control::Waiting,
    at: Endpoint,
    security: Descriptor,
    stop: mpsc::Sender<()>,
) -> Result<(), String> {
    let view = Arc::new(control::Live::with_waiting(view, at.policy, waiting));
    control::spawn_retry(Arc::clone(&view), RETRY_PENDING).map_err(|e| format!("retry thread: {e}"))?;
    let name = pipe_name(&at.mountpoint);
    let wide_name = wide(&name);
    let mut next = sys::pipe_instance(&wide_name, &security, true)
        .map_err(|e| format!("{e} (is another daemon serving {}?)", at.mountpoint))?;
    let serving = Arc::new(Serving { view, at, name, stop, stopping: AtomicBool::new(false) });
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            loop {
                let ready = sys::connect(&next);
                if serving.stopping.load(Ordering::SeqCst) {
                    return;
                }
                // The next client gets a new instance while this one is answered.
                let fresh = match sys::pipe_instance(&wide_name, &security, false) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, "control pipe");
                        return;
                    }
                };
                let this = std::mem::replace(&mut next, fresh);
                if ready {
                    let serving = Arc::clone(&serving);
                    std::thread::spawn(move || {
                        if let Err(e) = serve_one(&serving, this) {
                            tracing::debug!(error = %e, "control connection ended");
                        }
                    });
                }
            }
        })
        .map_err(|e| format!("control thread: {e}"))?;
    Ok(())
}

/// Sends one request to the view mounted at `mountpoint` (a server this user trusts): its
/// reply, or why it failed.
fn call(mountpoint: &AbsPath, request: &Request) -> Result<Reply, String> {
    client::call(mountpoint, request).map_err(message)
}

/// `link create`: the C API's `CreateBindLink` ([`bindlink::client::create`]); a failure's line
/// ends with its `HRESULT` when `BINDFS_RS_HRESULT` asks for it.
pub fn link_create(
    virt: &Path,
    backing: &Path,
    read_only: bool,
    merged: bool,
    except: &[PathBuf],
) -> Result<(), String> {
    let flags = bindlink::Flags { read_only, merged };
    bindlink::client::create(virt, backing, flags, except).map_err(|f| f.line_as_asked())
}

/// `link remove`: the C API's `RemoveBindLink` ([`bindlink::client::remove`]).
pub fn link_remove(virt: &Path) -> Result<(), String> {
    bindlink::client::remove(virt).map_err(|f| f.line_as_asked())
}

/// `link list`: the views' links, as text, JSON or a links file, printed as on Linux
/// ([`crate::list`]).
pub fn link_list(
    mountpoint: Option<&Path>,
    format: crate::list::Format,
    out: &mut dyn Write,
) -> Result<(), String> {
    let replies = match mountpoint {
        Some(m) => vec![call(&mount_point(m)?.at, &Request::List)?],
        None => all_views(&Request::List)?,
    };
    let links: Vec<_> = replies.into_iter().flat_map(|r| r.links).collect();
    crate::list::print(&links, format, out)
}

/// `link apply`: makes the view at `mountpoint` (or the one holding the file's first link)
/// match the links file, all or nothing, as on Linux (optional links wait the same way).
pub fn link_apply(file: &Path, mountpoint: Option<&Path>, out: &mut dyn Write) -> Result<(), String> {
    let links = crate::args::read_links_file(file)?.0;
    let m = match (mountpoint, links.first()) {
        (Some(m), _) => mount_point(m)?.at,
        (None, Some(first)) => client::view_of(&absolute(&first.virt)?).map_err(message)?,
        (None, None) => {
            return Err(format!("{}: no links, so no view named: give the mount point", file.display()));
        }
    };
    let at = endpoint(m.clone());
    let wanted = links
        .iter()
        .map(|l| {
            Ok(control::WantedLink {
                virt: absolute(&l.virt)?.to_string(),
                backing: client::backing_path(&l.backing, &at).map_err(message)?.to_string(),
                read_only: l.read_only,
                merged: l.merged,
                except: l
                    .except
                    .iter()
                    .map(|e| absolute(e).map(|a| a.to_string()))
                    .collect::<Result<_, String>>()?,
                optional: l.optional,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let reply = call(&m, &Request::Apply { links: wanted })?;
    let done = reply.applied.unwrap_or_default();
    writeln!(out, "{m}: {} created, {} removed, {} pending", done.created, done.removed, done.pending)
        .map_err(|e| format!("stdout: {e}"))
}

/// Every live view this user may ask: one reply each.
fn all_views(request: &Request) -> Result<Vec<Reply>, String> {
    let pipes = std::fs::read_dir(r"\\.\pipe\").map_err(|e| format!("listing pipes: {e}"))?;
    let mut replies = Vec::new();
    for entry in pipes.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("bindfs-rs-") {
            continue;
        }
        let Ok(pipe) = open_pipe(&format!(r"\\.\pipe\{name}")) else { continue };
        if trusted_server(&pipe).is_err() {
            continue;
        }
        let mut text = serde_json::to_string(request).map_err(|e| e.to_string())?;
        text.push('\n');
        let mut line = String::new();
        if (&pipe).write_all(text.as_bytes()).is_ok() && BufReader::new(&pipe).read_line(&mut line).is_ok() {
            if let Ok(reply) = serde_json::from_str::<Reply>(&line) {
                replies.push(reply);
            }
        }
    }
    Ok(replies)
}

/// `link which`: asks the daemon of the view holding `path`, printed as on Linux.
pub fn link_which(path: &Path, json: bool, out: &mut dyn Write) -> Result<(), String> {
    let p = absolute(path)?;
    let mountpoint = client::view_of(&p).map_err(message)?;
    let reply = call(&mountpoint, &Request::Which { path: p.to_string() })?;
    let w = reply.which.ok_or_else(|| format!("the daemon of {mountpoint} cannot answer which"))?;
    crate::which::print_which(&w, json, out)
}

/// `status`: every live view (or the one at `mountpoint`), printed as on Linux. A daemon that
/// died takes its pipe with it, so only live views are found.
pub fn status(mountpoint: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<(), String> {
    let replies = match mountpoint {
        Some(m) => vec![call(&mount_point(m)?.at, &Request::Status)?],
        None => all_views(&Request::Status)?,
    };
    let rows: Vec<_> = replies
        .into_iter()
        .filter_map(|r| r.status.map(|s| crate::which::ViewStatus::live(r.mountpoint, &s)))
        .collect();
    crate::which::print_status(&rows, json, out)
}

/// `unmount`: asks the daemon to stop and waits until its pipe is gone.
pub fn unmount(mountpoint: &Path) -> Result<(), String> {
    let m = mount_point(mountpoint)?.at;
    call(&m, &Request::Stop)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipe_exists(&pipe_name(&m)) {
        if Instant::now() >= deadline {
            return Err(format!("the daemon of {m} did not stop within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The links of `mount` as core link specs of the view at `at`.
fn specs(at: &Endpoint, links: &[LinkArg]) -> Result<Vec<LinkSpec>, String> {
    links
        .iter()
        .map(|l| {
            let virt = absolute(&l.virt)?.to_string();
            let backing = client::backing_path(&l.backing, at).map_err(message)?.to_string();
            let except =
                l.except.iter().map(|e| absolute(e).map(|a| a.to_string())).collect::<Result<Vec<_>, _>>()?;
            let flags = LinkFlags { read_only: l.read_only, merged: l.merged };
            control::link_spec(at, &virt, &backing, flags, &except)
        })
        .collect()
}

/// Where a view is mounted: the path its pipe and its links are named from, and the spelling
/// WinFsp is given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountPoint {
    /// The view's root as its paths start: `X:\` for a drive, else the directory.
    pub at: AbsPath,
    /// What WinFsp mounts: `X:`, `\\.\X:` (a global drive, made through the Mount Manager), or
    /// the directory, absolute and without a trailing backslash (one crashes WinFsp <= 2.1).
    pub winfsp: PathBuf,
    /// A plain drive letter: Windows defines it for this logon session only.
    pub session_drive: bool,
}

/// `X:` from `X:` (any case), else nothing.
fn drive_letter(text: &str) -> Option<char> {
    match text.as_bytes() {
        [letter, b':'] if letter.is_ascii_alphabetic() => Some(char::from(letter.to_ascii_uppercase())),
        _ => None,
    }
}

/// The mount point written `path`: `X:` or `X:\` (a drive of this logon session), `\\.\X:` (a
/// global drive, which needs an administrator), or a directory (relative ones from the working
/// directory). Trailing backslashes go.
pub fn mount_point(path: &Path) -> Result<MountPoint, String> {
    let text = path.to_str().ok_or_else(|| format!("{}: not valid Unicode", path.display()))?;
    let trimmed = text.trim_end_matches(['\\', '/']);
    let drive_root = |letter: char| absolute(Path::new(&format!("{letter}:\\")));
    if let Some(rest) = trimmed.strip_prefix(r"\\.\").or_else(|| trimmed.strip_prefix("//./")) {
        let letter =
            drive_letter(rest).ok_or_else(|| format!("{text}: a global drive is written \\\\.\\X:"))?;
        let winfsp = PathBuf::from(format!(r"\\.\{letter}:"));
        return Ok(MountPoint { at: drive_root(letter)?, winfsp, session_drive: false });
    }
    if let Some(letter) = drive_letter(trimmed) {
        let winfsp = PathBuf::from(format!("{letter}:"));
        return Ok(MountPoint { at: drive_root(letter)?, winfsp, session_drive: true });
    }
    let at = absolute(Path::new(if trimmed.is_empty() { text } else { trimmed }))?;
    if at.path.is_root() {
        return Err(format!(
            "{text}: a view is mounted at a drive letter or at a directory, not at a share's root"
        ));
    }
    Ok(MountPoint { winfsp: PathBuf::from(at.to_string()), at, session_drive: false })
}

/// A mount request with every path made absolute from the caller's working directory, checked
/// before anything is started.
#[derive(Debug)]
struct Prepared {
    point: MountPoint,
    at: Endpoint,
    lower: PathBuf,
    links: Vec<LinkSpec>,
}

fn prepare(request: &MountRequest) -> Result<Prepared, String> {
    let point = mount_point(&request.mountpoint)?;
    let at = endpoint(point.at.clone());
    let lower = PathBuf::from(absolute(&request.lower)?.to_string());
    let links = specs(&at, &request.links)?;
    Ok(Prepared { point, at, lower, links })
}

/// A directory a daemon can stay in for its whole life without keeping anything of its caller's
/// busy (Windows refuses to remove or rename a process's working directory): Windows' own.
fn neutral_dir() -> PathBuf {
    std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from(r"C:\Windows"))
}

/// What `mount` says about a drive letter made by an elevated process (and only then): Windows
/// keeps such a drive in the elevated logon session, where the user's ordinary programs
/// (Explorer, a non-elevated shell) do not see it.
fn session_drive_note(point: &MountPoint) -> String {
    let letter = point.winfsp.display();
    format!(
        "note: {letter} is made by an elevated process, so only elevated programs see it; \
         `mount \\\\.\\{letter}` makes a drive every program sees"
    )
}

/// `mount`.
pub fn mount(request: MountRequest) -> Result<(), String> {
    // Paths are resolved here, in the caller's working directory, before the daemon leaves it.
    let ready = prepare(&request)?;
    if ready.point.session_drive && sys::this_process_elevated() {
        eprintln!("bindfs-rs: {}", session_drive_note(&ready.point));
    }
    if !request.foreground {
        return spawn_daemon();
    }
    let (stop_tx, stop_rx) = mpsc::channel();
    serve(&request, ready, stop_tx, &stop_rx, || {
        println!("{READY}");
        let _ = std::io::stdout().flush();
    })
}

/// Serves a prepared view in this process until a `stop` arrives on `stop`: from the pipe's
/// `stop` request (through `stop_tx`), or from whoever else holds a sender (the service's
/// control handler). `live` runs once the view is live and its pipe answers.
fn serve(
    request: &MountRequest,
    ready: Prepared,
    stop_tx: mpsc::Sender<()>,
    stop: &mpsc::Receiver<()>,
    live: impl FnOnce(),
) -> Result<(), String> {
    // A daemon sitting in its caller's working directory would keep it from being removed or
    // renamed for as long as the view lives.
    if let Err(e) = std::env::set_current_dir(neutral_dir()) {
        tracing::debug!(error = %e, "leaving the working directory");
    }
    let mut config = MountConfig::new(ready.point.winfsp.clone(), ready.lower);
    config.cache_ttl = request.cache_ttl;
    if let Some(within) = request.wait_backings {
        wait_for_backings(&ready.links, within);
    }
    let (now, waiting) = split_waiting(&ready.at, &request.links, ready.links);
    let mounted = host::mount(&config, now).map_err(|e| format!("{}: {e}", request.mountpoint.display()))?;
    log_mount_links(&request.links);
    serve_pipe(mounted.shared_view(), waiting, ready.at, stop_tx)?;
    live();
    let _ = stop.recv();
    mounted.stop();
    Ok(())
}

/// Whether the host backing of `spec` is missing (a chain's is the view's to tell).
fn backing_missing(spec: &LinkSpec) -> bool {
    match &spec.target {
        Target::Host(p) => std::fs::metadata(p.to_string()).is_err(),
        Target::View(_) => false,
    }
}

/// Waits up to `within` until every link's host backing exists (a disk that comes late), then
/// returns whatever is there.
fn wait_for_backings(specs: &[LinkSpec], within: Duration) {
    let deadline = Instant::now() + within;
    while specs.iter().any(backing_missing) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The links to make at mount, and those that wait: optional links whose backing is missing,
/// and optional links below one that waits (its parent is not there yet). The daemon makes
/// them when their backing appears ([`control::spawn_retry`]).
fn split_waiting(
    at: &Endpoint,
    links: &[LinkArg],
    specs: Vec<LinkSpec>,
) -> (Vec<LinkSpec>, control::Waiting) {
    let waiting = control::Waiting::default();
    let mut now = Vec::with_capacity(specs.len());
    let mut waits: Vec<bindfs_core::VPath> = Vec::new();
    let abs = |p: &bindfs_core::VPath| at.mountpoint.join(p.names()).to_string();
    for (link, spec) in links.iter().zip(specs) {
        let below_waiting = waits.iter().any(|w| spec.virt.starts_with(w, at.policy));
        if !link.optional || !(below_waiting || backing_missing(&spec)) {
            if link.optional {
                waiting.made_optional(spec.virt.clone());
            }
            now.push(spec);
            continue;
        }
        let wanted = control::WantedLink {
            virt: abs(&spec.virt),
            backing: spec.target.path_at(&at.mountpoint).to_string(),
            read_only: spec.flags.read_only,
            merged: spec.flags.merged,
            except: spec.exceptions.iter().map(abs).collect(),
            optional: true,
        };
        tracing::info!(path = wanted.virt, backing = wanted.backing, "link waits for its backing");
        waits.push(spec.virt.clone());
        waiting.wait(wanted, spec);
    }
    (now, waiting)
}

/// Logs the links created at mount, with the mounting user's SID.
fn log_mount_links(links: &[LinkArg]) {
    let sid = sys::my_sid().unwrap_or_default();
    for link in links {
        let (Ok(path), Ok(backing)) = (absolute(&link.virt), absolute(&link.backing)) else { continue };
        let (path, backing) = (path.to_string(), backing.to_string());
        let flags = LinkFlags { read_only: link.read_only, merged: link.merged };
        let change = audit::Change::Create { path: &path, backing: &backing, flags };
        audit::log(change, Caller::Sid(&sid), audit::Via::Mount, None);
    }
}

/// Starts a detached copy serving in the foreground, and returns once it reports the view live
/// (or fails with its first error line).
fn spawn_daemon() -> Result<(), String> {
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut args: Vec<std::ffi::OsString> = crate::fstab::args().into_iter().skip(1).collect();
    let at = args.iter().position(|a| a == "mount").map_or(0, |i| i + 1);
    args.insert(at, "--foreground".into());
    // Windows hands a child every inheritable handle of its parent, not only its stdio. Our own
    // stdio handles are inheritable (we inherited them): the daemon would keep our caller's
    // pipes open for its whole life, and a caller waiting for our output to end (a script,
    // `Command::output`) would wait until the view stops. The daemon gets its own pipes below.
    let (stdin, stdout, stderr) = (std::io::stdin(), std::io::stdout(), std::io::stderr());
    for handle in [stdin.as_handle(), stdout.as_handle(), stderr.as_handle()] {
        if !handle.as_raw_handle().is_null() {
            let _ = sys::keep_from_children(handle);
        }
    }
    let mut child = Command::new(exe)
        .args(args)
        .env(crate::logs::DAEMON_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .creation_flags(DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP)
        .spawn()
        .map_err(|e| format!("starting the daemon: {e}"))?;
    let stdout = child.stdout.take().ok_or("daemon output")?;
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    if line.trim() == READY {
        return Ok(());
    }
    let mut err = String::new();
    if let Some(mut stderr) = child.stderr.take() {
        let _ = stderr.read_to_string(&mut err);
    }
    let _ = child.wait();
    let line = err
        .lines()
        .map(|l| l.trim_start_matches("bindfs-rs: "))
        .find(|l| !l.is_empty() && !l.starts_with("note: "));
    Err(line.unwrap_or("the daemon exited before the view was live").to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use bindfs_core::CasePolicy;
    use bindfs_winfsp::under_wine;

    /// A view over a fresh tree (`disk\Foo\old.txt`, `t\Target\Cat.txt`) served on the pipe of
    /// mount point `view\` (never created: nothing mounts in a test, the pipe is named after it),
    /// with the pipe's DACL written `sddl` (None: the daemon's own).
    struct Served {
        /// The tree, kept when the test ends: the serving thread holds the view (and its open
        /// handle on `disk\`) for the rest of the process, and removing a directory held open
        /// never ends under Wine (std retries on the delete-pending entry).
        tmp: PathBuf,
        at: AbsPath,
        stopped: mpsc::Receiver<()>,
    }

    impl Served {
        fn new(sddl: Option<&str>) -> Served {
            let tmp = tempfile::Builder::new().prefix("bindfs-cli-").tempdir().unwrap().keep();
            std::fs::create_dir_all(tmp.join(r"disk\Foo")).unwrap();
            std::fs::write(tmp.join(r"disk\Foo\old.txt"), "on disk").unwrap();
            std::fs::create_dir_all(tmp.join(r"t\Target")).unwrap();
            std::fs::write(tmp.join(r"t\Target\Cat.txt"), "meow").unwrap();
            let disk = absolute(&tmp.join("disk")).unwrap();
            let view = Arc::new(View::new(WindowsBacking::open(&disk).unwrap(), CasePolicy::Insensitive));
            let at = absolute(&tmp.join("view")).unwrap();
            let security = match sddl {
                Some(text) => Descriptor::from_sddl(text),
                None => owner_and_admins(),
            }
            .unwrap();
            let (tx, stopped) = mpsc::channel();
            serve_pipe_with(view, control::Waiting::default(), endpoint(at.clone()), security, tx).unwrap();
            Served { tmp, at, stopped }
        }

        /// A path inside the view.
        fn v(&self, rel: &str) -> PathBuf {
            self.tmp.join("view").join(rel)
        }

        fn t(&self, rel: &str) -> PathBuf {
            self.tmp.join("t").join(rel)
        }

        fn list(&self, json: bool) -> Result<String, String> {
            let mut out = Vec::new();
            link_list(Some(&self.tmp.join("view")), crate::list::Format::of(json, false), &mut out)?;
            Ok(String::from_utf8(out).unwrap())
        }
    }

    /// Sends `line` on a connection of its own and reads the one-line reply.
    fn raw_call(at: &AbsPath, line: &str) -> String {
        let pipe = open_pipe(&pipe_name(at)).unwrap();
        (&pipe).write_all(line.as_bytes()).unwrap();
        let mut reply = String::new();
        BufReader::new(&pipe).read_line(&mut reply).unwrap();
        reply
    }

    #[test]
    fn the_control_pipe_creates_lists_removes_and_stops() {
        let s = Served::new(None);
        link_create(&s.v("Foo"), &s.t("Target"), false, false, &[]).unwrap();
        let text = s.list(false).unwrap();
        let line = text.trim_end();
        assert!(!line.contains('\n'), "{text}");
        let (virt, backing) = line.split_once(" -> ").unwrap();
        assert_eq!(virt, format!(r"{}\Foo", s.at));
        assert!(backing.to_lowercase().ends_with(r"\t\target"), "{text}");

        // A second client while the first holds its connection open.
        let waiting = open_pipe(&pipe_name(&s.at)).unwrap();
        link_create(&s.v("New"), &s.t("Target"), true, false, &[]).unwrap();
        (&waiting).write_all(b"{\"op\":\"list\"}\n").unwrap();
        let mut reply = String::new();
        BufReader::new(&waiting).read_line(&mut reply).unwrap();
        let reply: Reply = serde_json::from_str(&reply).unwrap();
        let names: Vec<&str> = reply.links.iter().map(|l| l.virt.as_str()).collect();
        assert_eq!(names, [format!(r"{}\Foo", s.at), format!(r"{}\New", s.at)]);
        assert!(reply.links[1].read_only && reply.links[1].anchorless);

        link_remove(&s.v("New")).unwrap();
        link_remove(&s.v("Foo")).unwrap();
        assert_eq!(s.list(true).unwrap().trim(), "[]");
        assert_eq!(s.list(false).unwrap(), "");

        unmount(&s.tmp.join("view")).unwrap();
        s.stopped.recv_timeout(Duration::from_secs(5)).unwrap();
        let gone = s.list(false).unwrap_err();
        assert!(gone.starts_with("no live view at"), "{gone}");
    }

    /// Writes a links file of `(virtual, backing, extra TOML lines)` under the test's tree.
    fn links_file(s: &Served, name: &str, links: &[(PathBuf, PathBuf, &str)]) -> PathBuf {
        let mut text = String::new();
        for (v, b, extra) in links {
            text.push_str(&format!("[[link]]\nvirtual = {v:?}\nbacking = {b:?}\n{extra}\n"));
        }
        let file = s.tmp.join(name);
        std::fs::write(&file, text).unwrap();
        file
    }

    #[test]
    fn link_apply_on_the_pipe_is_all_or_nothing_and_optional_links_wait() {
        let s = Served::new(None);
        std::fs::create_dir_all(s.t("Other")).unwrap();
        let view = s.tmp.join("view");
        let apply = |file: &Path| {
            let mut out = Vec::new();
            link_apply(file, Some(&view), &mut out).map(|()| String::from_utf8(out).unwrap())
        };
        // A child listed before its parent; an optional link whose backing is missing waits.
        let file = links_file(
            &s,
            "one.toml",
            &[
                (s.v(r"Foo\Sub"), s.t("Other"), ""),
                (s.v("Foo"), s.t("Target"), ""),
                (s.v("Late"), s.t("Late"), "optional = true"),
            ],
        );
        let out = apply(&file).unwrap();
        assert!(out.contains("2 created, 0 removed, 1 pending"), "{out}");
        let links = crate::list::tests::check_shape(&s.list(true).unwrap());
        let pending: Vec<bool> = links.iter().map(|l| l["pending"].as_bool().unwrap()).collect();
        assert_eq!(pending, [false, false, true]);
        // A bad file changes nothing.
        let before = s.list(true).unwrap();
        let bad = links_file(&s, "bad.toml", &[(s.v("Foo"), s.t("NoSuch"), "")]);
        let err = apply(&bad).unwrap_err();
        assert!(err.contains("NoSuch") && !err.contains('\n'), "{err}");
        assert_eq!(s.list(true).unwrap(), before);
        // The late backing appears: the daemon makes the link.
        std::fs::create_dir_all(s.t("Late")).unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while s.list(false).unwrap().contains("pending") {
            assert!(Instant::now() < deadline, "the pending link was not made");
            std::thread::sleep(Duration::from_millis(50));
        }
        // --toml writes a file that applies as no change.
        let mut saved = Vec::new();
        link_list(Some(&view), crate::list::Format::Toml, &mut saved).unwrap();
        let again = s.tmp.join("saved.toml");
        std::fs::write(&again, saved).unwrap();
        assert!(apply(&again).unwrap().contains("0 created, 0 removed, 0 pending"));
    }

    #[test]
    fn optional_links_with_a_missing_backing_wait_at_mount() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("there")).unwrap();
        let at = endpoint(absolute(&tmp.path().join("view")).unwrap());
        let arg = |v: &str, b: &str, optional: bool| LinkArg {
            optional,
            ..crate::args::parse_link(&format!(
                "{}={}",
                tmp.path().join("view").join(v).display(),
                tmp.path().join(b).display()
            ))
            .unwrap()
        };
        let links = [
            arg("A", "there", true),
            arg("B", "missing", true),
            arg(r"B\C", "there", true),
            arg("D", "missing", false),
        ];
        let (now, waiting) = split_waiting(&at, &links, specs(&at, &links).unwrap());
        let made: Vec<String> = now.iter().map(|s| s.virt.to_string()).collect();
        // The optional ones wait; one not optional is left to fail the mount.
        assert_eq!(made, ["/A", "/D"]);
        assert_eq!(waiting.pending(), 2);
    }

    #[test]
    fn link_list_json_has_the_shape_linux_prints() {
        let s = Served::new(None);
        link_create(&s.v("Foo"), &s.t("Target"), false, true, &[]).unwrap();
        let links = crate::list::tests::check_shape(&s.list(true).unwrap());
        assert_eq!(links.len(), 1);
        assert_eq!(links[0]["virtual"], format!(r"{}\Foo", s.at));
        assert_eq!(links[0]["merged"], true);
    }

    #[test]
    fn link_which_and_status_answer_on_the_pipe() {
        let s = Served::new(None);
        link_create(&s.v("Foo"), &s.t("Target"), false, true, &[]).unwrap();
        let which = |rel: &str| {
            let mut out = Vec::new();
            link_which(&s.v(rel), true, &mut out).unwrap();
            serde_json::from_slice::<serde_json::Value>(&out).unwrap()
        };
        let w = which(r"Foo\Cat.txt");
        assert_eq!(w["layer"], "backing");
        assert_eq!(w["link"]["virtual"], format!(r"{}\Foo", s.at));
        let real = w["real_path"].as_str().unwrap().to_lowercase();
        assert!(real.ends_with(r"\t\target\cat.txt"), "{w}");
        // The on-disk layer's real path is under the lower directory, not the mount point.
        let w = which(r"Foo\old.txt");
        assert_eq!(w["layer"], "on-disk");
        let real = w["real_path"].as_str().unwrap().to_lowercase();
        assert!(real.ends_with(r"\disk\foo\old.txt"), "{w}");
        let missing = link_which(&s.v(r"Foo\nope"), false, &mut Vec::new()).unwrap_err();
        assert!(!missing.contains('\n') && missing.contains("nope"), "{missing}");

        let mut out = Vec::new();
        status(Some(&s.tmp.join("view")), true, &mut out).unwrap();
        let rows: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(rows[0]["links"], 1);
        assert_eq!(rows[0]["pid"], std::process::id());
        assert!(rows[0]["passthrough"].is_null(), "{rows}");
    }

    #[test]
    fn bad_requests_get_a_one_line_error() {
        let s = Served::new(None);
        let reply = raw_call(&s.at, "garbage\n");
        assert!(reply.ends_with('\n') && reply.trim_end().lines().count() == 1, "{reply:?}");
        let reply: Reply = serde_json::from_str(&reply).unwrap();
        assert!(reply.error.as_deref().unwrap_or_default().starts_with("bad request"), "{reply:?}");

        let missing = link_create(&s.v("Foo"), &s.t("NoSuch"), false, false, &[]).unwrap_err();
        assert!(missing.contains("not found") && !missing.contains('\n'), "{missing}");
        let twice = link_remove(&s.v("Foo")).unwrap_err();
        assert!(!twice.is_empty() && !twice.contains('\n'), "{twice}");
        let outside = link_create(&s.t("x"), &s.t("Target"), false, false, &[]).unwrap_err();
        assert!(outside.ends_with("is not inside a live view"), "{outside}");
        // The view still answers after all that.
        assert_eq!(s.list(false).unwrap(), "");
    }

    #[test]
    fn a_pipe_refuses_a_caller_its_dacl_does_not_admit() {
        // Only SYSTEM may open this one; the test runs as a user.
        let s = Served::new(Some("D:P(A;;GA;;;SY)"));
        match s.list(false) {
            Err(e) => assert_eq!(e, "permission denied"),
            Ok(_) if under_wine() => {
                eprintln!(
                    "a_pipe_refuses_a_caller_its_dacl_does_not_admit: skipped under Wine: \
                     Wine opens a named pipe whatever its DACL says"
                );
            }
            Ok(out) => panic!("a caller the DACL leaves out was served: {out:?}"),
        }
    }

    #[test]
    fn link_list_without_a_mount_point_lists_every_view() {
        let s = Served::new(None);
        link_create(&s.v("Foo"), &s.t("Target"), false, false, &[]).unwrap();
        let mut out = Vec::new();
        match link_list(None, crate::list::Format::Text, &mut out) {
            Err(e) if under_wine() && e.starts_with("listing pipes") => {
                eprintln!(
                    "link_list_without_a_mount_point_lists_every_view: skipped under Wine: \
                     Wine does not list \\\\.\\pipe\\ ({e})"
                );
            }
            done => {
                done.unwrap();
                let text = String::from_utf8(out).unwrap();
                assert!(text.lines().any(|l| l.starts_with(&format!(r"{}\Foo -> ", s.at))), "{text}");
            }
        }
    }

    #[test]
    fn link_changes_on_the_pipe_are_logged_with_the_callers_sid() {
        /// A log kept in memory.
        #[derive(Clone, Default)]
        struct Kept(Arc<std::sync::Mutex<Vec<u8>>>);
        impl Write for Kept {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        // The pipe is served on threads of its own: the log must be the process's (this test is
        // the only one that sets it; others' events only add lines).
        let kept = Kept::default();
        let writer = kept.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        let s = Served::new(None);
        link_create(&s.v("Logged"), &s.t("Target"), true, false, &[]).unwrap();
        link_remove(&s.v("Logged")).unwrap();
        let text = String::from_utf8(kept.0.lock().unwrap().clone()).unwrap();
        let sid = sys::my_sid().unwrap();
        let path = format!(r#"path="{}\Logged""#, s.at).replace('\\', r"\\");
        let created =
            text.lines().find(|l| l.contains(&format!("link created by sid={sid}"))).unwrap_or_default();
        assert!(created.contains("read_only=true") && created.contains("via=control"), "{text}");
        assert!(text.contains(&format!("link removed by sid={sid}")), "{text}");
        assert!(text.to_lowercase().contains(&path.to_lowercase()), "{path} not in {text}");
    }

    /// The client's check of who serves a pipe (shared with `bindlink.dll`) reads the server of
    /// a view's pipe from its token: here this process, run by this user, so trusted. (A server
    /// of another, non-elevated user cannot be made under Wine, whose processes all run as one
    /// user; the refusal is tested on the decision alone, in the `bindlink` crate.)
    #[test]
    fn the_client_reads_who_serves_a_views_pipe_and_trusts_itself() {
        let s = Served::new(None);
        let pipe = open_pipe(&pipe_name(&s.at)).unwrap();
        let server = client::server_of(&pipe).unwrap();
        assert_eq!(server.pid, std::process::id());
        assert_eq!(server.sid, sys::my_sid().unwrap());
        assert_eq!(server.elevated, sys::this_process_elevated());
        trusted_server(&pipe).unwrap();
        drop(pipe);
        // Through the check, the C API's client changes links like the command.
        let flags = bindlink::Flags { read_only: true, merged: false };
        bindlink::client::create(&s.v("Checked"), &s.t("Target"), flags, &[]).unwrap();
        assert!(s.list(false).unwrap().starts_with(&format!(r"{}\Checked -> ", s.at)));
        let twice = bindlink::client::create(&s.v("Checked"), &s.t("Target"), flags, &[]).unwrap_err();
        assert_eq!(twice.hresult, bindfs_core::hresult::E_INVALIDARG, "{twice:?}");
        bindlink::client::remove(&s.v("Checked")).unwrap();
        assert_eq!(s.list(false).unwrap(), "");
    }

    /// A server the check refuses gets no request: the link is not made, and the caller hears
    /// the refusal, not the server.
    #[test]
    fn an_untrusted_server_gets_no_request() {
        let s = Served::new(None);
        let virt = absolute(&s.v("Foo")).unwrap().to_string();
        let backing = absolute(&s.t("Target")).unwrap().to_string();
        let request = Request::Create { virt, backing, read_only: false, merged: false, except: vec![] };
        // This process's own server, as if another, non-elevated user ran it.
        let refuse = |pipe: &File| {
            let server = client::server_of(pipe)?;
            let other = client::Server { sid: "S-1-5-21-0-0-0-4242".to_owned(), elevated: false, ..server };
            client::trust(&other, &sys::my_sid().unwrap())
        };
        let refused = client::call_checked(&s.at, &request, refuse).unwrap_err();
        assert_eq!(refused.hresult, bindfs_core::hresult::ACCESS_DENIED, "{refused:?}");
        let pid = std::process::id();
        assert_eq!(
            refused.message,
            format!("the control pipe is served by process {pid}, not an administrator or you")
        );
        assert_eq!(s.list(false).unwrap(), "", "the refused server was sent the request");
        client::call(&s.at, &request).unwrap();
        assert!(s.list(false).unwrap().starts_with(&format!(r"{}\Foo -> ", s.at)));
    }

    /// Issue 15: the bind link C API's test program, built with mingw against `bindlink.h` and
    /// `bindlink.lib` (tools/bindlink-wine.sh, which windows-test.sh runs first), creates and
    /// removes links with every flag through this view's pipe, and checks each HRESULT.
    #[test]
    fn the_c_api_changes_links_through_the_pipe() {
        let Some(dir) = std::env::var_os("BINDLINK_C_TEST_DIR") else {
            eprintln!(
                "the_c_api_changes_links_through_the_pipe: skipped: BINDLINK_C_TEST_DIR is not set \
                 (tools/windows-test.sh builds the program and sets it)"
            );
            return;
        };
        let s = Served::new(None);
        std::fs::create_dir_all(s.tmp.join(r"disk\Foo\Keep")).unwrap();
        let exe = PathBuf::from(dir).join("test_bindlink.exe");
        let out =
            Command::new(&exe).arg("pipe").arg(s.tmp.join("view")).arg(s.tmp.join("t")).output().unwrap();
        let text =
            format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success() && text.contains(", 0 failed"), "{}:\n{text}", exe.display());
        assert!(text.contains("ok   pipe: create Foo read-only|merged: 0x00000000"), "{text}");
        assert!(text.contains("ok   pipe: Foo already a link: 0x80070057"), "{text}");
        assert_eq!(s.list(false).unwrap(), "", "the program left links behind");
    }

    #[test]
    fn a_log_file_is_created_for_this_user_and_appended_to() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bindfs.log");
        writeln!(owner_only_log_file(&path).unwrap(), "one").unwrap();
        writeln!(owner_only_log_file(&path).unwrap(), "two").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one\ntwo\n");
        assert!(owner_only_log_file(&dir.path().join("no\\such\\dir.log")).is_err());
    }

    #[test]
    fn windows_paths_become_absolute_and_normalized() {
        let text = |p: &str| absolute(Path::new(p)).unwrap().to_string();
        assert_eq!(text(r"C:\a\b"), r"C:\a\b");
        assert_eq!(text(r"c:\a\..\b\"), r"C:\b");
        assert_eq!(text(r"C:\a\b\\"), r"C:\a\b");
        assert_eq!(text(r"\\server\share\dir\"), r"\\server\share\dir");
        assert_eq!(text(r"\\?\C:\x\y"), r"C:\x\y");
        let here = std::env::current_dir().unwrap();
        assert_eq!(text(r"rel\x"), absolute(&here.join(r"rel\x")).unwrap().to_string());
        assert_eq!(text(r"rel\x\"), text(r"rel\x"));
        assert!(absolute(Path::new(r"C:\a\b?")).is_err());
    }

    #[test]
    fn mount_points_lose_trailing_backslashes_and_name_drives() {
        let drive = mount_point(Path::new(r"x:\")).unwrap();
        assert_eq!((drive.at.to_string(), drive.winfsp.clone()), (r"X:\".to_owned(), PathBuf::from("X:")));
        assert!(drive.session_drive);
        assert_eq!(mount_point(Path::new("X:")).unwrap(), drive);
        let global = mount_point(Path::new(r"\\.\y:")).unwrap();
        assert_eq!((global.at.to_string(), global.winfsp), (r"Y:\".to_owned(), PathBuf::from(r"\\.\Y:")));
        assert!(!global.session_drive);
        let dir = mount_point(Path::new(r"C:\views\v\\")).unwrap();
        assert_eq!(
            (dir.at.to_string(), dir.winfsp),
            (r"C:\views\v".to_owned(), PathBuf::from(r"C:\views\v"))
        );
        let relative = mount_point(Path::new(r"v\")).unwrap();
        assert_eq!(relative.at, absolute(&std::env::current_dir().unwrap().join("v")).unwrap());
        assert!(!relative.winfsp.to_string_lossy().ends_with('\\'));
        assert!(mount_point(Path::new(r"\\.\pipe")).is_err());
        assert!(mount_point(Path::new(r"\\server\share\")).is_err());
        // The pipe is the same however the mount point is spelled.
        assert_eq!(pipe_name(&mount_point(Path::new(r"C:\Views\V")).unwrap().at), pipe_name(&dir.at));
        let note = session_drive_note(&drive);
        assert!(note.contains(r"\\.\X:") && !note.contains('\n'), "{note}");
    }

    #[test]
    fn a_mount_request_is_resolved_before_the_daemon_leaves_the_working_directory() {
        let here = std::env::current_dir().unwrap();
        let request = MountRequest {
            mountpoint: r"view\".into(),
            lower: r"disk\".into(),
            links: vec![crate::args::parse_link(r"view\Foo=t\Target").unwrap()],
            foreground: true,
            cache_ttl: Duration::from_secs(1),
            wait_backings: None,
        };
        let ready = prepare(&request).unwrap();
        assert_eq!(ready.point.winfsp, PathBuf::from(absolute(&here.join("view")).unwrap().to_string()));
        assert_eq!(ready.lower, PathBuf::from(absolute(&here.join("disk")).unwrap().to_string()));
        assert_eq!(ready.links[0].virt, bindfs_core::VPath::parse("/Foo").unwrap());
        let neutral = neutral_dir();
        assert!(neutral.is_absolute() && neutral.is_dir(), "{}", neutral.display());
        assert_ne!(neutral, here);
    }
}
