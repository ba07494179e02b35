//! The synthetic file system both transports serve: a root directory holding one regular
//! file, every answer with zero entry and attribute timeouts so that each `lstat` of the file
//! through the mount goes to this process. Also the per-opcode request counters.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::proto::{self, Attr, InHeader, op};

/// The root's node id (fixed by the protocol).
const ROOT: u64 = 1;
/// The file's node id.
const FILE: u64 = 2;
/// The file's name in the root.
pub const FILE_NAME: &str = "file";

/// The answer to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Success with this many body bytes written to the output buffer.
    Ok(usize),
    /// Failure with this errno.
    Err(i32),
    /// The request takes no reply (FORGET, BATCH_FORGET, INTERRUPT).
    None,
}

/// The served tree.
#[derive(Debug)]
pub struct Fs {
    root: Attr,
    file: Attr,
}

impl Fs {
    /// A root directory with one 4 KiB file, times set to `now` (seconds).
    pub fn new(now: u64) -> Self {
        Self {
            root: Attr { ino: ROOT, size: 4096, mode: libc::S_IFDIR | 0o755, nlink: 2, time: now },
            file: Attr { ino: FILE, size: 4096, mode: libc::S_IFREG | 0o644, nlink: 1, time: now },
        }
    }

    fn attr(&self, nodeid: u64) -> Option<&Attr> {
        match nodeid {
            ROOT => Some(&self.root),
            FILE => Some(&self.file),
            _ => None,
        }
    }

    /// Answers one request (anything but INIT, which the transport owns). `names` holds the
    /// request's variable part (a LOOKUP's name: after the header on /dev/fuse, in the payload
    /// buffer on the ring); the reply body goes to `out`.
    pub fn answer(&self, h: &InHeader, names: &[u8], out: &mut [u8]) -> Answer {
        let written = match h.opcode {
            op::LOOKUP => {
                let name = names.split(|&b| b == 0).next().unwrap_or_default();
                if h.nodeid != ROOT || name != FILE_NAME.as_bytes() {
                    return Answer::Err(libc::ENOENT);
                }
                proto::put_entry_out(out, &self.file)
            }
            op::GETATTR => match self.attr(h.nodeid) {
                Some(a) => proto::put_attr_out(out, a),
                None => return Answer::Err(libc::ENOENT),
            },
            op::OPENDIR => proto::put_open_out(out),
            op::RELEASEDIR | op::DESTROY => Some(0),
            op::STATFS => proto::put_statfs_out(out),
            op::FORGET | op::BATCH_FORGET | op::INTERRUPT => return Answer::None,
            _ => return Answer::Err(libc::ENOSYS),
        };
        written.map_or(Answer::Err(libc::EIO), Answer::Ok)
    }
}

/// Requests seen, by opcode (opcodes past the table share its last slot).
#[derive(Debug)]
pub struct Counters {
    by_op: [AtomicU64; 64],
}

/// A copy of the counters at one moment.
pub type Snapshot = [u64; 64];

impl Counters {
    /// All zero.
    pub const fn new() -> Self {
        Self { by_op: [const { AtomicU64::new(0) }; 64] }
    }

    /// Counts one request.
    pub fn count(&self, opcode: u32) {
        let slot = (opcode as usize).min(self.by_op.len() - 1);
        self.by_op[slot].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> Snapshot {
        std::array::from_fn(|i| self.by_op[i].load(Ordering::Relaxed))
    }
}

/// Requests served through /dev/fuse read/write.
pub static DEV: Counters = Counters::new();
/// Requests served through the io_uring queues.
pub static RING: Counters = Counters::new();

/// The difference of two snapshots, slot by slot.
pub fn delta(after: &Snapshot, before: &Snapshot) -> Snapshot {
    std::array::from_fn(|i| after[i].saturating_sub(before[i]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(opcode: u32, nodeid: u64) -> InHeader {
        InHeader { opcode, unique: 7, nodeid }
    }

    #[test]
    fn lookup_finds_only_the_file() {
        let fs = Fs::new(0);
        let mut out = [0u8; 256];
        assert_eq!(fs.answer(&header(op::LOOKUP, ROOT), b"file\0", &mut out), Answer::Ok(128));
        assert_eq!(fs.answer(&header(op::LOOKUP, ROOT), b"other\0", &mut out), Answer::Err(libc::ENOENT));
        assert_eq!(fs.answer(&header(op::GETATTR, FILE), b"", &mut out), Answer::Ok(104));
        assert_eq!(fs.answer(&header(op::FORGET, FILE), b"", &mut out), Answer::None);
        assert_eq!(fs.answer(&header(99, FILE), b"", &mut out), Answer::Err(libc::ENOSYS));
    }
}
