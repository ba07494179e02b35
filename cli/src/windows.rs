//! The command on Windows: views served through WinFsp ([`bindfs_winfsp::host`]), each
//! controlled over a named pipe of its own. Windows binaries link winfsp-rs and so carry
//! GPL-3.0 (the Linux build stays MIT OR Apache-2.0).
//!
//! - `mount <DRIVE:|DIR> --lower <DIR>`: WinFsp needs a drive letter or a directory that does
//!   not exist yet, so the on-disk layer is named apart (`--lower`). Links are created before the
//!   volume appears: a bad link fails the command and nothing is mounted. Without `-f` a detached
//!   copy serves and the command returns once it reports the view live.
//! - The pipe of the view at M is `\\.\pipe\bindfs-rs-<hash of M, case-folded>`; it speaks the
//!   core's control protocol ([`bindfs_core::control`]), one JSON line each way. Its DACL lets
//!   only SYSTEM, Administrators and the user who mounted the view open it (anyone else gets
//!   "permission denied"), remote clients are refused, and the first instance is created with
//!   `FILE_FLAG_FIRST_PIPE_INSTANCE` so nobody can take the name first. A client talks only to a
//!   server run by itself or by an elevated process.
//! - `link create|remove` find the view a path is in by asking the pipes of the path's
//!   ancestors; `link list` without a mount point lists every `bindfs-rs-*` pipe's view.
//! - `unmount` asks the daemon to stop (`stop`) and waits until its pipe is gone.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::windows::ffi::OsStrExt;
use std::os::windows::fs::OpenOptionsExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::os::windows::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bindfs_core::control::{self, Endpoint, Reply, Request};
use bindfs_core::{AbsPath, CasePolicy, LinkFlags, LinkSpec, Syntax, View};
use bindfs_winfsp::WindowsBacking;
use bindfs_winfsp::host::{self, MountConfig};
use windows::Win32::Foundation::{
    ERROR_FILE_NOT_FOUND, ERROR_PIPE_BUSY, ERROR_PIPE_CONNECTED, HANDLE, HANDLE_FLAG_INHERIT, HANDLE_FLAGS,
    HLOCAL, LocalFree, SetHandleInformation,
};
use windows::Win32::Security::Authorization::{
    ConvertSidToStringSidW, ConvertStringSecurityDescriptorToSecurityDescriptorW, SDDL_REVISION_1,
};
use windows::Win32::Security::{
    GetTokenInformation, PSECURITY_DESCRIPTOR, SECURITY_ATTRIBUTES, TOKEN_ELEVATION, TOKEN_QUERY, TOKEN_USER,
    TokenElevation, TokenUser,
};
use windows::Win32::Storage::FileSystem::{
    FILE_FLAG_FIRST_PIPE_INSTANCE, PIPE_ACCESS_DUPLEX, SECURITY_IDENTIFICATION,
};
use windows::Win32::System::Pipes::{
    ConnectNamedPipe, CreateNamedPipeW, GetNamedPipeServerProcessId, PIPE_READMODE_BYTE,
    PIPE_REJECT_REMOTE_CLIENTS, PIPE_TYPE_BYTE, PIPE_UNLIMITED_INSTANCES, PIPE_WAIT, WaitNamedPipeW,
};
use windows::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};
use windows::core::{PCWSTR, PWSTR};

use crate::args::LinkArg;

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
}

/// An absolute, lexically normalized Windows path (relative ones from the working directory).
pub fn absolute(path: &Path) -> Result<AbsPath, String> {
    let abs = std::path::absolute(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let text = abs.to_str().ok_or_else(|| format!("{}: not valid Unicode", path.display()))?;
    AbsPath::parse(text, Syntax::Windows).map_err(|e| format!("{}: {e}", path.display()))
}

/// The view at `mountpoint` as the protocol addresses it.
fn endpoint(mountpoint: AbsPath) -> Endpoint {
    Endpoint { mountpoint, syntax: Syntax::Windows, policy: CasePolicy::Insensitive }
}

/// The pipe of the view mounted at `mountpoint`: a stable hash (FNV-1a) of its case-folded
/// absolute spelling.
fn pipe_name(mountpoint: &AbsPath) -> String {
    let text = mountpoint.to_string();
    let folded = CasePolicy::Insensitive.key(text.as_bytes()).into_owned();
    let hash = folded
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!(r"\\.\pipe\bindfs-rs-{hash:016x}")
}

fn wide(text: &str) -> Vec<u16> {
    OsStr::new(text).encode_wide().chain(Some(0)).collect()
}

/// The string SID of the user this process runs as.
fn my_sid() -> Result<String, String> {
    let mut token = HANDLE::default();
    // SAFETY: the pseudo handle of this process; `token` receives a handle we own and close.
    unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) }
        .map_err(|e| format!("process token: {e}"))?;
    // SAFETY: a token handle just opened, owned from here on.
    let token = unsafe { OwnedHandle::from_raw_handle(token.0) };
    token_sid(&token)
}

