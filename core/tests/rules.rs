//! The rules of `docs/spec.md` that the core decides, one or more tests each, named after the
//! rule, on the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bindfs_core::fake::FakeBacking;
use bindfs_core::{
    CasePolicy, Error, FileKind, LinkFlags, LinkSpec, OpenFlags, Origin, RenameFlags, SetAttr, SetTime,
    Target, Timestamp, VPath, View, XattrMode, win_attr,
};

fn p(s: &str) -> VPath {
    VPath::parse(s).unwrap()
}

/// The on-disk layer is `/vol`; `/t/Target` holds `Cat.txt`, `/t/Target2` holds `Dog.txt`.
fn store() -> FakeBacking {
    let s = FakeBacking::new("/vol");
    s.write_file("/vol/Foo/old.txt", b"on disk");
    s.write_file("/vol/Foo/shared.txt", b"disk version");
    s.write_file("/vol/top.txt", b"top");
    s.write_file("/t/Target/Cat.txt", b"meow");
    s.write_file("/t/Target/shared.txt", b"backing version");
    s.write_file("/t/Target2/Dog.txt", b"woof");
    s.mkdir_p("/t/Empty");
    s.write_file("/t/file.txt", b"a file");
    s
}

fn view() -> View<FakeBacking> {
    View::new(store(), CasePolicy::Sensitive)
}

fn spec(v: &str, b: &str) -> LinkSpec {
    LinkSpec { virt: p(v), target: Target::host(b).unwrap(), flags: LinkFlags::default(), exceptions: vec![] }
}

fn link(view: &View<FakeBacking>, v: &str, b: &str) {
    view.create_link(spec(v, b)).unwrap();
}

fn ls(view: &View<FakeBacking>, dir: &str) -> Vec<String> {
    let mut names: Vec<String> = view.readdir(&p(dir)).unwrap().iter().map(|e| e.name.to_string()).collect();
    names.sort();
    names
}

fn cat(view: &View<FakeBacking>, path: &str) -> String {
    let f = view.open(&p(path), OpenFlags::READ).unwrap();
    let mut buf = vec![0; 4096];
    let n = view.read(&f, 0, &mut buf).unwrap();
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

fn write_new(view: &View<FakeBacking>, path: &str, data: &str) {
    let (_, f) = view.create(&p(path), 0o644, OpenFlags::READ_WRITE).unwrap();
    view.write(&f, 0, data.as_bytes()).unwrap();
}

#[test]
fn rule_01_create_shows_backing_tree_until_remove() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    assert_eq!(ls(&v, "/Foo"), ["Cat.txt", "shared.txt"]);
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "meow");
    assert_eq!(v.links().len(), 1);
    v.remove_link(&p("/Foo")).unwrap();
    assert_eq!(ls(&v, "/Foo"), ["old.txt", "shared.txt"]);
    assert!(v.links().is_empty());
}

#[test]
fn rule_02_missing_backing_is_refused_and_nothing_changes() {
    let v = view();
    let g = v.generation();
    assert_eq!(v.create_link(spec("/Foo", "/t/NoSuch")), Err(Error::BackingNotFound("/t/NoSuch".into())));
    let virt = LinkSpec { target: Target::View(p("/NoSuch")), ..spec("/Foo", "/t") };
    assert!(matches!(v.create_link(virt), Err(Error::BackingNotFound(_))));
    assert!(v.links().is_empty());
    assert_eq!(v.generation(), g);
    assert_eq!(ls(&v, "/Foo"), ["old.txt", "shared.txt"]);
}

#[test]
fn rule_03_one_link_per_virtual_path() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    assert_eq!(v.create_link(spec("/Foo", "/t/Target2")), Err(Error::AlreadyLinked(p("/Foo"))));
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "meow");
    // On a case-insensitive view, the same path in another case is the same link.
    let ci = View::new(store(), CasePolicy::Insensitive);
    ci.create_link(spec("/Foo", "/t/Target")).unwrap();
    assert!(matches!(ci.create_link(spec("/FOO", "/t/Target2")), Err(Error::AlreadyLinked(_))));
}

#[test]
fn rule_04_parent_must_be_visible() {
    let v = view();
    assert_eq!(
        v.create_link(spec("/NoSuch/Bar", "/t/Target")),
        Err(Error::ParentNotVisible(p("/NoSuch/Bar")))
    );
    assert_eq!(
        v.create_link(spec("/top.txt/Bar", "/t/Target")),
        Err(Error::ParentNotDirectory(p("/top.txt/Bar")))
    );
    // Visible on disk.
    link(&v, "/Foo/Sub", "/t/Target2");
    // Visible as an earlier link's V (/Foo/Sub did not exist on disk).
    link(&v, "/Foo/Sub/Deeper", "/t/Empty");
    assert_eq!(ls(&v, "/Foo/Sub"), ["Deeper", "Dog.txt"]);
    link(&v, "/A", "/t/Target");
    // Nested anchorless links are created parent first: /A is another link's V.
    link(&v, "/A/B", "/t/Target2");
    link(&v, "/A/B/C", "/t/Empty");
    assert_eq!(ls(&v, "/A/B"), ["C", "Dog.txt"]);
}

#[test]
fn rule_04_parent_visible_through_a_backing_tree() {
    let s = store();
    s.mkdir_p("/t/Target/inner");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo", "/t/Target");
    link(&v, "/Foo/inner/New", "/t/Target2");
    assert_eq!(ls(&v, "/Foo/inner"), ["New"]);
    assert_eq!(cat(&v, "/Foo/inner/New/Dog.txt"), "woof");
}

#[test]
fn rule_05_anchorless_link_is_synthesized_in_its_parent() {
    let v = view();
    assert!(!ls(&v, "/").contains(&"New".to_string()));
    link(&v, "/New", "/t/Target");
    link(&v, "/NewFile", "/t/file.txt");
    let l = v.links();
    assert!(l.iter().all(|l| l.anchorless));
    assert_eq!(ls(&v, "/"), ["Foo", "New", "NewFile", "top.txt"]);
    let entries = v.readdir(&p("/")).unwrap();
    let kind = |n: &str| entries.iter().find(|e| e.name.to_string() == n).map(|e| e.kind);
    assert_eq!(kind("New"), Some(FileKind::Dir));
    assert_eq!(kind("NewFile"), Some(FileKind::File));
    // The backing's attributes show at V.
    let backing = v.backing().attr_of("/t/file.txt").unwrap();
    let shown = v.getattr(&p("/NewFile")).unwrap();
    assert_eq!((shown.size, shown.ino, shown.perm), (backing.size, backing.ino, backing.perm));
    v.remove_link(&p("/New")).unwrap();
    v.remove_link(&p("/NewFile")).unwrap();
    assert_eq!(ls(&v, "/"), ["Foo", "top.txt"]);
    assert_eq!(v.getattr(&p("/New")), Err(Error::NotFound));
}

