//! The control protocol of a live view, the same on every platform: the requests a
//! `bindfs-rs link ...` client sends to the daemon serving a view (create, remove, list), the
//! reply, and how a request is carried out on the view's links. Each backend carries it over
//! its own channel (a Unix socket on Linux, a named pipe on Windows), one JSON object a line,
//! and checks who is asking before calling [`handle`].
//!
//! Paths travel as absolute, lexically normalized strings in the platform's syntax; the client
//! resolves symlinks in a backing path before sending it (a daemon never resolves paths inside
//! its own mount).

use std::sync::Arc;

pub mod audit;
mod wait;

pub use wait::{Live, Waiting, apply, apply_unlogged, spawn_retry};

use serde::{Deserialize, Serialize};

use crate::plan::Step;
use crate::{
    AbsPath, Backing, CasePolicy, FileKind, LayerRoot, Link, LinkFlags, LinkId, LinkSpec, Origin, Result,
    Served, Syntax, Target, VPath, View, Which,
};

/// What a live view offers the control channel: its links.
pub trait LinkControl {
    /// Creates a link (and makes the platform drop what it cached about its path).
    fn create_link(&self, spec: LinkSpec) -> Result<LinkId>;
    /// Removes the link at `virt`.
    fn remove_link(&self, virt: &VPath) -> Result<Link>;
    /// The links, in creation order.
    fn links(&self) -> Vec<Link>;
    /// Which link and layers serve `path` (`link which`), and the host path of the on-disk
    /// layer's root when the store knows it (else it is the mount point, covered by the view).
    fn which(&self, path: &VPath) -> Result<(Which, Option<AbsPath>)>;
    /// How the view serves, for `status`.
    fn settings(&self) -> Settings;
    /// Tries `steps` without changing anything ([`View::check_steps`]): the index of the first
    /// step the rules refuse, with why.
    fn check_steps(&self, steps: &[Step]) -> std::result::Result<(), (usize, crate::Error)>;
    /// The links waiting for their backing (optional links), where the channel keeps them
    /// ([`Live`]); `None`: a view served without them.
    fn waiting(&self) -> Option<&Waiting> {
        None
    }
}

/// How a view serves, as `status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// How long what the view shows may be cached.
    pub cache_ttl: std::time::Duration,
    /// Whether the kernel does open files' I/O on the backing files; `None` where there is no
    /// such thing (WinFsp).
    pub passthrough: Option<bool>,
}

/// A view without platform caches to drop (the in-memory store, a WinFsp view whose file info
/// expires with its TTL) is controlled directly.
impl<B: Backing> LinkControl for View<B> {
    fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
        View::create_link(self, spec)
    }

    fn remove_link(&self, virt: &VPath) -> Result<Link> {
        View::remove_link(self, virt)
    }

    fn links(&self) -> Vec<Link> {
        View::links(self)
    }

    fn which(&self, path: &VPath) -> Result<(Which, Option<AbsPath>)> {
        Ok((View::which(self, path)?, self.backing().disk_root_path()))
    }

    fn settings(&self) -> Settings {
        Settings { cache_ttl: self.cache_time(), passthrough: None }
    }

    fn check_steps(&self, steps: &[Step]) -> std::result::Result<(), (usize, crate::Error)> {
        View::check_steps(self, steps)
    }
}

impl<T: LinkControl> LinkControl for Arc<T> {
    fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
        T::create_link(self, spec)
    }

    fn remove_link(&self, virt: &VPath) -> Result<Link> {
        T::remove_link(self, virt)
    }

    fn links(&self) -> Vec<Link> {
        T::links(self)
    }

    fn which(&self, path: &VPath) -> Result<(Which, Option<AbsPath>)> {
        T::which(self, path)
    }

    fn settings(&self) -> Settings {
        T::settings(self)
    }

    fn check_steps(&self, steps: &[Step]) -> std::result::Result<(), (usize, crate::Error)> {
        T::check_steps(self, steps)
    }

    fn waiting(&self) -> Option<&Waiting> {
        T::waiting(self)
    }
}

