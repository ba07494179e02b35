//! The timed part: `lstat` of one path in a loop, on one or more threads at once.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

/// Runs `iters` `lstat`s of `path` on each of `threads` threads started together; returns the
/// wall time from the common start until the last thread is done. With `pin_over` = Some(n),
/// thread i runs on CPU i mod n only.
pub fn time_lstat(path: &Path, threads: usize, iters: u64, pin_over: Option<usize>) -> io::Result<Duration> {
    let start = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|i| {
            let start = Arc::clone(&start);
            let path: PathBuf = path.to_owned();
            thread::spawn(move || -> io::Result<()> {
                // Pin before the barrier, so every thread reaches it whatever happens.
                let pinned = pin_over.map_or(Ok(()), |n| crate::cpu::pin_to(i % n.max(1)));
                start.wait();
                pinned?;
                for _ in 0..iters {
                    rustix::fs::lstat(&path)?;
                }
                Ok(())
            })
        })
        .collect();
    start.wait();
    let t0 = Instant::now();
    let mut result = Ok(());
    for w in workers {
        let r = w.join().map_err(|_| io::Error::other("a stat thread panicked"))?;
        if result.is_ok() {
            result = r;
        }
    }
    let wall = t0.elapsed();
    result.map(|()| wall)
}

/// The median of `v` (the mean of the middle two for an even count); 0 when empty.
pub fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
