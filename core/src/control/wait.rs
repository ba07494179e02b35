//! Links that persist and wait: `apply` (a view's links made to match a links file, all or
//! nothing) and optional links, which wait for a missing backing instead of failing.
//!
//! - `apply` converts every wanted link first (a bad path fails before anything changes),
//!   plans the steps ([`crate::plan`]), and tries them on a copy of the link table against the
//!   namespace as it is ([`LinkControl::check_steps`]): any refusal fails the request with one
//!   line and nothing changed. Only then are the steps made, through the backend (which drops
//!   its caches); should one still fail (the namespace changed in between), the steps made are
//!   undone, newest first.
//! - An optional link whose backing is missing (or whose parent is another link still waiting)
//!   is kept *pending* by the view's [`Waiting`] list instead of failing; [`spawn_retry`]
//!   creates it once its backing appears. `list` shows it with `pending: true`.
//! - `apply` replaces the waiting list: pending links the file no longer holds are dropped,
//!   and those it holds wait again if their backing is still missing. `remove` of a pending
//!   link drops it from the list.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{Applied, Endpoint, LinkControl, LinkInfo, Settings, WantedLink, spec_or_refused};
use crate::plan::{Step, plan};
use crate::{AbsPath, CasePolicy, Error, Link, LinkFlags, LinkId, LinkSpec, Result, VPath, Which};

/// One optional link waiting for its backing.
#[derive(Debug, Clone)]
struct Pending {
    wanted: WantedLink,
    spec: LinkSpec,
}

/// The optional links of a view: those waiting for their backing, and the virtual paths of
/// those made (so `list` tells them apart and `list --toml` keeps `optional = true`).
#[derive(Debug, Default)]
pub struct Waiting {
    state: Mutex<State>,
    /// Held while links are changed on the waiting list's behalf (`apply`, the retries), so
    /// neither plans from links the other is changing.
    busy: Mutex<()>,
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<Pending>,
    optional: Vec<VPath>,
}

impl Waiting {
    /// Adds `wanted` (made into `spec`) to the links waiting for their backing.
    pub fn wait(&self, wanted: WantedLink, spec: LinkSpec) {
        self.state.lock().pending.push(Pending { wanted, spec });
    }

    /// Records that the link at `virt` was made from an optional link.
    pub fn made_optional(&self, virt: VPath) {
        self.state.lock().optional.push(virt);
    }

    /// Drops a pending link at `virt`; whether there was one.
    pub fn forget(&self, virt: &VPath, policy: CasePolicy) -> bool {
        let mut state = self.state.lock();
        state.optional.retain(|o| !o.same(virt, policy));
        let before = state.pending.len();
        state.pending.retain(|p| !p.spec.virt.same(virt, policy));
        state.pending.len() != before
    }

    /// How many links wait.
    pub fn pending(&self) -> usize {
        self.state.lock().pending.len()
    }

    /// Marks the optional ones among `links` (as `list` reports them) and adds the pending
    /// ones after them.
    pub fn mark(&self, links: &mut Vec<LinkInfo>, at: &Endpoint) {
        let state = self.state.lock();
        for l in links.iter_mut() {
            let virt = super::inside(at, &l.virt, "link");
            l.optional = virt.is_ok_and(|v| state.optional.iter().any(|o| o.same(&v, at.policy)));
        }
        links.extend(state.pending.iter().map(|p| LinkInfo {
            view: at.mountpoint.to_string(),
            virt: p.wanted.virt.clone(),
            backing: p.wanted.backing.clone(),
            read_only: p.wanted.read_only,
            merged: p.wanted.merged,
            anchorless: false,
            except: p.wanted.except.clone(),
            optional: true,
            pending: true,
        }));
    }

    /// Creates the pending links whose backing is there now (parents first: the list is tried
    /// until a round creates nothing); returns the virtual paths created.
    pub fn create_ready(&self, view: &impl LinkControl) -> Vec<String> {
        let _busy = self.busy.lock();
        let mut made = Vec::new();
        loop {
            let mut state = self.state.lock();
            let mut progress = false;
            let mut i = 0;
            while i < state.pending.len() {
                match view.create_link(state.pending[i].spec.clone()) {
                    Ok(_) => {
                        let p = state.pending.remove(i);
                        state.optional.push(p.spec.virt);
                        made.push(p.wanted.virt);
                        progress = true;
                    }
                    // Someone made a link there meanwhile: this one no longer waits.
                    Err(Error::AlreadyLinked(_)) => {
                        state.pending.remove(i);
                    }
                    Err(_) => i += 1,
                }
            }
            if !progress {
                return made;
            }
        }
    }
}

