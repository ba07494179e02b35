//! The control socket of a live view: how `bindfs-rs link ...` reaches the running daemon.
//!
//! One Unix socket per view, in `/run/bindfs-rs` (root) or `$XDG_RUNTIME_DIR/bindfs-rs` (a user),
//! named after a hash of the mount point. A client sends one JSON request on one line and reads
//! one JSON reply line. Only root and the user who made the view may change or list its links
//! (rule 22): the daemon checks the peer's credentials (`SO_PEERCRED`) on every connection and
//! answers anyone else "permission denied". Every link change it is asked for, made or refused,
//! is logged at info level with the caller's uid ([`audit`]). Requests are bounded in size and
//! time, so a client that sends garbage, too much, or nothing cannot stop the daemon serving.
//!
//! The protocol itself (requests, replies, how they act on the links) is the core's
//! [`bindfs_core::control`], shared with the Windows daemon.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bindfs_core::control::audit::{self, Caller};
pub use bindfs_core::control::{
    Applied, LinkInfo, Live, Reply, Request, StatusInfo, WantedLink, WhichInfo, link_spec,
};
use bindfs_core::control::{Endpoint, LinkControl, Settings, denied, handle, refusal};
use bindfs_core::hresult;
use bindfs_core::{AbsPath, CasePolicy, Link, LinkId, LinkSpec, Syntax, VPath};

use crate::fs::ViewHandle;

/// The largest request line accepted.
const MAX_REQUEST: u64 = 1 << 20;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The directory holding the control sockets of this user's views.
pub fn socket_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/run/bindfs-rs");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir).join("bindfs-rs"),
        _ => std::env::temp_dir().join(format!("bindfs-rs-{}", rustix::process::geteuid().as_raw())),
    }
}

/// The control socket of the view mounted at `mountpoint` (absolute, canonical): named by a
/// stable hash (FNV-1a) of the path, the same for every build.
pub fn socket_path(mountpoint: &Path) -> PathBuf {
    let hash = mountpoint
        .as_os_str()
        .as_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3));
    socket_dir().join(format!("{hash:016x}.sock"))
}

/// Creates (or checks) the socket directory: it must belong to the daemon's user and be
/// writable by nobody else, or another user could replace a view's socket with their own.
fn prepare_socket_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    std::fs::create_dir_all(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    let me = rustix::process::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me {
        return Err(std::io::Error::other(format!(
            "control directory {} is not a directory of user {me}",
            dir.display()
        )));
    }
    let mode = if me == 0 { 0o755 } else { 0o700 };
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
}

/// The view at `mountpoint` as the protocol addresses it (POSIX paths, compared exactly).
pub fn endpoint(mountpoint: AbsPath) -> Endpoint {
    Endpoint { mountpoint, syntax: Syntax::Posix, policy: CasePolicy::Sensitive }
}

impl LinkControl for ViewHandle {
    fn create_link(&self, spec: LinkSpec) -> bindfs_core::Result<LinkId> {
        ViewHandle::create_link(self, spec)
    }

    fn remove_link(&self, virt: &VPath) -> bindfs_core::Result<Link> {
        ViewHandle::remove_link(self, virt)
    }

    fn links(&self) -> Vec<Link> {
        self.view().links()
    }

    fn which(&self, path: &VPath) -> bindfs_core::Result<(bindfs_core::Which, Option<AbsPath>)> {
        // The on-disk layer is the mount point's own content (None: the protocol says so).
        Ok((self.view().which(path)?, None))
    }

    fn settings(&self) -> Settings {
        Settings { cache_ttl: self.cache_ttl(), passthrough: Some(self.passthrough()) }
    }

    fn check_steps(&self, steps: &[bindfs_core::plan::Step]) -> Result<(), (usize, bindfs_core::Error)> {
        self.view().check_steps(steps)
    }
}

/// How often links waiting for their backing are tried again.
const RETRY_PENDING: Duration = Duration::from_secs(1);

/// Serves the control socket of the view at `mountpoint` until the process ends.
#[derive(Debug)]
pub struct Server {
    path: PathBuf,
    /// The socket file's identity, so the daemon removes only its own socket (a new daemon on
    /// the same mount point may have replaced it).
    identity: Option<(u64, u64)>,
}

fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Waits (a bounded time) until no daemon answers on the control socket of `mountpoint`: one
/// whose view was just unmounted is on its way out.
pub fn wait_until_gone(mountpoint: &Path, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    loop {
        let alive = candidate_sockets(mountpoint).iter().any(|p| UnixStream::connect(p).is_ok());
        if !alive {
            return true;
        }
        if std::time::Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Server {
    /// Binds the socket (replacing a stale one) and starts answering on a thread; links
    /// waiting in `view` are tried again every second.
    pub fn start(view: std::sync::Arc<Live<ViewHandle>>, mountpoint: AbsPath) -> std::io::Result<Server> {
        let real = PathBuf::from(mountpoint.to_string());
        let at = endpoint(mountpoint);
        let dir = socket_dir();
        prepare_socket_dir(&dir)?;
        let path = socket_path(&real);
        // A daemon whose view was just unmounted may still be on its way out: give it a moment.
        if UnixStream::connect(&path).is_ok() && !wait_until_gone(&real, Duration::from_secs(5)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("a daemon already serves {}", at.mountpoint),
            ));
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let identity = identity(&path);
        // Anyone may connect; the daemon answers only root and its own user.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
        let owner = rustix::process::geteuid();
        bindfs_core::control::spawn_retry(std::sync::Arc::clone(&view), RETRY_PENDING)?;
        std::thread::Builder::new().name("control".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Err(e) = serve_one(&view, &at, owner, stream) {
                    tracing::debug!(error = %e, "control connection ended");
                }
            }
        })?;
        Ok(Server { path, identity })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.identity.is_some() && identity(&self.path) == self.identity {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn serve_one(
    view: &Live<ViewHandle>,
    at: &Endpoint,
    owner: rustix::process::Uid,
    stream: UnixStream,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(REQUEST_TIMEOUT))?;
    stream.set_write_timeout(Some(REQUEST_TIMEOUT))?;
    let peer = rustix::net::sockopt::socket_peercred(&stream)?;
    let mut writer = stream.try_clone()?;
    // The request is read in every case, so a refused client reads its answer, not EPIPE.
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_REQUEST)).read_line(&mut line)?;
    let caller = Caller::Uid(peer.uid.as_raw());
    let reply = match serde_json::from_str::<Request>(&line) {
        Ok(request) if !peer.uid.is_root() && peer.uid != owner => {
            let reply = denied(at);
            audit::log_request(&request, &reply, caller);
            reply
        }
        _ if !peer.uid.is_root() && peer.uid != owner => denied(at),
        Ok(request) => {
            let reply = handle(view, at, request.clone());
            audit::log_request(&request, &reply, caller);
            reply
        }
        Err(e) => refusal(at, format!("bad request: {e}")),
    };
    let mut text = serde_json::to_string(&reply).map_err(std::io::Error::other)?;
    text.push('\n');
    writer.write_all(text.as_bytes())
}

/// Where the daemon of the view at `mountpoint` may listen: this user's socket directory, then
/// root's (a view root made is answered, and refused to others, by root's daemon).
fn candidate_sockets(mountpoint: &Path) -> Vec<PathBuf> {
    let own = socket_path(mountpoint);
    let root = Path::new("/run/bindfs-rs").join(own.file_name().unwrap_or_default());
    if own == root { vec![own] } else { vec![own, root] }
}

/// Sends one request to the daemon of the view at `mountpoint` and returns its reply.
pub fn call(mountpoint: &Path, request: &Request) -> Result<Reply, String> {
    try_call(mountpoint, request).map_err(|e| e.message)
}

/// Why a request did not reach a daemon or got no answer: the one-line message and the
/// `HRESULT` of the bind link API ([`bindfs_core::hresult`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallError {
    /// One line naming the problem.
    pub message: String,
    /// Its `HRESULT`.
    pub hresult: u32,
}

/// [`call`], telling why a request failed with an `HRESULT` as well.
pub fn try_call(mountpoint: &Path, request: &Request) -> Result<Reply, CallError> {
    let fail = |message: String, hresult: u32| CallError { message, hresult };
    let candidates = candidate_sockets(mountpoint);
    let path = candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| candidates[0].clone());
    let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => fail(
            format!("no live view at {} (its daemon is not running)", mountpoint.display()),
            hresult::SERVICE_NOT_ACTIVE,
        ),
        std::io::ErrorKind::PermissionDenied => fail("permission denied".to_string(), hresult::ACCESS_DENIED),
        _ => fail(format!("control socket {}: {e}", path.display()), hresult::BROKEN_PIPE),
    })?;
    let io =
        |e: std::io::Error| fail(format!("control socket {}: {e}", path.display()), hresult::BROKEN_PIPE);
    // Only a daemon of root or of this user may answer (not someone who took the socket's name).
    let server = rustix::net::sockopt::socket_peercred(&stream).map_err(|e| io(e.into()))?;
    let me = rustix::process::geteuid();
    if !server.uid.is_root() && server.uid != me {
        return Err(fail(
            format!(
                "control socket {} is served by user {}, not root or you",
                path.display(),
                server.uid.as_raw()
            ),
            hresult::ACCESS_DENIED,
        ));
    }
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(io)?;
    let mut text = serde_json::to_string(request).map_err(|e| fail(e.to_string(), hresult::E_UNEXPECTED))?;
    text.push('\n');
    // A daemon that refuses may close before reading all of it: its answer still says why.
    let sent = (&stream).write_all(text.as_bytes());
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(io)?;
    match serde_json::from_str(&line) {
        Ok(reply) => Ok(reply),
        Err(_) => Err(match sent {
            Err(e) => io(e),
            Ok(()) => {
                fail(format!("the daemon of {} gave no answer", mountpoint.display()), hresult::BROKEN_PIPE)
            }
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_view_has_its_own_socket() {
        assert_ne!(socket_path(Path::new("/mnt/a")), socket_path(Path::new("/mnt/b")));
        assert_eq!(socket_path(Path::new("/mnt/a")), socket_path(Path::new("/mnt/a")));
    }
}
