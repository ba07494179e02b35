//! The control socket of a live view: how `bindfs-rs link ...` reaches the running daemon.
//!
//! One Unix socket per view, in `/run/bindfs-rs` (root) or `$XDG_RUNTIME_DIR/bindfs-rs` (a user),
//! named after a hash of the mount point. A client sends one JSON request on one line and reads
//! one JSON reply line. Only root and the user who made the view may change or list its links
//! (rule 22): the daemon checks the peer's credentials (`SO_PEERCRED`) on every connection and
//! answers anyone else "permission denied". Requests are bounded in size and time, so a client
//! that sends garbage, too much, or nothing cannot stop the daemon serving.
//!
//! Paths travel as absolute, lexically normalized strings; the client resolves symlinks in a
//! backing path before sending it (the daemon never resolves paths inside its own mount).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bindfs_core::{AbsPath, CasePolicy, Link, LinkFlags, LinkSpec, Syntax, Target, VPath};
use serde::{Deserialize, Serialize};

use crate::fs::ViewHandle;

/// The largest request line accepted.
const MAX_REQUEST: u64 = 1 << 20;

/// How long a client may take to send its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// A request to the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Create a link.
    Create {
        /// The virtual path, absolute.
        #[serde(rename = "virtual")]
        virt: String,
        /// The backing path, absolute, symlinks resolved.
        backing: String,
        /// Rule 13.
        #[serde(default)]
        read_only: bool,
        /// Rule 11.
        #[serde(default)]
        merged: bool,
        /// Exception paths, absolute.
        #[serde(default)]
        except: Vec<String>,
    },
    /// Remove the link at a virtual path.
    Remove {
        /// The virtual path, absolute.
        #[serde(rename = "virtual")]
        virt: String,
    },
    /// List the links.
    List,
}

/// A link as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The virtual path, absolute.
    #[serde(rename = "virtual")]
    pub virt: String,
    /// The backing path, absolute.
    pub backing: String,
    /// Rule 13.
    pub read_only: bool,
    /// Rule 11.
    pub merged: bool,
    /// Rule 5: the virtual path did not exist when the link was made.
    pub anchorless: bool,
    /// Exception paths, absolute.
    pub except: Vec<String>,
}

/// The daemon's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reply {
    /// The view's mount point.
    pub mountpoint: String,
    /// The error, one line, when the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The links, for `list`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkInfo>,
}

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

/// A path of the view at `mountpoint` from an absolute path string.
fn inside(mountpoint: &AbsPath, path: &str, what: &str) -> Result<VPath, String> {
    let abs = AbsPath::parse(path, Syntax::Posix).map_err(|e| format!("{what} {path}: {e}"))?;
    abs.strip_prefix(mountpoint, CasePolicy::Sensitive)
        .ok_or_else(|| format!("{what} {path} is not inside the view at {mountpoint}"))
}

/// A create request as a core link spec of the view at `mountpoint`. A backing inside the view
/// becomes a chain (rule 9), so the daemon never reaches into its own mount.
pub fn link_spec(
    mountpoint: &AbsPath,
    virt: &str,
    backing: &str,
    flags: LinkFlags,
    except: &[String],
) -> Result<LinkSpec, String> {
    let virt_path = inside(mountpoint, virt, "virtual path")?;
    let exceptions = except.iter().map(|e| inside(mountpoint, e, "exception")).collect::<Result<_, _>>()?;
    let b = AbsPath::parse(backing, Syntax::Posix).map_err(|e| format!("backing {backing}: {e}"))?;
    let target = match b.strip_prefix(mountpoint, CasePolicy::Sensitive) {
        Some(rel) => Target::View(rel),
        None => Target::Host(Arc::new(b)),
    };
    Ok(LinkSpec { virt: virt_path, target, flags, exceptions })
}

fn info(mountpoint: &AbsPath, link: &Link) -> LinkInfo {
    let abs = |p: &VPath| mountpoint.join(p.names()).to_string();
    LinkInfo {
        virt: abs(&link.virt),
        backing: match &link.target {
            Target::Host(p) => p.to_string(),
            Target::View(p) => abs(p),
        },
        read_only: link.flags.read_only,
        merged: link.flags.merged,
        anchorless: link.anchorless,
        except: link.exceptions.iter().map(abs).collect(),
    }
}