/// A view as its control channel serves it: its links, and its optional links' [`Waiting`].
#[derive(Debug)]
pub struct Live<C> {
    view: C,
    policy: CasePolicy,
    waiting: Waiting,
}

impl<C: LinkControl> Live<C> {
    /// `view`, whose names compare under `policy`, with no link waiting.
    pub fn new(view: C, policy: CasePolicy) -> Live<C> {
        Live { view, policy, waiting: Waiting::default() }
    }

    /// `view`, with the links waiting in `waiting` (those of a view before it was mounted).
    pub fn with_waiting(view: C, policy: CasePolicy, waiting: Waiting) -> Live<C> {
        Live { view, policy, waiting }
    }

    /// The view.
    pub fn view(&self) -> &C {
        &self.view
    }

    /// The view and its waiting links, apart (to carry them over to the mounted view).
    pub fn into_parts(self) -> (C, Waiting) {
        (self.view, self.waiting)
    }
}

impl<C: LinkControl> LinkControl for Live<C> {
    fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
        let virt = spec.virt.clone();
        let id = self.view.create_link(spec)?;
        // A link made by hand replaces one that waited there.
        self.waiting.forget(&virt, self.policy);
        Ok(id)
    }

    fn remove_link(&self, virt: &VPath) -> Result<Link> {
        let link = self.view.remove_link(virt)?;
        self.waiting.state.lock().optional.retain(|o| !o.same(virt, self.policy));
        Ok(link)
    }

    fn links(&self) -> Vec<Link> {
        self.view.links()
    }

    fn which(&self, path: &VPath) -> Result<(Which, Option<AbsPath>)> {
        self.view.which(path)
    }

    fn settings(&self) -> Settings {
        self.view.settings()
    }

    fn check_steps(&self, steps: &[Step]) -> std::result::Result<(), (usize, Error)> {
        self.view.check_steps(steps)
    }

    fn waiting(&self) -> Option<&Waiting> {
        Some(&self.waiting)
    }
}

/// Retries the pending links of `live` every `every` (about a second serves a disk that comes
/// late at boot), on a thread of its own, for as long as the process runs.
pub fn spawn_retry<C>(live: Arc<Live<C>>, every: std::time::Duration) -> std::io::Result<()>
where
    C: LinkControl + Send + Sync + 'static,
{
    std::thread::Builder::new().name("pending-links".into()).spawn(move || {
        loop {
            std::thread::sleep(every);
            if live.waiting.pending() == 0 {
                continue;
            }
            for virt in live.waiting.create_ready(&live.view) {
                tracing::info!(path = %virt, "pending link created: its backing appeared");
            }
        }
    })?;
    Ok(())
}

/// Whether a refused creation of an optional link makes it wait: its backing is missing, or
/// its parent is not there yet (a link that waits itself).
fn waits(e: &Error) -> bool {
    matches!(e, Error::BackingNotFound(_) | Error::ParentNotVisible(_))
}

/// What a step is, for an error line.
fn describe(step: &Step, at: &Endpoint) -> String {
    match step {
        Step::Remove(v) => format!("removing {}", at.mountpoint.join(v.names())),
        Step::Create(s) => format!("link {}", at.mountpoint.join(s.virt.names())),
    }
}

/// `apply`: makes the links of `view` match `links`, all or nothing (see the module docs), and
/// logs each change made and each link left waiting.
pub fn apply(
    view: &impl LinkControl,
    at: &Endpoint,
    links: &[WantedLink],
) -> std::result::Result<Applied, super::Refused> {
    apply_logging(view, at, links, true)
}