#[test]
fn rule_06_shadow_link_hides_on_disk_content_and_restores_it() {
    let v = view();
    link(&v, "/Foo", "/t/Target2");
    assert!(!v.links()[0].anchorless);
    assert_eq!(ls(&v, "/Foo"), ["Dog.txt"]);
    assert_eq!(v.getattr(&p("/Foo/old.txt")), Err(Error::NotFound));
    v.remove_link(&p("/Foo")).unwrap();
    assert_eq!(cat(&v, "/Foo/old.txt"), "on disk");
    assert_eq!(v.backing().read_file("/vol/Foo/old.txt").unwrap(), b"on disk");
}

#[test]
fn rule_07_backing_type_wins() {
    let v = view();
    link(&v, "/Foo", "/t/file.txt");
    let a = v.getattr(&p("/Foo")).unwrap();
    assert_eq!(a.kind, FileKind::File);
    assert_eq!(cat(&v, "/Foo"), "a file");
    assert_eq!(v.readdir(&p("/Foo")), Err(Error::NotDir));
    assert_eq!(v.getattr(&p("/Foo/old.txt")), Err(Error::NotDir));
}

#[test]
fn rule_08_exceptions_show_on_disk_content() {
    let s = store();
    s.write_file("/vol/Foo/keep/deep/x.txt", b"kept");
    s.write_file("/t/Target/keep/other.txt", b"backing");
    let v = View::new(s, CasePolicy::Sensitive);
    let mut sp = spec("/Foo", "/t/Target");
    sp.exceptions = vec![p("/Foo/keep"), p("/Foo/old.txt")];
    v.create_link(sp).unwrap();
    assert_eq!(ls(&v, "/Foo"), ["Cat.txt", "keep", "old.txt", "shared.txt"]);
    assert_eq!(cat(&v, "/Foo/old.txt"), "on disk");
    assert_eq!(ls(&v, "/Foo/keep"), ["deep"]);
    assert_eq!(cat(&v, "/Foo/keep/deep/x.txt"), "kept");
    assert_eq!(cat(&v, "/Foo/shared.txt"), "backing version");
    let r = v.resolve(&p("/Foo/keep/deep")).unwrap();
    assert_eq!(r.layers[0].origin, Origin::OnDisk);
    // An exception whose on-disk content goes away stops showing, even if the backing has it.
    v.backing().remove_all("/vol/Foo/keep");
    assert_eq!(ls(&v, "/Foo"), ["Cat.txt", "old.txt", "shared.txt"]);
}

#[test]
fn rule_08_exception_errors() {
    let v = view();
    let mut outside = spec("/Foo", "/t/Target");
    outside.exceptions = vec![p("/top.txt")];
    assert!(matches!(v.create_link(outside), Err(Error::ExceptionOutsideLink { .. })));
    let mut itself = spec("/Foo", "/t/Target");
    itself.exceptions = vec![p("/Foo")];
    assert!(matches!(v.create_link(itself), Err(Error::ExceptionOutsideLink { .. })));
    let mut missing = spec("/Foo", "/t/Target");
    missing.exceptions = vec![p("/Foo/none")];
    assert_eq!(v.create_link(missing), Err(Error::ExceptionMissing(p("/Foo/none"))));
    let mut anchorless = spec("/New", "/t/Target");
    anchorless.exceptions = vec![p("/New/Cat.txt")];
    assert_eq!(v.create_link(anchorless), Err(Error::ExceptionsOnAnchorless(p("/New"))));
    assert!(v.links().is_empty());
}

#[test]
fn rule_09_chains_resolve_and_cycles_end_with_eloop() {
    let v = view();
    link(&v, "/A", "/t/Target");
    let chained = LinkSpec { target: Target::View(p("/A")), ..spec("/B", "/t") };
    v.create_link(chained).unwrap();
    assert_eq!(cat(&v, "/B/Cat.txt"), "meow");
    assert_eq!(v.resolve(&p("/B/Cat.txt")).unwrap().layers[0].rel, p("/Cat.txt").names());
    // Under another link's V too.
    link(&v, "/Foo", "/t/Target2");
    let under = LinkSpec { target: Target::View(p("/Foo/Dog.txt")), ..spec("/D", "/t") };
    v.create_link(under).unwrap();
    assert_eq!(cat(&v, "/D"), "woof");
    // A cycle can be created (both ends exist on disk first) but resolving it fails promptly.
    let s = store();
    s.mkdir_p("/vol/X");
    s.mkdir_p("/vol/Y");
    let c = View::new(s, CasePolicy::Sensitive);
    c.create_link(LinkSpec { target: Target::View(p("/Y")), ..spec("/X", "/t") }).unwrap();
    c.create_link(LinkSpec { target: Target::View(p("/X")), ..spec("/Y", "/t") }).unwrap();
    assert_eq!(c.getattr(&p("/X/a")), Err(Error::Loop));
    assert_eq!(c.readdir(&p("/Y")), Err(Error::Loop));
    // A link into its own subtree loops too.
    let s2 = store();
    s2.mkdir_p("/vol/Foo/sub");
    let d = View::new(s2, CasePolicy::Sensitive);
    d.create_link(LinkSpec { target: Target::View(p("/Foo/sub")), ..spec("/Foo", "/t") }).unwrap();
    assert_eq!(d.getattr(&p("/Foo/x")), Err(Error::Loop));
    // The names of looping links still list.
    assert!(ls(&c, "/").contains(&"X".to_string()));
}

#[test]
fn rule_10_creating_a_link_never_changes_the_backing_namespace() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    link(&v, "/Foo/Bar", "/t/Target2");
    assert_eq!(ls(&v, "/Foo"), ["Bar", "Cat.txt", "shared.txt"]);
    assert_eq!(v.backing().names("/t/Target"), ["Cat.txt", "shared.txt"]);
    // The same with a chain: the target path inside the view does not grow the deeper link.
    let s = store();
    s.mkdir_p("/vol/Real");
    let c = View::new(s, CasePolicy::Sensitive);
    c.create_link(LinkSpec { target: Target::View(p("/Real")), ..spec("/Foo", "/t") }).unwrap();
    link(&c, "/Foo/Bar", "/t/Target2");
    assert_eq!(ls(&c, "/Foo"), ["Bar"]);
    assert!(ls(&c, "/Real").is_empty());
}

