//! Name reporting (rule 21) and attribute reporting: the one place that turns what a backing
//! store returns into what the user sees at the virtual path.
//!
//! - Names: an entry opened through `V` is named by its virtual path, never by `B`'s. The
//!   canonical spelling of each component is the link's or exception's own spelling for names
//!   the link table holds, and the store's spelling for everything else (which matters on
//!   case-insensitive views: `\FOO\cat.TXT` reports as `\Foo\Cat.txt`). On Linux the kernel
//!   builds `/proc/self/fd`, `getcwd` and `realpath` from the view's own dentries, so names are
//!   virtual by construction; the Windows backend reports [`crate::View::canonical_path`] as the
//!   normalized name. Directory entries keep the store's names; symlink text is never rewritten
//!   (rule 24).
//! - Attributes: entries from a read-only layer lose their write bits (rule 13).

use crate::backing::{Attr, FileKind, Timestamp};

/// The attributes shown at a virtual path for what the store reported.
pub fn attr(raw: Attr, writable: bool) -> Attr {
    let mut shown = raw;
    if !writable {
        shown.perm &= !0o222;
    }
    shown
}

/// The attributes of a directory the view synthesizes to keep a deeper link reachable.
pub fn synthetic_dir(time: Timestamp) -> Attr {
    Attr {
        kind: FileKind::Dir,
        perm: 0o555,
        nlink: 2,
        uid: 0,
        gid: 0,
        size: 0,
        blocks: 0,
        blksize: 4096,
        rdev: 0,
        dev: 0,
        ino: 0,
        atime: time,
        mtime: time,
        ctime: time,
        btime: Some(time),
        win_attributes: 0,
        reparse_tag: 0,
    }
}

/// The attributes shown for a listed name whose lookup fails (a looping link): the kind its
/// layers give it, no permissions, no times. Backends list it with these and let no cache keep
/// them, so every use of the name comes back to the view and gets its error.
pub fn unresolved(kind: FileKind) -> Attr {
    Attr { kind, perm: 0, nlink: 1, ..synthetic_dir(Timestamp::default()) }
}
