//! Merge rules: how the layers of a path combine into what the view shows, and where changes go.
//!
//! - Listing (rule 11): the ordered union of the layers' listings, highest precedence first,
//!   each name once (compared under the view's case policy); then the names that lead to a
//!   link's `V` or an exception, whose own resolution decides whether and how they show.
//! - Creation (rules 12, 14): a new entry goes to the first *writable* layer in precedence
//!   order, so a merged link creates in its backing (it masks a same-name on-disk entry), and a
//!   read-only merged link creates in the on-disk content below it. Directories that the target
//!   layer lacks but the view shows (from a lower layer) are created there first ("copy-up" of
//!   directories only; file contents are never copied).
//! - Deletion (rule 12): acts on the layer that provides the visible entry only; a same-name
//!   entry of a lower layer becomes visible again (there are no whiteouts).
//! - Rename and hard link: stay in the source's layer when the destination can live there (for
//!   a rename onto an existing name: when that layer is at or above the one showing the name, so
//!   the result masks it and nothing below is overwritten); otherwise they go to the layer
//!   showing the replaced name, or to the creation layer for a new name. The store answers
//!   `EXDEV` if that crosses file systems (rule 23).

use std::collections::HashSet;

use crate::backing::DirEntry;
use crate::error::{Error, Result};
use crate::name::{CasePolicy, Name};
use crate::resolve::Layer;

/// The ordered union of listings, highest precedence first (the first entry of a name wins),
/// each entry with the index of the listing it comes from.
pub fn union_indexed(policy: CasePolicy, listings: Vec<Vec<DirEntry>>) -> Vec<(usize, DirEntry)> {
    let mut out = Vec::with_capacity(listings.first().map_or(0, Vec::len));
    if listings.len() == 1 {
        // One layer: its names are distinct already.
        out.extend(listings.into_iter().flatten().map(|e| (0, e)));
        return out;
    }
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for (i, listing) in listings.into_iter().enumerate() {
        for entry in listing {
            if seen.insert(policy.key(entry.name.as_bytes()).into_owned()) {
                out.push((i, entry));
            }
        }
    }
    out
}

/// What the resolution of a name below a listed directory found, to overlay on the listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anchor {
    /// The name shows as this entry (a link's `V`, an exception's content, a synthesized dir).
    Shows(DirEntry),
    /// The name must not show (e.g. an exception whose on-disk content is gone).
    Hidden(Name),
}

/// Overlays anchored names on a merged listing whose entries each carry a payload `T` (say,
/// where they come from): an anchor replaces a same-name entry in place, or is appended; a
/// hidden anchor removes the name.
pub fn overlay<T>(policy: CasePolicy, listing: &mut Vec<(DirEntry, T)>, anchors: Vec<(Anchor, T)>) {
    for (anchor, payload) in anchors {
        let name = match &anchor {
            Anchor::Shows(e) => &e.name,
            Anchor::Hidden(n) => n,
        };
        let pos = listing.iter().position(|(e, _)| policy.same(e.name.as_bytes(), name.as_bytes()));
        match (anchor, pos) {
            (Anchor::Shows(e), Some(i)) => listing[i] = (e, payload),
            (Anchor::Shows(e), None) => listing.push((e, payload)),
            (Anchor::Hidden(_), Some(i)) => {
                listing.remove(i);
            }
            (Anchor::Hidden(_), None) => {}
        }
    }
}

/// The layer a new entry goes to: the first writable one (rules 12, 14).
pub fn create_layer(layers: &[Layer]) -> Result<usize> {
    layers.iter().position(|l| l.writable).ok_or(Error::ReadOnly)
}

/// The layer a rename should target when the destination exists, provided by layer `shown`:
/// the source's own layer if it is at or above `shown` among the destination's layers and
/// writable (the result then masks or replaces the shown entry, and nothing below is touched),
/// else the layer of the shown entry, which is replaced.
pub fn replace_layer(dest_layers: &[Layer], shown: usize, source: &Layer) -> Result<usize> {
    let own = dest_layers.iter().take(shown + 1).position(|l| l.writable && l.root == source.root);
    match own {
        Some(i) => Ok(i),
        None if dest_layers.get(shown).is_some_and(|l| l.writable) => Ok(shown),
        None => Err(Error::ReadOnly),
    }
}