/// Where a view is mounted, and how its paths are spelled and compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The mount point, absolute.
    pub mountpoint: AbsPath,
    /// The syntax of the paths clients send.
    pub syntax: Syntax,
    /// How names compare (a mount point given in another case still matches on Windows).
    pub policy: CasePolicy,
}

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
    /// Tell which link and layers serve a path, and where it really is.
    Which {
        /// The path, absolute.
        path: String,
    },
    /// Tell how the view serves: its daemon, cache time, passthrough, link count.
    Status,
    /// Make the links match `links` (a links file), all or nothing: create the missing ones,
    /// remove the extra ones, replace the changed ones.
    Apply {
        /// Every link the view should have, in the file's order.
        links: Vec<WantedLink>,
    },
    /// Stop serving and unmount. Windows daemons take it from their pipe; a Linux view is
    /// unmounted through the kernel (`bindfs-rs unmount`) and refuses it.
    Stop,
}

/// One link of a links file, as `apply` carries it (paths as in [`Request::Create`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WantedLink {
    /// The virtual path, absolute.
    #[serde(rename = "virtual")]
    pub virt: String,
    /// The backing path, absolute, symlinks resolved.
    pub backing: String,
    /// Rule 13.
    #[serde(default)]
    pub read_only: bool,
    /// Rule 11.
    #[serde(default)]
    pub merged: bool,
    /// Exception paths, absolute.
    #[serde(default)]
    pub except: Vec<String>,
    /// A missing backing does not fail the request: the link waits for it (pending).
    #[serde(default)]
    pub optional: bool,
}

/// What an `apply` did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// Links created (a replaced link counts here and in `removed`).
    pub created: usize,
    /// Links removed.
    pub removed: usize,
    /// Optional links now waiting for their backing.
    pub pending: usize,
}

/// A link as `list` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkInfo {
    /// The mount point of the view the link belongs to.
    #[serde(default)]
    pub view: String,
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
    /// Made from a links file's `optional = true`: had its backing been missing, it would wait.
    #[serde(default)]
    pub optional: bool,
    /// Waiting for its backing: not a link yet (the daemon creates it when the backing appears).
    #[serde(default)]
    pub pending: bool,
}

/// `VIRTUAL -> BACKING  (flags)`, one line, as `bindfs-rs link list` prints a link.
impl std::fmt::Display for LinkInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut flags: Vec<String> = Vec::new();
        for (on, name) in [
            (self.read_only, "read-only"),
            (self.merged, "merged"),
            (self.anchorless, "anchorless"),
            (self.optional, "optional"),
        ] {
            if on {
                flags.push(name.to_owned());
            }
        }
        flags.extend(self.except.iter().map(|e| format!("except {e}")));
        if self.pending {
            flags.push("pending: waiting for its backing".to_owned());
        }
        write!(f, "{} -> {}", self.virt, self.backing)?;
        if !flags.is_empty() {
            write!(f, "  ({})", flags.join(", "))?;
        }
        Ok(())
    }
}

/// One layer that holds a name, as `which` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// `backing` (of a link) or `on-disk` (the view's own content, also when a chain leads
    /// there: a link whose backing is a path inside the view).
    pub origin: String,
    /// The virtual path of the link whose backing this is, or through whose chain the on-disk
    /// layer is reached; `None` for the on-disk layer reached directly.
    pub link: Option<String>,
    /// Where the entry is on the host.
    pub real_path: String,
    /// What it is there: `file`, `dir`, `symlink`, ...
    pub kind: String,
}