fn merged(v: &str, b: &str) -> LinkSpec {
    LinkSpec { flags: LinkFlags { merged: true, read_only: false }, ..spec(v, b) }
}

#[test]
fn rule_11_merged_shows_the_union_backing_wins() {
    let s = store();
    s.write_file("/vol/Foo/sub/disk.txt", b"d");
    s.write_file("/t/Target/sub/back.txt", b"b");
    let v = View::new(s, CasePolicy::Sensitive);
    v.create_link(merged("/Foo", "/t/Target")).unwrap();
    assert_eq!(ls(&v, "/Foo"), ["Cat.txt", "old.txt", "shared.txt", "sub"]);
    assert_eq!(cat(&v, "/Foo/shared.txt"), "backing version");
    assert_eq!(ls(&v, "/Foo/sub"), ["back.txt", "disk.txt"]);
    let names: Vec<String> = v.readdir(&p("/Foo")).unwrap().iter().map(|e| e.name.to_string()).collect();
    assert_eq!(names.iter().filter(|n| *n == "shared.txt").count(), 1);
    // Without MERGED the backing replaces V wholesale.
    v.remove_link(&p("/Foo")).unwrap();
    link(&v, "/Foo", "/t/Target");
    assert_eq!(ls(&v, "/Foo/sub"), ["back.txt"]);
    // MERGED needs directories on both sides.
    assert_eq!(
        v.create_link(merged("/top.txt", "/t/Target")),
        Err(Error::MergedNeedsDirectory(p("/top.txt")))
    );
    assert_eq!(v.create_link(merged("/New", "/t/Target")), Err(Error::MergedNeedsDirectory(p("/New"))));
}

#[test]
fn rule_12_merged_creates_in_backing_and_masks() {
    let v = view();
    v.create_link(merged("/Foo", "/t/Target")).unwrap();
    write_new(&v, "/Foo/new.txt", "fresh");
    assert_eq!(v.backing().read_file("/t/Target/new.txt").unwrap(), b"fresh");
    assert_eq!(v.backing().read_file("/vol/Foo/new.txt"), None);
    v.mkdir(&p("/Foo/newdir"), 0o755).unwrap();
    assert_eq!(v.backing().kind("/t/Target/newdir"), Some(FileKind::Dir));
    // Deleting the backing's masking entry makes V's entry visible again (resolved at open).
    assert_eq!(cat(&v, "/Foo/shared.txt"), "backing version");
    v.unlink(&p("/Foo/shared.txt")).unwrap();
    assert_eq!(cat(&v, "/Foo/shared.txt"), "disk version");
    assert_eq!(v.backing().read_file("/vol/Foo/shared.txt").unwrap(), b"disk version");
    // A directory that only V has is created in the backing before a file goes in it.
    let s = store();
    s.write_file("/vol/Foo/only/x", b"x");
    let w = View::new(s, CasePolicy::Sensitive);
    w.create_link(merged("/Foo", "/t/Target")).unwrap();
    write_new(&w, "/Foo/only/y", "y");
    assert_eq!(w.backing().read_file("/t/Target/only/y").unwrap(), b"y");
    assert_eq!(ls(&w, "/Foo/only"), ["x", "y"]);
}

#[test]
fn rule_13_read_only_refuses_creation_time_and_windows_attributes() {
    let v = view();
    v.create_link(read_only("/Foo", "/t/Target", false)).unwrap();
    link(&v, "/Rw", "/t/Target");
    let before = v.getattr(&p("/Foo/Cat.txt")).unwrap();
    let when = SetTime::At(Timestamp { secs: 1_000_000_000, nanos: 0 });
    let hide = SetAttr { win_attributes: Some(win_attr::HIDDEN | win_attr::SYSTEM), ..SetAttr::default() };
    let clear = SetAttr { win_attributes: Some(0), ..SetAttr::default() };
    let birth = SetAttr { btime: Some(when), ..SetAttr::default() };
    for changes in [hide, clear, birth] {
        assert_eq!(v.setattr(&p("/Foo/Cat.txt"), &changes).map(|_| ()), Err(Error::ReadOnly), "{changes:?}");
    }
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")).unwrap(), before);
    // The same changes go through a writable link to the same object, and show through both.
    v.setattr(&p("/Rw/Cat.txt"), &hide).unwrap();
    let shown = v.setattr(&p("/Rw/Cat.txt"), &birth).unwrap();
    assert_eq!(shown.win_attributes, win_attr::HIDDEN | win_attr::SYSTEM);
    assert_eq!(shown.btime, Some(Timestamp { secs: 1_000_000_000, nanos: 0 }));
    let through_ro = v.getattr(&p("/Foo/Cat.txt")).unwrap();
    assert_eq!((through_ro.win_attributes, through_ro.btime), (shown.win_attributes, shown.btime));
    assert_eq!(v.setattr(&p("/Foo/Cat.txt"), &clear).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")).unwrap().win_attributes, win_attr::HIDDEN | win_attr::SYSTEM);
}

fn read_only(v: &str, b: &str, merged: bool) -> LinkSpec {
    LinkSpec { flags: LinkFlags { merged, read_only: true }, ..spec(v, b) }
}

#[test]
fn rule_13_read_only_refuses_changes_and_clears_write_bits() {
    let v = view();
    v.create_link(read_only("/Foo", "/t/Target", false)).unwrap();
    let ro = Err(Error::ReadOnly);
    assert_eq!(v.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).map(|_| ()), ro);
    let trunc = OpenFlags { truncate: true, ..OpenFlags::READ };
    assert_eq!(v.open(&p("/Foo/Cat.txt"), trunc).map(|_| ()), ro);
    assert_eq!(v.create(&p("/Foo/n"), 0o644, OpenFlags::READ_WRITE).map(|_| ()), ro);
    assert_eq!(v.mkdir(&p("/Foo/d"), 0o755).map(|_| ()), ro);
    assert_eq!(v.symlink(b"x", &p("/Foo/s")).map(|_| ()), ro);
    assert_eq!(v.unlink(&p("/Foo/Cat.txt")), ro);
    assert_eq!(v.rename(&p("/Foo/Cat.txt"), &p("/Foo/Cat2.txt"), RenameFlags::default()), ro);
    assert_eq!(v.rename(&p("/top.txt"), &p("/Foo/top.txt"), RenameFlags::default()), ro);
    assert_eq!(v.link(&p("/Foo/Cat.txt"), &p("/cat-link")).map(|_| ()), ro);
    assert_eq!(
        v.setattr(&p("/Foo/Cat.txt"), &SetAttr { perm: Some(0o600), ..SetAttr::default() }).map(|_| ()),
        ro
    );
    assert_eq!(v.setxattr(&p("/Foo/Cat.txt"), b"user.k", b"v", XattrMode::Any), ro);
    assert_eq!(v.removexattr(&p("/Foo/Cat.txt"), b"user.k"), ro);
    assert_eq!(v.set_security(&p("/Foo/Cat.txt"), 4, b"descriptor"), ro);
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")).unwrap().perm, 0o444);
    assert_eq!(v.getattr(&p("/Foo")).unwrap().perm, 0o555);
    // Reading works; the same entries stay writable through B itself.
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "meow");
    v.backing().write_file("/t/Target/Cat.txt", b"purr");
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "purr");
    assert_eq!(v.backing().attr_of("/t/Target/Cat.txt").unwrap().perm, 0o644);
    // Read-only carries along a chain.
    v.create_link(LinkSpec { target: Target::View(p("/Foo")), ..spec("/Chain", "/t") }).unwrap();
    assert_eq!(v.unlink(&p("/Chain/Cat.txt")), ro);
}

