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

use serde::{Deserialize, Serialize};

use crate::{
    AbsPath, Backing, CasePolicy, Link, LinkFlags, LinkId, LinkSpec, Result, Syntax, Target, VPath, View,
};

/// What a live view offers the control channel: its links.
pub trait LinkControl {
    /// Creates a link (and makes the platform drop what it cached about its path).
    fn create_link(&self, spec: LinkSpec) -> Result<LinkId>;
    /// Removes the link at `virt`.
    fn remove_link(&self, virt: &VPath) -> Result<Link>;
    /// The links, in creation order.
    fn links(&self) -> Vec<Link>;
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
    /// Stop serving and unmount. Windows daemons take it from their pipe; a Linux view is
    /// unmounted through the kernel (`bindfs-rs unmount`) and refuses it.
    Stop,
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

/// `VIRTUAL -> BACKING  (flags)`, one line, as `bindfs-rs link list` prints a link.
impl std::fmt::Display for LinkInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut flags: Vec<String> = Vec::new();
        for (on, name) in
            [(self.read_only, "read-only"), (self.merged, "merged"), (self.anchorless, "anchorless")]
        {
            if on {
                flags.push(name.to_owned());
            }
        }
        flags.extend(self.except.iter().map(|e| format!("except {e}")));
        write!(f, "{} -> {}", self.virt, self.backing)?;
        if !flags.is_empty() {
            write!(f, "  ({})", flags.join(", "))?;
        }
        Ok(())
    }
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

/// A path of the view at `at` from an absolute path string.
pub fn inside(at: &Endpoint, path: &str, what: &str) -> std::result::Result<VPath, String> {
    let abs = AbsPath::parse(path, at.syntax).map_err(|e| format!("{what} {path}: {e}"))?;
    abs.strip_prefix(&at.mountpoint, at.policy)
        .ok_or_else(|| format!("{what} {path} is not inside the view at {}", at.mountpoint))
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
    let virt_path = inside(at, virt, "virtual path")?;
    let exceptions =
        except.iter().map(|e| inside(at, e, "exception")).collect::<std::result::Result<_, _>>()?;
    let b = AbsPath::parse(backing, at.syntax).map_err(|e| format!("backing {backing}: {e}"))?;
    // The client has already resolved the path its platform's way (`Target::of_backing`): the
    // one spelling it sends decides again, the same way.
    let target = Target::of_backing(&at.mountpoint, at.policy, &b, || None);
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

/// The reply refusing a request with `error`.
pub fn refusal(at: &Endpoint, error: String) -> Reply {
    Reply { mountpoint: at.mountpoint.to_string(), error: Some(error), links: Vec::new() }
}

/// Carries out one request on the view (the channel has already checked who asks).
pub fn handle(view: &impl LinkControl, at: &Endpoint, request: Request) -> Reply {
    let mut reply = Reply { mountpoint: at.mountpoint.to_string(), error: None, links: Vec::new() };
    let outcome = match request {
        Request::Create { virt, backing, read_only, merged, except } => {
            link_spec(at, &virt, &backing, LinkFlags { read_only, merged }, &except)
                .and_then(|spec| view.create_link(spec).map(|_| ()).map_err(|e| format!("{virt}: {e}")))
        }
        Request::Remove { virt } => inside(at, &virt, "virtual path")
            .and_then(|v| view.remove_link(&v).map(|_| ()).map_err(|e| format!("{virt}: {e}"))),
        Request::List => {
            reply.links = view.links().iter().map(|l| info(&at.mountpoint, l)).collect();
            Ok(())
        }
        Request::Stop => Err("stop is not served on this channel".to_owned()),
    };
    reply.error = outcome.err();
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
