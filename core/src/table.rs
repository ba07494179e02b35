//! The link table: which links exist, checked against the creation and removal rules.
//!
//! Links are kept in a trie keyed by (case-folded) names, so finding the links that apply to a
//! path walks the path once: the cost depends on the path's depth, not on how many links exist.
//! Each trie node records the link whose virtual path ends there, the links that list it as an
//! exception, and how many link virtual paths lie strictly below it (for rule 17 and for the
//! directories that exist only to hold a deeper link).
//!
//! The table cannot see storage: [`LinkTable::create`] asks a [`Probe`] what exists in the view
//! and on the host, and the [`crate::View`] answers from the current namespace.

use std::collections::HashMap;
use std::sync::Arc;

use crate::backing::FileKind;
use crate::error::{Error, Result};
use crate::name::{CasePolicy, Name};
use crate::path::{AbsPath, VPath};

/// Identifies a link for its whole life; ids grow with creation order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// The flags of a link (`CREATE_BIND_LINK_FLAGS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LinkFlags {
    /// Rule 13: every modifying call on entries from the backing fails.
    pub read_only: bool,
    /// Rule 11: the virtual directory shows the union of its own content and the backing.
    pub merged: bool,
}

/// What a link points at.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Target {
    /// A host path outside the view (another directory, file system or remote mount).
    Host(Arc<AbsPath>),
    /// A path inside the same view: resolution follows the chain (rule 9).
    View(VPath),
}

impl Target {
    /// A host target from a POSIX path string.
    pub fn host(path: &str) -> Result<Target> {
        Ok(Target::Host(Arc::new(AbsPath::parse(path, crate::path::Syntax::Posix)?)))
    }

    /// Where a link's backing path leads in the view mounted at `mountpoint` (both in the same
    /// syntax, compared under `policy`): into the view (a chain, rule 9) or to the host. The one
    /// place this is decided; each command only spells the path its platform's way first.
    ///
    /// `written` is the path as given, made absolute lexically; `resolve` gives it with the
    /// platform's links resolved (None when it does not exist or cannot be resolved). The
    /// written spelling decides first: resolving a path inside a view asks the view, which may
    /// answer in another spelling of the same place (WinFsp: `\\?\`, a volume GUID, long names
    /// for 8.3 ones), and a chain taken for a host path would make the daemon open its own
    /// volume from inside its own request handlers. Only a path written outside the view is
    /// resolved: one that leads into the view (through a symlink or junction) is a chain too;
    /// any other is the host path, resolved when it could be.
    pub fn of_backing(
        mountpoint: &AbsPath,
        policy: CasePolicy,
        written: &AbsPath,
        resolve: impl FnOnce() -> Option<AbsPath>,
    ) -> Target {
        if let Some(inside) = written.strip_prefix(mountpoint, policy) {
            return Target::View(inside);
        }
        let host = resolve().unwrap_or_else(|| written.clone());
        match host.strip_prefix(mountpoint, policy) {
            Some(inside) => Target::View(inside),
            None => Target::Host(Arc::new(host)),
        }
    }

    /// The absolute path that names this target for the view mounted at `mountpoint`: a chain
    /// under the mount point, a host path as it is.
    pub fn path_at(&self, mountpoint: &AbsPath) -> AbsPath {
        match self {
            Target::Host(p) => AbsPath::clone(p),
            Target::View(p) => mountpoint.join(p.names()),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Host(p) => write!(f, "{p}"),
            Target::View(p) => write!(f, "{p} (in the view)"),
        }
    }
}

/// What is asked for when creating a link.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkSpec {
    /// The virtual path `V`.
    pub virt: VPath,
    /// The backing `B`.
    pub target: Target,
    /// Flags.
    pub flags: LinkFlags,
    /// Exception paths below `V` where the link does not apply (rule 8).
    pub exceptions: Vec<VPath>,
}

