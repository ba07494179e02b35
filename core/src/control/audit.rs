//! The log of link changes: every link created or removed, through a control channel or at
//! mount, is logged at info level with who asked (a Unix uid, a Windows SID), the same way on
//! every platform. Requests that change nothing (`list`) are not logged.

use std::fmt;

use super::{Reply, Request};
use crate::LinkFlags;

/// Who asked for a change, as the channel identified them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller<'a> {
    /// A Unix user (`SO_PEERCRED` on a control socket, or the user who mounted the view).
    Uid(u32),
    /// A Windows user, as a string SID (the pipe client's token, or the mounting user's).
    Sid(&'a str),
    /// A Windows pipe client whose token could not be read: its process id.
    Pid(u32),
}

impl fmt::Display for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Uid(uid) => write!(f, "uid={uid}"),
            Caller::Sid(sid) => write!(f, "sid={sid}"),
            Caller::Pid(pid) => write!(f, "pid={pid}"),
        }
    }
}

/// Where a change came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A link of the `mount` command line or its links file, created before the mount.
    Mount,
    /// A request on the view's control socket or pipe.
    Control,
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Via::Mount => "mount",
            Via::Control => "control",
        })
    }
}

/// A change of a view's links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// A link created at `path` onto `backing`.
    Create {
        /// The virtual path, absolute.
        path: &'a str,
        /// The backing path, absolute.
        backing: &'a str,
        /// Its flags.
        flags: LinkFlags,
    },
    /// The link at `path` removed.
    Remove {
        /// The virtual path, absolute.
        path: &'a str,
    },
    /// The links made to match a links file (`link apply`) of this many links.
    Apply {
        /// How many links the file holds.
        links: usize,
    },
    /// The view told to stop (Windows: `unmount`).
    Stop,
}

impl<'a> Change<'a> {
    /// The change `request` asks for; `None` for one that changes nothing.
    pub fn of(request: &'a Request) -> Option<Change<'a>> {
        // Exhaustive on purpose: a new request kind must say whether it changes links.
        match request {
            Request::Create { virt, backing, read_only, merged, .. } => Some(Change::Create {
                path: virt,
                backing,
                flags: LinkFlags { read_only: *read_only, merged: *merged },
            }),
            Request::Remove { virt } => Some(Change::Remove { path: virt }),
            Request::Apply { links } => Some(Change::Apply { links: links.len() }),
            Request::Stop => Some(Change::Stop),
            Request::List | Request::Which { .. } | Request::Status => None,
        }
    }
}

/// Logs `change` at info level: what, by whom, from where, and the error when it failed.
pub fn log(change: Change<'_>, caller: Caller<'_>, via: Via, error: Option<&str>) {
    let caller = caller.to_string();
    match (change, error) {
        (Change::Create { path, backing, flags }, None) => tracing::info!(
            path,
            backing,
            read_only = flags.read_only,
            merged = flags.merged,
            %via,
            "link created by {caller}"
        ),
        (Change::Create { path, backing, .. }, Some(error)) => {
            tracing::info!(path, backing, %via, error, "link not created for {caller}")
        }
        (Change::Remove { path }, None) => tracing::info!(path, %via, "link removed by {caller}"),
        (Change::Remove { path }, Some(error)) => {
            tracing::info!(path, %via, error, "link not removed for {caller}")
        }
        (Change::Apply { links }, None) => tracing::info!(links, %via, "links applied by {caller}"),
        (Change::Apply { links }, Some(error)) => {
            tracing::info!(links, %via, error, "links not applied for {caller}")
        }
        (Change::Stop, None) => tracing::info!(%via, "view stopped by {caller}"),
        (Change::Stop, Some(error)) => tracing::info!(%via, error, "view not stopped for {caller}"),
    }
}

/// Logs what `request` changed (or failed to), as `reply` says, for `caller`.
pub fn log_request(request: &Request, reply: &Reply, caller: Caller<'_>) {
    if let Some(change) = Change::of(request) {
        log(change, caller, Via::Control, reply.error.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_requests_that_change_links_are_changes() {
        let create = Request::Create {
            virt: "/m/a".into(),
            backing: "/srv/b".into(),
            read_only: true,
            merged: false,
            except: vec![],
        };
        assert_eq!(
            Change::of(&create),
            Some(Change::Create {
                path: "/m/a",
                backing: "/srv/b",
                flags: LinkFlags { read_only: true, merged: false }
            })
        );
        assert_eq!(
            Change::of(&Request::Remove { virt: "/m/a".into() }),
            Some(Change::Remove { path: "/m/a" })
        );
        assert_eq!(Change::of(&Request::List), None);
        assert_eq!(Change::of(&Request::Apply { links: vec![] }), Some(Change::Apply { links: 0 }));
        assert_eq!(Caller::Uid(1000).to_string(), "uid=1000");
        assert_eq!(Caller::Sid("S-1-5-18").to_string(), "sid=S-1-5-18");
    }
}