/// [`apply`] without its log lines, for a caller that logs each link itself with more to say
/// (`mount` logs the links it makes with the mounting user, [`super::audit`]): each link is
/// then logged once.
pub fn apply_unlogged(
    view: &impl LinkControl,
    at: &Endpoint,
    links: &[WantedLink],
) -> std::result::Result<Applied, super::Refused> {
    apply_logging(view, at, links, false)
}

fn apply_logging(
    view: &impl LinkControl,
    at: &Endpoint,
    links: &[WantedLink],
    log: bool,
) -> std::result::Result<Applied, super::Refused> {
    let mut wanted: Vec<(WantedLink, LinkSpec)> = Vec::with_capacity(links.len());
    for l in links {
        let flags = LinkFlags { read_only: l.read_only, merged: l.merged };
        let spec = spec_or_refused(at, &l.virt, &l.backing, flags, &l.except)?;
        wanted.push((l.clone(), spec));
    }
    let waiting = view.waiting();
    let _busy = waiting.map(|w| w.busy.lock());
    let mut pending: Vec<(WantedLink, LinkSpec)> = Vec::new();
    let steps = loop {
        let specs: Vec<LinkSpec> = wanted.iter().map(|(_, s)| s.clone()).collect();
        let steps = plan(&view.links(), &specs, at.policy);
        let Err((i, e)) = view.check_steps(&steps) else { break steps };
        // An optional link that cannot be made yet waits, if this view keeps waiting links.
        let waiter = match &steps[i] {
            Step::Create(s) if waiting.is_some() && waits(&e) => {
                wanted.iter().position(|(w, spec)| w.optional && spec.virt.same(&s.virt, at.policy))
            }
            _ => None,
        };
        match waiter {
            Some(w) => pending.push(wanted.remove(w)),
            None => return Err((format!("{}: {e}", describe(&steps[i], at)), e)),
        }
    };
    let mut done: Vec<Undo> = Vec::new();
    let mut applied = Applied { pending: pending.len(), ..Applied::default() };
    for step in &steps {
        let made = match step {
            Step::Remove(v) => view.remove_link(v).map(|link| {
                applied.removed += 1;
                done.push(Undo::Create(link));
            }),
            Step::Create(s) => view.create_link(s.clone()).map(|_| {
                applied.created += 1;
                done.push(Undo::Remove(s.virt.clone()));
            }),
        };
        if let Err(e) = made {
            let undone = undo(view, done);
            return Err((format!("{}: {e}{undone}", describe(step, at)), e));
        }
    }
    // Each change made, for the log of link changes (the request itself is logged with its
    // caller by the channel, [`super::audit`]).
    for step in steps.iter().filter(|_| log) {
        match step {
            Step::Remove(v) => {
                let path = at.mountpoint.join(v.names()).to_string();
                tracing::info!(path = path.as_str(), "link removed by apply");
            }
            Step::Create(s) => {
                let path = at.mountpoint.join(s.virt.names()).to_string();
                let backing = s.target.path_at(&at.mountpoint).to_string();
                tracing::info!(path = path.as_str(), backing = backing.as_str(), "link created by apply");
            }
        }
    }
    for (w, _) in pending.iter().filter(|_| log) {
        tracing::info!(path = w.virt, backing = w.backing, "link waits for its backing");
    }
    if let Some(waiting) = waiting {
        let mut state = waiting.state.lock();
        state.pending = pending.into_iter().map(|(wanted, spec)| Pending { wanted, spec }).collect();
        state.optional = wanted.iter().filter(|(w, _)| w.optional).map(|(_, s)| s.virt.clone()).collect();
    }
    Ok(applied)
}

/// A step made, and how to take it back.
enum Undo {
    /// Create again a link that was removed.
    Create(Link),
    /// Remove a link that was created.
    Remove(VPath),
}

