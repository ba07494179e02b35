//! Any bytes as a control request to a live view (an in-memory store): the daemon's decoding
//! and handling never panic, always answer for the view, and `list` reports exactly the links
//! the view has, all inside it.
#![no_main]

use std::sync::OnceLock;

use bindfs_core::control::{Endpoint, Request, handle};
use bindfs_core::fake::FakeBacking;
use bindfs_core::{AbsPath, CasePolicy, Syntax, View};
use libfuzzer_sys::fuzz_target;

fn view() -> View<FakeBacking> {
    let store = FakeBacking::new("/mnt/v");
    store.write_file("/mnt/v/Foo/old.txt", b"on disk");
    store.write_file("/t/Target/Cat.txt", b"meow");
    store.write_file("/t/file.txt", b"a file");
    View::new(store, CasePolicy::Sensitive)
}

fuzz_target!(|data: &[u8]| {
    static AT: OnceLock<Endpoint> = OnceLock::new();
    let at = AT.get_or_init(|| Endpoint {
        mountpoint: AbsPath::parse("/mnt/v", Syntax::Posix).expect("mount point"),
        syntax: Syntax::Posix,
        policy: CasePolicy::Sensitive,
    });
    let v = view();
    // Several requests a line, as a client could send them over one connection.
    for line in data.split(|b| *b == b'\n') {
        let Ok(text) = std::str::from_utf8(line) else { continue };
        let Ok(request) = serde_json::from_str::<Request>(text) else { continue };
        let reply = handle(&v, at, request);
        assert_eq!(reply.mountpoint, "/mnt/v");
    }
    let listed = handle(&v, at, Request::List);
    assert_eq!(listed.links.len(), v.links().len());
    assert!(listed.links.iter().all(|l| l.virt.starts_with("/mnt/v")));
});
