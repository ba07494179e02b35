//! The control socket of a live view: how `bindfs-rs link ...` reaches the running daemon.
//!
//! One Unix socket per view, in `/run/bindfs-rs` (root) or `$XDG_RUNTIME_DIR/bindfs-rs` (a user),
//! named after a hash of the mount point. A client sends one JSON request on one line and reads
//! one JSON reply line. Only root and the user who made the view may change or list its links
//! (rule 22): the daemon checks the peer's credentials (`SO_PEERCRED`) on every connection and
//! answers anyone else "permission denied". Root's clients also reach a view another user
//! mounted, in that user's socket directory, trusted only as [`candidate_sockets`] tells.
//! Every link change it is asked for, made or refused,
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
        let alive = candidate_sockets(mountpoint).iter().any(|c| UnixStream::connect(&c.path).is_ok());
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

/// A socket the daemon of a view may listen on, and whose daemon a client may trust there.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Candidate {
    path: PathBuf,
    /// Besides root and the caller: the user whose daemon may answer (the view's owner, for a
    /// socket found in that user's directory).
    owner: Option<u32>,
}

/// Where the daemon of the view at `mountpoint` may listen: this user's socket directory, then
/// root's (a view root made is answered, and refused to others, by root's daemon), then the
/// socket directory of the user who mounted the view (review point 3 of issue 15: root may
/// change every view's links, rule 22, so its clients must reach a user's daemon).
///
/// A user's socket directory depends on that user's `XDG_RUNTIME_DIR`, which another process
/// cannot know: the socket is found by name (the hash of the mount point) among the listening
/// sockets of `/proc/net/unix`, and trusted only if the view's owner (`user_id=` of the mount,
/// which the kernel sets from the mounting user) owns both the socket and its directory and
/// nobody else can write that directory, so no unrelated user can plant it; [`try_call`] then
/// checks that the daemon answering is that user (or root).
fn candidate_sockets(mountpoint: &Path) -> Vec<Candidate> {
    let own = socket_path(mountpoint);
    let root = Path::new("/run/bindfs-rs").join(own.file_name().unwrap_or_default());
    let mut out = vec![Candidate { path: own.clone(), owner: None }];
    if own != root {
        out.push(Candidate { path: root, owner: None });
    }
    let me = rustix::process::geteuid().as_raw();
    if let Some(owner) = mount_owner(mountpoint).filter(|o| *o != me && *o != 0) {
        let name = own.file_name().unwrap_or_default();
        out.extend(
            listening_sockets()
                .into_iter()
                .filter(|p| p.file_name() == Some(name) && owned_by(p, owner))
                .map(|path| Candidate { path, owner: Some(owner) }),
        );
    }
    out
}

/// The user who mounted the view at `mountpoint` (`user_id=` of its entry in
/// `/proc/self/mountinfo`).
fn mount_owner(mountpoint: &Path) -> Option<u32> {
    let want = escaped_bytes(mountpoint);
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    // The last entry at that path is the one on top.
    table.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        if left.split(' ').nth(4)?.as_bytes() != want.as_slice() {
            return None;
        }
        let options = right.split(' ').nth(2)?;
        options.split(',').find_map(|o| o.strip_prefix("user_id=")?.parse().ok())
    })
}

/// `path`'s bytes as the mount table writes them.
fn escaped_bytes(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in path.as_os_str().as_bytes() {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => out.extend(format!("\\{b:03o}").bytes()),
            _ => out.push(b),
        }
    }
    out
}

/// The paths of the listening Unix sockets of this network namespace (`/proc/net/unix`).
fn listening_sockets() -> Vec<PathBuf> {
    /// `__SO_ACCEPTCON`: the socket listens.
    const LISTENING: u32 = 0x0001_0000;
    let Ok(table) = std::fs::read_to_string("/proc/net/unix") else { return Vec::new() };
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.splitn(8, ' ').collect();
            let flags = u32::from_str_radix(fields.get(3)?, 16).ok()?;
            let path = fields.get(7)?.trim_start();
            (flags & LISTENING != 0 && path.starts_with('/')).then(|| PathBuf::from(path))
        })
        .collect()
}

/// Whether `socket` and its directory belong to user `uid`, the directory being a real
/// directory nobody else may write (so only `uid` or root can have put the socket there).
fn owned_by(socket: &Path, uid: u32) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let Some(dir) = socket.parent() else { return false };
    let (Ok(d), Ok(s)) = (std::fs::symlink_metadata(dir), std::fs::symlink_metadata(socket)) else {
        return false;
    };
    d.is_dir() && d.uid() == uid && d.mode() & 0o022 == 0 && s.file_type().is_socket() && s.uid() == uid
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
    let chosen = candidates.iter().find(|c| c.path.exists()).unwrap_or(&candidates[0]);
    let path = chosen.path.clone();
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
    // Only a daemon of root or of this user may answer (not someone who took the socket's name),
    // or, in the directory of the view's owner, that owner's.
    let server = rustix::net::sockopt::socket_peercred(&stream).map_err(|e| io(e.into()))?;
    let me = rustix::process::geteuid();
    if !server.uid.is_root() && server.uid != me && chosen.owner != Some(server.uid.as_raw()) {
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

    /// Review point 3 of issue 15: a socket in another user's directory is trusted only when
    /// that user owns it and its directory, and nobody else may write the directory.
    #[test]
    fn a_socket_is_trusted_only_in_its_owners_closed_directory() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let sock = dir.path().join("0123456789abcdef.sock");
        let _listener = UnixListener::bind(&sock).unwrap();
        let me = rustix::process::geteuid().as_raw();
        assert!(owned_by(&sock, me));
        assert!(!owned_by(&sock, me.wrapping_add(1)), "another user's");
        assert!(listening_sockets().contains(&sock));
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(!owned_by(&sock, me), "a directory others may write");
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        let file = dir.path().join("plain.sock");
        std::fs::write(&file, b"").unwrap();
        assert!(!owned_by(&file, me), "not a socket");
    }

    #[test]
    fn mount_points_are_escaped_as_the_mount_table_writes_them() {
        assert_eq!(escaped_bytes(Path::new("/mnt/a b\\c")), b"/mnt/a\\040b\\134c".to_vec());
        assert_eq!(mount_owner(Path::new("/no/such/mount/point")), None);
    }
}
