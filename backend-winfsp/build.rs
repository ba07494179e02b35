//! Links the WinFsp DLL into this crate's test binaries on Windows (see `link_winfsp.rs`).

include!("link_winfsp.rs");

fn main() {
    link_winfsp();
}
