//! The io_uring transport (Linux 6.14+, `enable_uring=Y`): one thread per possible CPU, each
//! with its own ring registering `depth` entries on the FUSE queue of the same number.
//!
//! How the kernel drives it (fs/fuse/dev_uring.c): a request goes to the queue of the CPU the
//! calling task runs on, so every queue needs at least one registered entry, and the ring counts
//! as ready (requests stop going to /dev/fuse) only once every queue has an available entry.
//! Until then new requests wait in the kernel, except those forced through (and FORGET and
//! INTERRUPT always), which still come through /dev/fuse. A completion carries the request in
//! the entry's buffers: `fuse_in_header` in in_out, the first argument in op_in, the rest in the
//! payload; the reply goes back the same way (`fuse_out_header` in in_out, the body in the
//! payload, its size in ring_ent_in_out.payload_sz) with COMMIT_AND_FETCH, which also re-arms
//! the entry. The queue thread is pinned to its CPU, as libfuse does, so the answer runs where
//! the caller waits.

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;
use std::time::Duration;

use crate::dev::InitGate;
use crate::fs::{Answer, Fs, RING};
use crate::proto::{self, InHeader, get_u32, get_u64, ring};
use crate::sys::{Queue, RingSetup};

/// Payload buffer per entry: at least the kernel's max_payload_sz, which is the largest of
/// 8 KiB, max_write and max_pages pages (32 pages by default).
const PAYLOAD_LEN: usize = 256 * 1024;

/// Options of one queue thread.
#[derive(Debug, Clone, Copy)]
pub struct QueueOpts {
    /// Queue (and CPU) number.
    pub qid: u16,
    /// Entries registered on the queue.
    pub depth: usize,
    /// Pin the thread to CPU `qid`.
    pub pin: bool,
    /// io_uring setup flags.
    pub setup: RingSetup,
}

/// Serves queue `opts.qid` until the connection goes away; `registered` is called once the
/// REGISTER commands are submitted.
pub fn serve_queue(
    dev: &Arc<OwnedFd>,
    fs: &Fs,
    gate: &InitGate,
    opts: QueueOpts,
    registered: impl FnOnce(),
) -> io::Result<()> {
    if opts.pin {
        crate::cpu::pin_to(usize::from(opts.qid))?;
    }
    let mut queue = Queue::new(dev.as_fd(), opts.qid, opts.depth, PAYLOAD_LEN, opts.setup)?;
    match gate.wait(Duration::from_secs(20)) {
        Ok(true) => {}
        Ok(false) => return Ok(()),
        Err(e) => return Err(io::Error::other(e)),
    }
    for idx in 0..queue.depth() {
        queue.register(idx)?;
    }
    queue.submit_and_wait(0)?;
    registered();

    let mut done = Vec::with_capacity(queue.depth());
    let mut scratch = vec![0u8; 4096];
    let mut live = queue.depth();
    while live > 0 {
        match queue.submit_and_wait(1) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        queue.reap(&mut done);
        for &(idx, res) in &done {
            if res == -libc::EAGAIN || res == -libc::EINTR {
                // Registration raced INIT; libfuse retries the same way.
                queue.register(idx)?;
                continue;
            }
            if res == -libc::ENOTCONN || res == -libc::ECANCELED {
                // Unmounted: the kernel hands the entry back for good.
                live -= 1;
                continue;
            }
            if res < 0 {
                let err = io::Error::from_raw_os_error(-res);
                return Err(io::Error::other(format!("queue {}: ring command failed: {err}", opts.qid)));
            }
            let commit_id = answer(&mut queue, idx, fs, &mut scratch)?;
            queue.commit_and_fetch(idx, commit_id)?;
        }
    }
    Ok(())
}

/// Answers the request in entry `idx` in place; returns the commit id to send back.
fn answer(queue: &mut Queue, idx: usize, fs: &Fs, scratch: &mut [u8]) -> io::Result<u64> {
    let bufs = queue
        .buffers(idx)
        .ok_or_else(|| io::Error::other(format!("entry {idx} completed while kernel-owned")))?;
    let commit_id = get_u64(bufs.header, ring::COMMIT_ID);
    let in_out = &bufs.header[ring::IN_OUT..ring::IN_OUT + proto::IN_HEADER_LEN];
    let h = InHeader::parse(in_out).ok_or_else(|| io::Error::other("short in header"))?;
    RING.count(h.opcode);
    let payload_sz = (get_u32(bufs.header, ring::PAYLOAD_SZ) as usize).min(bufs.payload.len());
    // Name-carrying requests (LOOKUP) have an empty first argument: the name is the payload.
    let names = if payload_sz > 0 {
        &bufs.payload[..payload_sz]
    } else {
        &bufs.header[ring::OP_IN..ring::OP_IN + ring::OP_IN_LEN]
    };
    let (error, body_len) = match fs.answer(&h, names, scratch) {
        Answer::Ok(len) => (0, len),
        Answer::Err(errno) => (-errno, 0),
        // Nothing that needs no reply is sent through the ring; answer it anyway so the
        // entry is not lost.
        Answer::None => (0, 0),
    };
    bufs.payload[..body_len].copy_from_slice(&scratch[..body_len]);
    let len = (proto::OUT_HEADER_LEN + body_len) as u32;
    proto::put_out_header(&mut bufs.header[ring::IN_OUT..], len, error, h.unique);
    bufs.header[ring::PAYLOAD_SZ..ring::PAYLOAD_SZ + 4].copy_from_slice(&(body_len as u32).to_ne_bytes());
    Ok(commit_id)
}