/// A link in the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// Its id (creation order).
    pub id: LinkId,
    /// The virtual path `V`, spelled as created.
    pub virt: VPath,
    /// The backing `B`.
    pub target: Target,
    /// Flags.
    pub flags: LinkFlags,
    /// Exception paths (rule 8), deduplicated.
    pub exceptions: Vec<VPath>,
    /// Rule 5: `V` did not exist when the link was made, so it is synthesized.
    pub anchorless: bool,
}

/// What the table needs to know about the namespace to check a new link.
pub trait Probe {
    /// The kind of object at `path` in the view as `table` shapes it, `None` if nothing is there.
    fn kind_in_view(&self, table: &LinkTable, path: &VPath) -> Result<Option<FileKind>>;
    /// The kind of object at a host path, `None` if nothing is there.
    fn kind_on_host(&self, path: &AbsPath) -> Result<Option<FileKind>>;
}

#[derive(Debug, Default, Clone)]
struct TrieNode {
    /// The name as first spelled (the link's or exception's own spelling).
    display: Option<Name>,
    children: HashMap<Box<[u8]>, TrieNode>,
    link: Option<LinkId>,
    /// Links that list this exact path as an exception.
    exception_of: Vec<LinkId>,
    /// Number of link virtual paths strictly below this node.
    links_below: usize,
    /// Number of link virtual paths and exception paths strictly below this node.
    anchors_below: usize,
}

impl TrieNode {
    fn is_empty(&self) -> bool {
        self.link.is_none() && self.exception_of.is_empty() && self.children.is_empty()
    }
}

/// What a walk down the trie along one path found.
#[derive(Debug, Default, Clone)]
pub struct PathLinks {
    /// Links whose `V` is the path or an ancestor of it and that are not excepted there, with the
    /// depth of their `V`, deepest first (rule 15).
    pub applicable: Vec<(usize, LinkId)>,
    /// The link whose `V` is exactly the path.
    pub exact: Option<LinkId>,
    /// Whether some link's `V` or some exception path lies strictly below the path.
    pub holds_anchors: bool,
}

/// The set of links of one view (cloned to try changes before making them).
#[derive(Debug, Clone)]
pub struct LinkTable {
    policy: CasePolicy,
    links: HashMap<LinkId, Link>,
    next_id: u64,
    generation: u64,
    trie: TrieNode,
}

impl LinkTable {
    /// An empty table whose names compare under `policy`.
    pub fn new(policy: CasePolicy) -> LinkTable {
        LinkTable { policy, links: HashMap::new(), next_id: 1, generation: 0, trie: TrieNode::default() }
    }

    /// The case policy of the view.
    pub fn policy(&self) -> CasePolicy {
        self.policy
    }

    /// Bumped on every change; backends compare it to drop cached resolutions.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Number of links.
    pub fn len(&self) -> usize {
        self.links.len()
    }

    /// Whether there are no links.
    pub fn is_empty(&self) -> bool {
        self.links.is_empty()
    }

    /// A link by id.
    pub fn get(&self, id: LinkId) -> Option<&Link> {
        self.links.get(&id)
    }

    /// Every link, in creation order.
    pub fn list(&self) -> Vec<&Link> {
        let mut all: Vec<&Link> = self.links.values().collect();
        all.sort_by_key(|l| l.id);
        all
    }

    /// The link whose `V` is exactly `path`.
    pub fn link_at(&self, path: &VPath) -> Option<&Link> {
        self.node(path).and_then(|n| n.link).and_then(|id| self.links.get(&id))
    }

    /// The spelling of the last name of `path` when it is a link's `V`, an exception, or on the
    /// way to one (rule 21: the view reports names as links spelled them).
    pub fn spelled(&self, path: &VPath) -> Option<Name> {
        self.node(path).and_then(|n| n.display.clone())
    }

