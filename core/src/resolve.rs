//! Resolution: which layers serve a virtual path, in precedence order.
//!
//! A pure function of the link table and the path; nothing here touches storage.
//!
//! - Rule 15: a path is served by the deepest link whose `V` is the path or one of its
//!   ancestors, unless the path lies in one of that link's exceptions (rule 8), in which case the
//!   next deepest link serves it, or the on-disk layer when none is left. Because every link has
//!   its own `V` and the deepest one wins, creation order never changes the answer (rule 16).
//! - Rule 9: a link whose target is a path inside the view is followed like a symlink: the rest
//!   of the path is appended to the target and resolved again, at most [`MAX_CHAIN`] times, and a
//!   cycle ends with [`Error::Loop`].
//! - Rule 11: a merged link's backing comes first, then whatever the path would show without
//!   that link (its on-disk content or a shallower link), so the listing is their union.
//! - Rules 13/14: layers brought in by a read-only link (directly or along a chain) are not
//!   writable; the lower layers of a read-only merged link keep their own writability.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::name::Name;
use crate::path::{AbsPath, VPath};
use crate::table::{LinkId, LinkTable, PathLinks, Target};

/// The most links a chain may pass through before resolution gives up with [`Error::Loop`].
pub const MAX_CHAIN: usize = 32;

/// The most resolution steps (chain hops and merge descents together) for one path.
const MAX_STEPS: usize = 256;

/// Where a layer's content comes from, as the rules speak of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Origin {
    /// The namespace's own content, without links.
    OnDisk,
    /// The backing tree of this link (reached directly, or through a chain from it).
    Backing(LinkId),
}

/// The physical root a layer is opened from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum LayerRoot {
    /// The root of the on-disk layer.
    Disk,
    /// A host path named as a link's backing.
    Host(Arc<AbsPath>),
}

/// One place to look for a virtual path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Which link (or the on-disk content) brings this layer.
    pub origin: Origin,
    /// The physical root to open.
    pub root: LayerRoot,
    /// The location below `root`.
    pub rel: Vec<Name>,
    /// False when a read-only link brought this layer (rule 13).
    pub writable: bool,
}

impl Layer {
    /// Where this layer's location is on the host, the on-disk layer's root being at
    /// `disk_root` (for reporting: the store is reached by handle, never by this path).
    pub fn host_path(&self, disk_root: &AbsPath) -> AbsPath {
        match &self.root {
            LayerRoot::Disk => disk_root.join(&self.rel),
            LayerRoot::Host(root) => root.join(&self.rel),
        }
    }
}

/// The layers that serve one virtual path, highest precedence first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// Layers in precedence order: the first one holding the path wins; directories merge.
    pub layers: Vec<Layer>,
    /// The deepest link serving the path, `None` when the on-disk content serves it.
    pub link: Option<LinkId>,
    /// The link whose `V` is exactly this path, if any.
    pub link_root: Option<LinkId>,
    /// A link's `V` or an exception lies below this path (or below a path a chain led to): if
    /// no layer holds a directory here, the view synthesizes one so that what lies below stays
    /// reachable (rules 8, 15, 16).
    pub holds_anchors: bool,
    /// The virtual paths chains led to (rule 9), whose own links and exceptions show here too.
    pub chased: Vec<VPath>,
}

impl LinkTable {
    /// Resolves a virtual path to the layers that serve it.
    pub fn resolve(&self, path: &VPath) -> Result<Resolution> {
        let on = self.links_on(path);
        let mut out = Resolution {
            layers: Vec::with_capacity(2),
            link: on.applicable.first().map(|&(_, id)| id),
            link_root: on.exact,
            holds_anchors: on.holds_anchors,
            chased: Vec::new(),
        };
        let mut steps = 0;
        self.push_layers(path, &on, usize::MAX, false, 0, &mut steps, &mut out)?;
        Ok(out)
    }

    /// Appends the layers of `path` considering only links whose `V` is shallower than `below`.
    #[allow(clippy::too_many_arguments)]
    fn push_layers(
        &self,
        path: &VPath,
        on: &PathLinks,
        below: usize,
        read_only: bool,
        chain: usize,
        steps: &mut usize,
        out: &mut Resolution,
    ) -> Result<()> {
        *steps += 1;
        if chain > MAX_CHAIN || *steps > MAX_STEPS {
            return Err(Error::Loop);
        }
        let Some(&(depth, id)) = on.applicable.iter().find(|(d, _)| *d < below) else {
            out.layers.push(Layer {
                origin: Origin::OnDisk,
                root: LayerRoot::Disk,
                rel: path.names().to_vec(),
                writable: !read_only,
            });
            return Ok(());
        };
        let Some(link) = self.get(id) else { return Err(Error::NotFound) };
        let rel = &path.names()[depth..];
        let link_ro = read_only || link.flags.read_only;
        match &link.target {
            Target::Host(root) => out.layers.push(Layer {
                origin: Origin::Backing(id),
                root: LayerRoot::Host(Arc::clone(root)),
                rel: rel.to_vec(),
                writable: !link_ro,
            }),
            Target::View(target) => {
                let next = target.join_all(rel);
                let next_on = self.links_on(&next);
                out.holds_anchors |= next_on.holds_anchors;
                let start = out.layers.len();
                self.push_layers(&next, &next_on, usize::MAX, link_ro, chain + 1, steps, out)?;
                for layer in &mut out.layers[start..] {
                    layer.origin = Origin::Backing(id);
                }
                out.chased.push(next);
            }
        }
        if link.flags.merged {
            self.push_layers(path, on, depth, read_only, chain, steps, out)?;
        }
        Ok(())
    }
}