/// The layer a rename or hard link should target when the destination does not exist: the
/// source's own layer if the destination path is served by the same physical root and that
/// layer is writable, else the creation layer.
pub fn move_layer(dest_layers: &[Layer], source: &Layer) -> Result<usize> {
    let same = dest_layers.iter().position(|l| l.writable && l.root == source.root);
    match same {
        Some(i) => Ok(i),
        None => create_layer(dest_layers),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::backing::FileKind;
    use crate::resolve::{LayerRoot, Origin};

    fn e(name: &str, ino: u64) -> DirEntry {
        DirEntry { name: Name::posix(name).unwrap(), kind: FileKind::File, ino }
    }

    #[test]
    fn union_keeps_order_and_first_wins() {
        let out = union_indexed(
            CasePolicy::Sensitive,
            vec![vec![e("b", 1), e("a", 2)], vec![e("a", 3), e("c", 4)]],
        );
        let got: Vec<(usize, String, u64)> =
            out.iter().map(|(i, d)| (*i, d.name.to_string(), d.ino)).collect();
        assert_eq!(got, vec![(0, "b".into(), 1), (0, "a".into(), 2), (1, "c".into(), 4)]);
        let ci = union_indexed(CasePolicy::Insensitive, vec![vec![e("Readme", 1)], vec![e("README", 2)]]);
        assert_eq!(ci.len(), 1);
        assert_eq!((ci[0].0, ci[0].1.ino), (0, 1));
    }

    #[test]
    fn overlay_replaces_appends_and_hides() {
        let mut l = vec![(e("x", 1), 'a'), (e("y", 2), 'a')];
        overlay(
            CasePolicy::Sensitive,
            &mut l,
            vec![
                (Anchor::Shows(e("y", 9)), 'b'),
                (Anchor::Shows(e("z", 8)), 'c'),
                (Anchor::Hidden(Name::posix("x").unwrap()), 'd'),
            ],
        );
        let got: Vec<(String, u64, char)> = l.iter().map(|(d, t)| (d.name.to_string(), d.ino, *t)).collect();
        assert_eq!(got, vec![("y".into(), 9, 'b'), ("z".into(), 8, 'c')]);
    }

    #[test]
    fn creation_goes_to_the_first_writable_layer() {
        let layer =
            |w: bool, root: LayerRoot| Layer { origin: Origin::OnDisk, root, rel: vec![], writable: w };
        let host = LayerRoot::Host(std::sync::Arc::new(
            crate::path::AbsPath::parse("/t", crate::path::Syntax::Posix).unwrap(),
        ));
        assert_eq!(create_layer(&[layer(true, host.clone()), layer(true, LayerRoot::Disk)]), Ok(0));
        assert_eq!(create_layer(&[layer(false, host.clone()), layer(true, LayerRoot::Disk)]), Ok(1));
        assert_eq!(create_layer(&[layer(false, host.clone())]), Err(Error::ReadOnly));
        let src = layer(true, LayerRoot::Disk);
        assert_eq!(move_layer(&[layer(true, host.clone()), layer(true, LayerRoot::Disk)], &src), Ok(1));
        // A rename onto an entry shown from a lower layer stays in the source's upper layer ...
        let upper = layer(true, host.clone());
        let both = [layer(true, host.clone()), layer(true, LayerRoot::Disk)];
        assert_eq!(replace_layer(&both, 1, &upper), Ok(0));
        // ... and one from a lower layer onto an upper entry replaces the upper entry.
        assert_eq!(replace_layer(&both, 0, &src), Ok(0));
        assert_eq!(
            replace_layer(&[layer(false, host), layer(true, LayerRoot::Disk)], 0, &src),
            Err(Error::ReadOnly)
        );
    }
}