    /// Walks the trie along `path`: the links that apply there, deepest first.
    pub fn links_on(&self, path: &VPath) -> PathLinks {
        let mut found: Vec<(usize, LinkId)> = Vec::new();
        let mut excepted: Vec<LinkId> = Vec::new();
        let mut node = &self.trie;
        let mut reached = true;
        if let Some(id) = node.link {
            found.push((0, id));
        }
        for (i, name) in path.names().iter().enumerate() {
            match node.children.get(self.policy.key(name.as_bytes()).as_ref()) {
                Some(child) => {
                    node = child;
                    if let Some(id) = node.link {
                        found.push((i + 1, id));
                    }
                    excepted.extend_from_slice(&node.exception_of);
                }
                None => {
                    reached = false;
                    break;
                }
            }
        }
        let exact = if reached { node.link } else { None };
        let holds_anchors = reached && node.anchors_below > 0;
        found.retain(|(_, id)| !excepted.contains(id));
        found.reverse();
        PathLinks { applicable: found, exact, holds_anchors }
    }

    /// Names directly below `dir` that lead to a link's `V` or an exception path, spelled as
    /// the link or exception spelled them.
    pub fn anchors_below(&self, dir: &VPath) -> Vec<Name> {
        let Some(node) = self.node(dir) else { return Vec::new() };
        node.children.values().filter_map(|c| c.display.clone()).collect()
    }

    /// Creates a link after checking rules 2-8 and 11 against what `probe` sees; returns its id.
    pub fn create(&mut self, spec: LinkSpec, probe: &dyn Probe) -> Result<LinkId> {
        let LinkSpec { virt, target, flags, exceptions } = spec;
        // Rule 3: one link per V.
        if self.link_at(&virt).is_some() {
            return Err(Error::AlreadyLinked(virt));
        }
        // Rule 4: the parent must be visible (on disk, through a link, or as a link's V).
        if let Some(parent) = virt.parent() {
            match probe.kind_in_view(self, &parent)? {
                Some(FileKind::Dir) => {}
                Some(_) => return Err(Error::ParentNotDirectory(virt)),
                None => return Err(Error::ParentNotVisible(virt)),
            }
        }
        // Rule 2: the backing must exist.
        let target_kind = match &target {
            Target::Host(p) => probe.kind_on_host(p)?,
            Target::View(p) => probe.kind_in_view(self, p)?,
        };
        let Some(target_kind) = target_kind else {
            return Err(Error::BackingNotFound(target.to_string()));
        };
        if virt.is_root() && target_kind != FileKind::Dir {
            return Err(Error::RootNeedsDirectory);
        }
        // Rule 16: a later link never hides an earlier link's V, so a non-directory cannot go
        // where links lie below (the reverse order fails the same way, at rule 4).
        if target_kind != FileKind::Dir {
            if let Some(nested) =
                self.node(&virt).and_then(first_link_below).and_then(|id| self.links.get(&id))
            {
                return Err(Error::ParentNotDirectory(nested.virt.clone()));
            }
        }
        // Rules 5/6: anchorless when nothing is at V now.
        let existing = probe.kind_in_view(self, &virt)?;
        let anchorless = existing.is_none();
        if flags.merged && (existing != Some(FileKind::Dir) || target_kind != FileKind::Dir) {
            return Err(Error::MergedNeedsDirectory(virt));
        }
        // Rule 8: exceptions below V that exist; none on an anchorless link.
        let mut excs: Vec<VPath> = Vec::new();
        if !exceptions.is_empty() && anchorless {
            return Err(Error::ExceptionsOnAnchorless(virt));
        }
        if !exceptions.is_empty() && target_kind != FileKind::Dir {
            return Err(Error::ExceptionsNeedDirectory(virt));
        }
        for e in exceptions {
            if e.depth() <= virt.depth() || !e.starts_with(&virt, self.policy) {
                return Err(Error::ExceptionOutsideLink { link: virt, exception: e });
            }
            if probe.kind_in_view(self, &e)?.is_none() {
                return Err(Error::ExceptionMissing(e));
            }
            if !excs.iter().any(|x| x.same(&e, self.policy)) {
                excs.push(e);
            }
        }
        let id = LinkId(self.next_id);
        self.next_id += 1;
        self.insert_trie(&virt, id, &excs);
        self.links.insert(id, Link { id, virt, target, flags, exceptions: excs, anchorless });
        self.generation += 1;
        tracing::debug!(link = id.0, "link created");
        Ok(id)
    }