#[test]
fn rule_14_read_only_merged_keeps_on_disk_entries_writable() {
    let v = view();
    v.create_link(read_only("/Foo", "/t/Target", true)).unwrap();
    assert_eq!(v.unlink(&p("/Foo/Cat.txt")), Err(Error::ReadOnly));
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")).unwrap().perm, 0o444);
    assert_eq!(v.getattr(&p("/Foo/old.txt")).unwrap().perm, 0o644);
    let f = v.open(&p("/Foo/old.txt"), OpenFlags::READ_WRITE).unwrap();
    v.write(&f, 0, b"ON").unwrap();
    assert_eq!(v.backing().read_file("/vol/Foo/old.txt").unwrap(), b"ON disk");
    // New entries go to the first writable layer: V's own content.
    write_new(&v, "/Foo/new.txt", "n");
    assert_eq!(v.backing().read_file("/vol/Foo/new.txt").unwrap(), b"n");
    assert_eq!(v.backing().read_file("/t/Target/new.txt"), None);
    v.unlink(&p("/Foo/old.txt")).unwrap();
    assert_eq!(v.backing().kind("/vol/Foo/old.txt"), None);
}

#[test]
fn rule_15_deepest_link_serves_each_path() {
    let v = view();
    link(&v, "/Foo/Bar", "/t/Target");
    link(&v, "/Foo", "/t/Target2");
    assert_eq!(ls(&v, "/Foo"), ["Bar", "Dog.txt"]);
    assert_eq!(ls(&v, "/Foo/Bar"), ["Cat.txt", "shared.txt"]);
}

#[test]
fn rule_16_later_links_win_but_never_hide_an_earlier_v() {
    for reverse in [false, true] {
        let s = store();
        s.write_file("/t/WithBar/Bar", b"a file named Bar");
        let v = View::new(s, CasePolicy::Sensitive);
        let outer = spec("/Foo", "/t/WithBar");
        let inner = spec("/Foo/Bar", "/t/Target");
        if reverse {
            v.create_link(inner).unwrap();
            v.create_link(outer).unwrap();
        } else {
            v.create_link(outer).unwrap();
            v.create_link(inner).unwrap();
        }
        assert_eq!(v.getattr(&p("/Foo/Bar")).unwrap().kind, FileKind::Dir, "reverse={reverse}");
        assert_eq!(ls(&v, "/Foo/Bar"), ["Cat.txt", "shared.txt"]);
        assert_eq!(ls(&v, "/Foo"), ["Bar"]);
    }
    // A directory that exists only to hold a deeper link is synthesized.
    let s = store();
    s.write_file("/vol/Foo/Mid/Deep/x", b"x");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo/Mid/Deep", "/t/Target");
    link(&v, "/Foo", "/t/Target2");
    assert_eq!(ls(&v, "/Foo"), ["Dog.txt", "Mid"]);
    let mid = v.getattr(&p("/Foo/Mid")).unwrap();
    assert_eq!((mid.kind, mid.perm), (FileKind::Dir, 0o555));
    assert_eq!(cat(&v, "/Foo/Mid/Deep/Cat.txt"), "meow");
    assert_eq!(v.rmdir(&p("/Foo/Mid")), Err(Error::NotEmpty));
}

#[test]
fn rule_17_remove_needs_a_link_and_goes_deepest_first() {
    let v = view();
    assert_eq!(v.remove_link(&p("/Foo")).map(|_| ()), Err(Error::NoSuchLink(p("/Foo"))));
    link(&v, "/A", "/t/Target");
    link(&v, "/A/B", "/t/Target2");
    assert_eq!(
        v.remove_link(&p("/A")).map(|_| ()),
        Err(Error::HasNestedLinks { link: p("/A"), nested: p("/A/B") })
    );
    assert_eq!(ls(&v, "/A"), ["B", "Cat.txt", "shared.txt"]);
    v.remove_link(&p("/A/B")).unwrap();
    v.remove_link(&p("/A")).unwrap();
    assert!(v.links().is_empty());
    assert_eq!(ls(&v, "/"), ["Foo", "top.txt"]);
}

#[test]
fn rule_18_open_handles_survive_link_removal() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    let f = v.open(&p("/Foo/Cat.txt"), OpenFlags::READ_WRITE).unwrap();
    v.remove_link(&p("/Foo")).unwrap();
    v.write(&f, 0, b"MEOW").unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(v.read(&f, 0, &mut buf).unwrap(), 4);
    assert_eq!(&buf, b"MEOW");
    assert_eq!(v.backing().read_file("/t/Target/Cat.txt").unwrap(), b"MEOW");
}

