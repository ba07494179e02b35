//! Which link and which layer serve a virtual path, and where its entry really is in the store:
//! what `bindfs-rs link which` reports (the question mergerfs answers with its
//! `user.mergerfs.fullpath` and `allpaths` attributes).

use crate::backing::{Backing, FileKind};
use crate::error::{Error, Result};
use crate::path::VPath;
use crate::resolve::{Layer, Origin};
use crate::table::{Link, LinkTable};

use super::{View, is_missing, shown_entry};

/// How the entry a path shows is served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// From a link's backing (directly, or through a chain, rule 9).
    Backing,
    /// From the on-disk layer: no link applies, or a merged link's backing lacks the name.
    OnDisk,
    /// The path lies in an exception of `link` (rule 8): it falls through to the layer below,
    /// which the first holder names.
    Exception {
        /// The link that does not apply here.
        link: Link,
        /// The exception path that covers the path.
        exception: VPath,
    },
    /// A directory the view makes up so that links below it stay reachable (rules 5, 8, 15, 16).
    Synthesized,
}

/// A layer that holds the name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    /// The layer: its origin, root and location below the root.
    pub layer: Layer,
    /// What the layer holds there.
    pub kind: FileKind,
}

/// Everything `link which` tells about one virtual path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Which {
    /// The deepest link serving the path; `None` where only the on-disk content does.
    pub link: Option<Link>,
    /// How the entry shown is served.
    pub served: Served,
    /// Every layer holding the name, in precedence order: the first is the one shown (unless
    /// the entry is synthesized). A layer where an ancestor is a file ends the list: it hides
    /// the layers below (rule 11).
    pub holders: Vec<Holder>,
    /// Whether the entry may be changed through the view.
    pub writable: bool,
}

/// The link whose exception covers `path`, with that exception, deepest link first: `None`
/// when no exception covers it.
fn excepted(table: &LinkTable, path: &VPath) -> Option<(Link, VPath)> {
    let policy = table.policy();
    (0..=path.depth()).rev().find_map(|depth| {
        let at = VPath::from_names(path.names()[..depth].to_vec());
        let link = table.link_at(&at)?;
        let exception = link.exceptions.iter().find(|e| path.starts_with(e, policy))?;
        Some((link.clone(), exception.clone()))
    })
}