    /// Removes the link at `virt` (rule 17: it must exist and have no links below it).
    pub fn remove(&mut self, virt: &VPath) -> Result<Link> {
        let Some((node, id)) = self.node(virt).and_then(|n| Some((n, n.link?))) else {
            return Err(Error::NoSuchLink(virt.clone()));
        };
        if let Some(nested) = first_link_below(node).and_then(|id| self.links.get(&id)) {
            return Err(Error::HasNestedLinks { link: virt.clone(), nested: nested.virt.clone() });
        }
        let Some(link) = self.links.remove(&id) else { return Err(Error::NoSuchLink(virt.clone())) };
        self.remove_trie(&link);
        self.generation += 1;
        tracing::debug!(link = id.0, "link removed");
        Ok(link)
    }

    fn node(&self, path: &VPath) -> Option<&TrieNode> {
        let mut node = &self.trie;
        for name in path.names() {
            node = node.children.get(self.policy.key(name.as_bytes()).as_ref())?;
        }
        Some(node)
    }

    fn node_mut_creating(&mut self, path: &VPath, counting_link: bool) -> &mut TrieNode {
        let policy = self.policy;
        let mut node = &mut self.trie;
        for name in path.names() {
            if counting_link {
                node.links_below += 1;
            }
            node.anchors_below += 1;
            let key: Box<[u8]> = policy.key(name.as_bytes()).into_owned().into();
            node = node.children.entry(key).or_default();
            if node.display.is_none() {
                node.display = Some(name.clone());
            }
        }
        node
    }

    fn insert_trie(&mut self, virt: &VPath, id: LinkId, exceptions: &[VPath]) {
        self.node_mut_creating(virt, true).link = Some(id);
        for e in exceptions {
            self.node_mut_creating(e, false).exception_of.push(id);
        }
    }

    fn remove_trie(&mut self, link: &Link) {
        let policy = self.policy;
        prune(
            &mut self.trie,
            link.virt.names(),
            policy,
            &mut |n| {
                n.link = None;
            },
            true,
        );
        for e in &link.exceptions {
            prune(
                &mut self.trie,
                e.names(),
                policy,
                &mut |n| n.exception_of.retain(|x| *x != link.id),
                false,
            );
        }
    }
}

/// Some link whose `V` is strictly below `node` (found through the counts, not a scan).
fn first_link_below(node: &TrieNode) -> Option<LinkId> {
    if node.links_below == 0 {
        return None;
    }
    node.children.values().find_map(|c| c.link.or_else(|| first_link_below(c)))
}