#[test]
fn rule_19_calls_through_v_act_on_b_and_removing_v_keeps_the_link() {
    let v = view();
    link(&v, "/Foo", "/t/Empty");
    write_new(&v, "/Foo/a", "1");
    v.rename(&p("/Foo/a"), &p("/Foo/b"), RenameFlags::default()).unwrap();
    assert_eq!(v.backing().names("/t/Empty"), ["b"]);
    v.unlink(&p("/Foo/b")).unwrap();
    v.rmdir(&p("/Foo")).unwrap();
    assert_eq!(v.backing().kind("/t/Empty"), None);
    assert_eq!(v.links().len(), 1);
    assert_eq!(v.getattr(&p("/Foo")), Err(Error::NotFound));
    assert_eq!(v.rename(&p("/Foo"), &p("/Other"), RenameFlags::default()), Err(Error::Busy));
}

#[test]
fn rule_20_resolution_happens_at_open_time() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    v.backing().remove_all("/t/Target");
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
    assert_eq!(v.readdir(&p("/Foo")), Err(Error::NotFound));
    v.backing().write_file("/t/Target/Cat.txt", b"again");
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "again");
    let before = v.getattr(&p("/Foo/Cat.txt")).unwrap().ino;
    v.backing().remove_all("/t/Target/Cat.txt");
    v.backing().write_file("/t/Target/Cat.txt", b"replaced");
    assert_ne!(v.getattr(&p("/Foo/Cat.txt")).unwrap().ino, before);
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "replaced");
}

#[test]
fn rule_21_names_report_the_virtual_spelling() {
    let s = FakeBacking::with_policy("/vol", CasePolicy::Insensitive);
    s.mkdir_p("/vol/Foo");
    s.write_file("/T/Target/Cat.txt", b"meow");
    s.write_file("/T/Target/Sub/Deep.TXT", b"deep");
    let v = View::new(s, CasePolicy::Insensitive);
    v.create_link(spec("/Foo/Linked", "/T/Target")).unwrap();
    let typed = p("/FOO/linked/SUB/deep.txt");
    assert_eq!(cat(&v, "/FOO/linked/SUB/deep.txt"), "deep");
    assert_eq!(v.canonical_path(&typed).unwrap(), p("/Foo/Linked/Sub/Deep.TXT"));
    // Never the backing's name, whatever the spelling.
    assert_eq!(v.canonical_path(&p("/foo/LINKED")).unwrap(), p("/Foo/Linked"));
    assert_eq!(v.canonical_path(&p("/foo/none")), Err(Error::NotFound));
    let listed: Vec<String> = v.readdir(&p("/foo")).unwrap().iter().map(|e| e.name.to_string()).collect();
    assert_eq!(listed, ["Linked"]);
}

#[test]
fn rule_23_moves_across_file_systems_fail_with_exdev_and_lose_nothing() {
    let s = store();
    s.new_device("/remote");
    s.write_file("/remote/share/r.txt", b"remote");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/R", "/remote/share");
    link(&v, "/L", "/t/Target");
    assert_eq!(v.rename(&p("/L/Cat.txt"), &p("/R/Cat.txt"), RenameFlags::default()), Err(Error::CrossDevice));
    assert_eq!(v.link(&p("/R/r.txt"), &p("/L/r.txt")).map(|_| ()), Err(Error::CrossDevice));
    assert_eq!(cat(&v, "/L/Cat.txt"), "meow");
    assert_eq!(cat(&v, "/R/r.txt"), "remote");
    assert_eq!(ls(&v, "/R"), ["r.txt"]);
    // Between two links on the same file system, a rename just works.
    link(&v, "/L2", "/t/Target2");
    v.rename(&p("/L/Cat.txt"), &p("/L2/Cat.txt"), RenameFlags::default()).unwrap();
    assert_eq!(v.backing().read_file("/t/Target2/Cat.txt").unwrap(), b"meow");
}

#[test]
fn rule_24_hard_links_and_symlinks_behave_as_in_b() {
    let s = store();
    s.make_symlink("/t/Target/abs", "/t/Target/Cat.txt");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo", "/t/Target");
    assert_eq!(v.readlink(&p("/Foo/abs")).unwrap(), b"/t/Target/Cat.txt");
    assert_eq!(v.getattr(&p("/Foo/abs")).unwrap().kind, FileKind::Symlink);
    v.symlink(b"../x/y", &p("/Foo/rel")).unwrap();
    assert_eq!(v.readlink(&p("/Foo/rel")).unwrap(), b"../x/y");
    v.link(&p("/Foo/Cat.txt"), &p("/Foo/Cat2.txt")).unwrap();
    let (a, b) = (v.getattr(&p("/Foo/Cat.txt")).unwrap(), v.getattr(&p("/Foo/Cat2.txt")).unwrap());
    assert_eq!((a.ino, a.nlink), (b.ino, 2));
}

#[test]
fn rule_12_rename_onto_a_masked_name_stays_in_the_backing() {
    // Regression: a rename of B's entry onto a name only V's on-disk content has must land in B
    // (masking the on-disk entry), never overwrite the on-disk file.
    let v = view();
    v.create_link(merged("/Foo", "/t/Target")).unwrap();
    v.rename(&p("/Foo/Cat.txt"), &p("/Foo/old.txt"), RenameFlags::default()).unwrap();
    assert_eq!(cat(&v, "/Foo/old.txt"), "meow");
    assert_eq!(v.backing().read_file("/vol/Foo/old.txt").unwrap(), b"on disk");
    assert_eq!(v.backing().read_file("/t/Target/old.txt").unwrap(), b"meow");
    // Moving B's entry away unmasks the on-disk one (rule 12).
    v.rename(&p("/Foo/old.txt"), &p("/Foo/x.txt"), RenameFlags::default()).unwrap();
    assert_eq!(cat(&v, "/Foo/old.txt"), "on disk");
    // An on-disk entry renamed onto a name B shows replaces B's entry, so the result shows.
    v.rename(&p("/Foo/old.txt"), &p("/Foo/shared.txt"), RenameFlags::default()).unwrap();
    assert_eq!(cat(&v, "/Foo/shared.txt"), "on disk");
    assert_eq!(v.backing().read_file("/t/Target/shared.txt").unwrap(), b"on disk");
    assert_eq!(v.backing().read_file("/vol/Foo/shared.txt").unwrap(), b"disk version");
    assert_eq!(v.getattr(&p("/Foo/old.txt")), Err(Error::NotFound));
}