impl<B: Backing> View<B> {
    /// Which link and which layers serve `path` now, as a lookup finds it. Fails as a lookup
    /// does: [`Error::NotFound`] when nothing shows there.
    pub fn which(&self, path: &VPath) -> Result<Which> {
        let (resolution, link, excepted) = {
            let table = self.table.read();
            let resolution = table.resolve(path)?;
            let link = resolution.link.and_then(|id| table.get(id)).cloned();
            (resolution, link, excepted(&table, path))
        };
        let shown = shown_entry(&resolution, self.first_attr(&resolution))?;
        let mut holders = Vec::new();
        for layer in &resolution.layers {
            match self.layer_attr(layer) {
                Ok(attr) => holders.push(Holder { layer: layer.clone(), kind: attr.kind }),
                Err(Error::NotFound) => {}
                // An ancestor is a file in this layer: what it hides stays hidden.
                Err(e) if is_missing(&e) => break,
                Err(e) => return Err(e),
            }
        }
        // An exception matters only where it made the path fall past its link: to a shallower
        // link, or to the on-disk layer.
        let deeper = |l: &Link| link.as_ref().is_none_or(|served| l.virt.depth() > served.virt.depth());
        let (served, writable) = match shown {
            None => (Served::Synthesized, false),
            Some((i, _)) => {
                let served = match excepted.filter(|(l, _)| deeper(l)) {
                    Some((link, exception)) => Served::Exception { link, exception },
                    None => match resolution.layers[i].origin {
                        Origin::Backing(_) => Served::Backing,
                        Origin::OnDisk => Served::OnDisk,
                    },
                };
                (served, resolution.layers[i].writable)
            }
        };
        Ok(Which { link, served, holders, writable })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::fake::FakeBacking;
    use crate::path::{AbsPath, Syntax};
    use crate::{CasePolicy, LinkFlags, LinkSpec, Target};

    fn p(s: &str) -> VPath {
        VPath::parse(s).unwrap()
    }

    fn link(view: &View<FakeBacking>, virt: &str, target: &str, flags: LinkFlags, except: &[&str]) {
        let target =
            if target.starts_with("/t") { Target::host(target).unwrap() } else { Target::View(p(target)) };
        let exceptions = except.iter().map(|e| p(e)).collect();
        view.create_link(LinkSpec { virt: p(virt), target, flags, exceptions }).unwrap();
    }

    /// A view with a link of every kind over a small tree.
    fn view() -> View<FakeBacking> {
        let store = FakeBacking::new("/vol");
        store.write_file("/vol/plain.txt", b"disk");
        store.write_file("/t/a/f.txt", b"a");
        store.write_file("/t/inner/n.txt", b"n");
        store.mkdir_p("/vol/A/inner");
        store.write_file("/t/m/both.txt", b"m");
        store.write_file("/vol/M/both.txt", b"disk");
        store.write_file("/vol/M/disk_only.txt", b"disk");
        store.write_file("/t/e/e.txt", b"e");
        store.write_file("/vol/E/keep/k.txt", b"disk");
        store.write_file("/t/x/x.txt", b"x");
        store.write_file("/t/r/r.txt", b"r");
        store.mkdir_p("/vol/S/deep");
        let view = View::new(store, CasePolicy::Sensitive);
        let plain = LinkFlags::default();
        link(&view, "/A", "/t/a", plain, &[]);
        link(&view, "/A/inner", "/t/inner", plain, &[]);
        link(&view, "/M", "/t/m", LinkFlags { merged: true, read_only: false }, &[]);
        link(&view, "/E", "/t/e", plain, &["/E/keep"]);
        link(&view, "/S/deep/x", "/t/x", plain, &[]);
        link(&view, "/R", "/t/r", LinkFlags { read_only: true, merged: false }, &[]);
        link(&view, "/C", "/A", plain, &[]);
        // The parents of /S/deep/x go away on disk: the view makes them up.
        view.backing().remove_all("/vol/S");
        view
    }

    /// The host path of each holder (the on-disk layer under `/vol`).
    fn paths(w: &Which) -> Vec<String> {
        let disk = AbsPath::parse("/vol", Syntax::Posix).unwrap();
        w.holders.iter().map(|h| h.layer.host_path(&disk).to_string()).collect()
    }

    #[test]
    fn each_layer_kind_is_told_with_its_link_and_real_paths() {
        let v = view();
        // (path, serving link, how served, holders' real paths, writable)
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, &'a [&'a str], bool);
        let cases: [Case; 11] = [
            ("/plain.txt", None, "on-disk", &["/vol/plain.txt"], true),
            ("/A/f.txt", Some("/A"), "backing", &["/t/a/f.txt"], true),
            ("/A", Some("/A"), "backing", &["/t/a"], true),
            ("/A/inner/n.txt", Some("/A/inner"), "backing", &["/t/inner/n.txt"], true),
            ("/M/both.txt", Some("/M"), "backing", &["/t/m/both.txt", "/vol/M/both.txt"], true),
            ("/M/disk_only.txt", Some("/M"), "on-disk", &["/vol/M/disk_only.txt"], true),
            ("/E/e.txt", Some("/E"), "backing", &["/t/e/e.txt"], true),
            ("/E/keep/k.txt", None, "exception", &["/vol/E/keep/k.txt"], true),
            ("/S", None, "synthesized", &[], false),
            ("/R/r.txt", Some("/R"), "backing", &["/t/r/r.txt"], false),
            // A chain (rule 9): /C leads to /A, whose backing holds the file.
            ("/C/f.txt", Some("/C"), "backing", &["/t/a/f.txt"], true),
        ];
        for (path, link, served, holders, writable) in cases {
            let w = v.which(&p(path)).unwrap();
            assert_eq!(w.link.as_ref().map(|l| l.virt.to_string()), link.map(str::to_owned), "{path}");
            let kind = match &w.served {
                Served::Backing => "backing",
                Served::OnDisk => "on-disk",
                Served::Exception { .. } => "exception",
                Served::Synthesized => "synthesized",
            };
            assert_eq!(kind, served, "{path}");
            assert_eq!(paths(&w), holders, "{path}");
            assert_eq!(w.writable, writable, "{path}");
        }
    }

    #[test]
    fn an_exception_names_its_link_and_path_and_the_layer_below() {
        let w = view().which(&p("/E/keep/k.txt")).unwrap();
        let Served::Exception { link, exception } = &w.served else { panic!("{w:?}") };
        assert_eq!((link.virt.to_string(), exception.to_string()), ("/E".into(), "/E/keep".into()));
        assert_eq!(w.holders[0].layer.origin, Origin::OnDisk);
    }

    #[test]
    fn merged_layers_are_listed_in_precedence_order() {
        let v = view();
        let w = v.which(&p("/M/both.txt")).unwrap();
        let origins: Vec<Origin> = w.holders.iter().map(|h| h.layer.origin).collect();
        let m = v.links().into_iter().find(|l| l.virt == p("/M")).unwrap().id;
        assert_eq!(origins, [Origin::Backing(m), Origin::OnDisk]);
        assert!(w.holders.iter().all(|h| h.kind == FileKind::File));
    }

    #[test]
    fn a_path_that_exists_nowhere_is_not_found() {
        let v = view();
        assert_eq!(v.which(&p("/nope")).unwrap_err(), Error::NotFound);
        assert_eq!(v.which(&p("/A/nope")).unwrap_err(), Error::NotFound);
        assert_eq!(v.which(&p("/S/nope")).unwrap_err(), Error::NotFound);
    }
}
