//! Which worker waits for the next request, and how.
//!
//! A request costs its caller two crossings, and on a quiet machine most of a crossing is
//! waking the worker that takes the request: the kernel hands each request to the worker that
//! has waited longest, so idle workers take turns and every request wakes a cold thread, on a
//! CPU that has to be woken too. Two rules keep that cost down without giving up parallel
//! workers:
//!
//! - **One worker reads while requests come one after another.** A worker that finishes while
//!   another is free to read rests instead of reading. One resting worker watches: it joins
//!   the readers when those are all busy for most of a [`WATCH`] (a slow store, or more
//!   requests than one worker serves), so a stuck call never stalls the view for longer than
//!   that; while nothing is busy its watch grows, up to [`QUIET`]. After a quiet spell
//!   ([`QUIET`]) resting workers go back to reading, which is also how they see the session end.
//!   A worker whose handler panics is counted out (fuser ends its thread).
//! - **The reading worker polls for a moment after it answers** ([`Pace::new`]'s `poll`, the
//!   mount's `--poll-us`): when the request it just served came within that time of the one
//!   before, it checks for the next one without going to sleep, so it is there when it comes.
//!   A worker that polled in vain polls again only once requests come that fast again, and with
//!   a single CPU it never polls (it would hold up the caller it waits for).
//!
//! Every `Filesystem` method takes a [`Turn`] first; the turn ends (and the worker rests or
//! polls) after the reply is sent. `forget` takes none: it answers nothing, and the kernel may
//! send many in one batch; it polls within the time left after the request before it
//! ([`Pace::after_forget`]).

use std::os::fd::OwnedFd;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustix::event::{PollFd, PollFlags, Timespec, poll};

/// How often the watching worker checks whether the readers need it.
pub const WATCH: Duration = Duration::from_millis(1);

/// How long without a request before resting workers go back to reading.
pub const QUIET: Duration = Duration::from_millis(100);

/// The default polling time after an answer.
pub const DEFAULT_POLL: Duration = Duration::from_micros(50);

/// How the workers of one session wait for requests.
#[derive(Debug)]
pub struct Pace {
    poll: Duration,
    /// A descriptor of the session's `/dev/fuse` connection, to poll for pending requests.
    fd: OnceLock<OwnedFd>,
    state: Mutex<State>,
    rested: Condvar,
}

#[derive(Debug)]
struct State {
    /// Workers serving the session (one whose handler panicked is gone: fuser ends its thread).
    workers: usize,
    /// Workers inside a request.
    busy: usize,
    /// Workers resting.
    resting: usize,
    /// Whether a resting worker watches (checks every [`WATCH`]).
    watching: bool,
    /// When `busy` last went from none to one, while some worker is busy.
    busy_since: Option<Instant>,
    /// How long some worker was busy, over the busy spells that ended.
    busy_total: Duration,
    /// When the latest request began, and when the latest one ended.
    last_begin: Instant,
    last_end: Instant,
    /// Whether the latest request came within the polling time of the end of the one before.
    quick: bool,
}

impl State {
    /// How long some worker was busy, up to `now`.
    fn busy_until(&self, now: Instant) -> Duration {
        self.busy_total + self.busy_since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }

    /// Workers neither busy nor resting: reading, or about to.
    fn free(&self) -> usize {
        self.workers.saturating_sub(self.busy + self.resting)
    }
}

/// A worker's request: ends (the worker rests, polls or reads) when dropped.
#[derive(Debug)]
#[must_use = "a turn lasts as long as the guard"]
pub struct Turn<'a>(&'a Pace);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self.0.end();
    }
}

impl Pace {
    /// Pacing for `workers` workers that poll for up to `poll` after answering (zero: never).
    pub fn new(workers: usize, poll: Duration) -> Pace {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let now = Instant::now();
        Pace {
            poll: if cpus < 2 { Duration::ZERO } else { poll },
            fd: OnceLock::new(),
            state: Mutex::new(State {
                workers: workers.max(1),
                busy: 0,
                resting: 0,
                watching: false,
                busy_since: None,
                busy_total: Duration::ZERO,
                last_begin: now,
                last_end: now,
                quick: false,
            }),
            rested: Condvar::new(),
        }
    }

    /// Gives the pacing a descriptor of the session's connection (polling needs one).
    pub fn set_fd(&self, fd: OwnedFd) {
        let _ = self.fd.set(fd);
    }