#[test]
fn rule_16_synthesized_directories_refuse_new_entries() {
    // Regression: creating in a directory that exists only to hold a deeper link must not
    // materialize it in another link's backing.
    let s = store();
    s.write_file("/vol/Foo/Mid/Deep/x", b"x");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo/Mid/Deep", "/t/Target");
    link(&v, "/Foo", "/t/Target2");
    assert_eq!(v.mkdir(&p("/Foo/Mid/d"), 0o755).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(v.create(&p("/Foo/Mid/f"), 0o644, OpenFlags::READ_WRITE).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(
        v.rename(&p("/Foo/Dog.txt"), &p("/Foo/Mid/Dog.txt"), RenameFlags::default()),
        Err(Error::ReadOnly)
    );
    assert_eq!(
        v.setattr(&p("/Foo/Mid"), &SetAttr { perm: Some(0o777), ..SetAttr::default() }).map(|_| ()),
        Err(Error::ReadOnly)
    );
    assert_eq!(v.backing().kind("/t/Target2/Mid"), None);
}

#[test]
fn rule_20_a_link_whose_backing_is_gone_leaves_its_parent_listing() {
    let v = view();
    link(&v, "/New", "/t/Target");
    v.backing().remove_all("/t/Target");
    assert!(!ls(&v, "/").contains(&"New".to_string()));
    assert_eq!(v.getattr(&p("/New")), Err(Error::NotFound));
    v.backing().write_file("/t/Target/Cat.txt", b"back");
    assert!(ls(&v, "/").contains(&"New".to_string()));
}

// ---- Regressions from the core review (each failed before its fix).

#[test]
fn rule_11_what_a_file_masks_stays_unreachable() {
    let s = store();
    s.write_file("/t/Target/x", b"file in B");
    s.write_file("/vol/Foo/x/y", b"masked on-disk data");
    let v = View::new(s, CasePolicy::Sensitive);
    v.create_link(merged("/Foo", "/t/Target")).unwrap();
    assert_eq!(v.getattr(&p("/Foo/x")).unwrap().kind, FileKind::File);
    assert_eq!(v.getattr(&p("/Foo/x/y")).map(|a| a.kind), Err(Error::NotDir));
    assert_eq!(v.unlink(&p("/Foo/x/y")), Err(Error::NotDir));
    assert_eq!(v.open(&p("/Foo/x/y"), OpenFlags::READ).map(|_| ()), Err(Error::NotDir));
    assert_eq!(v.backing().read_file("/vol/Foo/x/y").unwrap(), b"masked on-disk data");
}

#[test]
fn rule_12_renames_across_layers_check_what_they_replace() {
    let s = store();
    s.write_file("/vol/Foo/dir/inside.txt", b"inside");
    s.write_file("/t/Target/src/a.txt", b"a");
    let v = View::new(s, CasePolicy::Sensitive);
    v.create_link(merged("/Foo", "/t/Target")).unwrap();
    let plain = RenameFlags::default();
    assert_eq!(v.rename(&p("/Foo/Cat.txt"), &p("/Foo/dir"), plain), Err(Error::IsDir));
    assert_eq!(v.rename(&p("/Foo/src"), &p("/Foo/dir"), plain), Err(Error::NotEmpty));
    assert_eq!(v.rename(&p("/Foo/src"), &p("/Foo/old.txt"), plain), Err(Error::NotDir));
    assert_eq!(ls(&v, "/Foo/dir"), ["inside.txt"]);
    // RENAME_EXCHANGE works both ways between layers, each entry landing where the other was.
    let ex = RenameFlags { exchange: true, no_replace: false };
    v.rename(&p("/Foo/old.txt"), &p("/Foo/Cat.txt"), ex).unwrap();
    assert_eq!((cat(&v, "/Foo/Cat.txt"), cat(&v, "/Foo/old.txt")), ("on disk".into(), "meow".into()));
    v.rename(&p("/Foo/Cat.txt"), &p("/Foo/old.txt"), ex).unwrap();
    assert_eq!((cat(&v, "/Foo/Cat.txt"), cat(&v, "/Foo/old.txt")), ("meow".into(), "on disk".into()));
    assert_eq!(v.backing().read_file("/vol/Foo/old.txt").unwrap(), b"on disk");
}

#[test]
fn rule_08_deep_exceptions_are_reachable_and_need_a_directory_backing() {
    let s = store();
    s.write_file("/vol/Foo/a/b/x.txt", b"kept");
    let v = View::new(s, CasePolicy::Sensitive);
    let mut sp = spec("/Foo", "/t/Target");
    sp.exceptions = vec![p("/Foo/a/b")];
    v.create_link(sp).unwrap();
    assert_eq!(cat(&v, "/Foo/a/b/x.txt"), "kept");
    assert_eq!(v.getattr(&p("/Foo/a")).map(|a| a.kind), Ok(FileKind::Dir));
    assert_eq!(ls(&v, "/Foo"), ["Cat.txt", "a", "shared.txt"]);
    let mut file = spec("/Foo/a/b/x.txt", "/t/file.txt");
    file.exceptions = vec![p("/Foo/a/b/x.txt/y")];
    assert_eq!(v.create_link(file), Err(Error::ExceptionsNeedDirectory(p("/Foo/a/b/x.txt"))));
}

#[test]
fn rule_09_a_chain_lists_what_it_resolves() {
    let v = view();
    link(&v, "/Foo", "/t/Target");
    link(&v, "/Foo/Bar", "/t/Target2");
    link(&v, "/Foo/Mid", "/t/Empty");
    link(&v, "/Foo/Mid/Deep", "/t/Target2");
    v.backing().remove_all("/t/Empty"); // /Foo/Mid is now synthesized
    v.create_link(LinkSpec { target: Target::View(p("/Foo")), ..spec("/C", "/t") }).unwrap();
    assert_eq!(ls(&v, "/C"), ["Bar", "Cat.txt", "Mid", "shared.txt"]);
    assert_eq!(cat(&v, "/C/Bar/Dog.txt"), "woof");
    assert_eq!(v.getattr(&p("/C/Mid")).map(|a| a.kind), Ok(FileKind::Dir));
    assert_eq!(cat(&v, "/C/Mid/Deep/Dog.txt"), "woof");
}

#[test]
fn rule_16_no_link_hides_an_earlier_v_whatever_the_order() {
    // A file in a later link's backing where an earlier V's parent is: a synthesized directory.
    let s = store();
    s.write_file("/vol/Foo/Mid/Deep/x", b"x");
    s.write_file("/t/WithMid/Mid", b"a file named Mid");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo/Mid/Deep", "/t/Target");
    link(&v, "/Foo", "/t/WithMid");
    assert_eq!(v.getattr(&p("/Foo/Mid")).map(|a| a.kind), Ok(FileKind::Dir));
    assert_eq!(ls(&v, "/Foo/Mid"), ["Deep"]);
    assert_eq!(cat(&v, "/Foo/Mid/Deep/Cat.txt"), "meow");
    // A file link over an earlier V is refused, as the reverse order is.
    let a = view();
    link(&a, "/Foo/Bar", "/t/Target");
    let over = a.create_link(spec("/Foo", "/t/file.txt"));
    let b = view();
    link(&b, "/Foo", "/t/file.txt");
    let under = b.create_link(spec("/Foo/Bar", "/t/Target"));
    assert_eq!(over, Err(Error::ParentNotDirectory(p("/Foo/Bar"))));
    assert_eq!(over, under);
    assert_eq!(ls(&a, "/Foo"), ["Bar", "old.txt", "shared.txt"]);
}

#[test]
fn rule_19_renames_behave_as_posix_says() {
    let s = store();
    s.write_file("/vol/d/sub/f.txt", b"precious");
    let v = View::new(s, CasePolicy::Sensitive);
    assert_eq!(v.rename(&p("/d"), &p("/d/sub/d2"), RenameFlags::default()), Err(Error::InvalidArgument));
    assert_eq!(cat(&v, "/d/sub/f.txt"), "precious");
    // Renaming one hard link onto another of the same file does nothing.
    v.link(&p("/top.txt"), &p("/twin.txt")).unwrap();
    v.rename(&p("/top.txt"), &p("/twin.txt"), RenameFlags::default()).unwrap();
    assert_eq!(ls(&v, "/"), ["Foo", "d", "top.txt", "twin.txt"]);
    assert_eq!(v.getattr(&p("/twin.txt")).unwrap().nlink, 2);
    // A write far past any size is refused, not a crash.
    let f = v.open(&p("/top.txt"), OpenFlags::READ_WRITE).unwrap();
    assert_eq!(v.write(&f, u64::MAX - 1, b"xy"), Err(Error::InvalidArgument));
}

#[test]
fn rule_12_copy_up_never_widens_a_directory_mode() {
    let s = store();
    s.mkdir_p("/vol/M/a/b");
    s.set_perm("/vol/M/a", 0o700);
    let v = View::new(s, CasePolicy::Sensitive);
    v.create_link(merged("/M", "/t/Empty")).unwrap();
    v.create_link(LinkSpec { target: Target::View(p("/M/a/b")), ..spec("/C", "/t") }).unwrap();
    v.create(&p("/C/new"), 0o600, OpenFlags::READ_WRITE).unwrap();
    assert_eq!(v.backing().kind("/t/Empty/a/b/new"), Some(FileKind::File));
    assert_eq!(v.backing().attr_of("/t/Empty/a").unwrap().perm, 0o700);
}

#[test]
fn rule_20_a_kept_backing_root_never_outlives_its_directory() {
    // With backing roots kept (as mounts do, for the kernel cache's TTL), B deleted is still
    // ENOENT at once, and B re-created is served at once: a removed root is never reused.
    let mut v = view();
    v.set_root_cache(std::time::Duration::from_secs(3600));
    link(&v, "/Foo", "/t/Target");
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "meow");
    v.backing().remove_all("/t/Target");
    assert_eq!(v.getattr(&p("/Foo/Cat.txt")), Err(Error::NotFound));
    assert_eq!(v.create(&p("/Foo/new"), 0o644, OpenFlags::READ_WRITE).map(|_| ()), Err(Error::NotFound));
    v.backing().write_file("/t/Target/Cat.txt", b"again");
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "again");
    write_new(&v, "/Foo/new", "n");
    assert_eq!(v.backing().read_file("/t/Target/new").unwrap(), b"n");
    // Calls that trust the kept root until they miss (creations, removals, lookups below it)
    // reach the re-created B too.
    v.backing().remove_all("/t/Target");
    v.backing().mkdir_p("/t/Target");
    assert_eq!(v.mkdir(&p("/Foo/d"), 0o755).map(|a| a.kind), Ok(FileKind::Dir));
    assert_eq!(v.backing().kind("/t/Target/d"), Some(FileKind::Dir));
    v.backing().remove_all("/t/Target");
    v.backing().write_file("/t/Target/gone", b"x");
    v.unlink(&p("/Foo/gone")).unwrap();
    assert_eq!(v.backing().kind("/t/Target/gone"), None);
}

