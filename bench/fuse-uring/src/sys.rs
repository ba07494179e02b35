//! The one place with `unsafe`: an io_uring (128-byte SQEs) whose entries lend buffers to the
//! kernel's FUSE ring, and the SQEs that register and commit them.
//!
//! Ownership rule: a ring entry's two buffers and its iovec pair belong to the kernel from the
//! moment its SQE is pushed until its CQE is reaped. They are leaked allocations (a few hundred
//! KiB per process, freed at exit), so whatever the kernel does after this process drops the
//! ring (cancel, teardown on unmount) can never write into freed memory. Safe code reaches the
//! buffers only through [`Queue::buffers`], which refuses an entry the kernel holds.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use io_uring::{IoUring, cqueue, opcode, squeue, types};

use crate::proto::ring;

/// How the ring is set up: the io_uring flags that decide where completions' task work runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingSetup {
    /// No extra flags (what libfuse uses): the kernel interrupts the thread to run task work.
    Plain,
    /// IORING_SETUP_COOP_TASKRUN | TASKRUN_FLAG: task work waits for the next syscall.
    Coop,
    /// IORING_SETUP_SINGLE_ISSUER | DEFER_TASKRUN: task work runs only when waiting for CQEs.
    Defer,
}

/// One ring entry: header and payload buffers as raw parts, plus who holds them.
#[derive(Debug)]
struct Entry {
    header: *mut u8,
    payload: *mut u8,
    payload_len: usize,
    /// The iovec pair REGISTER points at (header, payload).
    iov: *const libc::iovec,
    in_kernel: bool,
}

/// A request's buffers, lent back to us by a completion.
#[derive(Debug)]
pub struct Buffers<'a> {
    /// The `fuse_uring_req_header`.
    pub header: &'a mut [u8],
    /// The payload buffer (request arguments in, reply body out).
    pub payload: &'a mut [u8],
}

/// One FUSE queue (`qid`) served through its own io_uring.
pub struct Queue {
    ring: IoUring<squeue::Entry128, cqueue::Entry>,
    entries: Vec<Entry>,
    qid: u16,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").field("qid", &self.qid).field("entries", &self.entries.len()).finish()
    }
}

/// Leaks a zeroed byte buffer of `len` bytes, 8-byte aligned.
fn leak_buffer(len: usize) -> *mut u8 {
    let words: &'static mut [u64] = Vec::leak(vec![0u64; len.div_ceil(8)]);
    words.as_mut_ptr().cast()
}

