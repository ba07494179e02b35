//! The few pieces of the FUSE wire protocol this benchmark speaks, written from
//! include/uapi/linux/fuse.h (protocol 7.42+, Linux 6.14+). The system header of the build
//! machine may be older, so the layouts are spelled out here as byte offsets: every structure
//! is read and written field by field, little or big endian as the host is, with no `unsafe`.

/// `fuse_in_header`: len u32, opcode u32, unique u64, nodeid u64, uid u32, gid u32, pid u32,
/// total_extlen u16, padding u16.
pub const IN_HEADER_LEN: usize = 40;
/// `fuse_out_header`: len u32, error i32, unique u64.
pub const OUT_HEADER_LEN: usize = 16;

/// Opcodes this file system answers or counts (fuse.h `enum fuse_opcode`).
pub mod op {
    /// Look a name up in a directory.
    pub const LOOKUP: u32 = 1;
    /// Drop lookups of one inode; no reply.
    pub const FORGET: u32 = 2;
    /// Attributes of an inode.
    pub const GETATTR: u32 = 3;
    /// File system statistics.
    pub const STATFS: u32 = 17;
    /// Session start.
    pub const INIT: u32 = 26;
    /// Open a directory.
    pub const OPENDIR: u32 = 27;
    /// Close a directory.
    pub const RELEASEDIR: u32 = 29;
    /// Interrupt a pending request; no reply needed.
    pub const INTERRUPT: u32 = 36;
    /// Session end (fuseblk only).
    pub const DESTROY: u32 = 38;
    /// Drop lookups of several inodes; no reply.
    pub const BATCH_FORGET: u32 = 42;

    /// A short name for the table of counts.
    pub fn name(opcode: u32) -> &'static str {
        match opcode {
            LOOKUP => "LOOKUP",
            FORGET => "FORGET",
            GETATTR => "GETATTR",
            STATFS => "STATFS",
            INIT => "INIT",
            OPENDIR => "OPENDIR",
            RELEASEDIR => "RELEASEDIR",
            INTERRUPT => "INTERRUPT",
            DESTROY => "DESTROY",
            BATCH_FORGET => "BATCH_FORGET",
            _ => "other",
        }
    }
}

/// The protocol major version; the kernel refuses anything else.
pub const KERNEL_VERSION: u32 = 7;
/// The minor version this program claims: 42 is the first with FUSE over io_uring.
pub const KERNEL_MINOR_VERSION: u32 = 42;
/// INIT flag: `flags2` carries the upper 32 bits of the flags.
pub const FUSE_INIT_EXT: u64 = 1 << 30;
/// INIT flag (in flags2): the server will register io_uring queues.
pub const FUSE_OVER_IO_URING: u64 = 1 << 41;
/// The largest write we accept; it also sets the ring payload size the kernel asks for.
pub const MAX_WRITE: u32 = 128 * 1024;

/// `fuse_uring_req_header` (the first iovec of a ring entry): in_out[128], op_in[128],
/// then `fuse_uring_ent_in_out` (flags u64, commit_id u64, payload_sz u32, padding u32,
/// reserved u64).
pub mod ring {
    /// Where the `fuse_in_header` (request) or `fuse_out_header` (reply) sits.
    pub const IN_OUT: usize = 0;
    /// Where the per-opcode header (the request's first argument) sits.
    pub const OP_IN: usize = 128;
    /// Size of the op_in area.
    pub const OP_IN_LEN: usize = 128;
    /// `ring_ent_in_out.commit_id`: the request's unique, echoed in the commit.
    pub const COMMIT_ID: usize = 256 + 8;
    /// `ring_ent_in_out.payload_sz`: bytes valid in the payload buffer, either direction.
    pub const PAYLOAD_SZ: usize = 256 + 16;
    /// Size of the whole `fuse_uring_req_header`.
    pub const HEADER_LEN: usize = 256 + 32;
    /// `enum fuse_uring_cmd`: register a buffer pair and wait for a request.
    pub const CMD_REGISTER: u32 = 1;
    /// `enum fuse_uring_cmd`: hand in a reply and wait for the next request.
    pub const CMD_COMMIT_AND_FETCH: u32 = 2;