#[test]
fn rule_20_kept_directories_never_outlive_their_directory_or_name() {
    // Directories below a kept root are kept too (a call on a name then costs one store call).
    // One removed and made again behind the view's back is left at the first miss, and one
    // renamed or removed through the view is forgotten at once.
    let mut v = view();
    v.set_root_cache(std::time::Duration::from_secs(3600));
    v.keep_dirs(true);
    link(&v, "/Foo", "/t/Target");
    v.mkdir(&p("/Foo/d"), 0o755).unwrap();
    write_new(&v, "/Foo/d/a", "a");
    assert_eq!(cat(&v, "/Foo/d/a"), "a");
    v.backing().remove_all("/t/Target/d");
    v.backing().mkdir_p("/t/Target/d");
    assert_eq!(v.getattr(&p("/Foo/d/a")), Err(Error::NotFound));
    write_new(&v, "/Foo/d/b", "b");
    assert_eq!(v.backing().read_file("/t/Target/d/b").unwrap(), b"b");
    v.backing().remove_all("/t/Target/d");
    v.backing().write_file("/t/Target/d/gone", b"x");
    v.unlink(&p("/Foo/d/gone")).unwrap();
    assert_eq!(v.backing().kind("/t/Target/d/gone"), None);
    // Renamed through the view: the old name is a new directory, not the one moved away.
    v.rename(&p("/Foo/d"), &p("/Foo/e"), RenameFlags::default()).unwrap();
    v.mkdir(&p("/Foo/d"), 0o755).unwrap();
    write_new(&v, "/Foo/d/c", "c");
    assert_eq!(v.backing().kind("/t/Target/d/c"), Some(FileKind::File));
    assert_eq!(v.backing().kind("/t/Target/e/c"), None);
    // Removed and made again through the view.
    v.unlink(&p("/Foo/d/c")).unwrap();
    v.rmdir(&p("/Foo/d")).unwrap();
    v.mkdir(&p("/Foo/d"), 0o700).unwrap();
    write_new(&v, "/Foo/d/x", "x");
    assert_eq!(v.backing().read_file("/t/Target/d/x").unwrap(), b"x");
    assert_eq!(v.getattr(&p("/Foo/d")).map(|a| a.perm), Ok(0o700));
    write_new(&v, "/Foo/e/y", "y");
    assert_eq!(v.backing().read_file("/t/Target/e/y").unwrap(), b"y");
    // Letting go of what is kept changes nothing that shows.
    v.drop_expired();
    assert_eq!(cat(&v, "/Foo/e/y"), "y");
}

