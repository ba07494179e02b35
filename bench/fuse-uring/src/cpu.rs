//! CPU numbers: how many the kernel may use, and pinning a thread to one.

use std::fs;
use std::io;

/// Number of possible CPUs, which is the number of FUSE ring queues the kernel expects
/// (`num_possible_cpus()`), from a list like "0-1" or "0-3,6".
pub fn possible() -> io::Result<usize> {
    let text = fs::read_to_string("/sys/devices/system/cpu/possible")?;
    let mut n = 0;
    for part in text.trim().split(',') {
        let (lo, hi) = part.split_once('-').unwrap_or((part, part));
        let lo: usize = lo.parse().map_err(io::Error::other)?;
        let hi: usize = hi.parse().map_err(io::Error::other)?;
        n += hi.saturating_sub(lo) + 1;
    }
    Ok(n)
}

/// Pins the calling thread to CPU `cpu`.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    Ok(rustix::thread::sched_setaffinity(None, &set)?)
}