    /// The 80-byte SQE command area, `fuse_uring_cmd_req`: flags u64, commit_id u64, qid u16.
    pub fn cmd_req(commit_id: u64, qid: u16) -> [u8; 80] {
        let mut cmd = [0u8; 80];
        cmd[8..16].copy_from_slice(&commit_id.to_ne_bytes());
        cmd[16..18].copy_from_slice(&qid.to_ne_bytes());
        cmd
    }
}

/// Reads a u32 at `at`, or 0 past the end (a short request is answered, not a panic).
pub fn get_u32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_ne_bytes)
}

/// Reads a u64 at `at`, or 0 past the end.
pub fn get_u64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).and_then(|s| s.try_into().ok()).map_or(0, u64::from_ne_bytes)
}

/// The decoded `fuse_in_header`.
#[derive(Debug, Clone, Copy)]
pub struct InHeader {
    /// Operation.
    pub opcode: u32,
    /// Request id, echoed in the reply.
    pub unique: u64,
    /// Inode the request is about.
    pub nodeid: u64,
}

impl InHeader {
    /// Decodes the first 40 bytes of `b`.
    pub fn parse(b: &[u8]) -> Option<Self> {
        if b.len() < IN_HEADER_LEN {
            return None;
        }
        Some(Self { opcode: get_u32(b, 4), unique: get_u64(b, 8), nodeid: get_u64(b, 16) })
    }
}

/// Writes a `fuse_out_header` into the first 16 bytes of `b`.
pub fn put_out_header(b: &mut [u8], len: u32, error: i32, unique: u64) {
    b[0..4].copy_from_slice(&len.to_ne_bytes());
    b[4..8].copy_from_slice(&error.to_ne_bytes());
    b[8..16].copy_from_slice(&unique.to_ne_bytes());
}

/// Sequential little writer for reply bodies.
#[derive(Debug)]
pub struct Put<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl<'a> Put<'a> {
    /// Starts writing at the beginning of `buf`.
    pub fn new(buf: &'a mut [u8]) -> Self {
        Self { buf, at: 0 }
    }

    /// Appends raw bytes; past the end it only counts them, so `len` reports the overflow.
    fn bytes(&mut self, v: &[u8]) -> &mut Self {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + v.len()) {
            dst.copy_from_slice(v);
        }
        self.at += v.len();
        self
    }

    /// Appends a u16.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes(&v.to_ne_bytes())
    }

    /// Appends a u32.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes(&v.to_ne_bytes())
    }

    /// Appends a u64.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes(&v.to_ne_bytes())
    }

    /// Appends `n` zero bytes.
    pub fn zeros(&mut self, n: usize) -> &mut Self {
        for _ in 0..n {
            self.bytes(&[0]);
        }
        self
    }

    /// Bytes written so far, or None when the buffer was too small for them.
    pub fn len(&self) -> Option<usize> {
        (self.at <= self.buf.len()).then_some(self.at)
    }
}

/// What the kernel offered in `fuse_init_in` (major, minor, max_readahead, flags, flags2).
#[derive(Debug, Clone, Copy)]
pub struct InitIn {
    /// Protocol major.
    pub major: u32,
    /// Protocol minor.
    pub minor: u32,
    /// Readahead the kernel proposes.
    pub max_readahead: u32,
    /// Offered capabilities, flags2 folded in above bit 31.
    pub flags: u64,
}

impl InitIn {
    /// Decodes `fuse_init_in` from the request body.
    pub fn parse(body: &[u8]) -> Self {
        let mut flags = u64::from(get_u32(body, 12));
        if flags & FUSE_INIT_EXT != 0 {
            flags |= u64::from(get_u32(body, 16)) << 32;
        }
        Self { major: get_u32(body, 0), minor: get_u32(body, 4), max_readahead: get_u32(body, 8), flags }
    }
}