/// Takes back `done`, newest first; what could not be taken back, as the end of an error line.
fn undo(view: &impl LinkControl, done: Vec<Undo>) -> String {
    let mut failed = Vec::new();
    for step in done.into_iter().rev() {
        let result = match step {
            Undo::Remove(v) => view.remove_link(&v).map(|_| ()),
            Undo::Create(l) => view
                .create_link(LinkSpec {
                    virt: l.virt,
                    target: l.target,
                    flags: l.flags,
                    exceptions: l.exceptions,
                })
                .map(|_| ()),
        };
        if let Err(e) = result {
            failed.push(e.to_string());
        }
    }
    if failed.is_empty() {
        " (nothing changed)".to_owned()
    } else {
        format!(" (and undoing the changes made failed: {})", failed.join("; "))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::control::{Request, handle};
    use crate::fake::FakeBacking;
    use crate::{Syntax, View};

    fn at() -> Endpoint {
        Endpoint {
            mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).unwrap(),
            syntax: Syntax::Posix,
            policy: CasePolicy::Sensitive,
        }
    }

    fn wanted(virt: &str, backing: &str) -> WantedLink {
        WantedLink {
            virt: format!("/mnt/v{virt}"),
            backing: backing.into(),
            read_only: false,
            merged: false,
            except: vec![],
            optional: false,
        }
    }

    fn live() -> Live<View<FakeBacking>> {
        let store = FakeBacking::new("/vol");
        for d in ["/vol/keep", "/t/a", "/t/b", "/t/c", "/t/new", "/t/a/sub"] {
            store.mkdir_p(d);
        }
        Live::new(View::new(store, CasePolicy::Sensitive), CasePolicy::Sensitive)
    }

    /// The view's links as `list` shows them: `VIRTUAL -> BACKING (flags)` lines.
    fn listed(view: &impl LinkControl) -> Vec<String> {
        handle(view, &at(), Request::List).links.iter().map(ToString::to_string).collect()
    }

    fn apply_ok(view: &impl LinkControl, links: Vec<WantedLink>) -> Applied {
        let reply = handle(view, &at(), Request::Apply { links });
        assert_eq!(reply.error, None);
        reply.applied.unwrap()
    }

    #[test]
    fn apply_adds_removes_replaces_and_orders_nested_links() {
        let view = live();
        // A child listed before its anchorless parent still works (parent made first).
        let first = vec![wanted("/new/sub", "/t/a/sub"), wanted("/new", "/t/a"), wanted("/keep", "/t/b")];
        assert_eq!(apply_ok(&view, first.clone()), Applied { created: 3, removed: 0, pending: 0 });
        assert_eq!(
            listed(&view),
            ["/mnt/v/new -> /t/a  (anchorless)", "/mnt/v/new/sub -> /t/a/sub", "/mnt/v/keep -> /t/b"]
        );
        // The same file again changes nothing.
        assert_eq!(apply_ok(&view, first), Applied::default());
        // /keep changes backing, /new and its child go, /c comes.
        let second = vec![wanted("/keep", "/t/c"), wanted("/c", "/t/c")];
        assert_eq!(apply_ok(&view, second), Applied { created: 2, removed: 3, pending: 0 });
        assert_eq!(listed(&view), ["/mnt/v/keep -> /t/c", "/mnt/v/c -> /t/c  (anchorless)"]);
    }

    #[test]
    fn a_bad_file_changes_nothing() {
        let view = live();
        apply_ok(&view, vec![wanted("/keep", "/t/b"), wanted("/x", "/t/a")]);
        let before = listed(&view);
        let mut outside = wanted("/keep", "/t/a");
        outside.except = vec!["/mnt/v/elsewhere".into()];
        let bad_files = [
            (vec![wanted("/c", "/t/c"), wanted("/d", "/t/missing")], "link /mnt/v/d: backing path not found"),
            (vec![outside], "exception /elsewhere is not inside link /keep"),
            (vec![wanted("/c", "/t/c"), wanted("/c", "/t/a")], "/c is already a link"),
            (vec![wanted("/../../etc", "/t/c")], "not inside the view"),
        ];
        for (links, want) in bad_files {
            let reply = handle(&view, &at(), Request::Apply { links });
            let error = reply.error.unwrap();
            assert!(error.contains(want) && !error.contains('\n'), "{error}");
            assert_eq!(listed(&view), before, "{error}");
        }
    }

    #[test]
    fn a_failing_step_undoes_the_steps_made_before_it() {
        /// A view that refuses to create `/c` for real after the check passed (the namespace
        /// changed in between).
        struct Flaky(Live<View<FakeBacking>>);
        impl LinkControl for Flaky {
            fn create_link(&self, spec: LinkSpec) -> Result<LinkId> {
                if spec.virt == VPath::parse("/c").unwrap() {
                    return Err(Error::BackingNotFound("/t/c".into()));
                }
                self.0.create_link(spec)
            }
            fn remove_link(&self, virt: &VPath) -> Result<Link> {
                self.0.remove_link(virt)
            }
            fn links(&self) -> Vec<Link> {
                self.0.links()
            }
            fn which(&self, path: &VPath) -> Result<(Which, Option<AbsPath>)> {
                self.0.which(path)
            }
            fn settings(&self) -> Settings {
                self.0.settings()
            }
            fn check_steps(&self, steps: &[Step]) -> std::result::Result<(), (usize, Error)> {
                self.0.check_steps(steps)
            }
        }
        let view = Flaky(live());
        apply_ok(&view, vec![wanted("/keep", "/t/b"), wanted("/x", "/t/a")]);
        let before = listed(&view);
        let reply =
            handle(&view, &at(), Request::Apply { links: vec![wanted("/x", "/t/a"), wanted("/c", "/t/c")] });
        let error = reply.error.unwrap();
        assert!(error.contains("link /mnt/v/c") && error.ends_with("(nothing changed)"), "{error}");
        // /keep was removed and made again: same links, same order of precedence.
        let mut after = listed(&view);
        after.sort();
        let mut sorted = before.clone();
        sorted.sort();
        assert_eq!(after, sorted);
    }

    #[test]
    fn optional_links_wait_for_their_backing_and_are_made_when_it_appears() {
        let view = live();
        let mut late = wanted("/late", "/t/late");
        late.optional = true;
        let mut child = wanted("/late/sub", "/t/late2");
        child.optional = true;
        let applied = apply_ok(&view, vec![late.clone(), child, wanted("/keep", "/t/b")]);
        assert_eq!(applied, Applied { created: 1, removed: 0, pending: 2 });
        let reply = handle(&view, &at(), Request::List);
        let pending: Vec<&str> = reply.links.iter().filter(|l| l.pending).map(|l| l.virt.as_str()).collect();
        assert_eq!(pending, ["/mnt/v/late", "/mnt/v/late/sub"]);
        // `status` counts them as `list` shows them (review point 11 of issue 14).
        let status = handle(&view, &at(), Request::Status).status.unwrap();
        assert_eq!((status.links, status.pending), (3, 2));
        // Nothing there yet: nothing made.
        assert!(view.waiting.create_ready(&view.view).is_empty());
        view.view.backing().mkdir_p("/t/late");
        view.view.backing().mkdir_p("/t/late2");
        assert_eq!(view.waiting.create_ready(&view.view), ["/mnt/v/late", "/mnt/v/late/sub"]);
        let reply = handle(&view, &at(), Request::List);
        assert!(reply.links.iter().all(|l| !l.pending), "{:?}", reply.links);
        assert!(reply.links.iter().find(|l| l.virt == "/mnt/v/late").unwrap().optional);
        // A pending link is removed from the list by `remove`.
        let mut gone = wanted("/gone", "/t/never");
        gone.optional = true;
        apply_ok(&view, vec![late, gone]);
        assert_eq!(view.waiting.pending(), 1);
        let removed = handle(&view, &at(), Request::Remove { virt: "/mnt/v/gone".into() });
        assert_eq!(removed.error, None);
        assert_eq!(view.waiting.pending(), 0);
        // A missing backing of a link that is not optional fails the whole file.
        let reply = handle(&view, &at(), Request::Apply { links: vec![wanted("/n", "/t/never")] });
        assert!(reply.error.unwrap().contains("backing path not found"));
    }

    #[test]
    fn old_list_replies_parse_without_the_new_keys() {
        let old = r#"{"view":"/m","virtual":"/m/a","backing":"/b","read_only":false,"merged":false,"anchorless":false,"except":[]}"#;
        let info: LinkInfo = serde_json::from_str(old).unwrap();
        assert!(!info.optional && !info.pending);
        let status: crate::control::StatusInfo =
            serde_json::from_str(r#"{"pid":1,"passthrough":null,"cache_ttl":1.0,"links":2}"#).unwrap();
        assert_eq!(status.pending, 0);
    }
}
