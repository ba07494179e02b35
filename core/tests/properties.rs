//! Property tests: path normalization, and invariants of resolution over random link tables.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_core::fake::FakeBacking;
use bindfs_core::{
    AbsPath, CasePolicy, Error, FileKind, LinkFlags, LinkSpec, OpenFlags, Syntax, Target, VPath, View,
};
use proptest::prelude::*;

// ---- paths

fn component() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["a", "b", "Cc", ".", "..", "", "d.txt"])
}

/// The lexical model: a stack, `..` at the root is an error.
fn model(parts: &[&str]) -> Result<Vec<String>, &'static str> {
    let mut stack: Vec<String> = Vec::new();
    let n = parts.len();
    for (i, part) in parts.iter().enumerate() {
        match *part {
            "" if i + 1 == n => {} // one trailing separator
            "" => return Err("empty"),
            "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err("escapes");
                }
            }
            name => stack.push(name.to_string()),
        }
    }
    Ok(stack)
}

proptest! {
    #[test]
    fn normalization_matches_the_lexical_model(parts in prop::collection::vec(component(), 0..10)) {
        let input = format!("/{}", parts.join("/"));
        let parsed = AbsPath::parse(&input, Syntax::Posix);
        match model(&parts) {
            Ok(names) => {
                let got = parsed.unwrap();
                let got_names: Vec<String> = got.path.names().iter().map(|n| n.to_string()).collect();
                prop_assert_eq!(got_names, names);
            }
            Err("escapes") => prop_assert!(matches!(parsed, Err(Error::EscapesRoot(_)))),
            Err(_) => prop_assert!(matches!(parsed, Err(Error::EmptyComponent) | Err(Error::EscapesRoot(_)))),
        }
    }

    #[test]
    fn normalization_is_idempotent_and_never_escapes(parts in prop::collection::vec(component(), 0..10)) {
        let input = format!("/{}", parts.join("/"));
        if let Ok(once) = AbsPath::parse(&input, Syntax::Posix) {
            let twice = AbsPath::parse(&once.to_string(), Syntax::Posix).unwrap();
            prop_assert_eq!(&once, &twice);
            prop_assert!(once.path.names().iter().all(|n| n.as_bytes() != b".." && n.as_bytes() != b"."));
            // Relative input joined to a base never climbs above the root either.
            let base = AbsPath::parse("/m/n", Syntax::Posix).unwrap();
            if let Ok(j) = base.join_input(parts.join("/").as_bytes(), Syntax::Posix) {
                prop_assert_eq!(j.root, bindfs_core::Root::Posix);
            }
        }
    }

    #[test]
    fn windows_syntax_agrees_with_posix(parts in prop::collection::vec(component(), 0..8), seps in prop::collection::vec(any::<bool>(), 8)) {
        let mut win = String::from("C:");
        for (i, part) in parts.iter().enumerate() {
            win.push(if seps[i % seps.len()] { '\\' } else { '/' });
            win.push_str(part);
        }
        let posix = AbsPath::parse(&format!("/{}", parts.join("/")), Syntax::Posix);
        let windows = AbsPath::parse(&win, Syntax::Windows);
        match (posix, windows) {
            (Ok(p), Ok(w)) => prop_assert_eq!(p.path, w.path),
            (Err(a), Err(b)) => prop_assert_eq!(std::mem::discriminant(&a), std::mem::discriminant(&b)),
            (a, b) => prop_assert!(false, "posix {:?} vs windows {:?}", a, b),
        }
    }
}

// ---- resolution over random link tables

const VIRTUALS: &[&str] = &["/d0", "/d0/s0", "/d0/s0/x", "/d1", "/d1/s1", "/new", "/new/n1", "/d0/f0", "/"];
const HOSTS: &[&str] = &["/t/b0", "/t/b1", "/t/b2", "/t/b0/s0", "/t/file"];
const EXCEPTIONS: &[&str] = &["/d0/s0", "/d0/f0", "/d1/s1", "/d0/s0/g0", "/d1/f1"];