/// Writes `fuse_init_out` (64 bytes) with the chosen flags; returns its length.
pub fn put_init_out(out: &mut [u8], init: &InitIn, flags: u64) -> Option<usize> {
    let mut p = Put::new(out);
    p.u32(KERNEL_VERSION)
        .u32(init.minor.min(KERNEL_MINOR_VERSION))
        .u32(init.max_readahead)
        .u32(flags as u32) // the low half; the high half goes in flags2 below
        .u16(16) // max_background
        .u16(12) // congestion_threshold
        .u32(MAX_WRITE)
        .u32(1) // time_gran
        .u16(0) // max_pages: 0 keeps the kernel default
        .u16(0) // map_alignment
        .u32((flags >> 32) as u32) // flags2
        .u32(0) // max_stack_depth
        .u16(0) // request_timeout
        .zeros(22); // unused[11]
    p.len()
}

/// The attributes of one inode, as `fuse_attr` wants them.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    /// Inode number (also the FUSE node id here).
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// File type and permission bits.
    pub mode: u32,
    /// Link count.
    pub nlink: u32,
    /// Seconds since the epoch for atime, mtime and ctime.
    pub time: u64,
}

impl Attr {
    /// Appends `fuse_attr` (88 bytes).
    fn put(&self, p: &mut Put<'_>) {
        p.u64(self.ino)
            .u64(self.size)
            .u64(self.size.div_ceil(512))
            .u64(self.time)
            .u64(self.time)
            .u64(self.time)
            .u32(0)
            .u32(0)
            .u32(0) // atime/mtime/ctime nsec
            .u32(self.mode)
            .u32(self.nlink)
            .u32(0) // uid
            .u32(0) // gid
            .u32(0) // rdev
            .u32(4096) // blksize
            .u32(0); // flags
    }
}

/// Writes `fuse_entry_out` (128 bytes) with zero entry and attribute timeouts.
pub fn put_entry_out(out: &mut [u8], attr: &Attr) -> Option<usize> {
    let mut p = Put::new(out);
    p.u64(attr.ino) // nodeid
        .u64(1) // generation
        .u64(0) // entry_valid: 0 s, so every path walk asks again
        .u64(0) // attr_valid
        .u32(0)
        .u32(0);
    attr.put(&mut p);
    p.len()
}

/// Writes `fuse_attr_out` (104 bytes) with a zero attribute timeout.
pub fn put_attr_out(out: &mut [u8], attr: &Attr) -> Option<usize> {
    let mut p = Put::new(out);
    p.u64(0).u32(0).u32(0);
    attr.put(&mut p);
    p.len()
}

/// Writes `fuse_open_out` (16 bytes): file handle 0, no open flags.
pub fn put_open_out(out: &mut [u8]) -> Option<usize> {
    let mut p = Put::new(out);
    p.u64(0).u32(0).u32(0);
    p.len()
}

/// Writes `fuse_kstatfs` (80 bytes) for a small, mostly empty file system.
pub fn put_statfs_out(out: &mut [u8]) -> Option<usize> {
    let mut p = Put::new(out);
    p.u64(1024) // blocks
        .u64(1000) // bfree
        .u64(1000) // bavail
        .u64(16) // files
        .u64(14) // ffree
        .u32(4096) // bsize
        .u32(255) // namelen
        .u32(4096) // frsize
        .u32(0) // padding
        .zeros(24); // spare[6]
    p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_sizes_match_the_kernel_structs() {
        let mut b = [0u8; 256];
        let a = Attr { ino: 2, size: 1, mode: 0o100644, nlink: 1, time: 0 };
        let init = InitIn::parse(&[0u8; 64]);
        assert_eq!(put_entry_out(&mut b, &a), Some(128));
        assert_eq!(put_attr_out(&mut b, &a), Some(104));
        assert_eq!(put_open_out(&mut b), Some(16));
        assert_eq!(put_statfs_out(&mut b), Some(80));
        assert_eq!(put_init_out(&mut b, &init, 0), Some(64));
        assert_eq!(put_init_out(&mut b[..10], &init, 0), None);
    }

    #[test]
    fn init_ext_folds_flags2_in() {
        let mut body = [0u8; 64];
        body[12..16].copy_from_slice(&((FUSE_INIT_EXT as u32).to_ne_bytes()));
        body[16..20].copy_from_slice(&((FUSE_OVER_IO_URING >> 32) as u32).to_ne_bytes());
        assert_ne!(InitIn::parse(&body).flags & FUSE_OVER_IO_URING, 0);
    }
}