/// What `which` reports about one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhichInfo {
    /// The path asked about, absolute.
    pub path: String,
    /// The view's mount point.
    pub view: String,
    /// How the entry is served: `backing`, `on-disk`, `exception` or `synthesized`.
    pub layer: String,
    /// The deepest link serving the path; `None` where no link covers it.
    pub link: Option<LinkInfo>,
    /// For `exception`: the exception path covering the path.
    pub exception: Option<String>,
    /// For `exception`: the virtual path of the link that does not apply there.
    pub excepted_link: Option<String>,
    /// Where the entry shown is on the host; `None` for a synthesized directory.
    pub real_path: Option<String>,
    /// Whether the entry may be changed through the view.
    pub writable: bool,
    /// Every layer holding the name, in precedence order (the first is the one shown).
    pub layers: Vec<LayerInfo>,
}

/// What `status` reports about a view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusInfo {
    /// The daemon's process id.
    pub pid: u32,
    /// Whether the kernel does open files' I/O on the backing files (`None`: not on this
    /// platform).
    pub passthrough: Option<bool>,
    /// How long what the view shows may be cached, in seconds.
    pub cache_ttl: f64,
    /// How many links the view has, the pending ones (waiting for their backing) included,
    /// as `link list` shows them.
    pub links: usize,
    /// How many of them wait for their backing (left out by older daemons: 0).
    #[serde(default)]
    pub pending: usize,
}

/// The daemon's answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reply {
    /// The view's mount point.
    pub mountpoint: String,
    /// The error, one line, when the request failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The error's `HRESULT` ([`crate::hresult`]), for the `bindlink` library and the CLI; left
    /// out by daemons older than it (a client then reports `E_FAIL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hresult: Option<u32>,
    /// The links, for `list`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkInfo>,
    /// The answer to `which`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub which: Option<WhichInfo>,
    /// The answer to `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusInfo>,
    /// What `apply` did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<Applied>,
}

/// A refusal: its one-line message and the core error it comes from.
pub(crate) type Refused = (String, crate::Error);

/// A path of the view at `at` from an absolute path string.
pub fn inside(at: &Endpoint, path: &str, what: &str) -> std::result::Result<VPath, String> {
    inside_or_refused(at, path, what).map_err(|(message, _)| message)
}

/// [`inside`], with the core error of a refusal.
fn inside_or_refused(at: &Endpoint, path: &str, what: &str) -> std::result::Result<VPath, Refused> {
    let abs = AbsPath::parse(path, at.syntax).map_err(|e| (format!("{what} {path}: {e}"), e))?;
    abs.strip_prefix(&at.mountpoint, at.policy).ok_or_else(|| {
        (format!("{what} {path} is not inside the view at {}", at.mountpoint), crate::Error::OutsideView(abs))
    })
}

/// A create request as a core link spec of the view at `at`. A backing inside the view
/// becomes a chain (rule 9), so the daemon never reaches into its own mount.
pub fn link_spec(
    at: &Endpoint,
    virt: &str,
    backing: &str,
    flags: LinkFlags,
    except: &[String],
) -> std::result::Result<LinkSpec, String> {
    spec_or_refused(at, virt, backing, flags, except).map_err(|(message, _)| message)
}

/// [`link_spec`], with the core error of a refusal.
fn spec_or_refused(
    at: &Endpoint,
    virt: &str,
    backing: &str,
    flags: LinkFlags,
    except: &[String],
) -> std::result::Result<LinkSpec, Refused> {
    let virt_path = inside_or_refused(at, virt, "virtual path")?;
    let exceptions = except
        .iter()
        .map(|e| inside_or_refused(at, e, "exception"))
        .collect::<std::result::Result<_, _>>()?;
    let b = AbsPath::parse(backing, at.syntax).map_err(|e| (format!("backing {backing}: {e}"), e))?;
    // The client has already resolved the path its platform's way (`Target::of_backing`): the
    // one spelling it sends decides again, the same way.
    let target = Target::of_backing(&at.mountpoint, at.policy, &b, || None);
    Ok(LinkSpec { virt: virt_path, target, flags, exceptions })
}