/// The string SID of `token`'s user.
fn token_sid(token: &OwnedHandle) -> Result<String, String> {
    let handle = HANDLE(std::os::windows::io::AsRawHandle::as_raw_handle(token));
    let mut buf = vec![0u64; 64]; // 512 bytes, aligned for TOKEN_USER
    let mut len = 0u32;
    // SAFETY: `buf` is writable for the length given; `len` receives the size used.
    unsafe {
        GetTokenInformation(
            handle,
            TokenUser,
            Some(buf.as_mut_ptr().cast()),
            (buf.len() * 8) as u32,
            &mut len,
        )
    }
    .map_err(|e| format!("token user: {e}"))?;
    // SAFETY: GetTokenInformation(TokenUser) filled `buf` with a TOKEN_USER.
    let user = unsafe { &*buf.as_ptr().cast::<TOKEN_USER>() };
    let mut text = PWSTR::null();
    // SAFETY: a valid SID inside `buf`; `text` receives a LocalAlloc'ed string freed below.
    unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) }.map_err(|e| format!("SID: {e}"))?;
    // SAFETY: a NUL-terminated string from ConvertSidToStringSidW.
    let sid = unsafe { text.to_string() }.map_err(|e| format!("SID: {e}"));
    // SAFETY: allocated by ConvertSidToStringSidW with LocalAlloc, freed once.
    unsafe { LocalFree(Some(HLOCAL(text.0.cast()))) };
    sid
}

/// Whether `token` is elevated (an administrator's full token).
fn elevated(token: &OwnedHandle) -> bool {
    let handle = HANDLE(std::os::windows::io::AsRawHandle::as_raw_handle(token));
    let mut elevation = TOKEN_ELEVATION::default();
    let mut len = 0u32;
    // SAFETY: `elevation` is writable for its size.
    let ok = unsafe {
        GetTokenInformation(
            handle,
            TokenElevation,
            Some((&raw mut elevation).cast()),
            std::mem::size_of::<TOKEN_ELEVATION>() as u32,
            &mut len,
        )
    };
    ok.is_ok() && elevation.TokenIsElevated != 0
}

/// A security descriptor (from SDDL), freed when dropped.
struct Descriptor(PSECURITY_DESCRIPTOR);

impl Descriptor {
    /// Full access for SYSTEM, Administrators and the current user; nobody else.
    fn owner_and_admins() -> Result<Descriptor, String> {
        let sddl = wide(&format!("D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GA;;;{})", my_sid()?));
        let mut sd = PSECURITY_DESCRIPTOR::default();
        // SAFETY: a NUL-terminated SDDL string; `sd` receives a LocalAlloc'ed descriptor.
        unsafe {
            ConvertStringSecurityDescriptorToSecurityDescriptorW(
                PCWSTR(sddl.as_ptr()),
                SDDL_REVISION_1,
                &mut sd,
                None,
            )
        }
        .map_err(|e| format!("pipe security: {e}"))?;
        Ok(Descriptor(sd))
    }
}

// SAFETY: the descriptor is LocalAlloc'ed memory owned by this value, not tied to a thread, and
// only read (by CreateNamedPipeW) after it is made.
unsafe impl Send for Descriptor {}

impl Drop for Descriptor {
    fn drop(&mut self) {
        // SAFETY: allocated by ConvertStringSecurityDescriptorToSecurityDescriptorW, freed once.
        unsafe { LocalFree(Some(HLOCAL(self.0.0))) };
    }
}

