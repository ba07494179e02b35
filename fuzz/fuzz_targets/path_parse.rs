//! Any bytes as a path, in both syntaxes: parsing never panics, and what parses is normalized
//! (parsing its own spelling again gives the same path) and never climbs above its root.
#![no_main]

use bindfs_core::{AbsPath, Syntax, VPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for syntax in [Syntax::Posix, Syntax::Windows] {
        if let Ok(p) = AbsPath::parse_bytes(data, syntax) {
            let again = AbsPath::parse_bytes(&p.to_host_bytes(), syntax).expect("a parsed path parses again");
            assert_eq!(again, p, "normalization is stable");
            assert!(p.path.names().iter().all(|n| n.as_bytes() != b".." && n.as_bytes() != b"."));
        }
        if let Ok(v) = VPath::parse_bytes(data, syntax) {
            assert!(v.names().iter().all(|n| n.as_bytes() != b".."));
        }
        if let Ok(base) = AbsPath::parse("/base/dir", Syntax::Posix) {
            let _ = base.join_input(data, syntax);
        }
    }
});