/// Carries out one request on the view.
pub fn handle(view: &ViewHandle, mountpoint: &AbsPath, request: Request) -> Reply {
    let mut reply = Reply { mountpoint: mountpoint.to_string(), error: None, links: Vec::new() };
    let outcome = match request {
        Request::Create { virt, backing, read_only, merged, except } => {
            link_spec(mountpoint, &virt, &backing, LinkFlags { read_only, merged }, &except)
                .and_then(|spec| view.create_link(spec).map(|_| ()).map_err(|e| format!("{virt}: {e}")))
        }
        Request::Remove { virt } => inside(mountpoint, &virt, "virtual path")
            .and_then(|v| view.remove_link(&v).map(|_| ()).map_err(|e| format!("{virt}: {e}"))),
        Request::List => {
            reply.links = view.view().links().iter().map(|l| info(mountpoint, l)).collect();
            Ok(())
        }
    };
    reply.error = outcome.err();
    reply
}

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
    /// Binds the socket (replacing a stale one) and starts answering on a thread.
    pub fn start(view: ViewHandle, mountpoint: AbsPath) -> std::io::Result<Server> {
        let real = PathBuf::from(mountpoint.to_string());
        let dir = socket_dir();
        prepare_socket_dir(&dir)?;
        let path = socket_path(&real);
        // A daemon whose view was just unmounted may still be on its way out: give it a moment.
        if UnixStream::connect(&path).is_ok() && !wait_until_gone(&real, Duration::from_secs(5)) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("a daemon already serves {mountpoint}"),
            ));
        }
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let identity = identity(&path);
        // Anyone may connect; the daemon answers only root and its own user.
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o666))?;
        let owner = rustix::process::geteuid();
        std::thread::Builder::new().name("control".into()).spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Err(e) = serve_one(&view, &mountpoint, owner, stream) {
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
    view: &ViewHandle,
    mountpoint: &AbsPath,
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
    let reply = if !peer.uid.is_root() && peer.uid != owner {
        Reply {
            mountpoint: mountpoint.to_string(),
            error: Some("permission denied".into()),
            links: Vec::new(),
        }
    } else {
        match serde_json::from_str::<Request>(&line) {
            Ok(request) => handle(view, mountpoint, request),
            Err(e) => Reply {
                mountpoint: mountpoint.to_string(),
                error: Some(format!("bad request: {e}")),
                links: Vec::new(),
            },
        }
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
    let candidates = candidate_sockets(mountpoint);
    let path = candidates.iter().find(|p| p.exists()).cloned().unwrap_or_else(|| candidates[0].clone());
    let stream = UnixStream::connect(&path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            format!("no live view at {} (its daemon is not running)", mountpoint.display())
        }
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => format!("control socket {}: {e}", path.display()),
    })?;
    let io = |e: std::io::Error| format!("control socket {}: {e}", path.display());
    // Only a daemon of root or of this user may answer (not someone who took the socket's name).
    let server = rustix::net::sockopt::socket_peercred(&stream).map_err(|e| io(e.into()))?;
    let me = rustix::process::geteuid();
    if !server.uid.is_root() && server.uid != me {
        return Err(format!(
            "control socket {} is served by user {}, not root or you",
            path.display(),
            server.uid.as_raw()
        ));
    }
    stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(io)?;
    let mut text = serde_json::to_string(request).map_err(|e| e.to_string())?;
    text.push('\n');
    // A daemon that refuses may close before reading all of it: its answer still says why.
    let sent = (&stream).write_all(text.as_bytes());
    let mut line = String::new();
    BufReader::new(&stream).read_line(&mut line).map_err(io)?;
    match serde_json::from_str(&line) {
        Ok(reply) => Ok(reply),
        Err(_) => Err(match sent {
            Err(e) => io(e),
            Ok(()) => format!("the daemon of {} gave no answer", mountpoint.display()),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip_and_unknown_fields_are_refused() {
        let r = Request::Create {
            virt: "/m/a".into(),
            backing: "/srv/b".into(),
            read_only: true,
            merged: false,
            except: vec!["/m/a/x".into()],
        };
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains("\"op\":\"create\"") && text.contains("\"virtual\":\"/m/a\""), "{text}");
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert!(
            serde_json::from_str::<Request>(r#"{"op":"create","virtual":"/a","backing":"/b","x":1}"#)
                .is_err()
        );
        assert!(serde_json::from_str::<Request>("garbage").is_err());
    }

    #[test]
    fn specs_map_paths_into_the_view() {
        let mnt = AbsPath::parse("/mnt/v", Syntax::Posix).unwrap();
        let s =
            link_spec(&mnt, "/mnt/v/a", "/mnt/v/b", LinkFlags::default(), &["/mnt/v/a/x".into()]).unwrap();
        assert_eq!(s.virt, VPath::parse("/a").unwrap());
        assert_eq!(s.target, Target::View(VPath::parse("/b").unwrap()));
        assert_eq!(s.exceptions, vec![VPath::parse("/a/x").unwrap()]);
        let err = link_spec(&mnt, "/elsewhere", "/srv", LinkFlags::default(), &[]).unwrap_err();
        assert!(err.contains("not inside the view"), "{err}");
        let root = link_spec(&mnt, "/mnt/v", "/srv/x", LinkFlags::default(), &[]).unwrap();
        assert!(root.virt.is_root() && matches!(root.target, Target::Host(_)));
    }

    #[test]
    fn every_view_has_its_own_socket() {
        assert_ne!(socket_path(Path::new("/mnt/a")), socket_path(Path::new("/mnt/b")));
        assert_eq!(socket_path(Path::new("/mnt/a")), socket_path(Path::new("/mnt/a")));
    }
}