impl Queue {
    /// A ring of `depth` entries for queue `qid` of the connection behind `fuse`, each entry
    /// with a payload buffer of `payload_len` bytes. Nothing is submitted yet.
    pub fn new(
        fuse: BorrowedFd<'_>,
        qid: u16,
        depth: usize,
        payload_len: usize,
        setup: RingSetup,
    ) -> io::Result<Self> {
        let sq = u32::try_from(depth).map_err(io::Error::other)?;
        let mut builder = IoUring::<squeue::Entry128, cqueue::Entry>::builder();
        builder.setup_cqsize(sq * 2);
        match setup {
            RingSetup::Plain => {}
            RingSetup::Coop => {
                builder.setup_coop_taskrun().setup_taskrun_flag();
            }
            RingSetup::Defer => {
                builder.setup_single_issuer().setup_defer_taskrun();
            }
        }
        let ring = builder.build(sq)?;
        // Fixed file slot 0: the kernel need not look the fd up on every SQE.
        ring.submitter().register_files(&[fuse.as_raw_fd()])?;
        let entries = (0..depth)
            .map(|_| {
                let header = leak_buffer(ring::HEADER_LEN);
                let payload = leak_buffer(payload_len);
                let iov: &'static mut [libc::iovec; 2] = Box::leak(Box::new([
                    libc::iovec { iov_base: header.cast(), iov_len: ring::HEADER_LEN },
                    libc::iovec { iov_base: payload.cast(), iov_len: payload_len },
                ]));
                Entry { header, payload, payload_len, iov: iov.as_ptr(), in_kernel: false }
            })
            .collect();
        Ok(Self { ring, entries, qid })
    }

    /// Number of entries.
    pub fn depth(&self) -> usize {
        self.entries.len()
    }

    /// Queues FUSE_IO_URING_CMD_REGISTER for entry `idx`: hand its buffers to the kernel and
    /// wait for a request.
    pub fn register(&mut self, idx: usize) -> io::Result<()> {
        let iov = self.entry(idx)?.iov as u64;
        let sqe = opcode::UringCmd80::new(types::Fixed(0), ring::CMD_REGISTER)
            .cmd(ring::cmd_req(0, self.qid))
            .addr(Some(iov))
            .build()
            .user_data(idx as u64);
        // REGISTER reads `sqe->len` iovecs at `addr`; the builder has no setter for len.
        self.push(idx, with_len(sqe, 2))
    }

    /// Queues FUSE_IO_URING_CMD_COMMIT_AND_FETCH for entry `idx`: the reply in its buffers
    /// answers request `commit_id`, and the entry waits for the next request.
    pub fn commit_and_fetch(&mut self, idx: usize, commit_id: u64) -> io::Result<()> {
        let sqe = opcode::UringCmd80::new(types::Fixed(0), ring::CMD_COMMIT_AND_FETCH)
            .cmd(ring::cmd_req(commit_id, self.qid))
            .build()
            .user_data(idx as u64);
        self.push(idx, sqe)
    }

    fn entry(&self, idx: usize) -> io::Result<&Entry> {
        self.entries.get(idx).ok_or_else(|| io::Error::other(format!("no ring entry {idx}")))
    }

    fn push(&mut self, idx: usize, sqe: squeue::Entry128) -> io::Result<()> {
        let entry =
            self.entries.get_mut(idx).ok_or_else(|| io::Error::other(format!("no ring entry {idx}")))?;
        if entry.in_kernel {
            return Err(io::Error::other(format!("ring entry {idx} is already queued")));
        }
        // SAFETY: the SQE points at this entry's iovec pair and (through it) its buffers, all
        // leaked allocations that stay valid for the life of the process; the entry is marked
        // as the kernel's, so no safe reference to the buffers is handed out until its CQE.
        let pushed = unsafe { self.ring.submission().push(&sqe) };
        if pushed.is_err() {
            // The SQ holds `depth` entries and each entry has at most one SQE queued.
            return Err(io::Error::other("submission queue full"));
        }
        entry.in_kernel = true;
        Ok(())
    }

    /// Submits what is queued and waits for at least `want` completions.
    pub fn submit_and_wait(&mut self, want: usize) -> io::Result<usize> {
        self.ring.submit_and_wait(want)
    }

    /// Moves the completions into `out` as (entry index, result), marking the entries ours.
    pub fn reap(&mut self, out: &mut Vec<(usize, i32)>) {
        out.clear();
        for cqe in self.ring.completion() {
            let idx = cqe.user_data() as usize;
            if let Some(e) = self.entries.get_mut(idx) {
                e.in_kernel = false;
            }
            out.push((idx, cqe.result()));
        }
    }

    /// The buffers of entry `idx`, or None while the kernel holds it.
    pub fn buffers(&mut self, idx: usize) -> Option<Buffers<'_>> {
        let e = self.entries.get(idx)?;
        if e.in_kernel {
            return None;
        }
        // SAFETY: both pointers come from leaked allocations of exactly these lengths; the
        // kernel holds no SQE for the entry (in_kernel is false), and the returned borrows are
        // tied to `&mut self`, so no SQE for it can be pushed while they live.
        unsafe {
            Some(Buffers {
                header: std::slice::from_raw_parts_mut(e.header, ring::HEADER_LEN),
                payload: std::slice::from_raw_parts_mut(e.payload, e.payload_len),
            })
        }
    }
}

/// Sets the `len` field (bytes 24..28 of the SQE) of a built 128-byte SQE.
fn with_len(sqe: squeue::Entry128, len: u32) -> squeue::Entry128 {
    // SAFETY: Entry128 is a #[repr(C)] pair of a 64-byte io_uring_sqe and 64 command bytes,
    // 128 bytes of plain integers with no padding (the builder starts from a zeroed SQE), so it
    // may be viewed as bytes and any bytes form a valid one.
    let mut raw: [u8; 128] = unsafe { std::mem::transmute(sqe) };
    raw[24..28].copy_from_slice(&len.to_ne_bytes());
    // SAFETY: as above; only the `len` field changed.
    unsafe { std::mem::transmute::<[u8; 128], squeue::Entry128>(raw) }
}