    /// Starts a worker's request.
    pub fn turn(&self) -> Turn<'_> {
        let now = Instant::now();
        let mut s = self.state.lock();
        if s.busy == 0 {
            s.busy_since = Some(now);
        }
        s.busy += 1;
        s.quick = now.saturating_duration_since(s.last_end) < self.poll;
        s.last_begin = now;
        Turn(self)
    }

    /// Ends a worker's request: it rests if another worker is free to read, else it polls for
    /// the next request when requests come quickly, and then reads.
    fn end(&self) {
        let now = Instant::now();
        let mut s = self.state.lock();
        s.busy = s.busy.saturating_sub(1);
        let panicking = std::thread::panicking();
        if panicking {
            // fuser ends this worker's thread: it must no longer count as one that reads.
            s.workers = s.workers.saturating_sub(1).max(1);
        }
        if s.busy == 0 {
            if let Some(since) = s.busy_since.take() {
                s.busy_total += now.saturating_duration_since(since);
            }
        }
        s.last_end = now;
        if panicking {
            return;
        }
        if s.free() >= 2 {
            self.rest(&mut s);
            return;
        }
        let quick = s.quick;
        drop(s);
        if quick {
            self.poll_for_next(now);
        }
    }

    /// After a `forget` (which takes no turn): polls as after the request before it, within the
    /// same time from that request's end, so a batch of them polls once at most.
    pub fn after_forget(&self) {
        let (quick, since) = {
            let s = self.state.lock();
            (s.quick && s.busy == 0, s.last_end)
        };
        if quick {
            self.poll_for_next(since);
        }
    }

    /// Rests until the readers need this worker, or the view has been quiet for a while.
    fn rest(&self, s: &mut parking_lot::MutexGuard<'_, State>) {
        s.resting += 1;
        // The watch doubles while nothing is busy (requests trickle in), up to the quiet time.
        let mut every = WATCH;
        loop {
            let watch = !s.watching;
            s.watching |= watch;
            let from = Instant::now();
            let busy_from = s.busy_until(from);
            self.rested.wait_for(s, if watch { every } else { QUIET });
            if watch {
                s.watching = false;
            }
            let to = Instant::now();
            // Every worker that is not resting is busy, for most of the time just watched.
            let busy = s.busy_until(to).saturating_sub(busy_from);
            let span = to.saturating_duration_since(from);
            every = if busy.is_zero() { (every * 2).min(QUIET) } else { WATCH };
            if watch && s.free() == 0 && busy * 3 >= span * 2 {
                // Another resting worker takes over the watch.
                self.rested.notify_one();
                break;
            }
            if to.saturating_duration_since(s.last_begin) >= QUIET {
                break;
            }
        }
        s.resting -= 1;
    }

    /// Polls the connection for a pending request for up to the polling time after `since`.
    fn poll_for_next(&self, since: Instant) {
        let Some(fd) = self.fd.get() else { return };
        let now = Timespec { tv_sec: 0, tv_nsec: 0 };
        while since.elapsed() < self.poll {
            let mut fds = [PollFd::new(fd, PollFlags::IN)];
            match poll(&mut fds, Some(&now)) {
                Ok(0) => std::thread::yield_now(),
                // Pending, or the connection ended: the read that follows tells which.
                _ => return,
            }
        }
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let s = self.state.lock();
        (s.busy, s.resting)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_lone_worker_never_rests() {
        let pace = Pace::new(1, Duration::ZERO);
        for _ in 0..3 {
            drop(pace.turn());
        }
        assert_eq!(pace.counts(), (0, 0));
    }

    #[test]
    fn a_worker_rests_while_another_reads_and_joins_when_the_readers_are_stuck() {
        // Two workers, both free: the first to finish rests (the other reads).
        let pace = Arc::new(Pace::new(2, Duration::ZERO));
        let resting = {
            let pace = Arc::clone(&pace);
            std::thread::spawn(move || drop(pace.turn()))
        };
        while pace.counts() != (0, 1) {
            std::thread::yield_now();
        }
        // The other worker takes a request that does not end (a stuck store): the resting one
        // joins within a few watches.
        let stuck = pace.turn();
        let started = Instant::now();
        resting.join().unwrap();
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(pace.counts(), (1, 0));
        drop(stuck);
    }

    #[test]
    fn a_worker_whose_handler_panics_no_longer_counts_as_reading() {
        // Two workers: one panics in its request (fuser ends its thread); the other must then
        // never rest, or nobody would read.
        let pace = Arc::new(Pace::new(2, Duration::ZERO));
        let panicked = {
            let pace = Arc::clone(&pace);
            std::thread::spawn(move || {
                let _turn = pace.turn();
                panic!("a handler panics");
            })
        };
        assert!(panicked.join().is_err());
        assert_eq!(pace.state.lock().workers, 1);
        drop(pace.turn());
        assert_eq!(pace.counts(), (0, 0));
    }

    #[test]
    fn resting_workers_go_back_to_reading_when_the_view_is_quiet() {
        let pace = Arc::new(Pace::new(3, Duration::ZERO));
        let done = Arc::new(AtomicBool::new(false));
        let worker = {
            let (pace, done) = (Arc::clone(&pace), Arc::clone(&done));
            std::thread::spawn(move || {
                drop(pace.turn());
                done.store(true, Ordering::SeqCst);
            })
        };
        worker.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
        assert_eq!(pace.counts(), (0, 0));
    }
}