/// Creates one instance of the view's pipe.
fn pipe_instance(name: &[u16], security: &Descriptor, first: bool) -> Result<OwnedHandle, String> {
    let attributes = SECURITY_ATTRIBUTES {
        nLength: std::mem::size_of::<SECURITY_ATTRIBUTES>() as u32,
        lpSecurityDescriptor: security.0.0,
        bInheritHandle: false.into(),
    };
    let mode = if first { PIPE_ACCESS_DUPLEX | FILE_FLAG_FIRST_PIPE_INSTANCE } else { PIPE_ACCESS_DUPLEX };
    // SAFETY: a NUL-terminated name and security attributes that outlive the call.
    let handle = unsafe {
        CreateNamedPipeW(
            PCWSTR(name.as_ptr()),
            mode,
            PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS,
            PIPE_UNLIMITED_INSTANCES,
            65536,
            65536,
            0,
            Some(&attributes),
        )
    };
    if handle.is_invalid() {
        return Err(format!("control pipe: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a pipe handle just created, owned from here on.
    Ok(unsafe { OwnedHandle::from_raw_handle(handle.0) })
}

/// Answers one client: one request line, one reply line. A `stop` ends the view.
fn serve_one(
    view: &Arc<View<WindowsBacking>>,
    at: &Endpoint,
    pipe: OwnedHandle,
    stop: &mpsc::Sender<()>,
) -> std::io::Result<()> {
    let file = File::from(pipe);
    let mut line = String::new();
    BufReader::new((&file).take(MAX_REQUEST)).read_line(&mut line)?;
    let mut stopping = false;
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(Request::Stop) => {
            stopping = true;
            Reply { mountpoint: at.mountpoint.to_string(), error: None, links: Vec::new() }
        }
        Ok(request) => control::handle(view, at, request),
        Err(e) => control::refusal(at, format!("bad request: {e}")),
    };
    let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    text.push('\n');
    let written = (&file).write_all(text.as_bytes()).and_then(|()| (&file).flush());
    // Only now: once told, the main thread unmounts and the process ends, which would cut off
    // a reply not yet written (`unmount` would then report "no answer").
    if stopping {
        let _ = stop.send(());
    }
    written
}

/// Serves the view's pipe on threads until the process ends; `stop` hears `stop` requests.
fn serve_pipe(view: Arc<View<WindowsBacking>>, at: Endpoint, stop: mpsc::Sender<()>) -> Result<(), String> {
    let name = wide(&pipe_name(&at.mountpoint));
    let security = Descriptor::owner_and_admins()?;
    let mut next = pipe_instance(&name, &security, true)
        .map_err(|e| format!("{e} (is another daemon serving {}?)", at.mountpoint))?;
    std::thread::Builder::new()
        .name("control".into())
        .spawn(move || {
            loop {
                let raw = HANDLE(std::os::windows::io::AsRawHandle::as_raw_handle(&next));
                // SAFETY: a pipe instance we own; blocks until a client connects.
                let connected = unsafe { ConnectNamedPipe(raw, None) };
                let ready = match connected {
                    Ok(()) => true,
                    Err(e) => e.code() == ERROR_PIPE_CONNECTED.to_hresult(),
                };
                // The next client gets a new instance while this one is answered.
                let fresh = match pipe_instance(&name, &security, false) {
                    Ok(p) => p,
                    Err(e) => {
                        tracing::error!(error = %e, "control pipe");
                        return;
                    }
                };
                let this = std::mem::replace(&mut next, fresh);
                if ready {
                    let (view, at, stop) = (Arc::clone(&view), at.clone(), stop.clone());
                    std::thread::spawn(move || {
                        if let Err(e) = serve_one(&view, &at, this, &stop) {
                            tracing::debug!(error = %e, "control connection ended");
                        }
                    });
                }
            }
        })
        .map_err(|e| format!("control thread: {e}"))?;
    Ok(())
}

/// Whether the server at the other end of `pipe` is this user or an elevated process.
fn trusted_server(pipe: &File) -> Result<(), String> {
    let raw = HANDLE(std::os::windows::io::AsRawHandle::as_raw_handle(pipe));
    let mut pid = 0u32;
    // SAFETY: a pipe handle we hold open.
    unsafe { GetNamedPipeServerProcessId(raw, &mut pid) }.map_err(|e| format!("control pipe server: {e}"))?;
    // SAFETY: opening a process by id for a query; the handle is owned below.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid) }
        .map_err(|e| format!("control pipe server process {pid}: {e}"))?;
    // SAFETY: a process handle just opened, owned from here on.
    let process = unsafe { OwnedHandle::from_raw_handle(process.0) };
    let mut token = HANDLE::default();
    let p = HANDLE(std::os::windows::io::AsRawHandle::as_raw_handle(&process));
    // SAFETY: a process handle we own; `token` receives a handle owned below.
    unsafe { OpenProcessToken(p, TOKEN_QUERY, &mut token) }.map_err(|e| format!("server token: {e}"))?;
    // SAFETY: a token handle just opened.
    let token = unsafe { OwnedHandle::from_raw_handle(token.0) };
    if elevated(&token) || token_sid(&token)? == my_sid()? {
        Ok(())
    } else {
        Err(format!("the control pipe is served by process {pid}, not an administrator or you"))
    }
}

/// Whether a pipe named `name` exists, without connecting to it (a connection would take an
/// instance from a live server, and a busy or forbidden pipe still exists).
fn pipe_exists(name: &str) -> bool {
    let wide_name = wide(name);
    // SAFETY: a NUL-terminated name; waits at most 1 ms.
    if unsafe { WaitNamedPipeW(PCWSTR(wide_name.as_ptr()), 1) }.as_bool() {
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() != Some(ERROR_FILE_NOT_FOUND.0 as i32)
}

/// Opens the client end of pipe `name`, waiting a little while every instance is busy (the
/// server makes a new one after each connection). The server may only identify the client,
/// never act as it (SECURITY_IDENTIFICATION): a server squatting the name gains nothing.
fn open_pipe(name: &str) -> std::io::Result<File> {
    let wide_name = wide(name);
    let mut tries = 0;
    loop {
        let opened = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .security_qos_flags(SECURITY_IDENTIFICATION.0)
            .open(name);
        match opened {
            Err(e) if e.raw_os_error() == Some(ERROR_PIPE_BUSY.0 as i32) && tries < 5 => {
                tries += 1;
                // SAFETY: a NUL-terminated name; waits at most 2 s for a free instance.
                let _ = unsafe { WaitNamedPipeW(PCWSTR(wide_name.as_ptr()), 2000) };
            }
            other => return other,
        }
    }
}

/// Sends one request to the view mounted at `mountpoint`.
fn call(mountpoint: &AbsPath, request: &Request) -> Result<Reply, String> {
    let name = pipe_name(mountpoint);
    let pipe = open_pipe(&name).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("no live view at {mountpoint}"),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_owned(),
        _ => format!("control pipe of {mountpoint}: {e}"),
    })?;
    trusted_server(&pipe)?;
    let mut text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    text.push('\n');
    (&pipe).write_all(text.as_bytes()).map_err(|e| format!("control pipe of {mountpoint}: {e}"))?;
    let mut line = String::new();
    BufReader::new(&pipe).read_line(&mut line).map_err(|e| format!("control pipe of {mountpoint}: {e}"))?;
    serde_json::from_str(&line).map_err(|_| format!("the daemon of {mountpoint} gave no answer"))
}

/// The view `path` is in: the nearest ancestor (or itself) whose pipe exists.
fn view_of(path: &AbsPath) -> Result<AbsPath, String> {
    let mut candidate = Some(path.clone());
    while let Some(p) = candidate {
        if pipe_exists(&pipe_name(&p)) {
            return Ok(p);
        }
        candidate = p.path.parent().map(|path| AbsPath { root: p.root.clone(), path });
    }
    Err(format!("{path} is not inside a live view"))
}

fn checked(reply: Reply) -> Result<Reply, String> {
    match reply.error {
        Some(e) => Err(e),
        None => Ok(reply),
    }
}

/// `link create`.
pub fn link_create(
    virt: &Path,
    backing: &Path,
    read_only: bool,
    merged: bool,
    except: &[PathBuf],
) -> Result<(), String> {
    let v = absolute(virt)?;
    let mountpoint = view_of(&v)?;
    let backing = backing_path(backing, &mountpoint)?;
    let except = except.iter().map(|e| absolute(e).map(|a| a.to_string())).collect::<Result<Vec<_>, _>>()?;
    let request =
        Request::Create { virt: v.to_string(), backing: backing.to_string(), read_only, merged, except };
    checked(call(&mountpoint, &request)?).map(|_| ())
}

/// `link remove`.
pub fn link_remove(virt: &Path) -> Result<(), String> {
    let v = absolute(virt)?;
    let mountpoint = view_of(&v)?;
    checked(call(&mountpoint, &Request::Remove { virt: v.to_string() })?).map(|_| ())
}

/// `link list`: the views' links, as text or JSON.
pub fn link_list(mountpoint: Option<&Path>, json: bool, out: &mut dyn Write) -> Result<(), String> {
    let replies = match mountpoint {
        Some(m) => vec![checked(call(&absolute(m)?, &Request::List)?)?],
        None => all_views()?,
    };
    let io = |e: std::io::Error| e.to_string();
    if json {
        let text = serde_json::to_string_pretty(&replies).map_err(|e| e.to_string())?;
        return writeln!(out, "{text}").map_err(io);
    }
    for reply in replies {
        for l in reply.links {
            writeln!(out, "{l}").map_err(io)?;
        }
    }
    Ok(())
}

/// Every live view this user may ask: one reply each.
fn all_views() -> Result<Vec<Reply>, String> {
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
        let mut text = serde_json::to_string(&Request::List).map_err(|e| e.to_string())?;
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

/// `unmount`: asks the daemon to stop and waits until its pipe is gone.
pub fn unmount(mountpoint: &Path) -> Result<(), String> {
    let m = absolute(mountpoint)?;
    checked(call(&m, &Request::Stop)?)?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while pipe_exists(&pipe_name(&m)) {
        if Instant::now() >= deadline {
            return Err(format!("the daemon of {m} did not stop within 10 s"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// The backing path of a link in the view at `mountpoint`: a path inside the view stays as
/// written, so the core sees it under the mount point and resolves it in the view (rule 9);
/// `canonicalize` would answer from inside the WinFsp volume with another spelling (`\\?\`, long
/// names for 8.3 ones, a volume GUID), which the core would take for a host path: the service
/// would then open its own volume, from inside its own request handlers. Any other path is
/// canonicalized.
fn backing_path(backing: &Path, mountpoint: &AbsPath) -> Result<AbsPath, String> {
    let lexical = absolute(backing)?;
    if lexical.strip_prefix(mountpoint, CasePolicy::Insensitive).is_some() {
        return Ok(lexical);
    }
    match std::fs::canonicalize(backing) {
        Ok(real) => absolute(&real),
        Err(_) => Ok(lexical),
    }
}

/// The links of `mount` as core link specs of the view at `at`.
fn specs(at: &Endpoint, links: &[LinkArg]) -> Result<Vec<LinkSpec>, String> {
    links
        .iter()
        .map(|l| {
            let virt = absolute(&l.virt)?.to_string();
            let backing = backing_path(&l.backing, &at.mountpoint)?.to_string();
            let except =
                l.except.iter().map(|e| absolute(e).map(|a| a.to_string())).collect::<Result<Vec<_>, _>>()?;
            let flags = LinkFlags { read_only: l.read_only, merged: l.merged };
            control::link_spec(at, &virt, &backing, flags, &except)
        })
        .collect()
}

/// `mount`.
pub fn mount(request: MountRequest) -> Result<(), String> {
    if !request.foreground {
        return spawn_daemon();
    }
    let at = endpoint(absolute(&request.mountpoint)?);
    let links = specs(&at, &request.links)?;
    let mut config = MountConfig::new(request.mountpoint.clone(), request.lower.clone());
    config.cache_ttl = request.cache_ttl;
    let mounted =
        host::mount(&config, links).map_err(|e| format!("{}: {e}", request.mountpoint.display()))?;
    let (stop_tx, stop_rx) = mpsc::channel();
    serve_pipe(mounted.shared_view(), at, stop_tx)?;
    println!("{READY}");
    let _ = std::io::stdout().flush();
    let _ = stop_rx.recv();
    mounted.stop();
    Ok(())
}

/// Starts a detached copy serving in the foreground, and returns once it reports the view live
/// (or fails with its first error line).
fn spawn_daemon() -> Result<(), String> {
    const DETACHED_PROCESS: u32 = 0x0000_0008;
    const CREATE_NEW_PROCESS_GROUP: u32 = 0x0000_0200;
    let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let at = args.iter().position(|a| a == "mount").map_or(0, |i| i + 1);
    args.insert(at, "--foreground".into());
    // Windows hands a child every inheritable handle of its parent, not only its stdio. Our own
    // stdio handles are inheritable (we inherited them): the daemon would keep our caller's
    // pipes open for its whole life, and a caller waiting for our output to end (a script,
    // `Command::output`) would wait until the view stops. The daemon gets its own pipes below.
    for handle in [
        std::io::stdin().as_raw_handle(),
        std::io::stdout().as_raw_handle(),
        std::io::stderr().as_raw_handle(),
    ] {
        if !handle.is_null() {
            // SAFETY: one of this process's standard handles; only its inherit flag changes.
            let _ = unsafe { SetHandleInformation(HANDLE(handle), HANDLE_FLAG_INHERIT.0, HANDLE_FLAGS(0)) };
        }
    }
    let mut child = Command::new(exe)
        .args(args)
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
    let line = err.lines().map(|l| l.trim_start_matches("bindfs-rs: ")).find(|l| !l.is_empty());
    Err(line.unwrap_or("the daemon exited before the view was live").to_owned())
}
