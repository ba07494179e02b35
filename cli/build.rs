//! Links the WinFsp DLL into the command on Windows (see `backend-winfsp/link_winfsp.rs`).

include!("../backend-winfsp/link_winfsp.rs");

fn main() {
    link_winfsp();
}