#[test]
fn rule_22_security_descriptors_come_from_the_providing_store() {
    let s = store();
    s.write_file("/vol/Foo/Mid/Deep/x", b"x");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo/Mid/Deep", "/t/Target");
    link(&v, "/Foo", "/t/Target2"); // /Foo/Mid now only holds the deeper link: synthesized
    // The store's own answer comes through (the in-memory store has no ACLs) ...
    assert_eq!(v.get_security(&p("/Foo/Mid/Deep/Cat.txt")), Err(Error::NotSupported));
    assert_eq!(v.set_security(&p("/Foo/Dog.txt"), 4, b"descriptor"), Err(Error::NotSupported));
    // ... a synthesized directory has none, and cannot be given one.
    assert_eq!(v.get_security(&p("/Foo/Mid")), Ok(None));
    assert_eq!(v.set_security(&p("/Foo/Mid"), 4, b"descriptor"), Err(Error::ReadOnly));
    assert_eq!(v.get_security(&p("/Foo/none")), Err(Error::NotFound));
}

/// Issue 12: a call on an open handle acts on the object opened, after an ancestor's rename too.
#[test]
fn rule_18_calls_on_a_handle_follow_its_object_through_an_ancestor_rename() {
    let v = view();
    v.mkdir(&p("/Dir"), 0o755).unwrap();
    v.mkdir(&p("/Dir/Sub"), 0o755).unwrap();
    write_new(&v, "/Dir/Sub/f.txt", "");
    let f = v.open(&p("/Dir/Sub/f.txt"), OpenFlags::READ_WRITE).unwrap();
    v.write(&f, 0, b"hello world").unwrap();
    v.rename(&p("/Dir"), &p("/Moved"), RenameFlags::default()).unwrap();
    // Something new takes the old name: the handle must not reach it.
    v.mkdir(&p("/Dir"), 0o755).unwrap();
    v.mkdir(&p("/Dir/Sub"), 0o755).unwrap();
    write_new(&v, "/Dir/Sub/f.txt", "intruder");
    let at = Timestamp { secs: 1_000_000, nanos: 0 };
    let size = SetAttr { size: Some(5), ..SetAttr::default() };
    assert_eq!(v.handle_set_attr(&f, &size).unwrap().size, 5);
    let time = SetAttr { mtime: Some(SetTime::At(at)), ..SetAttr::default() };
    assert_eq!(v.handle_set_attr(&f, &time).unwrap().mtime, at);
    v.handle_set_xattr(&f, b"user.k", b"v", XattrMode::Any).unwrap();
    assert_eq!(cat(&v, "/Moved/Sub/f.txt"), "hello");
    assert_eq!(v.getattr(&p("/Moved/Sub/f.txt")).unwrap().mtime, at);
    assert_eq!(v.getxattr(&p("/Moved/Sub/f.txt"), b"user.k").unwrap(), b"v");
    assert_eq!(cat(&v, "/Dir/Sub/f.txt"), "intruder");
    assert_eq!(v.handle_attr(&f).unwrap().size, 5);
}

/// Rule 13 on handles: an entry opened through a read-only link refuses every change through
/// its handle, with the error a change by path gives.
#[test]
fn rule_13_a_handle_from_a_read_only_link_refuses_changes() {
    let v = view();
    let mut s = spec("/Foo", "/t/Target");
    s.flags.read_only = true;
    v.create_link(s).unwrap();
    let f = v.open(&p("/Foo/Cat.txt"), OpenFlags::READ).unwrap();
    let size = SetAttr { size: Some(0), ..SetAttr::default() };
    assert_eq!(v.handle_set_attr(&f, &size), Err(Error::ReadOnly));
    assert_eq!(v.setattr(&p("/Foo/Cat.txt"), &size), Err(Error::ReadOnly));
    assert_eq!(v.handle_set_xattr(&f, b"user.k", b"v", XattrMode::Any), Err(Error::ReadOnly));
    assert_eq!(v.handle_remove_xattr(&f, b"user.k"), Err(Error::ReadOnly));
    assert_eq!(v.handle_set_security(&f, 4, b""), Err(Error::ReadOnly));
    assert_eq!(v.handle_check_remove(&f, &p("/Foo/Cat.txt")).map(|_| ()), Err(Error::ReadOnly));
    assert_eq!(v.handle_attr(&f).unwrap().perm & 0o222, 0);
    assert_eq!(cat(&v, "/Foo/Cat.txt"), "meow");
}

/// The removal rules on handles give the errors removals by path give.
#[test]
fn removing_through_a_handle_is_refused_as_by_path() {
    let s = store();
    s.write_file("/vol/Foo/Mid/Deep/x", b"x");
    let v = View::new(s, CasePolicy::Sensitive);
    link(&v, "/Foo/Mid/Deep", "/t/Target");
    link(&v, "/Foo", "/t/Target2"); // /Foo/Mid now only holds the deeper link: synthesized
    let root = v.hold(&VPath::root()).unwrap();
    assert_eq!(v.handle_check_remove(&root, &VPath::root()).map(|_| ()), Err(Error::Busy));
    let synthesized = v.hold(&p("/Foo/Mid")).unwrap();
    assert!(synthesized.synthesized());
    assert_eq!(v.rmdir(&p("/Foo/Mid")), Err(Error::NotEmpty));
    assert_eq!(v.handle_check_remove(&synthesized, &p("/Foo/Mid")).map(|_| ()), Err(Error::NotEmpty));
    let full = v.hold(&p("/Foo")).unwrap();
    assert_eq!(v.rmdir(&p("/Foo")), Err(Error::NotEmpty));
    assert_eq!(v.handle_check_remove(&full, &p("/Foo")).map(|_| ()), Err(Error::NotEmpty));
    let file = v.hold(&p("/top.txt")).unwrap();
    assert!(v.handle_check_remove(&file, &p("/top.txt")).is_ok());
}