/// Applies `edit` at the node for `names`, fixing link counts on the way and dropping nodes that
/// no longer hold anything.
fn prune(
    node: &mut TrieNode,
    names: &[Name],
    policy: CasePolicy,
    edit: &mut dyn FnMut(&mut TrieNode),
    link: bool,
) {
    let Some((first, rest)) = names.split_first() else {
        edit(node);
        return;
    };
    if link {
        node.links_below = node.links_below.saturating_sub(1);
    }
    node.anchors_below = node.anchors_below.saturating_sub(1);
    let key = policy.key(first.as_bytes());
    let mut empty = false;
    if let Some(child) = node.children.get_mut(key.as_ref()) {
        prune(child, rest, policy, edit, link);
        empty = child.is_empty();
    }
    if empty {
        node.children.remove(key.as_ref());
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::path::Syntax;

    /// The target of backing path `written` (resolving to `resolved`) in the view at `mount`.
    fn target(syntax: Syntax, mount: &str, written: &str, resolved: Option<&str>) -> Target {
        let policy = match syntax {
            Syntax::Posix => CasePolicy::Sensitive,
            Syntax::Windows => CasePolicy::Insensitive,
        };
        let parse = |p: &str| AbsPath::parse(p, syntax).unwrap();
        Target::of_backing(&parse(mount), policy, &parse(written), || resolved.map(parse))
    }

    fn view(p: &str) -> Target {
        Target::View(VPath::parse(p).unwrap())
    }

    fn host(syntax: Syntax, p: &str) -> Target {
        Target::Host(Arc::new(AbsPath::parse(p, syntax).unwrap()))
    }

    #[test]
    fn rule_09_a_backing_path_inside_the_view_is_a_chain_posix() {
        let p = Syntax::Posix;
        let cases = [
            // (written, resolved) -> target
            (("/mnt/v/b", None), view("/b")),
            (("/mnt/v", None), view("/")),
            (("/mnt/v/x/../b", None), view("/b")),
            // Written inside: the view's answer to resolving it does not count.
            (("/mnt/v/b", Some("/srv/elsewhere")), view("/b")),
            // Written outside, leading inside (a symlink into the view): a chain.
            (("/home/u/into", Some("/mnt/v/deep/b")), view("/deep/b")),
            // Outside: the host path, resolved when it could be.
            (("/home/u/link", Some("/srv/real")), host(p, "/srv/real")),
            (("/srv/missing", None), host(p, "/srv/missing")),
            // A sibling sharing a prefix of the mount point's text is not inside it.
            (("/mnt/vx/b", None), host(p, "/mnt/vx/b")),
            // Names compare exactly on POSIX.
            (("/mnt/V/b", None), host(p, "/mnt/V/b")),
        ];
        for ((written, resolved), want) in cases {
            assert_eq!(target(p, "/mnt/v", written, resolved), want, "{written} ({resolved:?})");
        }
    }

    #[test]
    fn rule_09_a_backing_path_inside_the_view_is_a_chain_windows_in_any_case() {
        let w = Syntax::Windows;
        let guid = r"\\?\Volume{01234567-89ab-cdef-0123-456789abcdef}\Foo";
        let cases = [
            ((r"C:\Views\V\Foo", None), view("/Foo")),
            ((r"c:\views\v\Foo\Bar", None), view("/Foo/Bar")),
            ((r"C:\VIEWS\v", None), view("/")),
            // Resolving inside a WinFsp volume answers another spelling: the written one wins.
            ((r"C:\Views\V\Foo", Some(guid)), view("/Foo")),
            // A junction outside leading into the view: a chain.
            ((r"D:\j", Some(r"C:\views\V\Deep")), view("/Deep")),
            ((r"D:\Backing", Some(r"D:\Real")), host(w, r"D:\Real")),
            ((r"D:\Missing", None), host(w, r"D:\Missing")),
            ((r"C:\Views\Vx", None), host(w, r"C:\Views\Vx")),
            ((r"\\srv\share\Views\V\x", None), host(w, r"\\srv\share\Views\V\x")),
        ];
        for ((written, resolved), want) in cases {
            assert_eq!(target(w, r"C:\Views\V", written, resolved), want, "{written} ({resolved:?})");
        }
    }

    #[test]
    fn a_target_is_named_under_the_mount_point_or_as_the_host_path() {
        let mount = AbsPath::parse(r"C:\Views\V", Syntax::Windows).unwrap();
        assert_eq!(view("/Foo/Bar").path_at(&mount).to_string(), r"C:\Views\V\Foo\Bar");
        assert_eq!(view("/").path_at(&mount).to_string(), r"C:\Views\V");
        assert_eq!(host(Syntax::Windows, r"D:\x").path_at(&mount).to_string(), r"D:\x");
        let mount = AbsPath::parse("/mnt/v", Syntax::Posix).unwrap();
        assert_eq!(view("/b").path_at(&mount).to_string(), "/mnt/v/b");
    }
}