pub(crate) fn info(mountpoint: &AbsPath, link: &Link) -> LinkInfo {
    let abs = |p: &VPath| mountpoint.join(p.names()).to_string();
    LinkInfo {
        view: mountpoint.to_string(),
        virt: abs(&link.virt),
        backing: match &link.target {
            Target::Host(p) => p.to_string(),
            Target::View(p) => abs(p),
        },
        read_only: link.flags.read_only,
        merged: link.flags.merged,
        anchorless: link.anchorless,
        except: link.exceptions.iter().map(abs).collect(),
        optional: false,
        pending: false,
    }
}

fn kind_name(kind: FileKind) -> &'static str {
    match kind {
        FileKind::File => "file",
        FileKind::Dir => "dir",
        FileKind::Symlink => "symlink",
        FileKind::Fifo => "fifo",
        FileKind::Socket => "socket",
        FileKind::CharDevice => "char-device",
        FileKind::BlockDevice => "block-device",
    }
}

/// `which`'s answer for `path` (absolute) from what the view told.
fn which_info(
    view: &impl LinkControl,
    at: &Endpoint,
    path: &str,
    v: &VPath,
) -> std::result::Result<WhichInfo, Refused> {
    let (which, disk) = view.which(v).map_err(|e| (format!("{path}: {e}"), e))?;
    let mountpoint = &at.mountpoint;
    let disk = disk.unwrap_or_else(|| mountpoint.clone());
    let abs = |p: &VPath| mountpoint.join(p.names()).to_string();
    let links = view.links();
    let link_virt = |origin: Origin| match origin {
        Origin::OnDisk => None,
        Origin::Backing(id) => links.iter().find(|l| l.id == id).map(|l| abs(&l.virt)),
    };
    let layers: Vec<LayerInfo> = which
        .holders
        .iter()
        .map(|h| LayerInfo {
            // A chain tags every layer it leads to with its own link; the on-disk layer of the
            // path it leads to stays the on-disk layer (review point 12 of issue 14).
            origin: match (h.layer.origin, &h.layer.root) {
                (Origin::OnDisk, _) | (_, LayerRoot::Disk) => "on-disk".to_owned(),
                (Origin::Backing(_), LayerRoot::Host(_)) => "backing".to_owned(),
            },
            link: link_virt(h.layer.origin),
            real_path: h.layer.host_path(&disk).to_string(),
            kind: kind_name(h.kind).to_owned(),
        })
        .collect();
    let (layer, exception, excepted_link) = match &which.served {
        Served::Backing => ("backing", None, None),
        Served::OnDisk => ("on-disk", None, None),
        Served::Exception { link, exception } => ("exception", Some(abs(exception)), Some(abs(&link.virt))),
        Served::Synthesized => ("synthesized", None, None),
    };
    let real_path = match which.served {
        Served::Synthesized => None,
        _ => layers.first().map(|l| l.real_path.clone()),
    };
    Ok(WhichInfo {
        path: abs(v),
        view: mountpoint.to_string(),
        layer: layer.to_owned(),
        link: which.link.as_ref().map(|l| info(mountpoint, l)),
        exception,
        excepted_link,
        real_path,
        writable: which.writable,
        layers,
    })
}

/// The reply refusing a request with `error`.
pub fn refusal(at: &Endpoint, error: String) -> Reply {
    Reply { mountpoint: at.mountpoint.to_string(), error: Some(error), ..Reply::default() }
}

/// The reply to a caller who may not use the view (rule 22): "permission denied",
/// `ERROR_ACCESS_DENIED`.
pub fn denied(at: &Endpoint) -> Reply {
    Reply { hresult: Some(crate::hresult::ACCESS_DENIED), ..refusal(at, "permission denied".into()) }
}