fn populated() -> FakeBacking {
    let s = FakeBacking::new("/vol");
    for d in ["d0", "d1"] {
        for sub in ["s0", "s1"] {
            s.write_file(&format!("/vol/{d}/{sub}/g0"), format!("{d}{sub}").as_bytes());
        }
        s.write_file(&format!("/vol/{d}/f0"), d.as_bytes());
        s.write_file(&format!("/vol/{d}/f1"), b"f1");
    }
    for (i, b) in ["b0", "b1", "b2"].iter().enumerate() {
        s.write_file(&format!("/t/{b}/s0/g0"), b.as_bytes());
        s.write_file(&format!("/t/{b}/f{i}"), b"backing");
        s.write_file(&format!("/t/{b}/s1/only-{b}"), b"x");
    }
    s.write_file("/t/file", b"file");
    s
}

#[derive(Debug, Clone)]
struct Op {
    virt: usize,
    host: Option<usize>,
    view_target: usize,
    merged: bool,
    read_only: bool,
    exceptions: Vec<usize>,
}

fn op() -> impl Strategy<Value = Op> {
    (
        0..VIRTUALS.len(),
        prop::option::weighted(0.8, 0..HOSTS.len()),
        0..VIRTUALS.len(),
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(0..EXCEPTIONS.len(), 0..3),
    )
        .prop_map(|(virt, host, view_target, merged, read_only, exceptions)| Op {
            virt,
            host,
            view_target,
            merged,
            read_only,
            exceptions,
        })
}

fn build(ops: &[Op]) -> View<FakeBacking> {
    let view = View::new(populated(), CasePolicy::Sensitive);
    for o in ops {
        let target = match o.host {
            Some(h) => Target::host(HOSTS[h]).unwrap(),
            None => Target::View(VPath::parse(VIRTUALS[o.view_target]).unwrap()),
        };
        let virt = VPath::parse(VIRTUALS[o.virt]).unwrap();
        // Exceptions are drawn among those below V, so that most specs can succeed.
        let exceptions = o
            .exceptions
            .iter()
            .map(|&e| VPath::parse(EXCEPTIONS[e]).unwrap())
            .filter(|e| e.depth() > virt.depth() && e.starts_with(&virt, CasePolicy::Sensitive))
            .collect();
        let spec = LinkSpec {
            virt,
            target,
            flags: LinkFlags { merged: o.merged, read_only: o.read_only },
            exceptions,
        };
        // Many random specs break a rule; those must be refused without changing anything.
        let before = view.links().len();
        if view.create_link(spec).is_err() {
            assert_eq!(view.links().len(), before);
        }
    }
    view
}

