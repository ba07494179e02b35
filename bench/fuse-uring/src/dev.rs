//! The classic transport: read one request from /dev/fuse, write its reply. It also answers
//! INIT in both modes (the ring can only be registered once the connection is initialized) and,
//! with the ring in use, whatever the kernel still sends here (FORGET, INTERRUPT, and requests
//! queued before the ring counted as ready).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use rustix::io::Errno;

use crate::fs::{Answer, DEV, Fs};
use crate::proto::{self, FUSE_INIT_EXT, FUSE_OVER_IO_URING, InHeader, InitIn, op};

/// Read buffer size: the kernel refuses reads smaller than a max-size WRITE request.
const READ_BUF: usize = proto::MAX_WRITE as usize + 64 * 1024;

/// The outcome of INIT, which the ring threads wait for before registering.
#[derive(Debug, Default)]
pub struct InitGate {
    state: Mutex<Option<Result<bool, String>>>,
    cond: Condvar,
}

impl InitGate {
    /// Records INIT's outcome: Ok(true) when the kernel accepted FUSE over io_uring.
    fn open(&self, outcome: Result<bool, String>) {
        if let Ok(mut s) = self.state.lock() {
            *s = Some(outcome);
        }
        self.cond.notify_all();
    }

    /// Waits for INIT at most `limit`.
    pub fn wait(&self, limit: Duration) -> Result<bool, String> {
        let guard = self.state.lock().map_err(|_| "init gate poisoned".to_owned())?;
        let (guard, _) = self
            .cond
            .wait_timeout_while(guard, limit, |s| s.is_none())
            .map_err(|_| "init gate poisoned".to_owned())?;
        guard.clone().unwrap_or_else(|| Err(format!("no INIT from the kernel within {limit:?}")))
    }
}

/// Serves /dev/fuse until the connection goes away (ENODEV after unmount).
pub fn serve(dev: &Arc<OwnedFd>, fs: &Fs, gate: &InitGate, want_uring: bool) -> io::Result<()> {
    let mut buf = vec![0u8; READ_BUF];
    let mut reply = vec![0u8; 4096];
    loop {
        let n = match rustix::io::read(dev.as_fd(), &mut buf) {
            Ok(n) => n,
            // ENOENT: the request was interrupted before we read it.
            Err(Errno::INTR | Errno::AGAIN | Errno::NOENT) => continue,
            Err(Errno::NODEV) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let Some(h) = InHeader::parse(&buf[..n]) else {
            continue;
        };
        let body = &buf[proto::IN_HEADER_LEN..n];
        let (out_head, out_body) = reply.split_at_mut(proto::OUT_HEADER_LEN);
        let answer = if h.opcode == op::INIT {
            let (answer, outcome) = init(body, out_body, want_uring);
            // The reply must reach the kernel before the ring threads register (EAGAIN otherwise).
            let sent = send(dev, out_head, out_body, &h, answer);
            gate.open(outcome);
            sent?;
            continue;
        } else {
            DEV.count(h.opcode);
            fs.answer(&h, body, out_body)
        };
        send(dev, out_head, out_body, &h, answer)?;
    }
}

/// Writes one reply; a request that was interrupted meanwhile (ENOENT) is no error.
fn send(dev: &OwnedFd, out_head: &mut [u8], out_body: &[u8], h: &InHeader, answer: Answer) -> io::Result<()> {
    let (error, body_len) = match answer {
        Answer::Ok(len) => (0, len),
        Answer::Err(errno) => (-errno, 0),
        Answer::None => return Ok(()),
    };
    let len = proto::OUT_HEADER_LEN + body_len;
    proto::put_out_header(out_head, len as u32, error, h.unique);
    let iov = [io::IoSlice::new(out_head), io::IoSlice::new(&out_body[..body_len])];
    match rustix::io::writev(dev.as_fd(), &iov) {
        Ok(_) | Err(Errno::NOENT) => Ok(()),
        Err(Errno::NODEV) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Builds the INIT reply: FUSE over io_uring is asked for only when wanted and offered.
fn init(body: &[u8], out: &mut [u8], want_uring: bool) -> (Answer, Result<bool, String>) {
    let kernel = InitIn::parse(body);
    if kernel.major != proto::KERNEL_VERSION {
        let msg = format!("kernel speaks FUSE {}.{}", kernel.major, kernel.minor);
        return (Answer::Err(libc::EPROTO), Err(msg));
    }
    let offered = kernel.flags & FUSE_OVER_IO_URING != 0;
    let mut flags = kernel.flags & FUSE_INIT_EXT;
    if want_uring && offered {
        flags |= FUSE_OVER_IO_URING;
    }
    let outcome = if want_uring && !offered {
        Err(format!(
            "the kernel (FUSE 7.{}) did not offer FUSE_OVER_IO_URING: is \
             /sys/module/fuse/parameters/enable_uring Y?",
            kernel.minor
        ))
    } else {
        Ok(want_uring)
    };
    match proto::put_init_out(out, &kernel, flags) {
        Some(len) => (Answer::Ok(len), outcome),
        None => (Answer::Err(libc::EIO), Err("INIT reply too large".to_owned())),
    }
}