/// Carries out one request on the view (the channel has already checked who asks).
pub fn handle(view: &impl LinkControl, at: &Endpoint, request: Request) -> Reply {
    let mut reply = Reply { mountpoint: at.mountpoint.to_string(), ..Reply::default() };
    let outcome: std::result::Result<(), Refused> = match request {
        Request::Create { virt, backing, read_only, merged, except } => {
            spec_or_refused(at, &virt, &backing, LinkFlags { read_only, merged }, &except)
                .and_then(|spec| view.create_link(spec).map(|_| ()).map_err(|e| (format!("{virt}: {e}"), e)))
        }
        Request::Remove { virt } => inside_or_refused(at, &virt, "virtual path").and_then(|v| {
            // A link still waiting for its backing is removed from the waiting list.
            if view.waiting().is_some_and(|w| w.forget(&v, at.policy)) {
                return Ok(());
            }
            view.remove_link(&v).map(|_| ()).map_err(|e| (format!("{virt}: {e}"), e))
        }),
        Request::List => {
            reply.links = view.links().iter().map(|l| info(&at.mountpoint, l)).collect();
            if let Some(waiting) = view.waiting() {
                waiting.mark(&mut reply.links, at);
            }
            Ok(())
        }
        Request::Apply { links } => apply(view, at, &links).map(|done| reply.applied = Some(done)),
        Request::Which { path } => inside_or_refused(at, &path, "path").and_then(|v| {
            reply.which = Some(which_info(view, at, &path, &v)?);
            Ok(())
        }),
        Request::Status => {
            let settings = view.settings();
            let pending = view.waiting().map_or(0, Waiting::pending);
            reply.status = Some(StatusInfo {
                pid: std::process::id(),
                passthrough: settings.passthrough,
                cache_ttl: settings.cache_ttl.as_secs_f64(),
                links: view.links().len() + pending,
                pending,
            });
            Ok(())
        }
        Request::Stop => Err(("stop is not served on this channel".to_owned(), crate::Error::NotSupported)),
    };
    if let Err((message, error)) = outcome {
        reply.error = Some(message);
        reply.hresult = Some(error.hresult());
    }
    reply
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
        let mnt = Endpoint {
            mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).unwrap(),
            syntax: Syntax::Posix,
            policy: CasePolicy::Sensitive,
        };
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
    fn which_and_status_answer_from_the_view() {
        let store = crate::fake::FakeBacking::new("/vol");
        store.write_file("/vol/d/both.txt", b"disk");
        store.write_file("/t/m/both.txt", b"m");
        let view = View::new(store, CasePolicy::Sensitive);
        let at = Endpoint {
            mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).unwrap(),
            syntax: Syntax::Posix,
            policy: CasePolicy::Sensitive,
        };
        let create = Request::Create {
            virt: "/mnt/v/d".into(),
            backing: "/t/m".into(),
            read_only: true,
            merged: true,
            except: vec![],
        };
        assert_eq!(handle(&view, &at, create).error, None);
        let reply = handle(&view, &at, Request::Which { path: "/mnt/v/d/both.txt".into() });
        let which = reply.which.unwrap();
        assert_eq!(which.layer, "backing");
        assert_eq!(which.real_path.as_deref(), Some("/t/m/both.txt"));
        let link = which.link.unwrap();
        assert!(link.merged && link.read_only && link.view == "/mnt/v", "{link:?}");
        let real: Vec<&str> = which.layers.iter().map(|l| l.real_path.as_str()).collect();
        assert_eq!(real, ["/t/m/both.txt", "/vol/d/both.txt"]);
        assert_eq!(which.layers[1].origin, "on-disk");
        let missing = handle(&view, &at, Request::Which { path: "/mnt/v/nope".into() });
        assert_eq!(missing.hresult, Some(crate::hresult::FILE_NOT_FOUND));
        assert!(missing.error.unwrap().starts_with("/mnt/v/nope: "));
        let status = handle(&view, &at, Request::Status).status.unwrap();
        assert_eq!((status.links, status.pid, status.passthrough), (1, std::process::id(), None));
        let listed = handle(&view, &at, Request::List).links;
        assert_eq!(listed[0].view, "/mnt/v");
    }

    /// A chain into a merged link (`/c` -> `/mnt/v/d`, itself merged over the on-disk `d`):
    /// the on-disk layer it reaches is labelled as such, reached through `/c`, not as the
    /// backing of `/c` (review point 12 of issue 14).
    #[test]
    fn which_through_a_chain_labels_the_on_disk_layer() {
        let store = crate::fake::FakeBacking::new("/vol");
        store.write_file("/vol/d/both.txt", b"disk");
        store.write_file("/t/m/both.txt", b"m");
        let view = View::new(store, CasePolicy::Sensitive);
        let at = Endpoint {
            mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).unwrap(),
            syntax: Syntax::Posix,
            policy: CasePolicy::Sensitive,
        };
        let create = |virt: &str, backing: &str, merged| Request::Create {
            virt: virt.into(),
            backing: backing.into(),
            read_only: false,
            merged,
            except: vec![],
        };
        assert_eq!(handle(&view, &at, create("/mnt/v/d", "/t/m", true)).error, None);
        assert_eq!(handle(&view, &at, create("/mnt/v/c", "/mnt/v/d", false)).error, None);
        let which = handle(&view, &at, Request::Which { path: "/mnt/v/c/both.txt".into() }).which.unwrap();
        let layers: Vec<(&str, Option<&str>, &str)> = which
            .layers
            .iter()
            .map(|l| (l.origin.as_str(), l.link.as_deref(), l.real_path.as_str()))
            .collect();
        assert_eq!(
            layers,
            [
                ("backing", Some("/mnt/v/c"), "/t/m/both.txt"),
                ("on-disk", Some("/mnt/v/c"), "/vol/d/both.txt"),
            ]
        );
    }

    /// Issue 15: each refusal carries the HRESULT of the shared table, and a success none.
    #[test]
    fn refusals_carry_their_hresult() {
        use crate::hresult;
        let store = crate::fake::FakeBacking::new("/vol");
        store.write_file("/vol/d/f.txt", b"disk");
        store.write_file("/t/m/x.txt", b"m");
        let view = View::new(store, CasePolicy::Sensitive);
        let at = Endpoint {
            mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).unwrap(),
            syntax: Syntax::Posix,
            policy: CasePolicy::Sensitive,
        };
        let create = |virt: &str, backing: &str, except: &[&str]| {
            let except = except.iter().map(|e| (*e).to_owned()).collect();
            let request = Request::Create {
                virt: virt.into(),
                backing: backing.into(),
                read_only: false,
                merged: false,
                except,
            };
            handle(&view, &at, request)
        };
        let ok = create("/mnt/v/d", "/t/m", &[]);
        assert_eq!((ok.error, ok.hresult), (None, None));
        let cases = [
            (create("/mnt/v/d", "/t/m", &[]).hresult, hresult::E_INVALIDARG),
            (create("/mnt/v/e", "/t/none", &[]).hresult, hresult::FILE_NOT_FOUND),
            (create("/mnt/v/no/e", "/t/m", &[]).hresult, hresult::PATH_NOT_FOUND),
            (create("/mnt/v/e", "/t/m", &["/mnt/v/e/x.txt"]).hresult, hresult::E_INVALIDARG),
            (create("/elsewhere", "/t/m", &[]).hresult, hresult::NOT_SUPPORTED),
            (create("relative", "/t/m", &[]).hresult, hresult::BAD_PATHNAME),
            (handle(&view, &at, Request::Remove { virt: "/mnt/v/e".into() }).hresult, hresult::NOT_FOUND),
            (denied(&at).hresult, hresult::ACCESS_DENIED),
        ];
        for (i, (seen, expected)) in cases.into_iter().enumerate() {
            assert_eq!(seen, Some(expected), "case {i}");
        }
    }

    #[test]
    fn windows_paths_match_the_mount_point_in_any_case() {
        let at = Endpoint {
            mountpoint: AbsPath::parse(r"C:\Views\V", Syntax::Windows).unwrap(),
            syntax: Syntax::Windows,
            policy: CasePolicy::Insensitive,
        };
        let s = link_spec(&at, r"c:\views\v\Foo", r"D:\Backing", LinkFlags::default(), &[]).unwrap();
        assert_eq!(s.virt, VPath::parse("/Foo").unwrap());
        assert!(matches!(s.target, Target::Host(_)));
    }
}