/// Every path of the view down to `depth`, with what it shows: kind and, for files, content.
fn snapshot(view: &View<FakeBacking>, dir: &VPath, depth: usize, out: &mut Vec<(String, String)>) {
    let Ok(entries) = view.readdir(dir) else { return };
    let mut names: Vec<_> = entries.iter().map(|e| e.name.clone()).collect();
    names.sort();
    for name in names {
        let child = dir.join(&name);
        let shown = match view.lookup(&child) {
            Ok(f) if f.attr.kind == FileKind::File => {
                let file = view.open(&child, OpenFlags::READ).unwrap();
                let mut buf = vec![0; 256];
                let n = view.read(&file, 0, &mut buf).unwrap();
                format!("file:{}", String::from_utf8_lossy(&buf[..n]))
            }
            Ok(f) => format!("{:?}", f.attr.kind),
            Err(e) => format!("error:{e}"),
        };
        let is_dir = shown == "Dir";
        out.push((child.to_string(), shown));
        if is_dir && depth > 0 {
            snapshot(view, &child, depth - 1, out);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn a_listing_never_shows_a_name_twice(ops in prop::collection::vec(op(), 1..8)) {
        let view = build(&ops);
        let mut all = Vec::new();
        snapshot(&view, &VPath::root(), 4, &mut all);
        for dir in std::iter::once("/".to_string()).chain(all.iter().filter(|(_, k)| k == "Dir").map(|(p, _)| p.clone())) {
            let Ok(entries) = view.readdir(&VPath::parse(&dir).unwrap()) else { continue };
            let mut names: Vec<_> = entries.iter().map(|e| e.name.clone()).collect();
            let n = names.len();
            names.sort();
            names.dedup();
            prop_assert_eq!(names.len(), n, "duplicate name in {}", dir);
        }
    }

    #[test]
    fn a_listing_with_attributes_agrees_with_lookups(ops in prop::collection::vec(op(), 1..8)) {
        let view = build(&ops);
        let mut all = Vec::new();
        snapshot(&view, &VPath::root(), 4, &mut all);
        let dirs = std::iter::once("/".to_string()).chain(all.iter().filter(|(_, k)| k == "Dir").map(|(p, _)| p.clone()));
        for dir in dirs {
            let dir = VPath::parse(&dir).unwrap();
            let Ok(plain) = view.readdir(&dir) else { continue };
            let plus = view.readdir_plus(&dir).unwrap();
            let mut a: Vec<String> = plain.iter().map(|e| e.name.to_string()).collect();
            let mut b: Vec<String> = plus.iter().map(|e| e.entry.name.to_string()).collect();
            a.sort();
            b.sort();
            prop_assert_eq!(a, b, "names of {}", dir);
            for listed in plus {
                let looked = view.lookup(&dir.join(&listed.entry.name));
                match (listed.attr, looked) {
                    (Some(attr), Ok(found)) => {
                        prop_assert_eq!(attr, found.attr, "{}/{}", dir, listed.entry.name);
                        prop_assert_eq!(listed.writable, found.writable);
                        prop_assert_eq!(listed.synthesized, found.node.is_none());
                    }
                    (None, Err(_)) => {}
                    (a, b) => prop_assert!(false, "{}/{}: plus {:?}, lookup {:?}", dir, listed.entry.name, a, b.map(|f| f.attr)),
                }
            }
        }
    }

    #[test]
    fn an_exception_always_shows_the_on_disk_content(ops in prop::collection::vec(op(), 1..8)) {
        let view = build(&ops);
        let links = view.links();
        let policy = CasePolicy::Sensitive;
        for l in &links {
            for e in &l.exceptions {
                // Only where no other link would serve the exception path.
                let covered = links.iter().any(|o| {
                    e.starts_with(&o.virt, policy) && !o.exceptions.iter().any(|x| e.starts_with(x, policy))
                });
                if covered {
                    continue;
                }
                let disk = view.backing().attr_of(&format!("/vol{e}"));
                match (view.getattr(e), disk) {
                    (Ok(shown), Some(disk)) => prop_assert_eq!(shown.ino, disk.ino, "exception {}", e),
                    (Err(Error::NotFound), None) => {}
                    (a, b) => prop_assert!(false, "exception {}: view {:?}, disk {:?}", e, a, b),
                }
            }
        }
    }

    #[test]
    fn removing_every_link_restores_the_on_disk_view(ops in prop::collection::vec(op(), 1..8)) {
        let pristine = View::new(populated(), CasePolicy::Sensitive);
        let mut expected = Vec::new();
        snapshot(&pristine, &VPath::root(), 4, &mut expected);
        let view = build(&ops);
        let mut links = view.links();
        links.sort_by_key(|l| std::cmp::Reverse(l.virt.depth()));
        for l in links {
            view.remove_link(&l.virt).unwrap();
        }
        let mut got = Vec::new();
        snapshot(&view, &VPath::root(), 4, &mut got);
        prop_assert_eq!(got, expected);
    }
}

/// The random tables above must really hold links (most random specs break some rule), or the
/// properties would hold vacuously.
#[test]
fn random_tables_hold_links_of_every_kind() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut links, mut merged, mut chained, mut with_exceptions) = (0, 0, 0, 0);
    for _ in 0..200 {
        let ops = prop::collection::vec(op(), 1..8).new_tree(&mut runner).unwrap().current();
        for l in build(&ops).links() {
            links += 1;
            merged += usize::from(l.flags.merged);
            chained += usize::from(matches!(l.target, Target::View(_)));
            with_exceptions += usize::from(!l.exceptions.is_empty());
        }
    }
    assert!(links > 200, "only {links} links in 200 tables");
    assert!(
        merged > 20 && chained > 20 && with_exceptions > 20,
        "{merged} merged, {chained} chained, {with_exceptions} with exceptions"
    );
}
